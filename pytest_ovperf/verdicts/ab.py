"""A/B comparisons: whether to measure the baseline's own model interleaved with the current
one, the sequential test's levels at each look, and the verdicts of paired measurements
(against the baseline's model or a test's ``reference=``; memory read in the same run)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import BaselineComparison, StoredBaseline
from ..runtime.facts import SOFTWARE_FACTS, software_changes
from ..store.models import ModelStore, ModelStoreError, StoredModel
from ..store.reader import BaselineReader, stored_baseline
from ..store.schema import history_of
from .comparison import GateSettings, compare_paired
from .kinds import CompareMode, GateMethod
from .memory import MemoryJudgement
from .sequential import look_confidence

#: looks of the group-sequential A/B test (O'Brien-Fleming boundaries, ``sequential.py``)
AB_LOOKS = 4


@dataclass(frozen=True)
class AbPlan:
    """The baseline's own model, to be measured interleaved with the current one."""

    model: StoredModel
    #: the compile config the baseline was recorded with
    config: dict[str, str]
    stored: StoredBaseline
    #: software fact -> (baseline value, current value), for the facts that differ
    what_changed: dict[str, tuple[Any, Any]]

    @property
    def model_changed(self) -> bool:
        """Whether the model or its config changed (else only the runtime did: the same
        model measured twice on this runtime says nothing about that change)."""
        return bool({"model_hash", "config"} & set(self.what_changed))


class AbUnavailable(Exception):
    """``--ovperf-compare=ab`` and the baseline's model cannot be had."""


@dataclass(frozen=True)
class AbPlanner:
    """Decides, per test, whether its baseline's own model is measured beside it."""

    reader: BaselineReader
    model_store: ModelStore
    compare_mode: CompareMode
    #: recording baselines (``--ovperf-update-baselines``)
    update: bool

    def plan(
        self,
        test_file: Path,
        test_name: str,
        facts: Mapping[str, Any],
        kind: str,
    ) -> tuple[AbPlan | None, str]:
        """Whether to measure the baseline's own model beside this one (A/B), and if it was
        wanted but cannot be had, why (the comparison then uses the stored runs).

        ``auto`` does A/B when the model, its compile config or the OpenVINO runtime
        changed since the baseline and the baseline's copy is at hand (a runtime change
        alone is measured only where the baseline's runtime can run beside this one:
        ``partners/baseline_runtime.py``); ``ab`` always does, and raises ``AbUnavailable``
        when the copy cannot be had; ``history`` never does. Recording never does.
        """
        if self.update or self.compare_mode is CompareMode.HISTORY:
            return None, ""
        path = self.reader.path_for(test_file)
        # an unreadable file is reported by check()
        entry = self.reader.entry_for(test_file, test_name, facts, kind)
        runs = history_of(entry) if entry is not None else []
        if entry is None or not runs:
            return None, ""
        baseline_software = entry.get("software", {})
        current = {k: facts.get(k) for k in SOFTWARE_FACTS}
        changed = software_changes(baseline_software, current)
        if self.compare_mode is CompareMode.AUTO and not (
            "model_hash" in changed or "config" in changed or "openvino" in changed
        ):
            return None, ""
        fingerprint = baseline_software.get("model_hash")
        try:
            if not isinstance(fingerprint, str):
                raise ModelStoreError(f"{path}: the baseline of {test_name} names no model_hash")
            model = self.model_store.get(fingerprint)
        except ModelStoreError as exc:
            if self.compare_mode is CompareMode.AB:
                raise AbUnavailable(
                    f"--ovperf-compare=ab needs the baseline's model, which cannot be had: {exc}"
                ) from exc
            return None, f"no A/B against the baseline's own model: {exc}"
        config = baseline_software.get("config") or {}
        plan = AbPlan(
            model,
            {str(k): str(v) for k, v in config.items()},
            stored_baseline(path, entry, runs),
            changed,
        )
        return plan, ""


def look_settings(base: GateSettings, look: int) -> GateSettings:
    """The levels of the sequential A/B test at ``look`` (0-based; the last,
    ``AB_LOOKS - 1``, also judges a measurement that ran to its time budget), from the
    test's ``base`` settings: O'Brien-Fleming boundaries (``sequential.py``), so the whole
    test keeps the stated rates whatever look it stops at."""
    return dataclasses.replace(
        base,
        confidence=look_confidence(base.confidence, look, AB_LOOKS),
        equivalence_confidence=look_confidence(base.equivalence_confidence, look, AB_LOOKS),
    )


def judge_ab(
    log_ratios: Sequence[float],
    baseline_value: float,
    plan: AbPlan,
    settings: GateSettings,
    higher_is_better: bool,
    looks: int = AB_LOOKS,
    runtime: str = "",
) -> BaselineComparison:
    """The verdict of the current model against the baseline's own model, measured
    interleaved (paired), at the levels of the sequential test's look that stopped it
    (``settings``: ``BaselineGate.ab_settings``; one look for the kinds measured in whole
    observations); ``runtime`` names the other runtime it ran under, if not this one."""
    return _judge_paired(
        log_ratios,
        baseline_value,
        settings,
        higher_is_better,
        GateMethod.AB,
        f"the baseline's model {plan.model.fingerprint} ({plan.model.path})"
        + (f" under {runtime}" if runtime else ""),
        stored=plan.stored,
        what_changed=plan.what_changed,
        looks=looks,
    )


def judge_reference(
    log_ratios: Sequence[float],
    reference_value: float,
    reference: str,
    settings: GateSettings,
    higher_is_better: bool,
) -> BaselineComparison:
    """The verdict of a model against its ``reference=``, measured interleaved (paired)."""
    return _judge_paired(
        log_ratios, reference_value, settings, higher_is_better, GateMethod.REFERENCE, reference
    )


def _judge_paired(
    log_ratios: Sequence[float],
    other_value: float,
    settings: GateSettings,
    higher_is_better: bool,
    method: GateMethod,
    other: str,
    stored: StoredBaseline | None = None,
    what_changed: dict[str, tuple[Any, Any]] | None = None,
    looks: int = 0,
) -> BaselineComparison:
    outcome = compare_paired(log_ratios, settings, higher_is_better)
    return BaselineComparison(
        outcome.verdict,
        method=method,
        higher_is_better=higher_is_better,
        outcome=outcome,
        baseline_value=other_value,
        reference=other,
        stored=stored,
        what_changed=what_changed or {},
        looks=looks,
    )


def memory_in_run(
    judgement: MemoryJudgement, other_mb: float, plan: AbPlan | None, reference: str
) -> BaselineComparison:
    """Memory against a model read the same way in this run: the baseline's own model
    (``plan``, A/B) or the test's reference (described by ``reference``); ``judgement``
    is the memory rule's on the two readings."""
    if plan is None:
        return BaselineComparison(
            judgement.verdict,
            method=GateMethod.REFERENCE,
            baseline_value=other_mb,
            reference=reference,
            memory=judgement,
        )
    return BaselineComparison(
        judgement.verdict,
        method=GateMethod.AB,
        baseline_value=other_mb,
        stored=plan.stored,
        reference=f"the baseline's model {plan.model.fingerprint}",
        what_changed=dict(plan.what_changed),
        memory=judgement,
    )
