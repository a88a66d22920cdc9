"""``ovperf``: work with stored baselines and JSON reports outside a test run.

    ovperf show baselines/                 the stored baselines as a table
    ovperf compare OLD.json NEW.json       two JSON reports, judged as the gate judges
    ovperf merge A.json B.json -o ALL.json the reports of a CI matrix in one report
    ovperf html REPORT.json -o REPORT.html a report as a self-contained HTML page
    ovperf sweep MODEL --streams 1,2,4 --batch 1,2,4 --hint throughput,latency
    ovperf ab MODEL --reference-runtime 2025.4.1    the model under two runtimes, paired

Exit status: 0; 1 when ``compare`` or ``ab`` finds a regression; 2 for bad input (the
message names the file).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openvino as ov

from . import records
from . import sweep as sweep_grid
from .ab_command import AbCommandError, outcome_lines, run_ab
from .html import html_report
from .identity import TestIdentity
from .kinds import kind_of_record
from .measure.settings import MeasureSettings
from .records import JsonReport, ResultRecord, headline_value, json_report, records_of
from .report import SUMMARY_HEADER, format_table, summary_rows
from .runtime.devices import parse_precision_list
from .runtime.facts import cpu_model_name
from .runtime.models import ModelError
from .store.baselines import BaselineFileError
from .store.baselines import load as load_baselines
from .store.files import write_json_atomic, write_text_atomic
from .store.models import MANIFEST, MANIFEST_SCHEMA
from .store.schema import RunSummary, history_of
from .verdicts.comparison import GateSettings, compare
from .verdicts.kinds import GateVerdict
from .verdicts.limits import (
    DEFAULT_DRIFT_PRIOR,
    DEFAULT_MEMORY_FLOOR_MB,
    DEFAULT_MEMORY_THRESHOLD,
    DEFAULT_REGRESSION_THRESHOLD,
    FractionError,
    parse_fraction,
    percent_text,
)
from .verdicts.memory import judge_memory
from .verdicts.stats import Interval


class InputError(Exception):
    """Bad input: a file that is not what it should be (the message names it)."""


# -- show ----------------------------------------------------------------------------------


def _in_model_store(path: Path) -> bool:
    """Whether ``path`` is a file of a model store entry (a kept pipeline's ``config.json``,
    its manifest): its directory holds a pytest-ovperf model manifest."""
    manifest = path.parent / MANIFEST
    try:
        return bool(
            json.loads(manifest.read_text(encoding="utf-8")).get("schema") == MANIFEST_SCHEMA
        )
    except (OSError, ValueError, AttributeError):
        return False


def show(directory: Path) -> list[str]:
    """The baseline files under ``directory`` as a table (the model store is skipped)."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory of baselines")
    rows = []
    for path in sorted(directory.rglob("*.json")):
        relative = path.relative_to(directory)
        if _in_model_store(path) or any(part.startswith(".") for part in relative.parts):
            continue  # the model store's entries, hidden files
        try:
            stored = load_baselines(path)
        except BaselineFileError as exc:
            raise InputError(str(exc)) from None
        if not stored.entries and not stored.profiles:
            continue  # not a baseline file (a model store manifest, say)
        for test, by_profile in sorted(stored.entries.items()):
            for profile, kinds in sorted(by_profile.items()):
                machine = stored.profiles.get(profile, {})
                for kind, entry in sorted(kinds.items()):
                    runs = history_of(entry)
                    software = entry.get("software", {})
                    rows.append(
                        [
                            str(path.relative_to(directory)),
                            test,
                            f"{machine.get('device', '?')} {profile[:8]}",
                            kind,
                            f"{entry.get('statistic', '?')} {_number(entry.get('value'))}",
                            str(len(runs)),
                            str(entry.get("recorded_at", "?")),
                            str(software.get("openvino", "?")).split("-")[0],
                        ]
                    )
    if not rows:
        return [f"no baselines under {directory}"]
    header = ["file", "test", "profile", "kind", "value", "runs", "recorded", "openvino"]
    return format_table(header, rows)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "?"


# -- reports -------------------------------------------------------------------------------


def read_report(path: Path) -> JsonReport:
    """A JSON report of ``--ovperf-json`` (``records.read_report``); anything else is an
    ``InputError`` naming it."""
    try:
        return records.read_report(path)
    except records.ReportError as exc:
        raise InputError(str(exc)) from None


def _by_key(report: JsonReport, what: str) -> dict[tuple[str, str, str], ResultRecord]:
    """A report's results by (test, kind, device); a merged report of several machines,
    which holds a test twice, is refused rather than compared across machines."""
    found: dict[tuple[str, str, str], ResultRecord] = {}
    for result in records_of(report):
        key = (result["nodeid"], result["kind"], result["device"])
        if key in found:
            raise InputError(
                f"{what} holds {key[0]} ({key[1]}, {key[2]}) more than once (a merged "
                "report?); compare the reports of one machine each"
            )
        found[key] = result
    return found


def _gate_figure(result: ResultRecord) -> tuple[float, float] | None:
    """(value, within-run SE on the log scale) of a report's result: p50 or fps, with the
    SE from its interval when the interval is of that figure (else 10%)."""
    value = headline_value(result)
    if value is None or value <= 0:
        return None
    low, high = result["ci"]
    within = 0.1
    if (
        result["statistic"] == kind_of_record(result).headline
        and low is not None
        and high is not None
    ):
        confidence = float(result.get("confidence") or 0.95)
        interval = Interval(value, float(low), float(high), confidence, "report")
        if 0 < interval.log_standard_error < math.inf:
            within = interval.log_standard_error
    return float(value), within


def _summary(value: float, within: float, software: str) -> RunSummary:
    return RunSummary(value, math.log(value), within, 1, software)


def compare_reports(
    old: JsonReport, new: JsonReport, threshold: float, drift: float
) -> tuple[list[list[str]], bool]:
    """Rows of the comparison (same statistics and verdict words as the gate's history
    path with one baseline run), and whether any says regression."""
    old_results = _by_key(old, "the old report")
    _by_key(new, "the new report")  # the same check: one result per test, kind and device
    settings = GateSettings(threshold=threshold, prior_drift=drift)
    rows, regression = [], False
    for result in records_of(new):
        key = (result["nodeid"], result["kind"], result["device"])
        before = old_results.pop(key, None)
        current, baseline = _gate_figure(result), _gate_figure(before) if before else None
        test = TestIdentity.from_nodeid(result["nodeid"]).name
        name = [test, result["device"], result["kind"]]
        if current is None or baseline is None:
            rows.append([*name, "-", _cell(current), "-", "no-baseline"])
            continue
        kind = kind_of_record(result)
        if not kind.statistical:  # memory: thresholds, as the gate judges it
            judgement = judge_memory(
                current[0], baseline[0], DEFAULT_MEMORY_THRESHOLD, DEFAULT_MEMORY_FLOOR_MB
            )
            regression |= judgement.verdict is GateVerdict.REGRESSION
            rows.append(
                [
                    *name,
                    _cell(baseline),
                    _cell(current),
                    f"{judgement.ratio:.3f} ({judgement.delta_mb:+.1f} MiB)",
                    judgement.verdict.value,
                ]
            )
            continue
        # (the current run's software does not enter the statistics: only the history's
        # runs are grouped by theirs)
        outcome = compare(
            _summary(*current, "new"),
            [_summary(*baseline, "old")],
            settings,
            higher_is_better=kind.higher_is_better,
        )
        ratio, (low, high) = outcome.ratio(kind.higher_is_better)
        regression |= outcome.verdict is GateVerdict.REGRESSION
        rows.append(
            [
                *name,
                _cell(baseline),
                _cell(current),
                f"{ratio:.3f} [{low:.3f}, {high:.3f}]",
                outcome.verdict.value,
            ]
        )
    for nodeid, kind_name, device in old_results:
        test = TestIdentity.from_nodeid(nodeid).name
        rows.append([test, str(device), kind_name, "-", "-", "-", "not in new"])
    return rows, regression


def _cell(figure: tuple[float, float] | None) -> str:
    return f"{figure[0]:.4g}" if figure else "-"


def merge(paths: Sequence[Path]) -> JsonReport:
    """One report of several (a CI matrix): each result keeps the environment it came from."""
    results: list[ResultRecord] = []
    for path in paths:
        report = read_report(path)
        environment = report["environment"]
        for result in records_of(report):
            results.append({**result, "environment": environment, "source": str(path)})
    return json_report(results, {"merged_from": [str(p) for p in paths]})


# -- sweep ---------------------------------------------------------------------------------


def command_ab(args: argparse.Namespace) -> tuple[list[str], bool]:
    """``ovperf ab``: the lines to print, and whether it found a regression."""
    try:
        shape = sweep_grid.parse_shape(args.shape)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    extra = []
    if args.max_time is not None:
        extra.append(f"--ovperf-max-time={args.max_time}")
    if args.runtime_cache is not None:
        extra.append(f"--ovperf-runtime-cache={args.runtime_cache.resolve()}")
    try:
        outcome = run_ab(
            args.model,
            reference=args.reference,
            reference_runtime=args.reference_runtime,
            kind=args.kind,
            device=args.device,
            shape=shape,
            precision=args.precision,
            pytest_args=extra,
        )
    except AbCommandError as exc:
        raise InputError(str(exc)) from None
    regression = outcome.record.get("baseline_verdict") == GateVerdict.REGRESSION.value
    return outcome_lines(outcome), regression


def run_sweep(args: argparse.Namespace) -> list[str]:
    """Check every option, then measure the grid with a progress line per configuration."""
    try:
        grid = sweep_grid.parse_grid(args.hint, args.streams, args.batch)
        shape = sweep_grid.parse_shape(args.shape)
        precisions = parse_precision_list([args.precision]) if args.precision else []
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if len(precisions) > 1 or "int8" in precisions:
        raise InputError(
            f"--precision {args.precision!r}: give one of f32, bf16, f16 (int8 comes from a "
            "quantized model)"
        )
    precision = precisions[0] if precisions else None
    if not args.model.is_file():
        raise InputError(f"{args.model}: no such model file")
    if not args.time > 0:
        raise InputError(f"--time {args.time}: must be positive")
    settings = MeasureSettings(
        warmup_s=min(0.5, args.time / 4), min_time_s=min(1.0, args.time), max_time_s=args.time
    )

    def progress(index: int, configuration: sweep_grid.Configuration) -> None:
        print(f"[{index + 1}/{len(grid)}] {configuration.label}", file=sys.stderr, flush=True)

    try:
        results = sweep_grid.sweep(
            ov.Core(), args.model, args.device, grid, settings, shape, precision, progress
        )
    except (ModelError, sweep_grid.GridError) as exc:
        raise InputError(str(exc)) from None
    if args.json is not None:
        write_json_atomic(args.json, sweep_grid.to_json(results, args.model, args.device))
    if args.html is not None:
        environment = {"cpu": cpu_model_name(), "openvino": ov.get_version()}
        write_text_atomic(args.html, html_report(sweep_grid.to_records(results), environment))
    lines = format_table(sweep_grid.SWEEP_HEADER, sweep_grid.rows(results))
    lines.append("* best p50 latency / best throughput")
    return lines


# -- the command ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ovperf", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    show_parser = commands.add_parser("show", help="the stored baselines as a table")
    show_parser.add_argument("directory", type=Path)
    compare_parser = commands.add_parser(
        "compare", help="two JSON reports; exit status 1 on a regression"
    )
    compare_parser.add_argument("old", type=Path)
    compare_parser.add_argument("new", type=Path)
    compare_parser.add_argument(
        "--threshold",
        default=f"{DEFAULT_REGRESSION_THRESHOLD:.0%}",
        help="smallest slowdown that counts (0.05 or '5%%'; default 5%%)",
    )
    compare_parser.add_argument(
        "--drift",
        default=percent_text(DEFAULT_DRIFT_PRIOR),
        help=(  # argparse reads % as a format: percent_text's sign is doubled
            "run-to-run drift between the two reports' runs (default "
            f"{percent_text(DEFAULT_DRIFT_PRIOR)}, the gate's prior)"
        ).replace("%", "%%"),
    )
    html_parser = commands.add_parser("html", help="a JSON report as a self-contained HTML file")
    html_parser.add_argument("report", type=Path)
    html_parser.add_argument("-o", "--output", type=Path, required=True)
    sweep_parser = commands.add_parser(
        "sweep", help="measure a model over hints x streams x batch sizes"
    )
    sweep_parser.add_argument("model", type=Path, help="a model file (IR .xml, .onnx, ...)")
    sweep_parser.add_argument("-d", "--device", default="CPU")
    sweep_parser.add_argument("--hint", default="latency,throughput", help="comma-separated")
    sweep_parser.add_argument("--streams", default=None, help="e.g. 1,2,4 (default: the hint's)")
    sweep_parser.add_argument(
        "--batch", default=None, help="e.g. 1,2,4 (default: the model's own, or --shape's)"
    )
    sweep_parser.add_argument("--shape", default=None, help="name[1,3,224,224] for dynamic inputs")
    sweep_parser.add_argument("--precision", default=None, help="f32, bf16 or f16")
    sweep_parser.add_argument(
        "--time", type=float, default=2.0, help="seconds at most per measurement (default 2)"
    )
    sweep_parser.add_argument("--json", type=Path, default=None)
    sweep_parser.add_argument("--html", type=Path, default=None)
    ab_parser = commands.add_parser(
        "ab",
        help="a model against its reference and/or under another OpenVINO runtime, "
        "interleaved (ABBA) in one run",
    )
    ab_parser.add_argument("model", type=Path, help="a model file (IR .xml, .onnx, ...)")
    ab_parser.add_argument("--reference", type=Path, default=None, help="another model file")
    ab_parser.add_argument(
        "--reference-runtime",
        default=None,
        help="an OpenVINO release (2025.4.1) or a Python interpreter that has OpenVINO",
    )
    ab_parser.add_argument("--kind", choices=["latency", "throughput"], default="latency")
    ab_parser.add_argument("-d", "--device", default="CPU")
    ab_parser.add_argument("--shape", default=None, help="name[1,3,224,224] for dynamic inputs")
    ab_parser.add_argument("--precision", default=None, help="f32, bf16 or f16")
    ab_parser.add_argument(
        "--max-time", type=float, default=None, help="seconds of measurement at most (both)"
    )
    ab_parser.add_argument(
        "--runtime-cache", type=Path, default=None, help="where side environments are kept"
    )
    merge_parser = commands.add_parser("merge", help="several JSON reports in one")
    merge_parser.add_argument("reports", type=Path, nargs="+")
    merge_parser.add_argument("-o", "--output", type=Path, required=True)
    merge_parser.add_argument("--html", type=Path, help="also write the merged HTML report here")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            lines = show(args.directory)
        elif args.command == "compare":
            try:
                threshold = parse_fraction(args.threshold, "--threshold")
                drift = parse_fraction(args.drift, "--drift")
            except FractionError as exc:
                raise InputError(str(exc)) from None
            rows, regression = compare_reports(
                read_report(args.old), read_report(args.new), threshold, drift
            )
            header = ["test", "device", "kind", "old", "new", "ratio (95% CI)", "verdict"]
            print("\n".join(format_table(header, rows)))
            return 1 if regression else 0
        elif args.command == "sweep":
            lines = run_sweep(args)
        elif args.command == "ab":
            lines, regression = command_ab(args)
            print("\n".join(lines))
            return 1 if regression else 0
        elif args.command == "html":
            report = read_report(args.report)
            write_text_atomic(args.output, html_report(records_of(report), report["environment"]))
            lines = [f"wrote {args.output} ({len(records_of(report))} result(s))"]
        else:
            merged = merge(args.reports)
            write_json_atomic(args.output, merged)
            lines = format_table(SUMMARY_HEADER, summary_rows(records_of(merged)))
            lines.append(f"merged {len(records_of(merged))} result(s) into {args.output}")
            if args.html is not None:
                write_text_atomic(args.html, html_report(records_of(merged), merged["environment"]))
                lines.append(f"wrote {args.html}")
    except InputError as exc:
        print(f"ovperf: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
