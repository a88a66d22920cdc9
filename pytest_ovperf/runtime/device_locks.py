"""Who may use a device while several pytest processes (xdist workers) share the machine.

A measurement holds its device exclusively: two workers timing the same CPU at once each
read about half its speed. On the CPU, the CPU-heavy work of other workers (reading and
compiling models) must not run during a measurement either, so that work holds the CPU lock
*shared*: any number of workers compile at once, none while a CPU measurement runs. A GPU or
NPU measurement holds only its own device; other workers may compile meanwhile.

The locks are ``filelock.ReadWriteLock`` files in a directory the xdist controller creates for
the session; without one (a run without xdist, or ``--ovperf-device-lock=off``) nothing is
locked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import filelock

from .devices import META_DEVICES, member_devices

#: how long a worker waits for a device before the test errors (a whole suite's
#: measurements may run before its turn)
LOCK_WAIT_S = 3600.0
#: the device whose lock also guards CPU-heavy preparation
CPU = "CPU"


class DeviceLockTimeout(RuntimeError):
    """A device stayed held by other workers longer than ``LOCK_WAIT_S``."""


@dataclass
class Hold:
    """One hold of device locks: how long it waited, when it was granted and (set by the
    holder) when its work ended (epoch s)."""

    devices: tuple[str, ...]
    waited_s: float = 0.0
    granted_at: float = 0.0
    release_at: float | None = None


def physical_devices(device: str, available: Sequence[str]) -> tuple[str, ...]:
    """The device families a (possibly meta) device name may run on, sorted (the lock order,
    so that two workers never wait for each other). ``AUTO`` or ``MULTI`` without a list may
    use any available device. ``GPU.0`` and ``GPU.1`` share the ``GPU`` lock: ``GPU`` alone
    may mean either, and one lock per family is always safe."""
    members = member_devices(device)
    # AUTO:-CPU excludes a device: it may still run on any other
    if any(m.startswith("-") for m in members):
        excluded = {m[1:].split(".", 1)[0] for m in members if m.startswith("-")}
        members = [a for a in available if a.split(".", 1)[0] not in excluded]
    if not members and device.partition(":")[0] in META_DEVICES:
        members = list(available)
    # GPU.1 and BATCH:GPU(4) run on the GPU family
    return tuple(sorted({re.split(r"[.(]", m, maxsplit=1)[0] for m in members}))


def _file_name(device: str) -> str:
    return "device-" + re.sub(r"[^A-Za-z0-9_.-]", "_", device) + ".lock"


class DeviceLocks:
    """Exclusive holds for measurements, shared holds on the CPU for preparation.

    ``directory`` None: a single process, nothing to lock. ``available`` lists the devices
    a meta device without a list may use."""

    def __init__(
        self,
        directory: Path | None,
        available: Callable[[], Sequence[str]] = lambda: (),
        *,
        cpu_is_private: bool = False,
        wait_s: float = LOCK_WAIT_S,
    ) -> None:
        self.directory = directory
        self._available = available
        #: this worker has CPU cores of its own (``--ovperf-cpu-partition``): its CPU work
        #: and other workers' never meet, so the CPU is not locked
        self._cpu_is_private = cpu_is_private
        self._wait_s = wait_s
        #: total seconds this process waited for other workers
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return self.directory is not None

    def _lock(self, device: str) -> filelock.ReadWriteLock:
        assert self.directory is not None
        return filelock.ReadWriteLock(self.directory / _file_name(device), timeout=self._wait_s)

    @contextmanager
    def measuring(self, device: str) -> Iterator[Hold]:
        """Hold every physical device of ``device`` exclusively."""
        devices = physical_devices(device, self._available()) if self.active else ()
        with self._hold(self._shared_only(devices), exclusive=True) as hold:
            yield hold

    @contextmanager
    def preparing(self) -> Iterator[Hold]:
        """Hold the CPU shared: no CPU measurement runs meanwhile."""
        with self._hold(self._shared_only((CPU,) if self.active else ()), exclusive=False) as hold:
            yield hold

    def _shared_only(self, devices: tuple[str, ...]) -> tuple[str, ...]:
        """The devices other workers may use too (all but a private CPU)."""
        return tuple(d for d in devices if not (self._cpu_is_private and d == CPU))

    @contextmanager
    def _hold(self, devices: tuple[str, ...], exclusive: bool) -> Iterator[Hold]:
        hold = Hold(devices)
        if not devices:
            hold.granted_at = time.time()
            yield hold
            return
        started = time.perf_counter()
        with ExitStack() as stack:
            for device in devices:
                lock = self._lock(device)
                acquire = lock.write_lock if exclusive else lock.read_lock
                try:
                    stack.enter_context(acquire())
                except filelock.Timeout as exc:
                    raise DeviceLockTimeout(
                        f"waited {self._wait_s:.0f} s for device {device} "
                        f"({self.directory / _file_name(device) if self.directory else ''}), "
                        "held by another pytest-xdist worker; is a worker stuck?"
                    ) from exc
            hold.waited_s = time.perf_counter() - started
            hold.granted_at = time.time()
            self.waited_s += hold.waited_s
            yield hold
