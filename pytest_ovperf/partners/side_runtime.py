"""The reference under another OpenVINO runtime: ``ovperf_model(..., reference_runtime=...)``.

The reference (the model itself unless ``reference=`` / ``reference_config=`` say otherwise)
runs in a worker process of the other runtime (``runtime/side/``), block by block in turn
with the test's model under this runtime, and the result is judged against it as against an
in-process reference (paired, ABBA). Two processes do not share OpenVINO's thread pool, so
the CPU each side uses while the other measures is counted, and a comparison where the idle
side used more than ``MAX_IDLE_SIDE_CPU`` of the measuring side's CPU is inconclusive
(``judging.idle_side_guarded``).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass

import numpy as np
import openvino as ov

from ..kinds import LATENCY, kind_of
from ..measure.engine import Partner, SequentialLooks
from ..measure.load import own_cpu_seconds
from ..measure.loops import throughput_block_s
from ..runtime.models import CompiledEntry, ModelError, ModelSpec, steady_compile_config
from ..runtime.probe import PROBE_SPEC
from ..runtime.profile import RuntimeProfile
from ..runtime.side.client import LoadAnswer, SideWorker
from ..runtime.side.environment import SideInterpreter, SideRuntimeError
from ..runtime.side.pool import runtime_argument
from ..verdicts.ab import AbPlan
from .base import (
    ComparisonPartner,
    Judging,
    Offer,
    PartnerContext,
    PartnerSource,
    PartnerUnavailable,
)

#: outputs of the two runtimes on the same inputs agree when every element is within this
#: fraction of the output's largest magnitude (bf16 keeps 8 bits of mantissa: two runtimes
#: that pick other kernels differ by a few of its steps)
OUTPUT_TOLERANCE = 0.05

#: the test's model and the reference are compared for the kinds measured in blocks only
_WHOLE_KINDS_TEXT = "load time and memory under another runtime are not measured yet"


class OvperfRuntimeMismatchWarning(UserWarning):
    """The two runtimes' outputs of the same model on the same inputs differ beyond
    ``OUTPUT_TOLERANCE``: they do not compute the same thing."""


class SideBlocks:
    """The reference's blocks, run by another runtime's worker: a partner runner of the
    engine (``measure/engine.py``), counting the CPU each side used while the other ran."""

    def __init__(
        self,
        worker: SideWorker,
        kind: str,
        loaded: LoadAnswer,
        block_s: float,
        longest_s: float = math.inf,
    ) -> None:
        self.worker = worker
        self.kind = kind
        self.blocks: list[float] = []
        #: latency: every inference's latency the worker timed (ms)
        self.latencies_ms: list[float] = []
        self.completions = 0
        self.window_s = 0.0
        #: CPU (s) of this process while the worker measured, and of the worker meanwhile
        self.main_idle_cpu = self.side_active_cpu = 0.0
        #: CPU (s) of the worker while this process measured, and of this process meanwhile
        self.side_idle_cpu = self.main_active_cpu = 0.0
        self._main_mark: float | None = None
        self._side_mark: float | None = None
        #: the worker's queue completes once in this time (timed while warming up)
        self.request_latency_s = latency_s = loaded.request_latency_s
        if kind != LATENCY.name:
            # long enough for a steady window, as ``ThroughputBlocks`` sizes its own
            self.block_s = (
                throughput_block_s(latency_s, block_s, longest_s) if latency_s else block_s
            )

    def __call__(self, seconds: float) -> float:
        before = own_cpu_seconds()
        if self._main_mark is not None:
            self.main_active_cpu += before - self._main_mark
        answer = self.worker.block(self.kind, seconds)
        after = own_cpu_seconds()
        self.main_idle_cpu += after - before
        if self._side_mark is not None:
            self.side_idle_cpu += max(answer.cpu_before_s - self._side_mark, 0.0)
        self.side_active_cpu += answer.cpu_s
        self._side_mark = answer.cpu_before_s + answer.cpu_s
        self._main_mark = after
        if answer.completions is not None and answer.window_s is not None:
            self.completions += answer.completions
            self.window_s += answer.window_s
        self.latencies_ms.extend(answer.latencies_ms)
        value = float(answer.value)
        self.blocks.append(value)
        return value

    @property
    def value(self) -> float:
        """Latency: the median of every latency (ms), as ``LatencyBlocks`` reports this
        process's (a worker that sends none: of the blocks' medians); throughput: the
        steady windows' completions over their time (fps)."""
        if self.kind == LATENCY.name:
            values = self.latencies_ms or self.blocks
            return float(np.median(values)) if values else math.nan
        return self.completions / self.window_s if self.window_s > 0 else math.nan

    @property
    def idle_share(self) -> float:
        """The larger of the two idle sides' CPU as a fraction of the measuring side's."""
        shares = [
            idle / active
            for idle, active in (
                (self.side_idle_cpu, self.main_active_cpu),
                (self.main_idle_cpu, self.side_active_cpu),
            )
            if active > 0
        ]
        return max(shares, default=0.0)


def workers_idle_share(first: SideBlocks, second: SideBlocks) -> float:
    """The larger of two workers' idle CPU, each while the other measured, as a fraction of
    the measuring worker's: ``SideBlocks.idle_share`` for a pair of workers, whose other
    side is not this process (which only waits while either measures)."""
    shares = [
        idle.side_idle_cpu / active.side_active_cpu
        for idle, active in ((first, second), (second, first))
        if active.side_active_cpu > 0
    ]
    return max(shares, default=0.0)


@dataclass(frozen=True)
class SideStart:
    """A model loaded in another runtime's worker, ready to be a partner."""

    interpreter: SideInterpreter
    worker: SideWorker
    runner: SideBlocks
    #: what the message says besides the runtime: differing settings, differing outputs
    notes: list[str]

    @property
    def runtime(self) -> str:
        """The runtime as messages name it."""
        return (
            f"OpenVINO {self.interpreter.openvino_version} ({self.interpreter.python}; "
            f"this run: OpenVINO {ov.get_version()})"
        )

    def partner(
        self,
        source: str,
        judging: Judging,
        description: str,
        looks: SequentialLooks | None = None,
        plan: AbPlan | None = None,
    ) -> ComparisonPartner:
        """The comparison partner this side is: judged by ``judging``, stopped at ``looks``
        (A/B), against the baseline's ``plan`` (A/B)."""
        return ComparisonPartner(
            source,
            judging,
            description,
            blocks=Partner(self.runner, 1.0, True, looks),
            plan=plan,
            runtime=self.runtime if plan is not None else "",
            helper_pids=(self.worker.worker_pid,),
            idle_cpu=lambda: self.runner.idle_share,
            profile=lambda: _side_profile(self.worker, self.interpreter),
        )


def start_side(
    context: PartnerContext,
    spec: ModelSpec,
    runtime: str,
    kind: str,
    entry: CompiledEntry,
    same_model: bool,
) -> SideStart:
    """``spec`` loaded for ``kind`` in the worker of the runtime ``runtime`` names (a release
    or an interpreter's path, ``runtime_argument``), its settings checked against ``entry``
    (the test's model compiled here) and, where it is the same model (``same_model``), its
    outputs too. Raises ``SideRuntimeError`` or ``ModelError``."""
    interpreter, worker, loaded = load_side(context, spec, runtime, kind)
    notes = _differences(entry, loaded.effective)
    if same_model:
        notes += _output_mismatch(entry, loaded, interpreter)
    measure = context.session.settings.measure
    runner = SideBlocks(worker, kind, loaded, measure.block_s, measure.longest_block_s)
    return SideStart(interpreter, worker, runner, notes)


def load_side(
    context: PartnerContext, spec: ModelSpec, runtime: str, kind: str, ahead: bool = False
) -> tuple[SideInterpreter, SideWorker, LoadAnswer]:
    """``spec`` loaded (and warmed up) for ``kind`` in the worker of the runtime ``runtime``
    names; once per model, device, config and kind (``SideRuntimes.load``), so that a load
    made ``ahead`` of the test's compile (``PartnerSource.preload``) is the one
    ``start_side`` finds. Raises ``SideRuntimeError`` or ``ModelError``."""
    session, target = context.session, context.target
    interpreter = session.side_runtimes.interpreter(runtime)
    model = session.compile_cache.side_file(spec)
    prepared = session.compile_cache.prepare(spec)
    config = side_config(spec, target.device, target.precision, kind_of(kind).hint)
    measure = session.settings.measure
    worker, loaded = session.side_runtimes.load(
        interpreter,
        model,
        target.device,
        config,
        prepared.inputs,
        kind,
        (measure.warmup_s, measure.warmup_iterations),
        ahead=ahead,
    )
    return interpreter, worker, loaded


def load_ahead(context: PartnerContext, spec: ModelSpec, runtime: str, kind: str) -> None:
    """``load_side`` before the test's model is compiled in this process
    (``PartnerSource.preload``), after this process's OpenVINO has started (unless
    ``--ovperf-speed-probe=off``); a failure is left for ``start_side`` to report (the
    worker pool keeps it, so that it costs once)."""
    session = context.session
    if session.settings.speed_probe and not session.compile_cache.compiled_any:
        # this process's OpenVINO starts first, with the small speed probe: the order of the
        # two processes' set-up biases their ratio (docs/statistics.md, "The cause is the
        # order"); an earlier test's compile does the same
        with contextlib.suppress(ModelError):
            context.compile(PROBE_SPEC, LATENCY.hint)
    with contextlib.suppress(SideRuntimeError, ModelError):
        load_side(context, spec, runtime, kind, ahead=True)


class SideRuntimeSource(PartnerSource):
    """The reference under the runtime ``reference_runtime=`` names, wherever a test names
    one; it comes first, since that test's reference is meant to run there. A runtime that
    cannot be had or a model it cannot run fails the test, naming both versions."""

    name = "reference-runtime"

    def preload(self, kind: str) -> bool:
        spec = self.context.spec
        if spec.reference_runtime is None:
            return False
        runtime = runtime_argument(spec.reference_runtime, spec.base_dir)
        load_ahead(self.context, spec.reference_spec(), runtime, kind)
        return True

    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        spec = self.context.spec
        if spec.reference_runtime is None:
            return None
        if not kind_of(kind).interleaved:
            raise PartnerUnavailable(
                f"reference_runtime= compares latency and throughput; {_WHOLE_KINDS_TEXT}"
            )
        runtime = runtime_argument(spec.reference_runtime, spec.base_dir)
        try:
            side = start_side(
                self.context, spec.reference_spec(), runtime, kind, entry, spec.reference is None
            )
        except (SideRuntimeError, ModelError) as exc:
            raise PartnerUnavailable(
                f"the reference under OpenVINO {spec.reference_runtime} cannot run (this run: "
                f"OpenVINO {ov.get_version()}): {exc}"
            ) from None
        description = "; ".join([f"{spec.describe_reference()} under {side.runtime}", *side.notes])
        return side.partner(self.name, Judging.REFERENCE, description)


def _side_profile(worker: SideWorker, interpreter: SideInterpreter) -> RuntimeProfile:
    """The reference's per-layer profile in its runtime's worker (``ModelError`` if the
    worker cannot give it)."""
    try:
        return worker.profile()
    except SideRuntimeError as exc:
        raise ModelError(
            f"no profile from OpenVINO {interpreter.openvino_version}'s worker: {exc}"
        ) from None


def side_config(spec: ModelSpec, device: str, precision: str, hint: str) -> dict[str, str]:
    """The compile config of ``spec`` for ``device`` at ``precision`` and ``hint``, as this
    process compiles it (``steady_compile_config``) and as the worker's ``compile_model``
    takes it: text (``True`` -> "YES")."""
    return {
        str(k): ("YES" if v else "NO") if isinstance(v, bool) else str(v)
        for k, v in steady_compile_config(spec, device, precision, hint).items()
    }


#: the compiled model's settings both sides report, named when they differ (a new release
#: may change a default)
EFFECTIVE_PROPERTIES = (
    "INFERENCE_PRECISION_HINT",
    "NUM_STREAMS",
    "INFERENCE_NUM_THREADS",
    "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
)


def _differences(entry: CompiledEntry, side: dict[str, str]) -> list[str]:
    """The settings the two runtimes chose differently for the same model and config."""
    found = []
    for name in EFFECTIVE_PROPERTIES:
        if name not in side:
            continue
        try:
            here = str(entry.compiled.get_property(name))
        except RuntimeError:
            continue
        if here != side[name]:
            found.append(f"{name} {side[name]} there, {here} here")
    return [f"its settings differ: {', '.join(found)}"] if found else []


def _output_mismatch(
    entry: CompiledEntry, loaded: LoadAnswer, interpreter: SideInterpreter
) -> list[str]:
    """Whether the two runtimes' outputs of the model on the same inputs agree; a mismatch
    is warned about and named in the message."""
    try:
        theirs = loaded.read_outputs()
    except (OSError, ValueError):
        return []
    request = entry.compiled.create_infer_request()
    results = request.infer(entry.inputs)
    ours = [np.asarray(results[i]) for i in range(len(entry.compiled.outputs))]
    worst = 0.0
    for mine, other in zip(ours, theirs):
        if mine.shape != other.shape:
            worst = math.inf
            break
        scale = float(np.max(np.abs(mine))) if mine.size else 0.0
        if scale > 0:
            diff = np.abs(mine.astype(np.float64) - other.astype(np.float64))
            worst = max(worst, float(np.max(diff)) / scale)
    if worst <= OUTPUT_TOLERANCE:
        return []
    text = (
        f"the outputs of OpenVINO {interpreter.openvino_version} and {ov.get_version()} on the "
        f"same inputs differ by {worst:.1%} of their largest value (over "
        f"{OUTPUT_TOLERANCE:.0%}): the two runtimes do not compute the same thing"
    )
    warnings.warn(OvperfRuntimeMismatchWarning(text), stacklevel=2)
    return [text]
