"""How much CPU other processes used while a benchmark subprocess ran (Linux ``/proc/stat``).

A benchmark on a small shared machine is only as good as the quiet around it. The machine's
busy time over an interval, minus what this process and its (reaped) children used, is the
*foreign* CPU time: another test suite, a build, an indexer. Dividing by the interval gives
the average number of CPUs taken away from the measurement. Hypervisor steal is reported
apart: it is not visible as load inside the guest.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float  # time.perf_counter()
    busy_s: float  # all CPUs: user + nice + system + irq + softirq
    steal_s: float  # all CPUs
    own_s: float  # this process and its reaped children, user + system


def snapshot() -> CpuSnapshot | None:
    """The counters now, or None where ``/proc/stat`` cannot be read (not Linux)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        ticks = float(os.sysconf("SC_CLK_TCK"))
        values = [int(v) for v in fields[1:9]]
    except (OSError, IndexError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return CpuSnapshot(
        wall=time.perf_counter(),
        busy_s=(user + nice + system + irq + softirq) / ticks,
        steal_s=steal / ticks,
        own_s=own,
    )


@dataclass(frozen=True)
class ForeignLoad:
    cpus: float  # average CPUs used by other processes over the interval
    steal_s: float  # hypervisor steal over the interval, all CPUs


def foreign_load(before: CpuSnapshot | None, after: CpuSnapshot | None) -> ForeignLoad | None:
    """Foreign CPU use between two snapshots; children must be reaped before ``after``."""
    if before is None or after is None or after.wall <= before.wall:
        return None
    foreign = (after.busy_s - before.busy_s) - (after.own_s - before.own_s)
    return ForeignLoad(
        cpus=max(0.0, foreign) / (after.wall - before.wall),
        steal_s=after.steal_s - before.steal_s,
    )


def wait_for_quiet(
    threshold_cpus: float, max_wait_s: float, window_s: float = 1.0
) -> tuple[float, float | None]:
    """Sleep in ``window_s`` steps until foreign load is below ``threshold_cpus``.

    Returns (seconds waited, foreign CPUs of the last window); gives up after ``max_wait_s``.
    """
    started = time.perf_counter()
    last: float | None = None
    while True:
        before = snapshot()
        time.sleep(window_s)
        load = foreign_load(before, snapshot())
        if load is None:
            return time.perf_counter() - started, None
        last = load.cpus
        waited = time.perf_counter() - started
        if last < threshold_cpus or waited >= max_wait_s:
            return waited, last
