"""The only place that renders text: failure messages, progress lines, the summary table and
the JSON report (whose result records also carry results from xdist workers)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .identity import TestIdentity
from .kinds import kind_of
from .measure.engine import Progress
from .results import (
    BaselineComparison,
    Check,
    LatencyResult,
    LoadResult,
    MachineGuard,
    MemoryResult,
    PerfResult,
    ThroughputResult,
)
from .runtime.companion import COMPANION_DEVICE
from .runtime.profile import LayerChange
from .verdicts.budgets import excess_percent
from .verdicts.companion import Figure
from .verdicts.kinds import GateMethod, GateVerdict, GuardReason, Metric, Verdict
from .verdicts.suite import SuiteShift, suite_shift

#: version of the JSON report's layout
SCHEMA_VERSION = 1
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
    return [
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
        + f" (n={result.n}, {len(result.blocks)} blocks, {result.measure_s:.1f} s)",
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
    method = f"paired t, df={outcome.df:.0f}, {outcome.drift:.1%} between-process spread added"
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
        f"(paired t, df={outcome.df:.0f}, {outcome.drift:.1%} between-process spread added; "
        f"sequential test over {comparison.looks} looks, O'Brien-Fleming boundaries)",
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
                "recording, comparisons against this run will be inconclusive"
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
    if not comparison.guards and verdict is GateVerdict.INCONCLUSIVE:
        lines.append(
            "the interval straddles the threshold: noise too large to tell a "
            f"{outcome.threshold:.0%} change from drift; measure longer (--ovperf-max-time), "
            "use a quieter machine, or record more baseline runs (--ovperf-update-baselines "
            "appends to the history)"
        )
    if verdict is GateVerdict.NOTHING_CHANGED:
        lines.append(
            "nothing the gate fingerprints changed since the baseline (model, config, "
            "OpenVINO, Python, pytest-ovperf): this run checked the machine, and could not tell "
            f"its noise from a {outcome.threshold:.0%} change; not a warning (a confident "
            "slowdown would be a regression); more baseline runs (--ovperf-update-baselines "
            "appends to the history) narrow the interval"
        )
    lines.extend(_guard_line(guard) for guard in comparison.guards)
    if comparison.guards and verdict is not GateVerdict.BY_BUDGET:
        lines.append(f"(statistical verdict without this guard: {outcome.verdict.value})")
    return "\n    ".join(lines)


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


#: below this share of the compute in the requested precision, the device fell back
PRECISION_FALLBACK_SHARE = 0.5


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


# -- the JSON report and the summary ---------------------------------------------------


def _num(value: float | None) -> float | None:
    """JSON has no NaN/inf: write ``null`` instead."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


#: the percentiles of every latency distribution a JSON report keeps (0, 1, ..., 100)
LATENCY_QUANTILES = list(range(101))


def result_record(result: PerfResult) -> dict[str, Any]:
    """One result as the JSON report holds it (and as it travels from xdist workers)."""
    data: dict[str, Any] = {
        "nodeid": result.nodeid,
        "device": result.device,
        "precision": result.precision,
        "requested_precision": result.requested_precision,
        "kind": result.kind,
        "n": result.n,
        "compile_ms": _num(result.compile_ms),
        "first_inference_ms": _num(result.first_inference_ms),
        "measure_s": _num(result.measure_s),
        "statistic": result.statistic,
        "ci": [_num(result.interval.low), _num(result.interval.high)],
        "confidence": result.interval.confidence,
        "ci_method": result.interval.method,
        "budget_verdict": result.budget_verdict.value,
        "probe_ms": _num(result.probe_value),
        "foreign_load": _num(result.foreign_load),
        "measured_from": _num(result.measured_from),
        "measured_until": _num(result.measured_until),
        "device_wait_s": _num(result.device_wait_s),
        "checks": [
            {
                "metric": c.metric.value,
                "statistic": c.statistic,
                "value": _num(c.interval.estimate),
                "ci": [_num(c.interval.low), _num(c.interval.high)],
                "ci_method": c.interval.method,
                "run_ci": (
                    [_num(c.run_interval.low), _num(c.run_interval.high)]
                    if c.run_interval is not None
                    else None
                ),
                "limit": c.limit,
                "verdict": c.verdict.value,
                "n": c.sample_size,
                # why this check could not fail (busy machine, slow machine state)
                "guard": c.guard.reason.value if c.guard is not None else None,
            }
            for c in result.checks
        ],
    }
    if isinstance(result, LatencyResult):
        data.update(
            p50_ms=_num(result.p50_ms),
            p90_ms=_num(result.p90_ms),
            p99_ms=_num(result.p99_ms),
            mean_ms=_num(result.mean_ms),
            min_ms=_num(result.min_ms),
            percentile=result.percentile,
            # the distribution, compactly (the HTML report draws its ECDF from these)
            latency_quantiles_ms=[
                round(float(q), 6) for q in np.percentile(result.latencies_ms, LATENCY_QUANTILES)
            ]
            if result.n
            else [],
        )
    elif isinstance(result, ThroughputResult):
        data.update(fps=_num(result.fps), infer_requests=result.requests, blocks=len(result.blocks))
    elif isinstance(result, LoadResult):
        data.update(load_ms=_num(result.load_ms), load_hint=result.hint)
    elif isinstance(result, MemoryResult):
        data.update(
            memory_mb=_num(result.memory_mb),
            compile_peak_mb=_num(result.compile_peak_mb),
            anon_mb=_num(result.anon_mb),
            file_mb=_num(result.file_mb),
            device_mb=_num(result.device_mb),
            memory_spread_mb=_num(result.spread_mb),
            memory_mode=result.mode,
        )
    if result.profile is not None:
        data["runtime_precisions"] = {
            k: round(v, 4) for k, v in result.profile.precision_shares().items()
        }
        by_type = sorted(result.profile.by_type().items(), key=lambda item: -item[1][0])
        data["top_layers"] = [
            {"type": name, "time_us": round(time_us, 1), "kernels": sorted(kernels)}
            for name, (time_us, kernels, _) in by_type[:ATTRIBUTION_TOP]
        ]
    if result.attribution:
        data["attribution"] = [
            {
                "type": c.layer_type,
                "baseline_us": round(c.baseline_us, 1),
                "current_us": round(c.current_us, 1),
            }
            for c in result.attribution[:ATTRIBUTION_TOP]
        ]
    if result.first_failure:
        data["remeasure"] = {"first_failure": result.first_failure, "confirmed": result.confirmed}
    b = result.baseline
    if b is not None:
        data.update(
            baseline_verdict=b.verdict.value,
            baseline_method=b.method.value if b.method is not None else None,
            baseline_value=_num(b.baseline_value),
            ratio=_num(b.ratio),
            ratio_ci=[_num(x) for x in b.ratio_ci] if b.ratio_ci else None,
            baseline_p_value=_num(b.p_value),
            regression_threshold=b.threshold,
            baseline_message=comparison_text(result, b),
            baseline_other_profiles=[o.profile for o in b.other_profiles],
            what_changed={k: list(v) for k, v in b.what_changed.items()},
            decided_by=b.decided_by.value if b.decided_by is not None else None,
        )
        if b.companion is not None:
            ratio, (low, high) = b.companion.ratio(False)
            data.update(
                companion_verdict=b.companion.verdict.value,
                companion_ratio=_num(ratio),
                companion_ratio_ci=[_num(low), _num(high)],
            )
    companion = result.companion
    data["companion"] = (
        {
            "p50_ms": _num(companion.p50_ms),
            "blocks": len(companion.blocks),
            "threads": companion.threads,
        }
        if companion is not None
        else None
    )
    return data


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return fmt(float(value))
    return str(value)


def summary_rows(records: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Rows of the terminal summary: one per checked metric, or one per result without checks."""
    rows = []
    for data in records:
        kind = kind_of(data["kind"])
        unit = kind.unit
        checks = data.get("checks") or [None]
        for check in checks:
            if check is None:
                value, metric = kind.headline_value(data), kind.headline
                ci = data.get("ci") if data.get("statistic", "").startswith(metric) else None
                limit, verdict = None, Verdict.NONE.value
            else:
                value, metric, ci = check["value"], check["statistic"], check["ci"]
                limit, verdict = check["limit"], check["verdict"]
                checked = Metric(check["metric"])
                unit = checked.unit
                if not checked.has_interval:
                    ci = None  # a single observation has no interval
            measured = f"{_cell(value)} {unit}"
            if ci and ci[0] is not None and ci[1] is not None:
                measured += f" [{_cell(ci[0])}, {_cell(ci[1])}]"
            rows.append(
                [
                    TestIdentity.from_nodeid(data["nodeid"]).name,
                    data["device"],
                    data["precision"],
                    metric,
                    measured,
                    _cell(limit),
                    verdict,
                    data.get("baseline_verdict", "-"),
                    _ratio_cell(data),
                ]
            )
    return rows


def _ratio_cell(data: Mapping[str, Any]) -> str:
    ratio = data.get("ratio")
    if ratio is None:
        return "-"
    ci = data.get("ratio_ci")
    text = f"{ratio:.3f}"
    if ci and ci[0] is not None:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def baseline_notes(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why results were not compared with a baseline (other machine profile, bad file)."""
    notes = []
    plain_missing = 0
    for data in records:
        verdict = data.get("baseline_verdict")
        message = data.get("baseline_message") or ""
        if verdict == GateVerdict.NO_BASELINE.value and not data.get("baseline_other_profiles"):
            plain_missing += 1  # nothing recorded at all: one line for all of them
        elif verdict in (GateVerdict.NO_BASELINE.value, GateVerdict.ERROR.value) and message:
            name = TestIdentity.from_nodeid(data["nodeid"]).name
            notes.append(f"{name} ({data['kind']}): {message}")
    if plain_missing:
        notes.append(
            f"{plain_missing} result(s) have no baseline for this machine; record them with "
            "--ovperf-update-baselines"
        )
    return notes


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


def remeasure_lines(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line on the tests re-measured after a statistical failure (``confirm.py``)."""
    outcomes = [r["remeasure"]["confirmed"] for r in records if r.get("remeasure")]
    if not outcomes:
        return []
    confirmed = sum(1 for o in outcomes if o)
    return [
        f"re-measured {len(outcomes)} result(s) that failed on statistics alone: "
        f"{confirmed} confirmed (failed), {len(outcomes) - confirmed} not confirmed "
        "(passed with a warning)"
    ]


def suite_shift_line(shift: SuiteShift) -> str:
    """One line for a suite whose tests moved together (``verdicts.suite``)."""
    direction = "slower" if shift.slower else "faster"
    cause = (
        "the runtime changed ("
        + ", ".join(
            f"{k}: {old} -> {new}" for k, (old, new) in sorted(shift.common_changes.items())
        )
        + ")"
        if shift.common_changes
        else "the machine changed (another host, CPU placement or state), not each model"
    )
    return (
        f"suite: {shift.moved} of {shift.compared} tests compared with stored runs are "
        f"{direction} (median {shift.median_slowdown:.3f}x the baselines' cost; sign test "
        f"p = {shift.p_value:.2g}): {cause}. Judge their regressions with that in mind; "
        "A/B comparisons (--ovperf-compare) cancel such changes"
    )


SUMMARY_HEADER = [
    "test",
    "device",
    "precision",
    "metric",
    "measured (CI)",
    "budget",
    "verdict",
    "baseline",
    "ratio (CI)",
]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def json_report(
    records: Sequence[Mapping[str, Any]], environment: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": dict(environment),
        "results": list(records),
    }


#: the figures of a result record given to JUnit XML as ``ovperf_<kind>_<field>`` properties
JUNIT_FIELDS = (
    "statistic",
    "p50_ms",
    "p90_ms",
    "fps",
    "load_ms",
    "memory_mb",
    "compile_peak_mb",
    "n",
    "budget_verdict",
    "baseline_verdict",
    "baseline_method",
    "ratio",
    "precision",
    "runtime_precisions",
    "compile_ms",
    "first_inference_ms",
)


def junit_properties(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(name, value) pairs for ``--junitxml``: each result's figures and verdicts, named
    ``ovperf_<kind>_<field>`` (CI systems show a test case's properties)."""
    properties = []
    for data in records:
        for name in JUNIT_FIELDS:
            value = data.get(name)
            if value is None:
                continue
            if isinstance(value, float):
                text = f"{value:.6g}"
            elif isinstance(value, dict):  # runtime_precisions
                text = shares_text(value)
            else:
                text = str(value)
            properties.append((f"ovperf_{data['kind']}_{name}", text))
    return properties


def markdown_report(records: Sequence[Mapping[str, Any]], environment: Mapping[str, Any]) -> str:
    """A compact markdown table for CI job summaries (``--ovperf-markdown``,
    ``$GITHUB_STEP_SUMMARY``): the terminal summary's rows, the runtime precision, and the
    machine and runtime they were measured on."""
    header = [*SUMMARY_HEADER, "runtime precision"]
    lines = [
        "### pytest-ovperf",
        "",
        f"{environment.get('cpu', '?')}, OpenVINO {environment.get('openvino', '?')}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for data in records:
        precision_cell = shares_text(data.get("runtime_precisions") or {})
        for row in summary_rows([data]):
            cells = [c.replace("|", "\\|") for c in [*row, precision_cell]]
            lines.append("| " + " | ".join(cells) + " |")
    shift = suite_shift(records)
    if shift is not None:
        lines += ["", suite_shift_line(shift)]
    return "\n".join(lines) + "\n"
