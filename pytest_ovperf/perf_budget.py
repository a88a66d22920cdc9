"""The ``perf_budget`` fixture object: measure with the engine of the kind, judge the
budgets and the baseline, and fail the test when a verdict says so."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import openvino as ov
import pytest

from .collect import Target
from .measure.blocks import InferPool, LatencyBlocks, ThroughputBlocks
from .measure.engine import (
    Partner,
    PartnerSamples,
    ProgressCallback,
    measure_latency,
    measure_throughput,
)
from .measure.load import LoadMeter
from .options import InconclusivePolicy
from .report import budget_failure_message, regression_message
from .results import Check, LatencyResult, PerfResult, ThroughputResult
from .runtime.models import CompiledEntry, ModelError, ModelSource, ModelSpec, make_inputs
from .runtime.probe import PROBE_SHARE, PROBE_SPEC
from .session import OvperfSession
from .store.baselines import BaselineFileError
from .verdicts.budgets import Budget, Metric, applicable_budgets
from .verdicts.gate import baseline_error, judge_reference
from .verdicts.kinds import GateVerdict, Verdict
from .verdicts.stats import Interval

ResultT = TypeVar("ResultT", bound=PerfResult)


class OvperfInconclusiveWarning(UserWarning):
    """A budget or baseline verdict that the measurement could not decide."""


class OvperfPrecisionWarning(UserWarning):
    """The device ran another precision than the one asked for."""


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
        entry_for: Callable[[str, ModelSource | None], CompiledEntry],
        test_file: Path,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._session = session
        self.nodeid = nodeid
        self.target = target
        self.spec = spec
        self.budgets = applicable_budgets(budgets, target.device, target.precision)
        self._entry_for_source = entry_for
        self.test_file = test_file
        # the baseline key: the node id without its file part ("TestX::test_y[CPU-f32]")
        self.test_name = nodeid.split("::", 1)[-1]
        self._progress = progress
        self.results: list[PerfResult] = []

    # -- measuring ---------------------------------------------------------------------

    def measure_latency(
        self, compiled_model: ov.CompiledModel | None = None, *, percentile: float | None = None
    ) -> LatencyResult:
        """Time sync inferences of ``compiled_model`` (default: this test's LATENCY compile).

        With ``ovperf_model(..., reference=...)`` the reference model is measured in
        interleaved blocks and the result is judged against it instead of a stored baseline.
        """
        entry = self._entry_for("LATENCY", None)
        compiled, inputs = self._model_and_inputs(compiled_model, entry)
        wanted = [b.percentile for b in self.budgets if b.latency_ms is not None]
        headline = percentile if percentile is not None else (wanted[0] if wanted else 50.0)
        percentiles = list(dict.fromkeys([headline, *wanted]))
        settings = self._session.settings.measure
        partner = self._partner("latency")
        load = LoadMeter().start()
        samples = measure_latency(
            compiled, inputs, settings, percentiles, partner, self._progress
        )
        intervals = {q: samples.interval(q, settings.confidence) for q in percentiles}
        result = LatencyResult(
            **self._common_fields(entry, "latency", samples.measure_s),
            interval=intervals[headline],
            statistic=f"p{headline:g}",
            blocks=list(samples.block_medians),
            latencies_ms=samples.latencies_ms,
            percentile=headline,
            foreign_load=load.foreign_load(),
        )
        for budget in self.budgets:
            if budget.latency_ms is not None:
                result.checks.append(
                    Check.judged(
                        Metric.LATENCY,
                        f"p{budget.percentile:g}",
                        intervals[budget.percentile],
                        budget.latency_ms,
                        result.n,
                    )
                )
        return self._conclude(result, entry, samples.partner)

    def measure_throughput(self, infer_pool: InferPool | None = None) -> ThroughputResult:
        """Keep ``infer_pool`` (default: this test's THROUGHPUT compile) busy and count fps."""
        entry = self._entry_for("THROUGHPUT", None)
        if infer_pool is None:
            infer_pool = InferPool(entry.compiled, entry.inputs)
        settings = self._session.settings.measure
        partner = self._partner("throughput")
        load = LoadMeter().start()
        samples = measure_throughput(infer_pool, settings, partner, self._progress)
        interval = samples.interval(settings.confidence)
        result = ThroughputResult(
            **self._common_fields(entry, "throughput", samples.measure_s),
            interval=interval,
            statistic="fps",
            blocks=samples.block_rates(),
            completed=samples.completed,
            requests=infer_pool.size,
            foreign_load=load.foreign_load(),
        )
        for budget in self.budgets:
            if budget.throughput_fps is not None:
                result.checks.append(
                    Check.judged(
                        Metric.THROUGHPUT, "fps", interval, budget.throughput_fps, result.n
                    )
                )
        return self._conclude(result, entry, samples.partner)

    # -- the partner workload ----------------------------------------------------------

    def _partner(self, kind: str) -> Partner | None:
        """The workload interleaved with the model: the ``reference=`` model, else the speed
        probe (unless switched off). It is chosen the same way whether or not a baseline
        exists, so budgets are judged from the same kind of measurement on every run."""
        settings = self._session.settings
        if self.spec.reference is not None:
            hint = "LATENCY" if kind == "latency" else "THROUGHPUT"
            reference = self._entry_for(hint, self.spec.reference)
            runner: LatencyBlocks | ThroughputBlocks
            if kind == "latency":
                runner = LatencyBlocks(reference.compiled, reference.inputs, settings.measure)
            else:
                pool = InferPool(reference.compiled, reference.inputs)
                runner = ThroughputBlocks(pool, settings.measure)
            return Partner(runner, share=1.0, compared=True)
        if not settings.speed_probe:
            return None
        # The probe runs sync for both kinds: request.latency times the inference alone,
        # while a tiny model's fps would time Python's submission loop. For throughput it
        # only tells the machine state (fps/probe ratios proved noisier than fps itself).
        probe = self._probe_entry()
        compared = kind == "latency" and self._session.gate.will_judge(
            self.test_file, self.test_name, self._session.machine_facts(self.target.device), kind
        )
        return Partner(
            LatencyBlocks(probe.compiled, probe.inputs, settings.measure), PROBE_SHARE, compared
        )

    def _probe_entry(self) -> CompiledEntry:
        try:
            return self._session.compile_cache.get(
                PROBE_SPEC, self.target.device, self.target.precision, "LATENCY"
            )
        except ModelError as exc:
            problem = f"the speed probe cannot run (--ovperf-speed-probe=off skips it): {exc}"
        self._fail(problem)

    # -- helpers -----------------------------------------------------------------------

    def _fail(self, problem: str) -> NoReturn:
        pytest.fail(f"{self.nodeid}: {problem}", pytrace=False)

    def _entry_for(self, hint: str, source: ModelSource | None) -> CompiledEntry:
        return self._entry_for_source(hint, source)

    def _model_and_inputs(
        self, compiled_model: ov.CompiledModel | None, entry: CompiledEntry
    ) -> tuple[ov.CompiledModel, list[Any]]:
        if compiled_model is None or compiled_model is entry.compiled:
            return entry.compiled, entry.inputs
        return compiled_model, make_inputs(compiled_model, self.spec.inputs, self.nodeid)

    def _common_fields(self, entry: CompiledEntry, kind: str, measure_s: float) -> dict[str, Any]:
        """The fields every result kind shares."""
        return {
            "nodeid": self.nodeid,
            "device": self.target.device,
            "precision": entry.precision,
            "requested_precision": self.target.precision,
            "kind": kind,
            "compile_ms": entry.compile_ms,
            "first_inference_ms": entry.first_inference_ms,
            "measure_s": measure_s,
            "facts": {
                **self._session.machine_facts(self.target.device),
                **self._session.software_facts,
                "model": self.spec.describe(),
                "model_hash": entry.fingerprint,
                "config": entry.config,
            },
        }

    def _one_off_checks(self, result: PerfResult, entry: CompiledEntry) -> None:
        one_off = {
            Metric.FIRST_INFERENCE: entry.first_inference_ms,
            Metric.COMPILE: entry.compile_ms,
        }
        for budget in self.budgets:
            for metric, limit in budget.limits().items():
                if metric not in one_off or any(c.metric is metric for c in result.checks):
                    continue
                value = one_off[metric]
                point = Interval(value, value, value, 1.0, "single observation")
                result.checks.append(Check.judged(metric, metric.value, point, limit, 1))

    @property
    def regression_threshold(self) -> float:
        """The test's own threshold (first applicable budget that sets one), else the session's."""
        for budget in self.budgets:
            if budget.regression_threshold is not None:
                return budget.regression_threshold
        return self._session.settings.regression_threshold

    def _judge_baseline(self, result: PerfResult, partner: PartnerSamples | None) -> None:
        """Fill ``result.baseline``: against the interleaved reference, else the stored
        baselines (a problem with the baseline file is an ``error`` comparison)."""
        gate = self._session.gate
        if self.spec.reference is not None and partner is not None:
            result.baseline = judge_reference(
                partner.log_ratios,
                partner.value,
                self.spec.describe(self.spec.reference),
                gate.settings_for(self.regression_threshold),
                result.higher_is_better,
            )
            return
        if partner is not None:
            result.probe_value = partner.value
            if result.kind == "latency":
                result.probe_log_ratios = list(partner.log_ratios)
        try:
            result.baseline = gate.check(
                result, self.test_file, self.test_name, self.regression_threshold
            )
        except BaselineFileError as exc:
            result.baseline = baseline_error(exc)

    def _conclude(
        self, result: ResultT, entry: CompiledEntry, partner: PartnerSamples | None
    ) -> ResultT:
        self._one_off_checks(result, entry)
        self._judge_baseline(result, partner)
        self.results.append(result)
        if (
            result.precision != result.requested_precision
            and result.requested_precision != "default"
        ):
            warnings.warn(
                OvperfPrecisionWarning(
                    f"{self.nodeid}: asked {result.device} for {result.requested_precision}, "
                    f"it runs {result.precision}"
                ),
                stacklevel=3,
            )
        problems: list[str] = []
        undecided: list[str] = []
        failed = [c for c in result.checks if c.verdict is Verdict.FAIL]
        unsure = [c for c in result.checks if c.verdict is Verdict.INCONCLUSIVE]
        if failed:
            problems.append(budget_failure_message(result, failed + unsure))
        elif unsure:
            undecided.append(budget_failure_message(result, unsure))
        comparison = result.baseline
        if comparison is not None and comparison.verdict is GateVerdict.ERROR:
            problems.append(f"ovperf baseline error for {self.nodeid}: {comparison.error}")
        elif comparison is not None and comparison.verdict in (
            GateVerdict.REGRESSION,
            GateVerdict.INCONCLUSIVE,
        ):
            text = regression_message(result, comparison)
            regression = comparison.verdict is GateVerdict.REGRESSION
            (problems if regression else undecided).append(text)
        if problems:
            pytest.fail("\n".join(problems + undecided), pytrace=False)
        if undecided:
            self._inconclusive("\n".join(undecided))
        return result

    def _inconclusive(self, message: str) -> None:
        policy = self._session.settings.inconclusive
        hint = (
            "\n  inconclusive verdicts are handled by --ovperf-inconclusive (now: "
            + policy.value
            + ")"
        )
        if policy is InconclusivePolicy.FAIL:
            pytest.fail(message + hint, pytrace=False)
        if policy is InconclusivePolicy.WARN:
            warnings.warn(OvperfInconclusiveWarning(message + hint), stacklevel=4)

