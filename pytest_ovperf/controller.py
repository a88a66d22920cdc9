"""The end of a session, on the controller (the only process under pytest-xdist): gather
every worker's result records, find stale baselines, write the JSON report and summary.

The reports (numpy, scipy) and the baseline store (file locks) are imported only by a
session with something to report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .collect import WORKER_OUTPUT_KEY, CollectionTracker
from .session import OvperfSession
from .store.files import write_json_atomic, write_text_atomic
from .store.location import baseline_path

if TYPE_CHECKING:
    from .records import ResultRecord

#: name of the test report's user property that carries a test's result records
USER_PROPERTY = "ovperf_results"


class ResultCollector:
    """Gathers results from test reports (so xdist workers' results reach the controller),
    finds stale baselines, then writes the JSON report and the terminal summary."""

    def __init__(self, ovperf: OvperfSession, collection: CollectionTracker) -> None:
        self.ovperf = ovperf
        self.collection = collection
        self.stale: dict[Path, dict[str, list[str]]] = {}
        self.pruned: dict[Path, int] = {}
        self.baseline_errors: list[str] = []
        #: reports that could not be written
        self.output_errors: list[str] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Take what an xdist worker collected (the controller collects nothing itself)."""
        self.collection.merge(getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == USER_PROPERTY:
                # written by ``records.result_record`` in this process or an xdist worker
                records: list[ResultRecord] = json.loads(str(value))
                self.ovperf.results.extend(records)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._find_stale_baselines()
        settings = self.ovperf.settings
        wanted = (settings.json_path, settings.html_path, settings.markdown_path)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if all(path is None for path in wanted) and not (self.ovperf.results and summary):
            return
        from .html import html_report
        from .records import json_report
        from .report import markdown_report

        environment = {**self.ovperf.software_facts, **self.ovperf.machine_facts("CPU")}
        for device_fact in ("device", "device_name"):
            environment.pop(device_fact)
        if settings.json_path is not None:
            write_json_atomic(settings.json_path, json_report(self.ovperf.results, environment))
        if settings.html_path is not None:
            write_text_atomic(settings.html_path, html_report(self.ovperf.results, environment))
        if self.ovperf.results and (settings.markdown_path is not None or summary):
            text = markdown_report(self.ovperf.results, environment)
            if settings.markdown_path is not None:
                write_text_atomic(settings.markdown_path, text)
            if summary:
                try:
                    with open(summary, "a", encoding="utf-8") as step_summary:
                        step_summary.write(text)
                except OSError as exc:
                    self.output_errors.append(f"cannot append to $GITHUB_STEP_SUMMARY: {exc}")

    def _find_stale_baselines(self) -> None:
        if not (self.collection.complete and self.collection.collected):
            return
        from .store.baselines import BaselineFileError, prune, stale_entries
        from .store.baselines import load as load_baselines

        settings = self.ovperf.settings
        for test_file, names in self.collection.collected.items():
            if test_file in self.collection.partial_files:
                continue
            path = baseline_path(settings.baseline_dir, self.ovperf.rootdir, test_file)
            try:
                stored = load_baselines(path)
            except BaselineFileError as exc:
                self.baseline_errors.append(str(exc))
                continue
            stale = stale_entries(stored, names, settings.devices)
            if not stale:
                continue
            self.stale[path] = stale
            if settings.prune_stale:
                self.pruned[path] = prune(path, stale)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = self.ovperf.results
        if not (results or self.stale or self.baseline_errors or self.output_errors):
            return
        from .report import (
            SUMMARY_HEADER,
            baseline_notes,
            format_table,
            remeasure_lines,
            suite_shift_line,
            summary_rows,
        )
        from .verdicts.suite import suite_shift

        write = terminalreporter.write_line
        terminalreporter.section("ovperf summary")
        if results:
            for line in format_table(SUMMARY_HEADER, summary_rows(results)):
                write(line)
        for line in baseline_notes(results):
            write(line)
        for line in remeasure_lines(results):
            write(line)
        shift = suite_shift(results)
        if shift is not None:
            write(suite_shift_line(shift))
        for error in self.baseline_errors:
            write(f"baseline error: {error}")
        for error in self.output_errors:
            write(f"ovperf: {error}")
        for path, stale in self.stale.items():
            count = sum(len(p) for p in stale.values())
            action = (
                f"pruned {self.pruned[path]}"
                if path in self.pruned
                else "prune them with --ovperf-prune-baselines"
            )
            write(f"stale baselines in {path} ({count} entries; {action}):")
            for test, profiles in sorted(stale.items()):
                write(f"  {test} (profiles {', '.join(profiles)})")
        settings = self.ovperf.settings
        outputs = {
            "JSON report": settings.json_path,
            "HTML report": settings.html_path,
            "markdown summary": settings.markdown_path,
        }
        for what, output in outputs.items():
            if output is not None:
                write(f"ovperf {what}: {output}")
