"""The hooks pytest-ovperf offers other plugins (registered by ``plugin.pytest_addhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .kinds import MeasurementKind


@pytest.hookspec()
def pytest_ovperf_kinds() -> list[MeasurementKind]:
    """Measurement kinds this plugin adds (``pytest_ovperf.kinds.MeasurementKind``, with
    ``interleaved=False`` and ``metric=None``). A test measures one with
    ``perf_budget.measure_observations(name, observe)``; its results are recorded, compared
    with their baselines and reported like every other kind. docs/kinds.md has an example.
    """
    return []  # a hook specification: the plugins' implementations are called
