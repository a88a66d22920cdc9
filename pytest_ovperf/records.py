"""The JSON result record: one result as the JSON report holds it and as it travels from
xdist workers, the report around the records, and JUnit properties."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .kinds import PLUGIN_KIND_FIELDS, kind_of, kind_of_record
from .messages import ATTRIBUTION_TOP, comparison_text, shares_text
from .results import (
    LatencyResult,
    LoadResult,
    MemoryResult,
    ObservedResult,
    PerfResult,
    ThroughputResult,
)

#: version of the JSON report's layout
SCHEMA_VERSION = 1


def _num(value: float | None) -> float | None:
    """JSON has no NaN/inf: write ``null`` instead."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


#: the percentiles of every latency distribution a JSON report keeps (0, 1, ..., 100)
LATENCY_QUANTILES = list(range(101))


def result_record(result: PerfResult) -> dict[str, Any]:
    """One result as the JSON report holds it (and as it travels from xdist workers)."""
    data: dict[str, Any] = {
        "nodeid": result.nodeid,
        "device": result.device,
        "precision": result.precision,
        "requested_precision": result.requested_precision,
        "kind": result.kind,
        "n": result.n,
        "compile_ms": _num(result.compile_ms),
        "first_inference_ms": _num(result.first_inference_ms),
        "measure_s": _num(result.measure_s),
        "statistic": result.statistic,
        "ci": [_num(result.interval.low), _num(result.interval.high)],
        "confidence": result.interval.confidence,
        "ci_method": result.interval.method,
        "budget_verdict": result.budget_verdict.value,
        "probe_ms": _num(result.probe_value),
        "foreign_load": _num(result.foreign_load),
        "measured_from": _num(result.measured_from),
        "measured_until": _num(result.measured_until),
        "device_wait_s": _num(result.device_wait_s),
        "checks": [
            {
                "metric": c.metric.value,
                "statistic": c.statistic,
                "value": _num(c.interval.estimate),
                "ci": [_num(c.interval.low), _num(c.interval.high)],
                "ci_method": c.interval.method,
                "run_ci": (
                    [_num(c.run_interval.low), _num(c.run_interval.high)]
                    if c.run_interval is not None
                    else None
                ),
                "limit": c.limit,
                "verdict": c.verdict.value,
                "n": c.sample_size,
                # why this check could not fail (busy machine, slow machine state)
                "guard": c.guard.reason.value if c.guard is not None else None,
            }
            for c in result.checks
        ],
    }
    if isinstance(result, LatencyResult):
        data.update(
            p50_ms=_num(result.p50_ms),
            p90_ms=_num(result.p90_ms),
            p99_ms=_num(result.p99_ms),
            mean_ms=_num(result.mean_ms),
            min_ms=_num(result.min_ms),
            percentile=result.percentile,
            # the distribution, compactly (the HTML report draws its ECDF from these)
            latency_quantiles_ms=[
                round(float(q), 6) for q in np.percentile(result.latencies_ms, LATENCY_QUANTILES)
            ]
            if result.n
            else [],
        )
    elif isinstance(result, ThroughputResult):
        data.update(fps=_num(result.fps), infer_requests=result.requests, blocks=len(result.blocks))
    elif isinstance(result, LoadResult):
        data.update(load_ms=_num(result.load_ms), load_hint=result.hint)
    elif isinstance(result, ObservedResult):
        kind = kind_of(result.kind)
        data[kind.headline_field] = _num(result.gate_value)
        data.update(
            zip(PLUGIN_KIND_FIELDS, (kind.unit, kind.higher_is_better, kind.headline_field))
        )
    elif isinstance(result, MemoryResult):
        data.update(
            memory_mb=_num(result.memory_mb),
            compile_peak_mb=_num(result.compile_peak_mb),
            anon_mb=_num(result.anon_mb),
            file_mb=_num(result.file_mb),
            device_mb=_num(result.device_mb),
            memory_spread_mb=_num(result.spread_mb),
            memory_mode=result.mode,
        )
    if result.profile is not None:
        data["runtime_precisions"] = {
            k: round(v, 4) for k, v in result.profile.precision_shares().items()
        }
        by_type = sorted(result.profile.by_type().items(), key=lambda item: -item[1][0])
        data["top_layers"] = [
            {"type": name, "time_us": round(time_us, 1), "kernels": sorted(kernels)}
            for name, (time_us, kernels, _) in by_type[:ATTRIBUTION_TOP]
        ]
    if result.attribution:
        data["attribution"] = [
            {
                "type": c.layer_type,
                "baseline_us": round(c.baseline_us, 1),
                "current_us": round(c.current_us, 1),
            }
            for c in result.attribution[:ATTRIBUTION_TOP]
        ]
    if result.first_failure:
        data["remeasure"] = {"first_failure": result.first_failure, "confirmed": result.confirmed}
    b = result.baseline
    if b is not None:
        data.update(
            baseline_verdict=b.verdict.value,
            baseline_method=b.method.value if b.method is not None else None,
            baseline_value=_num(b.baseline_value),
            ratio=_num(b.ratio),
            ratio_ci=[_num(x) for x in b.ratio_ci] if b.ratio_ci else None,
            baseline_p_value=_num(b.p_value),
            regression_threshold=b.threshold,
            baseline_message=comparison_text(result, b),
            baseline_other_profiles=[o.profile for o in b.other_profiles],
            what_changed={k: list(v) for k, v in b.what_changed.items()},
            decided_by=b.decided_by.value if b.decided_by is not None else None,
        )
        if b.companion is not None:
            ratio, (low, high) = b.companion.ratio(False)
            data.update(
                companion_verdict=b.companion.verdict.value,
                companion_ratio=_num(ratio),
                companion_ratio_ci=[_num(low), _num(high)],
            )
    companion = result.companion
    data["companion"] = (
        {
            "p50_ms": _num(companion.p50_ms),
            "blocks": len(companion.blocks),
            "threads": companion.threads,
        }
        if companion is not None
        else None
    )
    return data


def json_report(
    records: Sequence[Mapping[str, Any]], environment: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": dict(environment),
        "results": list(records),
    }


#: the figures of a result record given to JUnit XML as ``ovperf_<kind>_<field>`` properties
JUNIT_FIELDS = (
    "statistic",
    "p50_ms",
    "p90_ms",
    "fps",
    "load_ms",
    "memory_mb",
    "compile_peak_mb",
    "n",
    "budget_verdict",
    "baseline_verdict",
    "baseline_method",
    "ratio",
    "precision",
    "runtime_precisions",
    "compile_ms",
    "first_inference_ms",
)


def junit_properties(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(name, value) pairs for ``--junitxml``: each result's figures and verdicts, named
    ``ovperf_<kind>_<field>`` (CI systems show a test case's properties)."""
    properties = []
    for data in records:
        headline = kind_of_record(data).headline_field  # a plugin kind's is not listed
        for name in dict.fromkeys([*JUNIT_FIELDS, headline]):
            value = data.get(name)
            if value is None:
                continue
            if isinstance(value, float):
                text = f"{value:.6g}"
            elif isinstance(value, dict):  # runtime_precisions
                text = shares_text(value)
            else:
                text = str(value)
            properties.append((f"ovperf_{data['kind']}_{name}", text))
    return properties
