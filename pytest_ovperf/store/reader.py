"""Reading baseline files for the gate: each file read once (until a recording changes it),
the suite's files, and the look-ups of one test's stored entry on this machine profile.
Writing is ``baselines.py``'s; the format ``schema.py``'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kinds import KINDS
from ..results import StoredBaseline
from ..runtime.facts import machine_profile
from ..runtime.probe import PROBE_VERSION
from ..runtime.profile import TypeTime, profile_from_json
from . import baselines
from .location import baseline_files, baseline_path
from .schema import BaselineFile, BaselineFileError, history_of


def probe_id_of(facts: Mapping[str, Any]) -> str:
    """Probe readings compare only with the same probe on the same OpenVINO."""
    return f"{PROBE_VERSION}:{facts.get('openvino')}"


def stored_baseline(path: Path, entry: Mapping[str, Any], runs: Sequence[Any]) -> StoredBaseline:
    """Which stored baseline a result is compared with: the entry's latest recording."""
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


@dataclass
class BaselineReader:
    """The suite's baseline files as read this session; a file that cannot be read raises
    its ``BaselineFileError`` each time it is loaded (``check`` reports it)."""

    baseline_dir: Path
    rootdir: Path
    #: the model store's directory: JSON files under it are no baseline files
    model_root: Path
    _files: dict[Path, BaselineFile | BaselineFileError] = field(default_factory=dict)
    _suite_paths: list[Path] | None = None

    def path_for(self, test_file: Path) -> Path:
        return baseline_path(self.baseline_dir, self.rootdir, test_file)

    def load(self, path: Path) -> BaselineFile:
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

    def forget(self, path: Path) -> None:
        """A recording changed ``path``: the next load reads it again."""
        self._files.pop(path, None)

    def readable(self, test_file: Path) -> BaselineFile | None:
        """The test file's baselines, or ``None`` when they cannot be read (``check``
        reports why)."""
        try:
            return self.load(self.path_for(test_file))
        except BaselineFileError:
            return None

    def entry_for(
        self, test_file: Path, test_name: str, facts: Mapping[str, Any], kind: str
    ) -> dict[str, Any] | None:
        """This test's stored entry of ``kind`` on the machine profile of ``facts``; ``None``
        when there is none or the file cannot be read."""
        stored = self.readable(test_file)
        if stored is None:
            return None
        return stored.entry(test_name, machine_profile(facts)[1], kind)

    def suite(self, path: Path) -> list[tuple[Path, BaselineFile]]:
        """The suite's readable baseline files (``path`` first, even before it exists); a
        file that cannot be read is left out here (its own tests report it)."""
        if self._suite_paths is None:  # once a session: the files recorded later are ``path``
            self._suite_paths = baseline_files(self.baseline_dir, self.model_root)
        files: list[tuple[Path, BaselineFile]] = []
        for candidate in [path, *self._suite_paths]:
            if files and candidate == path:
                continue
            try:
                files.append((candidate, self.load(candidate)))
            except BaselineFileError:
                continue
        return files

    def stored_profile(
        self, test_file: Path, test_name: str, facts: Mapping[str, Any], kind: str
    ) -> dict[str, TypeTime] | None:
        """The per-layer-type profile recorded with this test's baseline, if any."""
        entry = self.entry_for(test_file, test_name, facts, kind) or {}
        return profile_from_json(entry.get("profile"))

    def fastest_probe(self, test_file: Path, facts: Mapping[str, Any]) -> float | None:
        """The fastest speed-probe reading (ms) of the stored runs of the file's tests on
        this machine profile (same probe, same OpenVINO): the machine's fastest state."""
        stored = self.readable(test_file)
        if stored is None:
            return None
        profile, probe_id = machine_profile(facts)[1], probe_id_of(facts)
        readings = [
            run.probe_ms
            for test in stored.entries
            for kind in KINDS
            for run in history_of(stored.entry(test, profile, kind) or {})
            if run.probe_id == probe_id and run.probe_ms is not None
        ]
        return min(readings, default=None)
