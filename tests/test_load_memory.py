"""Load time and memory end to end: budgets, baselines, comparisons with a reference or the
baseline's own model, reports. Real OpenVINO, pytester runs; no assertion on a timing value
(load budgets are absurdly generous or impossible; memory comparisons are of models whose
weights differ by far more than the thresholds)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, example_result

from pytest_ovperf.cli import compare_reports, read_report
from pytest_ovperf.kinds import KINDS, LOAD, MEMORY, RESERVED_FIELDS, kind_of, unregister_kind
from pytest_ovperf.measure.settings import MeasureSettings
from pytest_ovperf.measure.startup import MIN_OBSERVATIONS, measure_repeated
from pytest_ovperf.records import junit_properties, result_record
from pytest_ovperf.verdicts.kinds import GateVerdict, Metric
from pytest_ovperf.verdicts.memory import judge_memory
from pytest_ovperf.verdicts.stats import log_mean_interval

# -- pure logic ----------------------------------------------------------------------------


def test_every_kind_is_looked_up_by_its_name() -> None:
    for name, kind in KINDS.items():
        assert kind_of(name) is kind
        assert kind.headline_value({kind.headline_field: 3.0}) == 3.0
    assert kind_of("throughput").slowdown(0.5) == 2.0
    assert kind_of("latency").slowdown(2.0) == 2.0
    with pytest.raises(KeyError, match=r"unknown measurement kind 'tokens'.*latency"):
        kind_of("tokens")


def test_the_reserved_record_fields_are_those_every_record_has() -> None:
    # a plugin kind's headline field may not overwrite a field its own record also has
    record = result_record(example_result([1.0, 1.1, 1.2]))
    latency_only = {"p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "percentile"}
    assert set(record) - latency_only - {"latency_quantiles_ms"} <= RESERVED_FIELDS


@pytest.mark.parametrize(
    ("current", "baseline", "verdict"),
    [
        (120.0, 100.0, GateVerdict.REGRESSION),  # +20 MiB: beyond 10% and 16 MiB
        (114.0, 100.0, GateVerdict.UNCHANGED),  # +14%, but under the 16 MiB floor
        (1015.0, 1000.0, GateVerdict.UNCHANGED),  # +15 MiB on 1000: under 10%
        (1150.0, 1000.0, GateVerdict.REGRESSION),
        (60.0, 100.0, GateVerdict.IMPROVEMENT),
    ],
)
def test_memory_is_judged_by_a_fraction_and_a_floor_together(
    current: float, baseline: float, verdict: GateVerdict
) -> None:
    judgement = judge_memory(current, baseline, 0.10, 16.0)
    assert judgement.verdict is verdict
    assert judgement.delta_mb == pytest.approx(current - baseline)


def test_log_mean_interval_is_the_geometric_mean_with_a_t_interval() -> None:
    interval = log_mean_interval([10.0, 20.0, 40.0], 0.95, "loads")
    assert interval.estimate == pytest.approx(20.0)
    assert interval.low < 20.0 < interval.high
    assert interval.low * interval.high == pytest.approx(400.0)  # symmetric on logs


def test_loads_alternate_abba_with_the_partner_and_stop_by_the_time_cap() -> None:
    order: list[str] = []

    def runner(name: str, ms: float) -> Any:
        def load() -> float:
            order.append(name)
            return ms

        return load

    settings = MeasureSettings(min_time_s=0.001, max_time_s=5.0, target_precision=0.01)
    samples = measure_repeated(runner("model", 10.0), settings, runner("reference", 20.0))
    assert order[:2] == ["model", "reference"]  # the warm-ups, not counted
    assert order[2:6] == ["model", "reference", "reference", "model"]
    assert len(samples.values) == len(samples.partner_values) >= MIN_OBSERVATIONS
    assert samples.log_ratios[0] == pytest.approx(-0.6931, abs=1e-3)


# -- end to end ------------------------------------------------------------------------------

MODELS = """
import pytest
from models import mlp

def small():
    return mlp(features=256, hidden=1024, depth=2)

def big():
    return mlp(features=256, hidden=4096, depth=2)
"""

#: enough loads for an interval, quickly
LOAD_TIME = ("--ovperf-min-time=0.05", "--ovperf-max-time=1.0")


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    report = pytester.path / "ovperf-report.json"
    report.unlink(missing_ok=True)
    outcome = pytester.runpytest(*FAST, *LOAD_TIME, f"--ovperf-json={report}", *args)
    results = json.loads(report.read_text())["results"] if report.exists() else []
    return outcome, results


def write_tests(pytester: pytest.Pytester, body: str) -> Path:
    path = pytester.path / "test_costs.py"
    path.write_text(MODELS + textwrap.dedent(body))
    for cache in pytester.path.rglob("__pycache__"):
        for compiled in cache.iterdir():
            compiled.unlink()
    return path


def test_load_and_memory_budgets_pass_and_fail_with_their_figures(
    ovtester: pytest.Pytester,
) -> None:
    ovtester.makeini("[pytest]\npythonpath = .\n")
    write_tests(
        ovtester,
        """
        @pytest.mark.ovperf_model(source=small)
        @pytest.mark.ovperf_budget("CPU", load_ms=100000)
        def test_loads_fast(perf_budget):
            result = perf_budget.measure_load()
            assert result.n >= 5 and result.loads_ms

        @pytest.mark.ovperf_model(source=small)
        @pytest.mark.ovperf_budget("CPU", load_ms=0.001)
        def test_loads_slow(perf_budget):
            perf_budget.measure_load()

        @pytest.mark.ovperf_model(source=small)
        @pytest.mark.ovperf_budget("CPU", memory_mb=100000)
        def test_small_memory(perf_budget):
            result = perf_budget.measure_memory()
            assert result.memory_mb > 0 and result.n == 3

        @pytest.mark.ovperf_model(source=small)
        @pytest.mark.ovperf_budget("CPU", memory_mb=0.001)
        def test_too_much_memory(perf_budget):
            perf_budget.measure_memory()
        """,
    )
    outcome, results = run(ovtester, "--ovperf-confirm=off")
    outcome.assert_outcomes(passed=2, failed=2)
    by_test = {r["nodeid"].split("::")[-1].split("[")[0]: r for r in results}
    load = by_test["test_loads_fast"]
    assert load["kind"] == LOAD.name and load["load_ms"] > 0 and load["ci"][0] < load["ci"][1]
    assert load["checks"][0]["metric"] == Metric.LOAD.value
    memory = by_test["test_small_memory"]
    assert memory["kind"] == MEMORY.name and memory["memory_mb"] > 0
    assert memory["memory_mode"] == "a fresh process per reading"
    assert {"anon_mb", "file_mb", "compile_peak_mb", "memory_spread_mb"} <= set(memory)
    text = outcome.stdout.str()
    assert "load_ms" in text and "memory_mb" in text
    assert "ovperf budget FAILED" in text and "MiB" in text


def test_memory_of_a_changed_model_is_judged_against_the_baselines_own_model(
    ovtester: pytest.Pytester,
) -> None:
    """Recorded with the small model; the test then points at a model with four times the
    weights: A/B against the baseline's own copy, read in this run, says regression."""
    ovtester.makeini("[pytest]\npythonpath = .\n")
    body = """
        @pytest.mark.ovperf_model(source={model})
        def test_memory(perf_budget):
            perf_budget.measure_memory()

        @pytest.mark.ovperf_model(source={model})
        def test_load(perf_budget):
            perf_budget.measure_load()
        """
    write_tests(ovtester, body.format(model="small"))
    outcome, results = run(ovtester, "--ovperf-update-baselines")
    assert outcome.ret == 0, outcome.stdout.str()
    assert {r["baseline_verdict"] for r in results} == {"updated"}
    stored = json.loads((ovtester.path / "baselines" / "test_costs.json").read_text())
    kinds = {kind for entry in stored["entries"].values() for p in entry.values() for kind in p}
    assert kinds == {"memory", "load"}

    outcome, results = run(ovtester, "--ovperf-memory-mode=session")
    by_kind = {r["kind"]: r for r in results}
    assert by_kind["memory"]["baseline_method"] == "history"
    assert by_kind["memory"]["baseline_verdict"] == "unchanged", by_kind["memory"]
    assert by_kind["load"]["baseline_method"] == "history"

    write_tests(ovtester, body.format(model="big"))
    outcome, results = run(ovtester, "--ovperf-confirm=off", "-k", "memory")
    memory = results[0]
    assert memory["baseline_method"] == "ab"
    assert memory["baseline_verdict"] == "regression"
    assert memory["ratio"] > 1.5
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(["*REGRESSION against the baseline*memory*"])
    assert "a change counts beyond both 10% and 16 MiB" in outcome.stdout.str()


def test_model_cache_speedup_on_load_time(ovtester: pytest.Pytester) -> None:
    """``CACHE_DIR`` against the same model without it: the loads alternate and the speedup
    budget judges their paired ratio (a generous one: the cache pays on any machine)."""
    ovtester.makeini("[pytest]\npythonpath = .\n")
    write_tests(
        ovtester,
        """
        @pytest.mark.ovperf_model(
            source=big, config={"CACHE_DIR": "model-cache"}, reference_config={}
        )
        @pytest.mark.ovperf_budget("CPU", min_speedup=1.01)
        def test_cache_pays(perf_budget):
            perf_budget.measure_load()
        """,
    )
    outcome, results = run(ovtester)
    assert outcome.ret == 0, outcome.stdout.str()
    (result,) = results
    assert result["baseline_method"] == "reference"
    assert result["baseline_verdict"] == "by-budget"
    assert result["checks"][0]["metric"] == "min_speedup"
    assert (ovtester.path / "model-cache").is_dir()


PLUGIN_KIND_CONFTEST = """
from pytest_ovperf.kinds import MeasurementKind

KIND = MeasurementKind(
    name="{name}", unit="ms", higher_is_better=False, headline_field="{name}_ms",
    headline="geomean", metric=None, hint="LATENCY", interleaved=False, confirmable=True,
    statistical=True, unit_of_evidence="call",
)

def pytest_ovperf_kinds():
    return [KIND]
"""


def test_a_plugin_adds_a_kind_that_is_recorded_compared_and_reported(
    ovtester: pytest.Pytester,
) -> None:
    ovtester.makeini("[pytest]\npythonpath = .\n")
    ovtester.makeconftest(PLUGIN_KIND_CONFTEST.format(name="postprocess"))
    write_tests(
        ovtester,
        """
        import time

        @pytest.mark.ovperf_model(source=small)
        def test_postprocess(perf_budget):
            def observe():
                started = time.perf_counter()
                sum(range(20000))
                return (time.perf_counter() - started) * 1e3

            result = perf_budget.measure_observations("postprocess", observe)
            assert result.n >= 5

        @pytest.mark.ovperf_model(source=small)
        def test_not_for_built_in_kinds(perf_budget):
            perf_budget.measure_observations("latency", lambda: 1.0)
        """,
    )
    outcome, results = run(ovtester, "--ovperf-update-baselines")
    outcome.assert_outcomes(passed=1, failed=1)
    assert "measure latency with measure_latency()" in outcome.stdout.str()
    (recorded,) = results
    assert recorded["kind"] == "postprocess" and recorded["postprocess_ms"] > 0
    assert recorded["baseline_verdict"] == "updated"
    outcome, results = run(ovtester, "-k", "postprocess")
    (compared,) = results
    assert compared["baseline_method"] == "history"
    assert compared["baseline_verdict"] in {"unchanged", "nothing-changed", "inconclusive"}
    # the record says what its kind is: the ovperf command reads it without the plugin
    report = ovtester.path / "ovperf-report.json"
    unregister_kind("postprocess")
    rows, _ = compare_reports(read_report(report), read_report(report), 0.05, 0.02)
    assert [row[2] for row in rows] == ["postprocess"]
    assert "ovperf_postprocess_postprocess_ms" in dict(junit_properties([compared]))


def test_memory_against_a_reference_config_is_judged_by_its_speedup_budget(
    ovtester: pytest.Pytester,
) -> None:
    ovtester.makeini("[pytest]\npythonpath = .\n")
    write_tests(
        ovtester,
        """
        @pytest.mark.ovperf_model(source=small, reference_config={})
        @pytest.mark.ovperf_budget("CPU", max_slowdown="50%")
        def test_memory_as_its_reference(perf_budget):
            perf_budget.measure_memory()
        """,
    )
    outcome, results = run(ovtester)
    assert outcome.ret == 0, outcome.stdout.str()
    (result,) = results
    assert result["baseline_method"] == "reference"
    assert result["baseline_verdict"] == "by-budget"
    assert result["checks"][-1]["metric"] == "max_slowdown"


def test_a_plugin_kind_may_not_take_a_built_in_name(ovtester: pytest.Pytester) -> None:
    ovtester.makeconftest(PLUGIN_KIND_CONFTEST.format(name="latency"))
    outcome = ovtester.runpytest()
    outcome.stderr.fnmatch_lines(["*measurement kind 'latency' is already a built-in kind*"])
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
