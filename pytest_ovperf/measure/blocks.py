"""Block runners: one block of timed inference of one workload, keeping every sample.

Latency follows benchmark_app's latency mode (one request, ``InferRequest.latency`` per
inference, inputs bound once). Throughput keeps an ``AsyncInferQueue`` of
``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` full and drains it at the end of every block, so that
another workload can run between blocks without contention; its headline fps is the steady
windows' rate, and what a comparison pairs is each block's rate over its median cycle of
the whole queue (``loops.median_cycle_rate``). The timed loops
themselves live in ``loops.py`` (its docstring says how a block is counted), shared with the
side-runtime worker, which measures another OpenVINO release the same way.
"""

from __future__ import annotations

# the tests stand in for the clock through ``blocks.time.perf_counter`` (the time module
# that loops.py reads)
import time  # noqa: F401
from collections.abc import Callable
from typing import Any

import numpy as np
import openvino as ov

from ..runtime.models import bind_inputs
from . import loops
from .loops import STEADY_LATENCIES, STEADY_MIN_CYCLES, STEADY_SKIP
from .settings import MeasureSettings

__all__ = [
    "STEADY_LATENCIES",
    "STEADY_MIN_CYCLES",
    "STEADY_SKIP",
    "InferPool",
    "LatencyBlocks",
    "ThroughputBlocks",
    "warm_up",
]


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
        #: the device's own number of requests to keep in flight
        self.optimal_size = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.size = max(1, self.optimal_size if size is None else size)
        #: blocks end at whole queues, so that no batch waits out its timeout at the drain
        #: (``loops.throughput_block``)
        self.whole_queues = loops.may_batch(compiled)
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
    loops.warm_up(infer, settings.warmup_s, settings.warmup_iterations)


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
        return loops.latency_block(self.request, seconds, self.latencies)

    @property
    def value(self) -> float:
        """The headline figure: median latency (ms) over every block."""
        return float(np.median(self.latencies))


class ThroughputBlocks:
    """Blocks of a full ``InferPool``, drained at the end of every block. A block's summary,
    what ``run_blocks`` pairs, is its cycle rate; the headline and its interval come from the
    steady windows (``loops.py``'s docstring says why each)."""

    def __init__(self, pool: InferPool, settings: MeasureSettings) -> None:
        self.pool = pool
        #: completions and seconds of each block's steady window (the rate's evidence)
        self.block_counts: list[int] = []
        self.block_seconds: list[float] = []
        #: inferences submitted in each block, the window's and the rest
        self.submitted: list[int] = []
        # warm up with blocks of the same kind, then forget them
        warm = loops.throughput_warm_up(
            pool.start,
            pool.wait_all,
            pool.size,
            settings.warmup_s,
            settings.warmup_iterations,
            pool.whole_queues,
        )
        latency_s = pool.size / loops.pooled_rate(warm)
        #: one request's latency: the whole queue completes once in it
        self.request_latency_s: float | None = latency_s
        #: the length of this model's blocks
        self.block_s = loops.throughput_block_s(
            latency_s, settings.block_s, settings.longest_block_s
        )

    def __call__(self, seconds: float) -> float:
        pool = self.pool
        block = loops.throughput_block(
            pool.start, pool.wait_all, pool.size, seconds, pool.whole_queues
        )
        self.block_counts.append(block.completions)
        self.block_seconds.append(block.window_s)
        self.submitted.append(block.submitted)
        return block.paired_rate

    @property
    def completed(self) -> int:
        """Inferences submitted (and completed) in the measured blocks."""
        return sum(self.submitted)

    @property
    def value(self) -> float:
        """The headline figure: the steady windows' completions over their time (fps)."""
        seconds = sum(self.block_seconds)
        return sum(self.block_counts) / seconds if seconds > 0 else float("nan")
