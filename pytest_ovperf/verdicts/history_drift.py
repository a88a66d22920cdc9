"""Estimating a figure's run-to-run drift from stored history: this test's own runs pooled
with the suite's other tests on this machine profile and a prior (``comparison.learned_drift``),
for the gate's comparisons and for budgets. ``drift.py`` holds what a drift is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.facts import machine_profile
from ..store.reader import BaselineReader
from ..store.schema import RunSummary, StoredRun, history_of
from .comparison import GateSettings, drift_evidence, learned_drift
from .drift import Drift
from .guards import quiet_runs
from .scales import raw_summary, summaries_on


@dataclass(frozen=True)
class DriftEstimator:
    """The drift of one test's figure, learned from the baseline files ``reader`` reads."""

    reader: BaselineReader
    settings: GateSettings
    #: stored runs recorded under more foreign load are left out where others exist
    #: (``guards.quiet_runs``)
    max_foreign_load: float

    def drift_for(
        self, test_file: Path, test_name: str, facts: Mapping[str, Any], kind: str
    ) -> Drift:
        """The run-to-run drift of this test's raw figure on this machine (for budgets):
        learned from its stored runs and the suite's other tests on this profile, pooled
        with the prior; the prior alone where nothing is stored (or the file is unreadable,
        which the baseline comparison reports)."""
        profile = machine_profile(facts)[1]
        own: list[RunSummary] = []
        pooled: list[list[RunSummary]] = []
        stored = self.reader.readable(test_file)
        if stored is not None:
            entry = stored.entry(test_name, profile, kind)
            own = [r.summary for r in self._quiet(history_of(entry))] if entry is not None else []
            pooled = self.pooled(
                self.reader.path_for(test_file), test_name, profile, kind, raw_summary
            )
        sigma, df = learned_drift(own, self.settings, pooled)
        own_df, pool_df = drift_evidence(own, pooled)
        if own_df == 0 and pool_df == 0:
            source = f"the prior, --ovperf-drift-prior, worth {df:g} df"
        else:
            source = (
                f"learned: {own_df} df from this test's stored jobs, {pool_df} from other "
                f"tests on this machine, prior {self.settings.prior_drift:.1%}"
            )
        return Drift(sigma, df, source)

    def pooled(
        self,
        path: Path,
        test_name: str,
        profile: str,
        kind: str,
        scale: Callable[[StoredRun], RunSummary | None],
    ) -> list[list[RunSummary]]:
        """The histories of the suite's other tests on this machine profile and kind (every
        readable baseline file, this test's own included), on the scale of this comparison
        (``scale`` picks a stored run's summary): their drift informs this test's
        (``learned_drift``)."""
        histories = []
        for other_path, stored in self.reader.suite(path):
            for other in stored.entries:
                if other_path == path and other == test_name:
                    continue
                entry = stored.entry(other, profile, kind)
                if entry is None:
                    continue
                summaries = summaries_on(self._quiet(history_of(entry)), scale)
                if summaries:
                    histories.append(summaries)
        return histories

    def _quiet(self, runs: list[StoredRun]) -> list[StoredRun]:
        return quiet_runs(runs, self.max_foreign_load) if runs else runs
