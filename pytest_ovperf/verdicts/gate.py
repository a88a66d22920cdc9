"""The regression gate: compares results with stored baselines, or records them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..report import fmt
from ..results import BaselineComparison, PerfResult
from ..runtime.probe import PROBE_VERSION
from ..store import baselines
from ..store.baselines import BaselineFile, BaselineFileError
from .comparison import (
    GateResult,
    GateSettings,
    RunSummary,
    compare,
    summarise_log_ratios,
    summarise_run,
)

#: software facts shown as "what changed"; they never stop a comparison
SOFTWARE_FACTS = ("openvino", "model_hash", "config", "python")


def software_hash(facts: Mapping[str, Any]) -> str:
    """Runs with equal hashes ran the same software (OpenVINO, model, compile config)."""
    keys = ("openvino", "model_hash", "config")
    text = json.dumps({k: facts.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class BaselineGate:
    baseline_dir: Path
    rootdir: Path
    settings: GateSettings
    update: bool = False
    max_foreign_load: float = 0.15
    max_probe_shift: float = 0.10
    _files: dict[Path, BaselineFile | BaselineFileError] = field(default_factory=dict)

    def path_for(self, test_file: Path) -> Path:
        return baselines.baseline_path(self.baseline_dir, self.rootdir, test_file)

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

    def will_judge(
        self, test_file: Path, test_name: str, machine_facts: Mapping[str, Any], kind: str
    ) -> bool:
        """Whether a result of this test will be recorded or compared with a baseline."""
        if self.update:
            return True
        try:
            stored = self._load(self.path_for(test_file))
        except BaselineFileError:
            return False
        return stored.entry(test_name, machine_profile(machine_facts)[1], kind) is not None

    def check(
        self,
        result: PerfResult,
        test_file: Path,
        test_name: str,
        threshold: float,
        higher_is_better: bool,
    ) -> BaselineComparison:
        """Record (``update``) or compare one result; raises ``BaselineFileError``."""
        machine, profile = machine_profile(result.facts)
        path = self.path_for(test_file)
        software = {k: result.facts.get(k) for k in SOFTWARE_FACTS}
        software_key = software_hash(software)
        current = summarise_run(result.gate_value, result.blocks, software_key)
        normalized = (
            summarise_log_ratios(result.probe_log_ratios, software_key)
            if result.probe_log_ratios
            else None
        )
        probe_id = f"{PROBE_VERSION}:{result.facts.get('openvino')}"
        settings = dataclasses.replace(self.settings, threshold=threshold)
        if self.update:
            return self._record(
                path, test_name, profile, machine, software, result, current, normalized, probe_id
            )
        stored = self._load(path)
        entry = stored.entry(test_name, profile, result.kind)
        if entry is None:
            others = [p for p in stored.profiles_of(test_name, result.kind) if p != profile]
            message = f"no baseline in {path} for this machine profile {profile}"
            if others:
                message += "; baselines of other machine profiles are not comparable: " + "; ".join(
                    _profile_difference(stored.profiles.get(o, {}), machine, o) for o in others
                )
            return BaselineComparison("no-baseline", message=message)
        runs = entry.get("history", [])
        if not runs:
            return BaselineComparison("no-baseline", message=f"{path}: entry has no runs")
        # the probe speaks for the machine state only against runs that ran the same probe
        # on the same OpenVINO, and only if the baseline's latest runs all did
        latest = runs[-1]["software"]
        latest_runs = [r for r in runs if r["software"] == latest]
        use_probe = result.probe_value is not None and all(
            _probe_id(r) == probe_id for r in latest_runs
        )
        # latency is judged as model/probe ratios; throughput as raw fps, because its
        # ratios to the sync probe proved noisier than fps itself (BENCHMARKS.md)
        normalize = (
            use_probe and normalized is not None and all("normalized" in r for r in latest_runs)
        )
        reference_runs = latest_runs
        if use_probe:
            probed = [r for r in runs if _probe_id(r) == probe_id]
            # compare like with like: the runs recorded in the machine state this run found
            # (the probe at the same speed), when the history has such runs of the latest
            # software; else all of them, and the probe guard below says why it cannot decide
            same_state = [r for r in probed if self._same_state(r, result.probe_value)]
            if same_state and same_state[-1]["software"] == latest:
                probed = same_state
            reference_runs = [r for r in probed if r["software"] == latest]
        else:
            probed = runs
        if normalize and normalized is not None:
            history = [RunSummary.from_json(r["normalized"]) for r in probed if "normalized" in r]
            outcome = compare(normalized, history, settings, higher_is_better)
        else:
            history = [RunSummary.from_json(r) for r in probed]
            outcome = compare(current, history, settings, higher_is_better)
        changed = {
            k: (entry.get("software", {}).get(k), software.get(k))
            for k in SOFTWARE_FACTS
            if entry.get("software", {}).get(k) != software.get(k)
        }
        # the baseline figure users read is the raw one, whatever scale judged it
        reference_runs = reference_runs[-settings.baseline_runs :]
        raw_baseline = float(np.exp(np.mean([r["log_value"] for r in reference_runs])))
        busy = self._busy_note(result.foreign_load, reference_runs)
        if use_probe:
            busy += self._probe_note(result.probe_value, reference_runs)
        message = describe_outcome(outcome, result, entry, current, path, raw_baseline, normalize)
        if busy:
            # the statistics may have decided, but not about the model: the machine changed
            message += busy + f"\n    (statistical verdict without this guard: {outcome.verdict})"
            outcome = dataclasses.replace(outcome, verdict="inconclusive")
        return BaselineComparison.from_gate(
            outcome, higher_is_better, raw_baseline, message, what_changed=changed
        )

    def _busy_note(self, current_load: float | None, baseline_runs: list[dict[str, Any]]) -> str:
        """Why a comparison cannot be trusted because the machine was busy, or ''."""
        notes = []
        if current_load is not None and current_load > self.max_foreign_load:
            notes.append(f"this run ({current_load:.0%})")
        loads = [r.get("foreign_load") for r in baseline_runs]
        worst = max((x for x in loads if x is not None), default=None)
        if worst is not None and worst > self.max_foreign_load:
            notes.append(f"the baseline's runs (up to {worst:.0%})")
        if not notes:
            return ""
        return (
            "\n    machine busy: other processes used the CPU during "
            + " and ".join(notes)
            + f", over the {self.max_foreign_load:.0%} allowed (--ovperf-max-foreign-load):"
            " a slowdown cannot be told from contention; re-run on a quiet machine"
        )

    def _same_state(self, run: Mapping[str, Any], probe_ms: float | None) -> bool:
        stored = _probe_ms(run)
        if probe_ms is None or stored is None:
            return False
        return abs(math.log(probe_ms / stored)) <= math.log1p(self.max_probe_shift)

    def _probe_note(self, probe_ms: float | None, baseline_runs: list[dict[str, Any]]) -> str:
        """Why a comparison cannot be trusted because the probe itself ran at another speed
        than in the baseline's runs (the machine was in another state), or ''."""
        values = [v for v in map(_probe_ms, baseline_runs) if v is not None]
        if probe_ms is None or not values:
            return ""
        reference = float(np.exp(np.mean(np.log(values))))
        shift = probe_ms / reference - 1.0
        if abs(math.log1p(shift)) <= math.log1p(self.max_probe_shift):
            return ""
        return (
            f"\n    machine speed differs: the speed probe ran {shift:+.0%} against the "
            f"baseline's runs ({probe_ms:.4g} ms vs {reference:.4g} ms; more than the "
            f"{self.max_probe_shift:.0%} allowed, --ovperf-max-probe-shift): the machine was in "
            "another state (CPU placement, frequency, a co-tenant) and no stored run was "
            "recorded in this state, so a difference cannot be told from it; re-run, or record "
            "a baseline run in this state (--ovperf-update-baselines adds to the history)"
        )

    def _record(
        self,
        path: Path,
        test_name: str,
        profile: str,
        machine: dict[str, Any],
        software: dict[str, Any],
        result: PerfResult,
        current: RunSummary,
        normalized: RunSummary | None,
        probe_id: str,
    ) -> BaselineComparison:
        previous = baselines.load(path).entry(test_name, profile, result.kind)
        history = list(previous.get("history", [])) if previous else []
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        commit = result.facts.get("git_commit")
        run: dict[str, Any] = {
            **current.to_json(),
            "recorded_at": now,
            "git_commit": commit,
            "foreign_load": result.foreign_load,
        }
        if result.probe_value is not None:
            run["probe"] = {"id": probe_id, "ms": result.probe_value}
        if normalized is not None:
            run["normalized"] = normalized.to_json()
        history.append(run)
        history = history[-baselines.HISTORY_LIMIT :]
        entry = {
            "device": result.device,
            "precision": result.precision,
            "statistic": "fps" if result.kind == "throughput" else "p50_ms",
            "value": result.gate_value,
            "n": result.n,
            "blocks": [b for b in result.blocks][-baselines.BLOCK_LIMIT :],
            "software": software,
            "recorded_at": now,
            "git_commit": commit,
            "history": history,
        }
        baselines.record(path, test_name, profile, machine, result.kind, entry)
        self._files.pop(path, None)
        return BaselineComparison(
            "updated",
            baseline_value=result.gate_value,
            message=f"recorded in {path} ({len(history)} run(s) of history)"
            + (
                f"; WARNING: other processes used {result.foreign_load:.0%} of the CPU while "
                "recording, comparisons against this run will be inconclusive"
                if result.foreign_load is not None and result.foreign_load > self.max_foreign_load
                else ""
            ),
        )


def _probe_id(run: Mapping[str, Any]) -> str | None:
    probe = run.get("probe")
    return probe.get("id") if isinstance(probe, dict) else None


def _probe_ms(run: Mapping[str, Any]) -> float | None:
    """The speed probe's median latency in a stored run (validated positive on load)."""
    probe = run.get("probe")
    return float(probe["ms"]) if isinstance(probe, dict) else None


_MACHINE_KEYS = ("cpu", "logical_cpus", "machine", "system", "device", "device_name")


def machine_profile(facts: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The hardware facts among ``facts`` and the id of the profile they make."""
    machine = {k: facts[k] for k in _MACHINE_KEYS if k in facts}
    return machine, baselines.profile_id(machine)


def _profile_difference(stored: Mapping[str, Any], current: Mapping[str, Any], profile: str) -> str:
    differences = [
        f"{k} {stored.get(k)!r} here {current.get(k)!r}"
        for k in sorted(set(stored) | set(current))
        if stored.get(k) != current.get(k)
    ]
    return f"profile {profile} differs in " + (", ".join(differences) or "unknown facts")


def describe_outcome(
    outcome: GateResult,
    result: PerfResult,
    entry: Mapping[str, Any],
    current: RunSummary,
    path: Path,
    raw_baseline: float,
    normalized: bool,
) -> str:
    unit = "fps" if result.kind == "throughput" else "ms"
    higher = result.kind == "throughput"
    ratio, (low, high) = outcome.ratio(higher)
    stored_runs = len(entry.get("history", []))
    software = entry.get("software", {})
    lines = [
        f"baseline {entry.get('statistic')} = {fmt(raw_baseline)} {unit} (geometric mean of "
        f"{outcome.baseline_runs} run(s), recorded {entry.get('recorded_at')}, "
        f"commit {str(entry.get('git_commit'))[:12]}, {path})",
        f"current  {result.statistic if not higher else 'fps'} = {fmt(result.gate_value)} {unit}, "
        f"{result.interval.confidence:.0%} CI [{fmt(result.interval.low)}, "
        f"{fmt(result.interval.high)}] (n={result.n}, {current.blocks} blocks, "
        f"{result.measure_s:.1f} s)",
        ("normalized by the machine-speed probe: " if normalized else "")
        + f"ratio current/baseline = {ratio:.3f}, {outcome.confidence:.0%} CI "
        f"[{low:.3f}, {high:.3f}]; "
        f"threshold {outcome.threshold:.1%} slowdown; p(slowdown <= threshold) = "
        f"{outcome.p_value:.2g} (t, df={outcome.df:.0f})",
        f"noise: run-to-run drift {outcome.drift:.1%} (learned from {stored_runs} stored run(s) "
        f"+ prior), within-run {current.within_se:.1%}, total SE {outcome.se:.1%}",
        f"environment: baseline openvino {software.get('openvino')} "
        f"model {software.get('model_hash')}"
        f"; current openvino {result.facts.get('openvino')} model {result.facts.get('model_hash')}"
        f" on {result.facts.get('device_name')}",
    ]
    if outcome.verdict == "inconclusive":
        lines.append(
            "the interval straddles the threshold: noise too large to tell a "
            f"{outcome.threshold:.0%} change from drift; measure longer (--ovperf-max-time), "
            "use a quieter machine, or record more baseline runs (--ovperf-update-baselines "
            "appends to the history)"
        )
    return "\n    ".join(lines)


def stale_entries(
    stored: BaselineFile,
    collected_names: Iterable[str],
    session_devices: Iterable[str],
) -> dict[str, list[str]]:
    """Entries of a fully collected test file that no collected test could produce.

    An entry is stale when its test function no longer exists, or when its device is one
    this session ran and its parametrized name (device-precision) was not collected.
    """
    names = set(collected_names)
    functions = {n.split("[", 1)[0] for n in names}
    devices = set(session_devices)
    stale: dict[str, list[str]] = {}
    for test, by_profile in stored.entries.items():
        if test in names:
            continue
        gone = test.split("[", 1)[0] not in functions
        for profile, kinds in by_profile.items():
            device = next((k.get("device") for k in kinds.values() if isinstance(k, dict)), None)
            if gone or device in devices:
                stale.setdefault(test, []).append(profile)
    return stale
