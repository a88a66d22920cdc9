"""Concurrent recorders of one baseline entry lose no run.

The read-modify-write of an entry's history must happen entirely under the file's lock. To
make an overlap certain rather than lucky, each recorder reads the file slowly (its
``load`` sleeps after reading), so every recorder is inside its read before any has
written: code that read the history outside the lock keeps one run of four, every time.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import EXAMPLE_MACHINE, example_result

from pytest_ovperf.results import LatencyResult
from pytest_ovperf.runtime.facts import machine_profile
from pytest_ovperf.store import baselines
from pytest_ovperf.store.models import ModelStore
from pytest_ovperf.verdicts.comparison import GateSettings
from pytest_ovperf.verdicts.gate import BaselineGate
from pytest_ovperf.verdicts.kinds import GateVerdict
from pytest_ovperf.verdicts.stats import Interval

RECORDERS = 4
#: how long each read of the baseline file takes: far longer than the recorders' start skew
SLOW_READ_S = 0.3
MACHINE = EXAMPLE_MACHINE


def _result(value: float, job: str) -> LatencyResult:
    return example_result(
        [value, value * 1.01, value * 0.99],
        interval=Interval(value, value * 0.9, value * 1.1, 0.95, "test"),
        latencies_ms=np.array([value] * 4),
        facts={**MACHINE, "openvino": "x", "model_hash": "h", "config": {}, "job": job},
    )


def _record(root: str, recorder: int, start: Any) -> None:
    real_load = baselines.load

    def slow_load(path: Path) -> baselines.BaselineFile:
        stored = real_load(path)
        time.sleep(SLOW_READ_S)  # widen the window between reading and writing
        return stored

    baselines.load = slow_load  # type: ignore[assignment]
    gate = BaselineGate(
        Path(root) / "baselines",
        Path(root),
        GateSettings(),
        ModelStore(Path(root) / "models"),
        update=True,
    )
    start.wait()
    comparison = gate.check(
        _result(1.0 + recorder / 10, f"job-{recorder}"), Path(root) / "test_x.py", "test_a", 0.05
    )
    assert comparison.verdict is GateVerdict.UPDATED


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork to start recorders at once")
def test_recorders_of_one_entry_at_once_keep_every_run(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(RECORDERS)
    processes = [
        context.Process(target=_record, args=(str(tmp_path), r, start)) for r in range(RECORDERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * RECORDERS
    stored = baselines.load(tmp_path / "baselines" / "test_x.json")
    entry = stored.entry("test_a", machine_profile(MACHINE)[1], "latency")
    assert entry is not None
    jobs = sorted(run["job"] for run in entry["history"])
    assert jobs == [f"job-{r}" for r in range(RECORDERS)]
