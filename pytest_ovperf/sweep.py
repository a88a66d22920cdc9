"""``ovperf sweep``: a grid of hints x streams x batch sizes measured with the plugin's engines.

Each configuration compiles the model once (``PERFORMANCE_HINT``, ``NUM_STREAMS``, the batch
set on every input's first dimension) and measures latency (one sync request, p50 and p90
with their order-statistics intervals) and throughput (a full ``AsyncInferQueue``, items per
second = inferences per second x batch, with the t-interval over blocks), exactly as a test
measures them. The grid is checked before anything compiles.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openvino as ov

from .kinds import LATENCY, THROUGHPUT
from .measure.blocks import InferPool
from .measure.engine import measure_latency, measure_throughput
from .measure.settings import MeasureSettings
from .runtime.devices import hint_value_for, steady_config
from .runtime.models import ModelError, ModelSpec, make_inputs, read_model
from .verdicts.stats import Interval

if TYPE_CHECKING:
    from .records import ResultRecord

#: hints a sweep may name, as benchmark_app spells them
HINTS = {
    "latency": "LATENCY",
    "throughput": "THROUGHPUT",
    "cumulative_throughput": "CUMULATIVE_THROUGHPUT",
}


class GridError(ValueError):
    """A sweep option that cannot be measured (said before anything compiles)."""


@dataclass(frozen=True)
class Configuration:
    hint: str
    streams: int | None
    #: the first dimension of every input; ``None``: as the model (and ``--shape``) has it
    batch: int | None

    @property
    def label(self) -> str:
        streams = "auto" if self.streams is None else str(self.streams)
        batch = "model" if self.batch is None else str(self.batch)
        return f"hint={self.hint} streams={streams} batch={batch}"


@dataclass(frozen=True)
class Measured:
    configuration: Configuration
    p50_ms: Interval
    p90_ms: Interval
    items_per_s: Interval
    requests: int


def _positive_ints(text: str, option: str) -> list[int]:
    values = []
    for item in text.split(","):
        item = item.strip()
        if not re.fullmatch(r"[0-9]+", item) or int(item) < 1:
            raise GridError(f"{option} {text!r}: {item!r} is not a whole number >= 1")
        values.append(int(item))
    return list(dict.fromkeys(values))


def parse_grid(hints: str, streams: str | None, batches: str | None) -> list[Configuration]:
    """The configurations to measure; ``GridError`` names a bad value."""
    hint_names = []
    for item in hints.split(","):
        name = item.strip().lower()
        if name not in HINTS:
            raise GridError(f"--hint {hints!r}: {item!r} is not one of {', '.join(HINTS)}")
        hint_names.append(HINTS[name])
    stream_values: list[int | None] = (
        list(_positive_ints(streams, "--streams")) if streams else [None]
    )
    batch_values: list[int | None] = list(_positive_ints(batches, "--batch")) if batches else [None]
    return [
        Configuration(h, s, b)
        for h, s, b in itertools.product(dict.fromkeys(hint_names), stream_values, batch_values)
    ]


def parse_shape(text: str | None) -> dict[str, list[int]] | None:
    """benchmark_app's ``-shape`` form: ``name[1,3,224,224],other[1,10]`` (or ``[1,64]``
    for a model with one input)."""
    if not text:
        return None
    shapes: dict[str, list[int]] = {}
    for name, dims in re.findall(r"([^,\[\]]*)\[([0-9, ]+)\]", text):
        shapes[name.strip()] = [int(d) for d in dims.split(",") if d.strip()]
    if not shapes:
        raise GridError(f"--shape {text!r}: write name[1,3,224,224] (comma-separate inputs)")
    return shapes


def _batched(model: ov.Model, batch: int | None) -> ov.Model:
    """The model with every input's first dimension set to ``batch`` (``GridError`` when
    it cannot be)."""
    if batch is None:
        return model
    shapes = {}
    for model_input in model.inputs:
        dims = list(model_input.get_partial_shape())
        if not dims:
            raise GridError(
                f"--batch {batch}: input {model_input.get_any_name()} has no dimensions"
            )
        shapes[model_input.get_any_name()] = ov.PartialShape([batch, *dims[1:]])
    try:
        model.reshape(shapes)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GridError(f"--batch {batch}: the model cannot take it ({first})") from None
    return model


def _items_per_inference(model: ov.Model) -> int:
    """Items one inference processes: the first dimension of the first input."""
    first = model.inputs[0].get_partial_shape()
    return first[0].get_length() if first.rank.get_length() and first[0].is_static else 1


def sweep(
    core: ov.Core,
    model_path: Path,
    device: str,
    grid: Sequence[Configuration],
    settings: MeasureSettings,
    shape: dict[str, list[int]] | None = None,
    precision: str | None = None,
    progress: Callable[[int, Configuration], None] | None = None,
) -> list[Measured]:
    """Measure every configuration of ``grid``. Every batch size is tried on the model
    before anything compiles (``GridError``); a ``ModelError`` says what failed."""
    base_spec = ModelSpec(source=model_path, shape=_single_input(shape))
    models = {
        batch: _batched(read_model(core, base_spec), batch)
        for batch in dict.fromkeys(c.batch for c in grid)
    }
    results = []
    for index, configuration in enumerate(grid):
        if progress is not None:
            progress(index, configuration)
        model = models[configuration.batch]
        config: dict[str, Any] = {"PERFORMANCE_HINT": configuration.hint}
        if configuration.streams is not None:
            config["NUM_STREAMS"] = configuration.streams
        hint_precision = hint_value_for(precision) if precision else None
        if hint_precision is not None:
            config["INFERENCE_PRECISION_HINT"] = hint_precision
        try:
            compiled = core.compile_model(model, device, steady_config(device, config))
        except Exception as exc:  # the device's own words
            raise ModelError(f"{configuration.label}: cannot compile: {exc}") from exc
        inputs = make_inputs(model, None, str(model_path))
        latency = measure_latency(compiled, inputs, settings, (50.0, 90.0))
        pool = InferPool(compiled, inputs)
        throughput = measure_throughput(pool, settings)
        fps = throughput.interval(settings.confidence)
        b = _items_per_inference(model)
        items = Interval(fps.estimate * b, fps.low * b, fps.high * b, fps.confidence, fps.method)
        results.append(
            Measured(
                configuration,
                latency.interval(50.0, settings.confidence),
                latency.interval(90.0, settings.confidence),
                items,
                pool.size,
            )
        )
    return results


def _single_input(shape: dict[str, list[int]] | None) -> dict[str, list[int]] | list[int] | None:
    """``[1,64]`` without a name applies to the model's only input."""
    if shape is not None and list(shape) == [""]:
        return shape[""]
    return shape


def best(results: Sequence[Measured]) -> tuple[Measured, Measured]:
    """The configuration with the lowest p50 latency, and the one with the most items/s."""
    return (
        min(results, key=lambda m: m.p50_ms.estimate),
        max(results, key=lambda m: m.items_per_s.estimate),
    )


def rows(results: Sequence[Measured]) -> list[list[str]]:
    fastest, busiest = best(results)

    def cell(interval: Interval) -> str:
        return f"{interval.estimate:.4g} [{interval.low:.4g}, {interval.high:.4g}]"

    return [
        [
            m.configuration.hint.lower(),
            "auto" if m.configuration.streams is None else str(m.configuration.streams),
            "model" if m.configuration.batch is None else str(m.configuration.batch),
            str(m.requests),
            cell(m.p50_ms) + (" *" if m is fastest else ""),
            cell(m.p90_ms),
            cell(m.items_per_s) + (" *" if m is busiest else ""),
        ]
        for m in results
    ]


SWEEP_HEADER = [
    "hint",
    "streams",
    "batch",
    "requests",
    "p50 ms (CI)",
    "p90 ms (CI)",
    "items/s (CI)",
]


def to_json(results: Sequence[Measured], model_path: Path, device: str) -> dict[str, Any]:
    fastest, busiest = best(results)

    def interval(value: Interval) -> dict[str, float | None]:
        # JSON has no inf: a bound too few inferences could not give is null
        return {
            k: _finite(v)
            for k, v in (("value", value.estimate), ("low", value.low), ("high", value.high))
        }

    return {
        "model": str(model_path),
        "device": device,
        "results": [
            {
                "hint": m.configuration.hint,
                "streams": m.configuration.streams,
                "batch": m.configuration.batch,
                "requests": m.requests,
                "p50_ms": interval(m.p50_ms),
                "p90_ms": interval(m.p90_ms),
                "items_per_s": interval(m.items_per_s),
                "best_latency": m is fastest,
                "best_throughput": m is busiest,
            }
            for m in results
        ],
    }


def to_records(results: Sequence[Measured]) -> list[ResultRecord]:
    """The sweep as JSON result records (for the HTML report): one latency and one
    throughput record per configuration."""
    records: list[ResultRecord] = []
    for m in results:
        name = f"sweep::{m.configuration.label.replace(' ', ',')}"
        records.append(
            {
                "nodeid": name,
                "device": "-",
                "precision": "-",
                "checks": [],
                "budget_verdict": "none",
                "kind": LATENCY.name,
                "statistic": LATENCY.headline,
                "p50_ms": _finite(m.p50_ms.estimate),
                "p90_ms": _finite(m.p90_ms.estimate),
                "ci": [_finite(m.p50_ms.low), _finite(m.p50_ms.high)],
            }
        )
        records.append(
            {
                "nodeid": name,
                "device": "-",
                "precision": "-",
                "checks": [],
                "budget_verdict": "none",
                "kind": THROUGHPUT.name,
                "statistic": THROUGHPUT.headline,
                "fps": _finite(m.items_per_s.estimate),
                "ci": [_finite(m.items_per_s.low), _finite(m.items_per_s.high)],
            }
        )
    return records


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
