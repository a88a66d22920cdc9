"""Judging a result against its stored runs: which runs it is compared with and on which
scale, the machine guards, and the verdict (a thresholds kind, memory, by its rule); the
statistics are ``comparison.py``'s."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..kinds import kind_of
from ..results import (
    BaselineComparison,
    MachineGuard,
    PerfResult,
    ProfileDifference,
    recorded_points,
)
from ..runtime.facts import software_changes
from ..store.reader import BaselineReader, stored_baseline
from ..store.schema import BaselineFile, StoredRun, history_of
from .companion import Figure, combine, split_settings
from .comparison import GateResult, GateSettings, between_job_spread, compare
from .guards import busy_guard, quiet_runs
from .history_drift import DriftEstimator
from .kinds import GateMethod, GateVerdict, GuardReason
from .memory import judge_memory
from .recording import RecordedSummaries
from .scales import companion_summary, normalized_summary, raw_summary, summaries_on


@dataclass(frozen=True)
class ComparableRuns:
    """The stored runs a result is judged against, and on which scale."""

    #: runs the drift is learned from and the baseline taken from (oldest first)
    history: list[StoredRun]
    #: the baseline's latest runs of the latest software (the raw baseline value)
    reference: list[StoredRun]
    #: whether the probe speaks for the machine state (same probe, same OpenVINO)
    use_probe: bool
    #: whether the comparison is of model/probe ratios (latency) rather than raw values
    normalize: bool


@dataclass(frozen=True)
class HistoryJudge:
    """Compares results with the stored runs ``reader`` reads."""

    reader: BaselineReader
    drift: DriftEstimator
    settings: GateSettings
    max_foreign_load: float
    max_probe_shift: float
    #: memory: an increase beyond both of these is a regression (``verdicts/memory.py``)
    memory_threshold: float
    memory_floor_mb: float

    def judge(
        self,
        result: PerfResult,
        path: Path,
        test_name: str,
        machine: Mapping[str, Any],
        profile: str,
        software: Mapping[str, Any],
        summaries: RecordedSummaries,
        probe_id: str,
        settings: GateSettings,
        fallback: str,
    ) -> BaselineComparison:
        """Compare one result (its ``summaries``) with the stored runs of its entry in
        ``path``, at ``settings`` (the gate's, at the test's threshold); raises
        ``BaselineFileError``. ``fallback`` says why no A/B comparison was made."""
        current, normalized, companion = (
            summaries.current,
            summaries.normalized,
            summaries.companion,
        )
        stored = self.reader.load(path)
        entry = stored.entry(test_name, profile, result.kind)
        if entry is None:
            return self._no_baseline(stored, test_name, result, path, machine, profile)
        stored_runs = history_of(entry)
        if not stored_runs:
            return BaselineComparison(
                GateVerdict.NO_BASELINE, path=path, profile=profile, empty_entry=True
            )
        if not kind_of(result.kind).statistical:
            return self._by_thresholds(result, path, entry, stored_runs, software, fallback)
        runs = quiet_runs(stored_runs, self.max_foreign_load)
        chosen = self._comparable_runs(runs, result, normalized is not None, probe_id)
        # the companion is judged beside the user-facing figure where both runs have one;
        # then each figure's regression test spends half the error rate
        companion_runs = _companion_runs(runs) if companion is not None else []
        if companion_runs:
            settings = split_settings(settings)
        if chosen.normalize and normalized is not None:
            history = summaries_on(chosen.history, normalized_summary)
            pooled = self.drift.pooled(path, test_name, profile, result.kind, normalized_summary)
            outcome = compare(normalized, history, settings, result.higher_is_better, pooled)
        else:
            history = [r.summary for r in chosen.history]
            pooled = self.drift.pooled(path, test_name, profile, result.kind, raw_summary)
            outcome = compare(current, history, settings, result.higher_is_better, pooled)
        found = self._machine_guards(result, chosen.reference, chosen.use_probe)
        busy = next((g for g in found if g.reason is GuardReason.BUSY), None)
        stored_software = entry.get("software", {})
        what_changed = software_changes(stored_software, software)
        verdict = history_verdict(outcome.verdict, bool(found), bool(what_changed))
        companion_outcome: GateResult | None = None
        decided_by: Figure | None = None
        companion_guard: MachineGuard | None = None
        if companion is not None and companion_runs:
            # the companion's baseline runs were chosen apart from the user-facing figure's:
            # the load guard and the machine-state guard look at them too (one thread moved
            # 17-20% in a spell where the probe moved 25-32%: BENCHMARKS.md)
            latest = [r for r in companion_runs if r.software == runs[-1].software]
            latest = latest[-self.settings.baseline_runs :]
            own = self._machine_guards(result, latest, chosen.use_probe)
            companion_guard = busy or next(iter(own), None)
            if companion_guard is None:
                pooled = self.drift.pooled(path, test_name, profile, result.kind, companion_summary)
                history = summaries_on(companion_runs, companion_summary)
                companion_outcome = compare(companion, history, settings, False, pooled)
                combined = combine(verdict, outcome, companion_outcome)
                verdict, decided_by = combined.verdict, combined.decided_by
        return BaselineComparison(
            verdict,
            method=GateMethod.HISTORY,
            fallback=fallback,
            higher_is_better=result.higher_is_better,
            outcome=outcome,
            # the baseline figure users read is the raw one, whatever scale judged it
            baseline_value=float(np.exp(np.mean([r.summary.log_value for r in chosen.reference]))),
            stored=stored_baseline(path, entry, stored_runs),
            normalized=chosen.normalize,
            guards=found,
            what_changed=what_changed,
            companion=companion_outcome,
            decided_by=decided_by,
            companion_guard=companion_guard,
            recorded=recorded_points(stored_runs, chosen.reference),
            busy_runs_left_out=len(stored_runs) - len(runs),
        )

    def _by_thresholds(
        self,
        result: PerfResult,
        path: Path,
        entry: Mapping[str, Any],
        runs: list[StoredRun],
        software: Mapping[str, Any],
        fallback: str,
    ) -> BaselineComparison:
        """A kind judged by thresholds (memory): the median of the latest software's latest
        runs is the baseline figure."""
        latest = [r for r in runs if r.software == runs[-1].software]
        reference = latest[-self.settings.baseline_runs :]
        baseline_mb = float(np.median([r.summary.value for r in reference]))
        judgement = judge_memory(
            result.gate_value, baseline_mb, self.memory_threshold, self.memory_floor_mb
        )
        return BaselineComparison(
            judgement.verdict,
            method=GateMethod.HISTORY,
            fallback=fallback,
            baseline_value=baseline_mb,
            stored=stored_baseline(path, entry, runs),
            what_changed=software_changes(entry.get("software", {}), dict(software)),
            memory=judgement,
            recorded=recorded_points(runs, reference),
        )

    def _no_baseline(
        self,
        stored: BaselineFile,
        test_name: str,
        result: PerfResult,
        path: Path,
        machine: Mapping[str, Any],
        profile: str,
    ) -> BaselineComparison:
        others = [p for p in stored.profiles_of(test_name, result.kind) if p != profile]
        differences = []
        for other in others:
            facts = stored.profiles.get(other, {})
            differences.append(
                ProfileDifference(
                    other,
                    {
                        k: (facts.get(k), machine.get(k))
                        for k in sorted(set(facts) | set(machine))
                        if facts.get(k) != machine.get(k)
                    },
                )
            )
        return BaselineComparison(
            GateVerdict.NO_BASELINE, path=path, profile=profile, other_profiles=differences
        )

    def _comparable_runs(
        self,
        runs: list[StoredRun],
        result: PerfResult,
        has_ratios: bool,
        probe_id: str,
    ) -> ComparableRuns:
        """Which stored runs this result is compared with.

        The probe speaks for the machine state only against runs that ran the same probe on
        the same OpenVINO, and only if the baseline's latest runs all did. Then the runs
        recorded in the machine state this run found (the probe at the same speed) are the
        history, when it has such runs of the latest software; else all of them, and the
        probe guard says why it cannot decide.
        """
        latest = runs[-1].software
        latest_runs = [r for r in runs if r.software == latest]
        use_probe = result.probe_value is not None and all(
            r.probe_id == probe_id for r in latest_runs
        )
        # latency may be judged as model/probe ratios, where that lowered the spread of this
        # test's stored runs; throughput as raw fps, because its ratios to the sync probe
        # proved noisier than fps itself (BENCHMARKS.md)
        normalize = use_probe and has_ratios and all(r.normalized for r in latest_runs)
        if not use_probe:
            return ComparableRuns(runs, latest_runs[-self.settings.baseline_runs :], False, False)
        probed = [r for r in runs if r.probe_id == probe_id]
        normalize = normalize and probe_lowers_spread(probed)
        same_state = [r for r in probed if self._same_state(r, result.probe_value)]
        if same_state and same_state[-1].software == latest:
            probed = same_state
        if normalize:
            probed = [r for r in probed if r.normalized is not None]
        reference = [r for r in probed if r.software == latest]
        return ComparableRuns(
            probed, reference[-self.settings.baseline_runs :], use_probe, normalize
        )

    def _machine_guards(
        self, result: PerfResult, baseline_runs: Sequence[StoredRun], use_probe: bool
    ) -> list[MachineGuard]:
        """The guards that withhold a verdict against ``baseline_runs``: the busy guard, then
        (where the probe speaks for the machine state) the probe's."""
        guards = [self._busy_guard(result.foreign_load, baseline_runs)]
        if use_probe:
            guards.append(self._probe_guard(result.probe_value, baseline_runs))
        return [g for g in guards if g is not None]

    def _busy_guard(
        self, current_load: float | None, baseline_runs: Sequence[StoredRun]
    ) -> MachineGuard | None:
        """Other processes used the CPU beyond the limit in this run or the baseline's."""
        return busy_guard(
            current_load, self.max_foreign_load, (r.foreign_load for r in baseline_runs)
        )

    def _same_state(self, run: StoredRun, probe_ms: float | None) -> bool:
        stored = run.probe_ms
        if probe_ms is None or stored is None:
            return False
        return same_machine_state(probe_ms, stored, self.max_probe_shift)

    def _probe_guard(
        self, probe_ms: float | None, baseline_runs: Sequence[StoredRun]
    ) -> MachineGuard | None:
        """The probe itself ran at another speed than in the baseline's runs: the machine
        was in another state, and no stored run was recorded in it."""
        values = [r.probe_ms for r in baseline_runs if r.probe_ms is not None]
        if probe_ms is None or not values:
            return None
        reference = float(np.exp(np.mean(np.log(values))))
        if same_machine_state(probe_ms, reference, self.max_probe_shift):
            return None
        return MachineGuard(GuardReason.MACHINE_SPEED, probe_ms, reference, self.max_probe_shift)


#: jobs of stored runs (less one) before the probe may normalize a figure
NORMALIZE_MIN_DF = 3
#: the share of the raw figure's between-job variance the ratios must stay under: picking
#: the smaller of two noisy variances favours whichever happened to read low, so the probe
#: must clearly help (its ratios' spread under 0.71 of the raw figure's) to be chosen
NORMALIZE_MAX_VARIANCE_SHARE = 0.5


def probe_lowers_spread(runs: Sequence[StoredRun]) -> bool:
    """Whether dividing by the speed probe clearly lowered the spread between the jobs of
    these stored runs (one test, one machine profile; the runs that have both scales):
    only then is a figure judged as model/probe ratios. The probe is a model of its own,
    with noise of its own: on a machine whose slow and fast states hit it unlike the model,
    normalizing moves a stable figure by the probe's noise. Without evidence (fewer than
    ``NORMALIZE_MIN_DF`` + 1 jobs) the raw figure is judged."""
    both = [r for r in runs if r.normalized is not None]
    raw_ss, raw_df = between_job_spread(summaries_on(both, raw_summary))
    ratio_ss, ratio_df = between_job_spread(summaries_on(both, normalized_summary))
    if min(raw_df, ratio_df) < NORMALIZE_MIN_DF:
        return False
    return ratio_ss / ratio_df < NORMALIZE_MAX_VARIANCE_SHARE * raw_ss / raw_df


def _companion_runs(runs: Sequence[StoredRun]) -> list[StoredRun]:
    """The stored runs that have a companion, where some of the latest software's do (a
    baseline recorded before the companion existed is judged on its user-facing figure)."""
    latest = runs[-1].software
    found = [r for r in runs if r.companion is not None]
    if not any(run.software == latest for run in found):
        return []
    return found


def history_verdict(statistical: GateVerdict, guarded: bool, changed: bool) -> GateVerdict:
    """The verdict of a comparison with the stored runs: the statistics' own, unless a
    machine guard withholds it (``inconclusive``: the statistics may have decided, but not
    about the model). Where nothing fingerprinted changed, an undecided or withheld
    comparison is ``nothing-changed``: the run checked the machine, and a slowdown a guard
    withheld is, on the guard's own evidence (the machine busy or in another state), the
    machine's; an unguarded confident slowdown is still a ``regression``."""
    verdict = GateVerdict.INCONCLUSIVE if guarded else statistical
    undecided = verdict is GateVerdict.INCONCLUSIVE
    return GateVerdict.NOTHING_CHANGED if undecided and not changed else verdict


def same_machine_state(probe_ms: float, reference_ms: float, max_shift: float) -> bool:
    """Two speed-probe readings within ``max_shift`` of each other, either way (on the log
    scale): the machine was in the same state."""
    return abs(math.log(probe_ms / reference_ms)) <= math.log1p(max_shift)
