"""Load time: how long reading and compiling a model takes, measured as repeated fresh reads
and compiles of its file (what a user's application does at start-up), alternating with a
partner's (a reference config such as no ``CACHE_DIR``, or the baseline's own model) when
there is one.

One warm-up load of each side is not counted: the first loads the device plugin and, with
``CACHE_DIR``, writes the cache that the counted loads then read. Each load is one
observation; the side's figure is their geometric mean, with a t-interval on the log scale
(loads are roughly log-normal, and ratios are what budgets and baselines compare). The loop
stops once both sides have ``MIN_OBSERVATIONS`` loads and ``min_time_s`` of the model's own time,
as soon as the interval is narrower than ``target_precision``, or before ``max_time_s``
(both sides together) would be exceeded.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import openvino as ov

from ..runtime.models import ModelError, ModelFile
from ..verdicts.stats import Interval, log_mean_interval
from .settings import MeasureSettings

#: fewest observations (loads) of each side before the stopping rule looks
MIN_OBSERVATIONS = 5
#: most observations of each side (a model that loads in microseconds would loop on)
MAX_OBSERVATIONS = 200

LoadRunner = Callable[[], float]


def load_runner(
    core: ov.Core, model: ModelFile, device: str, config: Mapping[str, Any], what: str
) -> LoadRunner:
    """One observation: read ``model`` and compile it for ``device`` with ``config``; the
    milliseconds it took (``ModelError`` names ``what`` failed). The compiled model is
    dropped before the next one."""

    def load() -> float:
        started = time.perf_counter()
        try:
            compiled = core.compile_model(model.read(core), device, dict(config))
        except Exception as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(
                f"cannot load {what} ({model.path}) for {device} with {dict(config)}: {first_line}"
            ) from exc
        elapsed = (time.perf_counter() - started) * 1e3
        del compiled
        gc.collect()  # release it now, not while the next load is timed
        return elapsed

    return load


@dataclass(frozen=True)
class RepeatedSamples:
    """Repeated observations of one side (loads, ms; or a plugin kind's, in its unit)."""

    values: tuple[float, ...]
    measure_s: float
    #: the partner's, each taken right after (or before, ABBA) the model's of its pair
    partner_values: tuple[float, ...] = ()

    @property
    def log_ratios(self) -> tuple[float, ...]:
        """log(model / partner) of each pair."""
        return tuple(math.log(m / p) for m, p in zip(self.values, self.partner_values) if m > 0 < p)

    def interval(self, confidence: float, what: str = "loads") -> Interval:
        """The geometric mean of the model's observations, with its t-interval on logs."""
        return log_mean_interval(self.values, confidence, what)

    @property
    def partner_value(self) -> float:
        values = np.asarray(self.partner_values, dtype=float)
        return float(np.exp(np.log(values).mean())) if values.size else math.nan


def measure_repeated(
    model: LoadRunner, settings: MeasureSettings, partner: LoadRunner | None = None
) -> RepeatedSamples:
    """Take observations of ``model`` (and of its partner, in ABBA order) repeatedly: loads,
    or any other repeated observation (``perf_budget.measure_observations``); see the
    module."""
    model()  # warm-up, not counted
    if partner is not None:
        partner()
    loads: list[float] = []
    partner_loads: list[float] = []
    started = time.perf_counter()
    own_s = 0.0  # wall time in the model's own calls, whatever unit they answer in
    while len(loads) < MAX_OBSERVATIONS:
        model_first = len(loads) % 2 == 0 or partner is None
        if partner is not None and not model_first:
            partner_loads.append(partner())
        call_started = time.perf_counter()
        loads.append(model())
        own_s += time.perf_counter() - call_started
        if partner is not None and model_first:
            partner_loads.append(partner())
        elapsed = time.perf_counter() - started
        if len(loads) < MIN_OBSERVATIONS:
            continue
        per_round = elapsed / len(loads)
        if elapsed + per_round > settings.max_time_s:
            break
        if own_s < settings.min_time_s:
            continue
        if _precise(loads, partner_loads, settings):
            break
    return RepeatedSamples(tuple(loads), time.perf_counter() - started, tuple(partner_loads))


def _precise(loads: list[float], partner_loads: list[float], settings: MeasureSettings) -> bool:
    """Whether the model's interval (and the pair ratio's, with a partner) is narrow enough."""
    tracked = [log_mean_interval(loads, settings.confidence, "loads")]
    if partner_loads:
        ratios = [m / p for m, p in zip(loads, partner_loads)]
        tracked.append(log_mean_interval(ratios, settings.confidence, "ratios"))
    return all(i.relative_half_width <= settings.target_precision for i in tracked)
