"""The measurement kinds, one module each, and their registry: the gate, the reports, the
CLI and the suite check look a kind up by its name instead of branching on it. Another
plugin adds kinds through the ``pytest_ovperf_kinds`` hook (``hookspecs.py``,
docs/kinds.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import MeasurementKind
from .generation import TPOT, TTFT
from .latency import LATENCY
from .load import LOAD
from .memory import MEMORY
from .throughput import THROUGHPUT

if TYPE_CHECKING:
    from ..records import ResultRecord

#: every kind, by name, in the order reports list them
KINDS: dict[str, MeasurementKind] = {
    k.name: k for k in (LATENCY, THROUGHPUT, LOAD, MEMORY, TTFT, TPOT)
}


#: what the record of a plugin kind's result says of its kind, so that a reader without the
#: plugin (the ``ovperf`` command) can still read it
PLUGIN_KIND_FIELDS = ("unit", "higher_is_better", "headline_field")

#: the kinds this package defines (another plugin may not replace them)
BUILT_IN = frozenset(KINDS)
#: the fields of a result record (``records.result_record``) a plugin kind's headline may
#: not take (``tests/test_load_memory.py`` checks the list against a real record)
RESERVED_FIELDS = frozenset(
    {
        "nodeid", "device", "precision", "requested_precision", "kind", "n", "compile_ms",
        "first_inference_ms", "measure_s", "statistic", "ci", "confidence", "ci_method",
        "budget_verdict", "probe_ms", "foreign_load", "measured_from", "measured_until",
        "device_wait_s", "checks", "companion", "runtime_precisions", "top_layers",
        "attribution", "remeasure", "baseline_verdict", "baseline_method", "baseline_value",
        "ratio", "ratio_ci", "baseline_p_value", "regression_threshold", "baseline_message",
        "baseline_other_profiles", "what_changed", "decided_by", "idle_side_cpu",
        "busy_runs_left_out", "settle_s", "proposed_max_time_s",
        "companion_verdict", "companion_ratio", "companion_ratio_ci", "recorded_runs",
        "environment", "source", "ttft_ms", "ttft_ci", "tpot_ms", "tpot_ci", "tokens_per_s",
        "tokens_per_s_ci", "prompt_tokens", "new_tokens", "attention_backend",
        *PLUGIN_KIND_FIELDS,
    }
)  # fmt: skip


class UnknownKindError(KeyError):
    """A result or record names a kind this plugin does not know."""


class KindError(ValueError):
    """A kind another plugin adds cannot be registered; the message says why."""


def kind_of_record(record: ResultRecord) -> MeasurementKind:
    """The kind of a result record: a known kind, else the plugin kind the record describes
    (``PLUGIN_KIND_FIELDS``); ``UnknownKindError`` when it is neither."""
    name = str(record.get("kind"))
    known = KINDS.get(name)
    if known is not None:
        return known
    # (the fields of ``PLUGIN_KIND_FIELDS``; a record from a file may hold anything there)
    unit, higher, field = (
        record.get("unit"),
        record.get("higher_is_better"),
        record.get("headline_field"),
    )
    if not (isinstance(unit, str) and isinstance(higher, bool) and isinstance(field, str)):
        return kind_of(name)  # raises, naming the known kinds
    return MeasurementKind(
        name=name, unit=unit, higher_is_better=higher, headline_field=field,
        headline=str(record.get("statistic") or "geomean"), metric=None, hint="LATENCY",
        interleaved=False, confirmable=False, statistical=True,
    )  # fmt: skip


def register_kind(kind: MeasurementKind) -> None:
    """Add a kind (``pytest_ovperf_kinds``); the same kind again is a no-op (every xdist
    worker and the controller register it), another kind under a taken name an error."""
    if not isinstance(kind, MeasurementKind):
        raise KindError(f"pytest_ovperf_kinds returned {kind!r}, not a MeasurementKind")
    known = KINDS.get(kind.name)
    if known == kind:
        return
    if known is not None:
        what = "a built-in kind" if kind.name in BUILT_IN else "another kind"
        raise KindError(f"measurement kind {kind.name!r} is already {what}: choose another name")
    if kind.interleaved or not kind.statistical or kind.metric is not None:
        raise KindError(
            f"measurement kind {kind.name!r}: a plugin's kind is measured in repeated "
            "observations (perf_budget.measure_observations) and judged by statistics, "
            "without a budget argument: give interleaved=False, statistical=True, metric=None"
        )
    if kind.headline_field in RESERVED_FIELDS:
        raise KindError(
            f"measurement kind {kind.name!r}: headline_field {kind.headline_field!r} is a "
            "field every result record has; choose another (e.g. f'{name}_ms')"
        )
    KINDS[kind.name] = kind


def unregister_kind(name: str) -> None:
    """Forget a kind another plugin added (at the end of its session: an in-process pytest
    run, pytester's, must not leave it to the next)."""
    if name not in BUILT_IN:
        KINDS.pop(name, None)


def kind_of(name: str) -> MeasurementKind:
    """The kind called ``name``; ``UnknownKindError`` names the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(
            f"unknown measurement kind {name!r} (known: {', '.join(KINDS)})"
        ) from None


__all__ = [
    "BUILT_IN",
    "KINDS",
    "LATENCY",
    "LOAD",
    "MEMORY",
    "THROUGHPUT",
    "TPOT",
    "TTFT",
    "KindError",
    "MeasurementKind",
    "UnknownKindError",
    "kind_of",
    "kind_of_record",
    "register_kind",
    "unregister_kind",
]
