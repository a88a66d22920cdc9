"""Block runners: one block of timed inference of one workload, keeping every sample.

Latency follows benchmark_app's latency mode (one request, ``InferRequest.latency`` per
inference, inputs bound once). Throughput keeps an ``AsyncInferQueue`` of
``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` full and drains it at the end of every block, so that
another workload can run between blocks without contention. A block's fps is its steady
rate: once the queue is full, every submission returns when a request completes, so the
completions between the ``STEADY_SKIP``-th request latency's submission and the last one,
over the time between them, leave out the fill at the block's start (streams started in
lockstep, refilling slowly) and the drain at its end. Counting the whole block instead
(submitted / (block time + drain)) read a quarter of a request latency per block low (the
PP-OCR detector at 2 x 17 ms: 0.1 s blocks 4-5% below continuous submission, 0.3 s blocks
1%), which forced blocks of 25 request latencies and so few block pairs in an A/B
comparison. A block too short for a steady window is counted whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import openvino as ov

from ..runtime.models import bind_inputs
from .settings import MeasureSettings


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


def warm_up(infer: Callable[[], Any], settings: MeasureSettings) -> None:
    deadline = time.perf_counter() + settings.warmup_s
    done = 0
    while done < settings.warmup_iterations or time.perf_counter() < deadline:
        infer()
        done += 1


class LatencyBlocks:
    """Blocks of sync inference on one compiled model; a block's summary is its median
    latency (ms)."""

    def __init__(
        self, compiled: ov.CompiledModel, inputs: list[np.ndarray], settings: MeasureSettings
    ) -> None:
        self.request = compiled.create_infer_request()
        bind_inputs(self.request, inputs)
        warm_up(self.request.infer, settings)
        self.latencies: list[float] = []

    def __call__(self, seconds: float) -> float:
        start_index = len(self.latencies)
        deadline = time.perf_counter() + seconds
        while True:
            self.request.infer()
            self.latencies.append(self.request.latency)
            if time.perf_counter() >= deadline:
                break
        return float(np.median(self.latencies[start_index:]))

    @property
    def value(self) -> float:
        """The headline figure: median latency (ms) over every block."""
        return float(np.median(self.latencies))


#: request latencies (cycles of the whole queue) left out at the start of a block before its
#: steady window opens
STEADY_SKIP = 2
#: request latencies a block's steady window spans (at least): a block lasts
#: ``STEADY_SKIP + STEADY_LATENCIES`` request latencies at least
STEADY_LATENCIES = 6
#: fewest whole-queue cycles a steady window must hold, else the block is counted whole
#: (well below ``STEADY_LATENCIES``: a block of the planned length always keeps its window,
#: whether its last cycle ends just before or just after the deadline)
STEADY_MIN_CYCLES = 2


class ThroughputBlocks:
    """Blocks of a full ``InferPool``, drained at the end of every block; a block's summary
    is its steady fps (module docstring)."""

    def __init__(self, pool: InferPool, settings: MeasureSettings) -> None:
        self.pool = pool
        #: completions and seconds of each block's steady window (the rate's evidence)
        self.block_counts: list[int] = []
        self.block_seconds: list[float] = []
        #: inferences submitted in each block, the window's and the rest
        self.submitted: list[int] = []
        # warm up with one block of the same kind, then forget it
        self(max(settings.warmup_s, 1e-3))
        while sum(self.submitted) < max(settings.warmup_iterations, pool.size):
            self(1e-3)
        #: one request's latency: the whole queue completes once in it
        self.request_latency_s = pool.size / self.value
        #: the length of this model's blocks
        self.block_s = max(
            settings.block_s, (STEADY_SKIP + STEADY_LATENCIES) * self.request_latency_s
        )
        self.block_counts.clear()
        self.block_seconds.clear()
        self.submitted.clear()

    def __call__(self, seconds: float) -> float:
        clock = time.perf_counter
        started = clock()
        deadline = started + seconds
        # the k-th submission returns when the (k - size)-th request completes
        opens_at = (1 + STEADY_SKIP) * self.pool.size
        count, opened = 0, 0.0
        while True:
            self.pool.start()
            count += 1
            now = clock()
            if count == opens_at:
                opened = now
            if now >= deadline:
                break
        self.pool.wait_all()
        elapsed = clock() - started
        steady = count - opens_at
        if steady >= STEADY_MIN_CYCLES * self.pool.size and now > opened:
            completions, window = steady, now - opened
        else:  # too short for a steady window: the whole block, fill and drain included
            completions, window = count, elapsed
        self.block_counts.append(completions)
        self.block_seconds.append(window)
        self.submitted.append(count)
        return completions / window

    @property
    def completed(self) -> int:
        """Inferences submitted (and completed) in the measured blocks."""
        return sum(self.submitted)

    @property
    def value(self) -> float:
        """The headline figure: the steady windows' completions over their time (fps)."""
        seconds = sum(self.block_seconds)
        return sum(self.block_counts) / seconds if seconds > 0 else float("nan")
