"""Interleaved measurement: the stopping rule, with stand-in block runners."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from pytest_ovperf.measure.engine import MeasureSettings, measure_interleaved

#: a minimum time shorter than 4 block pairs, so the 4-pair minimum decides the first check
SETTINGS = MeasureSettings(warmup_s=0.0, min_time_s=0.001, max_time_s=0.4, block_s=0.01)


def steady_model(seconds: float) -> float:
    time.sleep(seconds)
    return 100.0


def noisy_probe() -> Callable[[float], float]:
    rng = np.random.default_rng(0)

    def run(seconds: float) -> float:
        time.sleep(seconds)
        return float(rng.lognormal(0.0, 0.5))

    return run


@pytest.mark.parametrize("stop_on_model", [False, True], ids=["ratio", "model"])
def test_interleaved_stops_on_the_chosen_precision(stop_on_model: bool) -> None:
    """A steady model beside a noisy probe: stopping on the model's own blocks ends as soon
    as the minimum is met; stopping on the ratio runs until the maximum time."""
    samples = measure_interleaved(
        steady_model,
        noisy_probe(),
        SETTINGS,
        reference_share=0.5,
        stop_on_model=stop_on_model,
    )
    pairs = len(samples.log_ratios)
    if stop_on_model:
        assert pairs == 4  # the first check: at least 4 pairs and the minimum time
    else:
        assert pairs > 4
        assert samples.measure_s > SETTINGS.max_time_s / 2
    assert samples.model_blocks == (100.0,) * pairs
