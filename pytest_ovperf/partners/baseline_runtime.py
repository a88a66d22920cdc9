"""The baseline's own model under the baseline's own runtime: an OpenVINO upgrade judged in
one run (``--ovperf-compare=auto`` or ``ab``, the baseline recorded under another release)."""

from __future__ import annotations

from ..kinds import kind_of
from ..runtime.models import CompiledEntry, ModelError
from ..runtime.side.environment import SideRuntimeError
from ..runtime.side.pool import release_of
from ..verdicts.ab import AbPlan, AbUnavailable
from ..verdicts.kinds import CompareMode
from .base import Fallback, Judging, Offer, PartnerSource, PartnerUnavailable
from .baseline_copy import ab_looks, baseline_spec
from .side_runtime import load_ahead, start_side


class BaselineRuntimeSource(PartnerSource):
    """Where the gate plans an A/B comparison (``BaselineGate.plan_ab``) and the baseline
    was recorded under another OpenVINO release: the baseline's model copy, compiled with its
    recorded config, runs under that release in a worker (``runtime/side/``), interleaved
    with the test's model under this runtime, so the whole software change (model, config
    and runtime) is judged in one run, as A/B. A release that cannot be had (offline, no
    wheel for this platform or Python) or a copy it cannot run is a ``Fallback`` (the next
    source, else the stored runs, judge the result), and under ``--ovperf-compare=ab``
    fails the test. Not for load time and memory."""

    name = "baseline-runtime"

    def _planned(self, kind: str, entry: CompiledEntry | None) -> tuple[AbPlan, str] | None:
        """The A/B plan and the baseline's release where this source applies."""
        if not kind_of(kind).interleaved:
            return None
        try:
            plan, _ = self.context.ab_plan(kind, entry)
        except AbUnavailable:
            return None  # the copy cannot be had: the next source says so
        if plan is None or "openvino" not in plan.what_changed:
            return None
        release = release_of(plan.what_changed["openvino"][0])
        if release is None:
            return None  # not a release pip installs (a custom build): nothing to measure
        return plan, release

    def preload(self, kind: str) -> bool:
        try:
            planned = self._planned(kind, None)
        except ModelError:
            return False  # the test's model cannot be read: its compile says so
        if planned is None:
            return False
        plan, release = planned
        load_ahead(self.context, baseline_spec(plan, self.context.spec.inputs), release, kind)
        return True

    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        context = self.context
        measured = kind_of(kind)
        planned = self._planned(kind, entry)
        if planned is None:
            return None
        plan, release = planned
        description = f"the baseline's model {plan.model.fingerprint}"
        try:
            side = start_side(
                context,
                baseline_spec(plan, context.spec.inputs),
                release,
                kind,
                entry,
                "model_hash" not in plan.what_changed,
            )
        except (SideRuntimeError, ModelError) as exc:
            problem = f"{description} cannot run under the baseline's OpenVINO {release}: {exc}"
            if context.session.settings.compare is CompareMode.AB:
                raise PartnerUnavailable(problem) from None
            return Fallback(f"no A/B under the baseline's runtime: {problem}")
        looks = ab_looks(
            context.session.gate, context.regression_threshold, measured.higher_is_better
        )
        description = "; ".join([f"{description} under {side.runtime}", *side.notes])
        return side.partner(self.name, Judging.AB, description, looks, plan)
