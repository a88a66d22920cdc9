"""Budgets declared with ``@pytest.mark.ovperf_budget`` and the verdicts drawn against them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ..runtime.devices import PRECISIONS, split_device_list
from .kinds import Metric, Verdict
from .limits import FractionError, parse_fraction

if TYPE_CHECKING:  # numpy and scipy load only where a statistic is computed
    from .stats import Interval


class BudgetError(ValueError):
    """A malformed ``ovperf_budget`` marker."""


#: the limits a budget may set: each metric's value is the name of the marker argument
LIMITS: tuple[str, ...] = tuple(metric.value for metric in Metric)


@dataclass(frozen=True)
class Budget:
    """One ``ovperf_budget`` marker, validated."""

    device: str
    precision: str | None = None
    latency_ms: float | None = None
    percentile: float = 50.0
    throughput_fps: float | None = None
    first_inference_ms: float | None = None
    compile_ms: float | None = None
    #: load time (read and compile, repeated; ``measure_load``), ms
    load_ms: float | None = None
    #: resident memory of the compiled model and one infer request (``measure_memory``), MiB
    memory_mb: float | None = None
    #: peak resident growth while reading and compiling (``measure_memory``), MiB
    compile_peak_mb: float | None = None
    #: generation (``measure_generation``): time to first token (its ``percentile``), ms
    ttft_ms: float | None = None
    #: generation: time per output token after the first, ms
    tpot_ms: float | None = None
    #: generation: output tokens per second after the first, at least
    tokens_per_s: float | None = None
    #: with a reference: at least this many times as fast as it
    min_speedup: float | None = None
    #: with a reference: at most this fraction slower than it (0.10 = 10%)
    max_slowdown: float | None = None
    #: fraction (0.05 = 5%); ``None`` means the session default
    regression_threshold: float | None = None
    #: fail when the device ran most of the compute in another precision than asked
    #: (``None``: the session's ``--ovperf-strict-precision``)
    strict_precision: bool | None = None

    def applies_to(self, device: str, precision: str) -> bool:
        return self.device == device and (self.precision is None or self.precision == precision)

    def limits(self) -> dict[Metric, float]:
        """The limits this budget sets, by metric (``max_slowdown`` as the factor 1 + it)."""
        values = {metric: getattr(self, metric.value) for metric in Metric}
        limits = {metric: float(value) for metric, value in values.items() if value is not None}
        if Metric.SLOWDOWN in limits:
            limits[Metric.SLOWDOWN] = 1.0 + limits[Metric.SLOWDOWN]
        return limits


_ALLOWED_KWARGS = tuple(f.name for f in fields(Budget))


def parse_budget(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Budget:
    """Validate one marker's arguments; ``BudgetError`` says what is wrong."""
    if len(args) > 2:
        raise BudgetError(
            f"ovperf_budget takes at most two positional arguments (device, precision), "
            f"got {len(args)}"
        )
    unknown = sorted(set(kwargs) - set(_ALLOWED_KWARGS))
    if unknown:
        raise BudgetError(
            f"ovperf_budget got unknown argument(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_ALLOWED_KWARGS))}"
        )
    values = dict(kwargs)
    for name, value in zip(("device", "precision"), args):
        if name in values:
            raise BudgetError(f"ovperf_budget got {name!r} both by position and by name")
        values[name] = value
    device_value = values.get("device")
    if not isinstance(device_value, str) or not device_value.strip():
        raise BudgetError("ovperf_budget needs device=..., e.g. device='CPU'")
    devices = split_device_list([device_value])
    if len(devices) != 1:
        raise BudgetError(
            f"ovperf_budget device={device_value!r} names {len(devices)} devices; "
            "stack one marker per device"
        )
    precision = values.get("precision")
    if precision is not None:
        if not isinstance(precision, str) or precision.lower() not in PRECISIONS:
            raise BudgetError(
                f"ovperf_budget precision={precision!r} is not one of {', '.join(PRECISIONS)}"
            )
        precision = precision.lower()
    limits = {
        name: _positive_number(name, values.get(name))
        for name in LIMITS
        if name != Metric.SLOWDOWN.value
    }
    slowdown = values.get(Metric.SLOWDOWN.value)
    if slowdown is not None:
        try:
            slowdown = parse_fraction(slowdown, "ovperf_budget max_slowdown")
        except FractionError as exc:
            raise BudgetError(str(exc)) from None
    limits[Metric.SLOWDOWN.value] = slowdown
    percentile = values.get("percentile", 50)
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)):
        raise BudgetError(f"ovperf_budget percentile={percentile!r} must be a number")
    if not 0 < float(percentile) < 100:
        raise BudgetError(f"ovperf_budget percentile={percentile!r} must be inside (0, 100)")
    threshold = values.get("regression_threshold")
    if threshold is not None:
        try:
            threshold = parse_fraction(threshold, "ovperf_budget regression_threshold")
        except FractionError as exc:
            raise BudgetError(str(exc)) from None
    strict = values.get("strict_precision")
    if strict is not None and not isinstance(strict, bool):
        raise BudgetError(f"ovperf_budget strict_precision={strict!r} must be True or False")
    if all(v is None for v in limits.values()) and threshold is None and strict is None:
        raise BudgetError(
            f"ovperf_budget sets no limit; give {', '.join(LIMITS)}, regression_threshold "
            "or strict_precision"
        )
    return Budget(
        device=devices[0],
        precision=precision,
        percentile=float(percentile),
        regression_threshold=threshold,
        strict_precision=strict,
        **limits,
    )


def _positive_number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BudgetError(f"ovperf_budget {name}={value!r} must be a number")
    if not math.isfinite(value) or value <= 0:
        raise BudgetError(f"ovperf_budget {name}={value!r} must be a positive number")
    return float(value)


def applicable_budgets(budgets: Iterable[Budget], device: str, precision: str) -> list[Budget]:
    return [b for b in budgets if b.applies_to(device, precision)]


def threshold_of(budgets: Iterable[Budget], default: float) -> float:
    """A test's regression threshold: the first of its (applicable) budgets that sets one,
    else ``default`` (the session's)."""
    for budget in budgets:
        if budget.regression_threshold is not None:
            return budget.regression_threshold
    return default


def precisions_named(budgets: Iterable[Budget], device: str) -> list[str]:
    """Precisions the budgets name for ``device``, in marker order."""
    return list(dict.fromkeys(b.precision for b in budgets if b.device == device and b.precision))


def judge(interval: Interval, limit: float, metric: Metric) -> Verdict:
    """Pass when the whole interval is within the limit, fail when it is wholly outside,
    inconclusive when it straddles the limit."""
    if metric.higher_is_better:
        if interval.low >= limit:
            return Verdict.PASS
        if interval.high < limit:
            return Verdict.FAIL
        return Verdict.INCONCLUSIVE
    if interval.high <= limit:
        return Verdict.PASS
    if interval.low > limit:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE


def excess_percent(value: float, limit: float, metric: Metric) -> float:
    """How far ``value`` is beyond ``limit``, in percent of the limit (positive = worse)."""
    if metric.higher_is_better:
        return (limit - value) / limit * 100.0
    return (value - limit) / limit * 100.0
