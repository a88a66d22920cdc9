"""What a measurement kind is: the facts every part of the plugin looks up instead of
branching on the kind's name (units, direction, the headline figure, how it is measured,
judged and confirmed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..verdicts.kinds import Metric


@dataclass(frozen=True)
class MeasurementKind:
    #: the kind's name in results, records and baseline entries ("latency")
    name: str
    #: unit of the headline figure ("ms", "fps", "MiB")
    unit: str
    #: whether a larger headline figure is better (throughput) or worse (latency, memory)
    higher_is_better: bool
    #: the record field that holds the headline figure ("p50_ms", "fps")
    headline_field: str
    #: the headline statistic's name as summaries print it ("p50", "fps", "median")
    headline: str
    #: the budget metric that bounds the headline figure (``None``: a kind added by another
    #: plugin, gated against its baselines, without a budget argument of its own)
    metric: Metric | None
    #: the ``PERFORMANCE_HINT`` the model is compiled with for it (load and memory: by
    #: default; their measure call takes another)
    hint: str
    #: measured in blocks that a partner (a reference model, the baseline's own model, the
    #: speed probe) can run between; else in repeated single observations
    interleaved: bool
    #: a failed budget of it is measured again before the test fails (``confirm.py``)
    confirmable: bool
    #: judged on intervals widened by run-to-run drift, and against baselines by the
    #: gate's statistics; else its figure is held against budgets and baselines as it is
    #: (memory: a figure that repeats to the MiB, gated by thresholds)
    statistical: bool
    #: what one observation of it is, for messages ("block", "compile", "process")
    unit_of_evidence: str = "observation"
    #: budget metrics on a monotone function of the headline figure (tokens/s = 1000 /
    #: TPOT), judged, calibrated and confirmed as the headline's own ``metric`` is
    derived_metrics: tuple[Metric, ...] = ()

    @property
    def budget_metrics(self) -> tuple[Metric, ...]:
        """Every budget metric judged on this kind's figure."""
        return ((self.metric,) if self.metric is not None else ()) + self.derived_metrics

    def headline_value(self, record: Mapping[str, Any]) -> float | None:
        """The headline figure of a result record, if it has one."""
        value = record.get(self.headline_field)
        return float(value) if isinstance(value, (int, float)) else None

    def slowdown(self, ratio: float) -> float:
        """A current / baseline ratio of the headline figure as a cost ratio (> 1: worse)."""
        return 1.0 / ratio if self.higher_is_better else ratio
