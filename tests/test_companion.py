"""The one-thread compute companion: measured, stored, judged beside the user-facing figure."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_MACHINE, EXAMPLE_MODELS, example_result

from pytest_ovperf.messages import comparison_text
from pytest_ovperf.records import result_record
from pytest_ovperf.results import CompanionFigure, LatencyResult
from pytest_ovperf.runtime.companion import companion_spec
from pytest_ovperf.runtime.facts import facts_id, software_key
from pytest_ovperf.runtime.models import ModelSpec
from pytest_ovperf.store.baselines import BaselineFileError
from pytest_ovperf.store.models import ModelStore
from pytest_ovperf.store.reader import probe_id_of
from pytest_ovperf.store.schema import StoredRun
from pytest_ovperf.verdicts.companion import Figure, combine, split_settings
from pytest_ovperf.verdicts.comparison import GateResult, GateSettings
from pytest_ovperf.verdicts.gate import BaselineGate
from pytest_ovperf.verdicts.kinds import GateVerdict, GuardReason
from pytest_ovperf.verdicts.stats import Interval

# -- the rule (pure) ------------------------------------------------------------------------


def outcome(verdict: str, slowdown: float = 0.0) -> GateResult:
    return GateResult(
        verdict=GateVerdict(verdict),
        slowdown=slowdown,
        ci=(slowdown - 0.1, slowdown + 0.1),
        se=0.05,
        drift=0.02,
        df=4,
        p_value=0.5,
        baseline_value=1.0,
        baseline_runs=3,
        threshold=0.05,
        confidence=0.975,
        current_within_se=0.01,
        current_blocks=10,
    )


@pytest.mark.parametrize(
    ("user", "user_slowdown", "companion", "expected", "by"),
    [
        # a confident slowdown of either figure is a regression, and says which
        ("regression", 0.2, "unchanged", "regression", Figure.USER_FACING),
        ("inconclusive", 0.02, "regression", "regression", Figure.COMPANION),
        ("unchanged", 0.0, "regression", "regression", Figure.COMPANION),
        ("nothing-changed", 0.02, "regression", "regression", Figure.COMPANION),
        # the user-facing figure decided: its verdict stands
        ("unchanged", 0.0, "inconclusive", "unchanged", Figure.USER_FACING),
        ("improvement", -0.2, "unchanged", "improvement", Figure.USER_FACING),
        # undecided from noise alone: unchanged rests on the companion
        ("inconclusive", 0.02, "unchanged", "unchanged", Figure.COMPANION),
        ("nothing-changed", -0.03, "unchanged", "unchanged", Figure.COMPANION),
        # undecided, but pointing at a change beyond the threshold: not unchanged
        ("inconclusive", 0.08, "unchanged", "inconclusive", None),
        ("inconclusive", 0.02, "inconclusive", "inconclusive", None),
        ("nothing-changed", 0.0, "improvement", "nothing-changed", None),
    ],
)
def test_the_rule(
    user: str, user_slowdown: float, companion: str, expected: str, by: Figure | None
) -> None:
    combined = combine(GateVerdict(user), outcome(user, user_slowdown), outcome(companion))
    assert (combined.verdict, combined.decided_by) == (GateVerdict(expected), by)


def test_each_figure_spends_half_the_regression_rate() -> None:
    split = split_settings(GateSettings(confidence=0.95, equivalence_confidence=0.90))
    assert split.confidence == pytest.approx(0.975)
    assert split.equivalence_confidence == pytest.approx(0.90)


def test_the_companion_is_the_users_model_with_one_thread() -> None:
    spec = ModelSpec(
        source="m.xml",
        config={"NUM_STREAMS": 4, "PERFORMANCE_HINT": "THROUGHPUT", "CACHE_DIR": "c"},
        reference="r.xml",
    )
    companion = companion_spec(spec)
    assert companion.config == {"CACHE_DIR": "c", "INFERENCE_NUM_THREADS": 1}
    assert companion.source == "m.xml" and not companion.has_reference


# -- the gate with hand-written runs --------------------------------------------------------

MACHINE = EXAMPLE_MACHINE
SOFTWARE = {"openvino": "x", "model_hash": "h", "config": {}, "python": "3", "pytest_ovperf": "1"}


def summary(log_value: float, within: float, job: str) -> dict[str, Any]:
    return {
        "value": math.exp(log_value),
        "log_value": log_value,
        "within_se": within,
        "blocks": 10,
        "software": software_key(SOFTWARE),
        "job": job,
    }


def stored_run(raw_log: float, companion_log: float | None, job: str) -> dict[str, Any]:
    run = summary(raw_log, 0.01, job)
    if companion_log is not None:
        run["companion"] = summary(companion_log, 0.003, job)
    return run


def gate_with(
    tmp_path: Path, runs: list[dict[str, Any]], machine: dict[str, Any] = MACHINE
) -> BaselineGate:
    profile = facts_id(machine)
    entry = {"history": runs, "statistic": "p50_ms", "software": SOFTWARE}
    data = {
        "schema": "pytest-ovperf-baselines",
        "schema_version": 1,
        "profiles": {profile: machine},
        "entries": {"test_a[CPU-f32]": {profile: {"latency": entry}}},
    }
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "test_x.json").write_text(json.dumps(data))
    return BaselineGate(
        tmp_path / "baselines", tmp_path, GateSettings(), ModelStore(tmp_path / "models")
    )


def result_with(raw: float, companion: float | None, device: str = "CPU") -> LatencyResult:
    """A result whose two-thread blocks are noisy and whose companion blocks are steady."""
    return example_result(
        [raw * f for f in (0.8, 1.25, 0.9, 1.15, 0.85, 1.2)],
        device=device,
        interval=Interval(raw, 0.8 * raw, 1.2 * raw, 0.95, "test"),
        facts={**MACHINE, "device": device, **SOFTWARE},
        companion=(
            CompanionFigure(companion, tuple(companion * f for f in (0.99, 1.01) * 3), 1)
            if companion is not None
            else None
        ),
    )


#: five recording jobs: the two-thread figure moved by 25% between them, one thread by 1%
JOBS = [(0.0, 0.0), (0.22, 0.01), (-0.05, -0.01), (0.15, 0.005), (0.05, -0.005)]


def history(companion: bool = True) -> list[dict[str, Any]]:
    return [
        stored_run(raw, cpu if companion else None, f"job{index}")
        for index, (raw, cpu) in enumerate(JOBS)
    ]


def check(gate: BaselineGate, result: LatencyResult) -> Any:
    return gate.check(result, gate.rootdir / "test_x.py", "test_a[CPU-f32]", 0.05)


def test_nothing_changed_is_unchanged_on_the_companion(tmp_path: Path) -> None:
    result = result_with(math.exp(0.07), 1.0)  # user-facing within the noise of its jobs
    comparison = check(gate_with(tmp_path, history()), result)
    assert comparison.outcome.verdict is GateVerdict.INCONCLUSIVE
    assert comparison.companion.verdict is GateVerdict.UNCHANGED
    assert comparison.verdict is GateVerdict.UNCHANGED
    assert comparison.decided_by is Figure.COMPANION
    assert "unchanged rests on the one-thread companion" in comparison_text(result, comparison)


def test_a_slower_computation_is_a_regression_on_the_companion(tmp_path: Path) -> None:
    result = result_with(math.exp(0.07) * 1.25, 1.25)
    comparison = check(gate_with(tmp_path, history()), result)
    assert comparison.verdict is GateVerdict.REGRESSION
    assert comparison.decided_by is Figure.COMPANION
    text = comparison_text(result, comparison)
    assert "the regression rests on the one-thread companion" in text
    assert "did not show it" in text


def test_without_stored_companions_the_user_facing_figure_alone_is_judged(
    tmp_path: Path,
) -> None:
    result = result_with(math.exp(0.07) * 1.25, 1.25)
    comparison = check(gate_with(tmp_path, history(companion=False)), result)
    assert comparison.companion is None and comparison.decided_by is None
    assert comparison.verdict is not GateVerdict.REGRESSION
    assert "the baseline's runs have none" in comparison_text(result, comparison)


def test_another_device_says_it_has_no_companion(tmp_path: Path) -> None:
    result = result_with(1.0, None, device="GPU")
    gate = gate_with(tmp_path, history(), {**MACHINE, "device": "GPU"})
    text = comparison_text(result, check(gate, result))
    assert "no compute companion on GPU" in text


def test_a_malformed_stored_companion_is_a_baseline_file_error(tmp_path: Path) -> None:
    runs = history()
    runs[0]["companion"] = {"value": "fast"}
    gate = gate_with(tmp_path, runs)
    with pytest.raises(BaselineFileError, match=r"history\[0\] has an invalid 'companion'"):
        check(gate, result_with(1.0, 1.0))


def test_a_machine_in_another_state_checks_the_machine(tmp_path: Path) -> None:
    """The speed probe ran 25% slow (no stored run of that state): both figures moved with
    the machine, so neither is judged. Nothing changed: the machine's state, not a warning;
    a changed model: inconclusive, whatever the statistics said."""
    result = dataclasses.replace(result_with(math.exp(0.07) * 2.0, 1.2), probe_value=0.125)
    runs = history()
    for run in runs:
        run["probe"] = {"id": probe_id_of(result.facts), "ms": 0.1}
    gate = gate_with(tmp_path, runs)
    comparison = check(gate, result)
    assert [guard.reason for guard in comparison.guards] == [GuardReason.MACHINE_SPEED]
    assert comparison.outcome.verdict is GateVerdict.REGRESSION  # what the guard withheld
    assert comparison.companion is None  # one thread moves with the state too
    assert comparison.companion_guard is not None
    assert comparison.companion_guard.reason is GuardReason.MACHINE_SPEED
    assert comparison.verdict is GateVerdict.NOTHING_CHANGED
    text = comparison_text(result, comparison)
    assert "which was busy or in another state" in text
    assert "statistical verdict without this guard: regression" in text
    changed = dataclasses.replace(result, facts={**result.facts, "model_hash": "another model"})
    assert check(gate, changed).verdict is GateVerdict.INCONCLUSIVE


def test_a_recording_on_a_busy_machine_is_left_out_of_the_baseline(tmp_path: Path) -> None:
    """One recording disturbed by other processes no longer makes every later comparison
    inconclusive: the runs recorded without such load are the baseline, the file keeps it."""
    runs = history()
    runs[1]["foreign_load"] = 0.5  # over the 15% allowed
    result = result_with(math.exp(0.07) * 1.25, 1.25)
    comparison = check(gate_with(tmp_path, runs), result)
    assert comparison.guards == [] and comparison.companion_guard is None
    assert comparison.verdict is GateVerdict.REGRESSION
    assert comparison.busy_runs_left_out == 1
    assert comparison.stored.stored_runs == len(runs)  # nothing deleted
    assert "left out of the baseline: 1 stored run(s)" in comparison_text(result, comparison)
    record = result_record(dataclasses.replace(result, baseline=comparison))
    assert record["busy_runs_left_out"] == 1


def test_a_busy_recording_does_not_widen_the_budgets_drift(tmp_path: Path) -> None:
    runs = history()
    runs[1]["foreign_load"] = 0.5  # the job that read 25% slow
    gate = gate_with(tmp_path, runs)
    facts = {**MACHINE, **SOFTWARE}
    test_file = gate.rootdir / "test_x.py"
    left_out = gate.drift_for(test_file, "test_a[CPU-f32]", facts, "latency")
    kept = dataclasses.replace(gate, max_foreign_load=1.0)  # nothing counts as busy
    with_it = kept.drift_for(test_file, "test_a[CPU-f32]", facts, "latency")
    assert left_out.sigma < with_it.sigma


def test_a_baseline_recorded_busy_throughout_is_still_guarded(tmp_path: Path) -> None:
    runs = history()
    for run in runs:
        run["foreign_load"] = 0.5
    result = result_with(math.exp(0.07) * 1.25, 1.25)
    comparison = check(gate_with(tmp_path, runs), result)
    assert [guard.reason for guard in comparison.guards] == [GuardReason.BUSY]
    assert comparison.verdict is not GateVerdict.REGRESSION
    assert comparison.busy_runs_left_out == 0
    record = result_record(dataclasses.replace(result, baseline=comparison))
    assert "busy_runs_left_out" not in record


def test_a_stored_companion_round_trips() -> None:
    run = StoredRun.from_json(stored_run(0.1, 0.2, "j"))
    assert run.companion is not None and run.companion.log_value == pytest.approx(0.2)
    assert StoredRun.from_json(run.to_json()) == run


# -- the plugin -----------------------------------------------------------------------------

TEST_FILE = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size=32))
def test_latency(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size=32))
def test_throughput(perf_budget):
    perf_budget.measure_throughput()
"""

QUICK = (
    "--ovperf-warmup=0.02",
    "--ovperf-min-time=0.3",
    "--ovperf-max-time=0.6",
    "--ovperf-max-foreign-load=100%",
    "-p",
    "no:cacheprovider",
)


def run(pytester: pytest.Pytester, *args: str) -> dict[str, dict[str, Any]]:
    report = pytester.path / "ovperf.json"
    report.unlink(missing_ok=True)
    pytester.runpytest_inprocess(*QUICK, f"--ovperf-json={report}", *args)
    return {r["kind"]: r for r in json.loads(report.read_text())["results"]}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(models=EXAMPLE_MODELS.read_text(), test_perf=TEST_FILE)
    return pytester


def test_the_companion_is_recorded_and_judged(project: pytest.Pytester) -> None:
    recorded = run(project, "--ovperf-update-baselines")
    for kind in ("latency", "throughput"):
        assert recorded[kind]["companion"]["threads"] == 1
        assert recorded[kind]["companion"]["p50_ms"] > 0
    stored = json.loads((project.path / "baselines" / "test_perf.json").read_text())
    (by_profile,) = stored["entries"][
        "test_latency[CPU-" + recorded["latency"]["precision"] + "]"
    ].values()
    (run_,) = by_profile["latency"]["history"]
    assert run_["companion"]["blocks"] >= 2

    # the companion is guarded by the speed probe: a run in another machine state than the
    # single recording would leave it unjudged, so that guard is opened here
    compared = run(project, "--ovperf-max-probe-shift=900%")
    for kind in ("latency", "throughput"):
        data = compared[kind]
        assert data["baseline_method"] == "history"
        assert data["companion_verdict"] in (
            "unchanged",
            "inconclusive",
            "regression",
            "improvement",
        )
        assert len(data["companion_ratio_ci"]) == 2
        assert "compute companion (1 inference thread, sync)" in data["baseline_message"]


def test_the_companion_can_be_switched_off(project: pytest.Pytester) -> None:
    run(project, "--ovperf-update-baselines", "--ovperf-companion=off")
    stored = (project.path / "baselines" / "test_perf.json").read_text()
    assert '"companion"' not in stored
    compared = run(project, "--ovperf-companion=off")
    assert compared["latency"]["companion"] is None
    assert "companion_verdict" not in compared["latency"]


def test_a_meta_device_has_no_companion(project: pytest.Pytester) -> None:
    recorded = run(project, "--ovperf-update-baselines", "--ovperf-device=HETERO:CPU")
    assert recorded["latency"]["companion"] is None
    compared = run(project, "--ovperf-device=HETERO:CPU")
    assert "no compute companion on HETERO:CPU" in compared["latency"]["baseline_message"]
