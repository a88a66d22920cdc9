"""Session-wide state: the OpenVINO core, compiled models, the baseline gate, the results.

Everything that loads OpenVINO, numpy or scipy is made on first use: a session that
collects no perf test never touches it.
"""

from __future__ import annotations

import functools
import platform
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import Settings
from .runtime.facts import git_commit, job_id, machine_facts, plugin_version
from .workers import WorkerSetup

if TYPE_CHECKING:
    import openvino as ov

    from .records import ResultRecord
    from .runtime.device_locks import DeviceLocks
    from .runtime.devices import DeviceCatalog
    from .runtime.generation import PipelineCache
    from .runtime.models import CompileCache
    from .runtime.side.pool import SideRuntimes
    from .store.models import ModelStore
    from .verdicts.gate import BaselineGate


@dataclass
class OvperfSession:
    settings: Settings
    rootdir: Path
    #: one id per pytest run, shared by its xdist workers (the job unit outside CI)
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: how this process shares the machine with other xdist workers
    worker: WorkerSetup = field(default_factory=WorkerSetup)
    #: result records (``records.result_record``), gathered from test reports so xdist works
    results: list[ResultRecord] = field(default_factory=list)
    #: on the xdist controller: the device-lock directory handed to the workers
    lock_dir_for_workers: Path | None = None
    #: writes a line to the terminal mid-test (another runtime being installed); ``None``:
    #: no terminal
    say: Callable[[str], None] | None = None

    @functools.cached_property
    def core(self) -> ov.Core:
        import openvino as ov

        return ov.Core()

    @functools.cached_property
    def catalog(self) -> DeviceCatalog:
        from .runtime.devices import DeviceCatalog

        return DeviceCatalog(self.core)

    @functools.cached_property
    def locks(self) -> DeviceLocks:
        from .runtime.device_locks import DeviceLocks

        return DeviceLocks(
            self.worker.lock_dir,
            lambda: self.catalog.available,
            cpu_is_private=self.worker.cpu_partition is not None,
        )

    @functools.cached_property
    def compile_cache(self) -> CompileCache:
        from .runtime.models import CompileCache

        return CompileCache(self.core, self.locks)

    @functools.cached_property
    def pipelines(self) -> PipelineCache:
        """Generation pipelines (``ovperf_llm``), loaded once per session."""
        from .runtime.generation import PipelineCache

        return PipelineCache(self.core, self.locks)

    @functools.cached_property
    def model_store(self) -> ModelStore:
        from .store.models import ModelStore

        return ModelStore(self.settings.model_store)

    @functools.cached_property
    def gate(self) -> BaselineGate:
        from .verdicts.comparison import GateSettings
        from .verdicts.gate import BaselineGate

        return BaselineGate(
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
            memory_threshold=self.settings.memory_threshold,
            memory_floor_mb=self.settings.memory_floor_mb,
        )

    @functools.cached_property
    def side_runtimes(self) -> SideRuntimes:
        """Other OpenVINO runtimes measured beside this one (``reference_runtime=``)."""
        from .runtime.side.pool import SideRuntimes

        def progress(line: str) -> None:
            if self.say is not None:
                self.say(f"  ovperf: {line}")

        return SideRuntimes(self.settings.runtime_cache, self.settings.runtime_pythons, progress)

    def forget_side_failures(self) -> None:
        """A test's end: a side runtime's failure kept from a load made ahead
        (``SideRuntimes.load``) is not carried to the next test."""
        if "side_runtimes" in self.__dict__:
            self.side_runtimes.forget_failures()

    def close(self) -> None:
        """The session's end: shut down the side runtimes' workers, if any were started."""
        if "side_runtimes" in self.__dict__:
            self.side_runtimes.close()

    @functools.cached_property
    def software_facts(self) -> dict[str, Any]:
        import openvino as ov

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

    def result_facts(
        self, device: str, model: str, fingerprint: str, config: Mapping[str, str]
    ) -> dict[str, Any]:
        """Machine and software facts of a result of the model ``model`` describes, with
        the fingerprint and compile config of what was measured (a stored fact each)."""
        return {
            **self.machine_facts(device),
            **self.software_facts,
            "model": model,
            "model_hash": fingerprint,
            "config": dict(config),
        }
