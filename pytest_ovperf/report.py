"""Summaries of many results, read from their JSON records: the terminal summary table,
baseline notes, re-measure lines, the suite-level shift and the markdown report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .identity import TestIdentity
from .kinds import kind_of_record
from .messages import fmt, shares_text
from .records import CheckRecord, ResultRecord, headline_value
from .verdicts.kinds import GateVerdict, Metric, Verdict
from .verdicts.suite import SuiteShift, suite_shift


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return fmt(float(value))
    return str(value)


def summary_rows(records: Iterable[ResultRecord]) -> list[list[str]]:
    """Rows of the terminal summary: one per checked metric, or one per result without checks."""
    rows = []
    for data in records:
        kind = kind_of_record(data)
        unit = kind.unit
        checks: list[CheckRecord | None] = [*data["checks"]] or [None]
        for check in checks:
            ci: list[float | None] | None
            limit: float | None
            if check is None:
                value, metric = headline_value(data), kind.headline
                ci = data["ci"] if data["statistic"].startswith(metric) else None
                limit, verdict = None, Verdict.NONE.value
            else:
                value, metric, ci = check["value"], check["statistic"], check["ci"]
                limit, verdict = check["limit"], check["verdict"]
                checked = Metric(check["metric"])
                unit = checked.unit
                if not checked.has_interval:
                    ci = None  # a single observation has no interval
            measured = f"{_cell(value)} {unit}"
            if ci and ci[0] is not None and ci[1] is not None:
                measured += f" [{_cell(ci[0])}, {_cell(ci[1])}]"
            rows.append(
                [
                    TestIdentity.from_nodeid(data["nodeid"]).name,
                    data["device"],
                    data["precision"],
                    metric,
                    measured,
                    _cell(limit),
                    verdict,
                    data.get("baseline_verdict", "-"),
                    _ratio_cell(data),
                ]
            )
    return rows


def _ratio_cell(data: ResultRecord) -> str:
    ratio = data.get("ratio")
    if ratio is None:
        return "-"
    ci = data.get("ratio_ci")
    text = f"{ratio:.3f}"
    if ci and ci[0] is not None and ci[1] is not None:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def baseline_notes(records: Iterable[ResultRecord]) -> list[str]:
    """Why results were not compared with a baseline (other machine profile, bad file)."""
    notes = []
    plain_missing = 0
    for data in records:
        verdict = data.get("baseline_verdict")
        message = data.get("baseline_message") or ""
        if verdict == GateVerdict.NO_BASELINE.value and not data.get("baseline_other_profiles"):
            plain_missing += 1  # nothing recorded at all: one line for all of them
        elif verdict in (GateVerdict.NO_BASELINE.value, GateVerdict.ERROR.value) and message:
            name = TestIdentity.from_nodeid(data["nodeid"]).name
            notes.append(f"{name} ({data['kind']}): {message}")
    if plain_missing:
        notes.append(
            f"{plain_missing} result(s) have no baseline for this machine; record them with "
            "--ovperf-update-baselines"
        )
    return notes


def remeasure_lines(records: Iterable[ResultRecord]) -> list[str]:
    """One line on the tests re-measured after a statistical failure (``confirm.py``)."""
    outcomes = [r["remeasure"]["confirmed"] for r in records if "remeasure" in r]
    if not outcomes:
        return []
    confirmed = sum(1 for o in outcomes if o)
    return [
        f"re-measured {len(outcomes)} result(s) that failed on statistics alone: "
        f"{confirmed} confirmed (failed), {len(outcomes) - confirmed} not confirmed "
        "(passed with a warning)"
    ]


def suite_shift_line(shift: SuiteShift) -> str:
    """One line for a suite whose tests moved together (``verdicts.suite``)."""
    direction = "slower" if shift.slower else "faster"
    cause = (
        "the runtime changed ("
        + ", ".join(
            f"{k}: {old} -> {new}" for k, (old, new) in sorted(shift.common_changes.items())
        )
        + ")"
        if shift.common_changes
        else "the machine changed (another host, CPU placement or state), not each model"
    )
    return (
        f"suite: {shift.moved} of {shift.compared} tests compared with stored runs are "
        f"{direction} (median {shift.median_slowdown:.3f}x the baselines' cost; sign test "
        f"p = {shift.p_value:.2g}): {cause}. Judge their regressions with that in mind; "
        "A/B comparisons (--ovperf-compare) cancel such changes"
    )


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


def markdown_report(records: Sequence[ResultRecord], environment: Mapping[str, Any]) -> str:
    """A compact markdown table for CI job summaries (``--ovperf-markdown``,
    ``$GITHUB_STEP_SUMMARY``): the terminal summary's rows, the runtime precision, and the
    machine and runtime they were measured on."""
    header = [*SUMMARY_HEADER, "runtime precision"]
    lines = [
        "### pytest-ovperf",
        "",
        f"{environment.get('cpu', '?')}, OpenVINO {environment.get('openvino', '?')}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for data in records:
        precision_cell = shares_text(data.get("runtime_precisions") or {})
        for row in summary_rows([data]):
            cells = [c.replace("|", "\\|") for c in [*row, precision_cell]]
            lines.append("| " + " | ".join(cells) + " |")
    shift = suite_shift(records)
    if shift is not None:
        lines += ["", suite_shift_line(shift)]
    return "\n".join(lines) + "\n"
