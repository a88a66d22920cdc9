"""The timed loops of a block, and the performance counters' loop, and nothing else: what
``blocks.py`` and ``runtime/profile.py`` run in this process and what the side-runtime worker
(``runtime/side/worker.py``) runs under another OpenVINO release, so that both sides of a
comparison are measured (and profiled) the same way.

This module imports nothing from ``pytest_ovperf`` (only the standard library and numpy, and
openvino's types for the type checker alone): the worker runs in a side Python environment
where pytest_ovperf is not installed and loads this file as a top-level module. Keep it so.

Latency (benchmark_app's latency mode): one request, inputs bound once, a block's figure is
the median of ``InferRequest.latency`` over the inferences of its time slice.

Throughput: an ``AsyncInferQueue`` kept full and drained at the end of every block (so that
another workload can run between blocks without contention). Each block is counted three ways:

* its *steady rate*, the headline fps: once the queue is full, every submission returns when a
  request completes, so the completions between the ``STEADY_SKIP``-th request latency's
  submission and the last one, over the time between them, leave out the fill at the block's
  start (streams started in lockstep, refilling slowly) and the drain at its end. It reads
  what continuous submission (benchmark_app) reads. A block too short for a steady window is
  counted whole.
* its *cycle rate*, what a paired comparison pairs (``measure/engine.run_blocks``): the time
  from one completion to the ``size``-th after it is one cycle of the whole queue, and the
  block's rate is ``size`` over its median cycle (``median_cycle_rate``). No cycle holds the
  fill or the drain, so the rate carries no bias from them at any block length, and like a
  latency block's median it is not moved by a stall of the host that the block's mean rate
  absorbs (BENCHMARKS.md, "Throughput pairs on the median cycle").
  A block too short for a whole queue's worth of cycles (a slow queue whose blocks the time
  cap shortens) is paired by its completions' mean rate instead (``paired_rate``), fill
  and drain left out as well, so that the two sides of a pair stay on one scale whichever
  of them falls back. The median reads the typical cycle, as latency's p50 reads the
  typical inference: a slowdown confined to occasional inferences moves the headline fps
  and not the pair (docs/statistics.md).
* its *whole rate*: every inference submitted over the block's whole time, fill and drain
  included; what a pair compared before the cycle rate (it reads low by about a quarter of
  a request latency per block, a loss both sides of a pair share when their blocks span as
  many of their own request latencies); a block with fewer than two completions before its
  drain is paired by it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

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
#: the shortest throughput warm-up block (s)
_SHORTEST_BLOCK_S = 1e-3


class SyncRequest(Protocol):
    """What a latency block needs of an ``openvino.InferRequest``."""

    def infer(self) -> Any: ...

    @property
    def latency(self) -> float: ...


def warm_up(infer: Callable[[], Any], seconds: float, iterations: int) -> int:
    """Call ``infer`` for at least ``seconds`` and at least ``iterations`` times; returns how
    many times it was called."""
    deadline = time.perf_counter() + seconds
    done = 0
    while done < iterations or time.perf_counter() < deadline:
        infer()
        done += 1
    return done


def latency_block(request: SyncRequest, seconds: float, latencies: list[float]) -> float:
    """One latency block: sync inferences until ``seconds`` have passed (one at least), each
    one's ``request.latency`` (ms) appended to ``latencies``; returns the block's median."""
    clock = time.perf_counter
    start_index = len(latencies)
    deadline = clock() + seconds
    while True:
        request.infer()
        latencies.append(request.latency)
        if clock() >= deadline:
            break
    return float(np.median(latencies[start_index:]))


class ThroughputBlock(NamedTuple):
    """One throughput block: the completions and seconds of its steady window (or of the
    whole block, drain included, when it was too short for one), the inferences submitted in
    all, the block's whole time, drain included, and what a pair compares (``paired_rate``)
    (module docstring)."""

    completions: int
    window_s: float
    submitted: int
    elapsed_s: float
    #: what a pair compares (fps): ``paired_rate`` of the block's returns
    paired_rate: float

    @property
    def steady_rate(self) -> float:
        """The steady window's rate (fps): the headline's evidence."""
        return self.completions / self.window_s

    @property
    def whole_rate(self) -> float:
        """The whole block's rate (fps), fill and drain included."""
        return self.submitted / self.elapsed_s


def throughput_block(
    start: Callable[[], Any],
    wait_all: Callable[[], Any],
    size: int,
    seconds: float,
    whole_queues: bool = False,
    returns: list[float] | None = None,
) -> ThroughputBlock:
    """One throughput block on a queue of ``size`` requests: ``start()`` submits one
    inference (blocking until a request is idle: ``AsyncInferQueue.start_async``),
    ``wait_all()`` drains the queue. Submits until ``seconds`` have passed, then drains;
    ``returns``, where given, gets the time (s from the block's start) each ``start()``
    returned, and last the drain's end (``paired_rate`` counts them; a bench may count them
    other ways);
    with ``whole_queues`` (a queue that automatic batching may run, ``may_batch``) it stops
    at a multiple of ``size`` submissions, so that the drain leaves no batch half full to
    wait out its timeout (``BATCH:CPU(4)``: a 0.1 s block drained in 1.1 s, 10x slower,
    whenever its count was not a multiple of 4)."""
    clock = time.perf_counter
    started = clock()
    deadline = started + seconds
    # the k-th submission returns when the (k - size)-th request completes
    opens_at = (1 + STEADY_SKIP) * size
    count, opened = 0, 0.0
    times: list[float] = []
    while True:
        start()
        count += 1
        now = clock()
        times.append(now - started)
        if count == opens_at:
            opened = now
        if now >= deadline and not (whole_queues and count % size):
            break
    wait_all()
    elapsed = clock() - started
    times.append(elapsed)
    if returns is not None:
        returns.extend(times)
    steady = count - opens_at
    if steady >= STEADY_MIN_CYCLES * size and now > opened:
        completions, window = steady, now - opened
    else:  # too short for a steady window: the whole block, fill and drain included
        completions, window = count, elapsed
    return ThroughputBlock(completions, window, count, elapsed, paired_rate(times, size))


def median_cycle_rate(returns: Sequence[float], size: int) -> float:
    """A throughput block's rate from its submissions' return times (``throughput_block``'s
    ``returns``, the drain's end last): once the queue is full, the k-th submission returns
    when the (k - size)-th request completes, so the time from one completion to the
    ``size``-th after it is one cycle of the whole queue, and the rate is ``size`` over the
    block's median cycle. Neither the fill (the first ``size`` returns, at once) nor the
    drain is in a cycle, and a stall of the host moves the median no more than it moves a
    latency block's. NaN where the block holds fewer than ``size`` cycles."""
    done = np.asarray(returns[:-1], dtype=float)
    # cycle k (k >= size): from the return at k to the one a whole queue later
    cycles = done[2 * size :] - done[size : done.size - size]
    if cycles.size < size:
        return math.nan
    return size / float(np.median(cycles))


def paired_rate(returns: Sequence[float], size: int) -> float:
    """What a pair compares of a throughput block (fps), from its submissions' return times
    (the drain's end last): ``median_cycle_rate``; where the block holds too few cycles, its
    completions (the returns after the first ``size``) over the time from the first to the
    last of them, its mean rate, fill and drain left out as well; where fewer than two, its
    whole rate (every submission over the block's whole time)."""
    rate = median_cycle_rate(returns, size)
    if math.isfinite(rate):
        return rate
    done = returns[size:-1]
    if len(done) >= 2 and done[-1] > done[0]:
        return (len(done) - 1) / (done[-1] - done[0])
    return (len(returns) - 1) / returns[-1]


def pooled_rate(blocks: Sequence[ThroughputBlock]) -> float:
    """The steady windows' completions over their time (fps); NaN without any time."""
    seconds = sum(block.window_s for block in blocks)
    return sum(block.completions for block in blocks) / seconds if seconds > 0 else float("nan")


def throughput_warm_up(
    start: Callable[[], Any],
    wait_all: Callable[[], Any],
    size: int,
    seconds: float,
    iterations: int,
    whole_queues: bool = False,
) -> list[ThroughputBlock]:
    """Warm a queue up with one block of the same kind (``seconds`` long), then short blocks
    until ``iterations`` and a whole queue's worth of inferences were submitted; returns
    those blocks (their ``pooled_rate`` sizes the measured blocks). ``whole_queues``: as
    ``throughput_block``."""
    blocks = [
        throughput_block(start, wait_all, size, max(seconds, _SHORTEST_BLOCK_S), whole_queues)
    ]
    while sum(block.submitted for block in blocks) < max(iterations, size):
        blocks.append(throughput_block(start, wait_all, size, _SHORTEST_BLOCK_S, whole_queues))
    return blocks


class CompiledProperties(Protocol):
    """What ``may_batch`` reads of an ``openvino.CompiledModel``."""

    def get_property(self, name: str) -> Any: ...


#: the compiled-model property of automatic batching (the ``BATCH`` device, which the GPU
#: plugin puts under a THROUGHPUT compile): how long a request waits for its batch to fill
AUTO_BATCH_TIMEOUT = "AUTO_BATCH_TIMEOUT"


def batch_timeout_ms(compiled: CompiledProperties) -> float | None:
    """How long (ms) a request of ``compiled`` waits for its batch to fill, where automatic
    batching runs it; ``None`` where it does not (the property is then not supported)."""
    try:
        supported = [str(p) for p in compiled.get_property("SUPPORTED_PROPERTIES")]
        if AUTO_BATCH_TIMEOUT not in supported:
            return None
        return float(compiled.get_property(AUTO_BATCH_TIMEOUT))
    except (RuntimeError, TypeError, ValueError):
        return None


def may_batch(compiled: CompiledProperties) -> bool:
    """Whether automatic batching may run ``compiled``: it reports its timeout, or it runs
    on a GPU under the THROUGHPUT hint (AUTO's and HETERO's compiled models do not report
    the batching of their GPU)."""
    if batch_timeout_ms(compiled) is not None:
        return True
    try:
        executing = [str(d) for d in compiled.get_property("EXECUTION_DEVICES")]
        hint = str(compiled.get_property("PERFORMANCE_HINT"))
    except (RuntimeError, TypeError):
        return False
    return "THROUGHPUT" in hint and any(d.split(".")[0] == "GPU" for d in executing)


def throughput_block_s(
    request_latency_s: float, block_s: float, longest_s: float = float("inf")
) -> float:
    """The length of a model's throughput blocks: ``block_s``, but long enough for a steady
    window (``STEADY_SKIP + STEADY_LATENCIES`` request latencies: the whole queue completes
    once in a request latency, ``size / rate``), and no longer than ``longest_s`` (a block
    that short gets a shorter steady window, or none and is counted whole:
    ``throughput_block``)."""
    return max(block_s, min((STEADY_SKIP + STEADY_LATENCIES) * request_latency_s, longest_s))


#: inferences a profile times (the median per layer is kept)
PROFILE_ITERATIONS = 10


class ProfiledRequest(Protocol):
    """A request compiled with ``PERF_COUNT`` (``openvino.InferRequest``)."""

    def infer(self) -> Any: ...

    @property
    def profiling_info(self) -> Any: ...


def executed_layer_times(
    request: ProfiledRequest, iterations: int, executed: Any
) -> tuple[dict[str, list[float]], dict[str, tuple[str, str]]]:
    """Run ``request`` ``iterations`` times and read its performance counters: per layer
    that ran (its status is ``executed``, ``openvino.ProfilingInfo.Status.EXECUTED``), the
    times in microseconds, and its (type, kernel)."""
    samples: dict[str, list[float]] = {}
    kinds: dict[str, tuple[str, str]] = {}
    for _ in range(iterations):
        request.infer()
        for info in request.profiling_info:
            if info.status != executed:
                continue
            samples.setdefault(info.node_name, []).append(info.real_time.total_seconds() * 1e6)
            kinds[info.node_name] = (info.node_type, info.exec_type)
    return samples, kinds
