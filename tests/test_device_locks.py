"""Device locks between pytest processes: real filelock locks held by real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_ovperf.runtime.device_locks import DeviceLocks, physical_devices

AVAILABLE = ("CPU", "GPU.0", "GPU.1")


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ("CPU", ("CPU",)),
        ("GPU.1", ("GPU",)),
        ("HETERO:GPU,CPU", ("CPU", "GPU")),
        ("AUTO:GPU.0", ("GPU",)),
        ("AUTO", ("CPU", "GPU")),  # bare AUTO may run on any device
        ("MULTI", ("CPU", "GPU")),
        ("BATCH:GPU(4)", ("GPU",)),  # the auto-batched GPU is the GPU
        ("AUTO:-CPU", ("GPU",)),  # everything but the CPU
    ],
)
def test_a_device_locks_every_device_family_it_may_run_on(
    device: str, expected: tuple[str, ...]
) -> None:
    assert physical_devices(device, AVAILABLE) == expected


def test_without_a_lock_directory_nothing_is_locked(tmp_path: Path) -> None:
    locks = DeviceLocks(None)
    with locks.measuring("CPU") as hold, locks.preparing():
        assert hold.devices == ()
    assert list(tmp_path.iterdir()) == []


def test_a_private_cpu_is_not_locked(tmp_path: Path) -> None:
    locks = DeviceLocks(tmp_path, lambda: AVAILABLE, cpu_is_private=True)
    with locks.measuring("HETERO:GPU,CPU") as hold:
        assert hold.devices == ("GPU",)
    with locks.preparing() as hold:
        assert hold.devices == ()


#: a process that takes a hold, says when it got it, and keeps it until told to let go
HOLDER = """
import json, sys, time
from pathlib import Path
from pytest_ovperf.runtime.device_locks import DeviceLocks

directory, kind, device, name, release = sys.argv[1:]
locks = DeviceLocks(Path(directory), lambda: ["CPU", "GPU"])
hold = locks.measuring(device) if kind == "measure" else locks.preparing()
Path(directory, name + ".trying").touch()
with hold:
    granted = time.time()
    Path(directory, name + ".granted").touch()
    deadline = time.monotonic() + 60
    while release != "-" and not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    released = time.time()
Path(directory, name + ".json").write_text(json.dumps({"granted": granted, "released": released}))
"""


def _start(
    tmp_path: Path, name: str, kind: str, device: str, release: str
) -> subprocess.Popen[str]:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), kind, device, name, release], text=True
    )


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, f"the holder ended before {path.name}"
        assert time.monotonic() < deadline, f"no {path.name} within 60 s"
        time.sleep(0.01)


def _window(tmp_path: Path, name: str) -> tuple[float, float]:
    data = json.loads((tmp_path / f"{name}.json").read_text())
    return data["granted"], data["released"]


@pytest.mark.parametrize(
    ("first", "second", "waits"),
    [
        (("measure", "CPU"), ("prepare", "CPU"), True),  # no compiling during a CPU measurement
        (("prepare", "CPU"), ("measure", "CPU"), True),  # no measuring while others compile
        (("measure", "CPU"), ("measure", "AUTO"), True),  # AUTO may run on the CPU
        (("prepare", "CPU"), ("prepare", "CPU"), False),  # compiling is shared
        (("measure", "GPU"), ("prepare", "CPU"), False),  # CPU work goes on during a GPU run
    ],
)
def test_holds_that_conflict_wait_and_the_others_do_not(
    tmp_path: Path, first: tuple[str, str], second: tuple[str, str], waits: bool
) -> None:
    # The first holder keeps its lock until told. A hold that does not conflict is granted
    # while the first still holds: the first is told to let go only once the second has its
    # lock. A conflicting one is given half a second to (wrongly) get its lock after it
    # asked, then the first lets go; the second must be granted after that.
    release = tmp_path / "release"
    holder = _start(tmp_path, "first", *first, release=str(release))
    _wait_for(tmp_path / "first.granted", holder)
    other = _start(tmp_path, "second", *second, release="-")
    if waits:
        _wait_for(tmp_path / "second.trying", other)
        time.sleep(0.5)
    else:
        _wait_for(tmp_path / "second.granted", other)
    release.touch()
    assert holder.wait(timeout=60) == 0 and other.wait(timeout=60) == 0
    _, first_released = _window(tmp_path, "first")
    second_granted, _ = _window(tmp_path, "second")
    assert (second_granted >= first_released) is waits
