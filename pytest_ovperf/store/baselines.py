"""Baseline files: read, record a run, prune; every write atomic and under the file's lock.

The format is ``schema.py``'s. Writers hold a ``filelock`` lock on the sidecar
``.<name>.lock`` for the whole read-modify-write, so concurrent recorders (xdist workers,
parallel CI jobs sharing a directory) lose nothing; on POSIX it is an ``flock``, which the
kernel releases when its holder dies. A file that cannot be used is reported with its path
and never overwritten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from ..identity import TestIdentity
from .files import write_json_atomic
from .location import baseline_path, lock_path
from .schema import (
    BLOCK_LIMIT,
    HISTORY_LIMIT,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    BaselineFile,
    BaselineFileError,
    StoredRun,
    round_floats,
)

#: how long a writer waits for another one's lock before it reports the lock
LOCK_TIMEOUT_S = 120.0

__all__ = [
    "BLOCK_LIMIT",
    "HISTORY_LIMIT",
    "LOCK_TIMEOUT_S",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "BaselineFile",
    "BaselineFileError",
    "append_run",
    "baseline_path",
    "load",
    "lock_path",
    "locked",
    "prune",
    "record",
    "round_floats",
    "stale_entries",
]


def load(path: Path) -> BaselineFile:
    """Read a baseline file; a missing file is empty, a bad one raises ``BaselineFileError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BaselineFile(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineFileError(path, f"cannot be read ({exc})") from exc
    return BaselineFile.parse(path, text)


@contextlib.contextmanager
def locked(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the exclusive lock of ``path``'s read-modify-write, across processes.

    A lock held for over ``timeout_s`` is a ``BaselineFileError`` naming the file and the
    lock. The lock file is left on disk after release (unlinking a locked file would let
    two writers lock two different files).
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    file_lock = filelock.FileLock(str(lock))
    try:
        file_lock.acquire(timeout=timeout_s)
    except filelock.Timeout:
        raise BaselineFileError(
            path,
            f"lock {lock} held by another process for over {timeout_s:g} s; is another pytest "
            "running?",
        ) from None
    try:
        yield
    finally:
        file_lock.release()


def record(
    path: Path,
    test: str,
    profile: str,
    profile_facts: Mapping[str, Any],
    kind: str,
    entry: Mapping[str, Any],
) -> None:
    """Create or replace one entry, keeping every other entry of the file as it was."""
    with locked(path):
        current = load(path)
        current.profiles[profile] = dict(profile_facts)
        current.entries.setdefault(test, {}).setdefault(profile, {})[kind] = dict(entry)
        write_json_atomic(path, current.to_json())


def append_run(
    path: Path,
    test: str,
    profile: str,
    profile_facts: Mapping[str, Any],
    kind: str,
    fields: Mapping[str, Any],
    run: StoredRun,
) -> int:
    """Add ``run`` to the history of one entry and set the entry's other ``fields``, all
    under the lock: the stored history is read inside it, so runs recorded at once by
    other processes are kept. Returns the number of runs in the history."""
    with locked(path):
        current = load(path)
        previous = current.entry(test, profile, kind) or {}
        history = [*previous.get("history", []), run.to_json()][-HISTORY_LIMIT:]
        current.profiles[profile] = dict(profile_facts)
        by_kind = current.entries.setdefault(test, {}).setdefault(profile, {})
        by_kind[kind] = {**fields, "history": history}
        write_json_atomic(path, current.to_json())
    return len(history)


def prune(path: Path, stale: Mapping[str, list[str]]) -> int:
    """Delete the given (test -> profiles) entries and profiles no entry uses any more."""
    removed = 0
    with locked(path):
        current = load(path)
        for test, profiles in stale.items():
            by_profile = current.entries.get(test, {})
            for profile in profiles:
                if by_profile.pop(profile, None) is not None:
                    removed += 1
            if not by_profile:
                current.entries.pop(test, None)
        used = {p for by_profile in current.entries.values() for p in by_profile}
        current.profiles = {p: f for p, f in current.profiles.items() if p in used}
        write_json_atomic(path, current.to_json())
    return removed


def stale_entries(
    stored: BaselineFile,
    collected_names: Iterable[str],
    session_devices: Iterable[str],
) -> dict[str, list[str]]:
    """Entries of a fully collected test file that no collected test could produce.

    An entry is stale when its test function no longer exists, or when its device is one
    this session ran and its parametrized name (device-precision) was not collected.
    """
    names = set(collected_names)
    functions = {_test_of(n) for n in names}
    devices = set(session_devices)
    stale: dict[str, list[str]] = {}
    for test, by_profile in stored.entries.items():
        if test in names:
            continue
        gone = _test_of(test) not in functions
        for profile, kinds in by_profile.items():
            device = next((k.get("device") for k in kinds.values() if isinstance(k, dict)), None)
            if gone or device in devices:
                stale.setdefault(test, []).append(profile)
    return stale


def _test_of(name: str) -> str:
    """The test of an entry's name (``TestA::test_x`` of ``TestA::test_x[CPU-f32]``)."""
    return TestIdentity.from_nodeid(f"::{name}").test
