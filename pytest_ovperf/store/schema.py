"""The stored format of baseline files, defined once: the file, its entries, and one run.

One JSON file per test file::

    {"schema": "pytest-ovperf-baselines", "schema_version": 1,
     "profiles": {PROFILE_ID: {machine facts}},
     "entries": {TEST_NAME: {PROFILE_ID: {KIND: ENTRY}}}}   (KIND: "latency", "throughput",
                                                            "load", "memory", a plugin's)

    ENTRY = {"device", "precision", "statistic", "value", "n", "blocks" (the latest run's
             block summaries), "software" (facts), "recorded_at", "git_commit",
             "profile": {LAYER_TYPE: {"us", "kernels", "precisions"}} (the latest run's
             performance counters per layer type, when profiled; optional),
             "history": [RUN, ...]}   (oldest first, the last HISTORY_LIMIT runs)
    RUN   = {RunSummary fields, "recorded_at", "git_commit", "job", "foreign_load",
             "probe": {"id", "ms"} (when the speed probe ran),
             "normalized": {RunSummary fields} (latency: model/probe ratios),
             "companion": {RunSummary fields} (CPU: p50 ms of the model with one
             inference thread, the compute companion; optional)}

Keys are sorted and floats rounded to 6 significant digits so that re-recording gives
small, readable diffs. Files are parsed with ``json`` only: nothing in them is executed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_NAME = "pytest-ovperf-baselines"
SCHEMA_VERSION = 1
#: run summaries kept per entry, so the gate can learn this machine's run-to-run drift
HISTORY_LIMIT = 20
#: block summaries kept per entry
BLOCK_LIMIT = 64


class BaselineFileError(Exception):
    """A baseline file that cannot be used; it is reported and never overwritten."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"baseline file {path}: {problem}")
        self.path = path
        self.problem = problem


def _is_number(value: Any) -> bool:
    """A finite JSON number (``true``/``false`` never count as numbers; ``NaN`` and
    ``Infinity``, which Python's json reads, are no JSON numbers and could not be written
    back)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: the numeric JSON fields of a run summary, with their types (``software`` is a string and
#: ``job`` an optional string)
_SUMMARY_FIELDS: dict[str, type] = {
    "value": float,
    "log_value": float,
    "within_se": float,
    "blocks": int,
}


@dataclass(frozen=True)
class RunSummary:
    """One run of one test, as the gate sees it: its statistic on the log scale."""

    value: float  # p50 ms or fps (or the model/probe ratio)
    log_value: float
    within_se: float  # standard error of log_value inside the run
    blocks: int
    software: str  # hash of the software facts; drift is learned within equal software
    #: the job the run was recorded in (runs of one job are one piece of drift evidence)
    job: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "value": self.value,
            "log_value": self.log_value,
            "within_se": self.within_se,
            "blocks": self.blocks,
            "software": self.software,
        }
        if self.job:
            data["job"] = self.job
        return data

    @classmethod
    def problem(cls, data: Any) -> str:
        """What is wrong with a stored summary, or ''."""
        if not isinstance(data, dict):
            return "is not an object"
        for name, kind in _SUMMARY_FIELDS.items():
            value = data.get(name)
            if not _is_number(value) or (kind is int and not isinstance(value, int)):
                return f"lacks a valid {name!r}"
        if not isinstance(data.get("software"), str):
            return "lacks a valid 'software'"
        if not isinstance(data.get("job", ""), str):
            return "has an invalid 'job'"
        return ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(
            value=float(data["value"]),
            log_value=float(data["log_value"]),
            within_se=float(data["within_se"]),
            blocks=int(data["blocks"]),
            software=str(data["software"]),
            job=str(data.get("job", "")),
        )


@dataclass(frozen=True)
class ProbeReading:
    """The speed probe of a run: which probe (version and OpenVINO) and its median latency."""

    id: str
    ms: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ms": self.ms}

    @staticmethod
    def problem(data: Any) -> str:
        ms = data.get("ms") if isinstance(data, dict) else None
        valid = isinstance(data, dict) and isinstance(data.get("id"), str)
        if not valid or not _is_number(ms) or float(ms or 0) <= 0:
            return "has an invalid 'probe' (wants {'id': str, 'ms': > 0})"
        return ""


@dataclass(frozen=True)
class StoredRun:
    """One recorded run in an entry's history."""

    summary: RunSummary
    recorded_at: str | None = None
    git_commit: str | None = None
    foreign_load: float | None = None
    probe: ProbeReading | None = None
    #: latency: the summary of model/probe ratios
    normalized: RunSummary | None = None
    #: CPU: the summary of the one-thread compute companion's latency (p50 ms)
    companion: RunSummary | None = None

    @property
    def software(self) -> str:
        return self.summary.software

    @property
    def probe_ms(self) -> float | None:
        return self.probe.ms if self.probe is not None else None

    @property
    def probe_id(self) -> str | None:
        return self.probe.id if self.probe is not None else None

    def to_json(self) -> dict[str, Any]:
        data = {
            **self.summary.to_json(),
            "recorded_at": self.recorded_at,
            "git_commit": self.git_commit,
            "foreign_load": self.foreign_load,
        }
        if self.probe is not None:
            data["probe"] = self.probe.to_json()
        if self.normalized is not None:
            data["normalized"] = self.normalized.to_json()
        if self.companion is not None:
            data["companion"] = self.companion.to_json()
        return data

    @staticmethod
    def problem(data: Any) -> str:
        """What is wrong with a stored run, or '' (checked on load, so the gate never
        meets a malformed run)."""
        if not isinstance(data, dict):
            return "is not an object"
        problem = RunSummary.problem(data)
        for part in ("normalized", "companion"):
            if not problem and data.get(part) is not None:
                inner = RunSummary.problem(data[part])
                problem = f"has an invalid {part!r}: it {inner}" if inner else ""
        if not problem and data.get("probe") is not None:
            problem = ProbeReading.problem(data["probe"])
        load = data.get("foreign_load")
        if not problem and load is not None and not _is_number(load):
            problem = "has an invalid 'foreign_load'"
        return problem

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredRun:
        probe, normalized = data.get("probe"), data.get("normalized")
        companion = data.get("companion")
        load = data.get("foreign_load")
        return cls(
            summary=RunSummary.from_json(data),
            recorded_at=data.get("recorded_at"),
            git_commit=data.get("git_commit"),
            foreign_load=float(load) if load is not None else None,
            probe=ProbeReading(str(probe["id"]), float(probe["ms"])) if probe else None,
            normalized=RunSummary.from_json(normalized) if normalized is not None else None,
            companion=RunSummary.from_json(companion) if companion is not None else None,
        )


def entry_problem(entry: Any) -> str:
    """What is wrong with one stored entry, or ''."""
    if not isinstance(entry, dict):
        return "is not an object"
    history = entry.get("history", [])
    if not isinstance(history, list):
        return "'history' is not a list"
    for index, run in enumerate(history):
        problem = StoredRun.problem(run)
        if problem:
            return f"history[{index}] {problem}"
    return ""


def history_of(entry: Mapping[str, Any]) -> list[StoredRun]:
    """The typed runs of a validated entry, oldest first."""
    return [StoredRun.from_json(run) for run in entry.get("history", [])]


def round_floats(value: Any) -> Any:
    """Round every float to 6 significant digits (stable, diff-friendly output)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: round_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v) for v in value]
    return value


@dataclass
class BaselineFile:
    path: Path
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def entry(self, test: str, profile: str, kind: str) -> dict[str, Any] | None:
        return self.entries.get(test, {}).get(profile, {}).get(kind)

    def profiles_of(self, test: str, kind: str) -> list[str]:
        return [p for p, kinds in self.entries.get(test, {}).items() if kind in kinds]

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = round_floats(
            {
                "schema": SCHEMA_NAME,
                "schema_version": SCHEMA_VERSION,
                "profiles": self.profiles,
                "entries": self.entries,
            }
        )
        return payload

    @classmethod
    def parse(cls, path: Path, text: str) -> BaselineFile:
        """Parse and validate a file's text; ``BaselineFileError`` names the problem."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineFileError(
                path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from exc
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
            raise BaselineFileError(
                path, f"is not a pytest-ovperf baseline file (no schema {SCHEMA_NAME!r})"
            )
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BaselineFileError(
                path,
                f"has schema_version {version!r}; this pytest-ovperf reads version "
                f"{SCHEMA_VERSION} (upgrade pytest-ovperf, or re-record with "
                "--ovperf-update-baselines)",
            )
        profiles, entries = data.get("profiles"), data.get("entries")
        if not isinstance(profiles, dict) or not isinstance(entries, dict):
            raise BaselineFileError(path, "'profiles' and 'entries' must be objects")
        for profile, facts in profiles.items():
            if not isinstance(facts, dict):
                raise BaselineFileError(path, f"profile {profile!r} is not an object")
        for test, by_profile in entries.items():
            if not isinstance(by_profile, dict):
                raise BaselineFileError(path, f"entry {test!r} is malformed: not an object")
            for profile, kinds in by_profile.items():
                if not isinstance(kinds, dict):
                    raise BaselineFileError(
                        path, f"entry {test!r} is malformed: profile {profile!r} is not an object"
                    )
                for kind, entry in kinds.items():
                    problem = entry_problem(entry)
                    if problem:
                        raise BaselineFileError(
                            path, f"entry {test!r} is malformed: {profile}/{kind} {problem}"
                        )
        return cls(path, profiles, entries)
