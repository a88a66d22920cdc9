"""Human and machine readable output: failure messages, the summary table, the JSON report."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .results import BaselineComparison, Check, PerfResult
from .verdicts.budgets import Metric, Verdict, excess_percent

SCHEMA_VERSION = 1


def describe_check(check: Check, result: PerfResult) -> str:
    """One check in words: value, interval, sample size, limit and the distance to it."""
    unit = check.metric.unit
    interval = check.interval
    comparison = ">=" if check.metric.higher_is_better else "<="
    lines = [f"{check.statistic} = {fmt(interval.estimate)} {unit}"]
    if check.metric in (Metric.LATENCY, Metric.THROUGHPUT):
        lines[0] += (
            f", {interval.confidence:.0%} CI [{fmt(interval.low)}, {fmt(interval.high)}] {unit}"
            f" ({interval.method}, n={check.sample_size}, {result.measure_s:.1f} s measured)"
        )
    else:
        lines[0] += " (single observation)"
    excess = excess_percent(interval.estimate, check.limit, check.metric)
    direction = "over" if excess > 0 else "under"
    if check.metric.higher_is_better:
        direction = "short of" if excess > 0 else "above"
    lines.append(
        f"budget {comparison} {fmt(check.limit)} {unit}: {direction} budget by {abs(excess):.1f}%"
        f" -> {check.verdict.value.upper()}"
    )
    if check.note:
        lines.append(check.note)
    return "\n    ".join(lines)


def budget_failure_message(result: PerfResult, checks: Sequence[Check]) -> str:
    failed = any(c.verdict is Verdict.FAIL for c in checks)
    header = (
        f"ovperf budget {'FAILED' if failed else 'INCONCLUSIVE'}"
        f" for {result.nodeid} on {result.device} ({result.facts.get('device_name', '?')}),"
        f" precision {result.precision}"
    )
    if result.precision != result.requested_precision:
        header += f" (requested {result.requested_precision})"
    body = "\n".join(f"  {check.metric.value}: {describe_check(check, result)}" for check in checks)
    if result.foreign_load is not None and result.foreign_load >= 0.05:
        body += (
            f"\n  note: other processes used {result.foreign_load:.0%} of the machine's CPU "
            "while this test measured"
        )
    return f"{header}\n{body}"


def fmt(value: float | None) -> str:
    """Four significant digits, never in exponent notation (reads well in tables)."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}" if abs(value) >= 1e-3 else f"{value:.2e}"


def regression_message(result: PerfResult, comparison: BaselineComparison) -> str:
    what = "interleaved reference" if comparison.message.startswith("reference") else "baseline"
    header = (
        f"ovperf {comparison.verdict.upper()} against the {what} for {result.nodeid} on "
        f"{result.device} ({result.facts.get('device_name', '?')}), precision {result.precision}, "
        f"{result.kind}"
    )
    lines = [header, f"    {comparison.message}"]
    if comparison.what_changed:
        lines.append(
            "    what changed: "
            + "; ".join(
                f"{k} {old!r} -> {new!r}" for k, (old, new) in comparison.what_changed.items()
            )
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return fmt(float(value))
    return str(value)


def summary_rows(results: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Rows of the terminal summary: one per checked metric, or one per result without checks."""
    rows = []
    for data in results:
        unit = "fps" if data["kind"] == "throughput" else "ms"
        checks = data.get("checks") or [None]
        for check in checks:
            if check is None:
                value = data.get("fps") if data["kind"] == "throughput" else data.get("p50_ms")
                metric = "fps" if data["kind"] == "throughput" else "p50"
                ci = data.get("ci") if data.get("statistic", "").startswith(metric) else None
                limit, verdict = None, "none"
            else:
                value, metric, ci = check["value"], check["statistic"], check["ci"]
                limit, verdict = check["limit"], check["verdict"]
                if check["metric"] in ("first_inference_ms", "compile_ms"):
                    unit, ci = "ms", None  # a single observation has no interval
            measured = f"{_cell(value)} {unit}"
            if ci and ci[0] is not None and ci[1] is not None:
                measured += f" [{_cell(ci[0])}, {_cell(ci[1])}]"
            row = [
                data["nodeid"].split("::")[-1],
                data["device"],
                data["precision"],
                metric,
                measured,
                _cell(limit),
                verdict,
                data.get("baseline_verdict", "-"),
                _ratio_cell(data),
            ]
            rows.append(row)
    return rows


def _ratio_cell(data: Mapping[str, Any]) -> str:
    ratio = data.get("ratio")
    if ratio is None:
        return "-"
    ci = data.get("ratio_ci")
    text = f"{ratio:.3f}"
    if ci and ci[0] is not None:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def baseline_notes(results: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why results were not compared with a baseline (other machine profile, bad file)."""
    notes = []
    plain_missing = 0
    for data in results:
        verdict, message = data.get("baseline_verdict"), data.get("baseline_message") or ""
        if verdict == "no-baseline" and "other machine profiles" not in message:
            plain_missing += 1  # nothing recorded at all: one line for all of them
        elif verdict in ("no-baseline", "error") and message:
            name = data["nodeid"].split("::")[-1]
            notes.append(f"{name} ({data['kind']}): {message}")
    if plain_missing:
        notes.append(
            f"{plain_missing} result(s) have no baseline for this machine; record them with "
            "--ovperf-update-baselines"
        )
    return notes


SUMMARY_HEADER = [
    "test",
    "device",
    "precision",
    "metric",
    "measured (CI)",
    "budget",
    "verdict",
    "baseline",
    "ratio (CI)",
]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def json_report(
    results: Sequence[Mapping[str, Any]], environment: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": dict(environment),
        "results": list(results),
    }
