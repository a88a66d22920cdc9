"""Memory against its baseline: thresholds, not statistics.

Resident memory after a compile repeats to a few MiB from process to process (the readings'
spread is reported with every figure, and measured in BENCHMARKS.md), so there is no drift
to model: the median of the readings is compared with the baseline's figure, and an
increase is a regression only when it exceeds both a fraction of the baseline
(``--ovperf-memory-threshold``, 10%) and an absolute floor (``--ovperf-memory-floor``,
16 MiB). A decrease beyond both is an improvement; anything else is unchanged. The rule's
false-alarm rate is the rate at which two readings of one model differ by more than both,
which the bench measures (zero in its repeats).
"""

from __future__ import annotations

from dataclasses import dataclass

from .kinds import GateVerdict


@dataclass(frozen=True)
class MemoryJudgement:
    verdict: GateVerdict
    current_mb: float
    baseline_mb: float
    #: the relative and absolute limits an increase had to exceed
    threshold: float
    floor_mb: float

    @property
    def delta_mb(self) -> float:
        return self.current_mb - self.baseline_mb

    @property
    def margin_mb(self) -> float:
        """The larger of the two limits: what an increase must exceed."""
        return max(self.threshold * self.baseline_mb, self.floor_mb)

    @property
    def ratio(self) -> float:
        return self.current_mb / self.baseline_mb if self.baseline_mb > 0 else float("inf")


def judge_memory(
    current_mb: float, baseline_mb: float, threshold: float, floor_mb: float
) -> MemoryJudgement:
    """The verdict of ``current_mb`` against ``baseline_mb`` (module docstring)."""
    margin = max(threshold * baseline_mb, floor_mb)
    delta = current_mb - baseline_mb
    if delta > margin:
        verdict = GateVerdict.REGRESSION
    elif -delta > margin:
        verdict = GateVerdict.IMPROVEMENT
    else:
        verdict = GateVerdict.UNCHANGED
    return MemoryJudgement(verdict, current_mb, baseline_mb, threshold, floor_mb)
