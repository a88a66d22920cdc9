"""Session-wide state: the OpenVINO core, compiled models, settings and collected results."""

from __future__ import annotations

import functools
import platform
import subprocess
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import openvino as ov

from .measure.engine import MeasureSettings
from .runtime.devices import DeviceCatalog, cpu_model_name, logical_cpu_count
from .runtime.models import CompileCache
from .verdicts.comparison import GateSettings
from .verdicts.gate import BaselineGate


class InconclusivePolicy(str, Enum):
    """What an inconclusive verdict does to the test (and so to the exit status)."""

    PASS = "pass"  # the test passes; the summary still says inconclusive
    WARN = "warn"  # the test passes with an OvperfInconclusiveWarning
    FAIL = "fail"  # the test fails


@dataclass
class Settings:
    devices: list[str]
    precisions: list[str]
    measure: MeasureSettings
    inconclusive: InconclusivePolicy = InconclusivePolicy.WARN
    json_path: Path | None = None
    regression_threshold: float = 0.05
    baseline_dir: Path = Path("baselines")
    update_baselines: bool = False
    prune_stale: bool = False
    #: prior run-to-run drift of the regression gate (fraction)
    prior_drift: float = 0.03
    #: measure the machine-speed probe interleaved with latency tests
    speed_probe: bool = True
    #: above this foreign CPU load (fraction) a baseline comparison is inconclusive
    max_foreign_load: float = 0.15
    #: above this change of the speed probe (fraction) a baseline comparison is inconclusive
    max_probe_shift: float = 0.10


@dataclass
class OvperfSession:
    settings: Settings
    rootdir: Path
    core: ov.Core = field(default_factory=ov.Core)
    #: result dicts (``PerfResult.to_json``), gathered from test reports so xdist works too
    results: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.catalog = DeviceCatalog(self.core)
        self.compile_cache = CompileCache(self.core)
        self.gate = BaselineGate(
            baseline_dir=self.settings.baseline_dir,
            rootdir=self.rootdir,
            settings=GateSettings(
                threshold=self.settings.regression_threshold,
                confidence=self.settings.measure.confidence,
                prior_drift=self.settings.prior_drift,
            ),
            update=self.settings.update_baselines,
            max_foreign_load=self.settings.max_foreign_load,
            max_probe_shift=self.settings.max_probe_shift,
        )

    @functools.cached_property
    def software_facts(self) -> dict[str, Any]:
        return {
            "openvino": ov.get_version(),
            "python": platform.python_version(),
            "git_commit": git_commit(self.rootdir),
        }

    def machine_facts(self, device: str) -> dict[str, Any]:
        """Hardware identity: numbers from machines that differ here are not comparable."""
        return {
            "cpu": cpu_model_name(),
            "logical_cpus": logical_cpu_count(),
            "machine": platform.machine(),
            "system": platform.system(),
            "device": device,
            "device_name": self.catalog.info(device).full_name,
        }


def git_commit(directory: Path) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None
