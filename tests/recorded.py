"""A latency result compared with stored runs by hand (the gate's history path, with the
runs the HTML report's trend draws), for the tests of records and reports."""

from __future__ import annotations

import math
from pathlib import Path

from conftest import example_result

from pytest_ovperf.results import (
    BaselineComparison,
    LatencyResult,
    StoredBaseline,
    recorded_points,
)
from pytest_ovperf.store.schema import RunSummary, StoredRun
from pytest_ovperf.verdicts.comparison import GateSettings, compare, summarise_run
from pytest_ovperf.verdicts.kinds import GateMethod

#: the stored p50s (ms): three runs of one software, then two of another
STORED = (1.0, 1.02, 0.99, 1.1, 1.08)


def stored_runs(values: tuple[float, ...] = STORED) -> list[StoredRun]:
    return [
        StoredRun(
            RunSummary(value, math.log(value), 0.01, 8, "sw-a" if i < 3 else "sw-b"),
            recorded_at=f"2026-11-0{i + 1}T10:00:00+00:00",
            git_commit=f"c{i}",
        )
        for i, value in enumerate(values)
    ]


def history_result(blocks: tuple[float, ...] = (1.2, 1.21, 1.19, 1.2)) -> LatencyResult:
    """A latency result judged against ``stored_runs()``: the latest software's two runs
    are the baseline, as the gate's history path picks them."""
    result = example_result(list(blocks))
    runs = stored_runs()
    current = summarise_run(result.gate_value, result.blocks, "sw-b")
    outcome = compare(current, [r.summary for r in runs], GateSettings(), False)
    result.baseline = BaselineComparison(
        outcome.verdict,
        method=GateMethod.HISTORY,
        outcome=outcome,
        baseline_value=math.exp(sum(math.log(v) for v in STORED[3:]) / 2),
        stored=StoredBaseline(Path("baselines/test_x.json"), "p50", None, "c4", 5, "x", "h"),
        recorded=recorded_points(runs, runs[3:]),
    )
    return result
