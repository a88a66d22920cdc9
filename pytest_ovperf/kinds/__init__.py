"""The measurement kinds, one module each, and their registry: the gate, the reports, the
CLI and the suite check look a kind up by its name instead of branching on it."""

from __future__ import annotations

from .base import MeasurementKind
from .latency import LATENCY
from .load import LOAD
from .memory import MEMORY
from .throughput import THROUGHPUT

#: every kind, by name, in the order reports list them
KINDS: dict[str, MeasurementKind] = {k.name: k for k in (LATENCY, THROUGHPUT, LOAD, MEMORY)}


class UnknownKindError(KeyError):
    """A result or record names a kind this plugin does not know."""


def kind_of(name: str) -> MeasurementKind:
    """The kind called ``name``; ``UnknownKindError`` names the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKindError(
            f"unknown measurement kind {name!r} (known: {', '.join(KINDS)})"
        ) from None


__all__ = ["KINDS", "LATENCY", "LOAD", "MEMORY", "THROUGHPUT", "MeasurementKind", "kind_of"]
