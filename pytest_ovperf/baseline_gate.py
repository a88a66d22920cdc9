"""The regression gate: compares results with stored baselines, or records them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import baselines
from .baselines import BaselineFile, BaselineFileError
from .comparison import GateResult, GateSettings, RunSummary, compare, summarise_run
from .report import fmt
from .results import BaselineComparison, PerfResult

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

    def check(
        self,
        result: PerfResult,
        test_file: Path,
        test_name: str,
        threshold: float,
        higher_is_better: bool,
    ) -> BaselineComparison:
        """Record (``update``) or compare one result; raises ``BaselineFileError``."""
        machine = {k: result.facts[k] for k in _MACHINE_KEYS if k in result.facts}
        profile = baselines.profile_id(machine)
        path = self.path_for(test_file)
        software = {k: result.facts.get(k) for k in SOFTWARE_FACTS}
        current = summarise_run(result.gate_value, result.blocks, software_hash(software))
        settings = GateSettings(
            threshold=threshold,
            confidence=self.settings.confidence,
            prior_drift=self.settings.prior_drift,
            prior_df=self.settings.prior_df,
            baseline_runs=self.settings.baseline_runs,
        )
        if self.update:
            return self._record(path, test_name, profile, machine, software, result, current)
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
        history = [RunSummary.from_json(run) for run in entry.get("history", [])]
        if not history:
            return BaselineComparison("no-baseline", message=f"{path}: entry has no runs")
        outcome = compare(current, history, settings, higher_is_better)
        changed = {
            k: (entry.get("software", {}).get(k), software.get(k))
            for k in SOFTWARE_FACTS
            if entry.get("software", {}).get(k) != software.get(k)
        }
        ratio, ratio_ci = outcome.ratio(higher_is_better)
        return BaselineComparison(
            verdict=outcome.verdict,
            baseline_value=outcome.baseline_value,
            ratio=ratio,
            ratio_ci=ratio_ci,
            p_value=outcome.p_value,
            threshold=threshold,
            message=describe_outcome(outcome, result, entry, current, path),
            what_changed=changed,
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
    ) -> BaselineComparison:
        previous = baselines.load(path).entry(test_name, profile, result.kind)
        history = list(previous.get("history", [])) if previous else []
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        commit = result.facts.get("git_commit")
        history.append({**current.to_json(), "recorded_at": now, "git_commit": commit})
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
            message=f"recorded in {path} ({len(history)} run(s) of history)",
        )


_MACHINE_KEYS = ("cpu", "logical_cpus", "machine", "system", "device", "device_name")


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
) -> str:
    unit = "fps" if result.kind == "throughput" else "ms"
    higher = result.kind == "throughput"
    ratio, (low, high) = outcome.ratio(higher)
    stored_runs = len(entry.get("history", []))
    software = entry.get("software", {})
    lines = [
        f"baseline {entry.get('statistic')} = {fmt(outcome.baseline_value)} {unit} (mean of "
        f"{outcome.baseline_runs} run(s), recorded {entry.get('recorded_at')}, "
        f"commit {str(entry.get('git_commit'))[:12]}, {path})",
        f"current  {result.statistic if not higher else 'fps'} = {fmt(result.gate_value)} {unit}, "
        f"{result.interval.confidence:.0%} CI [{fmt(result.interval.low)}, "
        f"{fmt(result.interval.high)}] (n={result.n}, {current.blocks} blocks, "
        f"{result.measure_s:.1f} s)",
        f"ratio current/baseline = {ratio:.3f}, {outcome.confidence:.0%} CI "
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
