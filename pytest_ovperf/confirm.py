"""Confirmation of statistical failures: a test that failed on verdicts alone (a regression,
a broken latency / throughput / speedup budget) is measured again at the end of the run (of
the session, or of an xdist worker's share of it) and fails only when the re-measure fails
too. A false alarm of the first measurement then needs a second one, minutes later, to
reach the user; a real regression fails both (docs/statistics.md, "Confirmation").

The test's reports of the first run are held back and only the re-run's reports are logged,
so pytest, xdist, JUnit and the ovperf reports see one outcome per test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from _pytest.runner import runtestprotocol

from .kinds import KINDS
from .verdicts.kinds import Metric
from .workers import reporting_as, xdist_reporter

#: the budget metrics whose failure a re-measure can confirm (measured, not single
#: observations such as compile_ms, which a re-run takes from the compile cache)
CONFIRMABLE_METRICS = frozenset(
    {metric for kind in KINDS.values() if kind.confirmable for metric in kind.budget_metrics}
    | {Metric.SPEEDUP, Metric.SLOWDOWN}
)


@dataclass
class Remeasure:
    """What the confirmer and one run of a test's ``perf_budget`` tell each other."""

    #: a statistical failure is held for a re-measure (False: it fails at once)
    enabled: bool = False
    #: when this run is the re-measure: the first run's failure message
    first_failure: str = ""
    #: set by the test: its failure message, to be confirmed by a re-measure
    requested: str = ""


REMEASURE_KEY = pytest.StashKey[Remeasure]()


@dataclass
class _Held:
    item: pytest.Item
    reports: list[pytest.TestReport]
    failure: str
    #: the item's user properties before its first run (the re-run adds its own)
    user_properties: list[tuple[str, object]] = field(default_factory=list)


class Confirmer:
    """Runs ovperf tests, holds those that failed on statistics alone, and runs them again
    once every other test of this process has run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.held: list[_Held] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        if "perf_budget" not in getattr(item, "fixturenames", ()):
            return None  # not an ovperf test: pytest runs it
        first = item.stash.get(REMEASURE_KEY, None)
        confirming = first is not None and bool(first.first_failure)
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        state = Remeasure(
            enabled=not confirming and self._can_hold(),
            first_failure=first.first_failure if confirming and first is not None else "",
        )
        item.stash[REMEASURE_KEY] = state
        properties = list(item.user_properties)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        if state.requested and _only_the_call_failed(reports):
            self.held.append(_Held(item, reports, state.requested, properties))
            return True
        self._log(item, reports)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        finished = False
        try:
            outcome = yield
            finished = True
            return outcome
        finally:
            self._run_held(session, remeasure=finished and not session.shouldstop)

    def _run_held(self, session: pytest.Session, remeasure: bool) -> None:
        """Re-measure the held tests (or, when the session was stopped, log their first
        run as it was: nothing is lost)."""
        held, self.held = self.held, []
        for index, entry in enumerate(held):
            item = entry.item
            with reporting_as(session, item):
                if not remeasure or session.shouldfail:
                    self._log(item, entry.reports)
                    continue
                item.user_properties[:] = entry.user_properties
                item.stash[REMEASURE_KEY] = Remeasure(first_failure=entry.failure)
                nextitem = held[index + 1].item if index + 1 < len(held) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)

    def _can_hold(self) -> bool:
        """An xdist worker reports a test under the index of the test it runs: holding a
        report needs the worker's reporter (``workers.xdist_reporter``) to set it back."""
        return not hasattr(self.config, "workerinput") or xdist_reporter(self.config) is not None

    @staticmethod
    def _log(item: pytest.Item, reports: list[pytest.TestReport]) -> None:
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


def _only_the_call_failed(reports: list[pytest.TestReport]) -> bool:
    return [r.when for r in reports if r.failed] == ["call"] and len(reports) == 3
