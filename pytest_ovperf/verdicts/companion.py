"""Two figures of one model judged against the stored runs: the user-facing one (p50 or fps
with the test's threads and streams) and the one-thread compute companion (``partners/``).

On a shared machine the user-facing figure drifts between processes with the machine's
state (two-thread latency moved 25% between two runs a minute apart) while one thread stays
within a few percent, so the companion can decide where the user-facing figure cannot. The
rule (docs/statistics.md, "The compute companion"):

* ``regression`` when either figure is a confident slowdown beyond the threshold. Each is
  judged at half the rate (``split_settings``: the 97.5% interval), so the pair keeps the
  gate's 2.5% (Bonferroni); the message says which figure showed it and why the other could
  not;
* otherwise the user-facing verdict where it decided (``unchanged``, ``improvement``);
* ``unchanged`` resting on the companion where the user-facing figure was undecided only
  from machine noise: the companion is ``unchanged`` (its own 90% equivalence interval
  within +-threshold) and the user-facing estimate itself lies within +-threshold (so a
  multi-thread-only change that the noise hid is not called unchanged);
* otherwise the user-facing verdict (``inconclusive``, ``nothing-changed``).

A run measured while other processes loaded the CPU, or with the speed probe in a state the
companion's baseline runs were not recorded in, does not use the companion.
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum

from .comparison import GateResult, GateSettings
from .kinds import GateVerdict


class Figure(str, Enum):
    """Which figure a verdict against the stored runs rests on."""

    USER_FACING = "user-facing"
    COMPANION = "companion"


#: the figures whose regression tests share the gate's error rate
FIGURES = len(Figure)


def split_settings(settings: GateSettings) -> GateSettings:
    """The levels of each figure's regression and improvement tests when both are judged:
    the one-sided rate split evenly between them (unchanged keeps its own level)."""
    alpha = (1.0 - settings.confidence) / FIGURES
    return dataclasses.replace(settings, confidence=1.0 - alpha)


@dataclasses.dataclass(frozen=True)
class CombinedVerdict:
    verdict: GateVerdict
    #: the figure the verdict rests on; ``None`` where neither decided
    decided_by: Figure | None


def combine(
    user_facing: GateVerdict, user_outcome: GateResult, companion: GateResult
) -> CombinedVerdict:
    """The verdict of the two figures (module docstring); ``user_facing`` is the
    user-facing verdict after the machine guards (``history.history_verdict``)."""
    if user_facing is GateVerdict.REGRESSION:
        return CombinedVerdict(GateVerdict.REGRESSION, Figure.USER_FACING)
    if companion.verdict is GateVerdict.REGRESSION:
        return CombinedVerdict(GateVerdict.REGRESSION, Figure.COMPANION)
    if user_facing in (GateVerdict.UNCHANGED, GateVerdict.IMPROVEMENT):
        return CombinedVerdict(user_facing, Figure.USER_FACING)
    within = abs(user_outcome.slowdown) < math.log1p(user_outcome.threshold)
    if companion.verdict is GateVerdict.UNCHANGED and within:
        return CombinedVerdict(GateVerdict.UNCHANGED, Figure.COMPANION)
    return CombinedVerdict(user_facing, None)
