"""Disjoint sets of physical CPU cores for pytest-xdist workers (``--ovperf-cpu-partition``).

On a many-core machine, N workers can measure N tests at once without disturbing each other
when each runs on cores of its own: the worker's process affinity is set to its cores before
OpenVINO is loaded, and OpenVINO's CPU plugin sizes its threads and streams to the affinity
it finds. A partition keeps both hyper-threads of a core together (two workers on sibling
threads would share a core's execution units) and, where the machine has several NUMA
nodes, keeps each worker on one node when the workers fit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SYS_CPU = Path("/sys/devices/system/cpu")
_SYS_NODE = Path("/sys/devices/system/node")


class PartitionError(ValueError):
    """The machine cannot give every worker cores of its own."""


@dataclass(frozen=True, order=True)
class PhysicalCore:
    """One physical core: its NUMA node, package and core id, and its logical CPUs."""

    node: int
    package: int
    core: int
    cpus: tuple[int, ...]


def parse_cpu_list(text: str) -> list[int]:
    """``0-3,8,10-11`` -> ``[0, 1, 2, 3, 8, 10, 11]`` (the kernel's cpulist format)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _read_int(path: Path, default: int) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return default


def cpu_topology(allowed: Sequence[int] | None = None) -> list[PhysicalCore]:
    """The physical cores among the CPUs this process may use, from Linux's sysfs; where
    sysfs says nothing, each allowed CPU counts as a core of its own."""
    if allowed is None:
        affinity = getattr(os, "sched_getaffinity", None)  # Linux only
        allowed = sorted(affinity(0)) if affinity else list(range(os.cpu_count() or 1))
    node_of: dict[int, int] = {}
    for node_dir in sorted(_SYS_NODE.glob("node[0-9]*")):
        try:
            cpulist = (node_dir / "cpulist").read_text()
        except OSError:
            continue
        for cpu in parse_cpu_list(cpulist):
            node_of[cpu] = int(node_dir.name[4:])
    grouped: dict[tuple[int, int, int], list[int]] = {}
    for cpu in allowed:
        topology = _SYS_CPU / f"cpu{cpu}" / "topology"
        package = _read_int(topology / "physical_package_id", 0)
        core = _read_int(topology / "core_id", cpu)
        grouped.setdefault((node_of.get(cpu, 0), package, core), []).append(cpu)
    return sorted(PhysicalCore(n, p, c, tuple(sorted(cpus))) for (n, p, c), cpus in grouped.items())


def partition(cores: Sequence[PhysicalCore], workers: int) -> list[list[PhysicalCore]]:
    """Split ``cores`` into ``workers`` disjoint, equal-sized sets (the remainder unused, so
    that every worker measures on as many cores as the others and their results compare).

    Cores are taken in (node, package, core) order, so a set stays within one NUMA node
    whenever the per-node core count is a multiple of the set size."""
    if workers < 1:
        raise PartitionError(f"cannot partition the CPU for {workers} workers")
    per_worker = len(cores) // workers
    if per_worker < 1:
        raise PartitionError(
            f"--ovperf-cpu-partition: {workers} workers but only {len(cores)} physical "
            f"core(s) available to this process; use at most -n {len(cores)} or "
            "--ovperf-cpu-partition=off"
        )
    ordered = sorted(cores)
    by_node: dict[int, list[PhysicalCore]] = {}
    for core in ordered:
        by_node.setdefault(core.node, []).append(core)
    # fill whole sets within a node first; what is left of the nodes is pooled
    sets: list[list[PhysicalCore]] = []
    leftover: list[PhysicalCore] = []
    for node_cores in by_node.values():
        whole = len(node_cores) // per_worker * per_worker
        sets.extend(node_cores[i : i + per_worker] for i in range(0, whole, per_worker))
        leftover.extend(node_cores[whole:])
    sets.extend(leftover[i : i + per_worker] for i in range(0, len(leftover), per_worker))
    sets = [s for s in sets if len(s) == per_worker]
    return sets[:workers]


def worker_cpus(workers: int, index: int) -> list[int]:
    """The logical CPUs of worker ``index`` (0-based) of ``workers``."""
    if not 0 <= index < workers:
        raise PartitionError(f"worker {index} is not one of {workers}")
    chosen = partition(cpu_topology(), workers)[index]
    return sorted(cpu for core in chosen for cpu in core.cpus)


def describe(cpus: Sequence[int], cores: int) -> str:
    """The partition as a machine-profile fact: its size, not which cores (workers with equal
    shares compare with each other)."""
    return f"{cores} core(s), {len(cpus)} CPU(s)"
