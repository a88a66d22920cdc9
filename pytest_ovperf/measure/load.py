"""How busy the machine was with other work while we measured.

A perf figure taken while another process (a co-tenant, a parallel test job, a compiler)
used the CPU is slower for reasons that have nothing to do with the model. The gate cannot
tell such a slowdown from a regression by statistics alone, because the load may be steady
for the whole run. So it measures the load directly: CPU time the whole machine spent busy
(``/proc/stat``, steal time included) minus the CPU time of this process, as a fraction of
the wall time times the CPUs available to us. Where ``/proc/stat`` does not exist the meter
reports ``None`` and the gate does without it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..runtime.facts import logical_cpu_count

_PROC_STAT = "/proc/stat"


def _machine_busy_seconds() -> float | None:
    try:
        with open(_PROC_STAT, encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal guest guest_nice
    values = [int(v) for v in fields[1:]]
    busy = sum(values[:3]) + sum(values[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class LoadMeter:
    """Start it before measuring, read ``foreign_load()`` after."""

    started_wall: float = 0.0
    started_busy: float | None = None
    started_own: float = 0.0

    def start(self) -> LoadMeter:
        self.started_wall = time.monotonic()
        self.started_busy = _machine_busy_seconds()
        self.started_own = _own_cpu_seconds()
        return self

    def foreign_load(self) -> float | None:
        """Fraction (0..1) of the machine's CPU capacity used by other processes."""
        busy = _machine_busy_seconds()
        if busy is None or self.started_busy is None:
            return None
        wall = time.monotonic() - self.started_wall
        if wall <= 0:
            return None
        others = (busy - self.started_busy) - (_own_cpu_seconds() - self.started_own)
        # /proc/stat counts every CPU of the machine; the capacity is all of them
        capacity = wall * (os.cpu_count() or logical_cpu_count())
        return min(max(others / capacity, 0.0), 1.0)
