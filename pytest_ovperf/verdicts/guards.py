"""The busy-machine guard, in one place: other processes used more of the CPU than allowed
while this run measured, or while a baseline run it is compared with was recorded. Such a
comparison is inconclusive and such a budget cannot fail, whatever the statistics say:
contention, not the model, may be why it was slow. Stored runs recorded busy are left out of
what is judged across runs where quieter ones exist (``quiet_runs``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..results import MachineGuard
from ..store.schema import StoredRun
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


def quiet_runs(runs: Sequence[StoredRun], max_foreign_load: float) -> list[StoredRun]:
    """The stored runs recorded without foreign load over ``max_foreign_load``, where the
    latest software has such runs; else all of them (and the busy guard says why it cannot
    decide). One recording disturbed by other processes would otherwise make every later
    comparison inconclusive until it left the history; it is left out of the baseline, not
    deleted (the file keeps it, the HTML trend shows it)."""
    quiet = [r for r in runs if not over_load_limit(r.foreign_load, max_foreign_load)]
    if any(r.software == runs[-1].software for r in quiet):
        return quiet
    return list(runs)
