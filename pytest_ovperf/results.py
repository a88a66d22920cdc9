"""What one measurement produced, as returned to tests and read by the reports (typed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from .kinds import kind_of
from .runtime.profile import LayerChange, RuntimeProfile
from .store.schema import StoredRun
from .verdicts.budgets import judge
from .verdicts.companion import Figure
from .verdicts.comparison import GateResult, SettleProjection, project_settle
from .verdicts.kinds import GateMethod, GateVerdict, GuardReason, Metric, Verdict
from .verdicts.memory import MemoryJudgement
from .verdicts.stats import Interval


@dataclass(frozen=True)
class MachineGuard:
    """The machine's state made a comparison untrustworthy, whatever the statistics say."""

    reason: GuardReason
    #: this run's figure: foreign CPU load (fraction) or the probe's median latency (ms)
    current: float | None
    #: the baseline runs' figure: their worst foreign load, or their probe latency (ms)
    baseline: float | None
    #: the limit that was crossed (fraction)
    limit: float


@dataclass
class Check:
    """One statistic checked against one limit of a budget."""

    metric: Metric
    statistic: str
    interval: Interval
    limit: float
    verdict: Verdict
    sample_size: int
    #: the machine was busy or in another state: a failure is only inconclusive
    guard: MachineGuard | None = None
    #: the run's own interval, before run-to-run drift was added (``interval`` is judged)
    run_interval: Interval | None = None

    @classmethod
    def judged(
        cls,
        metric: Metric,
        statistic: str,
        interval: Interval,
        limit: float,
        sample_size: int,
        guard: MachineGuard | None = None,
    ) -> Check:
        """The check of ``interval`` against ``limit``, with its verdict; under a machine
        guard a budget never fails (contention, not the model, may be why it was slow)."""
        verdict = judge(interval, limit, metric)
        if guard is not None and verdict is Verdict.FAIL:
            verdict = Verdict.INCONCLUSIVE
        return cls(metric, statistic, interval, limit, verdict, sample_size, guard)


@dataclass(frozen=True)
class CompanionFigure:
    """The one-thread compute companion of a result (``partners/``): the same model,
    one inference thread, sync, measured beside it."""

    #: median latency (ms) over all its inferences
    p50_ms: float
    #: median latency of each of its blocks (ms)
    blocks: tuple[float, ...]
    threads: int


@dataclass(frozen=True)
class ProfileDifference:
    """A stored machine profile that is not this machine's, and how it differs."""

    profile: str
    #: fact -> (stored value, value here)
    differences: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class StoredBaseline:
    """Which stored baseline a result was compared with."""

    path: Path
    statistic: str
    recorded_at: str | None
    git_commit: str | None
    stored_runs: int
    openvino: str | None
    model_hash: str | None


#: confidence of a recorded run's interval (``RecordedPoint``)
RECORDED_CONFIDENCE = 0.95


@dataclass(frozen=True)
class RecordedPoint:
    """One stored run of a baseline entry, as the reports draw it (the HTML report's trend
    of recorded runs): its headline figure with an interval, when and on what it ran."""

    #: the run's headline figure (p50 ms, fps, MiB, a plugin kind's): ``RunSummary.value``
    value: float
    #: its ``RECORDED_CONFIDENCE`` interval from the run's own spread (the within-run
    #: standard error of the log figure, Student t on blocks - 1 degrees of freedom);
    #: ``None`` where the run had no spread to tell (``within_se`` infinite)
    low: float | None
    high: float | None
    recorded_at: str | None
    #: id of the run's software facts (``RunSummary.software``): equal ids, equal software
    software: str
    git_commit: str | None = None
    #: the gate's baseline figure came from this run (else it informs the drift only)
    in_baseline: bool = False

    @classmethod
    def of_run(cls, run: StoredRun, in_baseline: bool = False) -> RecordedPoint:
        summary = run.summary
        low = high = None
        if math.isfinite(summary.within_se):
            df = summary.blocks - 1
            z = (
                float(sps.t.ppf(0.5 + RECORDED_CONFIDENCE / 2, df))
                if df >= 1
                else float(sps.norm.ppf(0.5 + RECORDED_CONFIDENCE / 2))
            )
            low = math.exp(summary.log_value - z * summary.within_se)
            high = math.exp(summary.log_value + z * summary.within_se)
        return cls(
            value=summary.value,
            low=low,
            high=high,
            recorded_at=run.recorded_at,
            software=summary.software,
            git_commit=run.git_commit,
            in_baseline=in_baseline,
        )


def recorded_points(
    runs: Sequence[StoredRun], baseline: Sequence[StoredRun] = ()
) -> tuple[RecordedPoint, ...]:
    """The points of an entry's stored runs (oldest first), those in ``baseline`` (the runs
    the gate's baseline figure came from) marked."""
    chosen = {id(run) for run in baseline}
    return tuple(RecordedPoint.of_run(run, id(run) in chosen) for run in runs)


@dataclass
class BaselineComparison:
    """The regression gate's view of one result (filled by ``verdicts.gate``, or from an
    interleaved ``reference=``), rendered to text by ``messages.py`` only."""

    verdict: GateVerdict
    method: GateMethod | None = None
    #: throughput (fps): the ratio and the values read the other way round
    higher_is_better: bool = False
    #: the statistics; its own verdict is the one before any machine guard
    outcome: GateResult | None = None
    baseline_value: float | None = None
    #: the stored baseline (history method)
    stored: StoredBaseline | None = None
    #: the stored runs of the baseline entry, oldest first (history method; the HTML
    #: report's trend): ``recorded_points(runs, reference_runs)``; empty where none
    recorded: tuple[RecordedPoint, ...] = ()
    #: the reference model (reference method) or the baseline's model (A/B), as described
    reference: str | None = None
    #: history method: why no A/B comparison against the baseline's own model was made
    fallback: str = ""
    #: history method: stored runs recorded under foreign load over the limit, left out of
    #: the baseline because runs of the latest software recorded without it exist
    busy_runs_left_out: int = 0
    #: A/B: the looks of the sequential test among which its error rates were split
    looks: int = 0
    #: whether the comparison was of model / speed-probe ratios
    normalized: bool = False
    guards: list[MachineGuard] = field(default_factory=list)
    #: software fact -> (baseline value, current value), for the facts that differ
    what_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: no-baseline: this profile, and the stored profiles of other machines
    profile: str | None = None
    #: no-baseline: the entry exists but holds no runs
    empty_entry: bool = False
    other_profiles: list[ProfileDifference] = field(default_factory=list)
    #: the baseline file (no-baseline, updated)
    path: Path | None = None
    #: error: what is wrong with the baseline file
    error: str = ""
    #: updated: runs in the entry's history after this one was added
    history_runs: int = 0
    #: updated: the foreign load while recording was over the limit
    recorded_busy: MachineGuard | None = None
    #: history on the CPU: the one-thread compute companion against its stored runs
    companion: GateResult | None = None
    #: history with a companion: the figure the verdict rests on (``None``: neither decided)
    decided_by: Figure | None = None
    #: history: why the companion, measured and stored, was not judged (a busy machine)
    companion_guard: MachineGuard | None = None
    #: memory: the threshold judgement (no statistics: ``verdicts/memory.py``)
    memory: MemoryJudgement | None = None
    #: another runtime's worker beside: the CPU the idle side used while the other measured,
    #: as a fraction of the measuring side's
    idle_side_cpu: float | None = None

    def settle_projection(self, measured_s: float) -> SettleProjection | None:
        """An interleaved comparison (A/B, ``reference=``, ``reference_runtime=``) left
        inconclusive by its pairs' noise alone, no machine guard: how long it would have to
        measure (``project_settle``); ``None`` for any other comparison."""
        if (
            self.guards
            or self.verdict is not GateVerdict.INCONCLUSIVE
            or self.method not in (GateMethod.AB, GateMethod.REFERENCE)
            or self.outcome is None
        ):
            return None
        return project_settle(self.outcome, measured_s)

    @property
    def ratio(self) -> float | None:
        return self._ratio()[0]

    @property
    def ratio_ci(self) -> tuple[float, float] | None:
        return self._ratio()[1]

    def _ratio(self) -> tuple[float | None, tuple[float, float] | None]:
        if self.memory is not None:
            return self.memory.ratio, None
        if self.outcome is None:
            return None, None
        return self.outcome.ratio(self.higher_is_better)

    @property
    def p_value(self) -> float | None:
        return self.outcome.p_value if self.outcome is not None else None

    @property
    def threshold(self) -> float | None:
        if self.memory is not None:
            return self.memory.threshold
        return self.outcome.threshold if self.outcome is not None else None


@dataclass
class PerfResult:
    """Common part of a latency or throughput result."""

    nodeid: str
    device: str
    precision: str
    requested_precision: str
    kind: str
    compile_ms: float
    first_inference_ms: float
    measure_s: float
    interval: Interval
    statistic: str
    #: per-block summary of the statistic the regression gate compares (ms or fps)
    blocks: list[float] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    baseline: BaselineComparison | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    #: log(model / probe) of adjacent blocks (latency, when the machine-speed probe ran)
    probe_log_ratios: list[float] = field(default_factory=list)
    #: the probe's median latency (ms) in this run (it runs sync for both kinds)
    probe_value: float | None = None
    #: the one-thread compute companion, where it was measured
    companion: CompanionFigure | None = None
    #: fraction of the machine's CPU used by other processes while measuring
    foreign_load: float | None = None
    #: when the measurement started and ended (epoch seconds, this machine's clock)
    measured_from: float | None = None
    measured_until: float | None = None
    #: seconds this measurement waited for other pytest-xdist workers to free the device
    device_wait_s: float = 0.0
    #: where the time goes, from performance counters (``--ovperf-profile``)
    profile: RuntimeProfile | None = None
    #: regression against a model at hand (A/B, reference): layer types by time gained
    attribution: list[LayerChange] = field(default_factory=list)
    #: when this result is the re-measure of a statistical failure (``confirm.py``): the
    #: first measurement's failure message, and whether this run confirmed it
    first_failure: str = ""
    confirmed: bool | None = None

    @property
    def higher_is_better(self) -> bool:
        return kind_of(self.kind).higher_is_better

    @property
    def budget_verdict(self) -> Verdict:
        verdicts = {c.verdict for c in self.checks}
        for worst in (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS):
            if worst in verdicts:
                return worst
        return Verdict.NONE

    @property
    def n(self) -> int:
        raise NotImplementedError

    @property
    def gate_value(self) -> float:
        """The figure the regression gate compares (p50 ms, or fps)."""
        raise NotImplementedError


@dataclass
class LatencyResult(PerfResult):
    latencies_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    percentile: float = 50.0

    @property
    def n(self) -> int:
        return int(self.latencies_ms.size)

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.n else math.nan

    @property
    def p50_ms(self) -> float:
        return self.p(50)

    @property
    def p90_ms(self) -> float:
        return self.p(90)

    @property
    def p99_ms(self) -> float:
        return self.p(99)

    @property
    def mean_ms(self) -> float:
        return float(self.latencies_ms.mean()) if self.n else math.nan

    @property
    def min_ms(self) -> float:
        return float(self.latencies_ms.min()) if self.n else math.nan

    @property
    def gate_value(self) -> float:
        return self.p50_ms

    def __repr__(self) -> str:
        return (
            f"LatencyResult({self.device}/{self.precision} p50={self.p50_ms:.3f}ms "
            f"p{self.percentile:g} CI=[{self.interval.low:.3f}, {self.interval.high:.3f}] "
            f"n={self.n})"
        )


@dataclass
class ThroughputResult(PerfResult):
    completed: int = 0
    requests: int = 1
    #: the device's ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` for the compiled model measured
    optimal_requests: int | None = None
    #: how long automatic batching waits for a batch to fill (``AUTO_BATCH_TIMEOUT``, ms);
    #: ``None``: the compiled model does not batch requests
    auto_batch_timeout_ms: float | None = None
    #: a meta device's timeout of a batching it may use on its GPU and does not report
    #: (``devices.possible_batch_timeout_ms``); ``None``: none
    possible_batch_timeout_ms: float | None = None

    @property
    def n(self) -> int:
        return self.completed

    @property
    def fps(self) -> float:
        return self.interval.estimate

    @property
    def gate_value(self) -> float:
        return self.fps

    def __repr__(self) -> str:
        return (
            f"ThroughputResult({self.device}/{self.precision} fps={self.fps:.1f} "
            f"CI=[{self.interval.low:.1f}, {self.interval.high:.1f}] n={self.n})"
        )


@dataclass
class LoadResult(PerfResult):
    """Load time: repeated fresh reads and compiles (``measure/startup.py``)."""

    loads_ms: tuple[float, ...] = ()
    #: the performance hint the loads compiled with
    hint: str = "LATENCY"

    @property
    def n(self) -> int:
        return len(self.loads_ms)

    @property
    def load_ms(self) -> float:
        """The geometric mean of the loads (ms)."""
        return self.interval.estimate

    @property
    def gate_value(self) -> float:
        return self.load_ms

    def __repr__(self) -> str:
        return (
            f"LoadResult({self.device}/{self.precision} load={self.load_ms:.1f}ms "
            f"CI=[{self.interval.low:.1f}, {self.interval.high:.1f}] n={self.n})"
        )


@dataclass
class MemoryResult(PerfResult):
    """Memory a compiled model keeps (``measure/memory.py``): medians over the readings."""

    memory_mb: float = math.nan
    compile_peak_mb: float | None = None
    anon_mb: float | None = None
    file_mb: float | None = None
    device_mb: float | None = None
    #: largest minus smallest reading of ``memory_mb``
    spread_mb: float = 0.0
    readings: int = 0
    #: where the readings were taken, in words
    mode: str = ""
    hint: str = "LATENCY"

    @property
    def n(self) -> int:
        return self.readings

    @property
    def gate_value(self) -> float:
        return self.memory_mb

    def __repr__(self) -> str:
        peak = f" compile peak={self.compile_peak_mb:.1f}MiB" if self.compile_peak_mb else ""
        return (
            f"MemoryResult({self.device}/{self.precision} memory={self.memory_mb:.1f}MiB"
            f"{peak} spread={self.spread_mb:.1f}MiB n={self.n})"
        )


@dataclass
class ObservedResult(PerfResult):
    """A kind another plugin added (``pytest_ovperf_kinds``): repeated observations of the
    user's own measurement, summarised as load times are (geometric mean, t-interval)."""

    values: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def gate_value(self) -> float:
        return self.interval.estimate


@dataclass
class GenerationResult(PerfResult):
    """One kind of a generation measurement (``kinds/generation.py``: ``ttft`` or ``tpot``):
    per-call figures of greedy generate calls of exactly ``new_tokens`` tokens. Both kinds'
    results carry all three figures of the measurement; ``interval`` is this kind's."""

    #: time to first token of each call, ms
    ttft_values: tuple[float, ...] = ()
    #: mean time per output token after the first of each call, ms
    tpot_values: tuple[float, ...] = ()
    ttft: Interval | None = None
    tpot: Interval | None = None
    prompt_tokens: int = 0
    new_tokens: int = 0
    #: the attention backend the pipeline ran (continuous batching "PA", stateful "SDPA")
    backend: str = ""

    @property
    def n(self) -> int:
        return len(self.tpot_values)

    @property
    def gate_value(self) -> float:
        return self.interval.estimate

    @property
    def ttft_ms(self) -> float:
        return self.ttft.estimate if self.ttft is not None else math.nan

    @property
    def tpot_ms(self) -> float:
        return self.tpot.estimate if self.tpot is not None else math.nan

    @property
    def tokens_per_s(self) -> Interval | None:
        """Output tokens per second after the first: 1000 / TPOT, with its interval."""
        return tokens_per_s(self.tpot) if self.tpot is not None else None

    def __repr__(self) -> str:
        rate = self.tokens_per_s
        return (
            f"GenerationResult({self.kind} {self.device}/{self.precision} "
            f"ttft={self.ttft_ms:.2f}ms tpot={self.tpot_ms:.3f}ms "
            f"tokens/s={rate.estimate if rate else math.nan:.1f} n={self.n})"
        )


def tokens_per_s(tpot: Interval) -> Interval:
    """Tokens per second from the time per output token (ms): the interval's bounds swap."""

    def rate(ms: float) -> float:
        return 1000.0 / ms if ms > 0 else math.inf

    return Interval(
        rate(tpot.estimate), rate(tpot.high), rate(tpot.low), tpot.confidence, tpot.method
    )


@dataclass(frozen=True)
class GenerationMeasurement:
    """What ``perf_budget.measure_generation`` returns: the figures of one measurement with
    their intervals, and its two judged results (kinds ``ttft`` and ``tpot``)."""

    ttft_result: GenerationResult
    tpot_result: GenerationResult

    @property
    def ttft_ms(self) -> Interval:
        """Time to first token: geometric mean over the calls, ms."""
        return self.ttft_result.interval

    @property
    def tpot_ms(self) -> Interval:
        """Time per output token after the first: geometric mean of the calls' means, ms."""
        return self.tpot_result.interval

    @property
    def tokens_per_s(self) -> Interval:
        """Output tokens per second after the first (1000 / TPOT)."""
        return tokens_per_s(self.tpot_result.interval)

    @property
    def load_ms(self) -> float:
        """Loading the pipeline (reading and compiling its models), one observation, ms."""
        return self.ttft_result.compile_ms

    @property
    def n(self) -> int:
        """Generate calls measured."""
        return self.ttft_result.n

    @property
    def results(self) -> tuple[GenerationResult, GenerationResult]:
        return (self.ttft_result, self.tpot_result)
