"""pytest-xdist: what the controller hands its workers, and what a worker makes of it.

The controller creates one directory for the session's device locks and checks that a CPU
partition is possible; each worker then takes its share of the cores (before OpenVINO is
loaded, so that the CPU plugin sizes its threads to them) and locks devices in that
directory. Without xdist none of this happens.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .options import Settings
from .runtime.cpu_partition import PartitionError, cpu_topology, describe, partition

#: ``workerinput`` keys
SESSION_ID_KEY = "ovperf_session_id"
LOCK_DIR_KEY = "ovperf_lock_dir"
PARTITION_SLOT_KEY = "ovperf_partition_slot"


@dataclass(frozen=True)
class WorkerSetup:
    """What this process needs to share the machine with other workers."""

    #: the session's device-lock directory (None: no locking)
    lock_dir: Path | None = None
    #: this worker's CPU share as a machine-profile fact (None: the whole machine)
    cpu_partition: str | None = None


def worker_count(config: pytest.Config) -> int:
    """How many xdist workers this (controller) run starts; 0 without xdist."""
    if not config.pluginmanager.hasplugin("xdist"):
        return 0
    # xdist has turned -n auto / logical into a number by the time plugins are configured
    count = getattr(config.option, "numprocesses", None)
    return count if isinstance(count, int) and count > 0 else 0


def controller_lock_dir(config: pytest.Config, settings: Settings) -> Path | None:
    """On the controller of an xdist run: check the CPU partition and create the lock
    directory (removed at the end of the session)."""
    workers = worker_count(config)
    if workers == 0:
        return None
    if settings.cpu_partition:
        try:
            partition(cpu_topology(), workers)
        except PartitionError as exc:
            raise pytest.UsageError(str(exc)) from None
    if not settings.device_lock:
        return None
    directory = Path(tempfile.mkdtemp(prefix="ovperf-device-locks-"))
    config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    return directory


def setup_worker(workerinput: dict[str, Any] | None, settings: Settings) -> WorkerSetup:
    """In an xdist worker: take this worker's CPU share and find the lock directory."""
    if workerinput is None:
        return WorkerSetup()
    lock_dir = workerinput.get(LOCK_DIR_KEY)
    share = None
    if settings.cpu_partition:
        workers = int(workerinput.get("workercount", 1))
        # the controller's slot, not the worker id: a worker that replaces a crashed one
        # gets a new id (gw4 of -n 4) but the crashed worker's cores
        index = int(workerinput.get(PARTITION_SLOT_KEY, 0))
        try:
            cores = partition(cpu_topology(), workers)[index]
        except (PartitionError, IndexError) as exc:
            raise pytest.UsageError(f"--ovperf-cpu-partition: {exc}") from None
        cpus = sorted(cpu for core in cores for cpu in core.cpus)
        _set_affinity(cpus)
        share = describe(cpus, len(cores))
    return WorkerSetup(Path(lock_dir) if lock_dir else None, share)


def _set_affinity(cpus: list[int]) -> None:
    """Pin every thread of this process (threads started later inherit it)."""
    tasks = Path("/proc/self/task")
    thread_ids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for thread_id in thread_ids:
        try:
            os.sched_setaffinity(thread_id, cpus)
        except ProcessLookupError:  # the thread ended meanwhile
            continue


class PartitionSlots:
    """On the controller: which CPU share each live worker has. A worker that goes down
    frees its share for the one xdist starts in its place."""

    def __init__(self, workers: int) -> None:
        self.free = list(range(workers))
        self.taken: dict[str, int] = {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        slot = self.free.pop(0) if self.free else 0
        self.taken[node.gateway.id] = slot
        node.workerinput[PARTITION_SLOT_KEY] = slot

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        slot = self.taken.pop(node.gateway.id, None)
        if slot is not None:
            self.free.insert(0, slot)


# -- pytest-xdist internals the confirmation re-measure needs ----------------------------------

#: the pytest-xdist releases whose ``WorkerInteractor`` (``xdist/remote.py``) was read for
#: ``sendevent`` and ``item_index``: a worker reports a test under the index of the test it
#: last ran, and a held test's reports must be sent under its own
XDIST_CHECKED = ("3.8",)


def xdist_reporter(config: pytest.Config) -> Any:
    """pytest-xdist's worker plugin, which sends each report with ``item_index`` (private to
    pytest-xdist: ``XDIST_CHECKED``, and ``tests/test_confirm.py`` checks the installed
    version still has what is used here)."""
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "sendevent"):
            return plugin
    return None


class reporting_as:
    """On an xdist worker, report the held test under its own index (the worker's reporter
    checks that a report belongs to the test it last ran)."""

    def __init__(self, session: pytest.Session, item: pytest.Item) -> None:
        self.reporter = xdist_reporter(session.config)
        self.index = session.items.index(item) if self.reporter is not None else None
        self.previous: Any = None

    def __enter__(self) -> None:
        if self.reporter is not None:
            self.previous = getattr(self.reporter, "item_index", None)
            self.reporter.item_index = self.index

    def __exit__(self, *exc: object) -> None:
        if self.reporter is not None and self.previous is not None:
            self.reporter.item_index = self.previous
