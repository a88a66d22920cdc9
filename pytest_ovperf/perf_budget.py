"""The ``perf_budget`` fixture object: measures, records, and checks budgets."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openvino as ov
import pytest

from .budgets import Budget, Metric, Verdict, applicable_budgets, judge
from .measure import InferPool, measure_latency, measure_throughput
from .models import CompiledEntry, ModelSpec, make_inputs
from .report import budget_failure_message
from .results import Check, LatencyResult, PerfResult, ThroughputResult
from .session import InconclusivePolicy, OvperfSession
from .stats import Interval


class OvperfInconclusiveWarning(UserWarning):
    """A budget or baseline verdict that the measurement could not decide."""


class OvperfPrecisionWarning(UserWarning):
    """The device ran another precision than the one asked for."""


@dataclass(frozen=True)
class Target:
    """Where one parametrized instance of a perf test runs."""

    device: str
    precision: str

    @property
    def id(self) -> str:
        return f"{self.device}-{self.precision}"


class PerfBudget:
    """Measures the compiled model of the current test and checks its budgets.

    ``measure_latency`` and ``measure_throughput`` return the result objects; a broken
    budget fails the test with the measured value, its interval, the budget and the excess.
    """

    def __init__(
        self,
        session: OvperfSession,
        nodeid: str,
        target: Target,
        spec: ModelSpec,
        budgets: list[Budget],
        entry_for: Callable[[str], CompiledEntry],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._session = session
        self.nodeid = nodeid
        self.target = target
        self.spec = spec
        self.budgets = applicable_budgets(budgets, target.device, target.precision)
        self._entry_for = entry_for
        self._progress = progress
        self.results: list[PerfResult] = []

    # -- measuring ---------------------------------------------------------------------

    def measure_latency(
        self, compiled_model: ov.CompiledModel | None = None, *, percentile: float | None = None
    ) -> LatencyResult:
        """Time sync inferences of ``compiled_model`` (default: this test's LATENCY compile)."""
        entry = self._entry_for("LATENCY")
        compiled, inputs = self._model_and_inputs(compiled_model, entry)
        wanted = [b.percentile for b in self.budgets if b.latency_ms is not None]
        headline = percentile if percentile is not None else (wanted[0] if wanted else 50.0)
        percentiles = list(dict.fromkeys([headline, *wanted]))
        samples, intervals = measure_latency(
            compiled, inputs, self._session.settings.measure, percentiles, self._progress
        )
        result = LatencyResult(
            nodeid=self.nodeid,
            device=self.target.device,
            precision=entry.precision,
            requested_precision=self.target.precision,
            kind="latency",
            compile_ms=entry.compile_ms,
            first_inference_ms=entry.first_inference_ms,
            measure_s=samples.measure_s,
            interval=intervals[headline],
            statistic=f"p{headline:g}",
            blocks=samples.block_medians(),
            latencies_ms=samples.latencies_ms,
            percentile=headline,
            facts=self._facts(entry),
        )
        for budget in self.budgets:
            if budget.latency_ms is not None:
                interval = intervals[budget.percentile]
                result.checks.append(
                    Check(
                        Metric.LATENCY,
                        f"p{budget.percentile:g}",
                        interval,
                        budget.latency_ms,
                        judge(interval, budget.latency_ms, Metric.LATENCY),
                        result.n,
                    )
                )
        self._one_off_checks(result, entry)
        return self._conclude(result)

    def measure_throughput(self, infer_pool: InferPool | None = None) -> ThroughputResult:
        """Keep ``infer_pool`` (default: this test's THROUGHPUT compile) busy and count fps."""
        entry = self._entry_for("THROUGHPUT")
        if infer_pool is None:
            infer_pool = InferPool(entry.compiled, entry.inputs)
        samples, interval = measure_throughput(
            infer_pool, self._session.settings.measure, self._progress
        )
        result = ThroughputResult(
            nodeid=self.nodeid,
            device=self.target.device,
            precision=entry.precision,
            requested_precision=self.target.precision,
            kind="throughput",
            compile_ms=entry.compile_ms,
            first_inference_ms=entry.first_inference_ms,
            measure_s=samples.measure_s,
            interval=interval,
            statistic="fps",
            blocks=samples.block_rates(),
            completed=samples.completed,
            requests=samples.requests,
            facts=self._facts(entry),
        )
        for budget in self.budgets:
            if budget.throughput_fps is not None:
                result.checks.append(
                    Check(
                        Metric.THROUGHPUT,
                        "fps",
                        interval,
                        budget.throughput_fps,
                        judge(interval, budget.throughput_fps, Metric.THROUGHPUT),
                        result.n,
                    )
                )
        self._one_off_checks(result, entry)
        return self._conclude(result)

    # -- helpers -----------------------------------------------------------------------

    def _model_and_inputs(
        self, compiled_model: ov.CompiledModel | None, entry: CompiledEntry
    ) -> tuple[ov.CompiledModel, list[Any]]:
        if compiled_model is None or compiled_model is entry.compiled:
            return entry.compiled, entry.inputs
        return compiled_model, make_inputs(compiled_model, self.spec.inputs, self.nodeid)

    def _facts(self, entry: CompiledEntry) -> dict[str, Any]:
        return {
            **self._session.machine_facts(self.target.device),
            **self._session.software_facts,
            "model": self.spec.describe(),
            "model_hash": entry.fingerprint,
            "config": entry.config,
        }

    def _one_off_checks(self, result: PerfResult, entry: CompiledEntry) -> None:
        for budget in self.budgets:
            for metric, value, limit in (
                (Metric.FIRST_INFERENCE, entry.first_inference_ms, budget.first_inference_ms),
                (Metric.COMPILE, entry.compile_ms, budget.compile_ms),
            ):
                if limit is None or any(c.metric is metric for c in result.checks):
                    continue
                point = Interval(value, value, value, 1.0, "single observation")
                result.checks.append(
                    Check(metric, metric.value, point, limit, judge(point, limit, metric), 1)
                )

    def _conclude(self, result: PerfResult) -> Any:
        self.results.append(result)
        if result.precision != result.requested_precision and result.requested_precision != "default":
            warnings.warn(
                OvperfPrecisionWarning(
                    f"{self.nodeid}: asked {result.device} for {result.requested_precision}, "
                    f"it runs {result.precision}"
                ),
                stacklevel=3,
            )
        failed = [c for c in result.checks if c.verdict is Verdict.FAIL]
        undecided = [c for c in result.checks if c.verdict is Verdict.INCONCLUSIVE]
        if failed:
            pytest.fail(budget_failure_message(result, failed + undecided), pytrace=False)
        if undecided:
            self._inconclusive(budget_failure_message(result, undecided))
        return result

    def _inconclusive(self, message: str) -> None:
        policy = self._session.settings.inconclusive
        hint = (
            "\n  the interval straddles the limit: measure longer (--ovperf-max-time), "
            "on a quieter machine, or see --ovperf-inconclusive"
        )
        if policy is InconclusivePolicy.FAIL:
            pytest.fail(message + hint, pytrace=False)
        if policy is InconclusivePolicy.WARN:
            warnings.warn(OvperfInconclusiveWarning(message + hint), stacklevel=4)
