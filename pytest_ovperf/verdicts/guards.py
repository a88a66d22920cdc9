"""The busy-machine guard, in one place: other processes used more of the CPU than allowed
while this run measured, or while a baseline run it is compared with was recorded. Such a
comparison is inconclusive and such a budget cannot fail, whatever the statistics say:
contention, not the model, may be why it was slow."""

from __future__ import annotations

from collections.abc import Iterable

from ..results import MachineGuard
from .kinds import GuardReason


def busy_guard(
    current_load: float | None, limit: float, baseline_loads: Iterable[float | None] = ()
) -> MachineGuard | None:
    """The guard, if this run's foreign load or the worst of the baseline runs' is over
    ``limit`` (fractions of the machine's CPU; ``None``: not measured)."""
    worst = max((x for x in baseline_loads if x is not None), default=None)
    over = [x for x in (current_load, worst) if x is not None and x > limit]
    if not over:
        return None
    return MachineGuard(GuardReason.BUSY, current_load, worst, limit)
