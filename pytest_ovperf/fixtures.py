"""The fixtures of pytest-ovperf: thin, they validate markers and hand work to the engines.

pytest imports this module with the plugin in every run, so what loads OpenVINO, numpy or
scipy is imported inside the fixtures, which only perf tests request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .collect import Target, TestContext, marker_budgets
from .confirm import REMEASURE_KEY
from .runtime.devices import PRECISIONS, precision_label
from .session import OvperfSession
from .verdicts.budgets import BudgetError

if TYPE_CHECKING:
    from .measure.blocks import InferPool
    from .measure.engine import Progress
    from .partners import PartnerChooser
    from .perf_budget import EntryGetter, PerfBudget
    from .runtime.models import CompiledEntry, ModelSource

SESSION_KEY = pytest.StashKey[OvperfSession]()
CONTEXT_KEY = pytest.StashKey[TestContext]()
#: the running test's partner chooser (``_partner_chooser``)
CHOOSER_KEY = pytest.StashKey["PartnerChooser"]()


def _fail(node: pytest.Item, problem: str) -> NoReturn:
    # called outside except blocks, so the report carries no traceback
    pytest.fail(f"{node.nodeid}: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def ovperf_session(pytestconfig: pytest.Config) -> OvperfSession:
    """Session state of pytest-ovperf: the ``ov.Core``, compiled models, settings."""
    return pytestconfig.stash[SESSION_KEY]


@pytest.fixture
def ovperf_target(request: pytest.FixtureRequest, ovperf_session: OvperfSession) -> Target:
    """The device and precision this instance of the test runs on."""
    from .runtime.generation import parse_llm_marker
    from .runtime.models import ModelError, parse_model_marker

    node = request.node
    model_marker = node.get_closest_marker("ovperf_model")
    llm_marker = node.get_closest_marker("ovperf_llm")
    if model_marker is None and llm_marker is None:
        _fail(
            node,
            "uses ovperf fixtures but has no @pytest.mark.ovperf_model(...) naming the model "
            "to measure (or @pytest.mark.ovperf_llm(...) naming a generation pipeline)",
        )
    if model_marker is not None and llm_marker is not None:
        _fail(node, "has both ovperf_model and ovperf_llm: a perf test measures one of them")
    problem = ""
    base_dir = Path(str(node.path)).parent
    try:
        if llm_marker is not None:
            spec = parse_llm_marker(
                tuple(llm_marker.args),
                llm_marker.kwargs,
                base_dir,
                ovperf_session.pipelines.resolve,
            )
        else:
            assert model_marker is not None
            spec = parse_model_marker(tuple(model_marker.args), model_marker.kwargs, base_dir)
        budgets = marker_budgets(node)
    except (ModelError, BudgetError) as exc:
        problem = str(exc)
    if not problem and not spec.has_reference:
        relative = [m.value for b in budgets for m in b.limits() if m.against_reference]
        if relative:
            problem = (
                f"ovperf_budget {', '.join(dict.fromkeys(relative))} compares with a reference: "
                "give ovperf_model(..., reference=...) and/or reference_config={...}"
            )
    if problem:
        _fail(node, problem)
    node.stash[CONTEXT_KEY] = TestContext(spec, budgets)
    target: Target = request.param
    catalog = ovperf_session.catalog
    if not catalog.info(target.device).available:
        pytest.skip(
            f"device {target.device} is not available on this machine "
            f"(available: {', '.join(catalog.available) or 'none'})"
        )
    reason = catalog.unsupported_precision_reason(target.device, target.precision)
    if reason:
        pytest.skip(reason)
    reference_precision = (spec.reference_config or {}).get("INFERENCE_PRECISION_HINT")
    if reference_precision is not None:
        label = precision_label(reference_precision)
        reason = (
            catalog.unsupported_precision_reason(target.device, label)
            if label in PRECISIONS
            else None
        )
        if reason:
            pytest.skip(f"reference_config asks for {label}: {reason}")
    return target


def _partner_chooser(
    request: pytest.FixtureRequest, session: OvperfSession, target: Target
) -> PartnerChooser:
    """The running test's ``PartnerChooser``, one for all its fixtures and measurements: the
    partner side a fixture's compile started first is the one its measurement finds, and the
    A/B plan (a read of the baseline file, a hash of the baseline's model copy) is made
    once. Made at the first fixture that asks, dropped at the test's end with the side
    runtimes' failures its preloads kept (a re-measure, the next test start afresh)."""
    from .identity import TestIdentity
    from .partners import PartnerChooser
    from .verdicts.budgets import applicable_budgets, threshold_of

    node = request.node
    chooser: PartnerChooser | None = node.stash.get(CHOOSER_KEY, None)
    if chooser is None:
        context = node.stash[CONTEXT_KEY]
        budgets = applicable_budgets(context.budgets, target.device, target.precision)
        chooser = PartnerChooser(
            session,
            context.spec,
            target,
            Path(str(node.path)),
            TestIdentity.from_nodeid(node.nodeid).name,
            threshold_of(budgets, session.settings.regression_threshold),
        )
        node.stash[CHOOSER_KEY] = chooser

        def drop() -> None:
            del node.stash[CHOOSER_KEY]
            session.forget_side_failures()

        request.addfinalizer(drop)
    return chooser


def _entry_getter(
    request: pytest.FixtureRequest, session: OvperfSession, target: Target
) -> EntryGetter:
    """Compiles (once per session) the test's model, or another source of its marker, with
    a hint; a model that cannot be compiled fails the test with the reason. Given the
    ``kind`` the test's model is compiled to measure, the partner's side that must start
    before this process compiles is started first (``PartnerChooser.preload``)."""
    from .runtime.device_locks import DeviceLockTimeout
    from .runtime.models import ModelError

    context = request.node.stash[CONTEXT_KEY]

    def entry_for(
        hint: str, source: ModelSource | None = None, *, kind: str | None = None
    ) -> CompiledEntry:
        if context.spec.generation is not None:
            _fail(
                request.node,
                "names a generation pipeline (ovperf_llm): measure it with "
                "perf_budget.measure_generation(); compiled_model, infer_pool and the other "
                "measurements are for ovperf_model tests",
            )
        try:
            cache, spec = session.compile_cache, context.spec
            # once compiled, the order is set: nothing to load ahead of it
            if (
                kind is not None
                and source is None
                and not cache.has(spec, target.device, target.precision, hint)
            ):
                if session.say is None:  # installing another runtime says what it does
                    session.say = terminal_writer(request.config)
                _partner_chooser(request, session, target).preload(kind)
            return cache.get(spec, target.device, target.precision, hint, source)
        except (ModelError, DeviceLockTimeout) as exc:
            problem = str(exc)
        _fail(request.node, problem)

    return entry_for


@pytest.fixture
def compiled_model(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> Any:
    """The test's model compiled for the current device and precision, LATENCY hint."""
    from .kinds import LATENCY

    entry_for = _entry_getter(request, ovperf_session, ovperf_target)
    return entry_for(LATENCY.hint, None, kind=LATENCY.name).compiled


@pytest.fixture
def infer_pool(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> InferPool:
    """The test's model compiled with the THROUGHPUT hint, in an ``AsyncInferQueue``."""
    from .kinds import THROUGHPUT
    from .measure.blocks import InferPool

    entry_for = _entry_getter(request, ovperf_session, ovperf_target)
    entry = entry_for(THROUGHPUT.hint, None, kind=THROUGHPUT.name)
    return InferPool(entry.compiled, entry.inputs)


@pytest.fixture
def llm_pipeline(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> Any:
    """The test's generation pipeline (``ovperf_llm``): an ``openvino_genai.LLMPipeline`` on
    the current device and precision, loaded once per session and warmed up."""
    from .runtime.device_locks import DeviceLockTimeout
    from .runtime.models import ModelError

    context = request.node.stash[CONTEXT_KEY]
    if context.spec.generation is None:
        _fail(request.node, "llm_pipeline needs @pytest.mark.ovperf_llm(...) naming a pipeline")
    problem = ""
    try:
        return ovperf_session.pipelines.get(
            context.spec, ovperf_target.device, ovperf_target.precision
        ).pipeline
    except (ModelError, DeviceLockTimeout) as exc:
        problem = str(exc)
    _fail(request.node, problem)


@pytest.fixture
def perf_budget(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> PerfBudget:
    """Measures latency / throughput and checks the test's ``ovperf_budget`` markers."""
    from .perf_budget import PerfBudget
    from .runtime.models import ModelError

    context = request.node.stash[CONTEXT_KEY]
    # read the model now, so that a bad one is a setup error whichever fixture asked for it
    problem = ""
    try:
        if context.spec.generation is None:  # a pipeline is read where it is loaded
            ovperf_session.compile_cache.prepare(context.spec)
    except ModelError as exc:
        problem = str(exc)
    if problem:
        _fail(request.node, problem)
    return PerfBudget(
        session=ovperf_session,
        nodeid=request.node.nodeid,
        target=ovperf_target,
        spec=context.spec,
        budgets=context.budgets,
        entry_for=_entry_getter(request, ovperf_session, ovperf_target),
        test_file=Path(str(request.node.path)),
        partners=_partner_chooser(request, ovperf_session, ovperf_target),
        progress=_progress_printer(request.config),
        remeasure=request.node.stash.get(REMEASURE_KEY, None),
    )


def terminal_writer(config: pytest.Config) -> Callable[[str], None] | None:
    """Writes a line to the terminal in the middle of a test (output capture set aside);
    ``None`` where there is no terminal (a pytest-xdist worker)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or hasattr(config, "workerinput"):
        return None

    def write(line: str) -> None:
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)

    return write


def _progress_printer(config: pytest.Config) -> Callable[[Progress], None] | None:
    verbosity = config.getoption("verbose", 0)
    write = terminal_writer(config)
    if verbosity < 1 or write is None:
        return None

    from .messages import progress_line

    last_shown = [0.0]

    def show(progress: Progress) -> None:
        # one line a second is enough to follow a measurement without flooding the terminal
        now = time.monotonic()
        if now - last_shown[0] < 1.0 and verbosity < 2:
            return
        last_shown[0] = now
        write(f"  ovperf {progress_line(progress)}")

    return show
