"""How busy the machine was with other work while we measured.

A perf figure taken while another process (a co-tenant, a parallel test job, a compiler)
used the CPU is slower for reasons that have nothing to do with the model. The gate cannot
tell such a slowdown from a regression by statistics alone, because the load may be steady
for the whole run. So it measures the load directly: CPU time the whole machine spent busy
(psutil's system CPU times, steal time included where the system reports it) minus the CPU
time of this process (and of its helper processes: the worker of another OpenVINO runtime
measured beside it), as a fraction of the wall time times the machine's CPUs. Where the
system reports no CPU times the meter reports ``None`` and the gate does without it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

from ..runtime.facts import logical_cpu_count

#: the busy parts of the machine's CPU time (psutil names; each system has some of them:
#: Linux all, macOS the first three). Guest time is counted in user time already.
_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal", "interrupt", "dpc")


def _machine_busy_seconds() -> float | None:
    try:
        times = psutil.cpu_times()
    except (OSError, RuntimeError, NotImplementedError):
        return None
    return float(sum(getattr(times, name, 0.0) for name in _BUSY_FIELDS))


def own_cpu_seconds(helper_pids: tuple[int, ...] = ()) -> float:
    """CPU time (user + system, s) of this process and of ``helper_pids``."""
    times = os.times()
    own = times.user + times.system
    for pid in helper_pids:
        try:
            helper = psutil.Process(pid).cpu_times()
        except (psutil.Error, OSError):
            continue  # gone: what it used is lost, and counts as foreign (the safe side)
        own += helper.user + helper.system
    return own


@dataclass
class LoadMeter:
    """Start it before measuring, read ``foreign_load()`` after."""

    started_wall: float = 0.0
    started_busy: float | None = None
    started_own: float = 0.0
    #: processes that work for this measurement (a side runtime's worker): not foreign
    helper_pids: tuple[int, ...] = ()

    def start(self) -> LoadMeter:
        self.started_wall = time.monotonic()
        self.started_busy = _machine_busy_seconds()
        self.started_own = own_cpu_seconds(self.helper_pids)
        return self

    def foreign_load(self) -> float | None:
        """Fraction (0..1) of the machine's CPU capacity used by other processes."""
        busy = _machine_busy_seconds()
        if busy is None or self.started_busy is None:
            return None
        wall = time.monotonic() - self.started_wall
        if wall <= 0:
            return None
        own = own_cpu_seconds(self.helper_pids) - self.started_own
        others = (busy - self.started_busy) - own
        # the CPU times count every CPU of the machine; the capacity is all of them
        capacity = wall * (os.cpu_count() or logical_cpu_count())
        return min(max(others / capacity, 0.0), 1.0)
