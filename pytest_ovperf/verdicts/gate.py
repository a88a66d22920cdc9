"""The regression gate: which stored runs a result is compared with, the machine guards,
and recording; the statistics are ``comparison.py``'s, the words ``messages.py``'s."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..kinds import KINDS, kind_of
from ..results import (
    BaselineComparison,
    MachineGuard,
    PerfResult,
    ProfileDifference,
    StoredBaseline,
)
from ..runtime.facts import SOFTWARE_FACTS, machine_profile, software_changes, software_key
from ..runtime.probe import PROBE_VERSION
from ..runtime.profile import TypeTime, profile_from_json, profile_to_json
from ..store import baselines
from ..store.baselines import BaselineFile, BaselineFileError
from ..store.location import baseline_files
from ..store.models import ModelStore, ModelStoreError, StoredModel
from ..store.schema import BLOCK_LIMIT, ProbeReading, RunSummary, StoredRun, history_of
from .companion import Figure, combine, split_settings
from .comparison import (
    GateResult,
    GateSettings,
    between_job_spread,
    compare,
    compare_paired,
    drift_evidence,
    learned_drift,
    summarise_log_ratios,
    summarise_run,
)
from .drift import Drift
from .guards import busy_guard
from .kinds import CompareMode, GateMethod, GateVerdict, GuardReason
from .limits import (
    DEFAULT_MAX_FOREIGN_LOAD,
    DEFAULT_MAX_PROBE_SHIFT,
    DEFAULT_MEMORY_FLOOR_MB,
    DEFAULT_MEMORY_THRESHOLD,
)
from .memory import MemoryJudgement, judge_memory
from .sequential import look_confidence


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


#: the smallest figure of a thresholds kind a stored run summarises (MiB: far below any
#: memory floor, so it never decides a verdict)
SMALLEST_STORED_FIGURE = 1e-3

#: looks of the group-sequential A/B test (O'Brien-Fleming boundaries, ``sequential.py``)
AB_LOOKS = 4


@dataclass(frozen=True)
class AbPlan:
    """The baseline's own model, to be measured interleaved with the current one."""

    model: StoredModel
    #: the compile config the baseline was recorded with
    config: dict[str, str]
    stored: StoredBaseline
    #: software fact -> (baseline value, current value), for the facts that differ
    what_changed: dict[str, tuple[Any, Any]]


class AbUnavailable(Exception):
    """``--ovperf-compare=ab`` and the baseline's model cannot be had."""


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
    _files: dict[Path, BaselineFile | BaselineFileError] = field(default_factory=dict)
    _suite_paths: list[Path] | None = None

    def path_for(self, test_file: Path) -> Path:
        return baselines.baseline_path(self.baseline_dir, self.rootdir, test_file)

    def settings_for(self, threshold: float) -> GateSettings:
        return dataclasses.replace(self.settings, threshold=threshold)

    def _load(self, path: Path) -> BaselineFile:
        cached = self._files.get(path)
        if cached is None:
            try:
                cached = baselines.load(path)
            except BaselineFileError as exc:
                cached = exc
            self._files[path] = cached
        if isinstance(cached, BaselineFileError):
            raise cached
        return cached

    def _readable(self, test_file: Path) -> BaselineFile | None:
        """The test file's baselines, or ``None`` when they cannot be read (``check``
        reports why)."""
        try:
            return self._load(self.path_for(test_file))
        except BaselineFileError:
            return None

    def will_judge(
        self, test_file: Path, test_name: str, machine_facts: Mapping[str, Any], kind: str
    ) -> bool:
        """Whether a result of this test will be recorded or compared with a baseline."""
        if self.update:
            return True
        stored = self._readable(test_file)
        if stored is None:
            return False
        return stored.entry(test_name, machine_profile(machine_facts)[1], kind) is not None

    def plan_ab(
        self,
        test_file: Path,
        test_name: str,
        facts: Mapping[str, Any],
        kind: str,
    ) -> tuple[AbPlan | None, str]:
        """Whether to measure the baseline's own model beside this one (A/B), and if it was
        wanted but cannot be had, why (the comparison then uses the stored runs).

        ``auto`` does A/B when the model or its compile config changed since the baseline
        and the baseline's copy is at hand; ``ab`` always does, and raises ``AbUnavailable``
        when the copy cannot be had; ``history`` never does. Recording never does.
        """
        if self.update or self.compare_mode is CompareMode.HISTORY:
            return None, ""
        path = self.path_for(test_file)
        stored = self._readable(test_file)
        if stored is None:
            return None, ""  # reported by check()
        entry = stored.entry(test_name, machine_profile(facts)[1], kind)
        runs = history_of(entry) if entry is not None else []
        if entry is None or not runs:
            return None, ""
        baseline_software = entry.get("software", {})
        current = {k: facts.get(k) for k in SOFTWARE_FACTS}
        changed = software_changes(baseline_software, current)
        if self.compare_mode is CompareMode.AUTO and not (
            "model_hash" in changed or "config" in changed
        ):
            return None, ""
        fingerprint = baseline_software.get("model_hash")
        try:
            if not isinstance(fingerprint, str):
                raise ModelStoreError(f"{path}: the baseline of {test_name} names no model_hash")
            model = self.model_store.get(fingerprint)
        except ModelStoreError as exc:
            if self.compare_mode is CompareMode.AB:
                raise AbUnavailable(
                    f"--ovperf-compare=ab needs the baseline's model, which cannot be had: {exc}"
                ) from exc
            return None, f"no A/B against the baseline's own model: {exc}"
        config = baseline_software.get("config") or {}
        plan = AbPlan(
            model,
            {str(k): str(v) for k, v in config.items()},
            _stored_baseline(path, entry, runs),
            changed,
        )
        return plan, ""

    def ab_settings(self, threshold: float, look: int) -> GateSettings:
        """The levels of the sequential A/B test at ``look`` (0-based; the last,
        ``AB_LOOKS - 1``, also judges a measurement that ran to its time budget):
        O'Brien-Fleming boundaries (``sequential.py``), so the whole test keeps the stated
        rates whatever look it stops at."""
        base = self.settings_for(threshold)
        return dataclasses.replace(
            base,
            confidence=look_confidence(base.confidence, look, AB_LOOKS),
            equivalence_confidence=look_confidence(base.equivalence_confidence, look, AB_LOOKS),
        )

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
        key = software_key(software)
        value = result.gate_value
        if not kind_of(result.kind).statistical:
            # a thresholds kind may read zero or less (the memory of a tiny model, within
            # the allocator's noise); its stored summary is on the log scale all the same
            value = max(value, SMALLEST_STORED_FIGURE)
        current = summarise_run(value, result.blocks, key)
        normalized = (
            summarise_log_ratios(result.probe_log_ratios, key) if result.probe_log_ratios else None
        )
        companion = (
            summarise_run(result.companion.p50_ms, result.companion.blocks, key)
            if result.companion is not None
            else None
        )
        probe_id = _probe_id(result.facts)
        if self.update:
            return self._record(
                path,
                test_name,
                profile,
                machine,
                software,
                result,
                RecordedSummaries(current, normalized, companion),
                probe_id,
            )
        stored = self._load(path)
        entry = stored.entry(test_name, profile, result.kind)
        if entry is None:
            return self._no_baseline(stored, test_name, result, path, machine, profile)
        runs = history_of(entry)
        if not runs:
            return BaselineComparison(
                GateVerdict.NO_BASELINE, path=path, profile=profile, empty_entry=True
            )
        if not kind_of(result.kind).statistical:
            return self._by_thresholds(result, path, entry, runs, software, fallback)
        chosen = self._comparable_runs(runs, result, normalized is not None, probe_id)
        # the companion is judged beside the user-facing figure where both runs have one;
        # then each figure's regression test spends half the error rate
        companion_runs = _companion_runs(runs) if companion is not None else []
        settings = self.settings_for(threshold)
        if companion_runs:
            settings = split_settings(settings)
        if chosen.normalize and normalized is not None:
            history = summaries_on(chosen.history, _normalized_summary)
            pooled = self._pooled(path, test_name, profile, result.kind, _normalized_summary)
            outcome = compare(normalized, history, settings, result.higher_is_better, pooled)
        else:
            history = [r.summary for r in chosen.history]
            pooled = self._pooled(path, test_name, profile, result.kind, _raw_summary)
            outcome = compare(current, history, settings, result.higher_is_better, pooled)
        busy = self._busy_guard(result.foreign_load, chosen.reference)
        guards = [busy]
        if chosen.use_probe:
            guards.append(self._probe_guard(result.probe_value, chosen.reference))
        found = [g for g in guards if g is not None]
        stored_software = entry.get("software", {})
        what_changed = software_changes(stored_software, software)
        verdict = history_verdict(outcome.verdict, bool(found), bool(what_changed))
        companion_outcome: GateResult | None = None
        decided_by: Figure | None = None
        companion_guard: MachineGuard | None = None
        if companion is not None and companion_runs:
            # the companion's baseline runs were chosen apart from the user-facing figure's:
            # the load guard looks at them too
            latest = [r for r in companion_runs if r.software == runs[-1].software]
            companion_guard = busy or self._busy_guard(
                result.foreign_load, latest[-self.settings.baseline_runs :]
            )
            if companion_guard is None:
                pooled = self._pooled(path, test_name, profile, result.kind, _companion_summary)
                history = summaries_on(companion_runs, _companion_summary)
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
            stored=_stored_baseline(path, entry, runs),
            normalized=chosen.normalize,
            guards=found,
            what_changed=what_changed,
            companion=companion_outcome,
            decided_by=decided_by,
            companion_guard=companion_guard,
        )

    def judge_memory(self, current_mb: float, baseline_mb: float) -> MemoryJudgement:
        return judge_memory(current_mb, baseline_mb, self.memory_threshold, self.memory_floor_mb)

    def judge_memory_in_run(
        self, current_mb: float, other_mb: float, plan: AbPlan | None, reference: str
    ) -> BaselineComparison:
        """Memory against a model read the same way in this run: the baseline's own model
        (``plan``, A/B) or the test's reference (described by ``reference``)."""
        judgement = self.judge_memory(current_mb, other_mb)
        if plan is None:
            return BaselineComparison(
                judgement.verdict,
                method=GateMethod.REFERENCE,
                baseline_value=other_mb,
                reference=reference,
                memory=judgement,
            )
        return BaselineComparison(
            judgement.verdict,
            method=GateMethod.AB,
            baseline_value=other_mb,
            stored=plan.stored,
            reference=f"the baseline's model {plan.model.fingerprint}",
            what_changed=dict(plan.what_changed),
            memory=judgement,
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
        judgement = self.judge_memory(result.gate_value, baseline_mb)
        return BaselineComparison(
            judgement.verdict,
            method=GateMethod.HISTORY,
            fallback=fallback,
            baseline_value=baseline_mb,
            stored=_stored_baseline(path, entry, runs),
            what_changed=software_changes(entry.get("software", {}), dict(software)),
            memory=judgement,
        )

    def _pooled(
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
        for other_path, stored in self._suite(path):
            for other in stored.entries:
                if other_path == path and other == test_name:
                    continue
                entry = stored.entry(other, profile, kind)
                if entry is None:
                    continue
                summaries = summaries_on(history_of(entry), scale)
                if summaries:
                    histories.append(summaries)
        return histories

    def _suite(self, path: Path) -> list[tuple[Path, BaselineFile]]:
        """The suite's readable baseline files (``path`` first, even before it exists); a
        file that cannot be read is left out here (its own tests report it)."""
        if self._suite_paths is None:  # once a session: the files recorded later are ``path``
            self._suite_paths = baseline_files(self.baseline_dir, self.model_store.root)
        files: list[tuple[Path, BaselineFile]] = []
        for candidate in [path, *self._suite_paths]:
            if files and candidate == path:
                continue
            try:
                files.append((candidate, self._load(candidate)))
            except BaselineFileError:
                continue
        return files

    def stored_profile(
        self, test_file: Path, test_name: str, facts: Mapping[str, Any], kind: str
    ) -> dict[str, TypeTime] | None:
        """The per-layer-type profile recorded with this test's baseline, if any."""
        stored = self._readable(test_file)
        if stored is None:
            return None
        entry = stored.entry(test_name, machine_profile(facts)[1], kind) or {}
        return profile_from_json(entry.get("profile"))

    def fastest_probe(self, test_file: Path, facts: Mapping[str, Any]) -> float | None:
        """The fastest speed-probe reading (ms) of the stored runs of the file's tests on
        this machine profile (same probe, same OpenVINO): the machine's fastest state."""
        stored = self._readable(test_file)
        if stored is None:
            return None
        profile, probe_id = machine_profile(facts)[1], _probe_id(facts)
        readings = [
            run.probe_ms
            for test in stored.entries
            for kind in KINDS
            for run in history_of(stored.entry(test, profile, kind) or {})
            if run.probe_id == probe_id and run.probe_ms is not None
        ]
        return min(readings, default=None)

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
        stored = self._readable(test_file)
        if stored is not None:
            entry = stored.entry(test_name, profile, kind)
            own = [r.summary for r in history_of(entry)] if entry is not None else []
            pooled = self._pooled(self.path_for(test_file), test_name, profile, kind, _raw_summary)
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

    def _record(
        self,
        path: Path,
        test_name: str,
        profile: str,
        machine: dict[str, Any],
        software: dict[str, Any],
        result: PerfResult,
        summaries: RecordedSummaries,
        probe_id: str,
    ) -> BaselineComparison:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        commit = result.facts.get("git_commit")
        job = str(result.facts.get("job") or "")
        normalized, companion = summaries.normalized, summaries.companion
        run = StoredRun(
            summary=dataclasses.replace(summaries.current, job=job),
            recorded_at=now,
            git_commit=commit,
            foreign_load=result.foreign_load,
            probe=ProbeReading(probe_id, result.probe_value)
            if result.probe_value is not None
            else None,
            normalized=dataclasses.replace(normalized, job=job) if normalized else None,
            companion=dataclasses.replace(companion, job=job) if companion else None,
        )
        fields = {
            "device": result.device,
            "precision": result.precision,
            "statistic": kind_of(result.kind).headline_field,
            "value": result.gate_value,
            "n": result.n,
            "blocks": list(result.blocks)[-BLOCK_LIMIT:],
            "software": software,
            "recorded_at": now,
            "git_commit": commit,
        }
        if result.profile is not None:
            fields["profile"] = profile_to_json(result.profile)
        runs = baselines.append_run(path, test_name, profile, machine, result.kind, fields, run)
        self._files.pop(path, None)
        return BaselineComparison(
            GateVerdict.UPDATED,
            higher_is_better=result.higher_is_better,
            baseline_value=result.gate_value,
            path=path,
            history_runs=runs,
            recorded_busy=self._busy_guard(result.foreign_load, []),
        )


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
    raw_ss, raw_df = between_job_spread(summaries_on(both, _raw_summary))
    ratio_ss, ratio_df = between_job_spread(summaries_on(both, _normalized_summary))
    if min(raw_df, ratio_df) < NORMALIZE_MIN_DF:
        return False
    return ratio_ss / ratio_df < NORMALIZE_MAX_VARIANCE_SHARE * raw_ss / raw_df


@dataclass(frozen=True)
class RecordedSummaries:
    """The summaries of one run that a recording stores."""

    current: RunSummary
    #: model/probe ratios (latency, with the probe)
    normalized: RunSummary | None
    #: the one-thread compute companion (CPU)
    companion: RunSummary | None


def _raw_summary(run: StoredRun) -> RunSummary | None:
    return run.summary


def _normalized_summary(run: StoredRun) -> RunSummary | None:
    return run.normalized


def _companion_summary(run: StoredRun) -> RunSummary | None:
    return run.companion


def summaries_on(
    runs: Sequence[StoredRun], scale: Callable[[StoredRun], RunSummary | None]
) -> list[RunSummary]:
    """The runs' summaries on one scale (raw, model/probe ratios, companion), where they
    have one."""
    return [summary for summary in map(scale, runs) if summary is not None]


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
    about the model); an undecided comparison where nothing fingerprinted changed is
    ``nothing-changed``, unless the statistics saw a confident slowdown."""
    verdict = GateVerdict.INCONCLUSIVE if guarded else statistical
    undecided = verdict is GateVerdict.INCONCLUSIVE and statistical is not GateVerdict.REGRESSION
    return GateVerdict.NOTHING_CHANGED if undecided and not changed else verdict


def same_machine_state(probe_ms: float, reference_ms: float, max_shift: float) -> bool:
    """Two speed-probe readings within ``max_shift`` of each other, either way (on the log
    scale): the machine was in the same state."""
    return abs(math.log(probe_ms / reference_ms)) <= math.log1p(max_shift)


def _probe_id(facts: Mapping[str, Any]) -> str:
    """Probe readings compare only with the same probe on the same OpenVINO."""
    return f"{PROBE_VERSION}:{facts.get('openvino')}"


def _stored_baseline(path: Path, entry: Mapping[str, Any], runs: Sequence[Any]) -> StoredBaseline:
    software = entry.get("software", {})
    return StoredBaseline(
        path=path,
        statistic=str(entry.get("statistic")),
        recorded_at=entry.get("recorded_at"),
        git_commit=entry.get("git_commit"),
        stored_runs=len(runs),
        openvino=software.get("openvino"),
        model_hash=software.get("model_hash"),
    )


def judge_ab(
    log_ratios: Sequence[float],
    baseline_value: float,
    plan: AbPlan,
    settings: GateSettings,
    higher_is_better: bool,
    looks: int = AB_LOOKS,
) -> BaselineComparison:
    """The verdict of the current model against the baseline's own model, measured
    interleaved (paired), at the levels of the sequential test's look that stopped it
    (``settings``: ``BaselineGate.ab_settings``; one look for the kinds measured in whole
    observations)."""
    return _judge_paired(
        log_ratios,
        baseline_value,
        settings,
        higher_is_better,
        GateMethod.AB,
        f"the baseline's model {plan.model.fingerprint} ({plan.model.path})",
        stored=plan.stored,
        what_changed=plan.what_changed,
        looks=looks,
    )


def judge_reference(
    log_ratios: Sequence[float],
    reference_value: float,
    reference: str,
    settings: GateSettings,
    higher_is_better: bool,
) -> BaselineComparison:
    """The verdict of a model against its ``reference=``, measured interleaved (paired)."""
    return _judge_paired(
        log_ratios, reference_value, settings, higher_is_better, GateMethod.REFERENCE, reference
    )


def _judge_paired(
    log_ratios: Sequence[float],
    other_value: float,
    settings: GateSettings,
    higher_is_better: bool,
    method: GateMethod,
    other: str,
    stored: StoredBaseline | None = None,
    what_changed: dict[str, tuple[Any, Any]] | None = None,
    looks: int = 0,
) -> BaselineComparison:
    outcome = compare_paired(log_ratios, settings, higher_is_better)
    return BaselineComparison(
        outcome.verdict,
        method=method,
        higher_is_better=higher_is_better,
        outcome=outcome,
        baseline_value=other_value,
        reference=other,
        stored=stored,
        what_changed=what_changed or {},
        looks=looks,
    )


def baseline_error(error: BaselineFileError | ModelStoreError) -> BaselineComparison:
    """A baseline file (or model copy) that cannot be used: the test fails, the file is left
    as it is."""
    return BaselineComparison(GateVerdict.ERROR, error=str(error))
