"""The JSON result record, defined once: one result as the JSON report holds it and as it
travels from xdist workers (``ResultRecord``), the report around the records (``JsonReport``),
the one reader of a report file (``read_report``), and JUnit properties.

Every writer (``result_record``, the sweep's ``sweep.to_records``) and every reader (the
terminal summary, markdown, HTML, JUnit, the suite check, the ``ovperf`` command, the xdist
controller, the bench scripts) goes through these types, so mypy checks the field names.
A kind another plugin adds (``kinds.register_kind``) writes its headline figure under a
field of its own (``MeasurementKind.headline_field``), which no type can list: it is read
with ``headline_value`` and written in ``result_record`` only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

import numpy as np

from .kinds import KINDS, UnknownKindError, kind_of, kind_of_record
from .messages import ATTRIBUTION_TOP, comparison_text, shares_text
from .results import (
    GenerationResult,
    LatencyResult,
    LoadResult,
    MemoryResult,
    ObservedResult,
    PerfResult,
    RecordedPoint,
    ThroughputResult,
)
from .verdicts.stats import Interval

#: version of the JSON report's layout. It changes only when a reader of the old layout
#: would misread the new one (a field removed, renamed or given another meaning or type);
#: fields added, optional to readers, keep it. A reader refuses a report of another version
#: (``read_report``), naming the file. Version 1 is the only one there has been: its records
#: always held ``REQUIRED_FIELDS``, and gained optional fields over time.
SCHEMA_VERSION = 1


class CheckRecord(TypedDict):
    """One checked statistic against one limit of a budget (``results.Check``)."""

    #: ``verdicts.kinds.Metric`` value ("latency_ms", "throughput_fps", ...)
    metric: str
    statistic: str
    value: float | None
    #: the interval the check was judged on (calibrated: run-to-run drift added)
    ci: list[float | None]
    limit: float
    #: ``verdicts.kinds.Verdict`` value
    verdict: str
    n: int
    ci_method: NotRequired[str]
    #: the run's own interval, before drift was added (``None``: the same as ``ci``)
    run_ci: NotRequired[list[float | None] | None]
    #: why this check could not fail (``verdicts.kinds.GuardReason`` value)
    guard: NotRequired[str | None]


class LayerRecord(TypedDict):
    """One of the layer types that took the most time (``--ovperf-profile``)."""

    type: str
    time_us: float
    kernels: list[str]


class AttributionRecord(TypedDict):
    """A layer type's time in the baseline's (or reference) model and in the current one."""

    type: str
    baseline_us: float
    current_us: float


class RemeasureRecord(TypedDict):
    """The re-measure of a statistical failure (``confirm.py``)."""

    #: the first measurement's failure message
    first_failure: str
    #: whether this run confirmed it (``None``: not decided)
    confirmed: bool | None


class CompanionRecord(TypedDict):
    """The one-thread compute companion measured beside the result (``partners/``)."""

    p50_ms: float | None
    blocks: int
    threads: int


class RecordedRunRecord(TypedDict):
    """One stored run of the baseline the gate compared with (``results.RecordedPoint``):
    what the HTML report's trend draws."""

    #: the run's headline figure (p50 ms, fps, MiB, a plugin kind's)
    value: float | None
    #: its 95% interval from the run's own spread ([low, high]; null: none known)
    ci: list[float | None]
    #: when it was recorded (ISO 8601, as the baseline file says), if known
    recorded_at: str | None
    #: id of its software facts (OpenVINO, model hash, config): equal ids, equal software
    software: str
    git_commit: NotRequired[str | None]
    #: the gate's baseline figure came from this run (else: history only, for drift)
    in_baseline: NotRequired[bool]


class ResultRecord(TypedDict):
    """One result in a JSON report. The fields without ``NotRequired`` are in every record
    since version 1 (``REQUIRED_FIELDS``, which ``read_report`` checks); the others depend
    on the kind, the options and the gate, or were added later (older reports lack them):
    read those with ``.get``. A plugin kind's headline field is read with
    ``headline_value``."""

    nodeid: str
    device: str
    #: the precision the device ran (``requested_precision``: asked for)
    precision: str
    kind: str
    #: the budgeted statistic ("p50", "fps", ...) that ``ci`` is the interval of
    statistic: str
    ci: list[float | None]
    #: ``verdicts.kinds.Verdict`` value of the budget ("pass", "fail", "inconclusive", "none")
    budget_verdict: str
    checks: list[CheckRecord]
    requested_precision: NotRequired[str]
    n: NotRequired[int]
    compile_ms: NotRequired[float | None]
    first_inference_ms: NotRequired[float | None]
    measure_s: NotRequired[float | None]
    confidence: NotRequired[float]
    ci_method: NotRequired[str]
    #: the machine-speed probe's median latency in this run
    probe_ms: NotRequired[float | None]
    #: fraction of the CPU other processes used while measuring
    foreign_load: NotRequired[float | None]
    #: epoch seconds, this machine's clock
    measured_from: NotRequired[float | None]
    measured_until: NotRequired[float | None]
    device_wait_s: NotRequired[float | None]
    # -- latency
    p50_ms: NotRequired[float | None]
    p90_ms: NotRequired[float | None]
    p99_ms: NotRequired[float | None]
    mean_ms: NotRequired[float | None]
    min_ms: NotRequired[float | None]
    percentile: NotRequired[float]
    #: p0, p1, ..., p100 of the latencies (``LATENCY_QUANTILES``)
    latency_quantiles_ms: NotRequired[list[float]]
    # -- throughput
    fps: NotRequired[float | None]
    infer_requests: NotRequired[int]
    #: the device's OPTIMAL_NUMBER_OF_INFER_REQUESTS (null: not known)
    optimal_infer_requests: NotRequired[int | None]
    #: automatic batching's AUTO_BATCH_TIMEOUT (null: the compiled model does not batch, or
    #: does not say: a meta device's possible timeout only words a warning, it is no fact)
    auto_batch_timeout_ms: NotRequired[float | None]
    blocks: NotRequired[int]
    # -- load
    load_ms: NotRequired[float | None]
    load_hint: NotRequired[str]
    # -- memory
    memory_mb: NotRequired[float | None]
    compile_peak_mb: NotRequired[float | None]
    anon_mb: NotRequired[float | None]
    file_mb: NotRequired[float | None]
    device_mb: NotRequired[float | None]
    memory_spread_mb: NotRequired[float | None]
    memory_mode: NotRequired[str]
    # -- generation (both kinds, ``ttft`` and ``tpot``, carry the measurement's figures)
    ttft_ms: NotRequired[float | None]
    ttft_ci: NotRequired[list[float | None] | None]
    tpot_ms: NotRequired[float | None]
    tpot_ci: NotRequired[list[float | None] | None]
    tokens_per_s: NotRequired[float | None]
    tokens_per_s_ci: NotRequired[list[float | None] | None]
    prompt_tokens: NotRequired[int]
    new_tokens: NotRequired[int]
    attention_backend: NotRequired[str]
    # -- a plugin kind (``PLUGIN_KIND_FIELDS``): its headline is under ``headline_field``
    unit: NotRequired[str]
    higher_is_better: NotRequired[bool]
    headline_field: NotRequired[str]
    # -- performance counters (``--ovperf-profile``)
    runtime_precisions: NotRequired[dict[str, float]]
    top_layers: NotRequired[list[LayerRecord]]
    attribution: NotRequired[list[AttributionRecord]]
    remeasure: NotRequired[RemeasureRecord]
    # -- the regression gate (where it ran)
    baseline_verdict: NotRequired[str]
    baseline_method: NotRequired[str | None]
    baseline_value: NotRequired[float | None]
    ratio: NotRequired[float | None]
    ratio_ci: NotRequired[list[float | None] | None]
    baseline_p_value: NotRequired[float | None]
    regression_threshold: NotRequired[float | None]
    baseline_message: NotRequired[str]
    baseline_other_profiles: NotRequired[list[str]]
    #: software fact -> [baseline value, current value]
    what_changed: NotRequired[dict[str, list[Any]]]
    decided_by: NotRequired[str | None]
    #: another runtime's worker beside (``reference_runtime=``): the CPU the idle side used
    #: while the other measured, as a fraction of the measuring side's
    idle_side_cpu: NotRequired[float | None]
    #: history: stored runs recorded under foreign load over the limit, left out of the
    #: baseline (runs recorded without it exist); absent where none was
    busy_runs_left_out: NotRequired[int]
    #: an interleaved comparison left inconclusive by its pairs' noise: how long (s) it
    #: would have to measure at that noise to settle (``None``: no time would), and the
    #: ``--ovperf-max-time`` its message proposes (``None``: none within the limit)
    settle_s: NotRequired[float | None]
    proposed_max_time_s: NotRequired[int | None]
    #: the stored runs of the baseline, oldest first (history comparisons)
    recorded_runs: NotRequired[list[RecordedRunRecord]]
    companion_verdict: NotRequired[str]
    companion_ratio: NotRequired[float | None]
    companion_ratio_ci: NotRequired[list[float | None]]
    companion: NotRequired[CompanionRecord | None]
    # -- a merged report's records (``ovperf merge``): where each came from
    environment: NotRequired[dict[str, Any]]
    source: NotRequired[str]


#: the fields every record has had since version 1 (``ResultRecord``'s required keys)
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "nodeid": str,
    "device": str,
    "precision": str,
    "kind": str,
    "statistic": str,
    "ci": list,
    "budget_verdict": str,
    "checks": list,
}
#: the fields every check of a record has had since version 1 (``CheckRecord``'s)
REQUIRED_CHECK_FIELDS = ("metric", "statistic", "value", "ci", "limit", "verdict", "n")


class JsonReport(TypedDict):
    """A JSON report (``--ovperf-json``, ``ovperf merge``)."""

    schema_version: int
    #: the machine and software facts of the run (a merged report: ``merged_from``)
    environment: dict[str, Any]
    results: list[ResultRecord]


class ReportError(ValueError):
    """A file that is not a JSON report this version reads; the message names it."""


def _num(value: float | None) -> float | None:
    """JSON has no NaN/inf: write ``null`` instead."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


#: the percentiles of every latency distribution a JSON report keeps (0, 1, ..., 100)
LATENCY_QUANTILES = list(range(101))


def _pair(low: float | None, high: float | None) -> list[float | None]:
    return [_num(low), _num(high)]


def _interval_pair(interval: Interval | None) -> list[float | None] | None:
    return _pair(interval.low, interval.high) if interval is not None else None


def result_record(result: PerfResult) -> ResultRecord:
    """One result as the JSON report holds it (and as it travels from xdist workers)."""
    data: ResultRecord = {
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
        "ci": _pair(result.interval.low, result.interval.high),
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
                "ci": _pair(c.interval.low, c.interval.high),
                "ci_method": c.interval.method,
                "run_ci": (
                    _pair(c.run_interval.low, c.run_interval.high)
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
            {
                "p50_ms": _num(result.p50_ms),
                "p90_ms": _num(result.p90_ms),
                "p99_ms": _num(result.p99_ms),
                "mean_ms": _num(result.mean_ms),
                "min_ms": _num(result.min_ms),
                "percentile": result.percentile,
                # the distribution, compactly (the HTML report draws its ECDF from these)
                "latency_quantiles_ms": [
                    round(float(q), 6)
                    for q in np.percentile(result.latencies_ms, LATENCY_QUANTILES)
                ]
                if result.n
                else [],
            }
        )
    elif isinstance(result, ThroughputResult):
        data.update(
            {
                "fps": _num(result.fps),
                "infer_requests": result.requests,
                "optimal_infer_requests": result.optimal_requests,
                "auto_batch_timeout_ms": result.auto_batch_timeout_ms,
                "blocks": len(result.blocks),
            }
        )
    elif isinstance(result, LoadResult):
        data.update({"load_ms": _num(result.load_ms), "load_hint": result.hint})
    elif isinstance(result, ObservedResult):
        kind = kind_of(result.kind)
        # the record describes its kind (``PLUGIN_KIND_FIELDS``), so that a reader without
        # the plugin reads it; the headline's field is the kind's own (``headline_value``)
        data.update(
            {
                "unit": kind.unit,
                "higher_is_better": kind.higher_is_better,
                "headline_field": kind.headline_field,
            }
        )
        cast(dict[str, object], data)[kind.headline_field] = _num(result.gate_value)
    elif isinstance(result, GenerationResult):
        rate = result.tokens_per_s
        data.update(
            {
                "ttft_ms": _num(result.ttft_ms),
                "ttft_ci": _interval_pair(result.ttft),
                "tpot_ms": _num(result.tpot_ms),
                "tpot_ci": _interval_pair(result.tpot),
                "tokens_per_s": _num(rate.estimate) if rate is not None else None,
                "tokens_per_s_ci": _interval_pair(rate),
                "prompt_tokens": result.prompt_tokens,
                "new_tokens": result.new_tokens,
                "attention_backend": result.backend,
            }
        )
    elif isinstance(result, MemoryResult):
        data.update(
            {
                "memory_mb": _num(result.memory_mb),
                "compile_peak_mb": _num(result.compile_peak_mb),
                "anon_mb": _num(result.anon_mb),
                "file_mb": _num(result.file_mb),
                "device_mb": _num(result.device_mb),
                "memory_spread_mb": _num(result.spread_mb),
                "memory_mode": result.mode,
            }
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
            {
                "baseline_verdict": b.verdict.value,
                "baseline_method": b.method.value if b.method is not None else None,
                "baseline_value": _num(b.baseline_value),
                "ratio": _num(b.ratio),
                "ratio_ci": [_num(x) for x in b.ratio_ci] if b.ratio_ci else None,
                "baseline_p_value": _num(b.p_value),
                "regression_threshold": b.threshold,
                "baseline_message": comparison_text(result, b),
                "baseline_other_profiles": [o.profile for o in b.other_profiles],
                "what_changed": {k: list(v) for k, v in b.what_changed.items()},
                "decided_by": b.decided_by.value if b.decided_by is not None else None,
            }
        )
        if b.idle_side_cpu is not None:
            data["idle_side_cpu"] = _num(b.idle_side_cpu)
        if b.busy_runs_left_out:
            data["busy_runs_left_out"] = b.busy_runs_left_out
        projection = b.settle_projection(result.measure_s)
        if projection is not None:
            data["settle_s"] = _num(projection.settle_s)
            data["proposed_max_time_s"] = projection.max_time_s
        if b.recorded:
            data["recorded_runs"] = [_recorded_run(point) for point in b.recorded]
        if b.companion is not None:
            ratio, (low, high) = b.companion.ratio(False)
            data.update(
                {
                    "companion_verdict": b.companion.verdict.value,
                    "companion_ratio": _num(ratio),
                    "companion_ratio_ci": _pair(low, high),
                }
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


def _recorded_run(point: RecordedPoint) -> RecordedRunRecord:
    return {
        "value": _num(point.value),
        "ci": _pair(point.low, point.high),
        "recorded_at": point.recorded_at,
        "software": point.software,
        "git_commit": point.git_commit,
        "in_baseline": point.in_baseline,
    }


def json_report(records: Sequence[ResultRecord], environment: Mapping[str, Any]) -> JsonReport:
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": dict(environment),
        "results": list(records),
    }


# -- reading -------------------------------------------------------------------------------


def read_report(path: Path) -> JsonReport:
    """The JSON report in ``path`` (``--ovperf-json``, ``ovperf merge``), its version and
    minimum shape checked: ``REQUIRED_FIELDS`` in every record, ``REQUIRED_CHECK_FIELDS``
    in every check, a kind this process knows or the record describes. Anything else is a
    ``ReportError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ReportError(f"{path}: not a pytest-ovperf JSON report (no 'results' list)")
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise ReportError(
            f"{path}: report schema_version {version} is newer than this pytest-ovperf reads "
            f"({SCHEMA_VERSION}); read it with the pytest-ovperf that wrote it, or a newer one"
        )
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        # no other version has ever been written (``SCHEMA_VERSION``)
        raise ReportError(
            f"{path}: report schema_version {version!r} is not one pytest-ovperf has written "
            f"(this one reads {SCHEMA_VERSION})"
        )
    environment = data.setdefault("environment", {})
    if not isinstance(environment, dict):
        raise ReportError(f"{path}: the report's 'environment' is not an object")
    for index, result in enumerate(data["results"]):
        problem = _record_problem(result)
        if problem:
            raise ReportError(f"{path}: result {index} {problem}")
    return cast(JsonReport, data)


def _record_problem(result: object) -> str:
    """What is wrong with one record of a report, or ''."""
    if not isinstance(result, dict):
        return "is not an object"
    missing = [name for name in REQUIRED_FIELDS if name not in result]
    if missing:
        return "has no " + ", ".join(repr(name) for name in missing)
    for name, wanted in REQUIRED_FIELDS.items():
        if not isinstance(result[name], wanted):
            return f"({result.get('nodeid')}) has an invalid {name!r}: {result[name]!r}"
    if len(result["ci"]) != 2 or not all(_is_number_or_null(x) for x in result["ci"]):
        return f"({result['nodeid']}) has an invalid 'ci': {result['ci']!r} (wants [low, high])"
    for number, check in enumerate(result["checks"]):
        lacks = [k for k in REQUIRED_CHECK_FIELDS if not isinstance(check, dict) or k not in check]
        if lacks:
            return f"({result['nodeid']}) check {number} has no " + ", ".join(map(repr, lacks))
    try:
        kind_of_record(cast(ResultRecord, result))
    except UnknownKindError:
        return (
            f"({result['nodeid']}) is of kind {result['kind']!r}, which this pytest-ovperf "
            f"does not know (it knows {', '.join(KINDS)}) and the record does not describe"
        )
    return ""


def _is_number_or_null(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def records_of(report: JsonReport) -> list[ResultRecord]:
    """The result records of a report (``read_report``)."""
    return report["results"]


def field_value(record: ResultRecord, name: str) -> object:
    """A record's field named at run time (a plugin kind's headline field, ``JUNIT_FIELDS``):
    the one place a record is read as a plain mapping."""
    return cast(Mapping[str, object], record).get(name)


def headline_value(record: ResultRecord) -> float | None:
    """The headline figure of a record (p50 ms, fps, load ms, MiB, or a plugin kind's own
    field), if it has one."""
    value = field_value(record, kind_of_record(record).headline_field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


#: the figures of a result record given to JUnit XML as ``ovperf_<kind>_<field>`` properties
JUNIT_FIELDS = (
    "statistic",
    "p50_ms",
    "p90_ms",
    "fps",
    "load_ms",
    "memory_mb",
    "compile_peak_mb",
    "ttft_ms",
    "tpot_ms",
    "tokens_per_s",
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


def junit_properties(records: Sequence[ResultRecord]) -> list[tuple[str, str]]:
    """(name, value) pairs for ``--junitxml``: each result's figures and verdicts, named
    ``ovperf_<kind>_<field>`` (CI systems show a test case's properties)."""
    properties = []
    for data in records:
        headline = kind_of_record(data).headline_field  # a plugin kind's is not listed
        for name in dict.fromkeys([*JUNIT_FIELDS, headline]):
            value = field_value(data, name)
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
