"""The ``perf_budget`` fixture object: measures, records, and checks budgets."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import openvino as ov
import pytest

from .measure.engine import (
    InferPool,
    LatencyBlockRunner,
    ThroughputBlockRunner,
    measure_interleaved,
    measure_latency,
    measure_throughput,
)
from .measure.load import LoadMeter
from .report import budget_failure_message, fmt, regression_message
from .results import BaselineComparison, Check, LatencyResult, PerfResult, ThroughputResult
from .runtime.models import CompiledEntry, ModelSource, ModelSpec, make_inputs
from .runtime.probe import PROBE_SHARE, PROBE_SPEC
from .session import InconclusivePolicy, OvperfSession
from .store.baselines import BaselineFileError
from .verdicts.budgets import Budget, Metric, Verdict, applicable_budgets
from .verdicts.comparison import compare_paired
from .verdicts.stats import Interval, percentile_interval, rate_interval

ResultT = TypeVar("ResultT", bound=PerfResult)


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
        entry_for: Callable[[str, ModelSource | None], CompiledEntry],
        test_file: Path,
        progress: Callable[[str], None] | None = None,
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
        entry = self._entry_for("LATENCY")
        compiled, inputs = self._model_and_inputs(compiled_model, entry)
        wanted = [b.percentile for b in self.budgets if b.latency_ms is not None]
        headline = percentile if percentile is not None else (wanted[0] if wanted else 50.0)
        percentiles = list(dict.fromkeys([headline, *wanted]))
        settings = self._session.settings.measure
        paired: BaselineComparison | None = None
        load = LoadMeter().start()
        probe_ratios: list[float] = []
        probe_value: float | None = None
        use_probe = self._uses_probe("latency")
        if self.spec.reference is None and not use_probe:
            samples, intervals = measure_latency(
                compiled, inputs, settings, percentiles, self._progress
            )
            latencies, measure_s = samples.latencies_ms, samples.measure_s
            blocks = samples.block_medians()
        else:
            # interleave with the reference model, or else with the machine-speed probe
            with_reference = self.spec.reference is not None
            other = (
                self._reference_entry("LATENCY") if with_reference else self._probe_entry("LATENCY")
            )
            model_runner = LatencyBlockRunner(compiled, inputs, settings)
            other_runner = LatencyBlockRunner(other.compiled, other.inputs, settings)
            interleaved = measure_interleaved(
                model_runner,
                other_runner,
                settings,
                self._progress,
                reference_share=1.0 if with_reference else PROBE_SHARE,
            )
            latencies = np.asarray(model_runner.latencies, dtype=float)
            measure_s = interleaved.measure_s
            blocks = list(interleaved.model_blocks)
            intervals = {
                q: percentile_interval(latencies, q, settings.confidence) for q in percentiles
            }
            other_value = float(np.median(other_runner.latencies))
            if with_reference:
                paired = self._paired_comparison(
                    interleaved.log_ratios, other_value, higher_is_better=False
                )
            else:
                probe_ratios, probe_value = list(interleaved.log_ratios), other_value
        result = LatencyResult(
            **self._common_fields(entry, "latency", measure_s),
            interval=intervals[headline],
            statistic=f"p{headline:g}",
            blocks=blocks,
            latencies_ms=latencies,
            percentile=headline,
            baseline=paired,
            probe_log_ratios=probe_ratios,
            probe_value=probe_value,
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
        self._one_off_checks(result, entry)
        return self._conclude(result)

    def measure_throughput(self, infer_pool: InferPool | None = None) -> ThroughputResult:
        """Keep ``infer_pool`` (default: this test's THROUGHPUT compile) busy and count fps."""
        entry = self._entry_for("THROUGHPUT")
        if infer_pool is None:
            infer_pool = InferPool(entry.compiled, entry.inputs)
        settings = self._session.settings.measure
        paired: BaselineComparison | None = None
        load = LoadMeter().start()
        probe_value: float | None = None
        use_probe = self._uses_probe("throughput")
        if self.spec.reference is None and not use_probe:
            samples, interval = measure_throughput(infer_pool, settings, self._progress)
            completed, blocks = samples.completed, samples.block_rates()
            measure_s = samples.measure_s
        else:
            with_reference = self.spec.reference is not None
            model_runner = ThroughputBlockRunner(infer_pool, settings)
            other_block: Callable[[float], float]
            if with_reference:
                reference = self._reference_entry("THROUGHPUT")
                reference_runner = ThroughputBlockRunner(
                    InferPool(reference.compiled, reference.inputs), settings
                )
                other_block = reference_runner
            else:
                # The probe runs sync, as for latency: request.latency times the inference
                # alone, while a tiny model's fps would time Python's submission loop. Here
                # it only tells the machine state; fps/probe ratios proved noisier than fps.
                probe = self._probe_entry("LATENCY")
                probe_runner = LatencyBlockRunner(probe.compiled, probe.inputs, settings)

                def probe_speed(seconds: float) -> float:
                    return 1000.0 / probe_runner(seconds)

                other_block = probe_speed
            interleaved = measure_interleaved(
                model_runner,
                other_block,
                settings,
                self._progress,
                reference_share=1.0 if with_reference else PROBE_SHARE,
                stop_on_model=not with_reference,
            )
            interval = rate_interval(
                model_runner.block_counts, model_runner.block_seconds, settings.confidence
            )
            completed, blocks = model_runner.completed, list(interleaved.model_blocks)
            measure_s = interleaved.measure_s
            if with_reference:
                paired = self._paired_comparison(
                    interleaved.log_ratios,
                    reference_runner.completed / reference_runner.seconds,
                    higher_is_better=True,
                )
            else:
                probe_value = float(np.median(probe_runner.latencies))
        result = ThroughputResult(
            **self._common_fields(entry, "throughput", measure_s),
            interval=interval,
            statistic="fps",
            blocks=blocks,
            completed=completed,
            requests=infer_pool.size,
            baseline=paired,
            probe_value=probe_value,
            foreign_load=load.foreign_load(),
        )
        for budget in self.budgets:
            if budget.throughput_fps is not None:
                result.checks.append(
                    Check.judged(
                        Metric.THROUGHPUT, "fps", interval, budget.throughput_fps, result.n
                    )
                )
        self._one_off_checks(result, entry)
        return self._conclude(result)

    # -- helpers -----------------------------------------------------------------------

    def _uses_probe(self, kind: str) -> bool:
        # the probe only serves the baseline gate: spare the time when nothing is compared
        return self._session.settings.speed_probe and self._session.gate.will_judge(
            self.test_file,
            self.test_name,
            self._session.machine_facts(self.target.device),
            kind,
        )

    def _entry_for(self, hint: str) -> CompiledEntry:
        return self._entry_for_source(hint, None)

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
            "facts": self._facts(entry),
        }

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
                result.checks.append(Check.judged(metric, metric.value, point, limit, 1))

    @property
    def regression_threshold(self) -> float:
        """The test's own threshold (first applicable budget that sets one), else the session's."""
        for budget in self.budgets:
            if budget.regression_threshold is not None:
                return budget.regression_threshold
        return self._session.settings.regression_threshold

    def _reference_entry(self, hint: str) -> CompiledEntry:
        return self._entry_for_source(hint, self.spec.reference)

    def _probe_entry(self, hint: str) -> CompiledEntry:
        return self._session.compile_cache.get(
            PROBE_SPEC, self.target.device, self.target.precision, hint
        )

    def _paired_comparison(
        self, log_ratios: tuple[float, ...], reference_value: float, higher_is_better: bool
    ) -> BaselineComparison:
        outcome = compare_paired(
            log_ratios,
            dataclasses.replace(self._session.gate.settings, threshold=self.regression_threshold),
            higher_is_better,
        )
        ratio, ratio_ci = outcome.ratio(higher_is_better)
        unit = "fps" if higher_is_better else "ms"
        message = "\n    ".join(
            [
                f"reference {self.spec.describe(self.spec.reference)}: "
                f"{'fps' if higher_is_better else 'p50'} = {fmt(reference_value)} {unit} "
                "(measured interleaved, ABBA blocks, same run)",
                f"ratio model/reference = {ratio:.3f}, {outcome.confidence:.0%} CI "
                f"[{ratio_ci[0]:.3f}, {ratio_ci[1]:.3f}] over {len(log_ratios)} block pairs; "
                f"threshold {outcome.threshold:.1%}; p(slowdown <= threshold) = "
                f"{outcome.p_value:.2g} (paired t, df={outcome.df:.0f})",
            ]
        )
        return BaselineComparison.from_gate(outcome, higher_is_better, reference_value, message)

    def _compare_with_baseline(self, result: PerfResult) -> str | None:
        """Fill ``result.baseline`` from the stored baselines; a problem with the baseline
        file comes back as a message (the test fails, the file is left as it is)."""
        if result.baseline is not None:  # judged against an interleaved reference
            return None
        try:
            result.baseline = self._session.gate.check(
                result,
                self.test_file,
                self.test_name,
                self.regression_threshold,
                higher_is_better=result.kind == "throughput",
            )
        except BaselineFileError as exc:
            result.baseline = BaselineComparison("error", message=str(exc))
            return f"ovperf baseline error for {self.nodeid}: {exc}"
        return None

    def _conclude(self, result: ResultT) -> ResultT:
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
        baseline_error = self._compare_with_baseline(result)
        if baseline_error:
            problems.append(baseline_error)
        comparison = result.baseline
        if comparison is not None and comparison.verdict in ("regression", "inconclusive"):
            text = regression_message(result, comparison)
            (problems if comparison.verdict == "regression" else undecided).append(text)
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
