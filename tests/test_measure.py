"""The measurement engine's stopping rule, with stand-in block runners."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from pytest_ovperf.measure.engine import (
    Partner,
    SequentialLooks,
    paired_throughput_blocks,
    run_blocks,
)
from pytest_ovperf.measure.settings import MIN_BLOCKS, MeasureSettings
from pytest_ovperf.verdicts.stats import Interval, mean_interval

#: a minimum time shorter than 4 blocks, so the 4-block minimum decides the first check
SETTINGS = MeasureSettings(warmup_s=0.0, min_time_s=0.001, max_time_s=0.4, block_s=0.01)


def steady_model(seconds: float) -> float:
    time.sleep(seconds)
    return 100.0


def noisy_runner(seed: int = 0) -> Callable[[float], float]:
    rng = np.random.default_rng(seed)

    def run(seconds: float) -> float:
        time.sleep(seconds)
        return float(rng.lognormal(0.0, 0.5))

    return run


def steady_precision() -> dict[str, Interval]:
    return {"p50": Interval(100.0, 100.0, 100.0, 0.95, "stand-in")}


@pytest.mark.parametrize("compare_partner", [False, True], ids=["model", "ratio"])
def test_interleaved_stops_on_the_chosen_precision(compare_partner: bool) -> None:
    """A steady model beside a noisy partner: when only the model's statistic is tracked,
    it stops as soon as the minimum is met; when the ratio is compared too, it runs until
    the maximum time."""
    samples = run_blocks(
        steady_model,
        noisy_runner(),
        SETTINGS,
        steady_precision,
        partner_share=0.5,
        compare_partner=compare_partner,
    )
    pairs = len(samples.log_ratios)
    if compare_partner:
        assert pairs > MIN_BLOCKS
        assert samples.measure_s > SETTINGS.max_time_s / 2
    else:
        assert pairs == MIN_BLOCKS  # the first check: at least 4 pairs and the minimum time
    assert samples.model_blocks == (100.0,) * pairs
    assert len(samples.partner_blocks) == pairs


def test_without_a_partner_the_model_runs_alone_in_the_same_blocks() -> None:
    samples = run_blocks(steady_model, None, SETTINGS, steady_precision)
    assert samples.model_blocks == (100.0,) * MIN_BLOCKS
    assert samples.partner_blocks == () and samples.log_ratios == ()


def test_a_noisy_model_runs_until_the_maximum_time() -> None:
    noisy = noisy_runner(1)
    blocks: list[float] = []

    def model(seconds: float) -> float:
        blocks.append(noisy(seconds))
        return blocks[-1]

    def precision() -> dict[str, Interval]:
        return {"p50": mean_interval(blocks, SETTINGS.confidence)}

    samples = run_blocks(model, None, SETTINGS, precision)
    assert len(samples.model_blocks) > MIN_BLOCKS
    assert SETTINGS.max_time_s / 2 < samples.measure_s <= SETTINGS.max_time_s * 1.2


@pytest.mark.parametrize("settle_at", [0, 2, None], ids=["first-look", "third-look", "never"])
def test_sequential_looks_stop_at_the_first_settled_verdict(settle_at: int | None) -> None:
    """With sequential looks the engine ignores precision and stops at the first look whose
    verdict is settled, or at the time budget's end."""
    seen: list[int] = []

    def settled(log_ratios: Sequence[float], look: int) -> bool:
        seen.append(look)
        return settle_at is not None and look >= settle_at

    looks = SequentialLooks(count=4, settled=settled)
    samples = run_blocks(
        steady_model, noisy_runner(), SETTINGS, steady_precision, compare_partner=True, looks=looks
    )
    assert seen == sorted(set(seen))  # each look is taken once, in order
    # the look whose levels judge the final verdict: the one that stopped, else the last
    assert samples.look == (3 if settle_at is None else settle_at)
    if settle_at is None:
        assert samples.measure_s > SETTINGS.max_time_s * 0.75
        assert seen and seen[-1] <= 2  # the last look is the budget's end itself
    else:
        assert seen[-1] == settle_at
        assert samples.measure_s < SETTINGS.max_time_s * (settle_at + 1) / 4 + 0.05


# -- throughput blocks: the steady window --------------------------------------------------


class ClockedPool:
    """A stand-in ``InferPool`` on a fake clock: ``size`` requests of ``latency`` seconds
    each, but the first cycle after a drain takes twice as long (the pipeline refills
    slowly); a submission to a full queue waits for the earliest completion, and the drain
    for the last."""

    #: a queue no batching runs (``InferPool.whole_queues``)
    whole_queues = False

    def __init__(self, clock: list[float], size: int, latency: float) -> None:
        self.clock, self.size, self.latency = clock, size, latency
        self.finishes: list[float] = []

    def start(self) -> None:
        cold = len(self.finishes) < self.size
        if not cold:
            self.finishes.sort()
            self.clock[0] = max(self.clock[0], self.finishes.pop(0))
        self.finishes.append(self.clock[0] + self.latency * (2.0 if cold else 1.0))

    def wait_all(self) -> None:
        self.clock[0] = max([self.clock[0], *self.finishes])
        self.finishes = []


@pytest.mark.parametrize("block_latencies", [20, 40])
def test_a_throughput_block_counts_its_steady_window(
    monkeypatch: pytest.MonkeyPatch, block_latencies: int
) -> None:
    """The fill and the drain of a block do not bias its steady fps (the headline), however
    short the block: the steady window's rate is the queue's rate, size / latency. What the
    block returns for pairing, its rate over its median cycle, is the queue's rate too; its
    whole rate, fill and drain included, reads low."""
    from pytest_ovperf.measure import blocks

    clock = [0.0]
    monkeypatch.setattr(blocks.time, "perf_counter", lambda: clock[0])
    pool = ClockedPool(clock, size=4, latency=0.01)
    runner = blocks.ThroughputBlocks(pool, MeasureSettings(warmup_s=0.1, block_s=0.01))  # type: ignore[arg-type]
    began = clock[0]
    paired = runner(block_latencies * 0.01)
    steady = runner.block_counts[-1] / runner.block_seconds[-1]
    # (completions come in bursts of one per request here: a window that ends in a burst
    # counts part of it)
    assert steady == pytest.approx(4 / 0.01, rel=0.05)
    assert runner.value == pytest.approx(steady)
    assert runner.submitted[-1] > runner.block_counts[-1]  # the fill is left out
    assert paired == pytest.approx(4 / 0.01, rel=1e-9)
    # counted whole, the same block reads low by its fill and drain
    whole = runner.submitted[-1] / (clock[0] - began)
    assert whole < 0.99 * paired
    # a block of a few latencies has no steady window: counted whole, drain included; nor
    # enough cycles for a median: paired by its whole rate
    began = clock[0]
    short = runner(0.01)
    assert runner.block_counts[-1] / runner.block_seconds[-1] < 0.8 * 4 / 0.01
    assert short == pytest.approx(runner.submitted[-1] / (clock[0] - began))
    # the block length leaves room for the window
    assert runner.block_s >= (blocks.STEADY_SKIP + blocks.STEADY_LATENCIES) * 0.01


def test_the_median_cycle_counts_completions_only() -> None:
    """A block's returns by hand (a queue of 2, a cycle of 0.01 s): the fill's returns (at
    once) and the drain's end (last, however long the drain) are in no cycle; the rate
    needs as many cycles as the queue holds, else the completions' mean rate pairs the
    block, else its whole rate."""
    from pytest_ovperf.measure import loops

    fill = [0.0, 0.0]
    completions = [0.01 + 0.005 * i for i in range(8)]  # one every 5 ms: 2 / 0.01 s
    assert loops.median_cycle_rate([*fill, *completions, 5.0], 2) == pytest.approx(200.0)
    # a long first cycle (the refill) and one stall: the median does not move
    stalled = [*completions[:4], *[t + 0.05 for t in completions[4:]]]
    assert loops.median_cycle_rate([*fill, 0.03, *stalled[1:], 5.0], 2) == pytest.approx(200.0)
    # exactly 2 cycles (3 queues of returns) is enough; one fewer is not
    assert loops.median_cycle_rate([*fill, *completions[:4], 0.1], 2) == pytest.approx(200.0)
    assert math.isnan(loops.median_cycle_rate([*fill, *completions[:3], 0.1], 2))
    short = loops.paired_rate([*fill, *completions[:3], 0.1], 2)
    assert short == pytest.approx(200.0)  # 2 intervals of 5 ms
    lone = [*fill, 0.01, 0.1]
    assert loops.paired_rate(lone, 2) == pytest.approx(3 / 0.1)  # its whole rate
    # one request: a cycle is the time between two completions
    assert loops.median_cycle_rate([0.0, 0.01, 0.02, 0.03, 0.04, 0.5], 1) == pytest.approx(100.0)
    # a batched queue of 4 completing in bursts of 4 every 0.02 s: 4 / 0.02
    bursts = [0.02 * (1 + i // 4) for i in range(16)]
    assert loops.median_cycle_rate([0.0] * 4 + bursts + [1.0], 4) == pytest.approx(200.0)


class StalledPool(ClockedPool):
    """A ``ClockedPool`` whose ``stalled``-th inference after the warm-up takes ``stall``
    times as long: the host took the cores for a moment."""

    def __init__(self, clock: list[float], size: int, latency: float, stall: float) -> None:
        super().__init__(clock, size, latency)
        self.stall, self.started = stall, 0
        self.stalled: int | None = None

    def start(self) -> None:
        super().start()
        self.started += 1
        if self.started == self.stalled:
            self.finishes[-1] += self.latency * (self.stall - 1.0)


def test_a_stall_of_the_host_moves_the_paired_rate_little(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One inference stalled for 5 request latencies: the block's whole rate loses a fifth,
    its rate over the median cycle (what a pair compares) does not move: a pair with such a
    block is not thrown by it, as a latency block's median is not."""
    from pytest_ovperf.measure import blocks, loops

    clock = [0.0]
    monkeypatch.setattr(blocks.time, "perf_counter", lambda: clock[0])
    pool = StalledPool(clock, size=2, latency=0.01, stall=5.0)
    runner = blocks.ThroughputBlocks(pool, MeasureSettings(warmup_s=0.1, block_s=0.01))  # type: ignore[arg-type]
    clean = loops.throughput_block(pool.start, pool.wait_all, pool.size, 0.2)
    pool.stalled = pool.started + 10
    stalled = loops.throughput_block(pool.start, pool.wait_all, pool.size, 0.2)
    assert stalled.whole_rate < 0.9 * clean.whole_rate
    assert stalled.paired_rate == pytest.approx(clean.paired_rate, rel=1e-9)
    assert runner(0.2) == pytest.approx(clean.paired_rate, rel=1e-9)


@pytest.mark.parametrize("slowdown", [1.0, 1.10, 1.25])
def test_paired_rates_carry_no_fill_and_drain(
    monkeypatch: pytest.MonkeyPatch, slowdown: float
) -> None:
    """Two queues paired block by block, the second ``slowdown`` times slower: a block's
    median cycle leaves out its fill and drain, so each side reads its own rate and the
    pair's ratio is the true one; blocks span as many request latencies on both sides."""
    from pytest_ovperf.measure import blocks

    clock = [0.0]
    monkeypatch.setattr(blocks.time, "perf_counter", lambda: clock[0])
    settings = MeasureSettings(warmup_s=1.0, block_s=0.01)
    fast = blocks.ThroughputBlocks(ClockedPool(clock, size=4, latency=0.01), settings)  # type: ignore[arg-type]
    slow = blocks.ThroughputBlocks(ClockedPool(clock, size=4, latency=0.01 * slowdown), settings)  # type: ignore[arg-type]
    # the pair's block lengths, as the engine gives them
    block_s, partner = paired_throughput_blocks(fast, Partner(slow, 1.0, True))
    assert partner.share == pytest.approx(slowdown, rel=0.02)  # as many request latencies
    pairs = [(fast(block_s), slow(block_s * partner.share)) for _ in range(6)]
    assert all(
        a == pytest.approx(4 / 0.01) and b == pytest.approx(4 / 0.01 / slowdown) for a, b in pairs
    )
    assert np.mean(np.log([a / b for a, b in pairs])) == pytest.approx(math.log(slowdown))


def test_a_slow_queue_keeps_the_time_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A queue whose request latency is a second (one request waiting out automatic
    batching's timeout) plans blocks of at most ``longest_block_s``, so the four blocks the
    stopping rule waits for fit in ``max_time_s`` (they planned 8 s each, 52 s in all)."""
    from pytest_ovperf.measure import blocks, engine

    clock = [0.0]
    monkeypatch.setattr(blocks.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(engine.time, "perf_counter", lambda: clock[0])
    settings = MeasureSettings()
    pool = ClockedPool(clock, size=1, latency=1.0)
    samples = engine.measure_throughput(pool, settings)  # type: ignore[arg-type]
    assert settings.longest_block_s == settings.max_time_s / (2 * MIN_BLOCKS)
    assert len(samples.block_counts) == MIN_BLOCKS
    # a block ends with the submission that passes its deadline (it waits for the one
    # request, whose first cycle after a drain takes two latencies here) and the drain:
    # three latencies past the cap at most, where 8 s blocks were planned before
    assert samples.measure_s <= MIN_BLOCKS * (settings.longest_block_s + 3 * 1.0)
    # a pair of such queues: neither block is longer than the cap
    fast = blocks.ThroughputBlocks(ClockedPool(clock, size=2, latency=0.5), settings)  # type: ignore[arg-type]
    slow = blocks.ThroughputBlocks(ClockedPool(clock, size=1, latency=2.0), settings)  # type: ignore[arg-type]
    assert fast.block_s == slow.block_s == settings.longest_block_s
    block_s, partner = paired_throughput_blocks(
        fast, Partner(slow, 1.0, True), settings.longest_block_s
    )
    # both at the cap: as long as each other, no longer as many request latencies
    assert block_s == pytest.approx(settings.longest_block_s)
    assert partner.share == pytest.approx(1.0)
    # sides a thousand times apart: the quick one keeps its own block, not a sliver of it
    quick = blocks.ThroughputBlocks(ClockedPool(clock, size=2, latency=0.001), settings)  # type: ignore[arg-type]
    block_s, partner = paired_throughput_blocks(
        quick, Partner(slow, 1.0, True), settings.longest_block_s
    )
    assert block_s == pytest.approx(quick.block_s)
    assert block_s * partner.share == pytest.approx(settings.longest_block_s)


def test_a_queue_that_batches_ends_its_blocks_at_whole_queues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A block of a queue that automatic batching may run stops at a multiple of the queue's
    size, so that its drain leaves no batch half full (which would wait out the timeout)."""
    from pytest_ovperf.measure import loops

    clock = [0.0]
    monkeypatch.setattr(loops.time, "perf_counter", lambda: clock[0])
    pool = ClockedPool(clock, size=4, latency=0.003)
    for seconds in (0.01, 0.0125, 0.02, 0.031):
        whole = loops.throughput_block(pool.start, pool.wait_all, 4, seconds, whole_queues=True)
        assert whole.submitted % 4 == 0
    counts = {
        loops.throughput_block(pool.start, pool.wait_all, 4, seconds).submitted % 4
        for seconds in (0.01, 0.0125, 0.02, 0.031)
    }
    assert counts != {0}  # without it, blocks end wherever the deadline falls
