"""Memory: the resident memory a compiled model and one infer request keep, and the peak
while reading and compiling, each measured in a fresh process (``measure/memory.py``);
the headline is the median over the processes."""

from __future__ import annotations

from ..verdicts.kinds import Metric
from .base import MeasurementKind

MEMORY = MeasurementKind(
    name="memory",
    unit="MiB",
    higher_is_better=False,
    headline_field="memory_mb",
    headline="median",
    metric=Metric.MEMORY,
    hint="LATENCY",
    interleaved=False,
    confirmable=True,
    statistical=False,
    unit_of_evidence="process",
)
