"""Failure messages and progress lines: every sentence a user reads about one result (the
terminal, pytest's failure report, ``baseline_message`` in the JSON report)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

from .kinds import kind_of
from .measure.engine import Progress
from .results import (
    BaselineComparison,
    Check,
    MachineGuard,
    MemoryResult,
    PerfResult,
    ThroughputResult,
)
from .runtime.companion import COMPANION_DEVICE
from .runtime.profile import LayerChange
from .verdicts.budgets import excess_percent
from .verdicts.companion import Figure
from .verdicts.comparison import GateResult, SettleProjection
from .verdicts.kinds import GateMethod, GateVerdict, GuardReason, Verdict
from .verdicts.limits import (
    ASYNC_STALL_FRACTION,
    BATCH_WAIT_SHARE,
    PAIRED_SETTLE_MAX_S,
    PAIRED_TEST,
    PRECISION_FALLBACK_SHARE,
    SETTLE_POWER,
)

#: foreign CPU load from which a budget message mentions it (budgets are not guarded by it)
LOAD_NOTE_FROM = 0.05


def fmt(value: float | None) -> str:
    """Four significant digits, never in exponent notation (reads well in tables)."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}" if abs(value) >= 1e-3 else f"{value:.2e}"


# -- budgets ---------------------------------------------------------------------------


def describe_check(check: Check, result: PerfResult) -> str:
    """One check in words: value, interval, sample size, limit and the distance to it."""
    unit = check.metric.unit
    interval = check.interval
    comparison = ">=" if check.metric.higher_is_better else "<="
    lines = [f"{check.statistic} = {fmt(interval.estimate)} {unit}"]
    if check.metric.has_interval:
        lines[0] += (
            f", {interval.confidence:.0%} CI [{fmt(interval.low)}, {fmt(interval.high)}] {unit}"
            f" ({interval.method}, n={check.sample_size}, {result.measure_s:.1f} s measured)"
        )
    else:
        lines[0] += " (single observation)"
    excess = excess_percent(interval.estimate, check.limit, check.metric)
    direction = "over" if excess > 0 else "under"
    if check.metric.higher_is_better:
        direction = "short of" if excess > 0 else "above"
    lines.append(
        f"budget {comparison} {fmt(check.limit)} {unit}: {direction} budget by {abs(excess):.1f}%"
        f" -> {check.verdict.value.upper()}"
    )
    if check.guard is not None:
        lines.append(f"not judged: {_guard_line(check.guard)}")
    return "\n    ".join(lines)


def _where(result: PerfResult) -> str:
    return (
        f"{result.nodeid} on {result.device} ({result.facts.get('device_name', '?')}),"
        f" precision {result.precision}"
    )


def budget_failure_message(result: PerfResult, checks: Sequence[Check]) -> str:
    failed = any(c.verdict is Verdict.FAIL for c in checks)
    header = f"ovperf budget {'FAILED' if failed else 'INCONCLUSIVE'} for {_where(result)}"
    if result.precision != result.requested_precision:
        header += f" (requested {result.requested_precision})"
    body = "\n".join(f"  {check.metric.value}: {describe_check(check, result)}" for check in checks)
    if result.foreign_load is not None and result.foreign_load >= LOAD_NOTE_FROM:
        body += (
            f"\n  note: other processes used {result.foreign_load:.0%} of the machine's CPU "
            "while this test measured"
        )
    comparison = result.baseline
    if comparison is not None and comparison.verdict is GateVerdict.BY_BUDGET:
        # a speedup budget is the verdict against the reference: name it, and after a
        # failure say where the time went
        body += f"\n  {_reference_lines(result, comparison)[0]}"
        body += "".join(f"\n  {line}" for line in attribution_lines(result.attribution))
    return f"{header}\n{body}"


# -- baseline comparisons --------------------------------------------------------------


def _level(confidence: float) -> str:
    """An interval's confidence, as printed: 95%, 97.5%, 95.71%."""
    return f"{confidence * 100:.4g}%"


def _unit_and_statistic(result: PerfResult) -> tuple[str, str]:
    """The unit of a result's gate figure, and its name: the gate compares the kind's
    headline (p50 latency, fps, ...), whatever percentile a budget names."""
    kind = kind_of(result.kind)
    return kind.unit, kind.headline


def _history_lines(result: PerfResult, comparison: BaselineComparison) -> list[str]:
    outcome, stored = comparison.outcome, comparison.stored
    assert outcome is not None and stored is not None
    unit, current = _unit_and_statistic(result)
    ratio, (low, high) = outcome.ratio(result.higher_is_better)
    left_out = comparison.busy_runs_left_out
    lines = [
        f"baseline {stored.statistic} = {fmt(comparison.baseline_value)} {unit} (geometric mean "
        f"of {outcome.baseline_runs} run(s), recorded {stored.recorded_at}, "
        f"commit {str(stored.git_commit)[:12]}, {stored.path})",
        f"current  {current} = {fmt(result.gate_value)} {unit}"
        + (
            f", {result.interval.confidence:.0%} CI [{fmt(result.interval.low)}, "
            f"{fmt(result.interval.high)}]"
            if result.statistic == current  # the headline interval is of this figure
            else ""
        )
        + f" (n={result.n}, {len(result.blocks)} {kind_of(result.kind).unit_of_evidence}s, "
        f"{result.measure_s:.1f} s)",
        ("normalized by the machine-speed probe: " if comparison.normalized else "")
        + f"ratio current/baseline = {ratio:.3f}, {_level(outcome.confidence)} CI "
        f"[{low:.3f}, {high:.3f}]; threshold {outcome.threshold:.1%} slowdown; "
        f"p(slowdown <= threshold) = {outcome.p_value:.2g} (t, df={outcome.df:.0f})",
        f"noise: run-to-run drift {outcome.drift:.1%} (learned from {stored.stored_runs} "
        f"stored run(s) + prior), within-run {outcome.current_within_se:.1%}, "
        f"total SE {outcome.se:.1%}",
        f"environment: baseline openvino {stored.openvino} model {stored.model_hash}; current "
        f"openvino {result.facts.get('openvino')} model {result.facts.get('model_hash')} on "
        f"{result.facts.get('device_name')}",
    ]
    if left_out:
        lines.append(
            f"left out of the baseline: {left_out} stored run(s) recorded while other "
            "processes used more of the CPU than allowed (--ovperf-max-foreign-load); the "
            "file keeps them"
        )
    return lines


def _companion_lines(result: PerfResult, comparison: BaselineComparison) -> list[str]:
    """The one-thread compute companion of a history comparison, and which figure the
    verdict rests on (``verdicts/companion.py``)."""
    if result.device != COMPANION_DEVICE:
        return [
            f"no compute companion on {result.device}: one inference thread is a CPU setting, "
            "so the user-facing figure alone is judged"
        ]
    figure, judged = result.companion, comparison.companion
    if figure is None:
        return []
    if judged is None:
        why = (
            _guard_line(comparison.companion_guard)
            if comparison.companion_guard is not None
            else "the baseline's runs have none (recorded before it, or with "
            "--ovperf-companion=off; --ovperf-update-baselines adds runs that have one)"
        )
        return [
            f"compute companion ({figure.threads} inference thread): p50 = "
            f"{fmt(figure.p50_ms)} ms, not judged: {why}"
        ]
    ratio, (low, high) = judged.ratio(False)
    user = comparison.outcome
    assert user is not None
    lines = [
        f"compute companion ({figure.threads} inference thread, sync): p50 = "
        f"{fmt(figure.p50_ms)} ms against {fmt(judged.baseline_value)} ms "
        f"({judged.baseline_runs} run(s)); ratio {ratio:.3f}, {_level(judged.confidence)} CI "
        f"[{low:.3f}, {high:.3f}]; run-to-run drift {judged.drift:.1%}, df={judged.df:.0f}: "
        f"{judged.verdict.value} (each figure's regression test at half the gate's rate)"
    ]
    user_ratio, (user_low, user_high) = user.ratio(result.higher_is_better)
    user_text = (
        f"the user-facing figure (ratio {user_ratio:.3f}, CI [{user_low:.3f}, {user_high:.3f}])"
    )
    verdict, by = comparison.verdict, comparison.decided_by
    if verdict is GateVerdict.REGRESSION and by is Figure.COMPANION:
        if comparison.guards:
            why = "a machine guard withheld its verdict"
        elif user.verdict is GateVerdict.INCONCLUSIVE:
            why = "its interval straddles the threshold: machine noise"
        else:  # it decided otherwise: the computation slowed, the parallel part did not
            why = f"it says {user.verdict.value}: threads and streams made up for it"
        lines.append(
            f"the regression rests on the one-thread companion; {user_text} did not show it ({why})"
        )
    elif verdict is GateVerdict.REGRESSION and judged.verdict is GateVerdict.UNCHANGED:
        lines.append(
            f"the regression rests on {user_text}; the one-thread companion is unchanged: "
            "the time was lost in parallel execution (threads, streams), not in the computation"
        )
    elif verdict is GateVerdict.REGRESSION and judged.verdict is not GateVerdict.REGRESSION:
        lines.append(
            f"the regression rests on {user_text}; the one-thread companion could not tell "
            f"({judged.verdict.value})"
        )
    elif verdict is GateVerdict.UNCHANGED and by is Figure.COMPANION:
        lines.append(
            f"unchanged rests on the one-thread companion: {user_text} was undecided only "
            f"from machine noise (its estimate lies within +-{user.threshold:.0%})"
        )
    return lines


def _reference_lines(result: PerfResult, comparison: BaselineComparison) -> list[str]:
    outcome = comparison.outcome
    assert outcome is not None
    unit, statistic = _unit_and_statistic(result)
    pairs = f"{kind_of(result.kind).unit_of_evidence} pairs"
    ratio, (low, high) = outcome.ratio(result.higher_is_better)
    method = f"{PAIRED_TEST}, df={outcome.df:.0f}, {outcome.drift:.1%} between-process spread added"
    if comparison.verdict is GateVerdict.BY_BUDGET:
        judged = f"({method}); judged by the test's speedup budget, not the regression threshold"
    else:
        judged = (
            f"threshold {outcome.threshold:.1%}; p(slowdown <= threshold) = "
            f"{outcome.p_value:.2g} ({method})"
        )
    return [
        f"reference {comparison.reference}: {statistic} = "
        f"{fmt(comparison.baseline_value)} {unit} (measured interleaved, ABBA, same run)",
        f"ratio model/reference = {ratio:.3f}, {outcome.confidence:.0%} CI "
        f"[{low:.3f}, {high:.3f}] over {outcome.current_blocks} {pairs}; {judged}",
    ]


def _ab_lines(result: PerfResult, comparison: BaselineComparison) -> list[str]:
    outcome, stored = comparison.outcome, comparison.stored
    assert outcome is not None and stored is not None
    unit, current = _unit_and_statistic(result)
    ratio, (low, high) = outcome.ratio(result.higher_is_better)
    return [
        f"A/B against {comparison.reference}: baseline recorded {stored.recorded_at}, commit "
        f"{str(stored.git_commit)[:12]} ({stored.path}); both measured interleaved in this "
        "run (ABBA), the baseline's model compiled with its recorded config",
        f"baseline {current} = "
        f"{fmt(comparison.baseline_value)} {unit}; current {current} = "
        f"{fmt(result.gate_value)} {unit} (n={result.n}, {result.measure_s:.1f} s in all)",
        f"ratio current/baseline = {ratio:.3f}, {_level(outcome.confidence)} CI "
        f"[{low:.3f}, {high:.3f}] over {outcome.current_blocks} "
        f"{kind_of(result.kind).unit_of_evidence} pairs; threshold "
        f"{outcome.threshold:.1%}; p(slowdown <= threshold) = {outcome.p_value:.2g} "
        f"({PAIRED_TEST}, df={outcome.df:.0f}, {outcome.drift:.1%} between-process spread "
        "added; "
        + (
            f"sequential test over {comparison.looks} looks, O'Brien-Fleming boundaries)"
            if comparison.looks > 1
            else "judged once, at the end of the measurement)"
        ),
        *(
            [f"{comparison.fallback}; the A/B above ran both models on this runtime"]
            if comparison.fallback
            else []
        ),
    ]


def _memory_lines(result: PerfResult, comparison: BaselineComparison) -> list[str]:
    judgement = comparison.memory
    assert judgement is not None
    stored = comparison.stored
    if comparison.method is GateMethod.HISTORY and stored is not None:
        source = (
            f"median of the latest stored run(s), recorded {stored.recorded_at}, commit "
            f"{str(stored.git_commit)[:12]} ({stored.path})"
        )
    else:
        source = f"{comparison.reference}, read the same way in this run"
    lines = [
        f"baseline memory_mb = {fmt(judgement.baseline_mb)} MiB ({source})",
        f"current  memory_mb = {fmt(judgement.current_mb)} MiB ({result.interval.method}"
        + (f", spread {fmt(result.spread_mb)} MiB" if isinstance(result, MemoryResult) else "")
        + ")",
        f"delta {judgement.delta_mb:+.1f} MiB ({judgement.ratio - 1:+.1%}); a change counts "
        f"beyond both {judgement.threshold:.0%} and {fmt(judgement.floor_mb)} MiB "
        f"(here {fmt(judgement.margin_mb)} MiB; thresholds, not statistics: "
        "--ovperf-memory-threshold, --ovperf-memory-floor)",
    ]
    if comparison.fallback:
        lines.append(comparison.fallback + "; judged against the stored runs instead")
    return lines


def _guard_line(guard: MachineGuard) -> str:
    if guard.reason is GuardReason.BUSY:
        parts = []
        if guard.current is not None and guard.current > guard.limit:
            parts.append(f"this run ({guard.current:.0%})")
        if guard.baseline is not None and guard.baseline > guard.limit:
            parts.append(f"the baseline's runs (up to {guard.baseline:.0%})")
        return (
            "machine busy: other processes used the CPU during "
            + " and ".join(parts)
            + f", over the {guard.limit:.0%} allowed (--ovperf-max-foreign-load):"
            " a slowdown cannot be told from contention; re-run on a quiet machine"
        )
    if guard.reason is GuardReason.IDLE_SIDE_CPU:
        return (
            f"the two runtimes did not take turns cleanly: the idle side used "
            f"{guard.current or 0.0:.1%} of the measuring side's CPU, over the "
            f"{guard.limit:.0%} allowed (OpenVINO's threads spinning after inference take "
            "cores from the other process): the ratio cannot be trusted"
        )
    assert guard.current is not None and guard.baseline is not None  # a probe guard has both
    shift = guard.current / guard.baseline - 1.0
    if guard.reason is GuardReason.SLOW_STATE:
        return (
            f"machine in a slow state: the speed probe ran {shift:+.0%} against the fastest "
            f"stored runs on this machine ({guard.current:.4g} ms vs {guard.baseline:.4g} ms; "
            f"more than the {guard.limit:.0%} allowed, --ovperf-max-probe-shift): the "
            "machine was contended or its CPUs placed on slower cores, so a budget is not "
            "failed from this run; re-run"
        )
    return (
        f"machine speed differs: the speed probe ran {shift:+.0%} against the baseline's runs "
        f"({guard.current:.4g} ms vs {guard.baseline:.4g} ms; more than the {guard.limit:.0%} "
        "allowed, --ovperf-max-probe-shift): the machine was in another state (CPU placement, "
        "frequency, a co-tenant) and no stored run was recorded in this state, so a "
        "difference cannot be told from it; re-run, or record a baseline run in this state "
        "(--ovperf-update-baselines adds to the history)"
    )


def comparison_text(result: PerfResult, comparison: BaselineComparison) -> str:
    """What the gate found, in words (the body of a regression message, ``baseline_message``
    in the JSON report)."""
    verdict = comparison.verdict
    if verdict is GateVerdict.ERROR:
        return comparison.error
    if verdict is GateVerdict.UPDATED:
        text = f"recorded in {comparison.path} ({comparison.history_runs} run(s) of history)"
        busy = comparison.recorded_busy
        if busy is not None and busy.current is not None:
            text += (
                f"; WARNING: other processes used {busy.current:.0%} of the CPU while "
                "recording: comparisons leave this run out of the baseline while the history "
                "holds runs recorded without such load, and are inconclusive otherwise"
            )
        return text
    if verdict is GateVerdict.NO_BASELINE:
        if comparison.empty_entry:
            return f"{comparison.path}: entry has no runs"
        text = f"no baseline in {comparison.path} for this machine profile {comparison.profile}"
        if comparison.other_profiles:
            text += "; baselines of other machine profiles are not comparable: " + "; ".join(
                f"profile {other.profile} differs in "
                + (
                    ", ".join(
                        f"{fact} {stored!r} here {here!r}"
                        for fact, (stored, here) in sorted(other.differences.items())
                    )
                    or "unknown facts"
                )
                for other in comparison.other_profiles
            )
        return text
    if comparison.memory is not None:
        return "\n    ".join(_memory_lines(result, comparison))
    if comparison.method is GateMethod.REFERENCE:
        lines = _reference_lines(result, comparison)
    elif comparison.method is GateMethod.AB:
        lines = _ab_lines(result, comparison)
    else:
        lines = _history_lines(result, comparison)
        if comparison.fallback:
            lines.append(comparison.fallback + "; judged against the stored runs instead")
        lines.extend(_companion_lines(result, comparison))
    outcome = comparison.outcome
    assert outcome is not None
    projection = comparison.settle_projection(result.measure_s)
    if projection is not None:
        lines.append(_paired_inconclusive_line(outcome, projection, result.measure_s))
    elif not comparison.guards and verdict is GateVerdict.INCONCLUSIVE:
        lines.append(
            "the interval straddles the threshold: noise too large to tell a "
            f"{outcome.threshold:.0%} change from drift; measure longer "
            "(--ovperf-max-time), use a quieter machine, or record more baseline runs "
            "(--ovperf-update-baselines appends to the history)"
        )
    if verdict is GateVerdict.NOTHING_CHANGED:
        checked = (
            "nothing the gate fingerprints changed since the baseline (model, config, "
            "OpenVINO, Python, pytest-ovperf): this run checked the machine"
        )
        lines.append(
            f"{checked}, which was busy or in another state (below), so its figures speak for "
            "the machine, not the software; not a warning (an unguarded confident slowdown "
            "would be a regression)"
            if comparison.guards
            else f"{checked}, and could not tell its noise from a {outcome.threshold:.0%} "
            "change; not a warning (a confident slowdown would be a regression); more baseline "
            "runs (--ovperf-update-baselines appends to the history) narrow the interval"
        )
    lines.extend(_guard_line(guard) for guard in comparison.guards)
    if comparison.guards and verdict is not GateVerdict.BY_BUDGET:
        lines.append(f"(statistical verdict without this guard: {outcome.verdict.value})")
    return "\n    ".join(lines)


def _paired_inconclusive_line(
    outcome: GateResult, projection: SettleProjection, measured_s: float
) -> str:
    """Why an interleaved comparison could not tell, and how long it would have to measure
    at this run's noise (``BaselineComparison.settle_projection``)."""
    text = (
        f"the interval straddles the threshold: the pairs' noise is too large to tell a "
        f"{outcome.threshold:.0%} change in {measured_s:.1f} s"
    )
    if projection.settle_s is None:
        return (
            f"{text}; if the ratio holds, no measuring time would settle it (the "
            f"{outcome.drift:.1%} between-process spread alone is too wide that close to the "
            "threshold): re-run on a quieter machine (the ratio of a noisy run moves), or "
            "widen the threshold"
        )
    seconds = projection.max_time_s
    if seconds is None:
        return (
            f"{text}; at this noise it would take over {PAIRED_SETTLE_MAX_S:.0f} s: use a "
            "quieter machine (a noisy spell passes), or widen the threshold"
        )
    return (
        f"{text}; at this noise about {seconds} s (--ovperf-max-time={seconds}) would settle "
        f"it {SETTLE_POWER:.0%} of the time if the ratio holds, or use a quieter machine"
    )


def regression_message(result: PerfResult, comparison: BaselineComparison) -> str:
    what = "interleaved reference" if comparison.method is GateMethod.REFERENCE else "baseline"
    header = (
        f"ovperf {comparison.verdict.value.upper()} against the {what} for {_where(result)}, "
        f"{result.kind}"
    )
    lines = [header, f"    {comparison_text(result, comparison)}"]
    if comparison.what_changed:
        lines.append(
            "    what changed: "
            + "; ".join(
                f"{k} {old!r} -> {new!r}" for k, (old, new) in comparison.what_changed.items()
            )
        )
    lines.extend(f"    {line}" for line in attribution_lines(result.attribution))
    return "\n".join(lines)


#: layer types a regression message lists
ATTRIBUTION_TOP = 5


def attribution_lines(changes: Sequence[LayerChange]) -> list[str]:
    """Where the time went: layer types by time gained (performance counters, median of
    ``PROFILE_ITERATIONS`` inferences per side), with any change of kernel or precision."""
    if not changes:
        return []
    lines = [
        "where the time went (performance counters, per layer type, compared model -> this "
        f"one; top {ATTRIBUTION_TOP} by time gained):"
    ]
    for change in changes[:ATTRIBUTION_TOP]:
        line = (
            f"  {change.layer_type}: {change.baseline_us:.0f} -> {change.current_us:.0f} us "
            f"({change.delta_us:+.0f} us)"
        )
        if not change.baseline_us:
            line += " [added]"
        elif not change.current_us:
            line += " [removed]"
        if change.baseline_kernels and change.current_kernels != change.baseline_kernels:
            line += (
                f"; kernel {', '.join(sorted(change.baseline_kernels))} -> "
                f"{', '.join(sorted(change.current_kernels))}"
            )
        if change.baseline_precisions and change.current_precisions != change.baseline_precisions:
            line += (
                f"; precision {', '.join(sorted(change.baseline_precisions))} -> "
                f"{', '.join(sorted(change.current_precisions))}"
            )
        lines.append(line)
    return lines


def shares_text(shares: Mapping[str, float]) -> str:
    """Precision shares in words: ``bf16 93%, f32 7%`` (``-`` when there are none)."""
    return ", ".join(f"{name} {share:.0%}" for name, share in shares.items()) or "-"


def precision_fallback_message(result: PerfResult) -> str:
    """Why the runtime precision is not what was asked ('' when it is, or is unknown)."""
    requested = result.requested_precision
    if result.profile is None or requested not in ("bf16", "f16", "int8"):
        return ""
    shares = result.profile.precision_shares()
    if not shares or shares.get(requested, 0.0) >= PRECISION_FALLBACK_SHARE:
        return ""
    return (
        f"{result.nodeid}: asked {result.device} for {requested}, but "
        f"{shares.get(requested, 0.0):.0%} of the compute ran in it ({shares_text(shares)}; "
        "performance counters): the device fell back"
    )


def async_stall_message(result: PerfResult) -> str:
    """Why a throughput figure measures a stall of the device's asynchronous path rather than
    the model ('' when it does not): it is far below the rate of one synchronous inference
    at a time (``ASYNC_STALL_FRACTION``), or its requests wait out automatic batching's
    timeout (``batch_wait_message``)."""
    if not isinstance(result, ThroughputResult):
        return ""
    waiting = batch_wait_message(result)
    if waiting or not result.first_inference_ms > 0:
        return waiting
    sync_rate = 1e3 / result.first_inference_ms
    if not 0 < result.fps < ASYNC_STALL_FRACTION * sync_rate:
        return ""
    return (
        f"{result.nodeid}: {fmt(result.fps)} fps with {result.requests} infer request(s) in "
        f"flight, but one synchronous inference (the first, one-time costs included) took "
        f"{fmt(result.first_inference_ms)} ms, {fmt(sync_rate)} per second: asynchronous "
        f"inference on {result.device} is {sync_rate / result.fps:.0f}x slower than one "
        "inference at a time, so the fps measures a stall of the device's asynchronous path "
        "(its plugin, driver or meta-device scheduling), not the model"
    )


def batch_wait_message(result: ThroughputResult) -> str:
    """Why a throughput figure measures automatic batching's timeout rather than the model
    ('' when it does not): each request in flight took at least ``BATCH_WAIT_SHARE`` of
    ``AUTO_BATCH_TIMEOUT`` and at most ``1 / BATCH_WAIT_SHARE`` times it, with fewer
    requests in flight than the device's optimal number, so its batches could not fill. (A
    full queue fills its batches: a heavy model's long cycle is no wait.) A meta device
    that may batch on its GPU reports no timeout (``possible_batch_timeout_ms``)."""
    optimal = result.optimal_requests
    if not result.fps > 0 or optimal is None or result.requests >= optimal:
        return ""
    cycle_ms = result.requests / result.fps * 1e3
    timeout_ms = result.auto_batch_timeout_ms
    batching = f"automatic batching on {result.device} waits for a batch to fill"
    if not timeout_ms:
        timeout_ms = result.possible_batch_timeout_ms
        batching = (
            f"automatic batching waits for a batch to fill, which {result.device} may use on "
            "its GPU (a meta device does not report it)"
        )
    if not (
        timeout_ms and BATCH_WAIT_SHARE * timeout_ms <= cycle_ms <= timeout_ms / BATCH_WAIT_SHARE
    ):
        return ""
    remedy = (
        f"keep {optimal} requests in flight (OPTIMAL_NUMBER_OF_INFER_REQUESTS, as the "
        "infer_pool fixture does), "
    )
    return (
        f"{result.nodeid}: {fmt(result.fps)} fps with {result.requests} infer request(s) in "
        f"flight: each request took {fmt(cycle_ms)} ms, about the {fmt(timeout_ms)} ms that "
        f"{batching} (AUTO_BATCH_TIMEOUT), so the fps measures that wait, not the model; "
        f"{remedy}"
        "compile with ALLOW_AUTO_BATCHING set to NO, or shorten AUTO_BATCH_TIMEOUT"
    )


def confirmed_failure_message(failure: str, first_failure: str) -> str:
    """A statistical failure that the re-measure at the end of the run confirmed."""
    return (
        f"{failure}\n  confirmed by a re-measure at the end of the run; the first "
        f"measurement said:\n{textwrap.indent(first_failure, '    ')}"
    )


def unconfirmed_failure_message(nodeid: str, first_failure: str) -> str:
    """A first measurement's statistical failure that its re-measure did not repeat."""
    return (
        f"{nodeid}: the re-measure at the end of the run did not confirm the first "
        f"measurement's failure (a false alarm, or a change too small to show every time); "
        f"the first measurement said:\n{textwrap.indent(first_failure, '    ')}"
    )


def progress_line(progress: Progress) -> str:
    """A live line of ``-v`` output while a test measures."""
    parts = []
    for name, interval in progress.intervals.items():
        unit = {"fps": " fps", "ratio": ""}.get(name, " ms")
        parts.append(
            f"{name} {interval.estimate:.4g}{unit} [{interval.low:.4g}, {interval.high:.4g}]"
        )
    return (
        f"{progress.kind} "
        + ", ".join(parts)
        + (f" blocks={progress.blocks} t={progress.elapsed_s:.1f}s")
    )
