"""The judging steps a result goes through after it was measured, as functions of typed
results: machine guards, calibrated budget checks, speedup checks and one-off checks.
``perf_budget.py`` calls them in order; the statistics are ``verdicts``'."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .kinds import kind_of
from .results import BaselineComparison, Check, MachineGuard, PerfResult
from .verdicts.budgets import Budget
from .verdicts.drift import Drift, calibrated_interval
from .verdicts.guards import busy_guard
from .verdicts.kinds import GateMethod, GateVerdict, GuardReason, Metric
from .verdicts.limits import MAX_IDLE_SIDE_CPU, PAIRED_TEST
from .verdicts.stats import Interval


def busy_guarded(
    result: PerfResult, comparison: BaselineComparison, max_foreign_load: float
) -> BaselineComparison:
    """A paired comparison measured while other processes used the CPU is inconclusive:
    interleaving cancels drift, not contention, which can hit two multi-threaded models
    unequally (identical models read 3x apart on a 2-vCPU machine while another process
    ran)."""
    guard = busy_guard(result.foreign_load, max_foreign_load)
    if guard is None:
        return comparison
    comparison.guards.append(guard)
    comparison.verdict = GateVerdict.INCONCLUSIVE
    return comparison


def idle_side_guarded(comparison: BaselineComparison, share: float) -> BaselineComparison:
    """A comparison with another runtime's worker where the idle side used more than
    ``MAX_IDLE_SIDE_CPU`` of the measuring side's CPU is inconclusive: two processes do not
    share OpenVINO's thread pool, and threads spinning after an inference take cores from
    the other side's measurement."""
    comparison.idle_side_cpu = share
    if share > MAX_IDLE_SIDE_CPU:
        comparison.guards.append(
            MachineGuard(GuardReason.IDLE_SIDE_CPU, share, None, MAX_IDLE_SIDE_CPU)
        )
        comparison.verdict = GateVerdict.INCONCLUSIVE
    return comparison


def budget_guard(
    result: PerfResult,
    fastest_probe: float | None,
    max_foreign_load: float,
    max_probe_shift: float,
) -> MachineGuard | None:
    """Why this run cannot fail a budget, if it cannot: other processes used the CPU, or
    the speed probe says the machine was slower than in its fastest stored state (contended,
    or placed on slower cores) by more than ``max_probe_shift``."""
    busy = busy_guard(result.foreign_load, max_foreign_load)
    if busy is not None:
        return busy
    probe = result.probe_value
    if probe is not None and fastest_probe and probe > fastest_probe * (1.0 + max_probe_shift):
        return MachineGuard(GuardReason.SLOW_STATE, probe, fastest_probe, max_probe_shift)
    return None


def calibrate_checks(
    result: PerfResult, drift: Drift, guard: MachineGuard | None, confidence: float
) -> None:
    """Judge the budget of a statistical kind's headline figure on its calibrated interval
    (within-run blocks and run-to-run drift, ``calibrated_interval``); under ``guard`` none
    fails."""
    kind = kind_of(result.kind)
    for index, check in enumerate(result.checks):
        if not kind.statistical or check.metric not in kind.budget_metrics:
            continue
        interval = calibrated_interval(check.interval, result.blocks, drift, confidence)
        calibrated = Check.judged(
            check.metric, check.statistic, interval, check.limit, check.sample_size, guard
        )
        calibrated.run_interval = check.interval
        result.checks[index] = calibrated


def reference_checks(result: PerfResult, budgets: Sequence[Budget]) -> None:
    """``min_speedup`` / ``max_slowdown``: judged on the interval of the paired ratio to the
    interleaved reference (the same interval as the reference comparison's). Where one
    applies it is the only judgement against the reference: the comparison becomes
    ``by-budget`` (its ratio and interval still reported), so a model inside its stated
    slowdown is never failed by the regression threshold as well."""
    comparison = result.baseline
    if comparison is None or comparison.method is not GateMethod.REFERENCE:
        return
    if comparison.memory is not None:
        _memory_reference_checks(result, comparison, budgets)
        return
    outcome = comparison.outcome
    assert outcome is not None
    # slowdown: log of model cost / reference cost, positive = slower, for either kind
    slowdown, (low, high) = outcome.slowdown, outcome.ci
    evidence = kind_of(result.kind).unit_of_evidence
    method = (
        f"{PAIRED_TEST} over {outcome.current_blocks} interleaved {evidence} pairs with the "
        "reference"
    )
    intervals = {
        Metric.SPEEDUP: Interval(
            math.exp(-slowdown), math.exp(-high), math.exp(-low), outcome.confidence, method
        ),
        Metric.SLOWDOWN: Interval(
            math.exp(slowdown), math.exp(low), math.exp(high), outcome.confidence, method
        ),
    }
    guard = comparison.guards[0] if comparison.guards else None
    for budget in budgets:
        for metric, limit in budget.limits().items():
            if metric in intervals:
                result.checks.append(
                    Check.judged(
                        metric,
                        metric.value,
                        intervals[metric],
                        limit,
                        outcome.current_blocks,
                        guard,
                    )
                )
                comparison.verdict = GateVerdict.BY_BUDGET


def _memory_reference_checks(
    result: PerfResult, comparison: BaselineComparison, budgets: Sequence[Budget]
) -> None:
    """Speedup budgets on memory: the ratio of the two medians, held against the budget as
    it is (memory has no interval, ``verdicts/memory.py``)."""
    judgement = comparison.memory
    assert judgement is not None
    method = f"ratio of the medians of {result.n} readings each, with the reference"
    points = {Metric.SPEEDUP: 1.0 / judgement.ratio, Metric.SLOWDOWN: judgement.ratio}
    if point_checks(result, budgets, points, method, result.n):
        comparison.verdict = GateVerdict.BY_BUDGET


def one_off_checks(
    result: PerfResult, budgets: Sequence[Budget], compile_ms: float, first_inference_ms: float
) -> None:
    """``compile_ms`` / ``first_inference_ms``: single observations, judged as they are."""
    one_off = {Metric.FIRST_INFERENCE: first_inference_ms, Metric.COMPILE: compile_ms}
    point_checks(result, budgets, one_off, "single observation", 1, first_only=True)


def point_checks(
    result: PerfResult,
    budgets: Sequence[Budget],
    figures: Mapping[Metric, float | None],
    method: str,
    sample_size: int,
    first_only: bool = False,
) -> bool:
    """Check the figures that have no interval (one-off costs, memory, a ratio of medians)
    against the budgets' limits as they are; a metric whose figure is ``None`` is left out,
    and with ``first_only`` a metric already checked is not checked again. Whether any
    check was added."""
    added = False
    for budget in budgets:
        for metric, limit in budget.limits().items():
            value = figures.get(metric)
            if value is None or (first_only and any(c.metric is metric for c in result.checks)):
                continue
            point = Interval(value, value, value, 1.0, method)
            result.checks.append(Check.judged(metric, metric.value, point, limit, sample_size))
            added = True
    return added
