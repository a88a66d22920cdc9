"""The workload interleaved with a test's model: its ``reference=``, the baseline's own
model (A/B against the stored copy), or else the speed probe; and the compiles they need."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .collect import Target
from .kinds import LATENCY, kind_of
from .measure.blocks import InferPool, LatencyBlocks, ThroughputBlocks
from .measure.engine import Companion, Partner, SequentialLooks
from .runtime.companion import COMPANION_DEVICE, COMPANION_SHARE, COMPANION_THREADS, companion_spec
from .runtime.models import CompiledEntry, ModelError, ModelSpec
from .runtime.probe import PROBE_SHARE, PROBE_SPEC
from .session import OvperfSession
from .verdicts.comparison import compare_paired
from .verdicts.gate import AB_LOOKS, AbPlan, AbUnavailable
from .verdicts.kinds import CompareMode, GateVerdict


def baseline_spec(plan: AbPlan, inputs: Any) -> ModelSpec:
    """The baseline's own model, as recorded (its copy, shape and compile config), fed the
    test's ``inputs``."""
    return ModelSpec(
        source=plan.model.path,
        shape=plan.model.shape,
        config=plan.config,
        inputs=inputs,
        base_dir=plan.model.directory,
    )


class PartnerUnavailable(Exception):
    """A workload the test needs cannot be had (its reference, the baseline's model under
    ``--ovperf-compare=ab``, the speed probe); the message says why and the test fails."""


@dataclass(frozen=True)
class ChosenPartner:
    """The workload interleaved with the model (``None``: the model alone), the A/B plan
    when it is the baseline's own model, and why no A/B was made when one was wanted."""

    partner: Partner | None
    plan: AbPlan | None = None
    fallback: str = ""
    #: the one-thread compute companion (history comparisons and recordings on the CPU)
    companion: Companion | None = None


class PartnerChooser:
    """Chooses and compiles the partner workload of one test's measurements."""

    def __init__(
        self,
        session: OvperfSession,
        spec: ModelSpec,
        target: Target,
        test_file: Path,
        test_name: str,
        regression_threshold: float,
        facts: Callable[[CompiledEntry], dict[str, Any]],
    ) -> None:
        self._session = session
        self.spec = spec
        self.target = target
        self.test_file = test_file
        self.test_name = test_name
        self.regression_threshold = regression_threshold
        self._facts = facts

    def choose(self, kind: str, entry: CompiledEntry) -> ChosenPartner:
        """In order: the ``reference=`` model; the baseline's own model (A/B, see
        ``BaselineGate.plan_ab``); else the speed probe (unless switched off). The probe is
        chosen whether or not a baseline exists, so budgets are judged from the same kind
        of measurement on every run. Raises ``PartnerUnavailable``.
        """
        settings = self._session.settings
        hint = kind_of(kind).hint
        if self.spec.has_reference:
            reference = self._reference_entry(hint)
            return ChosenPartner(Partner(self._runner(kind, reference), 1.0, True))
        plan, fallback = self._ab_plan(kind, entry)
        if plan is not None:
            baseline = self._baseline_entry(plan, hint)
            if isinstance(baseline, str):
                fallback = baseline
            else:
                looks = self._ab_looks(kind_of(kind).higher_is_better)
                return ChosenPartner(Partner(self._runner(kind, baseline), 1.0, True, looks), plan)
        judged = self._session.gate.will_judge(
            self.test_file, self.test_name, self._session.machine_facts(self.target.device), kind
        )
        companion = self._companion(kind) if judged else None
        if not settings.speed_probe:
            return ChosenPartner(None, None, fallback, companion)
        # The probe runs sync for both kinds: request.latency times the inference alone,
        # while a tiny model's fps would time Python's submission loop. For throughput it
        # only tells the machine state (fps/probe ratios proved noisier than fps itself).
        probe = self._probe_entry()
        runner = LatencyBlocks(probe.compiled, probe.inputs, settings.measure)
        partner = Partner(runner, PROBE_SHARE, kind == LATENCY.name and judged)
        return ChosenPartner(partner, None, fallback, companion)

    def choose_model(
        self, kind: str, entry: CompiledEntry
    ) -> tuple[ModelSpec | None, AbPlan | None, str]:
        """For a kind measured in whole loads, not blocks (``interleaved`` False): the model
        its loads alternate with, in the order ``choose`` takes them (the ``reference=``
        model or config, then the baseline's own model), the A/B plan when it is the
        baseline's, and why no A/B was made when one was wanted. No speed probe: it times
        inference, not loading. Raises ``PartnerUnavailable``."""
        if self.spec.has_reference:
            return self.spec.reference_spec(), None, ""
        plan, fallback = self._ab_plan(kind, entry)
        if plan is None:
            return None, None, fallback
        return baseline_spec(plan, self.spec.inputs), plan, ""

    def _companion(self, kind: str) -> Companion | None:
        """The one-thread compute companion of a history comparison or a recording: on the
        CPU only, unless switched off, and not where the test's latency is one thread
        already. A companion that cannot be compiled is left out (the test goes on)."""
        settings = self._session.settings
        if not settings.companion or self.target.device != COMPANION_DEVICE:
            return None
        threads = self.spec.config.get("INFERENCE_NUM_THREADS")
        if kind == LATENCY.name and str(threads) == str(COMPANION_THREADS):
            return None
        try:
            entry = self._session.compile_cache.get(
                companion_spec(self.spec), self.target.device, self.target.precision, "LATENCY"
            )
        except ModelError:
            return None
        return Companion(
            LatencyBlocks(entry.compiled, entry.inputs, settings.measure), COMPANION_SHARE
        )

    def _runner(self, kind: str, entry: CompiledEntry) -> LatencyBlocks | ThroughputBlocks:
        measure = self._session.settings.measure
        if kind == LATENCY.name:
            return LatencyBlocks(entry.compiled, entry.inputs, measure)
        return ThroughputBlocks(InferPool(entry.compiled, entry.inputs), measure)

    def _ab_plan(self, kind: str, entry: CompiledEntry) -> tuple[AbPlan | None, str]:
        try:
            return self._session.gate.plan_ab(
                self.test_file, self.test_name, self._facts(entry), kind
            )
        except AbUnavailable as exc:
            raise PartnerUnavailable(str(exc)) from None

    def _baseline_entry(self, plan: AbPlan, hint: str) -> CompiledEntry | str:
        """The baseline's model compiled with its recorded config on this runtime, or why
        it cannot be (a test error with ``--ovperf-compare=ab``)."""
        try:
            return self._session.compile_cache.get(
                baseline_spec(plan, self.spec.inputs),
                self.target.device,
                self.target.precision,
                hint,
            )
        except ModelError as exc:
            problem = f"the baseline's model {plan.model.fingerprint} cannot run here: {exc}"
        if self._session.settings.compare is CompareMode.AB:
            raise PartnerUnavailable(problem)
        return f"no A/B against the baseline's own model: {problem}"

    def _reference_entry(self, hint: str) -> CompiledEntry:
        """The reference compiled: ``reference=`` and/or ``reference_config=``."""
        try:
            return self._session.compile_cache.get(
                self.spec.reference_spec(), self.target.device, self.target.precision, hint
            )
        except ModelError as exc:
            raise PartnerUnavailable(f"the reference cannot run: {exc}") from None

    def _ab_looks(self, higher_is_better: bool) -> SequentialLooks:
        gate, threshold = self._session.gate, self.regression_threshold

        def settled(log_ratios: Sequence[float], look: int) -> bool:
            settings = gate.ab_settings(threshold, look)
            verdict = compare_paired(log_ratios, settings, higher_is_better).verdict
            return verdict is not GateVerdict.INCONCLUSIVE

        return SequentialLooks(AB_LOOKS, settled)

    def _probe_entry(self) -> CompiledEntry:
        try:
            return self._session.compile_cache.get(
                PROBE_SPEC, self.target.device, self.target.precision, "LATENCY"
            )
        except ModelError as exc:
            raise PartnerUnavailable(
                f"the speed probe cannot run (--ovperf-speed-probe=off skips it): {exc}"
            ) from None
