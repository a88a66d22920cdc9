"""Load time: reading and compiling the model, the start-up a user waits for, measured as
repeated fresh compiles (``measure/startup.py``); the headline is their geometric mean."""

from __future__ import annotations

from ..verdicts.kinds import Metric
from .base import MeasurementKind

LOAD = MeasurementKind(
    name="load",
    unit="ms",
    higher_is_better=False,
    headline_field="load_ms",
    headline="load geomean",
    metric=Metric.LOAD,
    hint="LATENCY",
    interleaved=False,
    confirmable=True,
    statistical=True,
    unit_of_evidence="compile",
)
