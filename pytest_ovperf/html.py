"""The HTML report: one self-contained file (no CDN, no network) from JSON result records.

A summary table on top (the terminal summary's rows), then per result a card: the verdicts
and messages, the runtime precision and top layers, and a plot drawn in the browser from
the data embedded in the page: for latency the ECDF of the measured latencies (from the
report's 101 quantiles) with the budget and the baseline as vertical lines; for throughput
the fps with its interval against the budget and the baseline. The page marks its body
``data-rendered="yes"`` once every plot is drawn, which the browser test checks.
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
svg.ovperf-plot { background: #fff; border: 1px solid #eee; }
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
  });
  document.body.setAttribute("data-rendered", "yes");
})();
"""


def _plot_data(record: ResultRecord) -> dict[str, Any]:
    """What the page's script needs to draw one result."""
    kind = kind_of_record(record)
    budgets = [c["limit"] for c in record["checks"] if c["metric"] == kind.metric]
    low, high = record["ci"]
    return {
        "kind": kind.name,
        "unit": kind.unit,
        "value": headline_value(record),
        "low": low,
        "high": high,
        "quantiles": record.get("latency_quantiles_ms") or [],
        "budget": budgets[0] if budgets else None,
        "baseline": record.get("baseline_value"),
    }


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
        + (f"<p>top layers:</p><ul>{layers}</ul>" if layers else "")
        + (f"<pre>{html.escape(message)}</pre>" if message else "")
        + "</div>"
    )


def html_report(records: Sequence[ResultRecord], environment: Mapping[str, Any]) -> str:
    """The report as one HTML document."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in summary_rows(records)
    )
    header = "".join(f"<th>{html.escape(h)}</th>" for h in SUMMARY_HEADER)
    # JSON.parse takes no NaN or Infinity: a missing bound is null
    plots = [
        {k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in d.items()}
        for d in (_plot_data(r) for r in records)
    ]
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
