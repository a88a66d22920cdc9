"""The regression gate, as the session holds it: one object that hands each job to its
module. Reading baseline files is ``store/reader.py``'s, judging against stored runs
``history.py``'s, estimating drift ``history_drift.py``'s, planning and judging A/B
``ab.py``'s, recording ``recording.py``'s; the statistics are ``comparison.py``'s, the
words ``messages.py``'s."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results import BaselineComparison, PerfResult
from ..runtime.facts import SOFTWARE_FACTS, machine_profile, software_key
from ..runtime.profile import TypeTime
from ..store.baselines import BaselineFileError
from ..store.models import ModelStore, ModelStoreError
from ..store.reader import BaselineReader, probe_id_of
from .ab import (
    AbPlan,
    AbPlanner,
    look_settings,
    memory_in_run,
)
from .comparison import GateSettings
from .drift import Drift
from .history import HistoryJudge
from .history_drift import DriftEstimator
from .kinds import CompareMode, GateVerdict
from .limits import (
    DEFAULT_MAX_FOREIGN_LOAD,
    DEFAULT_MAX_PROBE_SHIFT,
    DEFAULT_MEMORY_FLOOR_MB,
    DEFAULT_MEMORY_THRESHOLD,
)
from .memory import MemoryJudgement, judge_memory
from .recording import record_run, summaries_of


@dataclass
class BaselineGate:
    baseline_dir: Path
    rootdir: Path
    settings: GateSettings
    model_store: ModelStore
    update: bool = False
    compare_mode: CompareMode = CompareMode.AUTO
    max_foreign_load: float = DEFAULT_MAX_FOREIGN_LOAD
    max_probe_shift: float = DEFAULT_MAX_PROBE_SHIFT
    #: memory: an increase beyond both of these is a regression (``verdicts/memory.py``)
    memory_threshold: float = DEFAULT_MEMORY_THRESHOLD
    memory_floor_mb: float = DEFAULT_MEMORY_FLOOR_MB
    _reader: BaselineReader = field(init=False, repr=False)
    _drift: DriftEstimator = field(init=False, repr=False)
    _history: HistoryJudge = field(init=False, repr=False)
    _ab: AbPlanner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reader = BaselineReader(self.baseline_dir, self.rootdir, self.model_store.root)
        self._drift = DriftEstimator(self._reader, self.settings, self.max_foreign_load)
        self._history = HistoryJudge(
            self._reader,
            self._drift,
            self.settings,
            self.max_foreign_load,
            self.max_probe_shift,
            self.memory_threshold,
            self.memory_floor_mb,
        )
        self._ab = AbPlanner(self._reader, self.model_store, self.compare_mode, self.update)

    def path_for(self, test_file: Path) -> Path:
        return self._reader.path_for(test_file)

    def settings_for(self, threshold: float) -> GateSettings:
        return dataclasses.replace(self.settings, threshold=threshold)

    def will_judge(
        self, test_file: Path, test_name: str, machine_facts: Mapping[str, Any], kind: str
    ) -> bool:
        """Whether a result of this test will be recorded or compared with a baseline."""
        if self.update:
            return True
        return self._reader.entry_for(test_file, test_name, machine_facts, kind) is not None

    def plan_ab(
        self,
        test_file: Path,
        test_name: str,
        facts: Mapping[str, Any],
        kind: str,
    ) -> tuple[AbPlan | None, str]:
        """Whether to measure the baseline's own model beside this one (A/B), and if it was
        wanted but cannot be had, why (``AbPlanner.plan``)."""
        return self._ab.plan(test_file, test_name, facts, kind)

    def ab_settings(self, threshold: float, look: int) -> GateSettings:
        """The levels of the sequential A/B test at ``look`` (0-based; the last,
        ``AB_LOOKS - 1``, also judges a measurement that ran to its time budget):
        O'Brien-Fleming boundaries (``sequential.py``), so the whole test keeps the stated
        rates whatever look it stops at."""
        return look_settings(self.settings_for(threshold), look)

    def check(
        self,
        result: PerfResult,
        test_file: Path,
        test_name: str,
        threshold: float,
        fallback: str = "",
    ) -> BaselineComparison:
        """Record (``update``) or compare one result with the stored runs; raises
        ``BaselineFileError``. ``fallback`` says why no A/B comparison was made."""
        machine, profile = machine_profile(result.facts)
        path = self.path_for(test_file)
        software = {k: result.facts.get(k) for k in SOFTWARE_FACTS}
        summaries = summaries_of(result, software_key(software))
        probe_id = probe_id_of(result.facts)
        if self.update:
            recorded = record_run(
                path,
                test_name,
                profile,
                machine,
                software,
                result,
                summaries,
                probe_id,
                self.max_foreign_load,
            )
            self._reader.forget(path)
            return recorded
        return self._history.judge(
            result,
            path,
            test_name,
            machine,
            profile,
            software,
            summaries,
            probe_id,
            self.settings_for(threshold),
            fallback,
        )

    def judge_memory(self, current_mb: float, baseline_mb: float) -> MemoryJudgement:
        return judge_memory(current_mb, baseline_mb, self.memory_threshold, self.memory_floor_mb)

    def judge_memory_in_run(
        self, current_mb: float, other_mb: float, plan: AbPlan | None, reference: str
    ) -> BaselineComparison:
        """Memory against a model read the same way in this run: the baseline's own model
        (``plan``, A/B) or the test's reference (described by ``reference``)."""
        return memory_in_run(self.judge_memory(current_mb, other_mb), other_mb, plan, reference)

    def stored_profile(
        self, test_file: Path, test_name: str, facts: Mapping[str, Any], kind: str
    ) -> dict[str, TypeTime] | None:
        """The per-layer-type profile recorded with this test's baseline, if any."""
        return self._reader.stored_profile(test_file, test_name, facts, kind)

    def fastest_probe(self, test_file: Path, facts: Mapping[str, Any]) -> float | None:
        """The fastest speed-probe reading (ms) of the stored runs of the file's tests on
        this machine profile (same probe, same OpenVINO): the machine's fastest state."""
        return self._reader.fastest_probe(test_file, facts)

    def drift_for(
        self, test_file: Path, test_name: str, facts: Mapping[str, Any], kind: str
    ) -> Drift:
        """The run-to-run drift of this test's raw figure on this machine (for budgets;
        ``DriftEstimator.drift_for``)."""
        return self._drift.drift_for(test_file, test_name, facts, kind)


def baseline_error(error: BaselineFileError | ModelStoreError) -> BaselineComparison:
    """A baseline file (or model copy) that cannot be used: the test fails, the file is left
    as it is."""
    return BaselineComparison(GateVerdict.ERROR, error=str(error))
