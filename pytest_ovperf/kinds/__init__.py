"""The measurement kinds, one module each, and their registry: the gate, the reports, the
CLI and the suite check look a kind up by its name instead of branching on it. Another
plugin adds kinds through the ``pytest_ovperf_kinds`` hook (``hookspecs.py``,
docs/kinds.md)."""

from __future__ import annotations

from .base import MeasurementKind
from .latency import LATENCY
from .load import LOAD
from .memory import MEMORY
from .throughput import THROUGHPUT

#: every kind, by name, in the order reports list them
KINDS: dict[str, MeasurementKind] = {k.name: k for k in (LATENCY, THROUGHPUT, LOAD, MEMORY)}


#: the kinds this package defines (another plugin may not replace them)
BUILT_IN = frozenset(KINDS)


class UnknownKindError(KeyError):
    """A result or record names a kind this plugin does not know."""


class KindError(ValueError):
    """A kind another plugin adds cannot be registered; the message says why."""


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
    if kind.interleaved:
        raise KindError(
            f"measurement kind {kind.name!r}: a plugin's kind is measured in repeated "
            "observations (perf_budget.measure_observations); interleaved=True is for the "
            "block kinds of this package"
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
    "KindError",
    "MeasurementKind",
    "UnknownKindError",
    "kind_of",
    "register_kind",
    "unregister_kind",
]
