"""Throughput: a full ``AsyncInferQueue`` with the THROUGHPUT hint; blocks summarised by
their steady completion rate for the headline, and by their rate over the median cycle of the
whole queue for a pair (``measure/loops.py``)."""

from __future__ import annotations

from ..verdicts.kinds import Metric
from .base import MeasurementKind

THROUGHPUT = MeasurementKind(
    name="throughput",
    unit="fps",
    higher_is_better=True,
    headline_field="fps",
    headline="fps",
    metric=Metric.THROUGHPUT,
    hint="THROUGHPUT",
    interleaved=True,
    confirmable=True,
    statistical=True,
    unit_of_evidence="block",
)
