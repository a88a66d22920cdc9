"""Baseline files: schema, deterministic output, corrupt files, atomic and concurrent writes."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_ovperf.runtime.facts import facts_id as profile_id
from pytest_ovperf.store.baselines import (
    BLOCK_LIMIT,
    HISTORY_LIMIT,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    BaselineFile,
    BaselineFileError,
    baseline_path,
    load,
    lock_path,
    locked,
    prune,
    record,
    round_floats,
)

FACTS: dict[str, Any] = {
    "cpu": "Example CPU @ 3.00GHz",
    "logical_cpus": 8,
    "machine": "x86_64",
    "system": "Linux",
    "device": "CPU",
    "device_name": "Example CPU @ 3.00GHz",
}
PROFILE = profile_id(FACTS)


def entry(value: float = 1.25, **extra: Any) -> dict[str, Any]:
    """A small baseline entry with exactly representable numbers."""
    run = {"value": value, "log_value": 0.25, "within_se": 0.5, "blocks": 4, "software": "abc"}
    return {"device": "CPU", "statistic": "p50_ms", "value": value, "history": [run], **extra}


def listing(directory: Path) -> list[str]:
    """The files in ``directory``, but the lock files (``.<name>.lock``, which stay)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".lock"))


def assert_unlocked(path: Path) -> None:
    """The lock of ``path`` is free: taking it does not wait."""
    started = time.monotonic()
    with locked(path, timeout_s=5):
        pass
    assert time.monotonic() - started < 1.0


# -- round trip and deterministic output ------------------------------------------------


def test_record_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "baselines" / "test_x.json"
    record(path, "test_a[CPU-f32]", PROFILE, FACTS, "latency", entry())
    stored = load(path)
    assert isinstance(stored, BaselineFile)
    assert stored.path == path
    assert stored.entry("test_a[CPU-f32]", PROFILE, "latency") == entry()
    assert stored.entry("test_a[CPU-f32]", PROFILE, "throughput") is None
    assert stored.entry("test_b", PROFILE, "latency") is None
    assert stored.profiles == {PROFILE: FACTS}
    assert stored.profiles_of("test_a[CPU-f32]", "latency") == [PROFILE]
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA_NAME
    assert data["schema_version"] == SCHEMA_VERSION


def test_missing_file_loads_empty(tmp_path: Path) -> None:
    stored = load(tmp_path / "nowhere" / "test_x.json")
    assert stored.entries == {} and stored.profiles == {}
    assert not (tmp_path / "nowhere").exists()


def test_recording_the_same_entry_twice_gives_identical_bytes(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    record(path, "test_a", PROFILE, FACTS, "latency", entry(3.14159265358979))
    first = path.read_bytes()
    record(path, "test_a", PROFILE, FACTS, "latency", entry(3.14159265358979))
    assert path.read_bytes() == first
    # and another file written the same way is byte-identical too
    other = tmp_path / "copy" / "test_x.json"
    record(other, "test_a", PROFILE, FACTS, "latency", entry(3.14159265358979))
    assert other.read_bytes() == first


def test_insertion_order_does_not_change_the_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    record(a, "test_1", PROFILE, FACTS, "latency", entry(1.0))
    record(a, "test_2", PROFILE, FACTS, "throughput", entry(2.0))
    record(b, "test_2", PROFILE, FACTS, "throughput", entry(2.0))
    record(b, "test_1", PROFILE, dict(reversed(FACTS.items())), "latency", entry(1.0))
    assert a.read_bytes() == b.read_bytes()


def _assert_keys_sorted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert keys == sorted(keys), keys
    return dict(pairs)


def test_keys_are_sorted_at_every_level(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    facts = {"zeta": 1, "alpha": 2, **FACTS}
    record(path, "test_z", profile_id(facts), facts, "throughput", entry(zz=1, aa=2))
    record(path, "test_a", PROFILE, FACTS, "latency", entry())
    json.loads(path.read_text(), object_pairs_hook=_assert_keys_sorted)
    text = path.read_text()
    assert text.endswith("}\n")
    assert text.index('"test_a"') < text.index('"test_z"')


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (3.14159265358979, 3.14159),
        (123456789.123, 123457000.0),
        (0.000123456789, 0.000123457),
        (2.0, 2.0),
        (-1.23456789e-9, -1.23457e-9),
    ],
)
def test_floats_are_stored_with_six_significant_digits(
    tmp_path: Path, value: float, stored: float
) -> None:
    path = tmp_path / "test_x.json"
    record(path, "test_a", PROFILE, FACTS, "latency", entry(value, nested={"deep": [value]}))
    kept = load(path).entry("test_a", PROFILE, "latency")
    assert kept is not None
    assert kept["value"] == stored
    assert kept["history"][0]["value"] == stored
    assert kept["nested"] == {"deep": [stored]}


def test_round_floats_leaves_other_values_alone() -> None:
    data = {"i": 123456789, "b": True, "s": "1.23456789", "n": None, "l": [1.23456789, 7]}
    assert round_floats(data) == {
        "i": 123456789,
        "b": True,
        "s": "1.23456789",
        "n": None,
        "l": [1.23457, 7],
    }


def test_record_leaves_every_other_entry_untouched(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    other_facts = {**FACTS, "cpu": "Other CPU"}
    other_profile = profile_id(other_facts)
    record(path, "test_a", PROFILE, FACTS, "latency", entry(1.0))
    record(path, "test_a", PROFILE, FACTS, "throughput", entry(500.0))
    record(path, "test_a", other_profile, other_facts, "latency", entry(2.0))
    record(path, "test_b", PROFILE, FACTS, "latency", entry(3.0))
    before = load(path)
    record(path, "test_a", PROFILE, FACTS, "latency", entry(1.5))
    after = load(path)
    assert after.entry("test_a", PROFILE, "latency") == entry(1.5)
    for test, profile, kind in [
        ("test_a", PROFILE, "throughput"),
        ("test_a", other_profile, "latency"),
        ("test_b", PROFILE, "latency"),
    ]:
        assert after.entry(test, profile, kind) == before.entry(test, profile, kind)
    assert after.profiles == {PROFILE: FACTS, other_profile: other_facts}


# -- corrupt files ------------------------------------------------------------------------

VALID = json.dumps(
    {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "profiles": {PROFILE: FACTS},
        "entries": {"test_a": {PROFILE: {"latency": entry()}}},
    },
    indent=2,
)

CORRUPT: dict[str, tuple[bytes, str]] = {
    "garbage": (b"this is not json at all \x01\x02", "is not valid JSON"),
    "truncated": (VALID[: len(VALID) // 2].encode(), r"is not valid JSON \(line \d+, column \d+"),
    "empty": (b"", "is not valid JSON"),
    "not-utf8": (b'{"schema": "\xff\xfe"}', "cannot be read"),
    "json-list": (b"[1, 2, 3]", "is not a pytest-ovperf baseline file"),
    "other-schema": (
        json.dumps({"schema": "something-else", "schema_version": 1}).encode(),
        "is not a pytest-ovperf baseline file",
    ),
    "future-version": (
        VALID.replace(f'"schema_version": {SCHEMA_VERSION}', '"schema_version": 99').encode(),
        r"schema_version 99; this pytest-ovperf reads version 1",
    ),
    "no-version": (
        json.dumps({"schema": SCHEMA_NAME, "profiles": {}, "entries": {}}).encode(),
        "schema_version None",
    ),
    "entries-not-object": (
        json.dumps(
            {"schema": SCHEMA_NAME, "schema_version": 1, "profiles": {}, "entries": []}
        ).encode(),
        "'profiles' and 'entries' must be objects",
    ),
    "entry-is-list": (
        json.dumps(
            {"schema": SCHEMA_NAME, "schema_version": 1, "profiles": {}, "entries": {"t": []}}
        ).encode(),
        "entry 't' is malformed",
    ),
    "kinds-not-object": (
        json.dumps(
            {
                "schema": SCHEMA_NAME,
                "schema_version": 1,
                "profiles": {},
                "entries": {"test_a": {PROFILE: ["latency"]}},
            }
        ).encode(),
        "entry 'test_a' is malformed",
    ),
    "kind-not-object": (
        json.dumps(
            {
                "schema": SCHEMA_NAME,
                "schema_version": 1,
                "profiles": {},
                "entries": {"test_a": {PROFILE: {"latency": 12.5}}},
            }
        ).encode(),
        "entry 'test_a' is malformed",
    ),
}


@pytest.fixture(params=sorted(CORRUPT))
def corrupt_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, bytes, str]:
    content, problem = CORRUPT[request.param]
    path = tmp_path / "baselines" / "test_x.json"
    path.parent.mkdir()
    path.write_bytes(content)
    return path, content, problem


def test_corrupt_file_is_reported_with_path_and_problem(
    corrupt_file: tuple[Path, bytes, str],
) -> None:
    path, content, problem = corrupt_file
    with pytest.raises(BaselineFileError, match=problem) as info:
        load(path)
    assert info.value.path == path
    assert str(path) in str(info.value)
    assert info.value.problem in str(info.value)
    assert path.read_bytes() == content


def test_record_never_overwrites_a_corrupt_file(corrupt_file: tuple[Path, bytes, str]) -> None:
    path, content, problem = corrupt_file
    with pytest.raises(BaselineFileError, match=problem):
        record(path, "test_a", PROFILE, FACTS, "latency", entry())
    assert path.read_bytes() == content
    # no temporary file, and the lock was released
    assert listing(path.parent) == [path.name]


def test_prune_never_overwrites_a_corrupt_file(corrupt_file: tuple[Path, bytes, str]) -> None:
    path, content, problem = corrupt_file
    with pytest.raises(BaselineFileError, match=problem):
        prune(path, {"test_a": [PROFILE]})
    assert path.read_bytes() == content
    assert listing(path.parent) == [path.name]


def test_a_directory_in_place_of_the_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    path.mkdir()
    with pytest.raises(BaselineFileError, match="cannot be read"):
        load(path)


def test_load_never_executes_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    data = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "profiles": {PROFILE: {"cpu": payload}},
        "entries": {payload: {PROFILE: {"latency": {"value": payload, "__reduce__": payload}}}},
    }
    path = tmp_path / "test_x.json"
    path.write_text(json.dumps(data))
    stored = load(path)
    assert stored.entry(payload, PROFILE, "latency") == {"value": payload, "__reduce__": payload}
    assert stored.profiles[PROFILE]["cpu"] == payload
    assert not marker.exists()
    # re-recording keeps such strings as the plain strings they are
    record(path, "test_b", PROFILE, FACTS, "latency", entry())
    assert load(path).entry(payload, PROFILE, "latency") == {
        "value": payload,
        "__reduce__": payload,
    }
    assert not marker.exists()


# -- atomic writes ------------------------------------------------------------------------


def test_record_leaves_no_temporary_or_lock_files(tmp_path: Path) -> None:
    path = tmp_path / "baselines" / "deep" / "test_x.json"
    for i in range(5):
        record(path, f"test_{i}", PROFILE, FACTS, "latency", entry(float(i + 1)))
    prune(path, {"test_0": [PROFILE]})
    assert listing(path.parent) == ["test_x.json"]


def test_a_failed_write_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "test_x.json"
    record(path, "test_a", PROFILE, FACTS, "latency", entry())
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)  # as write_json_atomic calls it
    with pytest.raises(OSError, match="No space left"):
        record(path, "test_b", PROFILE, FACTS, "latency", entry())
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["test_x.json"]


def test_an_entry_that_is_not_json_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    record(path, "test_a", PROFILE, FACTS, "latency", entry())
    before = path.read_bytes()
    with pytest.raises(ValueError):
        record(path, "test_b", PROFILE, FACTS, "latency", entry(float("nan")))
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["test_x.json"]


# -- locking and concurrency ------------------------------------------------------------


def _record_many(path: str, worker: int, count: int, start: Any) -> None:
    start.wait()
    facts = {**FACTS, "cpu": f"CPU of worker {worker % 2}"}
    for i in range(count):
        record(Path(path), f"test_w{worker}_{i}", profile_id(facts), facts, "latency", entry())


def _context() -> Any:
    # fork starts the writers in milliseconds; spawn (elsewhere) has to import the package
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork to start writers quickly")
def test_concurrent_records_from_many_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "baselines" / "test_x.json"
    workers, count = 8, 10
    context = _context()
    start = context.Barrier(workers)
    processes = [
        context.Process(target=_record_many, args=(str(path), w, count, start))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * workers
    stored = load(path)
    expected = {f"test_w{w}_{i}" for w in range(workers) for i in range(count)}
    assert set(stored.entries) == expected
    assert len(stored.profiles) == 2
    assert listing(path.parent) == ["test_x.json"]


def test_lock_excludes_other_holders(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    events: list[str] = []
    held = threading.Event()

    def holder() -> None:
        with locked(path):
            held.set()
            time.sleep(0.3)
            events.append("holder done")

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    with locked(path):
        events.append("second in")
    thread.join()
    assert events == ["holder done", "second in"]


def test_lock_file_is_a_hidden_sidecar_that_stays(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    with locked(path):
        lock = tmp_path / ".test_x.json.lock"
        assert lock_path(path) == lock and lock.exists()
    # unlinking a locked file would let two writers lock two different files
    assert lock.exists()
    assert_unlocked(path)


def test_lock_is_released_after_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    with pytest.raises(RuntimeError, match="boom"), locked(path):
        raise RuntimeError("boom")
    assert listing(tmp_path) == []
    started = time.monotonic()
    with locked(path, timeout_s=5):
        pass
    assert time.monotonic() - started < 1.0


def test_record_releases_the_lock_when_it_fails(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    path.write_text("{ broken")
    with pytest.raises(BaselineFileError):
        record(path, "test_a", PROFILE, FACTS, "latency", entry())
    assert_unlocked(path)
    path.unlink()
    record(path, "test_a", PROFILE, FACTS, "latency", entry())
    assert load(path).entry("test_a", PROFILE, "latency") == entry()


HOLD_LOCK = """
import sys, time
from pathlib import Path
from pytest_ovperf.store.baselines import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock_in_subprocess(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_lock_of_a_killed_holder_is_taken_at_once(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    holder = hold_lock_in_subprocess(path, 600)
    holder.kill()  # SIGKILL: no cleanup, the lock file stays
    holder.wait()
    assert lock_path(path).exists()
    started = time.monotonic()
    record(path, "test_a", PROFILE, FACTS, "latency", entry())  # default timeout: 120 s
    assert time.monotonic() - started < 5.0
    assert load(path).entry("test_a", PROFILE, "latency") == entry()


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_lock_held_by_a_live_process_times_out_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    holder = hold_lock_in_subprocess(path, 600)
    try:
        with pytest.raises(BaselineFileError) as raised, locked(path, timeout_s=0.3):
            pass
    finally:
        holder.kill()
        holder.wait()
    message = str(raised.value)
    assert f"lock {lock_path(path)} held by another process for over 0.3 s" in message
    assert str(path) in message and "is another pytest running?" in message


# -- paths, profiles, pruning ----------------------------------------------------------


def test_baseline_path_mirrors_the_test_path(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    test_file = root / "tests" / "perf" / "test_det.py"
    expected = root / "baselines" / "tests" / "perf" / "test_det.json"
    assert baseline_path(root / "baselines", root, test_file) == expected


def test_baseline_path_of_a_file_outside_rootdir_uses_its_name(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    outside = tmp_path / "elsewhere" / "test_far.py"
    assert baseline_path(root / "b", root, outside) == root / "b" / "test_far.json"


def test_profile_id_is_stable() -> None:
    # pinned: a change here orphans every recorded baseline of every user
    assert profile_id({"cpu": "Example CPU", "logical_cpus": 8}) == "87644ed42e7a"
    assert profile_id(FACTS) == profile_id(dict(reversed(FACTS.items())))
    assert len(PROFILE) == 12 and int(PROFILE, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"cpu": "Another CPU"},
        {"logical_cpus": 16},
        {"device": "GPU"},
        {"device_name": "Another GPU"},
        {"extra": "fact"},
    ],
)
def test_profile_id_differs_for_different_facts(change: dict[str, Any]) -> None:
    assert profile_id({**FACTS, **change}) != PROFILE


def test_prune_removes_entries_and_unused_profiles(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    facts = {name: {**FACTS, "cpu": name} for name in ("p1", "p2", "p3")}
    ids = {name: profile_id(f) for name, f in facts.items()}
    record(path, "test_a", ids["p1"], facts["p1"], "latency", entry(1.0))
    record(path, "test_a", ids["p2"], facts["p2"], "latency", entry(2.0))
    record(path, "test_b", ids["p1"], facts["p1"], "throughput", entry(3.0))
    record(path, "test_c", ids["p3"], facts["p3"], "latency", entry(4.0))

    removed = prune(path, {"test_a": [ids["p1"]], "test_c": [ids["p3"]]})

    assert removed == 2
    stored = load(path)
    assert set(stored.entries) == {"test_a", "test_b"}
    assert list(stored.entries["test_a"]) == [ids["p2"]]
    assert stored.entry("test_b", ids["p1"], "throughput") == entry(3.0)
    assert set(stored.profiles) == {ids["p1"], ids["p2"]}


def test_prune_of_unknown_entries_removes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    record(path, "test_a", PROFILE, FACTS, "latency", entry())
    before = path.read_bytes()
    assert prune(path, {"test_gone": [PROFILE], "test_a": ["000000000000"]}) == 0
    assert path.read_bytes() == before


def test_prune_of_every_entry_leaves_a_valid_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "test_x.json"
    record(path, "test_a", PROFILE, FACTS, "latency", entry())
    assert prune(path, {"test_a": [PROFILE]}) == 1
    stored = load(path)
    assert stored.entries == {} and stored.profiles == {}


def test_history_and_block_limits_are_sane() -> None:
    assert HISTORY_LIMIT >= 5  # the gate's default baseline uses 5 runs
    assert BLOCK_LIMIT >= 10
