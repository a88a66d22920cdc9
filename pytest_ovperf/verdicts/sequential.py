"""Group-sequential boundaries: the per-look levels of a test looked at several times.

The A/B comparison against the baseline's own model is looked at ``looks`` times, equally
spaced in time (so, nearly, in block pairs), and stops at the first look whose verdict is
settled. Each one-sided test in it (regression, improvement, and each side of the
equivalence test behind ``unchanged``) keeps its overall error rate ``alpha`` with an
O'Brien-Fleming boundary: at look ``k`` of ``K`` the z-statistic must pass
``c * sqrt(K / k)``, with ``c`` chosen so that a standard Brownian motion observed at the
``K`` looks crosses some look's boundary with probability ``alpha``. Early looks stop only
on overwhelming evidence and the final look is nearly the single-look test (K=4,
alpha=2.5%: z = 4.05, 2.87, 2.34, 2.03 against 2.50 at every look when the rate is split
evenly), so the measurement that runs to its end loses little against one never looked at.

The t-statistics of the gate use the z-boundary's nominal level: at look ``k`` the interval
is the ``1 - 2 * (1 - Phi(z_k))`` t-interval.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import optimize
from scipy import stats as sps

#: grid step of the numerical integration (on the score scale, in standard deviations of
#: one look's increment): the crossing probability is exact to about 1e-5
_GRID_STEP = 0.01


def _crossing_probability(constant: float, looks: int) -> float:
    """P(some look's z-statistic passes its O'Brien-Fleming boundary | no effect).

    On the score scale ``S_k = z_k * sqrt(k)`` (a random walk of standard normal steps)
    the boundary ``c * sqrt(K / k) * sqrt(k) = c * sqrt(K)`` is flat, so the density of the
    walks that have not crossed yet is carried from look to look by one convolution with
    the normal step on a grid (Armitage, McPherson and Rowe's recursive integration)."""
    bound = constant * math.sqrt(looks)
    # the grid ends on the boundary, where its last point counts half (trapezoid rule)
    points = int((bound + 8.0 * math.sqrt(looks) + 8.0) / _GRID_STEP)
    grid = bound - _GRID_STEP * np.arange(points)[::-1]
    edge = np.ones(points)
    edge[-1] = 0.5
    density = sps.norm.pdf(grid) * edge
    step = sps.norm.pdf(np.arange(-10.0, 10.0 + _GRID_STEP / 2, _GRID_STEP)) * _GRID_STEP
    for _ in range(looks - 1):
        density = np.convolve(density, step, mode="full")
        offset = (step.size - 1) // 2
        density = density[offset : offset + grid.size] * edge
    return 1.0 - float(density.sum() * _GRID_STEP)


@functools.cache
def obrien_fleming_constant(alpha: float, looks: int) -> float:
    """``c`` of the one-sided O'Brien-Fleming boundary with overall level ``alpha``."""
    if looks == 1:
        return float(sps.norm.isf(alpha))
    return float(
        optimize.brentq(
            lambda c: _crossing_probability(c, looks) - alpha,
            # the final look alone must keep alpha, and a flat boundary at the evenly split
            # level keeps it at every look: c lies between the two
            sps.norm.isf(alpha),
            sps.norm.isf(alpha / looks),
            xtol=1e-6,
        )
    )


def look_confidence(confidence: float, look: int, looks: int) -> float:
    """The two-sided confidence of the interval judged at ``look`` (0-based) of ``looks``,
    for a test whose single-look interval would be at ``confidence`` (each side at
    ``(1 - confidence) / 2``, the one-sided test's overall rate)."""
    alpha = (1.0 - confidence) / 2.0
    z = obrien_fleming_constant(alpha, looks) * math.sqrt(looks / (look + 1))
    return 1.0 - 2.0 * float(sps.norm.sf(z))
