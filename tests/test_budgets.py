"""``ovperf_budget`` validation and the verdicts drawn against budgets (no OpenVINO needed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pytest_ovperf.results import Check, MachineGuard
from pytest_ovperf.verdicts.budgets import (
    Budget,
    BudgetError,
    Verdict,
    applicable_budgets,
    excess_percent,
    judge,
    parse_budget,
    precisions_named,
)
from pytest_ovperf.verdicts.drift import Drift, calibrated_interval
from pytest_ovperf.verdicts.kinds import GuardReason, Metric
from pytest_ovperf.verdicts.stats import Interval


def interval(low: float, high: float) -> Interval:
    return Interval((low + high) / 2 if math.isfinite(low + high) else 0.0, low, high, 0.95, "t")


# -- parse_budget: accepted forms --------------------------------------------------------


def test_keyword_budget() -> None:
    budget = parse_budget((), {"device": "CPU", "precision": "f32", "latency_ms": 5})
    assert budget == Budget(device="CPU", precision="f32", latency_ms=5.0, percentile=50.0)
    assert isinstance(budget.latency_ms, float)
    assert budget.limits() == {Metric.LATENCY: 5.0}


def test_positional_device_and_precision() -> None:
    budget = parse_budget(("CPU", "BF16"), {"latency_ms": 2.5, "percentile": 90})
    assert budget.device == "CPU"
    assert budget.precision == "bf16"
    assert budget.percentile == 90.0
    assert parse_budget(("GPU",), {"throughput_fps": 100}).device == "GPU"


def test_device_and_precision_are_normalised() -> None:
    budget = parse_budget((), {"device": " cpu ", "precision": "F16", "compile_ms": 10})
    assert (budget.device, budget.precision) == ("CPU", "f16")
    hetero = parse_budget(("hetero:gpu,cpu",), {"latency_ms": 1})
    assert hetero.device == "HETERO:GPU,CPU"
    assert parse_budget(("AUTO",), {"latency_ms": 1}).device == "AUTO"


def test_every_limit_and_the_regression_threshold() -> None:
    budget = parse_budget(
        ("CPU",),
        {
            "latency_ms": 1,
            "throughput_fps": 2,
            "first_inference_ms": 3,
            "compile_ms": 4,
            "regression_threshold": 0.1,
        },
    )
    assert budget.precision is None
    assert budget.limits() == {
        Metric.LATENCY: 1.0,
        Metric.THROUGHPUT: 2.0,
        Metric.FIRST_INFERENCE: 3.0,
        Metric.COMPILE: 4.0,
    }
    assert budget.regression_threshold == 0.1
    only_threshold = parse_budget(("CPU",), {"regression_threshold": 0.05})
    assert only_threshold.limits() == {}


def test_percentile_just_inside_the_range() -> None:
    assert parse_budget(("CPU",), {"latency_ms": 1, "percentile": 99.9}).percentile == 99.9
    assert parse_budget(("CPU",), {"latency_ms": 1, "percentile": 0.5}).percentile == 0.5


# -- parse_budget: rejected forms --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ((), {"device": "CPU", "latency": 5}, ["unknown", "latency", "latency_ms"]),
        ((), {"device": "CPU", "latency_ms": 5, "p": 90}, ["unknown argument(s) p;"]),
        ((), {"device": "CPU", "latency_ms": -1}, ["latency_ms=-1", "positive"]),
        ((), {"device": "CPU", "latency_ms": 0}, ["latency_ms=0", "positive"]),
        ((), {"device": "CPU", "throughput_fps": -5.0}, ["throughput_fps", "positive"]),
        ((), {"device": "CPU", "compile_ms": math.inf}, ["compile_ms", "positive"]),
        ((), {"device": "CPU", "first_inference_ms": math.nan}, ["first_inference_ms"]),
        ((), {"device": "CPU", "latency_ms": "5"}, ["latency_ms='5'", "number"]),
        ((), {"device": "CPU", "latency_ms": True}, ["latency_ms=True", "number"]),
        ((), {"device": "CPU", "latency_ms": 1, "percentile": True}, ["percentile=True"]),
        ((), {"device": "CPU", "latency_ms": 1, "percentile": "90"}, ["percentile='90'"]),
        ((), {"device": "CPU", "latency_ms": 1, "percentile": 0}, ["percentile=0", "(0, 100)"]),
        ((), {"device": "CPU", "latency_ms": 1, "percentile": 100}, ["percentile=100"]),
        ((), {"device": "CPU", "latency_ms": 1, "percentile": 150}, ["percentile=150"]),
        ((), {"device": "CPU", "latency_ms": 1, "percentile": -5}, ["percentile=-5"]),
        ((), {"device": "CPU", "regression_threshold": -0.1}, ["regression_threshold"]),
        ((), {"device": "CPU"}, ["sets no limit"]),
        ((), {"latency_ms": 1}, ["needs device"]),
        ((), {"device": "", "latency_ms": 1}, ["needs device"]),
        ((), {"device": 3, "latency_ms": 1}, ["needs device"]),
        (("CPU,GPU",), {"latency_ms": 1}, ["'CPU,GPU'", "2 devices", "one marker per device"]),
        ((), {"device": "CPU, GPU", "latency_ms": 1}, ["2 devices"]),
        (("CPU", "fp99"), {"latency_ms": 1}, ["precision='fp99'", "f32"]),
        (("CPU", "fp32"), {"latency_ms": 1}, ["precision='fp32'"]),
        (("CPU", 16), {"latency_ms": 1}, ["precision=16"]),
        (("CPU", "f32", 5.0), {}, ["at most two positional", "got 3"]),
        (("CPU",), {"device": "GPU", "latency_ms": 1}, ["'device' both by position and by name"]),
        (("CPU", "f32"), {"precision": "bf16", "latency_ms": 1}, ["'precision' both"]),
    ],
)
def test_invalid_budget_is_rejected(
    args: tuple[Any, ...], kwargs: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(BudgetError) as raised:
        parse_budget(args, kwargs)
    message = str(raised.value)
    assert message.startswith("ovperf_budget")
    for word in words:
        assert word in message


def test_budget_error_is_a_value_error() -> None:
    assert issubclass(BudgetError, ValueError)


# -- judge: three verdicts, both directions ----------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "limit", "verdict"),
    [
        (8.0, 9.0, 10.0, Verdict.PASS),  # wholly under the limit
        (8.0, 10.0, 10.0, Verdict.PASS),  # upper bound on the limit still passes
        (11.0, 12.0, 10.0, Verdict.FAIL),  # wholly over
        (9.0, 11.0, 10.0, Verdict.INCONCLUSIVE),  # straddles
        (10.0, 11.0, 10.0, Verdict.INCONCLUSIVE),  # lower bound on the limit
        (-math.inf, math.inf, 10.0, Verdict.INCONCLUSIVE),  # unbounded interval
        (-math.inf, math.inf, 1e-9, Verdict.INCONCLUSIVE),
        (5.0, math.inf, 1.0, Verdict.FAIL),  # lower bound alone is enough to fail
        (-math.inf, 1.0, 5.0, Verdict.PASS),  # upper bound alone is enough to pass
    ],
)
def test_judge_latency_lower_is_better(
    low: float, high: float, limit: float, verdict: Verdict
) -> None:
    for metric in (Metric.LATENCY, Metric.FIRST_INFERENCE, Metric.COMPILE):
        assert judge(interval(low, high), limit, metric) is verdict


@pytest.mark.parametrize(
    ("low", "high", "limit", "verdict"),
    [
        (110.0, 120.0, 100.0, Verdict.PASS),  # wholly above the floor
        (100.0, 120.0, 100.0, Verdict.PASS),  # lower bound on the floor still passes
        (80.0, 90.0, 100.0, Verdict.FAIL),  # wholly below
        (90.0, 110.0, 100.0, Verdict.INCONCLUSIVE),
        (90.0, 100.0, 100.0, Verdict.INCONCLUSIVE),  # upper bound on the floor
        (-math.inf, math.inf, 100.0, Verdict.INCONCLUSIVE),
        (-math.inf, 50.0, 100.0, Verdict.FAIL),
        (150.0, math.inf, 100.0, Verdict.PASS),
    ],
)
def test_judge_throughput_higher_is_better(
    low: float, high: float, limit: float, verdict: Verdict
) -> None:
    assert judge(interval(low, high), limit, Metric.THROUGHPUT) is verdict


def test_point_interval_of_one_off_metrics() -> None:
    point = Interval(12.0, 12.0, 12.0, 1.0, "single observation")
    assert judge(point, 12.0, Metric.COMPILE) is Verdict.PASS
    assert judge(point, 11.9, Metric.COMPILE) is Verdict.FAIL
    assert judge(point, 12.1, Metric.FIRST_INFERENCE) is Verdict.PASS


def test_metric_directions_and_units() -> None:
    assert Metric.THROUGHPUT.higher_is_better
    assert not any(m.higher_is_better for m in (Metric.LATENCY, Metric.COMPILE))
    assert Metric.THROUGHPUT.unit == "fps"
    assert Metric.LATENCY.unit == Metric.FIRST_INFERENCE.unit == Metric.COMPILE.unit == "ms"


# -- excess_percent ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "metric", "expected"),
    [
        (12.0, 10.0, Metric.LATENCY, 20.0),  # 20% over a latency budget: worse
        (8.0, 10.0, Metric.LATENCY, -20.0),  # 20% under: better
        (10.0, 10.0, Metric.LATENCY, 0.0),
        (80.0, 100.0, Metric.THROUGHPUT, 20.0),  # 20% short of a throughput floor: worse
        (150.0, 100.0, Metric.THROUGHPUT, -50.0),  # 50% above: better
        (2.0, 1.0, Metric.COMPILE, 100.0),
    ],
)
def test_excess_percent(value: float, limit: float, metric: Metric, expected: float) -> None:
    assert excess_percent(value, limit, metric) == pytest.approx(expected)


# -- which budgets apply -----------------------------------------------------------------


def test_applies_to() -> None:
    any_precision = Budget("CPU", latency_ms=1.0)
    assert any_precision.applies_to("CPU", "f32")
    assert any_precision.applies_to("CPU", "bf16")
    assert not any_precision.applies_to("GPU", "f32")
    f32_only = Budget("CPU", "f32", latency_ms=1.0)
    assert f32_only.applies_to("CPU", "f32")
    assert not f32_only.applies_to("CPU", "bf16")
    assert not f32_only.applies_to("GPU", "f32")
    hetero = Budget("HETERO:GPU,CPU", latency_ms=1.0)
    assert hetero.applies_to("HETERO:GPU,CPU", "default")
    assert not hetero.applies_to("CPU", "default")


def test_applicable_budgets_keeps_marker_order() -> None:
    budgets = [
        Budget("CPU", "f32", latency_ms=1.0),
        Budget("GPU", "f16", latency_ms=2.0),
        Budget("CPU", None, throughput_fps=3.0),
        Budget("CPU", "bf16", latency_ms=4.0),
    ]
    assert applicable_budgets(budgets, "CPU", "f32") == [budgets[0], budgets[2]]
    assert applicable_budgets(budgets, "CPU", "bf16") == [budgets[2], budgets[3]]
    assert applicable_budgets(budgets, "GPU", "f16") == [budgets[1]]
    assert applicable_budgets(budgets, "NPU", "f16") == []


def test_precisions_named() -> None:
    budgets = [
        Budget("CPU", "bf16", latency_ms=1.0),
        Budget("GPU", "f16", latency_ms=1.0),
        Budget("CPU", None, latency_ms=1.0),
        Budget("CPU", "f32", latency_ms=1.0),
        Budget("CPU", "bf16", throughput_fps=1.0),
    ]
    assert precisions_named(budgets, "CPU") == ["bf16", "f32"]  # marker order, no repeats
    assert precisions_named(budgets, "GPU") == ["f16"]
    assert precisions_named(budgets, "NPU") == []
    assert precisions_named([Budget("CPU", latency_ms=1.0)], "CPU") == []


# -- calibrated intervals ------------------------------------------------------------------

PRIOR = Drift(0.03, 4.0, "prior")


def test_a_calibrated_interval_adds_drift_to_the_runs_own() -> None:
    run = Interval(10.0, 9.9, 10.1, 0.95, "order-statistics")
    calibrated = calibrated_interval(run, [10.0] * 20, PRIOR, 0.95)
    assert calibrated.estimate == 10.0
    assert calibrated.low < run.low and calibrated.high > run.high
    assert "3.0% run-to-run drift (prior)" in calibrated.method
    # no drift and steady blocks: the run's own interval (on the log scale) comes back
    steady = calibrated_interval(run, [10.0] * 20, Drift(0.0, 1e9, "none"), 0.95)
    assert steady.low == pytest.approx(run.low, rel=1e-3)
    assert steady.high == pytest.approx(run.high, rel=1e-3)


def test_blocks_that_wander_widen_a_narrow_per_inference_interval() -> None:
    # thousands of inferences make a tight order-statistics interval, but the blocks show
    # that neighbouring inferences moved together: the blocks are the unit
    run = Interval(10.0, 9.99, 10.01, 0.95, "order-statistics")
    wandering = [10.0 * math.exp(0.05 * (-1) ** i) for i in range(10)]
    no_drift = Drift(0.0, 1e9, "none")
    assert calibrated_interval(run, wandering, no_drift, 0.95).high > 10.2


def test_a_model_at_its_budget_fails_at_most_the_stated_rate_under_drift() -> None:
    # synthetic runs of a model whose long-run p90 equals its budget: each run strays by
    # 8% drift, its blocks by 3%; the run's own interval knows nothing of the drift
    rng = np.random.default_rng(1)
    budget, drift, runs = 10.0, 0.08, 4000
    naive = calibrated_fails = 0
    for _ in range(runs):
        level = budget * math.exp(rng.normal(0.0, drift))
        blocks = level * np.exp(rng.normal(0.0, 0.03, size=20))
        estimate = float(np.median(blocks))
        run = Interval(estimate, estimate * 0.995, estimate * 1.005, 0.95, "order-statistics")
        naive += judge(run, budget, Metric.LATENCY) is Verdict.FAIL
        calibrated = calibrated_interval(run, blocks, Drift(drift, 1e9, "known"), 0.95)
        calibrated_fails += judge(calibrated, budget, Metric.LATENCY) is Verdict.FAIL
    assert naive / runs > 0.4  # the per-run interval fails about half the time
    assert calibrated_fails / runs <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / runs)


def test_a_failure_on_a_guarded_machine_is_only_inconclusive() -> None:
    far_over = Interval(20.0, 19.0, 21.0, 0.95, "t")
    busy = MachineGuard(GuardReason.BUSY, 0.4, None, 0.15)
    assert Check.judged(Metric.LATENCY, "p50", far_over, 10.0, 100).verdict is Verdict.FAIL
    guarded = Check.judged(Metric.LATENCY, "p50", far_over, 10.0, 100, busy)
    assert guarded.verdict is Verdict.INCONCLUSIVE
    within = Interval(5.0, 4.0, 6.0, 0.95, "t")
    assert Check.judged(Metric.LATENCY, "p50", within, 10.0, 100, busy).verdict is Verdict.PASS
