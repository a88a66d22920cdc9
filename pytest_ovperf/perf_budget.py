"""The ``perf_budget`` fixture object: measure with the engine of the kind, judge the
budgets and the baseline, and fail the test when a verdict says so."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import openvino as ov
import pytest

from .collect import Target
from .confirm import CONFIRMABLE_METRICS, Remeasure
from .identity import TestIdentity
from .judging import (
    budget_guard,
    busy_guarded,
    calibrate_checks,
    idle_side_guarded,
    one_off_checks,
    point_checks,
    reference_checks,
)
from .kinds import BUILT_IN, LATENCY, LOAD, MEMORY, THROUGHPUT, UnknownKindError, kind_of
from .kinds.generation import GENERATION, TPOT, TTFT
from .measure.blocks import InferPool
from .measure.engine import (
    CompanionSamples,
    PartnerSamples,
    ProgressCallback,
    measure_latency,
    measure_throughput,
)
from .measure.generation import measure_generation
from .measure.load import LoadMeter
from .measure.loops import batch_timeout_ms
from .measure.memory import MemoryReadingError, MemoryTarget, measure_memory
from .measure.startup import LoadRunner, load_runner, measure_repeated
from .messages import (
    async_stall_message,
    budget_failure_message,
    confirmed_failure_message,
    precision_fallback_message,
    regression_message,
    unconfirmed_failure_message,
)
from .options import InconclusivePolicy, MemoryMode
from .partners import (
    BaselineCopySource,
    ChosenPartner,
    ComparisonPartner,
    Judging,
    PartnerChooser,
    PartnerUnavailable,
    ab_looks,
)
from .results import (
    BaselineComparison,
    Check,
    CompanionFigure,
    GenerationMeasurement,
    GenerationResult,
    LatencyResult,
    LoadResult,
    MemoryResult,
    ObservedResult,
    PerfResult,
    ThroughputResult,
    tokens_per_s,
)
from .runtime.companion import COMPANION_THREADS
from .runtime.device_locks import DeviceLockTimeout, Hold
from .runtime.devices import possible_batch_timeout_ms
from .runtime.generation import (
    GenerationCall,
    GenerationError,
    GenerationSpec,
    PipelineEntry,
    pipeline_files,
)
from .runtime.models import (
    CompiledEntry,
    ModelError,
    ModelSource,
    ModelSpec,
    compile_config,
    config_text,
    make_inputs,
)
from .runtime.profile import RuntimeProfile, attribute
from .session import OvperfSession
from .store.baselines import BaselineFileError
from .store.models import PIPELINE_COPY, ModelStoreError
from .verdicts.ab import AB_LOOKS, AbPlan, AbUnavailable, judge_ab, judge_reference
from .verdicts.budgets import Budget, applicable_budgets, threshold_of
from .verdicts.gate import baseline_error
from .verdicts.kinds import CompareMode, GateVerdict, Metric, Verdict
from .verdicts.stats import Interval, percentile_interval

ResultT = TypeVar("ResultT", bound=PerfResult)


class EntryGetter(Protocol):
    """Compiles the test's model (``source``: another model of its marker) with ``hint``,
    once a session; ``kind``: the measurement it is compiled for, whose partner starts
    first (``fixtures._entry_getter``). A model that cannot be compiled fails the test."""

    def __call__(
        self, hint: str, source: ModelSource | None = None, *, kind: str | None = None
    ) -> CompiledEntry: ...


class OvperfInconclusiveWarning(UserWarning):
    """A budget or baseline verdict that the measurement could not decide."""


class OvperfPrecisionWarning(UserWarning):
    """The device ran another precision than the one asked for."""


class OvperfAsyncStallWarning(UserWarning):
    """Asynchronous inference on the device is far slower than one synchronous inference at
    a time: the throughput figure measures the stall."""


def companion_figure(samples: CompanionSamples | None) -> CompanionFigure | None:
    """The companion's figure of a result, where it ran."""
    if samples is None:
        return None
    return CompanionFigure(samples.value, samples.blocks, COMPANION_THREADS)


def _paired_with(plan: AbPlan | None, partner: PipelineEntry | None) -> bool:
    """Whether a generation kind's A/B plan names the baseline pipeline copy that was
    loaded (the two kinds' baselines may name different copies; one copy is measured)."""
    return (
        plan is not None and partner is not None and plan.model.fingerprint == (partner.fingerprint)
    )


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
        entry_for: EntryGetter,
        test_file: Path,
        partners: PartnerChooser,
        progress: ProgressCallback | None = None,
        remeasure: Remeasure | None = None,
    ) -> None:
        self._session = session
        self.nodeid = nodeid
        self.target = target
        self.spec = spec
        self.budgets = applicable_budgets(budgets, target.device, target.precision)
        self._entry_for_source = entry_for
        self.test_file = test_file
        #: the test's partner chooser, shared with the fixtures that compiled its model (which
        #: started the partner's side first): one A/B plan and one reading of the baseline
        self._partners = partners
        # the baseline key: the node id without its file part ("TestX::test_y[CPU-f32]")
        self.test_name = TestIdentity.from_nodeid(nodeid).name
        self._progress = progress
        #: between this run of the test and the confirmer (``confirm.py``)
        self._remeasure = remeasure if remeasure is not None else Remeasure()
        self.results: list[PerfResult] = []

    # -- measuring ---------------------------------------------------------------------

    def measure_latency(
        self, compiled_model: ov.CompiledModel | None = None, *, percentile: float | None = None
    ) -> LatencyResult:
        """Time sync inferences of ``compiled_model`` (default: this test's LATENCY compile).

        With ``ovperf_model(..., reference=...)`` the reference model is measured in
        interleaved blocks and the result is judged against it instead of a stored baseline.
        """
        entry = self._entry_for(LATENCY.hint, None, kind=LATENCY.name)
        compiled, inputs = self._model_and_inputs(compiled_model, entry)
        wanted = [b.percentile for b in self.budgets if b.latency_ms is not None]
        headline = percentile if percentile is not None else (wanted[0] if wanted else 50.0)
        percentiles = list(dict.fromkeys([headline, *wanted]))
        settings = self._session.settings.measure
        chosen = self._partner(LATENCY.name, entry)
        with self._measuring() as hold:
            load = LoadMeter(helper_pids=chosen.partner.helper_pids).start()
            samples = measure_latency(
                compiled,
                inputs,
                settings,
                percentiles,
                chosen.partner.blocks,
                self._progress,
                chosen.companion,
            )
            hold.release_at = time.time()
        intervals = {q: samples.interval(q, settings.confidence) for q in percentiles}
        result = LatencyResult(
            **self._common_fields(entry, LATENCY.name, samples.measure_s, hold),
            interval=intervals[headline],
            statistic=f"p{headline:g}",
            blocks=list(samples.block_medians),
            latencies_ms=samples.latencies_ms,
            percentile=headline,
            foreign_load=load.foreign_load(),
            companion=companion_figure(samples.companion),
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
        return self._conclude(result, entry, samples.partner, chosen)

    def measure_throughput(self, infer_pool: InferPool | None = None) -> ThroughputResult:
        """Keep ``infer_pool`` (default: this test's THROUGHPUT compile) busy and count fps."""
        entry = self._entry_for(THROUGHPUT.hint, None, kind=THROUGHPUT.name)
        if infer_pool is None:
            infer_pool = InferPool(entry.compiled, entry.inputs)
        settings = self._session.settings.measure
        chosen = self._partner(THROUGHPUT.name, entry)
        with self._measuring() as hold:
            load = LoadMeter(helper_pids=chosen.partner.helper_pids).start()
            samples = measure_throughput(
                infer_pool, settings, chosen.partner.blocks, self._progress, chosen.companion
            )
            hold.release_at = time.time()
        interval = samples.interval(settings.confidence)
        result = ThroughputResult(
            **self._common_fields(entry, THROUGHPUT.name, samples.measure_s, hold),
            interval=interval,
            statistic="fps",
            blocks=samples.block_rates(),
            completed=samples.completed,
            requests=infer_pool.size,
            optimal_requests=infer_pool.optimal_size,
            auto_batch_timeout_ms=batch_timeout_ms(infer_pool.compiled_model),
            possible_batch_timeout_ms=possible_batch_timeout_ms(
                infer_pool.compiled_model, self.target.device, self.spec.config
            ),
            foreign_load=load.foreign_load(),
            companion=companion_figure(samples.companion),
        )
        for budget in self.budgets:
            if budget.throughput_fps is not None:
                result.checks.append(
                    Check.judged(
                        Metric.THROUGHPUT, "fps", interval, budget.throughput_fps, result.n
                    )
                )
        return self._conclude(result, entry, samples.partner, chosen)

    def measure_load(self, *, hint: str = LOAD.hint) -> LoadResult:
        """Read and compile this test's model repeatedly, as an application starts up, and
        time each load (``measure/startup.py``); with ``ovperf_model(..., reference=...)``
        or ``reference_config=`` the reference's loads alternate with the model's (ABBA)
        and the result is judged against it, so ``min_speedup=3`` with ``CACHE_DIR`` in
        ``config`` says "the model cache makes loading at least 3x faster"."""
        entry = self._as_loaded(self._entry_for(hint, None), hint)
        settings = self._session.settings.measure
        problem = ""
        try:
            chosen = self._partners.choose(LOAD.name, entry)
            model = self._load_runner(self.spec, hint)
            other = chosen.partner.model
            partner = self._load_runner(other, hint) if other is not None else None
            with self._measuring() as hold:
                load = LoadMeter().start()
                samples = measure_repeated(model, settings, partner)
                hold.release_at = time.time()
        except (ModelError, PartnerUnavailable) as exc:
            problem = str(exc)
        if problem:
            self._fail(problem)
        interval = samples.interval(settings.confidence)
        result = LoadResult(
            **self._common_fields(entry, LOAD.name, samples.measure_s, hold),
            interval=interval,
            statistic=LOAD.headline,
            blocks=list(samples.values),
            loads_ms=samples.values,
            hint=hint,
            foreign_load=load.foreign_load(),
        )
        for budget in self.budgets:
            if budget.load_ms is not None:
                result.checks.append(
                    Check.judged(Metric.LOAD, LOAD.headline, interval, budget.load_ms, result.n)
                )
        paired = (
            PartnerSamples(samples.partner_values, samples.partner_value, samples.log_ratios)
            if partner is not None
            else None
        )
        return self._conclude(result, entry, paired, chosen)

    def measure_memory(self, *, hint: str = MEMORY.hint) -> MemoryResult:
        """Read the resident memory this test's model keeps once compiled (with one infer
        request, after its first inference) and the peak while reading and compiling
        (``measure/memory.py``), as the median of a few readings, each in a fresh process
        by default (``--ovperf-memory-mode``). With a reference (``reference=``,
        ``reference_config=``) or, after the model changed, the baseline's own model, that
        model is read the same way in this run and the two are compared."""
        entry = self._as_loaded(self._entry_for(hint, None), hint)
        session = self._session
        in_session = session.settings.memory_mode is MemoryMode.SESSION
        problem = ""
        try:
            chosen = self._partners.choose(MEMORY.name, entry)
            # the model files before the device is held: preparing one takes a shared lock
            target = self._memory_target(self.spec, hint)
            partner_spec = chosen.partner.model
            other = self._memory_target(partner_spec, hint) if partner_spec else None
            with self._measuring() as hold:
                samples = measure_memory(session.core, target, in_session)
                partner = measure_memory(session.core, other, in_session) if other else None
                hold.release_at = time.time()
        except (ModelError, PartnerUnavailable, MemoryReadingError) as exc:
            problem = str(exc)
        if problem:
            self._fail(problem)
        memory_mb = samples.median("memory_mb")
        assert memory_mb is not None  # every reading has it
        method = f"median of {len(samples.readings)} readings, {samples.mode}"
        fields = self._common_fields(entry, MEMORY.name, samples.seconds, hold)
        result = MemoryResult(
            **fields,
            interval=Interval(memory_mb, memory_mb, memory_mb, 1.0, method),
            statistic=MEMORY.headline,
            blocks=[r.memory_mb for r in samples.readings],
            memory_mb=memory_mb,
            compile_peak_mb=samples.median("compile_peak_mb"),
            anon_mb=samples.median("anon_mb"),
            file_mb=samples.median("file_mb"),
            device_mb=samples.median("device_mb"),
            spread_mb=samples.spread("memory_mb") or 0.0,
            readings=len(samples.readings),
            mode=samples.mode,
            hint=hint,
        )
        figures = {Metric.MEMORY: memory_mb, Metric.COMPILE_PEAK: result.compile_peak_mb}
        unmeasured = [
            metric
            for budget in self.budgets
            for metric in budget.limits()
            if metric in figures and figures[metric] is None
        ]
        if unmeasured:
            self._fail(
                f"{unmeasured[0].value} cannot be measured here ({samples.mode}: no peak "
                "reading on this system)"
            )
        point_checks(result, self.budgets, figures, method, result.n)
        if partner is not None:
            partner_mb = partner.median("memory_mb")
            assert partner_mb is not None
            result.baseline = session.gate.judge_memory_in_run(
                memory_mb, partner_mb, chosen.partner.plan, chosen.partner.description
            )
        return self._conclude(result, entry, None, chosen)

    def measure_observations(self, kind: str, observe: Callable[[], float]) -> ObservedResult:
        """Measure a kind another plugin added (``pytest_ovperf_kinds``, docs/kinds.md):
        call ``observe()`` repeatedly, each call returning one observation in the kind's
        unit, within the measurement options' time and precision, and gate the result
        against its baseline like every other kind (recorded, compared, reported)."""
        try:
            measured = kind_of(kind)
        except UnknownKindError as exc:
            problem = str(exc.args[0])
        else:
            problem = (
                f"measure_observations is for kinds other plugins add; measure {kind} with "
                + ("measure_generation()" if measured in GENERATION else f"measure_{kind}()")
                if kind in BUILT_IN
                else ""
            )
        if problem:
            self._fail(problem)
        entry = self._entry_for(measured.hint, None)
        settings = self._session.settings.measure
        with self._measuring() as hold:
            load = LoadMeter().start()
            samples = measure_repeated(observe, settings)
            hold.release_at = time.time()
        result = ObservedResult(
            **self._common_fields(entry, measured.name, samples.measure_s, hold),
            interval=samples.interval(settings.confidence, "observations"),
            statistic=measured.headline,
            blocks=list(samples.values),
            values=samples.values,
            foreign_load=load.foreign_load(),
        )
        return self._conclude(result, entry, None, ChosenPartner())

    def measure_generation(self, llm_pipeline: Any = None) -> GenerationMeasurement:
        """Time generate calls of this test's pipeline (``ovperf_llm``; default: the
        ``llm_pipeline`` fixture's): greedy, exactly ``new_tokens`` new tokens from a prompt
        of exactly ``prompt_tokens`` token ids, another prompt each call
        (``measure/generation.py``). Returns TTFT, TPOT and tokens/s with their intervals
        and the pipeline's load time; its two results (kinds ``ttft`` and ``tpot``) are
        judged against their budgets and their own baselines. Where the pipeline changed
        since its baseline, the baseline's pipeline copy is measured interleaved with it
        (A/B, ABBA by call)."""
        spec = self.spec
        generation = spec.generation
        if generation is None:
            self._fail(
                "measure_generation measures the pipeline of @pytest.mark.ovperf_llm(...); "
                "this test names a model with ovperf_model"
            )
        settings = self._session.settings.measure
        problem = ""
        try:
            entry = self._session.pipelines.get(spec, self.target.device, self.target.precision)
            if llm_pipeline is not None and llm_pipeline is not entry.pipeline:
                raise GenerationError(
                    "measure_generation measures this test's own pipeline (the llm_pipeline "
                    "fixture's); another LLMPipeline would be recorded under this test's model"
                )
            facts = self._facts(entry)
            plans, fallback = self._generation_plans(facts)
            partner_entry, partner_call = None, None
            plan = next((p for p in plans.values() if p is not None), None)
            if plan is not None:
                partner_entry, fallback = self._baseline_pipeline(plan, generation, fallback)
            if partner_entry is not None and plan is not None:
                what = f"the baseline's pipeline {plan.model.fingerprint}"
                partner_call = GenerationCall(partner_entry, generation, what)
            model_call = GenerationCall(entry, generation, spec.describe())
            looks = {
                kind.headline_field: ab_looks(
                    self._session.gate, self.regression_threshold, kind.higher_is_better
                )
                for kind in GENERATION
                if _paired_with(plans[kind.name], partner_entry)
            }
            try:
                with self._measuring() as hold:
                    load = LoadMeter().start()
                    samples = measure_generation(model_call, settings, partner_call, looks)
                    hold.release_at = time.time()
            finally:
                if partner_entry is not None:
                    self._session.pipelines.forget(partner_entry)
        except (ModelError, AbUnavailable, ModelStoreError, DeviceLockTimeout) as exc:
            problem = str(exc)
        if problem:
            self._fail(problem)
        confidence = settings.confidence
        ttft, tpot = (
            samples.interval("ttft_ms", confidence),
            samples.interval("tpot_ms", confidence),
        )
        foreign_load = load.foreign_load()  # one measurement, one reading for both kinds
        judged: list[GenerationResult] = []
        for kind in GENERATION:
            figure = kind.headline_field
            result = GenerationResult(
                **self._common_fields(entry, kind.name, samples.measure_s, hold),
                interval=ttft if kind is TTFT else tpot,
                statistic=kind.headline,
                blocks=list(samples.values(figure)),
                ttft_values=samples.values(TTFT.headline_field),
                tpot_values=samples.values(TPOT.headline_field),
                ttft=ttft,
                tpot=tpot,
                prompt_tokens=generation.prompt_tokens,
                new_tokens=generation.new_tokens,
                backend=entry.backend,
                foreign_load=foreign_load,
            )
            self._generation_checks(result, entry)
            kind_plan = plans[kind.name]
            paired = None
            chosen = ChosenPartner(fallback=fallback)
            if kind_plan is not None and _paired_with(kind_plan, partner_entry):
                chosen = ChosenPartner(
                    ComparisonPartner(
                        BaselineCopySource.name,
                        Judging.AB,
                        f"the baseline's pipeline {kind_plan.model.fingerprint}",
                        plan=kind_plan,
                    )
                )
                paired = PartnerSamples(
                    samples.partner_values(figure),
                    samples.partner_value(figure),
                    samples.log_ratios(figure),
                    samples.look,
                )
            # the measurement's one-off costs (load, first call) are judged once, with ttft
            self._judge(result, entry, paired, chosen, one_offs=kind is TTFT)
            self.results.append(result)
            judged.append(result)
        self._decide_all(judged)
        return GenerationMeasurement(judged[0], judged[1])

    def _generation_plans(self, facts: Mapping[str, Any]) -> tuple[dict[str, AbPlan | None], str]:
        """The A/B plan of each generation kind (the baseline's pipeline copy), and why a
        plan that was wanted cannot be had (its kinds then go to the stored runs; under
        ``--ovperf-compare=ab`` it raises ``AbUnavailable``). Under ``auto`` a change of the
        runtime alone is left to the stored runs: the same pipeline twice on this runtime
        says nothing about it; a copy that is not a pipeline directory (the same model file
        recorded by an ``ovperf_model`` test first) cannot run."""
        auto = self._session.settings.compare is CompareMode.AUTO
        plans: dict[str, AbPlan | None] = {}
        fallback = ""
        for kind in GENERATION:
            plan, reason = self._session.gate.plan_ab(
                self.test_file, self.test_name, facts, kind.name
            )
            if plan is not None and auto and not plan.model_changed:
                plan = None
            if plan is not None and plan.model.kind != PIPELINE_COPY:
                reason = (
                    f"no A/B against the baseline's own pipeline: the model store keeps "
                    f"{plan.model.directory} as a model file, not a pipeline directory"
                )
                if not auto:
                    raise AbUnavailable(f"--ovperf-compare=ab: {reason}")
                plan = None
            plans[kind.name] = plan
            fallback = fallback or reason
        return plans, fallback

    def _baseline_pipeline(
        self, plan: AbPlan, generation: GenerationSpec, fallback: str
    ) -> tuple[PipelineEntry | None, str]:
        """The baseline's pipeline copy loaded with its recorded properties; one that cannot
        be loaded leaves the result to the stored runs, saying why (under
        ``--ovperf-compare=ab`` it fails the test)."""
        try:
            loaded = self._session.pipelines.load(
                plan.model.directory, self.target.device, plan.config, generation
            )
        except GenerationError as exc:
            problem = f"the baseline's pipeline {plan.model.fingerprint} cannot run here: {exc}"
            if self._session.settings.compare is CompareMode.AB:
                raise GenerationError(problem) from exc
            return None, f"no A/B against the baseline's own pipeline: {problem}"
        return loaded, fallback

    def _generation_checks(self, result: GenerationResult, entry: PipelineEntry) -> None:
        """The budgets of a generation result's own figure (``ttft_ms`` with its
        percentile on the ttft result; ``tpot_ms`` and ``tokens_per_s`` on the tpot
        result), and the pipeline's load time (``load_ms``, one observation) on the ttft
        result."""
        confidence = self._session.settings.measure.confidence
        for budget in self.budgets:
            if result.kind == TTFT.name and budget.ttft_ms is not None:
                interval = percentile_interval(result.ttft_values, budget.percentile, confidence)
                statistic = f"ttft p{budget.percentile:g}"
                result.checks.append(
                    Check.judged(Metric.TTFT, statistic, interval, budget.ttft_ms, result.n)
                )
            if result.kind == TPOT.name and result.tpot is not None:
                if budget.tpot_ms is not None:
                    result.checks.append(
                        Check.judged(
                            Metric.TPOT,
                            TPOT.headline,
                            result.tpot,
                            budget.tpot_ms,
                            result.n,
                        )
                    )
                if budget.tokens_per_s is not None:
                    rate = tokens_per_s(result.tpot)
                    result.checks.append(
                        Check.judged(
                            Metric.TOKENS_PER_S,
                            "tokens/s (1000/tpot)",
                            rate,
                            budget.tokens_per_s,
                            result.n,
                        )
                    )
        if result.kind == TTFT.name:
            point_checks(
                result,
                self.budgets,
                {Metric.LOAD: entry.compile_ms},
                "single observation (pipeline load)",
                1,
            )

    def _decide_all(self, results: Sequence[PerfResult]) -> None:
        """Decide every result of one measurement before failing: the test's failure names
        each kind that failed, not the first alone. It is held for a re-measure only when
        every failure was one a re-measure can confirm (statistical)."""
        failures: list[str] = []
        statistical = True
        for result in results:
            self._remeasure.requested = ""
            try:
                self._decide(result)
            except pytest.fail.Exception as exc:
                failures.append(str(exc.msg))
                # ``_decide`` asks for a re-measure exactly when its failure was statistical
                statistical &= bool(self._remeasure.requested)
        if failures:
            message = "\n".join(failures)
            self._remeasure.requested = message if statistical and self._remeasure.enabled else ""
            pytest.fail(message, pytrace=False)

    def _memory_target(self, spec: ModelSpec, hint: str) -> MemoryTarget:
        model = self._session.compile_cache.model_file(spec)
        config = compile_config(spec, self.target.precision, hint)
        shape = dict(model.shape) if isinstance(model.shape, Mapping) else model.shape
        return MemoryTarget(str(model.path), shape, self.target.device, config)

    def _load_runner(self, spec: ModelSpec, hint: str) -> LoadRunner:
        """Loads of ``spec`` on this test's device, compiled as the test compiles it."""
        cache = self._session.compile_cache
        return load_runner(
            cache.core,
            cache.model_file(spec),
            self.target.device,
            compile_config(spec, self.target.precision, hint),
            spec.describe(),
        )

    # -- the partner workload ----------------------------------------------------------

    def _partner(self, kind: str, entry: CompiledEntry) -> ChosenPartner:
        """The workload interleaved with the model (``partners/``: the first of its
        sources that offers one); one that cannot be had fails the test with the reason."""
        try:
            return self._partners.choose(kind, entry)
        except PartnerUnavailable as exc:
            problem = str(exc)
        self._fail(problem)

    # -- helpers -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _measuring(self) -> Iterator[Hold]:
        """Hold the test's device for a measurement; a lock held too long by another worker
        fails the test with the reason rather than a traceback."""
        try:
            with self._session.locks.measuring(self.target.device) as hold:
                yield hold
                return
        except DeviceLockTimeout as exc:
            problem = str(exc)
        self._fail(problem)

    def _fail(self, problem: str) -> NoReturn:
        pytest.fail(f"{self.nodeid}: {problem}", pytrace=False)

    def _entry_for(
        self, hint: str, source: ModelSource | None, *, kind: str | None = None
    ) -> CompiledEntry:
        return self._entry_for_source(hint, source, kind=kind)

    def _model_and_inputs(
        self, compiled_model: ov.CompiledModel | None, entry: CompiledEntry
    ) -> tuple[ov.CompiledModel, list[Any]]:
        if compiled_model is None or compiled_model is entry.compiled:
            return entry.compiled, entry.inputs
        return compiled_model, make_inputs(compiled_model, self.spec.inputs, self.nodeid)

    def _common_fields(
        self, entry: CompiledEntry | PipelineEntry, kind: str, measure_s: float, hold: Hold
    ) -> dict[str, Any]:
        """The fields every result kind shares."""
        return {
            "measured_from": hold.granted_at,
            "measured_until": hold.release_at,
            "device_wait_s": hold.waited_s,
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

    def _as_loaded(self, entry: CompiledEntry, hint: str) -> CompiledEntry:
        """``entry`` with the config a fresh load compiles with (``compile_config``: the
        test's own; on AUTO with its start-up helper), which load time and memory measure
        and record, where the measured compile runs steady inference
        (``steady_compile_config``)."""
        loaded = config_text(compile_config(self.spec, self.target.precision, hint))
        return entry if loaded == entry.config else replace(entry, config=loaded)

    def _facts(self, entry: CompiledEntry | PipelineEntry) -> dict[str, Any]:
        """Machine and software facts of a result of ``entry``."""
        return self._session.result_facts(
            self.target.device, self.spec.describe(), entry.fingerprint, entry.config
        )

    @property
    def regression_threshold(self) -> float:
        """The test's own threshold (first applicable budget that sets one), else the session's."""
        return threshold_of(self.budgets, self._session.settings.regression_threshold)

    def _judge_baseline(
        self,
        result: PerfResult,
        samples: PartnerSamples | None,
        chosen: ChosenPartner,
    ) -> None:
        """Fill ``result.baseline`` by the chosen partner's judging: against the reference or
        the baseline's own model (A/B) measured beside it, else the stored runs (a problem
        with the baseline file is an ``error`` comparison). A recorded run also keeps a copy
        of its model for later A/B runs."""
        if result.baseline is not None:  # judged where it was measured (memory's partner)
            return
        partner = chosen.partner
        paired = self._paired_verdict(result, partner, samples)
        if paired is not None:
            result.baseline = busy_guarded(result, paired, self._session.settings.max_foreign_load)
            if partner.idle_cpu is not None:
                result.baseline = idle_side_guarded(result.baseline, partner.idle_cpu())
            # a source before it wanted to run and could not (the baseline's runtime)
            result.baseline.fallback = chosen.fallback
            return
        if partner.judging is Judging.PROBE and samples is not None:
            result.probe_value = samples.value
            if result.kind == LATENCY.name:
                result.probe_log_ratios = list(samples.log_ratios)
        gate = self._session.gate
        try:
            if gate.update:  # the copy first: a stored run never names a model not kept
                self._keep_model_copy()
            result.baseline = gate.check(
                result, self.test_file, self.test_name, self.regression_threshold, chosen.fallback
            )
        except (BaselineFileError, ModelStoreError) as exc:
            result.baseline = baseline_error(exc)

    def _paired_verdict(
        self, result: PerfResult, partner: ComparisonPartner, samples: PartnerSamples | None
    ) -> BaselineComparison | None:
        """The verdict against a partner measured in this run, the paired test over its log
        ratios; ``None`` where the partner is not judged so (the probe, none)."""
        if samples is None:
            return None
        gate, hib = self._session.gate, result.higher_is_better
        if partner.judging is Judging.REFERENCE:
            settings = gate.settings_for(self.regression_threshold)
            return judge_reference(
                samples.log_ratios, samples.value, partner.description, settings, hib
            )
        if partner.judging is Judging.AB and partner.plan is not None:
            looks = partner.blocks.looks if partner.blocks is not None else None
            if looks is not None:  # blocks: the sequential test's looks
                look = samples.look if samples.look is not None else looks.count - 1
                settings, count = gate.ab_settings(self.regression_threshold, look), looks.count
            elif samples.look is not None:  # generate calls: the same looks (ab_looks)
                settings = gate.ab_settings(self.regression_threshold, samples.look)
                count = AB_LOOKS
            else:  # whole observations (loads): one judgement at the end, at the full level
                settings, count = gate.settings_for(self.regression_threshold), 1
            return judge_ab(
                samples.log_ratios,
                samples.value,
                partner.plan,
                settings,
                hib,
                count,
                partner.runtime,
            )
        return None

    def _keep_model_copy(self) -> None:
        """Keep the recorded model in the model store, for A/B runs against this baseline
        (a generation pipeline: its directory's files)."""
        if self.spec.generation is not None:
            entry = self._session.pipelines.get(
                self.spec, self.target.device, self.target.precision
            )
            directory = self.spec.generation.directory
            self._session.model_store.put(
                entry.fingerprint, None, directory, None, files=pipeline_files(directory)
            )
            return
        prepared = self._session.compile_cache.prepare(self.spec)
        self._session.model_store.put(
            prepared.fingerprint, prepared.model, self.spec.resolved_path(), self.spec.shape
        )

    @property
    def strict_precision(self) -> bool:
        """The test's own ``strict_precision`` (first applicable budget that sets it), else
        the session's ``--ovperf-strict-precision``."""
        for budget in self.budgets:
            if budget.strict_precision is not None:
                return budget.strict_precision
        return self._session.settings.strict_precision

    def _profile(self, result: PerfResult) -> None:
        """Profile the measured compile (runtime precision, layers); a profile that cannot
        be made leaves the result without one."""
        # where inference time goes: for the kinds that time inference
        if not self._session.settings.profile or not kind_of(result.kind).interleaved:
            return
        try:
            result.profile = self._profile_of(self.spec, result.kind)
        except ModelError:
            return

    def _profile_of(self, spec: ModelSpec, kind: str) -> RuntimeProfile:
        """The profile of ``spec`` compiled as this test measures ``kind``."""
        return self._session.compile_cache.profile(
            spec, self.target.device, self.target.precision, kind_of(kind).hint
        )

    def _attribute(self, result: PerfResult, partner: ComparisonPartner) -> None:
        """After a regression (or a failed speedup budget), rank the layer types by the time
        they gained against the compared model: profiled here when it is at hand (A/B,
        reference), else the profile stored with the baseline (history)."""
        comparison = result.baseline
        if result.profile is None or comparison is None:
            return
        budget_failed = any(
            c.verdict is Verdict.FAIL for c in result.checks if c.metric.against_reference
        )
        if comparison.verdict is not GateVerdict.REGRESSION and not budget_failed:
            return
        if partner.profile is not None:  # it runs elsewhere: it profiles itself
            try:
                other = partner.profile().by_type()
            except ModelError:
                return
        elif partner.model is not None:
            try:
                other = self._profile_of(partner.model, result.kind).by_type()
            except ModelError:
                return
        else:
            stored = self._session.gate.stored_profile(
                self.test_file, self.test_name, result.facts, result.kind
            )
            if stored is None:
                return
            other = stored
        result.attribution = attribute(other, result.profile.by_type())

    def _conclude(
        self,
        result: ResultT,
        entry: CompiledEntry | PipelineEntry,
        samples: PartnerSamples | None,
        chosen: ChosenPartner,
    ) -> ResultT:
        """Judge a measured result, keep it for the reports, then decide the test."""
        self._judge(result, entry, samples, chosen)
        self.results.append(result)
        self._decide(result)
        return result

    def _judge(
        self,
        result: PerfResult,
        entry: CompiledEntry | PipelineEntry,
        samples: PartnerSamples | None,
        chosen: ChosenPartner,
        one_offs: bool = True,
    ) -> None:
        """Every verdict of ``result``: one-off costs (unless another result of the same
        measurement judges them), the baseline (recorded or compared), speedup budgets, the
        machine guards, calibrated budgets, attribution."""
        settings = self._session.settings
        if one_offs:
            one_off_checks(result, self.budgets, entry.compile_ms, entry.first_inference_ms)
        # the drift before this run is recorded: a run is not evidence about itself
        gate = self._session.gate
        drift = gate.drift_for(self.test_file, self.test_name, result.facts, result.kind)
        fastest_probe = gate.fastest_probe(self.test_file, result.facts)
        self._profile(result)  # before recording: a recorded run keeps its profile
        self._judge_baseline(result, samples, chosen)
        reference_checks(result, self.budgets)
        guard = budget_guard(
            result, fastest_probe, settings.max_foreign_load, settings.max_probe_shift
        )
        calibrate_checks(result, drift, guard, settings.measure.confidence)
        self._attribute(result, chosen.partner)

    def _decide(self, result: PerfResult) -> None:
        """Fail, warn or pass the test on the verdicts (a statistical failure may be held
        for a re-measure, ``confirm.py``)."""
        if (
            result.precision != result.requested_precision
            and result.requested_precision != "default"
        ):
            warnings.warn(
                OvperfPrecisionWarning(
                    f"{self.nodeid}: asked {result.device} for {result.requested_precision}, "
                    f"it runs {result.precision}"
                ),
                stacklevel=4,
            )
        problems: list[str] = []
        undecided: list[str] = []
        # a failure on verdicts alone may be held for a re-measure (``confirm.py``)
        statistical = True
        fallback_text = precision_fallback_message(result)
        if fallback_text and self.strict_precision:
            problems.append(fallback_text + " (strict_precision)")
            statistical = False
        elif fallback_text:
            warnings.warn(OvperfPrecisionWarning(fallback_text), stacklevel=4)
        stall_text = async_stall_message(result)
        if stall_text:
            warnings.warn(OvperfAsyncStallWarning(stall_text), stacklevel=4)
        failed = [c for c in result.checks if c.verdict is Verdict.FAIL]
        unsure = [c for c in result.checks if c.verdict is Verdict.INCONCLUSIVE]
        if failed:
            problems.append(budget_failure_message(result, failed + unsure))
            statistical &= all(c.metric in CONFIRMABLE_METRICS for c in failed)
        elif unsure:
            undecided.append(budget_failure_message(result, unsure))
        comparison = result.baseline
        if comparison is not None and comparison.verdict is GateVerdict.ERROR:
            problems.append(f"ovperf baseline error for {self.nodeid}: {comparison.error}")
            statistical = False
        elif comparison is not None and comparison.verdict in (
            GateVerdict.REGRESSION,
            GateVerdict.INCONCLUSIVE,
        ):
            text = regression_message(result, comparison)
            regression = comparison.verdict is GateVerdict.REGRESSION
            statistical &= kind_of(result.kind).confirmable
            (problems if regression else undecided).append(text)
        first_failure = self._remeasure.first_failure
        if first_failure:
            result.first_failure = first_failure
            result.confirmed = bool(problems)
        if problems:
            message = "\n".join(problems + undecided)
            if first_failure:
                message = confirmed_failure_message(message, first_failure)
            elif statistical and self._remeasure.enabled:
                self._remeasure.requested = message
            pytest.fail(message, pytrace=False)
        if first_failure:
            undecided.insert(0, unconfirmed_failure_message(self.nodeid, first_failure))
        if undecided:
            self._inconclusive("\n".join(undecided))

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
            warnings.warn(OvperfInconclusiveWarning(message + hint), stacklevel=5)
