"""pytest-xdist end to end: the device lock, every worker's results in one report, baselines
from every worker, a regression on one worker failing the session, CPU partitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_gate_plugin import FAST_MODEL, QUICK, SLOW_MODEL, setup_project, stored, write

from pytest_ovperf.runtime.cpu_partition import cpu_topology

pytest.importorskip("xdist")

# inner sessions of several workers keep both cores busy: the tests that judge a ratio near
# its limit (speedup, confirmation) and the generation runs take turns with them
pytestmark = pytest.mark.usefixtures("cpu_alone")

#: four tests; the one named slow runs ``{slow}`` (the fast model when recording)
SUITE = """\
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: {fast})
def test_a(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=lambda: {fast})
def test_b(perf_budget):
    perf_budget.measure_throughput()

@pytest.mark.ovperf_model(source=lambda: {slow})
def test_c(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=lambda: {fast})
def test_d(perf_budget):
    perf_budget.measure_latency()
"""
TESTS = ("test_a", "test_b", "test_c", "test_d")
XDIST = ("-p", "xdist", "-n", "2")


def suite(slow: str = FAST_MODEL) -> str:
    return SUITE.format(fast=FAST_MODEL, slow=slow)


def run_suite(
    pytester: pytest.Pytester, *args: str
) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    report = pytester.path / "report.json"
    report.unlink(missing_ok=True)
    outcome = pytester.runpytest_subprocess(*args, f"--ovperf-json={report}", timeout=300)
    results = json.loads(report.read_text())["results"] if report.exists() else []
    return outcome, results


def summary_section(outcome: pytest.RunResult) -> str:
    return outcome.stdout.str().split("ovperf summary")[-1]


def assert_measurements_never_overlap(results: list[dict[str, Any]]) -> None:
    windows = sorted((r["measured_from"], r["measured_until"], r["nodeid"]) for r in results)
    assert all(start is not None and end is not None for start, end, _ in windows)
    for (_, end, before), (start, _, after) in zip(windows, windows[1:]):
        assert end <= start, f"{before} and {after} measured the CPU at the same time"


def test_workers_measure_one_at_a_time_and_every_result_lands(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_suite.py", suite())
    baseline = ovtester.path / "baselines" / "perf" / "test_suite.json"

    # record from two workers: every entry is stored, every result reported once
    outcome, results = run_suite(ovtester, *XDIST, *QUICK, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    assert sorted(r["nodeid"].split("::")[-1].split("[")[0] for r in results) == list(TESTS)
    assert {name.split("[")[0] for name in stored(baseline)["entries"]} == set(TESTS)
    summary = summary_section(outcome)
    for result in results:
        assert summary.count(result["nodeid"].split("::")[-1]) == 1, summary
    assert_measurements_never_overlap(results)
    assert all(r["device_wait_s"] >= 0 for r in results)

    # compare: test_c now runs a model ten times slower; its worker's regression fails
    # the session, the other workers' tests pass (a 300% threshold keeps the unchanged ones,
    # judged in 0.2 s against one stored run while this test suite's other worker may be
    # busy too, clear of any verdict but their own)
    write(ovtester, "perf/test_suite.py", suite(slow=SLOW_MODEL))
    wide = "--ovperf-regression-threshold=300%"
    # enough block pairs that the tenfold slowdown is settled even when this test run's
    # other worker slows some blocks
    longer = ("--ovperf-min-time=0.5", "--ovperf-max-time=2")
    outcome, results = run_suite(
        ovtester, *XDIST, *QUICK, *longer, wide, "--ovperf-inconclusive=pass"
    )
    assert outcome.ret == 1, outcome.stdout.str()
    outcome.assert_outcomes(passed=3, failed=1)
    verdicts = {r["nodeid"].split("::")[-1].split("[")[0]: r for r in results}
    assert verdicts["test_c"]["baseline_verdict"] == "regression"
    assert verdicts["test_c"]["baseline_method"] == "ab"
    assert "REGRESSION" in outcome.stdout.str()
    assert_measurements_never_overlap(results)


def test_the_device_lock_can_be_switched_off(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_suite.py", suite())
    outcome, results = run_suite(ovtester, *XDIST, *QUICK, "--ovperf-device-lock=off")
    assert outcome.ret == 0, outcome.stdout.str()
    assert len(results) == len(TESTS)
    assert all(r["device_wait_s"] == 0 for r in results)


def test_without_xdist_nothing_is_locked(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_suite.py", suite())
    outcome, results = run_suite(ovtester, "-p", "no:xdist", *QUICK, "-k", "test_a or test_b")
    assert outcome.ret == 0, outcome.stdout.str()
    assert [r["device_wait_s"] for r in results] == [0, 0]


def test_a_cpu_partition_needs_a_core_per_worker(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_suite.py", suite())
    too_many = len(cpu_topology()) + 1
    outcome = ovtester.runpytest_subprocess(
        "-p", "xdist", "-n", str(too_many), "--ovperf-cpu-partition=on", timeout=120
    )
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    outcome.stderr.fnmatch_lines(
        [f"*--ovperf-cpu-partition: {too_many} workers but only {too_many - 1} physical core*"]
    )


def test_partitioned_workers_record_their_share_in_the_machine_profile(
    ovtester: pytest.Pytester,
) -> None:
    cores = cpu_topology()
    if len(cores) < 2:
        pytest.skip(f"a CPU partition for 2 workers needs 2 physical cores; this has {len(cores)}")
    setup_project(ovtester)
    write(ovtester, "perf/test_suite.py", suite())
    args = (*XDIST, *QUICK, "--ovperf-cpu-partition=on", "--ovperf-update-baselines")
    outcome, results = run_suite(ovtester, *args)
    assert outcome.ret == 0, outcome.stdout.str()
    assert len(results) == len(TESTS)
    profiles = stored(ovtester.path / "baselines" / "perf" / "test_suite.json")["profiles"]
    share = len(cores) // 2
    for facts in profiles.values():
        assert facts["cpu_partition"] == f"{share} core(s), {facts['logical_cpus']} CPU(s)"
        assert facts["logical_cpus"] < sum(len(core.cpus) for core in cores)


def test_partition_option_is_on_or_off(ovtester: pytest.Pytester) -> None:
    outcome = ovtester.runpytest("--ovperf-cpu-partition=maybe")
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    outcome.stderr.fnmatch_lines(["*--ovperf-cpu-partition='maybe': choose on or off*"])


def test_the_lock_directory_goes_with_the_session(
    ovtester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_suite.py", suite())
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # where the controller makes its lock directory
    outcome, _ = run_suite(ovtester, *XDIST, *QUICK, "-k", "test_a or test_b")
    assert outcome.ret == 0, outcome.stdout.str()
    assert not list(temp.glob("ovperf-device-locks-*"))
