"""The baseline's own model: its stored copy, measured beside the test's model (A/B)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..kinds import kind_of
from ..measure.engine import Partner, SequentialLooks
from ..runtime.models import CompiledEntry, ModelError, ModelSpec
from ..verdicts.ab import AB_LOOKS, AbPlan, AbUnavailable
from ..verdicts.comparison import compare_paired
from ..verdicts.gate import BaselineGate
from ..verdicts.kinds import CompareMode, GateVerdict
from .base import ComparisonPartner, Fallback, Judging, Offer, PartnerSource, PartnerUnavailable


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


def ab_looks(gate: BaselineGate, threshold: float, higher_is_better: bool) -> SequentialLooks:
    """The looks of an A/B measurement: ``AB_LOOKS`` of them, settled at a look where
    ``compare_paired`` at that look's levels (``BaselineGate.ab_settings``) says anything but
    inconclusive."""

    def settled(log_ratios: Sequence[float], look: int) -> bool:
        settings = gate.ab_settings(threshold, look)
        verdict = compare_paired(log_ratios, settings, higher_is_better).verdict
        return verdict is not GateVerdict.INCONCLUSIVE

    return SequentialLooks(AB_LOOKS, settled)


class BaselineCopySource(PartnerSource):
    """The baseline's own model where the gate plans an A/B comparison
    (``BaselineGate.plan_ab``: under ``--ovperf-compare=auto`` when the model or its config
    changed since the baseline, always under ``ab``), compiled on this runtime. A copy that
    cannot be had or run is a ``Fallback`` (the stored runs judge the result), or under
    ``ab`` fails the test."""

    name = "baseline-copy"

    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        context = self.context
        try:
            plan, fallback = context.ab_plan(kind, entry)
        except AbUnavailable as exc:
            raise PartnerUnavailable(str(exc)) from None
        if plan is None:
            return Fallback(fallback) if fallback else None
        auto = context.session.settings.compare is CompareMode.AUTO
        if auto and not plan.model_changed:
            # only the runtime changed: the same model on this runtime twice says nothing
            # (``BaselineRuntimeSource`` measures it under its own runtime where it can)
            return None
        model = baseline_spec(plan, context.spec.inputs)
        description = f"the baseline's model {plan.model.fingerprint}"
        partner = ComparisonPartner(self.name, Judging.AB, description, model=model, plan=plan)
        measured = kind_of(kind)
        if not measured.interleaved:
            return partner
        try:
            compiled = context.compile(model, measured.hint)
        except ModelError as exc:
            # the baseline's model compiled with its recorded config on this runtime
            problem = f"{description} cannot run here: {exc}"
            if context.session.settings.compare is CompareMode.AB:
                raise PartnerUnavailable(problem) from None
            return Fallback(f"no A/B against the baseline's own model: {problem}")
        looks = ab_looks(
            context.session.gate, context.regression_threshold, measured.higher_is_better
        )
        runner = context.runner(kind, compiled)
        return replace(partner, blocks=Partner(runner, 1.0, True, looks))
