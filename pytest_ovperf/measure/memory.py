"""Memory: what a compiled model costs in resident memory.

One reading: the device plugin is warmed up first (a tiny model compiled and run, so the
plugin's own start-up memory is not the model's), freed memory is handed back to the system
(``gc.collect``, glibc's ``malloc_trim``), and the resident memory is read (*base*); then
the model file is read and compiled with the test's config, the ``ov.Model`` dropped as an
application drops it after compiling, one infer request created and run once. Read then:

* ``memory_mb``: resident memory over *base* (what the compiled model and one request keep),
  split into anonymous memory and file-backed memory (weights mapped from the model file);
* ``compile_peak_mb``: the peak resident memory over *base* while reading and compiling,
  from the kernel's high-water mark (``VmHWM``), reset before the reading by writing ``5``
  to ``/proc/self/clear_refs``; ``None`` where that cannot be done (not Linux, a sandbox);
* ``device_mb``: on a GPU, the device memory the compile allocated, from the compiled
  model's ``GPU_MEMORY_STATISTICS`` where the device reports it.

Where a reading is taken (``--ovperf-memory-mode``): ``process`` (the default) starts a
fresh Python process per reading (``python -m pytest_ovperf.measure.memory``; spawned, never
forked, since OpenVINO's threads do not survive a fork), so nothing the session compiled
before, and no test order, moves the figure; ``session`` reads in the test's own process,
cheaper, and needs the peak reset, so off Linux it falls back to ``process`` and says so.
A figure is the median of ``MEMORY_READINGS`` readings, their spread reported beside it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

#: readings per figure (their median is the figure)
MEMORY_READINGS = 3
#: longest a fresh process may take for one reading (read, compile, one inference)
READING_TIMEOUT_S = 600.0
MIB = 1024.0 * 1024.0
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class MemoryReadingError(RuntimeError):
    """A memory reading could not be taken; the message says why."""


@dataclass(frozen=True)
class MemoryReading:
    memory_mb: float
    anon_mb: float | None
    file_mb: float | None
    compile_peak_mb: float | None
    device_mb: float | None


@dataclass(frozen=True)
class MemoryTarget:
    """What one reading loads: a model file, its shape, the device and the compile config."""

    path: str
    shape: Any
    device: str
    config: dict[str, Any]


def _status_mib() -> dict[str, float]:
    """The resident-memory lines of ``/proc/self/status`` (MiB); empty off Linux."""
    try:
        text = _STATUS.read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            found[name] = float(value.split()[0]) / 1024.0  # kB
    return found


def _resident() -> dict[str, float]:
    status = _status_mib()
    if "VmRSS" in status:
        return status
    return {"VmRSS": psutil.Process().memory_info().rss / MIB}


def _reset_peak() -> bool:
    """Reset the kernel's high-water mark of this process; whether it could be."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return "VmHWM" in _status_mib()


def _hand_back_freed_memory() -> None:
    gc.collect()
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def peak_reset_available() -> bool:
    """Whether the in-process route can measure a peak here."""
    return _CLEAR_REFS.exists() and "VmHWM" in _status_mib()


def read_memory(core: Any, target: MemoryTarget) -> MemoryReading:
    """One reading in this process (see the module); raises ``MemoryReadingError``."""
    import openvino as ov

    from ..runtime.models import ModelFile, make_inputs
    from ..runtime.toy_models import mlp

    try:
        # the device plugin's own start-up memory is not the model's
        warm = core.compile_model(mlp(features=4, hidden=4, depth=1), target.device)
        warm.create_infer_request().infer()
        del warm
        _hand_back_freed_memory()
        base = _resident()
        peak_reset = _reset_peak()
        model = ModelFile(Path(target.path), target.shape).read(core)
        compiled = core.compile_model(model, target.device, dict(target.config))
        del model
        _hand_back_freed_memory()
        peak = _status_mib().get("VmHWM") if peak_reset else None
        request = compiled.create_infer_request()
        for index, data in enumerate(make_inputs(compiled, None, target.path)):
            request.set_input_tensor(index, ov.Tensor(data))
        request.infer()
        after = _resident()
        device_mb = _device_memory(compiled) if target.device.startswith("GPU") else None
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MemoryReadingError(f"cannot read the memory of {target.path}: {first_line}") from exc
    finally:
        gc.collect()

    def grown(name: str) -> float | None:
        if name not in after or name not in base:
            return None
        return after[name] - base[name]

    memory = after["VmRSS"] - base["VmRSS"]
    result = MemoryReading(
        memory_mb=memory,
        anon_mb=grown("RssAnon"),
        file_mb=grown("RssFile"),
        compile_peak_mb=(peak - base["VmRSS"]) if peak is not None else None,
        device_mb=device_mb,
    )
    del compiled, request
    return result


def _device_memory(compiled: Any) -> float | None:
    """MiB of device memory the compiled model holds, from ``GPU_MEMORY_STATISTICS``."""
    try:
        statistics = compiled.get_property("GPU_MEMORY_STATISTICS")
    except Exception:
        return None
    if not isinstance(statistics, Mapping):
        return None
    total = sum(float(v) for k, v in statistics.items() if "usm_device" in str(k))
    return total / MIB if total else None


def read_in_fresh_process(target: MemoryTarget) -> MemoryReading:
    """One reading in a fresh Python process (``python -m pytest_ovperf.measure.memory``)."""
    with tempfile.TemporaryDirectory(prefix="ovperf-memory-") as folder:
        request = Path(folder) / "target.json"
        answer = Path(folder) / "reading.json"
        request.write_text(json.dumps(asdict(target), default=str))
        # this package's own copy, whether installed, on PYTHONPATH or on pytest's pythonpath
        package_root = str(Path(__file__).resolve().parents[2])
        paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "pytest_ovperf.measure.memory", str(request), str(answer)],
                capture_output=True,
                text=True,
                check=False,
                timeout=READING_TIMEOUT_S,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
            )
        except subprocess.TimeoutExpired:
            raise MemoryReadingError(
                f"the memory-reading process of {target.path} did not answer within "
                f"{READING_TIMEOUT_S:g} s"
            ) from None
        if completed.returncode != 0 or not answer.exists():
            tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
            raise MemoryReadingError(
                f"the memory-reading process failed (exit {completed.returncode}): "
                + " | ".join(tail)
            )
        return MemoryReading(**json.loads(answer.read_text()))


@dataclass(frozen=True)
class MemorySamples:
    readings: tuple[MemoryReading, ...]
    #: where the readings were taken, as the message says it
    mode: str
    #: wall time of all the readings
    seconds: float

    def median(self, field: str) -> float | None:
        values = [getattr(r, field) for r in self.readings if getattr(r, field) is not None]
        return float(np.median(values)) if values else None

    def spread(self, field: str) -> float | None:
        """Largest minus smallest reading (MiB)."""
        values = [getattr(r, field) for r in self.readings if getattr(r, field) is not None]
        return float(max(values) - min(values)) if values else None


def measure_memory(core: Any, target: MemoryTarget, in_session: bool) -> MemorySamples:
    """``MEMORY_READINGS`` readings of ``target``, in fresh processes unless ``in_session``
    (and the peak can be reset here)."""
    if in_session and not peak_reset_available():
        in_session = False
        mode = "a fresh process per reading (the session mode needs /proc/self/clear_refs)"
    else:
        mode = "in the test's process" if in_session else "a fresh process per reading"
    started = time.perf_counter()
    readings = tuple(
        read_memory(core, target) if in_session else read_in_fresh_process(target)
        for _ in range(MEMORY_READINGS)
    )
    return MemorySamples(readings, mode, time.perf_counter() - started)


def _main(request: str, answer: str) -> None:
    import openvino as ov

    target = MemoryTarget(**json.loads(Path(request).read_text()))
    reading = read_memory(ov.Core(), target)
    Path(answer).write_text(json.dumps(asdict(reading)))


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
