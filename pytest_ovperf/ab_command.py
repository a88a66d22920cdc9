"""``ovperf ab``: one paired measurement from the command line, with no test file to write.

A model is measured interleaved (ABBA) with its ``--reference`` model and/or under another
OpenVINO runtime (``--reference-runtime``), exactly as a test with
``ovperf_model(model, reference=..., reference_runtime=...)`` is: the command writes that
test into a temporary directory and runs pytest on it in a fresh process, so the
measurement, the verdict and its words are the plugin's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .records import ResultRecord, read_report, records_of

#: the test the command runs (the plugin's markers, filled in with the command's arguments)
_TEST = """
import pytest

@pytest.mark.ovperf_model({model!r}, shape={shape!r}, reference={reference!r},
                          reference_runtime={runtime!r})
def test_ab(perf_budget):
    perf_budget.measure_{kind}()
"""


class AbCommandError(Exception):
    """The command could not measure (bad arguments, or the run failed); says why."""


@dataclass(frozen=True)
class AbOutcome:
    """What ``ovperf ab`` measured: the result record and the run's own output."""

    record: ResultRecord
    output: str


def run_ab(
    model: Path,
    *,
    reference: Path | None,
    reference_runtime: str | None,
    kind: str,
    device: str,
    shape: dict[str, list[int]] | None,
    precision: str | None,
    pytest_args: Sequence[str] = (),
) -> AbOutcome:
    """Measure ``model`` against its reference as a test would, in a fresh pytest process."""
    if reference is None and reference_runtime is None:
        raise AbCommandError("give --reference MODEL, --reference-runtime RELEASE, or both")
    paths = [model] if reference is None else [model, reference]
    for path in paths:
        if not path.is_file():
            raise AbCommandError(f"{path}: no such model file")
    runtime = reference_runtime
    if runtime is not None and ("/" in runtime or "\\" in runtime):
        runtime = os.path.abspath(runtime)  # the test runs elsewhere; a link stays a link
    with tempfile.TemporaryDirectory(prefix="ovperf-ab-") as tmp:
        directory = Path(tmp)
        (directory / "test_ovperf_ab.py").write_text(
            _TEST.format(
                model=str(model.resolve()),
                shape=shape,
                reference=str(reference.resolve()) if reference is not None else None,
                runtime=runtime,
                kind=kind,
            )
        )
        report = directory / "ovperf-ab.json"
        command = [
            sys.executable, "-m", "pytest", str(directory / "test_ovperf_ab.py"),
            "-q", "-p", "no:cacheprovider", "--rootdir", str(directory),
            f"--ovperf-device={device}", "--ovperf-inconclusive=pass",
            f"--ovperf-json={report}", *pytest_args,
        ]  # fmt: skip
        if precision is not None:
            command.append(f"--ovperf-precision={precision}")
        done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
        output = done.stdout + done.stderr
        if not report.exists():
            raise AbCommandError(f"the measurement did not run:\n{output.strip()}")
        found = records_of(read_report(report))
    if not found:
        raise AbCommandError(f"the measurement gave no result:\n{output.strip()}")
    return AbOutcome(found[0], output)


def outcome_lines(outcome: AbOutcome) -> list[str]:
    """The verdict and its message, then where the time goes on this side (and, after a
    regression, which layer types gained it)."""
    record = outcome.record
    if "baseline_message" not in record:  # the test failed before it was judged
        return [outcome.output.strip()]
    lines = [
        f"{record['kind']} on {record['device']} ({record['precision']}): "
        f"{record.get('baseline_verdict')}",
        record["baseline_message"],
    ]
    layers = record.get("top_layers") or []
    if layers:
        lines.append("where the time goes (this side): " + ", ".join(
            f"{layer['type']} {layer['time_us']:.0f} us" for layer in layers
        ))  # fmt: skip
    for change in record.get("attribution") or []:
        lines.append(
            f"  {change['type']}: {change['baseline_us']:.0f} -> {change['current_us']:.0f} us"
        )
    return lines
