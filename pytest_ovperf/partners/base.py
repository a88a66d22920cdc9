"""What a comparison partner is, and what a source of partners implements.

A *comparison partner* is the workload a test's model is measured beside, in this run: how it
runs (a block between the model's blocks, or the model whole loads alternate with), how a
result measured beside it is judged, and how messages name it. A *source* offers at most one
partner for a test's measurement of a kind; the chooser (``partners/__init__.py``) asks the
sources in their order and takes the first partner offered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import ClassVar, Union

from ..collect import Target
from ..kinds import LATENCY, kind_of
from ..measure.blocks import InferPool, LatencyBlocks, ThroughputBlocks
from ..measure.engine import Partner
from ..runtime.models import CompiledEntry, ModelSpec
from ..runtime.profile import RuntimeProfile
from ..session import OvperfSession
from ..verdicts.ab import AbPlan, AbUnavailable


class PartnerUnavailable(Exception):
    """A workload the test needs cannot be had (its reference, the baseline's model under
    ``--ovperf-compare=ab``, the speed probe); the message says why and the test fails."""


class Judging(str, Enum):
    """How a result measured beside a partner is judged."""

    #: paired, against the ``reference=`` model measured in this run (``judge_reference``)
    REFERENCE = "reference"
    #: paired, against the baseline's own model measured in this run (``judge_ab``), at the
    #: partner's sequential looks (one look, at the full level, for whole loads)
    AB = "ab"
    #: against the stored runs, with the speed probe's figures beside: its latency (the
    #: machine state guard) and, for latency, the model/probe ratios (normalization)
    PROBE = "probe"
    #: against the stored runs alone: no partner
    HISTORY = "history"

    @property
    def against_stored_runs(self) -> bool:
        """Whether the result goes to the stored runs (compared or recorded) rather than to a
        model measured in this run."""
        return self in (Judging.PROBE, Judging.HISTORY)


@dataclass(frozen=True)
class ComparisonPartner:
    """A workload measured beside the test's model: how it runs, how the result is judged,
    how it is described."""

    #: the source that offered it (``PartnerSource.name``; empty: no partner)
    source: str
    judging: Judging
    #: its name in messages ("the speed probe", "the baseline's model <fingerprint>", the
    #: reference's description)
    description: str
    #: for a kind measured in blocks: its block runner, block share, whether the model/partner
    #: ratio is compared, and the sequential looks that stop the measurement on a verdict
    blocks: Partner | None = None
    #: the model it is (``None``: the probe, or no partner): the model whose whole loads or
    #: readings alternate with the test's for the kinds measured whole (load, memory), and
    #: the one profiled to attribute a regression
    model: ModelSpec | None = None
    #: the baseline's entry and model copy (``Judging.AB``)
    plan: AbPlan | None = None
    #: the other OpenVINO runtime it runs under, as messages name it ("": this one)
    runtime: str = ""
    #: processes that run it (another runtime's worker): their CPU is not foreign load
    helper_pids: tuple[int, ...] = ()
    #: another runtime's worker: the CPU the idle side used while the other measured, as a
    #: fraction of the measuring side's (read after the measurement)
    idle_cpu: Callable[[], float] | None = None
    #: its own per-layer profile, where it runs outside this process (another runtime's
    #: worker), to attribute a regression to layers; raises ``ModelError`` if it cannot
    profile: Callable[[], RuntimeProfile] | None = None


#: the test's model measured alone, judged against the stored runs
NO_PARTNER = ComparisonPartner("", Judging.HISTORY, "the stored runs")


@dataclass(frozen=True)
class Fallback:
    """A source that applies but cannot run here, and the next source is tried: why (shown
    with the verdict the result then gets)."""

    reason: str


#: what a source offers: a partner; ``Fallback``: it applies but cannot run, the next source
#: is tried; ``None``: it does not apply. It raises ``PartnerUnavailable`` when it applies,
#: cannot run and the test cannot do without it.
Offer = Union[ComparisonPartner, Fallback, None]


class PartnerContext:
    """One test's measurement as the sources see it: the session, the model, the target and
    the baseline key, and the pieces every source needs."""

    def __init__(
        self,
        session: OvperfSession,
        spec: ModelSpec,
        target: Target,
        test_file: Path,
        test_name: str,
        regression_threshold: float,
    ) -> None:
        self.session = session
        self.spec = spec
        self.target = target
        self.test_file = test_file
        self.test_name = test_name
        self.regression_threshold = regression_threshold
        self._judged: dict[str, bool] = {}
        #: by kind and compile identity (the model's fingerprint and config)
        self._plans: dict[
            tuple[str, str, tuple[tuple[str, str], ...]], tuple[AbPlan | None, str] | AbUnavailable
        ] = {}

    def compile(self, spec: ModelSpec, hint: str) -> CompiledEntry:
        """``spec`` compiled for the test's device and precision (``ModelError`` if it
        cannot be)."""
        return self.session.compile_cache.get(spec, self.target.device, self.target.precision, hint)

    def runner(self, kind: str, entry: CompiledEntry) -> LatencyBlocks | ThroughputBlocks:
        """Blocks of ``entry`` as the model's own blocks of ``kind`` run."""
        measure = self.session.settings.measure
        if kind == LATENCY.name:
            return LatencyBlocks(entry.compiled, entry.inputs, measure)
        return ThroughputBlocks(InferPool(entry.compiled, entry.inputs), measure)

    def ab_plan(self, kind: str, entry: CompiledEntry | None) -> tuple[AbPlan | None, str]:
        """``BaselineGate.plan_ab`` for this test's measurement of ``kind`` (``entry``: the
        model compiled for it; ``None``: before it is compiled here), made once per compile
        identity (the model's fingerprint and config, which ``CompileCache.identity`` gives
        before the compile as the compile itself does): the preload and the measurement
        and the sources that use it (the baseline's runtime, the baseline's copy) share
        it, and the copy's hash check reads its files once. Raises ``AbUnavailable`` (and
        ``ModelError`` where the model is read for it)."""
        if entry is not None:
            fingerprint, config = entry.fingerprint, entry.config
        else:
            fingerprint, config = self.session.compile_cache.identity(
                self.spec, self.target.device, self.target.precision, kind_of(kind).hint
            )
        key = (kind, fingerprint, tuple(sorted(config.items())))
        if key not in self._plans:
            facts = self.session.result_facts(
                self.target.device, self.spec.describe(), fingerprint, config
            )
            try:
                self._plans[key] = self.session.gate.plan_ab(
                    self.test_file, self.test_name, facts, kind
                )
            except AbUnavailable as exc:
                self._plans[key] = exc
        found = self._plans[key]
        if isinstance(found, AbUnavailable):
            raise found
        return found

    def judged(self, kind: str) -> bool:
        """Whether this test's result of ``kind`` will be recorded or compared with a
        baseline (``BaselineGate.will_judge``)."""
        if kind not in self._judged:
            self._judged[kind] = self.session.gate.will_judge(
                self.test_file,
                self.test_name,
                self.session.machine_facts(self.target.device),
                kind,
            )
        return self._judged[kind]


class PartnerSource(ABC):
    """Where a comparison partner may come from. Made for one test's measurement
    (``PartnerContext``); the chooser asks it once, for one kind."""

    #: the source's name (``ComparisonPartner.source``)
    name: ClassVar[str]

    def __init__(self, context: PartnerContext) -> None:
        self.context = context

    def preload(self, kind: str) -> bool:
        """Called before the test's model is compiled for ``kind`` (interleaved kinds) in
        this process: load what must be loaded before that compile, where this source's
        partner needs it (another runtime's worker: the order in which the two processes
        set up OpenVINO biases their ratio, docs/statistics.md). Errors are left for
        ``offer`` to report.
        Returns whether this source applies (the chooser asks no source after it); by
        default it does nothing and the next source is asked."""
        return False

    @abstractmethod
    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        """The partner of this test's measurement of ``kind`` (``entry``: the test's model
        compiled for it), ``Fallback`` or ``None`` (see ``Offer``). For a kind measured in
        blocks (``MeasurementKind.interleaved``) the partner has its ``blocks``, compiled;
        for one measured whole its ``model`` alone (nothing is compiled)."""
