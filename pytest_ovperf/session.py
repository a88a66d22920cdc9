"""Session-wide state: the OpenVINO core, compiled models, the baseline gate, the results."""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openvino as ov

from .options import Settings
from .runtime.devices import DeviceCatalog
from .runtime.facts import git_commit, machine_facts
from .runtime.models import CompileCache
from .verdicts.comparison import GateSettings
from .verdicts.gate import BaselineGate


@dataclass
class OvperfSession:
    settings: Settings
    rootdir: Path
    core: ov.Core = field(default_factory=ov.Core)
    #: result records (``report.result_record``), gathered from test reports so xdist works
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
        return machine_facts(device, self.catalog.info(device).full_name)
