"""Suite-level view of the gate: did most tests move together?

When the machine (another CPU placement, a slower host) or the runtime (an OpenVINO upgrade)
changes, every test compared with its stored runs moves the same way. Reporting that as N
separate regressions hides the cause, so the end of the session says it once.

Method: among the results compared with stored runs (the history path; A/B and reference
comparisons cancel machine changes and are left out), count those slower than their
baseline. A two-sided sign test (Binomial(n, 1/2)) at ``SHIFT_ALPHA`` says whether they
moved together beyond chance, and the median slowdown must exceed the median threshold, so
that a real shift, not a crowd of small wiggles, is named. With no common cause (half the
tests slower), the test fires with probability at most ``SHIFT_ALPHA``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scipy import stats as sps

from ..kinds import kind_of_record
from .kinds import GateMethod

if TYPE_CHECKING:
    from ..records import ResultRecord

#: fewest history comparisons worth a suite-level statement
SHIFT_MIN_TESTS = 5
#: one-sided level of the sign test
SHIFT_ALPHA = 0.01


@dataclass(frozen=True)
class SuiteShift:
    """Most of the compared tests moved the same way."""

    #: slower (True) or faster
    slower: bool
    moved: int
    compared: int
    #: median current/baseline cost ratio (> 1: slower), fps inverted
    median_slowdown: float
    p_value: float
    #: software facts that changed for every moved test: fact -> (baseline, current)
    common_changes: dict[str, tuple[Any, Any]]


def suite_shift(records: Iterable[ResultRecord]) -> SuiteShift | None:
    """The shift of the suite's history comparisons (JSON result records), if any."""
    compared = []
    for data in records:
        ratio = data.get("ratio")
        if data.get("baseline_method") != GateMethod.HISTORY.value or not ratio:
            continue
        kind = kind_of_record(data)
        if not kind.statistical:  # memory: judged by thresholds, not a shift of the machine
            continue
        slowdown = kind.slowdown(float(ratio))
        threshold = float(data.get("regression_threshold") or 0.0)
        if math.isfinite(slowdown) and slowdown > 0:
            compared.append((slowdown, threshold, data))
    n = len(compared)
    if n < SHIFT_MIN_TESTS:
        return None
    median = statistics.median(s for s, _, _ in compared)
    margin = 1.0 + statistics.median(t for _, t, _ in compared)
    slower = median > 1.0
    moved = [d for s, _, d in compared if (s > 1.0) == slower and s != 1.0]
    # the direction was read off the data, so the test is two-sided
    p_value = min(1.0, 2.0 * float(sps.binom.sf(len(moved) - 1, n, 0.5)))
    beyond = median > margin if slower else median < 1.0 / margin
    if p_value >= SHIFT_ALPHA or not beyond:
        return None
    changes = [dict(d.get("what_changed") or {}) for d in moved]
    common: dict[str, tuple[Any, Any]] = {
        fact: (value[0], value[1])
        for fact, value in changes[0].items()
        if all(c.get(fact) == value for c in changes[1:]) and fact != "model_hash"
    }
    return SuiteShift(slower, len(moved), n, median, p_value, common)
