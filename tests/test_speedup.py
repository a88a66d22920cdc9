"""Speedup budgets against an interleaved reference, and references compiled with another
config (``reference_config``)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import busy_machine
from conftest import run_json as run_report

from pytest_ovperf.verdicts.budgets import BudgetError, parse_budget
from pytest_ovperf.verdicts.kinds import Metric

# ratios judged near their speedup limits: not beside another worker's heavy measurement
pytestmark = pytest.mark.usefixtures("cpu_alone")

# a model several times cheaper than its reference: the same net on an image a quarter the
# size, against twelve extra blocks; every verdict below holds on a noisy machine
SPEEDUP_TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(
    source=lambda: mobilenet_like(size=32),
    reference=lambda: mobilenet_like(size=64, extra_blocks=12),
)
@pytest.mark.ovperf_budget("CPU", {budget})
def test_speedup(perf_budget):
    perf_budget.measure_{kind}()
"""


def run_json(
    pytester: pytest.Pytester, *args: str
) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    return run_report(pytester, "--ovperf-min-time=0.5", "--ovperf-max-time=2", *args)


def speedup_check(data: dict[str, Any]) -> dict[str, Any]:
    (check,) = [c for c in data["checks"] if c["metric"] in ("min_speedup", "max_slowdown")]
    return check


@pytest.mark.parametrize("kind", ["latency", "throughput"])
def test_a_speedup_reached_passes_and_one_missed_fails(
    ovtester: pytest.Pytester, kind: str
) -> None:
    ovtester.makepyfile(test_run_speedup=SPEEDUP_TEST.format(budget="min_speedup=1.5", kind=kind))
    result, (data,) = run_json(ovtester)
    result.assert_outcomes(passed=1)
    check = speedup_check(data)
    assert check["verdict"] == "pass"
    assert check["ci"][0] >= 1.5 and check["value"] > 1.5

    ovtester.makepyfile(test_run_speedup=SPEEDUP_TEST.format(budget="min_speedup=500", kind=kind))
    result, (data,) = run_json(ovtester)
    result.assert_outcomes(failed=1)
    assert speedup_check(data)["verdict"] == "fail"
    out = result.stdout.str()
    assert "ovperf budget FAILED" in out
    assert "min_speedup = " in out and "budget >= 500 x: short of budget by" in out
    assert "interleaved block pairs with the reference" in out


def test_a_max_slowdown_holds_when_the_model_is_faster(ovtester: pytest.Pytester) -> None:
    budget = 'max_slowdown="10%"'
    ovtester.makepyfile(test_run_speedup=SPEEDUP_TEST.format(budget=budget, kind="latency"))
    result, (data,) = run_json(ovtester)
    result.assert_outcomes(passed=1)
    check = speedup_check(data)
    assert check["limit"] == pytest.approx(1.10)
    assert check["verdict"] == "pass" and check["ci"][1] < 1.0


# The same layers, one more of them: compute-bound matmuls (batch 256) whose weights stay in
# cache, so the cost grows with the layer count on any CPU and at any precision: 11 layers
# against 10 measured 1.10-1.11x (bf16, f32, one thread), 5 against 4 1.22-1.24x. One
# inference thread each: two-thread block pairs on a shared 2-vCPU machine (and beside this
# test run's own work) read 1.00-1.39 for the 1.10 pair, one thread within a few percent.
# Batch 256, not 64: bf16 on AMX ran the batch-64 pair in 0.035-0.042 ms, where the fixed
# cost of an inference call narrows the ratio and its jitter widens the interval (a CI run
# read 1.12 [1.005, 1.255] against a 1.10 budget); at 256 it takes 0.09-0.11 ms there, and
# 0.76-0.94 ms at f32
SLOWDOWN_TEST = """
import pytest
from models import mlp

@pytest.mark.ovperf_model(
    source=lambda: mlp(256, 256, depth={depth}, batch=256),
    reference=lambda: mlp(256, 256, depth={reference_depth}, batch=256),
    config={{"INFERENCE_NUM_THREADS": 1}},
)
@pytest.mark.ovperf_budget("CPU", max_slowdown="{slowdown}")
def test_slower(perf_budget):
    perf_budget.measure_{kind}()
"""


@pytest.mark.parametrize("kind", ["latency", "throughput"])
def test_a_model_within_its_max_slowdown_passes_whatever_the_regression_threshold(
    ovtester: pytest.Pytester, kind: str
) -> None:
    # "a new feature costs at most 35%": a model 10% slower than its reference passes; the
    # session's 5% regression threshold does not judge the same ratio a second time. The
    # margin to the budget is wide: beside other work (another xdist worker, a bench) a run
    # read 1.11 [1.11, 1.24], and the test is about which judgement applies, not precision
    ovtester.makepyfile(
        test_slower=SLOWDOWN_TEST.format(depth=11, reference_depth=10, slowdown="35%", kind=kind)
    )
    result, (data,) = run_json(ovtester, "--ovperf-regression-threshold=5%", "--ovperf-max-time=3")
    result.assert_outcomes(passed=1)
    check = speedup_check(data)
    assert check["verdict"] == "pass" and check["ci"][1] < 1.35, check
    assert data["baseline_verdict"] == "by-budget"
    slowdown = data["ratio"] if kind == "latency" else 1 / data["ratio"]
    assert slowdown > 1.0  # the ratio is reported, not judged
    assert "judged by the test's speedup budget" in data["baseline_message"]
    assert "REGRESSION" not in result.stdout.str()


def test_a_model_beyond_its_max_slowdown_fails_on_the_budget_alone(
    ovtester: pytest.Pytester,
) -> None:
    ovtester.makepyfile(
        test_slower=SLOWDOWN_TEST.format(depth=5, reference_depth=4, slowdown="10%", kind="latency")
    )
    # one measurement: the test is about which judgement fails it (confirmation has tests of
    # its own); beside other work a re-measure read [0.89, 1.49] and did not confirm
    result, (data,) = run_json(ovtester, "--ovperf-max-time=3", "--ovperf-confirm=off")
    result.assert_outcomes(failed=1)
    check = speedup_check(data)
    assert check["verdict"] == "fail" and check["ci"][0] > 1.1, check
    assert data["baseline_verdict"] == "by-budget"
    out = result.stdout.str()
    assert "ovperf budget FAILED" in out and "budget <= 1.1 x: over budget by" in out
    assert "REGRESSION against the interleaved reference" not in out
    # the failure says where the time went, against the reference's profile
    assert "where the time went" in out


def test_a_speedup_at_the_budget_is_inconclusive(ovtester: pytest.Pytester) -> None:
    # the model against itself, with a budget of exactly 1x: the interval straddles it.
    # One thread each: with two, the other xdist worker of this test run can slow one of
    # two identical models threefold (the busy guard, off here, protects users from that)
    ovtester.makepyfile(
        test_same="""
import pytest
from models import mlp

ONE_THREAD = {"INFERENCE_NUM_THREADS": 1}

@pytest.mark.ovperf_model(
    source=lambda: mlp(), reference=lambda: mlp(), config=ONE_THREAD
)
@pytest.mark.ovperf_budget("CPU", min_speedup=1.0)
def test_same(perf_budget):
    perf_budget.measure_latency()
"""
    )
    # A few block pairs at 99.9999%: the interval is far wider than any offset contention
    # from this test run's other worker can cause between the two (it can: identical
    # models have read several percent apart under load), so it straddles 1x every time.
    result, (data,) = run_json(
        ovtester,
        "--ovperf-confidence=0.999999",
        "--ovperf-min-time=0.1",
        "--ovperf-max-time=0.3",
        "--ovperf-inconclusive=fail",
    )
    result.assert_outcomes(failed=1)
    assert speedup_check(data)["verdict"] == "inconclusive"
    assert "ovperf budget INCONCLUSIVE" in result.stdout.str()


def test_a_speedup_budget_without_a_reference_is_a_setup_error(
    ovtester: pytest.Pytester,
) -> None:
    ovtester.makepyfile(
        test_alone="""
import pytest
from models import mlp

@pytest.mark.ovperf_model(source=lambda: mlp())
@pytest.mark.ovperf_budget("CPU", min_speedup=2)
def test_alone(perf_budget):
    perf_budget.measure_latency()
"""
    )
    result, _ = run_json(ovtester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ovperf_budget min_speedup compares with a reference*"])


def test_max_slowdown_is_a_fraction() -> None:
    assert parse_budget(("CPU",), {"max_slowdown": "10%"}).limits() == {
        Metric.SLOWDOWN: pytest.approx(1.10)
    }
    with pytest.raises(BudgetError, match="max_slowdown=10 looks like a percent"):
        parse_budget(("CPU",), {"max_slowdown": 10})


# -- reference_config -----------------------------------------------------------------------

CONFIG_TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(
    source=lambda: mobilenet_like(size=96),
    reference_config={reference_config!r},
)
@pytest.mark.ovperf_budget("CPU", "f32", min_speedup=0.01)
def test_config(perf_budget):
    perf_budget.measure_{kind}()
"""


def test_a_reference_config_compiles_the_same_model_with_another_hint(
    ovtester: pytest.Pytester,
) -> None:
    # "THROUGHPUT hint gives >= x the fps of LATENCY": the reference is this model with the
    # LATENCY hint, measured interleaved
    config = {"PERFORMANCE_HINT": "LATENCY"}
    ovtester.makepyfile(test_config=CONFIG_TEST.format(reference_config=config, kind="throughput"))
    result, (data,) = run_json(ovtester)
    result.assert_outcomes(passed=1)
    assert data["baseline_method"] == "reference"
    assert "with config {'PERFORMANCE_HINT': 'LATENCY'}" in data["baseline_message"]
    # which hint gives more fps depends on the machine: the budget (0.01x) holds either way,
    # and the ratio is not judged against the regression threshold as well
    assert speedup_check(data)["verdict"] == "pass"
    assert data["baseline_verdict"] == "by-budget"


def test_a_reference_config_with_a_precision_this_cpu_runs(
    ovtester: pytest.Pytester, runnable_lower_precision: str
) -> None:
    config = {"INFERENCE_PRECISION_HINT": runnable_lower_precision}
    ovtester.makepyfile(test_config=CONFIG_TEST.format(reference_config=config, kind="latency"))
    result, (data,) = run_json(ovtester)
    # the lower precision is 1.5x faster on a CPU with native bf16 and slower on some
    # without: the budget (0.01x) holds either way, and only the budget judges the ratio
    result.assert_outcomes(passed=1)
    assert f"'INFERENCE_PRECISION_HINT': '{runnable_lower_precision}'" in data["baseline_message"]
    assert speedup_check(data)["verdict"] == "pass"
    assert data["baseline_verdict"] == "by-budget"


def test_a_reference_config_with_a_precision_the_cpu_cannot_run_skips(
    ovtester: pytest.Pytester, unsupported_precision: str | None
) -> None:
    if unsupported_precision is None:
        pytest.skip("this CPU runs bf16 and f16: no precision to be unsupported")
    config = {"INFERENCE_PRECISION_HINT": unsupported_precision}
    ovtester.makepyfile(test_config=CONFIG_TEST.format(reference_config=config, kind="latency"))
    result, _ = run_json(ovtester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [f"*reference_config asks for {unsupported_precision}: CPU * cannot run *"]
    )


def test_a_bad_reference_config_is_a_setup_error(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(test_config=CONFIG_TEST.format(reference_config="LATENCY", kind="latency"))
    result, _ = run_json(ovtester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*reference_config must be a dict of properties*"])


def test_a_paired_comparison_on_a_busy_machine_is_inconclusive(
    ovtester: pytest.Pytester,
) -> None:
    # interleaving cancels drift, not contention: with a process spinning on every CPU the
    # reference comparison and the speedup budget (here far missed) are not judged
    ovtester.makepyfile(
        test_run_speedup=SPEEDUP_TEST.format(budget="min_speedup=500", kind="latency")
    )
    with busy_machine():
        result, (data,) = run_json(ovtester, "--ovperf-max-foreign-load=1%")
    result.assert_outcomes(passed=1)  # inconclusive warns by default
    assert data["baseline_verdict"] == "by-budget"
    check = speedup_check(data)
    assert check["verdict"] == "inconclusive" and check["guard"] == "busy"
    assert "machine busy" in data["baseline_message"]
    assert "ovperf budget INCONCLUSIVE" in result.stdout.str()
