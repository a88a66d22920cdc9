"""Latency: sync inferences of one request with the LATENCY hint, as benchmark_app's latency
mode; blocks of 0.1 s, each summarised by its median (``measure/blocks.py``)."""

from __future__ import annotations

from ..verdicts.kinds import Metric
from .base import MeasurementKind

LATENCY = MeasurementKind(
    name="latency",
    unit="ms",
    higher_is_better=False,
    headline_field="p50_ms",
    headline="p50",
    metric=Metric.LATENCY,
    hint="LATENCY",
    interleaved=True,
    confirmable=True,
    statistical=True,
    unit_of_evidence="block",
)
