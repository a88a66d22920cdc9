"""O'Brien-Fleming boundaries of the sequential A/B test (pure statistics)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from pytest_ovperf.store.models import ModelStore
from pytest_ovperf.verdicts.ab import AB_LOOKS
from pytest_ovperf.verdicts.comparison import GateSettings
from pytest_ovperf.verdicts.gate import BaselineGate
from pytest_ovperf.verdicts.sequential import look_confidence, obrien_fleming_constant


@pytest.mark.parametrize(
    ("alpha", "looks", "published"),
    # Jennison & Turnbull (2000), table 2.3: C_B(K, 2 * alpha) of two-sided tests, whose
    # one-sided halves are these to the third decimal
    [(0.025, 4, 2.024), (0.05, 4, 1.733), (0.025, 2, 1.977), (0.025, 5, 2.040)],
)
def test_the_constant_is_the_published_one(alpha: float, looks: int, published: float) -> None:
    assert obrien_fleming_constant(alpha, looks) == pytest.approx(published, abs=0.002)


def test_one_look_is_the_plain_test() -> None:
    assert look_confidence(0.95, 0, 1) == pytest.approx(0.95)


def test_a_walk_without_effect_crosses_some_look_at_the_stated_rate() -> None:
    """Monte Carlo over z-statistics of a random walk looked at 4 times."""
    rng = np.random.default_rng(2)
    walks = rng.standard_normal((400_000, AB_LOOKS)).cumsum(axis=1)
    z = walks / np.sqrt(np.arange(1, AB_LOOKS + 1))
    bounds = [sps.norm.isf((1 - look_confidence(0.95, k, AB_LOOKS)) / 2) for k in range(4)]
    crossed = float((z > np.array(bounds)).any(axis=1).mean())
    assert crossed == pytest.approx(0.025, abs=0.0015)
    assert bounds == sorted(bounds, reverse=True)  # early looks stop on stronger evidence


def test_the_gate_judges_each_look_at_its_own_level(tmp_path: Path) -> None:
    gate = BaselineGate(tmp_path, tmp_path, GateSettings(), ModelStore(tmp_path / "models"))
    levels = [gate.ab_settings(0.05, k) for k in range(AB_LOOKS)]
    assert [s.confidence for s in levels] == pytest.approx(
        [0.99995, 0.99581, 0.98059, 0.95706], abs=2e-5
    )
    assert [s.equivalence_confidence for s in levels] == pytest.approx(
        [0.99947, 0.98575, 0.95463, 0.91692], abs=2e-5
    )
    assert all(s.threshold == 0.05 for s in levels)
