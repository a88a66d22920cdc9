"""Baseline files: where they live, their schema, atomic and concurrent-safe updates.

One JSON file per test file, mirroring its path under the baseline directory
(``tests/perf/test_det.py`` -> ``baselines/tests/perf/test_det.json``). Inside::

    {"schema": "pytest-ovperf-baselines", "schema_version": 1,
     "profiles": {PROFILE_ID: {machine facts}},
     "entries": {TEST_NAME: {PROFILE_ID: {"latency": {...}, "throughput": {...}}}}}

Keys are sorted and floats rounded to 6 significant digits so that re-recording gives
small, readable diffs. Files are parsed with ``json`` only: nothing in them is executed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import write_json_atomic

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA_NAME = "pytest-ovperf-baselines"
SCHEMA_VERSION = 1
#: run summaries kept per entry, so the gate can learn this machine's run-to-run drift
HISTORY_LIMIT = 20
#: block summaries kept per run
BLOCK_LIMIT = 64


class BaselineFileError(Exception):
    """A baseline file that cannot be used; it is reported and never overwritten."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"baseline file {path}: {problem}")
        self.path = path
        self.problem = problem


def profile_id(machine_facts: Mapping[str, Any]) -> str:
    """A short, stable id of a machine profile (hardware identity)."""
    text = json.dumps(dict(machine_facts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def baseline_path(baseline_dir: Path, rootdir: Path, test_file: Path) -> Path:
    """Where the baselines of ``test_file`` live."""
    try:
        relative = test_file.resolve().relative_to(rootdir.resolve())
    except ValueError:
        relative = Path(test_file.name)
    return baseline_dir / relative.with_suffix(".json")


def round_floats(value: Any) -> Any:
    """Round every float to 6 significant digits (stable, diff-friendly output)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: round_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v) for v in value]
    return value


@dataclass
class BaselineFile:
    path: Path
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def entry(self, test: str, profile: str, kind: str) -> dict[str, Any] | None:
        return self.entries.get(test, {}).get(profile, {}).get(kind)

    def profiles_of(self, test: str, kind: str) -> list[str]:
        return [p for p, kinds in self.entries.get(test, {}).items() if kind in kinds]

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = round_floats(
            {
                "schema": SCHEMA_NAME,
                "schema_version": SCHEMA_VERSION,
                "profiles": self.profiles,
                "entries": self.entries,
            }
        )
        return payload


def load(path: Path) -> BaselineFile:
    """Read a baseline file; a missing file is empty, a bad one raises ``BaselineFileError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BaselineFile(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineFileError(path, f"cannot be read ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineFileError(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
        raise BaselineFileError(
            path, f"is not a pytest-ovperf baseline file (no schema {SCHEMA_NAME!r})"
        )
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BaselineFileError(
            path,
            f"has schema_version {version!r}; this pytest-ovperf reads version {SCHEMA_VERSION} "
            "(upgrade pytest-ovperf, or re-record with --ovperf-update-baselines)",
        )
    profiles, entries = data.get("profiles"), data.get("entries")
    if not isinstance(profiles, dict) or not isinstance(entries, dict):
        raise BaselineFileError(path, "'profiles' and 'entries' must be objects")
    for profile, facts in profiles.items():
        if not isinstance(facts, dict):
            raise BaselineFileError(path, f"profile {profile!r} is not an object")
    for test, by_profile in entries.items():
        if not isinstance(by_profile, dict):
            raise BaselineFileError(path, f"entry {test!r} is malformed: not an object")
        for profile, kinds in by_profile.items():
            if not isinstance(kinds, dict):
                raise BaselineFileError(
                    path, f"entry {test!r} is malformed: profile {profile!r} is not an object"
                )
            for kind, entry in kinds.items():
                problem = _entry_problem(entry)
                if problem:
                    raise BaselineFileError(
                        path, f"entry {test!r} is malformed: {profile}/{kind} {problem}"
                    )
    return BaselineFile(path, profiles, entries)


#: fields every stored run must have, with their JSON types
_RUN_FIELDS: dict[str, tuple[type, ...]] = {
    "value": (int, float),
    "log_value": (int, float),
    "within_se": (int, float),
    "blocks": (int,),
    "software": (str,),
}


def _is_a(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, except that JSON's true/false never count as numbers."""
    return isinstance(value, types) and not isinstance(value, bool)


def _valid_probe(probe: Any) -> bool:
    if not isinstance(probe, dict) or not isinstance(probe.get("id"), str):
        return False
    ms = probe.get("ms", 0)
    return _is_a(ms, (int, float)) and ms > 0


def _entry_problem(entry: Any) -> str:
    """What is wrong with one stored entry, or '' (checked here so the gate never meets it)."""
    if not isinstance(entry, dict):
        return "is not an object"
    history = entry.get("history", [])
    if not isinstance(history, list):
        return "'history' is not a list"
    for index, run in enumerate(history):
        runs = [run, run.get("normalized")] if isinstance(run, dict) else [run]
        for part in runs:
            if part is None and run is not part:
                continue  # a run without a probe ratio
            if not isinstance(part, dict):
                return f"history[{index}] is not an object"
            for name, types in _RUN_FIELDS.items():
                if not _is_a(part.get(name), types):
                    return f"history[{index}] lacks a valid {name!r}"
        probe = run.get("probe")
        if probe is not None and not _valid_probe(probe):
            return f"history[{index}] has an invalid 'probe' (wants {{'id': str, 'ms': > 0}})"
    return ""


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path, timeout_s: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock for ``path``'s read-modify-write, across processes.

    The lock is a sidecar ``.<name>.lock`` file holding the owner's pid, removed on release.
    On POSIX it is an ``flock`` on that file: the kernel releases it when its holder dies, so
    a killed pytest-xdist worker never leaves a lock that others must guess is stale.
    Elsewhere the file is created with O_EXCL, and one older than ``timeout_s`` is broken.
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try_lock = _try_flock if fcntl is not None else _try_exclusive_create
    deadline = time.monotonic() + timeout_s
    while (fd := try_lock(lock, timeout_s)) is None:
        if time.monotonic() > deadline:
            raise _timeout_error(path, lock, timeout_s)
        time.sleep(0.01)
    try:
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        if fcntl is not None:
            # unlink while holding the flock: whoever then locks the old file sees it is gone
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            os.close(fd)
        else:
            os.close(fd)  # Windows cannot delete an open file
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()


def _try_flock(lock: Path, timeout_s: float) -> int | None:
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    # the previous holder unlinks the file before unlocking: a lock taken on a file no
    # longer at ``lock`` protects nothing, so try again on the new one
    try:
        current = os.path.samestat(os.fstat(fd), os.stat(lock))
    except FileNotFoundError:
        current = False
    if not current:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    return fd


def _try_exclusive_create(lock: Path, timeout_s: float) -> int | None:
    for _ in range(2):
        try:
            return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        try:
            if time.time() - lock.stat().st_mtime <= timeout_s:
                return None
            lock.unlink()  # left by a killed process: break it and try once more
        except FileNotFoundError:
            pass
    return None


def _timeout_error(path: Path, lock: Path, timeout_s: float) -> BaselineFileError:
    try:
        owner = f" by pid {lock.read_text().strip() or '?'}"
    except OSError:
        owner = ""
    return BaselineFileError(
        path, f"lock {lock} held{owner} for over {timeout_s:.0f} s; is another pytest running?"
    )


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
