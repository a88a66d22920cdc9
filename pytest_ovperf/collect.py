"""Collection: what a perf test's markers say, the device x precision instances of each
test, and the record of what was collected (so stale baselines can be found)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .identity import TestIdentity
from .options import Settings
from .verdicts.budgets import Budget, BudgetError, parse_budget, precisions_named

if TYPE_CHECKING:
    from .runtime.devices import DeviceCatalog
    from .runtime.models import ModelSpec


@dataclass(frozen=True)
class Target:
    """Where one parametrized instance of a perf test runs."""

    device: str
    precision: str

    @property
    def id(self) -> str:
        return f"{self.device}-{self.precision}"


@dataclass
class TestContext:
    """What a perf test's markers say, validated once at setup."""

    __test__ = False

    spec: ModelSpec
    budgets: list[Budget]


def marker_budgets(node: Any) -> list[Budget]:
    """The test's ``ovperf_budget`` markers, validated (``BudgetError`` says what is wrong)."""
    # iter_markers yields the closest marker first; keep the order the author wrote
    markers = list(node.iter_markers("ovperf_budget"))[::-1]
    return [parse_budget(tuple(m.args), m.kwargs) for m in markers]


def targets_for(
    metafunc: pytest.Metafunc, settings: Settings, catalog: DeviceCatalog
) -> list[Target]:
    """Every device of the session, with the precisions asked for, else those the test's
    budgets name for the device, else the device's default."""
    try:
        budgets = marker_budgets(metafunc.definition)
    except BudgetError:
        budgets = []  # reported with the test's name at setup
    targets: list[Target] = []
    for device in settings.devices:
        precisions = (
            settings.precisions
            or precisions_named(budgets, device)
            or [catalog.info(device).default_precision]
        )
        targets.extend(Target(device, precision) for precision in precisions)
    return targets


#: key of the collection record an xdist worker hands to the controller
WORKER_OUTPUT_KEY = "ovperf_collection"


def _partly_selected_files(config: pytest.Config) -> set[Path]:
    """Files named by "file.py::test" arguments: only part of them runs, so their other
    entries are not stale."""
    return {Path(arg.split("::", 1)[0]).resolve() for arg in config.args if "::" in arg}


class CollectionTracker:
    """Which perf tests each file has, and which files run only in part (their other
    baseline entries are not stale). Under pytest-xdist each worker collects and deselects
    (``-k``, ``-m``, ``--lf``, ...) on its own and hands this record to the controller."""

    def __init__(self) -> None:
        self.collected: dict[Path, set[str]] = {}
        self.partial_files: set[Path] = set()
        #: False when a worker's record never arrived (it crashed): stale means nothing then
        self.complete = True

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        for item in items:
            if "ovperf_target" in getattr(item, "fixturenames", ()):
                names = self.collected.setdefault(Path(str(item.path)), set())
                names.add(TestIdentity.from_nodeid(item.nodeid).name)
        self.partial_files.update(_partly_selected_files(config))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.partial_files.update(Path(str(item.path)) for item in items)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_OUTPUT_KEY] = {
                "collected": {str(p): sorted(names) for p, names in self.collected.items()},
                "partial": sorted(str(p) for p in self.partial_files),
            }

    def merge(self, record: Any) -> None:
        if not isinstance(record, dict):
            self.complete = False
            return
        for path, names in record["collected"].items():
            self.collected.setdefault(Path(path), set()).update(names)
        self.partial_files.update(Path(p) for p in record["partial"])
