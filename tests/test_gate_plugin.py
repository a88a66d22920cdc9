"""The baseline regression gate end to end: real OpenVINO models run through pytester.

Slow variants are many times slower than their fast originals (mobilenet_like at 224 px
with 8 extra blocks against 64 px: about 10x) so that every verdict asserted here holds on a
noisy shared machine; no test asserts a timing value. The foreign-load guard is switched
off (``--ovperf-max-foreign-load=100``) wherever a verdict is asserted: on a shared CI
machine it would (rightly) turn every comparison inconclusive.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import EXAMPLE_MACHINE, example_result

from pytest_ovperf.identity import TestIdentity
from pytest_ovperf.messages import comparison_text, fmt
from pytest_ovperf.results import LatencyResult
from pytest_ovperf.runtime.facts import facts_id as profile_id
from pytest_ovperf.store.baselines import BaselineFileError
from pytest_ovperf.store.models import ModelStore
from pytest_ovperf.verdicts.comparison import GateSettings
from pytest_ovperf.verdicts.gate import BaselineGate
from pytest_ovperf.verdicts.stats import Interval

COMMON = (
    "--ovperf-warmup=0.02",
    "-p",
    "no:cacheprovider",
    "--ovperf-max-foreign-load=100%",
    "--ovperf-max-probe-shift=1000%",
)
#: the gate needs a few blocks per run
GATE = (*COMMON, "--ovperf-min-time=0.4", "--ovperf-max-time=0.6")
#: enough to record or to exercise bookkeeping; verdicts are not asserted with these
QUICK = (*COMMON, "--ovperf-min-time=0.1", "--ovperf-max-time=0.2")

FAST_MODEL = "mobilenet_like()"
SLOW_MODEL = "mobilenet_like(size=224, extra_blocks=8)"


def setup_project(pytester: pytest.Pytester) -> None:
    # pins rootdir (so baselines/ lives here) and lets subprocesses import ``models``
    pytester.makeini("[pytest]\npythonpath = .\n")


def write(pytester: pytest.Pytester, relative: str, source: str) -> Path:
    """Write a test file and drop bytecode caches: a rewrite within the same second and of
    the same size would otherwise reuse the stale assertion-rewritten module."""
    path = pytester.path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    for cache in pytester.path.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    return path


def run(
    pytester: pytest.Pytester, *args: str
) -> tuple[pytest.RunResult, dict[tuple[str, str], dict[str, Any]]]:
    """Run pytest in-process; the JSON report's results keyed by (test function, kind)."""
    report = pytester.path / "ovperf-report.json"
    report.unlink(missing_ok=True)
    outcome = pytester.runpytest(*args, f"--ovperf-json={report}")
    results: dict[tuple[str, str], dict[str, Any]] = {}
    if report.exists():
        for data in json.loads(report.read_text())["results"]:
            function = data["nodeid"].split("::")[-1].split("[")[0]
            results[(function, data["kind"])] = data
    return outcome, results


def stored(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def files_in(directory: Path) -> list[str]:
    """The files in ``directory``, but the lock files (``.<name>.lock``, which stay)."""
    return sorted(p.name for p in directory.iterdir() if p.is_file() and p.suffix != ".lock")


def functions_in(path: Path) -> set[str]:
    return {name.split("[")[0] for name in stored(path)["entries"]}


# -- record, compare, regress -------------------------------------------------------------

GATE_FILE = """\
import pytest
from models import mobilenet_like

def model():
    return {model}

@pytest.mark.ovperf_model(source=model)
def test_latency(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=model)
def test_throughput(perf_budget):
    perf_budget.measure_throughput()

@pytest.mark.ovperf_model(source=model)
@pytest.mark.ovperf_budget("CPU", regression_threshold="100000%")
def test_loose(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=model)
@pytest.mark.ovperf_budget("CPU", regression_threshold=0.01)
def test_strict(perf_budget):
    perf_budget.measure_latency()
"""


def test_record_compare_and_catch_a_regression(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_gate.py", GATE_FILE.format(model=FAST_MODEL))
    baseline = ovtester.path / "baselines" / "perf" / "test_gate.json"

    # 1. record
    outcome, results = run(ovtester, *GATE, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    assert len(results) == 4
    assert {r["baseline_verdict"] for r in results.values()} == {"updated"}
    assert baseline.is_file()  # mirrors perf/test_gate.py under baselines/
    entries = stored(baseline)["entries"]
    assert {name.split("[")[0] for name in entries} == {
        "test_latency",
        "test_throughput",
        "test_loose",
        "test_strict",
    }
    (profile,) = stored(baseline)["profiles"]
    assert list(entries[results[("test_throughput", "throughput")]["nodeid"].split("::")[-1]]) == [
        profile
    ]
    # both kinds ran the machine-speed probe between their blocks; latency stored its ratio
    for name, kind in [("test_latency", "latency"), ("test_throughput", "throughput")]:
        test_name = results[(name, kind)]["nodeid"].split("::")[-1]
        (run_summary,) = entries[test_name][profile][kind]["history"]
        assert run_summary["probe"]["ms"] > 0
        assert run_summary["probe"]["id"].startswith("1:")
        assert ("normalized" in run_summary) == (kind == "latency")
        if kind == "latency":
            assert run_summary["normalized"]["blocks"] >= 4
    recorded = baseline.read_bytes()

    # 2. compare the unchanged models with a large threshold (with xdist, other OpenVINO
    #    sessions can slow single probe blocks several times over: keep it far out of reach)
    wide = "--ovperf-regression-threshold=900%"
    outcome, results = run(ovtester, *GATE, wide, "-k", "not strict")
    assert outcome.ret == 0, outcome.stdout.str()
    for key in [("test_latency", "latency"), ("test_throughput", "throughput")]:
        assert results[key]["baseline_verdict"] == "unchanged", results[key]["baseline_message"]
        assert results[key]["regression_threshold"] == pytest.approx(9.0)
    assert results[("test_loose", "latency")]["baseline_verdict"] == "unchanged"
    assert results[("test_loose", "latency")]["regression_threshold"] == pytest.approx(1000.0)
    assert baseline.read_bytes() == recorded  # comparing never writes

    # 3. a 1% per-test threshold overrides the option's 900%: with one baseline run the
    #    interval is far wider than +-1%, so the same unchanged model can never be unchanged
    _, results = run(ovtester, *GATE, "--ovperf-regression-threshold=900%", "-k", "strict")
    strict = results[("test_strict", "latency")]
    assert strict["regression_threshold"] == pytest.approx(0.01)
    assert strict["baseline_verdict"] in ("nothing-changed", "regression", "improvement")

    # 4. the same test ids now run a model about ten times slower, judged against the
    #    stored runs (--ovperf-compare=history; step 5 does the A/B comparison)
    write(ovtester, "perf/test_gate.py", GATE_FILE.format(model=SLOW_MODEL))
    outcome, results = run(ovtester, *GATE, "--ovperf-compare=history", "-k", "not strict")
    outcome.assert_outcomes(failed=2, passed=1)
    out = outcome.stdout.str()
    latency = results[("test_latency", "latency")]
    throughput = results[("test_throughput", "throughput")]
    for data, unit in [(latency, "ms"), (throughput, "fps")]:
        assert data["baseline_verdict"] == "regression", data["baseline_message"]
        assert data["regression_threshold"] == pytest.approx(0.05)
        assert set(data["what_changed"]) == {"model_hash"}
        name = data["nodeid"]
        assert f"ovperf REGRESSION against the baseline for {name}" in out
        statistic = "fps" if unit == "fps" else "p50_ms"
        assert f"baseline {statistic} = {fmt(data['baseline_value'])} {unit}" in out
    assert latency["ratio"] > 2.0 and latency["ratio_ci"][0] > 1.05
    assert throughput["ratio"] < 0.5 and throughput["ratio_ci"][1] < 1 / 1.05
    for text in ["ratio current/baseline", "CI [", "p(slowdown <= threshold)", "threshold 5.0%"]:
        assert text in out
    failures_section = out.split("short test summary info")[0]
    # two regressions, each confirmed by a re-measure whose message quotes the first one
    assert failures_section.count("what changed: model_hash") == 4
    assert failures_section.count("confirmed by a re-measure at the end of the run") == 2
    # the 1000x per-test threshold tolerates the tenfold slowdown the 5% option does not
    loose = results[("test_loose", "latency")]
    assert loose["baseline_verdict"] == "unchanged", loose["baseline_message"]
    assert loose["ratio"] > 2.0
    assert {r["baseline_method"] for r in results.values()} == {"history"}
    assert baseline.read_bytes() == recorded

    # 5. by default (--ovperf-compare=auto) a changed model is measured against the
    #    baseline's own model, kept in the model store when it was recorded
    outcome, results = run(ovtester, *GATE, "-k", "not strict")
    outcome.assert_outcomes(failed=2, passed=1)
    out = outcome.stdout.str()
    for key in [("test_latency", "latency"), ("test_throughput", "throughput")]:
        data = results[key]
        assert data["baseline_method"] == "ab", data["baseline_message"]
        assert data["baseline_verdict"] == "regression", data["baseline_message"]
        assert set(data["what_changed"]) == {"model_hash"}
    assert results[("test_latency", "latency")]["ratio"] > 2.0
    assert results[("test_throughput", "throughput")]["ratio"] < 0.5
    assert "A/B against the baseline's model" in out
    assert "sequential test over 4 looks, O'Brien-Fleming boundaries" in out
    models = ovtester.path / "baselines" / "models"
    assert len([d for d in models.iterdir() if (d / "manifest.json").is_file()]) == 1
    assert baseline.read_bytes() == recorded


# -- machine profiles and a busy machine ------------------------------------------------

PROFILE_FILE = f"""\
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: {FAST_MODEL})
def test_moved(perf_budget):
    perf_budget.measure_throughput()

@pytest.mark.ovperf_model(source=lambda: {FAST_MODEL})
def test_busy(perf_budget):
    perf_budget.measure_throughput()
"""


def test_other_machine_profile_and_busy_baseline(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "test_profiles.py", PROFILE_FILE)
    baseline = ovtester.path / "baselines" / "test_profiles.json"
    outcome, _ = run(ovtester, *GATE, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()

    data = stored(baseline)
    (profile,) = data["profiles"]
    facts = {**data["profiles"][profile], "cpu": "Imaginary CPU 9000"}
    other = profile_id(facts)
    data["profiles"][other] = facts
    for name, by_profile in data["entries"].items():
        if name.startswith("test_moved"):
            by_profile[other] = by_profile.pop(profile)
        else:
            for run_ in by_profile[profile]["throughput"]["history"]:
                run_["foreign_load"] = 0.9  # recorded while other work loaded the CPU
    baseline.write_text(json.dumps(data))

    # the default foreign-load limit (15%) applies here
    outcome, results = run(
        ovtester,
        *(a for a in GATE if not a.startswith("--ovperf-max-foreign-load")),
        "--ovperf-regression-threshold=400%",
    )
    moved = results[("test_moved", "throughput")]
    assert moved["baseline_verdict"] == "no-baseline"
    assert moved["ratio"] is None
    out = outcome.stdout.str()
    assert "baselines of other machine profiles are not comparable" in out
    assert f"profile {other} differs in cpu 'Imaginary CPU 9000'" in out
    busy = results[("test_busy", "throughput")]
    # nothing changed since the baseline: a check of the machine, which is not a warning
    assert busy["baseline_verdict"] == "nothing-changed"
    assert "machine busy" in busy["baseline_message"]
    assert "the baseline's runs (up to 90%)" in busy["baseline_message"]


# -- nothing changed -----------------------------------------------------------------------


def test_a_run_right_after_recording_does_not_warn(ovtester: pytest.Pytester) -> None:
    """The newcomer's first experience: record, run again, nothing changed. Whatever the
    machine did in between, the comparison is no warning (even with inconclusive verdicts
    made failures); only a confident slowdown could fail it."""
    setup_project(ovtester)
    write(ovtester, "perf/test_once.py", ONE_TEST.format(name="once"))
    run(ovtester, *GATE, "--ovperf-update-baselines")
    outcome, results = run(ovtester, *GATE, "--ovperf-inconclusive=fail", "-W", "error")
    data = results[("test_once", "throughput")]
    assert data["baseline_method"] == "history"
    assert data["what_changed"] == {}
    verdict = data["baseline_verdict"]
    assert verdict in ("unchanged", "improvement", "nothing-changed", "regression"), verdict
    if verdict != "regression":  # a confident slowdown of the machine fails, confirmed
        outcome.assert_outcomes(passed=1)
    if verdict == "nothing-changed":
        assert "nothing the gate fingerprints changed" in data["baseline_message"]
    # the stored run it was compared with travels to the reports (the HTML trend)
    (point,) = data["recorded_runs"]
    assert point["in_baseline"] is True
    assert point["value"] == pytest.approx(data["baseline_value"], rel=1e-3)
    low, high = point["ci"]
    assert low < point["value"] < high


def test_a_fact_the_baseline_did_not_record_is_unknown_not_changed() -> None:
    from pytest_ovperf.runtime.facts import software_changes

    stored = {"openvino": "2025.4", "model_hash": "a", "config": {}, "python": "3.11"}
    current = {**stored, "openvino": "2026.4", "pytest_ovperf": "0.2.0"}
    assert software_changes(stored, current) == {"openvino": ("2025.4", "2026.4")}


# -- corrupt baseline files ----------------------------------------------------------------

ONE_TEST = f"""\
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: {FAST_MODEL})
def test_{{name}}(perf_budget):
    perf_budget.measure_throughput()
"""


def test_corrupt_baseline_file_fails_its_tests_only(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_a.py", ONE_TEST.format(name="a"))
    write(ovtester, "perf/test_b.py", ONE_TEST.format(name="b"))
    outcome, _ = run(ovtester, *GATE, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    corrupt = ovtester.path / "baselines" / "perf" / "test_a.json"
    healthy = ovtester.path / "baselines" / "perf" / "test_b.json"
    content = corrupt.read_bytes()[:-40]  # truncated, as by a killed editor
    corrupt.write_bytes(content)

    outcome, results = run(ovtester, *GATE, "--ovperf-regression-threshold=900%")
    outcome.assert_outcomes(failed=1, passed=1)
    out = outcome.stdout.str()
    assert f"baseline file {corrupt}: is not valid JSON" in out
    assert results[("test_a", "throughput")]["baseline_verdict"] == "error"
    assert results[("test_b", "throughput")]["baseline_verdict"] == "unchanged"
    assert corrupt.read_bytes() == content

    healthy_before = healthy.read_bytes()
    outcome, results = run(ovtester, *GATE, "--ovperf-update-baselines")
    outcome.assert_outcomes(failed=1, passed=1)
    assert f"baseline file {corrupt}: is not valid JSON" in outcome.stdout.str()
    assert corrupt.read_bytes() == content
    assert results[("test_b", "throughput")]["baseline_verdict"] == "updated"
    assert healthy.read_bytes() != healthy_before
    (entry,) = stored(healthy)["entries"].values()
    (kinds,) = entry.values()
    assert len(kinds["throughput"]["history"]) == 2
    assert files_in(corrupt.parent) == ["test_a.json", "test_b.json"]


# -- concurrent updates ------------------------------------------------------------------

MANY_TESTS = "import pytest\nfrom models import mobilenet_like\n" + "".join(
    f"""
@pytest.mark.ovperf_model(source=lambda: {FAST_MODEL})
def test_t{i}(perf_budget):
    perf_budget.measure_throughput()
"""
    for i in range(6)
)


def test_xdist_workers_update_one_baseline_file(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_many.py", MANY_TESTS)
    report = ovtester.path / "report.json"
    outcome = ovtester.runpytest_subprocess(
        "-p",
        "xdist",
        "-n",
        "2",
        "--ovperf-update-baselines",
        f"--ovperf-json={report}",
        *QUICK,
        timeout=180,
    )
    assert outcome.ret == 0, outcome.stdout.str()
    outcome.assert_outcomes(passed=6)
    baseline = ovtester.path / "baselines" / "perf" / "test_many.json"
    assert functions_in(baseline) == {f"test_t{i}" for i in range(6)}
    results = json.loads(report.read_text())["results"]
    assert sorted(r["baseline_verdict"] for r in results) == ["updated"] * 6
    assert files_in(baseline.parent) == ["test_many.json"]


def test_simultaneous_pytest_processes_update_one_baseline_file(
    ovtester: pytest.Pytester,
) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_many.py", MANY_TESTS)
    command = [sys.executable, "-m", "pytest", "perf/test_many.py", "--ovperf-update-baselines"]
    processes = [
        subprocess.Popen(
            [*command, *QUICK, "-k", selection],
            cwd=ovtester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for selection in ("t0 or t2 or t4", "t1 or t3 or t5")
    ]
    outputs = [p.communicate(timeout=180)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n".join(outputs)
    baseline = ovtester.path / "baselines" / "perf" / "test_many.json"
    assert functions_in(baseline) == {f"test_t{i}" for i in range(6)}
    assert files_in(baseline.parent) == ["test_many.json"]


# -- stale entries ---------------------------------------------------------------------------


def stale_file(*names: str) -> str:
    return "import pytest\nfrom models import mobilenet_like\n" + "".join(
        f"""
@pytest.mark.ovperf_model(source=lambda: {FAST_MODEL})
def test_{name}(perf_budget):
    perf_budget.measure_throughput()
"""
        for name in names
    )


def test_stale_entries_are_listed_and_pruned_only_after_a_full_run(
    ovtester: pytest.Pytester,
) -> None:
    setup_project(ovtester)
    path = write(ovtester, "perf/test_stale.py", stale_file("keep", "other", "gone"))
    baseline = ovtester.path / "baselines" / "perf" / "test_stale.json"
    outcome, _ = run(ovtester, *QUICK, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    assert functions_in(baseline) == {"test_keep", "test_other", "test_gone"}

    write(ovtester, "perf/test_stale.py", stale_file("keep", "other"))
    loose = (*QUICK, "--ovperf-regression-threshold=900%")
    # part of the file ran: nothing is stale, nothing is pruned
    for selection in (["perf/test_stale.py::test_keep"], ["-k", "keep"]):
        outcome, _ = run(ovtester, *loose, "--ovperf-prune-baselines", *selection)
        assert "stale baselines" not in outcome.stdout.str()
        assert functions_in(baseline) == {"test_keep", "test_other", "test_gone"}

    # the whole file ran: the entry of the deleted test is stale
    outcome, _ = run(ovtester, *loose, str(path))
    out = outcome.stdout.str()
    assert f"stale baselines in {baseline} (1 entries; prune them with" in out
    assert "  test_gone[" in out
    assert functions_in(baseline) == {"test_keep", "test_other", "test_gone"}

    outcome, _ = run(ovtester, *loose, "--ovperf-prune-baselines")
    assert f"stale baselines in {baseline} (1 entries; pruned 1)" in outcome.stdout.str()
    assert functions_in(baseline) == {"test_keep", "test_other"}
    assert len(stored(baseline)["profiles"]) == 1

    outcome, _ = run(ovtester, *loose, "--ovperf-prune-baselines")
    assert "stale baselines" not in outcome.stdout.str()


def test_stale_entries_are_pruned_under_xdist(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "perf/test_stale.py", stale_file("keep", "other", "gone"))
    baseline = ovtester.path / "baselines" / "perf" / "test_stale.json"
    outcome, _ = run(ovtester, *QUICK, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    write(ovtester, "perf/test_stale.py", stale_file("keep", "other"))
    xdist = ("-p", "xdist", "-n", "2", "--ovperf-prune-baselines")
    loose = (*QUICK, "--ovperf-regression-threshold=900%")
    everything = {"test_keep", "test_other", "test_gone"}
    # part of the file selected on the workers (-k, --deselect) or by a node id: the
    # workers report their collection and deselection, so the file counts as partial
    for selection in (
        ["-k", "keep"],
        ["--deselect", "perf/test_stale.py::test_other"],
        ["perf/test_stale.py::test_keep"],
    ):
        outcome = ovtester.runpytest_subprocess(*xdist, *loose, *selection, timeout=180)
        assert "stale baselines" not in outcome.stdout.str()
        assert functions_in(baseline) == everything
    # -k that selects every test of the file is a full run
    outcome = ovtester.runpytest_subprocess(*xdist, *loose, "-k", "keep or other", timeout=180)
    assert f"stale baselines in {baseline} (1 entries; pruned 1)" in outcome.stdout.str()
    assert functions_in(baseline) == {"test_keep", "test_other"}


# -- interleaved reference ---------------------------------------------------------------

REFERENCE_FILE = f"""\
import pytest
from models import mobilenet_like

def fast():
    return {FAST_MODEL}

def slow():
    return {SLOW_MODEL}

@pytest.mark.ovperf_model(source=slow, reference=fast)
def test_slower_latency(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=slow, reference=fast)
def test_slower_throughput(perf_budget):
    perf_budget.measure_throughput()

@pytest.mark.ovperf_model(source=fast, reference=fast)
def test_same_model(perf_budget):
    perf_budget.measure_latency()
"""


def test_interleaved_reference(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "test_reference.py", REFERENCE_FILE)
    outcome, results = run(ovtester, *GATE, "--ovperf-regression-threshold=50%")
    outcome.assert_outcomes(failed=2, passed=1)
    out = outcome.stdout.str()
    for key in [("test_slower_latency", "latency"), ("test_slower_throughput", "throughput")]:
        data = results[key]
        assert data["baseline_verdict"] == "regression", data["baseline_message"]
        assert f"ovperf REGRESSION against the interleaved reference for {data['nodeid']}" in out
    assert results[("test_slower_latency", "latency")]["ratio"] > 2.0
    assert results[("test_slower_throughput", "throughput")]["ratio"] < 0.5
    assert "ratio model/reference" in out
    same = results[("test_same_model", "latency")]
    assert same["baseline_verdict"] != "regression", same["baseline_message"]
    assert 0.5 < same["ratio"] < 2.0
    # judged against the reference: nothing is read from or written to baselines/
    assert not (ovtester.path / "baselines").exists()


# -- the gate on a malformed entry (no measurement needed) -------------------------------

MACHINE = EXAMPLE_MACHINE


def _result() -> LatencyResult:
    return example_result(
        [1.0, 1.1, 0.9],
        interval=Interval(1.0, 0.9, 1.1, 0.95, "test"),
        latencies_ms=np.array([1.0, 1.1, 0.9, 1.0]),
    )


def _gate(tmp_path: Path) -> BaselineGate:
    return BaselineGate(
        tmp_path / "baselines", tmp_path, GateSettings(), ModelStore(tmp_path / "models")
    )


def _gate_with_entry(tmp_path: Path, kinds: Any, profiles: Any = None) -> BaselineGate:
    profile = profile_id(MACHINE)
    data = {
        "schema": "pytest-ovperf-baselines",
        "schema_version": 1,
        "profiles": profiles if profiles is not None else {profile: MACHINE},
        "entries": {"test_a[CPU-f32]": {profile: kinds}},
    }
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "test_x.json").write_text(json.dumps(data))
    return _gate(tmp_path)


def test_gate_compares_a_hand_written_entry(tmp_path: Path) -> None:
    run_ = {"value": 1.0, "log_value": 0.0, "within_se": 0.01, "blocks": 5, "software": "s"}
    gate = _gate_with_entry(tmp_path, {"latency": {"history": [run_], "statistic": "p50_ms"}})
    comparison = gate.check(_result(), tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)
    # the entry names no software: nothing is known to have changed
    assert comparison.verdict in ("unchanged", "nothing-changed")
    assert comparison.baseline_value == pytest.approx(1.0)
    assert comparison.ratio is not None and math.isfinite(comparison.ratio)


@pytest.mark.parametrize(
    "history",
    ["not a list", [{"value": 1.0}], [42]],
    ids=["history-string", "run-missing-fields", "run-not-object"],
)
def test_malformed_history_is_a_baseline_file_error(tmp_path: Path, history: Any) -> None:
    gate = _gate_with_entry(tmp_path, {"latency": {"history": history}})
    with pytest.raises(BaselineFileError, match=r"test_x\.json"):
        gate.check(_result(), tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)


def test_malformed_profile_is_a_baseline_file_error(tmp_path: Path) -> None:
    run_ = {"value": 1.0, "log_value": 0.0, "within_se": 0.01, "blocks": 5, "software": "s"}
    data = {
        "schema": "pytest-ovperf-baselines",
        "schema_version": 1,
        "profiles": {"0123456789ab": "a machine"},
        "entries": {"test_a[CPU-f32]": {"0123456789ab": {"latency": {"history": [run_]}}}},
    }
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "test_x.json").write_text(json.dumps(data))
    gate = _gate(tmp_path)
    with pytest.raises(BaselineFileError, match=r"test_x\.json"):
        gate.check(_result(), tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)


def _probe_run(ratio_log: float, probe_ms: float, raw_log: float = 0.0) -> dict[str, Any]:
    """A stored run with a model/probe ratio, as _record writes it."""
    from pytest_ovperf.runtime.facts import software_key
    from pytest_ovperf.runtime.probe import PROBE_VERSION

    software = software_key({"openvino": "x", "model_hash": "h", "config": {}})
    normalized = {
        "value": math.exp(ratio_log),
        "log_value": ratio_log,
        "within_se": 0.001,
        "blocks": 20,
        "software": software,
    }
    return {
        "value": math.exp(raw_log),
        "log_value": raw_log,
        "within_se": 0.001,
        "blocks": 20,
        "software": software,
        "probe": {"id": f"{PROBE_VERSION}:x", "ms": probe_ms},
        "normalized": normalized,
    }


@pytest.mark.parametrize(
    ("probe_ms", "expected"),
    [(0.100, "regression"), (0.125, "nothing-changed"), (0.080, "nothing-changed")],
    ids=["probe-same-speed", "probe-25%-slower", "probe-20%-faster"],
)
def test_probe_shift_makes_a_comparison_inconclusive(
    tmp_path: Path, probe_ms: float, expected: str
) -> None:
    """A machine in another state (the probe itself ran at another speed) never yields a
    decided verdict (nothing changed here: the run checked the machine); at the same speed
    the normalized ratio decides (the stored raw figure moved from job to job, its ratio to
    the probe did not)."""
    runs = [_probe_run(0.0, 0.100, raw_log=0.05 * (-1) ** i) for i in range(6)]
    gate = _gate_with_entry(tmp_path, {"latency": {"history": runs, "statistic": "p50_ms"}})
    result = _result()
    result.probe_log_ratios = [math.log(2.0)] * 20  # twice as slow relative to the probe
    result.probe_value = probe_ms
    comparison = gate.check(result, tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)
    assert comparison.verdict == expected, comparison_text(result, comparison)
    if expected == "nothing-changed":
        text = comparison_text(result, comparison)
        assert "machine speed differs" in text
        assert "statistical verdict without this guard: regression" in text


@pytest.mark.parametrize(
    ("slowdown", "expected"), [(1.0, "not regression"), (2.0, "regression")], ids=["same", "2x"]
)
def test_runs_of_the_machine_state_found_are_the_baseline(
    tmp_path: Path, slowdown: float, expected: str
) -> None:
    """With stored runs in two machine states, a run is judged against those recorded in
    the state its probe found, where the model/probe ratio is another than in the other."""
    fast = [_probe_run(0.0, 0.100, raw_log=0.05 * (-1) ** i) for i in range(4)]
    slow = [_probe_run(0.2, 0.150, raw_log=0.3 + 0.05 * (-1) ** i) for i in range(4)]
    gate = _gate_with_entry(
        tmp_path, {"latency": {"history": fast + slow + fast, "statistic": "p50_ms"}}
    )
    result = _result()
    result.probe_log_ratios = [0.2 + math.log(slowdown)] * 20
    result.probe_value = 0.152  # the slow state
    comparison = gate.check(result, tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)
    assert "machine speed differs" not in comparison_text(result, comparison)
    if expected == "regression":
        assert comparison.verdict == "regression", comparison_text(result, comparison)
    else:
        assert comparison.verdict != "regression", comparison_text(result, comparison)


@pytest.mark.parametrize(
    ("slowdown", "probe_ms", "expected"),
    [
        (2.0, 0.100, "regression"),
        (1.0, 0.100, "not regression"),
        (2.0, 0.150, "nothing-changed"),
    ],
    ids=["2x-same-state", "same-same-state", "2x-other-state"],
)
def test_raw_comparison_is_guarded_by_the_probe_state(
    tmp_path: Path, slowdown: float, probe_ms: float, expected: str
) -> None:
    """A run with a probe but no model/probe ratio (throughput) is compared on its raw
    statistic, and still only with runs of its own machine state."""
    runs = [_probe_run(0.0, 0.100) for _ in range(6)]
    for run_ in runs:
        del run_["normalized"]
    gate = _gate_with_entry(tmp_path, {"latency": {"history": runs, "statistic": "p50_ms"}})
    result = _result()
    result.latencies_ms = result.latencies_ms * slowdown
    result.blocks = [b * slowdown for b in result.blocks]
    result.interval = Interval(slowdown, 0.9 * slowdown, 1.1 * slowdown, 0.95, "test")
    result.probe_value = probe_ms
    comparison = gate.check(result, tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)
    assert "normalized by the machine-speed probe" not in comparison_text(result, comparison)
    if expected == "not regression":
        assert comparison.verdict != "regression", comparison_text(result, comparison)
    else:
        assert comparison.verdict == expected, comparison_text(result, comparison)
    if expected == "nothing-changed":  # the guard withheld it, and nothing changed
        assert "machine speed differs" in comparison_text(result, comparison)


@pytest.mark.parametrize(
    ("raw_spread", "ratio_spread", "normalized"),
    [(0.05, 0.0, True), (0.0, 0.05, False), (0.05, 0.05, False)],
    ids=["probe-steadies", "probe-adds-noise", "no-gain"],
)
def test_the_probe_normalizes_only_where_it_lowered_the_stored_spread(
    tmp_path: Path, raw_spread: float, ratio_spread: float, normalized: bool
) -> None:
    """A figure is judged as model/probe ratios only where the ratios of this test's stored
    jobs spread less than its raw figures did; a probe that adds noise is left out."""
    runs = [
        _probe_run(ratio_spread * (-1) ** i, 0.100, raw_log=raw_spread * (-1) ** i)
        for i in range(6)
    ]
    gate = _gate_with_entry(tmp_path, {"latency": {"history": runs, "statistic": "p50_ms"}})
    result = _result()
    result.probe_log_ratios = [0.0] * 20
    result.probe_value = 0.100
    comparison = gate.check(result, tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)
    assert comparison.normalized is normalized
    text = comparison_text(result, comparison)
    assert ("normalized by the machine-speed probe" in text) is normalized


def test_stored_probe_must_be_valid(tmp_path: Path) -> None:
    run_ = _probe_run(0.0, 0.100)
    run_["probe"] = {"id": "1:x", "ms": -1}
    gate = _gate_with_entry(tmp_path, {"latency": {"history": [run_], "statistic": "p50_ms"}})
    with pytest.raises(BaselineFileError, match=r"history\[0\] has an invalid 'probe'"):
        gate.check(_result(), tmp_path / "test_x.py", "test_a[CPU-f32]", 0.05)


def test_collection_records_of_xdist_workers_merge() -> None:
    from pytest_ovperf.plugin import CollectionTracker

    tracker = CollectionTracker()
    tracker.merge({"collected": {"/r/test_a.py": ["test_x[CPU-f32]"]}, "partial": []})
    tracker.merge({"collected": {"/r/test_a.py": ["test_y[CPU-f32]"]}, "partial": ["/r/b.py"]})
    assert tracker.collected == {Path("/r/test_a.py"): {"test_x[CPU-f32]", "test_y[CPU-f32]"}}
    assert tracker.partial_files == {Path("/r/b.py")}
    assert tracker.complete
    tracker.merge(None)  # a worker that crashed before handing over its record
    assert not tracker.complete


# -- A/B against the baseline's own model -------------------------------------------------

AB_FILE = """\
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: {model})
def test_ab(perf_budget):
    perf_budget.measure_latency()
"""


def test_compare_modes_and_a_missing_model_copy(ovtester: pytest.Pytester) -> None:
    setup_project(ovtester)
    write(ovtester, "test_ab.py", AB_FILE.format(model=FAST_MODEL))
    outcome, _ = run(ovtester, *QUICK, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    store = ovtester.path / "baselines" / "models"
    (copy,) = store.iterdir()

    def method(*args: str) -> dict[str, Any]:
        outcome, results = run(ovtester, *QUICK, *args)
        assert ("test_ab", "latency") in results, outcome.stdout.str()
        return results[("test_ab", "latency")]

    # the same model: auto compares with the stored runs; ab measures it against its copy
    assert method()["baseline_method"] == "history"
    assert method("--ovperf-compare=ab")["baseline_method"] == "ab"
    # a changed model: auto and ab measure it against the baseline's own model
    write(ovtester, "test_ab.py", AB_FILE.format(model=SLOW_MODEL))
    assert method()["baseline_method"] == "ab"
    assert method("--ovperf-compare=history")["baseline_method"] == "history"
    # no copy at hand: auto says so and falls back to the stored runs; ab is a test error
    renamed = copy.rename(ovtester.path / "elsewhere")
    fallback = method()
    assert fallback["baseline_method"] == "history"
    assert "no A/B against the baseline's own model" in fallback["baseline_message"]
    assert f"{copy} is missing" in fallback["baseline_message"]
    assert "judged against the stored runs instead" in fallback["baseline_message"]
    outcome, _ = run(ovtester, *QUICK, "--ovperf-compare=ab")
    outcome.assert_outcomes(failed=1)
    assert "--ovperf-compare=ab needs the baseline's model" in outcome.stdout.str()
    # a copy that fails its hash check is named too, and left as it is
    renamed.rename(copy)
    weights = copy / "model.bin"
    weights.write_bytes(weights.read_bytes()[:-4])
    fallback = method()
    assert "model.bin fails its hash check" in fallback["baseline_message"]
    assert fallback["baseline_method"] == "history"


def test_a_bad_compare_mode_is_a_usage_error(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    outcome = ovtester.runpytest_inprocess("--ovperf-compare=maybe")
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    assert "--ovperf-compare='maybe': choose auto, ab or history" in outcome.stderr.str()


def test_drift_is_pooled_across_the_suites_baseline_files(tmp_path: Path) -> None:
    """A test with nothing recorded borrows the drift of the tests of other baseline files
    on this machine profile (never of another profile, nor of the model store's files)."""
    profile = profile_id(MACHINE)

    def runs(values: list[float]) -> list[dict[str, Any]]:
        return [
            {
                "value": v,
                "log_value": math.log(v),
                "within_se": 0.001,
                "blocks": 20,
                "software": "s",
                "job": f"job-{i}",
            }
            for i, v in enumerate(values)
        ]

    def write_file(relative: str, entries: dict[str, Any]) -> None:
        path = tmp_path / "baselines" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "schema": "pytest-ovperf-baselines",
            "schema_version": 1,
            "profiles": {profile: MACHINE, "0123456789ab": {**MACHINE, "cpu": "other"}},
            "entries": entries,
        }
        path.write_text(json.dumps(data))

    drifting = runs([1.0, 1.2, 0.9, 1.15, 0.95, 1.1])
    write_file(
        "perf/test_other.py".replace(".py", ".json"),
        {f"test_{i}[CPU-f32]": {profile: {"latency": {"history": drifting}}} for i in range(3)},
    )
    # drift on another machine profile lends nothing
    write_file(
        "test_far.json",
        {"test_f[CPU-f32]": {"0123456789ab": {"latency": {"history": runs([1.0, 3.0])}}}},
    )
    # the model store (inside the baseline directory) holds JSON that is no baseline file
    (tmp_path / "baselines" / "models" / "abc").mkdir(parents=True)
    (tmp_path / "baselines" / "models" / "abc" / "manifest.json").write_text("{}")
    gate = BaselineGate(
        tmp_path / "baselines",
        tmp_path,
        GateSettings(),
        ModelStore(tmp_path / "baselines" / "models"),
    )
    facts = {**MACHINE, "openvino": "x", "model_hash": "h", "config": {}}

    drift = gate.drift_for(tmp_path / "test_new.py", "test_n[CPU-f32]", facts, "latency")
    assert "0 df from this test's stored jobs" in drift.source
    assert "15 from other tests on this machine" in drift.source  # 3 tests x 5 df
    assert drift.df == GateSettings().prior_df + 5  # the pool: 6 distinct jobs less one
    assert drift.sigma > GateSettings().prior_drift  # the suite drifts ~12%, the prior says 2%


SAME_NAMES_FILE = """\
import pytest
from models import mlp

def model():
    return mlp(features=16, hidden=16, depth=1)

class TestA:
    @pytest.mark.ovperf_model(source=model)
    def test_x(self, perf_budget):
        perf_budget.measure_latency()

class TestB:
    @pytest.mark.ovperf_model(source=model)
    def test_x(self, perf_budget):
        perf_budget.measure_latency()
"""


def test_same_named_tests_of_two_classes_are_two_tests_everywhere(
    ovtester: pytest.Pytester,
) -> None:
    """``TestA::test_x`` and ``TestB::test_x`` of one file: two baseline entries, two rows in
    the terminal summary and the markdown report, and no stale entry for either."""
    setup_project(ovtester)
    write(ovtester, "perf/test_same.py", SAME_NAMES_FILE)
    markdown = ovtester.path / "summary.md"
    outcome, _ = run(ovtester, *QUICK, "--ovperf-update-baselines", f"--ovperf-markdown={markdown}")
    assert outcome.ret == 0, outcome.stdout.str()
    entries = stored(ovtester.path / "baselines" / "perf" / "test_same.json")["entries"]
    assert {name.split("[")[0] for name in entries} == {"TestA::test_x", "TestB::test_x"}
    summary = outcome.stdout.str()
    for name in ("TestA::test_x[CPU-", "TestB::test_x[CPU-"):
        assert name in summary
        assert name in markdown.read_text()
    outcome, _ = run(ovtester, *QUICK)
    assert "stale baselines" not in outcome.stdout.str()


def test_a_test_identity_names_the_test_within_its_file() -> None:
    identity = TestIdentity.from_nodeid("perf/a[1]/test_f.py::TestA::TestIn::test_x[CPU-a::b[c]]")
    assert identity.file == "perf/a[1]/test_f.py"
    assert identity.classes == "TestA::TestIn"
    assert identity.function == "test_x"
    assert identity.params == "CPU-a::b[c]"
    assert identity.name == "TestA::TestIn::test_x[CPU-a::b[c]]"
    assert identity.test == "TestA::TestIn::test_x"
    plain = TestIdentity.from_nodeid("test_f.py::test_y")
    assert (plain.classes, plain.params, plain.name) == ("", "", "test_y")
