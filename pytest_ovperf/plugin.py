"""pytest hooks, options, markers and fixtures of pytest-ovperf (the only pytest-facing glue)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .measure.engine import InferPool, MeasureSettings
from .perf_budget import PerfBudget, Target
from .report import (
    SUMMARY_HEADER,
    baseline_notes,
    format_table,
    json_report,
    summary_rows,
)
from .runtime.devices import parse_precision_list, split_device_list
from .runtime.models import CompiledEntry, ModelError, ModelSource, ModelSpec, parse_model_marker
from .session import InconclusivePolicy, OvperfSession, Settings
from .store.baselines import BaselineFileError
from .store.baselines import load as load_baselines
from .store.baselines import prune as prune_baselines
from .store.files import write_json_atomic
from .verdicts.budgets import Budget, BudgetError, parse_budget, precisions_named
from .verdicts.gate import stale_entries

SESSION_KEY = pytest.StashKey[OvperfSession]()
CONTEXT_KEY = pytest.StashKey["TestContext"]()
USER_PROPERTY = "ovperf_results"

#: (name, default, help) of the options that take a value; each is also an ini key
_VALUE_OPTIONS: list[tuple[str, str, str]] = [
    ("warmup", "0.5", "seconds of warmup inference before measuring (default 0.5)"),
    ("min-time", "1.0", "minimum seconds of measurement per metric (default 1)"),
    ("max-time", "5.0", "maximum seconds of measurement per metric (default 5)"),
    ("confidence", "0.95", "confidence level of every interval (default 0.95)"),
    (
        "ci-width",
        "0.01",
        "stop measuring once the interval's half width is this fraction of the estimate "
        "(default 0.01)",
    ),
    ("json", "", "write every perf result to this JSON file"),
    (
        "inconclusive",
        "warn",
        "what an inconclusive verdict does: pass, warn (pass with a warning; default) or fail",
    ),
    (
        "regression-threshold",
        "5",
        "smallest slowdown, in percent, that counts as a regression (default 5)",
    ),
    ("baseline-dir", "baselines", "directory of the baseline JSON files, relative to rootdir"),
    (
        "drift-prior",
        "3",
        "prior run-to-run drift, in percent, that the regression gate assumes until the "
        "baseline history shows this machine's own (default 3)",
    ),
    (
        "max-foreign-load",
        "15",
        "percent of the machine's CPU that other processes may use while a test measures "
        "before its baseline comparison is called inconclusive (default 15)",
    ),
    (
        "max-probe-shift",
        "10",
        "percent by which the speed probe may run faster or slower than in the baseline's runs "
        "before a baseline comparison is called inconclusive (default 10)",
    ),
    (
        "speed-probe",
        "on",
        "on/off: measure a small fixed workload between latency blocks and let the "
        "regression gate compare model/probe ratios, cancelling machine-speed drift (default on)",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ovperf", "OpenVINO performance budgets (pytest-ovperf)")
    group.addoption(
        "--ovperf-device",
        action="append",
        default=None,
        metavar="DEVICE[,DEVICE]",
        help="device(s) to run perf tests on, e.g. CPU, GPU, AUTO, HETERO:GPU,CPU; "
        "repeat or comma-separate (default CPU)",
    )
    parser.addini("ovperf_device", "default for --ovperf-device", default="CPU")
    group.addoption(
        "--ovperf-precision",
        action="append",
        default=None,
        metavar="PRECISION[,PRECISION]",
        help="inference precision(s): f32, bf16, f16, int8 (default: the precisions the "
        "test's budgets name for the device, else the device default)",
    )
    parser.addini("ovperf_precision", "default for --ovperf-precision", default="")
    for name, default, help_text in _VALUE_OPTIONS:
        group.addoption(f"--ovperf-{name}", default=None, help=help_text)
        parser.addini(f"ovperf_{name.replace('-', '_')}", help_text, default=default)
    for name, help_text in (
        ("update-baselines", "record this run's results as the baselines"),
        ("prune-baselines", "delete stale baseline entries of the test files that ran in full"),
    ):
        group.addoption(f"--ovperf-{name}", action="store_true", default=None, help=help_text)
        parser.addini(f"ovperf_{name.replace('-', '_')}", help_text, type="bool", default=False)


def _value(config: pytest.Config, name: str) -> str:
    option = config.getoption(f"ovperf_{name.replace('-', '_')}")
    if option is not None:
        return str(option)
    return str(config.getini(f"ovperf_{name.replace('-', '_')}"))


def _number(config: pytest.Config, name: str) -> float:
    text = _value(config, name)
    try:
        return float(text)
    except ValueError:
        raise pytest.UsageError(f"--ovperf-{name}={text!r} is not a number") from None


def _flag(config: pytest.Config, name: str) -> bool:
    option = config.getoption(f"ovperf_{name.replace('-', '_')}")
    return (
        bool(option)
        if option is not None
        else bool(config.getini(f"ovperf_{name.replace('-', '_')}"))
    )


def _switch(config: pytest.Config, name: str) -> bool:
    text = _value(config, name).lower()
    if text not in ("on", "off"):
        raise pytest.UsageError(f"--ovperf-{name}={text!r}: choose on or off")
    return text == "on"


def settings_from_config(config: pytest.Config) -> Settings:
    device_values = config.getoption("ovperf_device") or [str(config.getini("ovperf_device"))]
    devices = split_device_list(device_values)
    if not devices:
        raise pytest.UsageError("--ovperf-device names no device")
    precision_values = config.getoption("ovperf_precision") or [
        str(config.getini("ovperf_precision"))
    ]
    try:
        precisions = parse_precision_list(precision_values)
    except ValueError as exc:
        raise pytest.UsageError(f"--ovperf-precision: {exc}") from None
    measure = MeasureSettings(
        warmup_s=_number(config, "warmup"),
        min_time_s=_number(config, "min-time"),
        max_time_s=_number(config, "max-time"),
        confidence=_number(config, "confidence"),
        target_precision=_number(config, "ci-width"),
    )
    try:
        measure.validate()
    except ValueError as exc:
        raise pytest.UsageError(f"ovperf measurement options: {exc}") from None
    policy_text = _value(config, "inconclusive").lower()
    try:
        policy = InconclusivePolicy(policy_text)
    except ValueError:
        raise pytest.UsageError(
            f"--ovperf-inconclusive={policy_text!r}: choose pass, warn or fail"
        ) from None
    threshold = _number(config, "regression-threshold")
    if not 0 < threshold < 1000:
        raise pytest.UsageError(
            f"--ovperf-regression-threshold={threshold} must be a positive percent"
        )
    json_text = _value(config, "json")
    rootdir = Path(config.rootpath)
    return Settings(
        devices=devices,
        precisions=precisions,
        measure=measure,
        inconclusive=policy,
        json_path=Path(json_text) if json_text else None,
        regression_threshold=threshold / 100.0,
        baseline_dir=rootdir / _value(config, "baseline-dir"),
        update_baselines=_flag(config, "update-baselines"),
        prune_stale=_flag(config, "prune-baselines"),
        prior_drift=_number(config, "drift-prior") / 100.0,
        speed_probe=_switch(config, "speed-probe"),
        max_foreign_load=_number(config, "max-foreign-load") / 100.0,
        max_probe_shift=_number(config, "max-probe-shift") / 100.0,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ovperf_model(source, *, shape=None, config=None, inputs=None, reference=None): "
        "the OpenVINO model a perf test measures",
    )
    config.addinivalue_line(
        "markers",
        "ovperf_budget(device, precision=None, *, latency_ms=None, percentile=50, "
        "throughput_fps=None, first_inference_ms=None, compile_ms=None, "
        "regression_threshold=None): a performance budget; stack one per device/precision",
    )
    ovperf = OvperfSession(settings_from_config(config), Path(config.rootpath))
    config.stash[SESSION_KEY] = ovperf
    collection = CollectionTracker()
    config.pluginmanager.register(collection, "ovperf-collection")
    if not _is_worker(config):
        config.pluginmanager.register(ResultCollector(ovperf, collection), "ovperf-results")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- collection ------------------------------------------------------------------------


@dataclass
class TestContext:
    """What a perf test's markers say, validated once at setup."""

    __test__ = False

    spec: ModelSpec
    budgets: list[Budget]


def _budgets(node: Any) -> list[Budget]:
    # iter_markers yields the closest marker first; keep the order the author wrote
    markers = list(node.iter_markers("ovperf_budget"))[::-1]
    return [parse_budget(tuple(m.args), m.kwargs) for m in markers]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ovperf_target" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("ovperf_model") is None:
        return  # the ovperf_target fixture reports the missing marker at setup
    session = metafunc.config.stash[SESSION_KEY]
    try:
        budgets = _budgets(metafunc.definition)
    except BudgetError:
        budgets = []  # reported with the test's name at setup
    targets: list[Target] = []
    for device in session.settings.devices:
        precisions = (
            session.settings.precisions
            or precisions_named(budgets, device)
            or [session.catalog.info(device).default_precision]
        )
        targets.extend(Target(device, precision) for precision in precisions)
    metafunc.parametrize("ovperf_target", targets, ids=[t.id for t in targets], indirect=True)


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ovperf_session(pytestconfig: pytest.Config) -> OvperfSession:
    """Session state of pytest-ovperf: the ``ov.Core``, compiled models, settings."""
    return pytestconfig.stash[SESSION_KEY]


@pytest.fixture
def ovperf_target(request: pytest.FixtureRequest, ovperf_session: OvperfSession) -> Target:
    """The device and precision this instance of the test runs on."""
    node = request.node
    model_marker = node.get_closest_marker("ovperf_model")
    if model_marker is None:
        pytest.fail(
            f"{node.nodeid} uses ovperf fixtures but has no @pytest.mark.ovperf_model(...) "
            "naming the model to measure",
            pytrace=False,
        )
    try:
        spec = parse_model_marker(
            tuple(model_marker.args), model_marker.kwargs, Path(str(node.path)).parent
        )
        budgets = _budgets(node)
    except (ModelError, BudgetError) as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # failing outside the except block keeps the report free of tracebacks
        pytest.fail(f"{node.nodeid}: {problem}", pytrace=False)
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
    return target


def _entry_getter(
    request: pytest.FixtureRequest, session: OvperfSession, target: Target
) -> Callable[[str, ModelSource | None], CompiledEntry]:
    context = request.node.stash[CONTEXT_KEY]

    def entry_for(hint: str, source: ModelSource | None = None) -> CompiledEntry:
        try:
            return session.compile_cache.get(
                context.spec, target.device, target.precision, hint, source
            )
        except ModelError as exc:
            problem = str(exc)
        pytest.fail(f"{request.node.nodeid}: {problem}", pytrace=False)

    return entry_for


@pytest.fixture
def compiled_model(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> Any:
    """The test's model compiled for the current device and precision, LATENCY hint."""
    return _entry_getter(request, ovperf_session, ovperf_target)("LATENCY", None).compiled


@pytest.fixture
def infer_pool(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> InferPool:
    """The test's model compiled with the THROUGHPUT hint, in an ``AsyncInferQueue``."""
    entry = _entry_getter(request, ovperf_session, ovperf_target)("THROUGHPUT", None)
    return InferPool(entry.compiled, entry.inputs)


@pytest.fixture
def perf_budget(
    request: pytest.FixtureRequest, ovperf_session: OvperfSession, ovperf_target: Target
) -> PerfBudget:
    """Measures latency / throughput and checks the test's ``ovperf_budget`` markers."""
    context = request.node.stash[CONTEXT_KEY]
    # read the model now, so that a bad one is a setup error whichever fixture asked for it
    try:
        ovperf_session.compile_cache.prepare(context.spec)
    except ModelError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        pytest.fail(f"{request.node.nodeid}: {problem}", pytrace=False)
    return PerfBudget(
        session=ovperf_session,
        nodeid=request.node.nodeid,
        target=ovperf_target,
        spec=context.spec,
        budgets=context.budgets,
        entry_for=_entry_getter(request, ovperf_session, ovperf_target),
        test_file=Path(str(request.node.path)),
        progress=_progress_printer(request.config, request.node.nodeid),
    )


def _progress_printer(config: pytest.Config, nodeid: str) -> Callable[[str], None] | None:
    if config.getoption("verbose", 0) < 1 or _is_worker(config):
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return None

    last_shown = [0.0]

    def show(line: str) -> None:
        # one line a second is enough to follow a measurement without flooding the terminal
        now = time.monotonic()
        if now - last_shown[0] < 1.0 and config.getoption("verbose", 0) < 2:
            return
        last_shown[0] = now
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"  ovperf {line}")
        else:
            reporter.write_line(f"  ovperf {line}")

    return show


# -- reporting -------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    budget = getattr(item, "funcargs", {}).get("perf_budget")
    if call.when == "call" and isinstance(budget, PerfBudget) and budget.results:
        # user_properties travel with the report to the xdist controller
        report.user_properties.append(
            (USER_PROPERTY, json.dumps([r.to_json() for r in budget.results]))
        )
    return report


def _partly_selected_files(config: pytest.Config) -> set[Path]:
    """Files named by "file.py::test" arguments: only part of them runs, so their other
    entries are not stale."""
    return {Path(arg.split("::", 1)[0]).resolve() for arg in config.args if "::" in arg}


#: key of the collection record an xdist worker hands to the controller
WORKER_OUTPUT_KEY = "ovperf_collection"


class CollectionTracker:
    """Which perf tests each file has, and which files run only in part (their other
    baseline entries are not stale). Under pytest-xdist each worker collects and deselects
    (``-k``, ``-m``, ``--lf``, ...) on its own and hands this record to the controller."""

    def __init__(self) -> None:
        self.collected: dict[Path, set[str]] = {}
        self.partial_files: set[Path] = set()
        #: False when a worker's record never arrived (it crashed): stale means nothing then
        self.complete = True

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        for item in items:
            if "ovperf_target" in getattr(item, "fixturenames", ()):
                names = self.collected.setdefault(Path(str(item.path)), set())
                names.add(item.nodeid.split("::", 1)[-1])
        self.partial_files.update(_partly_selected_files(config))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.partial_files.update(Path(str(item.path)) for item in items)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_OUTPUT_KEY] = {
                "collected": {str(p): sorted(names) for p, names in self.collected.items()},
                "partial": sorted(str(p) for p in self.partial_files),
            }

    def merge(self, record: Any) -> None:
        if not isinstance(record, dict):
            self.complete = False
            return
        for path, names in record["collected"].items():
            self.collected.setdefault(Path(path), set()).update(names)
        self.partial_files.update(Path(p) for p in record["partial"])


class ResultCollector:
    """Gathers results from test reports (so xdist workers' results reach the controller),
    finds stale baselines, then writes the JSON report and the terminal summary."""

    def __init__(self, ovperf: OvperfSession, collection: CollectionTracker) -> None:
        self.ovperf = ovperf
        self.collection = collection
        self.stale: dict[Path, dict[str, list[str]]] = {}
        self.pruned: dict[Path, int] = {}
        self.baseline_errors: list[str] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Take what an xdist worker collected (the controller collects nothing itself)."""
        self.collection.merge(getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == USER_PROPERTY:
                self.ovperf.results.extend(json.loads(str(value)))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._find_stale_baselines()
        path = self.ovperf.settings.json_path
        if path is None:
            return
        environment = {**self.ovperf.software_facts, **self.ovperf.machine_facts("CPU")}
        for device_fact in ("device", "device_name"):
            environment.pop(device_fact)
        write_json_atomic(path, json_report(self.ovperf.results, environment))

    def _find_stale_baselines(self) -> None:
        if not self.collection.complete:
            return
        gate = self.ovperf.gate
        for test_file, names in self.collection.collected.items():
            if test_file in self.collection.partial_files:
                continue
            path = gate.path_for(test_file)
            try:
                stored = load_baselines(path)
            except BaselineFileError as exc:
                self.baseline_errors.append(str(exc))
                continue
            stale = stale_entries(stored, names, self.ovperf.settings.devices)
            if not stale:
                continue
            self.stale[path] = stale
            if self.ovperf.settings.prune_stale:
                self.pruned[path] = prune_baselines(path, stale)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = self.ovperf.results
        if not (results or self.stale or self.baseline_errors):
            return
        write = terminalreporter.write_line
        terminalreporter.section("ovperf summary")
        if results:
            for line in format_table(SUMMARY_HEADER, summary_rows(results)):
                write(line)
        for line in baseline_notes(results):
            write(line)
        for error in self.baseline_errors:
            write(f"baseline error: {error}")
        for path, stale in self.stale.items():
            count = sum(len(p) for p in stale.values())
            action = (
                f"pruned {self.pruned[path]}"
                if path in self.pruned
                else "prune them with --ovperf-prune-baselines"
            )
            write(f"stale baselines in {path} ({count} entries; {action}):")
            for test, profiles in sorted(stale.items()):
                write(f"  {test} (profiles {', '.join(profiles)})")
        if self.ovperf.settings.json_path is not None:
            write(f"ovperf JSON report: {self.ovperf.settings.json_path}")
