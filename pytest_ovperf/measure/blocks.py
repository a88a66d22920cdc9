"""Block runners: one block of timed inference of one workload, keeping every sample.

Latency follows benchmark_app's latency mode (one request, ``InferRequest.latency`` per
inference, inputs bound once). Throughput keeps an ``AsyncInferQueue`` of
``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` full, counts inferences at submission and drains the
queue at the end of every block, so a block's fps = submitted / (block time + drain). With
``n`` requests of latency ``L`` in flight that is ``n (1 + T/L) / (T + L) = n / L`` in
theory; in practice the streams finish out of step and the pipeline refills slowly, which
cost a quarter of ``L`` per block (the PP-OCR detector at 2 x 17 ms: 0.1 s blocks read 4-5%
below continuous submission, 0.3 s blocks 1%). So a throughput block lasts at least
``DRAIN_LATENCIES`` request latencies. Draining lets another workload run between blocks
without contention.
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


#: a throughput block lasts at least this many latencies of one request, so that the drain
#: at its end costs under 1% of the block's fps (see the module docstring)
DRAIN_LATENCIES = 25


class ThroughputBlocks:
    """Blocks of a full ``InferPool``, drained at the end of every block; a block's summary
    is its fps."""

    def __init__(self, pool: InferPool, settings: MeasureSettings) -> None:
        self.pool = pool
        self.block_counts: list[int] = []
        self.block_seconds: list[float] = []
        # warm up with one block of the same kind, then forget it
        self(max(settings.warmup_s, 1e-3))
        while self.completed < max(settings.warmup_iterations, pool.size):
            self(1e-3)
        request_latency_s = pool.size / self.value
        #: the length of this model's blocks
        self.block_s = max(settings.block_s, DRAIN_LATENCIES * request_latency_s)
        self.block_counts.clear()
        self.block_seconds.clear()

    def __call__(self, seconds: float) -> float:
        started = time.perf_counter()
        deadline = started + seconds
        count = 0
        while True:
            self.pool.start()
            count += 1
            if time.perf_counter() >= deadline:
                break
        self.pool.wait_all()
        elapsed = time.perf_counter() - started
        self.block_counts.append(count)
        self.block_seconds.append(elapsed)
        return count / elapsed

    @property
    def completed(self) -> int:
        return sum(self.block_counts)

    @property
    def value(self) -> float:
        """The headline figure: every inference over all measured wall time (fps)."""
        seconds = sum(self.block_seconds)
        return self.completed / seconds if seconds > 0 else float("nan")
