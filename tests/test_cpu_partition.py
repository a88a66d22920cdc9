"""CPU partitions for xdist workers: pure logic on described topologies."""

from __future__ import annotations

import pytest

from pytest_ovperf.runtime.cpu_partition import (
    PartitionError,
    PhysicalCore,
    cpu_topology,
    describe,
    parse_cpu_list,
    partition,
)
from pytest_ovperf.workers import PARTITION_SLOT_KEY, PartitionSlots


def cores(nodes: int, per_node: int, threads: int = 2) -> list[PhysicalCore]:
    """``nodes`` NUMA nodes of ``per_node`` cores with ``threads`` hyper-threads each,
    numbered as Linux does (first threads of all cores, then the siblings)."""
    total = nodes * per_node
    return [
        PhysicalCore(
            node=n,
            package=n,
            core=c,
            cpus=tuple(n * per_node + c + t * total for t in range(threads)),
        )
        for n in range(nodes)
        for c in range(per_node)
    ]


def test_cpu_lists_parse_as_the_kernel_writes_them() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("") == []


@pytest.mark.parametrize("workers", [1, 2, 3, 4, 5, 8])
def test_workers_get_disjoint_equal_shares_of_whole_cores(workers: int) -> None:
    machine = cores(nodes=2, per_node=4)
    shares = partition(machine, workers)
    assert len(shares) == workers
    assert len({len(share) for share in shares}) == 1  # equal sizes: results compare
    assert len(shares[0]) == len(machine) // workers
    taken = [core for share in shares for core in share]
    assert len(taken) == len(set(taken))  # disjoint, and hyper-threads stay with their core


@pytest.mark.parametrize("workers", [2, 4, 8])
def test_a_share_stays_within_one_numa_node_when_it_fits(workers: int) -> None:
    for share in partition(cores(nodes=2, per_node=4), workers):
        assert len({core.node for core in share}) == 1


def test_shares_left_over_by_the_nodes_are_pooled() -> None:
    # 3 cores per node, 2 per worker: one share per node, the third from what is left
    shares = partition(cores(nodes=2, per_node=3), 3)
    assert [sorted({c.node for c in share}) for share in shares] == [[0], [1], [0, 1]]


def test_more_workers_than_cores_is_a_clear_error() -> None:
    with pytest.raises(PartitionError, match=r"3 workers but only 2 physical core\(s\).*-n 2"):
        partition(cores(nodes=1, per_node=2), 3)


def test_this_machine_has_at_least_one_core_and_a_description() -> None:
    found = cpu_topology()
    assert found
    cpus = [cpu for core in found for cpu in core.cpus]
    assert len(cpus) == len(set(cpus))
    assert describe(cpus, len(found)) == f"{len(found)} core(s), {len(cpus)} CPU(s)"


class _Node:
    """Just what the slot bookkeeping reads of an xdist node."""

    def __init__(self, worker_id: str) -> None:
        self.gateway = type("Gateway", (), {"id": worker_id})()
        self.workerinput: dict[str, object] = {}


def test_a_replacement_worker_takes_the_share_of_the_one_that_went_down() -> None:
    slots = PartitionSlots(2)
    first, second = _Node("gw0"), _Node("gw1")
    slots.pytest_configure_node(first)
    slots.pytest_configure_node(second)
    assert [n.workerinput[PARTITION_SLOT_KEY] for n in (first, second)] == [0, 1]
    slots.pytest_testnodedown(second, error="crashed")
    replacement = _Node("gw2")  # xdist gives the replacement a new id
    slots.pytest_configure_node(replacement)
    assert replacement.workerinput[PARTITION_SLOT_KEY] == 1
