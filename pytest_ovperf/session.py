"""Session-wide state: the OpenVINO core, compiled models, the baseline gate, the results."""

from __future__ import annotations

import functools
import platform
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openvino as ov

from .options import Settings
from .runtime.device_locks import DeviceLocks
from .runtime.devices import DeviceCatalog
from .runtime.facts import git_commit, job_id, machine_facts, plugin_version
from .runtime.models import CompileCache
from .store.models import ModelStore
from .verdicts.comparison import GateSettings
from .verdicts.gate import BaselineGate
from .workers import WorkerSetup


@dataclass
class OvperfSession:
    settings: Settings
    rootdir: Path
    #: one id per pytest run, shared by its xdist workers (the job unit outside CI)
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: how this process shares the machine with other xdist workers
    worker: WorkerSetup = field(default_factory=WorkerSetup)
    core: ov.Core = field(default_factory=ov.Core)
    #: result records (``report.result_record``), gathered from test reports so xdist works
    results: list[dict[str, Any]] = field(default_factory=list)
    #: on the xdist controller: the device-lock directory handed to the workers
    lock_dir_for_workers: Path | None = None

    def __post_init__(self) -> None:
        self.catalog = DeviceCatalog(self.core)
        self.locks = DeviceLocks(
            self.worker.lock_dir,
            lambda: self.catalog.available,
            cpu_is_private=self.worker.cpu_partition is not None,
        )
        self.compile_cache = CompileCache(self.core, self.locks)
        self.model_store = ModelStore(self.settings.model_store)
        self.gate = BaselineGate(
            baseline_dir=self.settings.baseline_dir,
            rootdir=self.rootdir,
            model_store=self.model_store,
            compare_mode=self.settings.compare,
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
            "pytest_ovperf": plugin_version(),
            "git_commit": git_commit(self.rootdir),
            "job": job_id(self.session_id),
        }

    def machine_facts(self, device: str) -> dict[str, Any]:
        """Hardware identity: numbers from machines that differ here are not comparable."""
        return machine_facts(device, self.catalog.info(device).full_name, self.worker.cpu_partition)
