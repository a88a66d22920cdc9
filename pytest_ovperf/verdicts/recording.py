"""Recording a result as a stored run of its baseline (``--ovperf-update-baselines``): the
summaries a run is stored (and compared) as, and the write, through
``store.baselines.append_run``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kinds import kind_of
from ..results import BaselineComparison, PerfResult
from ..runtime.profile import profile_to_json
from ..store import baselines
from ..store.schema import BLOCK_LIMIT, ProbeReading, RunSummary, StoredRun
from .comparison import summarise_log_ratios, summarise_run
from .guards import busy_guard
from .kinds import GateVerdict

#: the smallest figure of a thresholds kind a stored run summarises (MiB: far below any
#: memory floor, so it never decides a verdict)
SMALLEST_STORED_FIGURE = 1e-3


@dataclass(frozen=True)
class RecordedSummaries:
    """The summaries of one run that a recording stores."""

    current: RunSummary
    #: model/probe ratios (latency, with the probe)
    normalized: RunSummary | None
    #: the one-thread compute companion (CPU)
    companion: RunSummary | None


def summaries_of(result: PerfResult, key: str) -> RecordedSummaries:
    """The summaries of ``result``, of the software ``key``: what a recording stores and a
    comparison judges."""
    value = result.gate_value
    if not kind_of(result.kind).statistical:
        # a thresholds kind may read zero or less (the memory of a tiny model, within
        # the allocator's noise); its stored summary is on the log scale all the same
        value = max(value, SMALLEST_STORED_FIGURE)
    current = summarise_run(value, result.blocks, key)
    normalized = (
        summarise_log_ratios(result.probe_log_ratios, key) if result.probe_log_ratios else None
    )
    companion = (
        summarise_run(result.companion.p50_ms, result.companion.blocks, key)
        if result.companion is not None
        else None
    )
    return RecordedSummaries(current, normalized, companion)


def record_run(
    path: Path,
    test_name: str,
    profile: str,
    machine: dict[str, Any],
    software: dict[str, Any],
    result: PerfResult,
    summaries: RecordedSummaries,
    probe_id: str,
    max_foreign_load: float,
) -> BaselineComparison:
    """Add ``result`` to its entry's stored runs (the entry's other fields become the
    latest run's); a run recorded while other processes were busy says so
    (``recorded_busy``)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    commit = result.facts.get("git_commit")
    job = str(result.facts.get("job") or "")
    normalized, companion = summaries.normalized, summaries.companion
    run = StoredRun(
        summary=dataclasses.replace(summaries.current, job=job),
        recorded_at=now,
        git_commit=commit,
        foreign_load=result.foreign_load,
        probe=ProbeReading(probe_id, result.probe_value)
        if result.probe_value is not None
        else None,
        normalized=dataclasses.replace(normalized, job=job) if normalized else None,
        companion=dataclasses.replace(companion, job=job) if companion else None,
    )
    fields = {
        "device": result.device,
        "precision": result.precision,
        "statistic": kind_of(result.kind).headline_field,
        "value": result.gate_value,
        "n": result.n,
        "blocks": list(result.blocks)[-BLOCK_LIMIT:],
        "software": software,
        "recorded_at": now,
        "git_commit": commit,
    }
    if result.profile is not None:
        fields["profile"] = profile_to_json(result.profile)
    runs = baselines.append_run(path, test_name, profile, machine, result.kind, fields, run)
    return BaselineComparison(
        GateVerdict.UPDATED,
        higher_is_better=result.higher_is_better,
        baseline_value=result.gate_value,
        path=path,
        history_runs=runs,
        recorded_busy=busy_guard(result.foreign_load, max_foreign_load),
    )
