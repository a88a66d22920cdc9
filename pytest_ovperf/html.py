"""The HTML report: one self-contained file (no CDN, no network) from JSON result records.

A summary table on top (the terminal summary's rows), then per result a card: the verdicts
and messages, the runtime precision and top layers, and a plot drawn in the browser from
the data embedded in the page: for latency the ECDF of the measured latencies (from the
report's 101 quantiles) with the budget and the baseline as vertical lines; for throughput
the fps with its interval against the budget and the baseline. Below it, where the gate
compared the result with stored runs (the record's ``recorded_runs``), the trend of the
test's recorded runs: each run's headline figure with its interval, oldest first, then this
run, marked apart; filled points are the runs the baseline figure came from, a grey line
where the software changed. The page marks its body ``data-rendered="yes"`` once every plot
is drawn, which the browser test checks.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .kinds import kind_of_record
from .messages import shares_text
from .records import ResultRecord, headline_value
from .report import SUMMARY_HEADER, summary_rows

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f3f3f3; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
.card h3 { margin: 0 0 0.4em 0; font-size: 1em; }
.verdict-fail, .verdict-regression, .verdict-error { color: #b00020; font-weight: bold; }
.verdict-pass, .verdict-unchanged, .verdict-improvement { color: #1b5e20; font-weight: bold; }
.verdict-inconclusive { color: #8a6d00; font-weight: bold; }
.verdict-nothing-changed, .verdict-by-budget { color: #555; }
pre { white-space: pre-wrap; font-size: 0.8em; background: #fafafa; padding: 0.5em; }
svg.ovperf-plot, svg.ovperf-trend { background: #fff; border: 1px solid #eee; }
.ovperf-no-trend { color: #555; font-size: 0.9em; }
"""

#: draws every plot from the embedded data (plain DOM + SVG, no library)
_SCRIPT = """
(function () {
  const data = JSON.parse(document.getElementById("ovperf-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const W = 520, H = 200, L = 56, R = 16, T = 12, B = 32;
  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, s, anchor) {
    const t = el("text", {x: x, y: y, "font-size": 11, "text-anchor": anchor || "start"}, parent);
    t.textContent = s;
    return t;
  }
  function axis(svg, lo, hi, unit) {
    const sx = v => L + (v - lo) / (hi - lo || 1) * (W - L - R);
    el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888"}, svg);
    for (let i = 0; i <= 4; i++) {
      const v = lo + (hi - lo) * i / 4;
      text(svg, sx(v), H - B + 14, v.toPrecision(3), "middle");
    }
    text(svg, W - R, H - 4, unit, "end");
    return sx;
  }
  // each marker's label on its own row, and on the side of its line with room for it, so
  // that labels never cover each other or run off the plot
  function vline(svg, sx, v, colour, label, row) {
    if (v === null || v === undefined || !isFinite(v)) return;
    el("line", {x1: sx(v), y1: T, x2: sx(v), y2: H - B, stroke: colour,
                "stroke-dasharray": "4 3", "class": "ovperf-" + label}, svg);
    const right = sx(v) > W - R - 60;
    text(svg, right ? sx(v) - 3 : sx(v) + 3, T + 10 + 12 * row, label, right ? "end" : "start")
      .setAttribute("fill", colour);
  }
  data.forEach(function (r, index) {
    const svg = document.getElementById("plot-" + index);
    const marks = [r.budget, r.baseline].filter(v => v !== null && isFinite(v));
    let sx;
    if (r.kind === "latency" && r.quantiles.length) {
      // p0 to p99: the slowest inference alone would squeeze the rest into a line
      const q = r.quantiles.slice(0, r.quantiles.length - 1);
      const lo = Math.min(q[0], ...marks), hi = Math.max(q[q.length - 1], ...marks);
      sx = axis(svg, lo - (hi - lo) * 0.02, hi + (hi - lo) * 0.02, "ms");
      const sy = p => H - B - p * (H - B - T);
      const points = q.map((v, i) => sx(v) + "," + sy(i / (r.quantiles.length - 1))).join(" ");
      el("polyline", {points: points, fill: "none", stroke: "#1565c0", "stroke-width": 2,
                      "class": "ovperf-ecdf"}, svg);
      // bottom right: the ECDF is near the top there, the marker labels are at the top
      text(svg, W - R, H - B - 6, "ECDF (p0-p99)", "end");
    } else {
      const values = [r.value, r.low, r.high].concat(marks).filter(v => v !== null && isFinite(v));
      const lo = Math.min(...values) * 0.9, hi = Math.max(...values) * 1.1;
      sx = axis(svg, lo, hi, r.unit);
      const y = (H - B + T) / 2;
      el("rect", {x: sx(lo), y: y - 14, width: Math.max(sx(r.value) - sx(lo), 0), height: 28,
                  fill: "#90caf9", "class": "ovperf-bar"}, svg);
      if (r.low !== null && r.high !== null) {
        el("line", {x1: sx(r.low), y1: y, x2: sx(r.high), y2: y, stroke: "#0d47a1",
                    "stroke-width": 2, "class": "ovperf-ci"}, svg);
      }
    }
    vline(svg, sx, r.budget, "#b00020", "budget", 0);
    vline(svg, sx, r.baseline, "#2e7d32", "baseline", 1);
    if (r.runs.length) trend(document.getElementById("trend-" + index), r);
  });
  function finite(v) { return v !== null && v !== undefined && isFinite(v); }
  function title(node, s) { el("title", {}, node).textContent = s; }
  // the stored runs oldest first, then this run, one slot each; y: the headline figure.
  // Labels sit on rows of their own: the legend on top, the dates under the axis at its two
  // ends, the value ticks left of the plot
  function trend(svg, r) {
    const TT = 26, points = r.runs.concat([r.current]);
    const values = [];
    points.forEach(p => [p.value, p.low, p.high].forEach(v => { if (finite(v)) values.push(v); }));
    if (finite(r.baseline)) values.push(r.baseline);
    if (!values.length) return;
    let lo = Math.min(...values), hi = Math.max(...values);
    const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1;
    lo -= pad; hi += pad;
    const sy = v => H - B - (v - lo) / (hi - lo) * (H - B - TT);
    const slot = (W - L - R) / points.length;
    const sx = i => L + slot * (i + 0.5);
    el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888"}, svg);
    el("line", {x1: L, y1: TT, x2: L, y2: H - B, stroke: "#888"}, svg);
    for (let i = 0; i <= 3; i++) {
      const v = lo + (hi - lo) * i / 3;
      text(svg, L - 4, sy(v) + 4, v.toPrecision(3), "end");
    }
    text(svg, 4, 11, r.unit, "start");
    // legend, on the top row
    el("circle", {cx: L + 6, cy: 7, r: 4, fill: "#1565c0"}, svg);
    text(svg, L + 14, 11, "stored run (filled: in the baseline)");
    el("rect", {x: L + 236, y: 2, width: 9, height: 9, fill: "#e65100",
                transform: "rotate(45 " + (L + 240.5) + " 6.5)"}, svg);
    text(svg, L + 252, 11, "this run");
    if (finite(r.baseline)) {
      el("line", {x1: L + 316, y1: 7, x2: L + 336, y2: 7, stroke: "#2e7d32",
                  "stroke-dasharray": "4 3"}, svg);
      text(svg, L + 340, 11, "baseline");
      el("line", {x1: L, y1: sy(r.baseline), x2: W - R, y2: sy(r.baseline), stroke: "#2e7d32",
                  "stroke-dasharray": "4 3", "class": "ovperf-trend-baseline"}, svg);
    }
    r.runs.forEach(function (p, i) {
      if (i > 0 && p.software !== r.runs[i - 1].software) {
        const x = L + slot * i;
        title(el("line", {x1: x, y1: TT, x2: x, y2: H - B, stroke: "#bbb",
                          "class": "ovperf-trend-software"}, svg), "software changed");
      }
    });
    el("line", {x1: L + slot * r.runs.length, y1: TT, x2: L + slot * r.runs.length, y2: H - B,
                stroke: "#eee"}, svg);
    points.forEach(function (p, i) {
      const current = i === r.runs.length;
      const colour = current ? "#e65100" : "#1565c0";
      if (finite(p.low) && finite(p.high)) {
        el("line", {x1: sx(i), y1: sy(p.low), x2: sx(i), y2: sy(p.high), stroke: colour,
                    "stroke-width": 1.5, "class": "ovperf-trend-ci"}, svg);
      }
      if (!finite(p.value)) return;
      const interval = finite(p.low) && finite(p.high)
        ? " [" + p.low.toPrecision(4) + ", " + p.high.toPrecision(4) + "]" : "";
      const figure = p.value.toPrecision(4) + " " + r.unit + interval;
      if (current) {
        const x = sx(i), y = sy(p.value);
        title(el("rect", {x: x - 5, y: y - 5, width: 10, height: 10, fill: colour,
                          transform: "rotate(45 " + x + " " + y + ")",
                          "class": "ovperf-trend-current"}, svg), "this run: " + figure);
      } else {
        title(el("circle", {cx: sx(i), cy: sy(p.value), r: 4, stroke: colour,
                            "stroke-width": 1.5, fill: p.in_baseline ? colour : "#fff",
                            "class": "ovperf-trend-run"}, svg),
              (p.recorded_at || "recorded at ?") + ": " + figure + "; software " + p.software
              + (p.git_commit ? "; commit " + p.git_commit : ""));
      }
    });
    // dates under the axis: the oldest run's at the left end, this run at the right end
    text(svg, L, H - B + 14, "recorded " + (r.runs[0].recorded_at || "?").slice(0, 10), "start");
    text(svg, W - R, H - B + 14, "this run", "end");
    text(svg, W - R, H - 4, r.runs.length + " stored run(s)", "end");
  }
  document.body.setAttribute("data-rendered", "yes");
})();
"""


def _plot_data(record: ResultRecord) -> dict[str, Any]:
    """What the page's script needs to draw one result."""
    kind = kind_of_record(record)
    budgets = [c["limit"] for c in record["checks"] if c["metric"] == kind.metric]
    low, high = record["ci"]
    value = headline_value(record)
    # this run's point of the trend: its headline figure, with the interval where the
    # record's interval is of that figure
    headline_ci = record["statistic"] == kind.headline
    return {
        "kind": kind.name,
        "unit": kind.unit,
        "value": value,
        "low": low,
        "high": high,
        "quantiles": record.get("latency_quantiles_ms") or [],
        "budget": budgets[0] if budgets else None,
        "baseline": record.get("baseline_value"),
        "runs": [
            {
                "value": run["value"],
                "low": run["ci"][0],
                "high": run["ci"][1],
                "recorded_at": run["recorded_at"],
                "software": run["software"],
                "git_commit": run.get("git_commit"),
                "in_baseline": run.get("in_baseline", False),
            }
            for run in record.get("recorded_runs") or []
        ],
        "current": {
            "value": value,
            "low": low if headline_ci else None,
            "high": high if headline_ci else None,
        },
    }


def _finite(value: Any) -> Any:
    """JSON.parse takes no NaN or Infinity: a missing figure is null (nested too)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _verdict(value: Any) -> str:
    text = html.escape(str(value or "-"))
    return f'<span class="verdict-{text}">{text}</span>'


def _card(index: int, record: ResultRecord) -> str:
    name = html.escape(str(record["nodeid"]))
    precision = html.escape(shares_text(record.get("runtime_precisions") or {}))
    layers = "".join(
        f"<li>{html.escape(str(layer['type']))}: {layer['time_us']:.0f} us "
        f"({html.escape(', '.join(layer.get('kernels', [])))})</li>"
        for layer in record.get("top_layers") or []
    )
    message = record.get("baseline_message") or ""
    return (
        f'<div class="card" id="result-{index}"><h3>{name} &middot; '
        f"{html.escape(str(record['kind']))} on {html.escape(str(record.get('device')))} "
        f"({html.escape(str(record.get('precision')))})</h3>"
        f"<p>budget: {_verdict(record.get('budget_verdict'))} &middot; baseline: "
        f"{_verdict(record.get('baseline_verdict'))} "
        f"({html.escape(str(record.get('baseline_method') or '-'))}) &middot; runtime "
        f"precision: {precision}</p>"
        f'<svg class="ovperf-plot" id="plot-{index}" width="520" height="200" '
        'viewBox="0 0 520 200" role="img"></svg>'
        + _trend(index, record)
        + (f"<p>top layers:</p><ul>{layers}</ul>" if layers else "")
        + (f"<pre>{html.escape(message)}</pre>" if message else "")
        + "</div>"
    )


def _trend(index: int, record: ResultRecord) -> str:
    """The place of the trend of the test's recorded runs, or why there is none."""
    if record.get("recorded_runs"):
        return (
            f'<p>recorded runs:</p><svg class="ovperf-trend" id="trend-{index}" width="520" '
            'height="200" viewBox="0 0 520 200" role="img"></svg>'
        )
    if "baseline_verdict" in record:  # the gate looked at it
        return '<p class="ovperf-no-trend">no recorded runs</p>'
    return ""


def html_report(records: Sequence[ResultRecord], environment: Mapping[str, Any]) -> str:
    """The report as one HTML document."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in summary_rows(records)
    )
    header = "".join(f"<th>{html.escape(h)}</th>" for h in SUMMARY_HEADER)
    plots = [_finite(_plot_data(r)) for r in records]
    data = json.dumps(plots).replace("</", "<\\/")
    machine = html.escape(
        f"{environment.get('cpu', '?')}, OpenVINO {environment.get('openvino', '?')}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>pytest-ovperf report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>pytest-ovperf report</h1><p>{machine}; {len(records)} result(s)</p>"
        f'<table class="summary"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'
        + "".join(_card(i, r) for i, r in enumerate(records))
        + f'<script type="application/json" id="ovperf-data">{data}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
