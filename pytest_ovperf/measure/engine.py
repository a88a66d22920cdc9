"""One measurement engine per kind, used the same way whether or not a baseline exists.

The model is measured in blocks of ``block_s`` seconds (``blocks.py``). A *partner* (the
speed probe, or the test's ``reference=`` model) may run between the model's blocks in ABBA
order; pairing adjacent blocks cancels machine drift, which moves slower than a pair lasts.
After ``min_time_s`` of the model's own time the engine stops as soon as every tracked
interval is narrower than ``target_precision`` (relative half width), or before
``max_time_s`` (model and partner together) would be exceeded. That rule looks at
precision only, never at a verdict, so it does not inflate the error rate of any check.

A partner compared by a group-sequential test (``SequentialLooks``: the baseline's own model
in an A/B comparison) stops instead at the first of a fixed number of looks, evenly spread
over ``max_time_s``, at which its verdict is settled; each look is judged at its
O'Brien-Fleming level (``verdicts/sequential.py``), so looking early costs no false alarms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, cast, runtime_checkable

import numpy as np
import openvino as ov

from ..verdicts.stats import Interval, mean_interval, percentile_interval, rate_interval
from .blocks import InferPool, LatencyBlocks, ThroughputBlocks
from .settings import MIN_BLOCKS, MeasureSettings

BlockRunner = Callable[[float], float]


@dataclass(frozen=True)
class SequentialLooks:
    """Stop at the first of ``count`` looks (due at k/count of the time budget, none before
    the minimum time; the last is the final verdict at the budget's end) at which
    ``settled(log_ratios, look)`` says the verdict is decided."""

    count: int
    settled: Callable[[Sequence[float], int], bool]


class PartnerRunner(Protocol):
    """What runs a partner's blocks: a block runner of this process (``LatencyBlocks``,
    ``ThroughputBlocks``) or the worker of another OpenVINO runtime (``runtime/side/``)."""

    def __call__(self, seconds: float) -> float:
        """Run one block of about ``seconds``; its summary (median ms, or fps)."""
        ...

    @property
    def value(self) -> float:
        """The headline figure over every block run."""
        ...


@runtime_checkable
class SteadyBlocks(Protocol):
    """A throughput runner whose blocks need a length of their own (a steady window), and
    whose queue completes once in ``request_latency_s`` (``None``: not known)."""

    block_s: float
    request_latency_s: float | None


@dataclass(frozen=True)
class Partner:
    """A workload measured interleaved with the model."""

    runner: PartnerRunner
    #: a partner block lasts this fraction of a model block
    share: float
    #: whether the model/partner ratio is compared, so its precision also decides stopping
    compared: bool
    #: stop on a settled verdict at fixed looks instead of on precision
    looks: SequentialLooks | None = None


@dataclass(frozen=True)
class Companion:
    """A second figure of the same model measured within the same time cap, in blocks
    beside the model's (the one-thread compute companion, ``partners/``): not paired
    with the model, only summarised and stored."""

    runner: LatencyBlocks
    #: a companion block lasts this fraction of a model block
    share: float


@dataclass(frozen=True)
class CompanionSamples:
    """What the companion measured: its block medians (ms) and its median latency (ms)."""

    blocks: tuple[float, ...]
    value: float


@dataclass(frozen=True)
class Progress:
    """Where a measurement stands, for a live progress line."""

    kind: str
    elapsed_s: float
    blocks: int
    intervals: dict[str, Interval]


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class PartnerSamples:
    """What the partner measured, and how the model compared with it block by block."""

    blocks: tuple[float, ...]
    #: the partner's headline figure: median latency (ms) or fps
    value: float
    #: log(model block / partner block) of each adjacent pair
    log_ratios: tuple[float, ...]
    #: with sequential looks: the look (0-based) whose verdict is the final one: the look
    #: that stopped the measurement, else the last (the time budget ended it)
    look: int | None = None


@dataclass(frozen=True)
class LatencySamples:
    latencies_ms: np.ndarray
    #: median latency of each block of the model
    block_medians: tuple[float, ...]
    measure_s: float
    partner: PartnerSamples | None
    companion: CompanionSamples | None = None

    def interval(self, q: float, confidence: float) -> Interval:
        return percentile_interval(self.latencies_ms, q, confidence)


@dataclass(frozen=True)
class ThroughputSamples:
    #: completions and seconds of each block's steady window (``blocks.ThroughputBlocks``)
    block_counts: tuple[int, ...]
    block_seconds: tuple[float, ...]
    measure_s: float
    partner: PartnerSamples | None
    companion: CompanionSamples | None = None
    #: inferences submitted in all blocks
    completed: int = 0

    def block_rates(self) -> list[float]:
        return [c / s for c, s in zip(self.block_counts, self.block_seconds) if s > 0]

    def interval(self, confidence: float) -> Interval:
        """fps = the steady windows' completions over their time, with the t-interval of the
        blocks."""
        return rate_interval(self.block_counts, self.block_seconds, confidence)


@dataclass(frozen=True)
class Interleaved:
    """Block summaries of the model, and of its partner when there is one."""

    model_blocks: tuple[float, ...]
    partner_blocks: tuple[float, ...]
    log_ratios: tuple[float, ...]
    measure_s: float
    #: see ``PartnerSamples.look``
    look: int | None = None
    companion_blocks: tuple[float, ...] = ()


def run_blocks(
    model: BlockRunner,
    partner: BlockRunner | None,
    settings: MeasureSettings,
    model_precision: Callable[[], dict[str, Interval]],
    *,
    partner_share: float = 1.0,
    compare_partner: bool = False,
    looks: SequentialLooks | None = None,
    block_s: float | None = None,
    kind: str = "",
    progress: ProgressCallback | None = None,
    companion: BlockRunner | None = None,
    companion_share: float = 0.0,
) -> Interleaved:
    """Run blocks of ``model`` (ABBA-interleaved with ``partner``) until precise enough.

    ``model_precision()`` gives the intervals of the model's statistics so far; with
    ``compare_partner`` the interval of the mean log ratio model/partner must be precise too.
    With ``looks`` (and a partner) it stops at the first look whose verdict is settled.
    ``block_s`` overrides the settings' model block length. A ``companion`` runs a block of
    ``companion_share`` of the model's in every round, on the far side of the partner
    (model, partner, companion; then companion, partner, model), so that the model and its
    partner stay adjacent.
    """
    clock = time.perf_counter
    model_blocks: list[float] = []
    partner_blocks: list[float] = []
    companion_blocks: list[float] = []
    ratios: list[float] = []
    model_s = settings.block_s if block_s is None else block_s
    partner_s = model_s * partner_share
    companion_s = model_s * companion_share
    min_time_s = settings.min_time_s * (
        1.0 + (partner_share if partner else 0.0) + (companion_share if companion else 0.0)
    )
    sequential = looks if partner is not None else None
    look_times = (
        [settings.max_time_s * (k + 1) / sequential.count for k in range(sequential.count)]
        if sequential is not None
        else []
    )
    looks_passed = 0
    final_look = sequential.count - 1 if sequential is not None else None
    started = clock()
    while True:
        companion_first = companion is not None and len(model_blocks) % 2 == 1
        if companion is not None and companion_first:
            companion_blocks.append(companion(companion_s))
        if partner is None:
            model_blocks.append(model(model_s))
        else:
            if len(model_blocks) % 2 == 0:
                a = model(model_s)
                b = partner(partner_s)
            else:
                b = partner(partner_s)
                a = model(model_s)
            model_blocks.append(a)
            partner_blocks.append(b)
            ratios.append(math.log(a / b))
        if companion is not None and not companion_first:
            companion_blocks.append(companion(companion_s))
        elapsed = clock() - started
        if elapsed < min_time_s or len(model_blocks) < MIN_BLOCKS:
            continue
        intervals = dict(model_precision())
        if partner is not None and compare_partner:
            log_interval = mean_interval(ratios, settings.confidence)
            intervals["ratio"] = Interval(
                math.exp(log_interval.estimate),
                math.exp(log_interval.low),
                math.exp(log_interval.high),
                log_interval.confidence,
                "paired t over block pairs",
            )
            ratio_half_width = (log_interval.high - log_interval.low) / 2.0
        else:
            ratio_half_width = 0.0
        widest = max(
            [ratio_half_width]
            + [i.relative_half_width for name, i in intervals.items() if name != "ratio"]
        )
        if progress is not None:
            progress(Progress(kind, elapsed, len(model_blocks), intervals))
        next_block_ends = elapsed * (len(model_blocks) + 1) / len(model_blocks)
        if next_block_ends > settings.max_time_s:
            break
        if sequential is None:
            if widest <= settings.target_precision:
                break
            continue
        reached = sum(1 for t in look_times if elapsed >= t)
        if reached > looks_passed:
            looks_passed = reached
            if sequential.settled(ratios, reached - 1):
                final_look = reached - 1
                break
    return Interleaved(
        tuple(model_blocks),
        tuple(partner_blocks),
        tuple(ratios),
        clock() - started,
        final_look,
        tuple(companion_blocks),
    )


def _run_with(
    model: LatencyBlocks | ThroughputBlocks,
    partner: Partner | None,
    settings: MeasureSettings,
    precision: Callable[[], dict[str, Interval]],
    kind: str,
    progress: ProgressCallback | None,
    block_s: float | None = None,
    companion: Companion | None = None,
) -> tuple[Interleaved, PartnerSamples | None, CompanionSamples | None]:
    """``run_blocks`` for a model, its (optional) partner and companion, and what those
    measured."""
    run = run_blocks(
        model,
        partner.runner if partner else None,
        settings,
        precision,
        partner_share=partner.share if partner else 1.0,
        compare_partner=partner.compared if partner else False,
        looks=partner.looks if partner else None,
        block_s=block_s,
        kind=kind,
        progress=progress,
        companion=companion.runner if companion else None,
        companion_share=companion.share if companion else 0.0,
    )
    companion_samples = (
        CompanionSamples(run.companion_blocks, companion.runner.value)
        if companion is not None and run.companion_blocks
        else None
    )
    if partner is None:
        return run, None, companion_samples
    samples = PartnerSamples(run.partner_blocks, partner.runner.value, run.log_ratios, run.look)
    return run, samples, companion_samples


def measure_latency(
    compiled: ov.CompiledModel,
    inputs: list[np.ndarray],
    settings: MeasureSettings,
    percentiles: Sequence[float] = (50.0,),
    partner: Partner | None = None,
    progress: ProgressCallback | None = None,
    companion: Companion | None = None,
) -> LatencySamples:
    """Sync inference until every percentile in ``percentiles`` is known precisely enough."""
    model = LatencyBlocks(compiled, inputs, settings)

    def precision() -> dict[str, Interval]:
        return {
            f"p{q:g}": percentile_interval(model.latencies, q, settings.confidence)
            for q in percentiles
        }

    run, partner_samples, companion_samples = _run_with(
        model, partner, settings, precision, "latency", progress, companion=companion
    )
    return LatencySamples(
        np.asarray(model.latencies, dtype=float),
        run.model_blocks,
        run.measure_s,
        partner_samples,
        companion_samples,
    )


def paired_throughput_blocks(
    model: SteadyBlocks, partner: Partner, longest_s: float = math.inf
) -> tuple[float, Partner]:
    """The model's block length, and the partner with its share of it, when a throughput
    partner is paired with the model: both long enough for a steady window, and each side's
    blocks as many of its own request latencies long (times the partner's share: every
    paired throughput partner has share 1). A pair compares each block's median cycle of the
    whole queue (``loops.py``), so each side's median is taken over as many cycles; and
    where a block is too short for its cycles it falls back to its whole rate, which reads
    low by a fill and a drain of about a fixed share of a request latency per block: blocks
    of the same number of request latencies lose the same share of their time on both sides,
    so the pair's ratio cancels it whatever the two speeds. Each side keeps its own shortest
    block, so two sides of very different speeds whose fast side is held at 0.1 s
    (``MeasureSettings.block_s``) get fewer pairs than blocks of equal seconds would give.
    Neither side's block is longer than ``longest_s`` (``MeasureSettings.longest_block_s``)
    unless its own shortest is, nor shorter than its own. Without both request latencies
    both last as long."""
    runner = cast(SteadyBlocks, partner.runner)
    model_latency_s, partner_latency_s = model.request_latency_s, runner.request_latency_s
    if not (
        model_latency_s is not None
        and partner_latency_s is not None
        and all(math.isfinite(s) and s > 0 for s in (model_latency_s, partner_latency_s))
    ):
        return max(model.block_s, runner.block_s / partner.share), partner
    partner_cycle_s = partner_latency_s * partner.share
    cycles = min(
        max(model.block_s / model_latency_s, runner.block_s / partner_cycle_s),
        longest_s / max(model_latency_s, partner_cycle_s),
    )
    # where the cap binds, neither side drops below its own block (which the cap already
    # bounds): the sides' cycle counts then differ, a small bias against a block shorter
    # than one cycle of its queue
    model_block_s = max(cycles * model_latency_s, model.block_s)
    partner_block_s = max(cycles * partner_cycle_s, runner.block_s)
    return model_block_s, replace(partner, share=partner_block_s / model_block_s)


def measure_throughput(
    pool: InferPool,
    settings: MeasureSettings,
    partner: Partner | None = None,
    progress: ProgressCallback | None = None,
    companion: Companion | None = None,
) -> ThroughputSamples:
    """Keep every request of ``pool`` busy, block by block, until fps is known precisely
    enough."""
    model = ThroughputBlocks(pool, settings)

    def precision() -> dict[str, Interval]:
        return {"fps": rate_interval(model.block_counts, model.block_seconds, settings.confidence)}

    block_s = model.block_s
    if partner is not None and isinstance(partner.runner, SteadyBlocks):
        block_s, partner = paired_throughput_blocks(model, partner, settings.longest_block_s)
    run, partner_samples, companion_samples = _run_with(
        model, partner, settings, precision, "throughput", progress, block_s, companion
    )
    return ThroughputSamples(
        tuple(model.block_counts),
        tuple(model.block_seconds),
        run.measure_s,
        partner_samples,
        companion_samples,
        model.completed,
    )
