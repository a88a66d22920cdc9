"""Timed inference: warmup, blocks of measurement, and stopping on precision.

Latency follows benchmark_app's latency mode (one request, ``InferRequest.latency`` per
inference, inputs bound once). Throughput keeps an ``AsyncInferQueue`` of
``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` full and divides completions by wall time.

Measurement runs in blocks of ``block_s`` seconds. After ``min_time_s`` it stops as soon as
the interval of the measured statistic is narrower than ``target_precision`` (relative half
width), or at ``max_time_s``. Stopping looks at precision only, never at the verdict, so
it does not inflate the error rate of the budget check.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import openvino as ov

from ..runtime.models import bind_inputs
from ..verdicts.stats import Interval, mean_interval, percentile_interval, rate_interval


@dataclass(frozen=True)
class MeasureSettings:
    warmup_s: float = 0.5
    warmup_iterations: int = 5
    min_time_s: float = 1.0
    max_time_s: float = 5.0
    block_s: float = 0.2
    confidence: float = 0.95
    #: stop once the interval's half width is this fraction of the estimate
    target_precision: float = 0.01

    def validate(self) -> None:
        problems = []
        if self.warmup_s < 0 or self.warmup_iterations < 0:
            problems.append("warmup must not be negative")
        if self.min_time_s <= 0 or self.max_time_s < self.min_time_s:
            problems.append(
                f"need 0 < min time ({self.min_time_s}) <= max time ({self.max_time_s})"
            )
        if not 0 < self.confidence < 1:
            problems.append(f"confidence {self.confidence} must be inside (0, 1)")
        if self.target_precision <= 0:
            problems.append("target precision must be positive")
        if problems:
            raise ValueError("; ".join(problems))


ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class LatencySamples:
    """Per-inference latencies in ms and where each block of measurement ends."""

    latencies_ms: np.ndarray
    block_ends: tuple[int, ...]
    measure_s: float

    def block_medians(self) -> list[float]:
        starts = (0, *self.block_ends[:-1])
        return [
            float(np.median(self.latencies_ms[s:e]))
            for s, e in zip(starts, self.block_ends)
            if e > s
        ]


@dataclass(frozen=True)
class ThroughputSamples:
    """Completed inferences per block of wall time."""

    block_counts: tuple[int, ...]
    block_seconds: tuple[float, ...]
    completed: int
    measure_s: float
    requests: int

    @property
    def fps(self) -> float:
        return self.completed / self.measure_s if self.measure_s > 0 else math.nan

    def block_rates(self) -> list[float]:
        return [c / s for c, s in zip(self.block_counts, self.block_seconds) if s > 0]


def measure_latency(
    compiled: ov.CompiledModel,
    inputs: list[np.ndarray],
    settings: MeasureSettings,
    percentiles: Sequence[float] = (50.0,),
    progress: ProgressCallback | None = None,
) -> tuple[LatencySamples, dict[float, Interval]]:
    """Sync inference until every percentile in ``percentiles`` is known precisely enough."""
    request = compiled.create_infer_request()
    bind_inputs(request, inputs)
    _warm_up(request.infer, settings)

    latencies: list[float] = []
    block_ends: list[int] = []
    clock = time.perf_counter
    started = clock()
    block_deadline = started + settings.block_s
    intervals: dict[float, Interval] = {}
    while True:
        request.infer()
        latencies.append(request.latency)
        now = clock()
        if now < block_deadline:
            continue
        block_ends.append(len(latencies))
        block_deadline = now + settings.block_s
        elapsed = now - started
        if elapsed < settings.min_time_s:
            continue
        intervals = {q: percentile_interval(latencies, q, settings.confidence) for q in percentiles}
        widest = max(i.relative_half_width for i in intervals.values())
        if progress is not None:
            progress(
                "latency "
                + ", ".join(
                    f"p{q:g} {i.estimate:.3f} ms [{i.low:.3f}, {i.high:.3f}]"
                    for q, i in intervals.items()
                )
                + f" n={len(latencies)} t={elapsed:.1f}s"
            )
        # stop at the block that ends nearest max_time_s rather than one block beyond it
        if (
            elapsed >= settings.max_time_s - settings.block_s / 2
            or widest <= settings.target_precision
        ):
            break
    measure_s = clock() - started
    samples = LatencySamples(np.asarray(latencies, dtype=float), tuple(block_ends), measure_s)
    return samples, intervals


class InferPool:
    """An ``AsyncInferQueue`` of the compiled model with its inputs bound on every request.

    Sized by the device's ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` unless ``size`` is given.
    No completion callback is set: a Python callback must take the GIL before its request
    becomes idle again, which cost 2-7% of fps against benchmark_app (which sets none).
    """

    def __init__(
        self, compiled: ov.CompiledModel, inputs: list[np.ndarray], size: int | None = None
    ) -> None:
        self.compiled_model = compiled
        self.inputs = inputs
        if size is None:
            size = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.size = max(1, size)
        self.queue = ov.AsyncInferQueue(compiled, self.size)
        for index in range(self.size):
            bind_inputs(self.queue[index], inputs)

    def start(self) -> None:
        """Start one inference; blocks until a request is idle."""
        self.queue.start_async()

    def wait_all(self) -> None:
        self.queue.wait_all()

    def __repr__(self) -> str:
        return f"InferPool(requests={self.size})"


def measure_throughput(
    pool: InferPool,
    settings: MeasureSettings,
    progress: ProgressCallback | None = None,
) -> tuple[ThroughputSamples, Interval]:
    """Keep every request of ``pool`` busy until fps is known precisely enough.

    As benchmark_app does, inferences are counted when submitted and the measured time
    ends after the final drain (``wait_all``), so fps = submitted / wall time.
    """
    clock = time.perf_counter
    warm_until = clock() + settings.warmup_s
    submitted = 0
    while clock() < warm_until or submitted < max(settings.warmup_iterations, pool.size):
        pool.start()
        submitted += 1
    started = clock()
    edges = [started]
    counts: list[int] = []
    in_block = 0
    while True:
        pool.start()
        in_block += 1
        now = clock()
        if now < edges[-1] + settings.block_s:
            continue
        edges.append(now)
        counts.append(in_block)
        in_block = 0
        elapsed = now - started
        if elapsed < settings.min_time_s:
            continue
        interval = rate_interval(counts, np.diff(edges).tolist(), settings.confidence)
        if progress is not None:
            progress(
                f"throughput {interval.estimate:.1f} fps [{interval.low:.1f}, {interval.high:.1f}]"
                f" blocks={len(counts)} t={elapsed:.1f}s"
            )
        if (
            elapsed >= settings.max_time_s - settings.block_s / 2
            or interval.relative_half_width <= settings.target_precision
        ):
            break
    pool.wait_all()
    finished = clock()
    seconds = np.diff(edges).tolist()
    samples = ThroughputSamples(
        block_counts=tuple(counts),
        block_seconds=tuple(seconds),
        completed=sum(counts),
        measure_s=finished - started,
        requests=pool.size,
    )
    final = rate_interval(counts, seconds, settings.confidence)
    # centre the interval on the headline figure (all inferences over all wall time)
    half = (final.high - final.low) / 2.0
    fps = samples.fps
    return samples, Interval(fps, fps - half, fps + half, final.confidence, final.method)


def _warm_up(infer: Callable[[], Any], settings: MeasureSettings) -> None:
    deadline = time.perf_counter() + settings.warmup_s
    done = 0
    while done < settings.warmup_iterations or time.perf_counter() < deadline:
        infer()
        done += 1


@dataclass(frozen=True)
class InterleavedSamples:
    """A model and its reference measured in alternating blocks (ABBA) of one run."""

    model_blocks: tuple[float, ...]
    reference_blocks: tuple[float, ...]
    #: log(model / reference) of each adjacent pair of blocks
    log_ratios: tuple[float, ...]
    measure_s: float


def measure_interleaved(
    run_model_block: Callable[[float], float],
    run_reference_block: Callable[[float], float],
    settings: MeasureSettings,
    progress: ProgressCallback | None = None,
    reference_share: float = 1.0,
    stop_on_model: bool = False,
) -> InterleavedSamples:
    """Alternate blocks of the model and its reference in ABBA order until the mean log
    ratio is known to ``target_precision`` or ``max_time_s`` (both models together) is spent.

    Each ``run_*_block(seconds)`` runs one block and returns its summary (block median
    latency, or block fps). Pairing adjacent blocks cancels machine drift, which moves
    slower than a block pair lasts. Reference blocks last ``reference_share`` of a model
    block (a small speed probe needs less time than the model it normalises). With
    ``stop_on_model`` the precision that stops it is that of the model's own blocks (log
    scale): for a reference that only watches the machine and is not compared with.
    """
    clock = time.perf_counter
    model_blocks: list[float] = []
    reference_blocks: list[float] = []
    ratios: list[float] = []
    started = clock()
    pair = 0
    # half-length blocks: twice the pairs (degrees of freedom) in the same time
    block_s = settings.block_s / 2.0
    reference_s = block_s * reference_share
    min_time_s = settings.min_time_s * (1.0 + reference_share)
    while True:
        if pair % 2 == 0:
            a = run_model_block(block_s)
            b = run_reference_block(reference_s)
        else:
            b = run_reference_block(reference_s)
            a = run_model_block(block_s)
        pair += 1
        model_blocks.append(a)
        reference_blocks.append(b)
        ratios.append(math.log(a / b))
        elapsed = clock() - started
        if elapsed < min_time_s or len(ratios) < 4:
            continue
        stopping = np.log(model_blocks) if stop_on_model else ratios
        interval = mean_interval(stopping, settings.confidence)
        half_width = (interval.high - interval.low) / 2.0
        if progress is not None:
            progress(
                f"interleaved {'model' if stop_on_model else 'ratio'} "
                f"{math.exp(interval.estimate):.4g} "
                f"[{math.exp(interval.low):.4g}, {math.exp(interval.high):.4g}] "
                f"pairs={len(ratios)} t={elapsed:.1f}s"
            )
        next_pair_ends = elapsed * (len(ratios) + 1) / len(ratios)
        if next_pair_ends > settings.max_time_s or half_width <= settings.target_precision:
            break
    return InterleavedSamples(
        tuple(model_blocks), tuple(reference_blocks), tuple(ratios), clock() - started
    )


class LatencyBlockRunner:
    """Runs blocks of sync inference on one compiled model, keeping every latency."""

    def __init__(
        self, compiled: ov.CompiledModel, inputs: list[np.ndarray], settings: MeasureSettings
    ):
        self.request = compiled.create_infer_request()
        bind_inputs(self.request, inputs)
        _warm_up(self.request.infer, settings)
        self.latencies: list[float] = []
        self.block_ends: list[int] = []

    def __call__(self, seconds: float) -> float:
        start_index = len(self.latencies)
        deadline = time.perf_counter() + seconds
        while True:
            self.request.infer()
            self.latencies.append(self.request.latency)
            if time.perf_counter() >= deadline:
                break
        self.block_ends.append(len(self.latencies))
        return float(np.median(self.latencies[start_index:]))


class ThroughputBlockRunner:
    """Runs blocks of a full ``InferPool``, draining it at the end of every block."""

    def __init__(self, pool: InferPool, settings: MeasureSettings) -> None:
        self.pool = pool
        self.completed = 0
        self.seconds = 0.0
        self.block_counts: list[int] = []
        self.block_seconds: list[float] = []
        self(settings.warmup_s)  # warmup, then forget it
        self.completed, self.seconds = 0, 0.0
        self.block_counts.clear()
        self.block_seconds.clear()

    def __call__(self, seconds: float) -> float:
        started = time.perf_counter()
        deadline = started + seconds
        count = 0
        while time.perf_counter() < deadline:
            self.pool.start()
            count += 1
        self.pool.wait_all()
        elapsed = time.perf_counter() - started
        self.completed += count
        self.seconds += elapsed
        self.block_counts.append(count)
        self.block_seconds.append(elapsed)
        return count / elapsed
