"""The scales a stored run is read on: its raw figure, its model/probe ratios (latency, with
the probe), its one-thread compute companion (CPU). Judging and drift both pick one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..store.schema import RunSummary, StoredRun


def raw_summary(run: StoredRun) -> RunSummary | None:
    return run.summary


def normalized_summary(run: StoredRun) -> RunSummary | None:
    return run.normalized


def companion_summary(run: StoredRun) -> RunSummary | None:
    return run.companion


def summaries_on(
    runs: Sequence[StoredRun], scale: Callable[[StoredRun], RunSummary | None]
) -> list[RunSummary]:
    """The runs' summaries on one scale (raw, model/probe ratios, companion), where they
    have one."""
    return [summary for summary in map(scale, runs) if summary is not None]
