"""The busy-machine guard, in one place: other processes used more of the CPU than allowed
while this run measured, or while a baseline run it is compared with was recorded. Such a
comparison is inconclusive and such a budget cannot fail, whatever the statistics say:
contention, not the model, may be why it was slow."""

from __future__ import annotations

from collections.abc import Iterable

from ..results import MachineGuard
from .kinds import GuardReason


def over_load_limit(load: float | None, limit: float) -> bool:
    """Whether a foreign load (a fraction of the machine's CPU; ``None``: not measured) is
    over ``limit``: the one definition of a busy measurement."""
    return load is not None and load > limit


def busy_guard(
    current_load: float | None, limit: float, baseline_loads: Iterable[float | None] = ()
) -> MachineGuard | None:
    """The guard, if this run's foreign load or the worst of the baseline runs' is over
    ``limit`` (fractions of the machine's CPU; ``None``: not measured)."""
    worst = max((x for x in baseline_loads if x is not None), default=None)
    if not (over_load_limit(current_load, limit) or over_load_limit(worst, limit)):
        return None
    return MachineGuard(GuardReason.BUSY, current_load, worst, limit)
