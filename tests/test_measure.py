"""The measurement engine's stopping rule, with stand-in block runners."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from pytest_ovperf.measure.engine import MIN_BLOCKS, SequentialLooks, run_blocks
from pytest_ovperf.measure.settings import MeasureSettings
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
