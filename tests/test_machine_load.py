"""The foreign-load meter: other processes' CPU use while we measure."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from pytest_ovperf.measure.load import LoadMeter

BURN = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\n"


def test_own_work_is_not_foreign() -> None:
    meter = LoadMeter().start()
    end = time.time() + 0.5
    while time.time() < end:  # this process's own CPU use is subtracted
        pass
    load = meter.foreign_load()
    assert load is not None and 0.0 <= load <= 1.0


def test_a_busy_process_is_seen() -> None:
    meter = LoadMeter().start()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    load = meter.foreign_load()
    # one busy core for the whole window is 1/cpu_count of the machine; allow for scheduling
    assert load is not None and load > 0.3 / (os.cpu_count() or 1)
