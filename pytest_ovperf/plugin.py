"""pytest hooks of pytest-ovperf (the entry point); options, collection, fixtures and the
end-of-session report each live in a module of their own.

pytest imports this module in every run of an environment that has the plugin: it and what
it imports load no OpenVINO, numpy or scipy (``tests/test_plugin.py`` checks), so a run
without perf tests costs what it did without the plugin.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from .collect import CollectionTracker, targets_for
from .confirm import Confirmer
from .controller import USER_PROPERTY, ResultCollector
from .fixtures import (  # noqa: F401 - pytest finds the fixtures among the plugin's names
    SESSION_KEY,
    compiled_model,
    infer_pool,
    llm_pipeline,
    ovperf_session,
    ovperf_target,
    perf_budget,
)
from .kinds import KindError, register_kind, unregister_kind
from .kinds.generation import DEFAULT_NEW_TOKENS, DEFAULT_PROMPT_TOKENS
from .options import add_options, settings_from_config
from .session import OvperfSession
from .verdicts.budgets import Budget
from .workers import (
    LOCK_DIR_KEY,
    SESSION_ID_KEY,
    PartitionSlots,
    controller_lock_dir,
    setup_worker,
    worker_count,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ovperf_model(source, *, shape=None, config=None, inputs=None, reference=None, "
        "reference_config=None, reference_runtime=None): "
        "the OpenVINO model a perf test measures",
    )
    config.addinivalue_line(
        "markers",
        f"ovperf_llm(directory or source=factory, *, prompt_tokens={DEFAULT_PROMPT_TOKENS}, "
        f"new_tokens={DEFAULT_NEW_TOKENS}, config=None): the openvino-genai generation "
        "pipeline a perf test measures with perf_budget.measure_generation()",
    )
    budget_arguments = ", ".join(f.name for f in fields(Budget))
    config.addinivalue_line(
        "markers",
        f"ovperf_budget({budget_arguments}): a performance budget; stack one per device/precision",
    )
    added = [kind for kinds in config.hook.pytest_ovperf_kinds() for kind in kinds]

    def forget_added_kinds() -> None:
        for kind in added:
            unregister_kind(kind.name)

    config.add_cleanup(forget_added_kinds)
    for kind in added:
        try:
            register_kind(kind)
        except KindError as exc:
            raise pytest.UsageError(str(exc)) from None
    workerinput = getattr(config, "workerinput", None)
    settings = settings_from_config(config)
    # before OpenVINO is loaded: a CPU partition must be in place when the CPU plugin starts
    worker = setup_worker(workerinput, settings)
    ovperf = OvperfSession(settings, Path(config.rootpath), worker=worker)
    if workerinput is None:
        ovperf.lock_dir_for_workers = controller_lock_dir(config, settings)
        if settings.cpu_partition and worker_count(config):
            slots = PartitionSlots(worker_count(config))
            config.pluginmanager.register(slots, "ovperf-partition-slots")
    elif SESSION_ID_KEY in workerinput:
        ovperf.session_id = workerinput[SESSION_ID_KEY]
    config.stash[SESSION_KEY] = ovperf
    config.add_cleanup(ovperf.close)
    collection = CollectionTracker()
    config.pluginmanager.register(collection, "ovperf-collection")
    runs_tests = workerinput is not None or not worker_count(config)
    # a recording run is not re-measured: its first run is already stored
    if settings.confirm and runs_tests and not settings.update_baselines:
        config.pluginmanager.register(Confirmer(config), "ovperf-confirm")
    if workerinput is None:  # the xdist controller, or a run without xdist
        config.pluginmanager.register(ResultCollector(ovperf, collection), "ovperf-results")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand an xdist worker the session id (its runs belong to this session's job) and the
    device-lock directory."""
    ovperf = node.config.stash[SESSION_KEY]
    node.workerinput[SESSION_ID_KEY] = ovperf.session_id
    if ovperf.lock_dir_for_workers is not None:
        node.workerinput[LOCK_DIR_KEY] = str(ovperf.lock_dir_for_workers)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ovperf_target" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    if definition.get_closest_marker("ovperf_model") is None and (
        definition.get_closest_marker("ovperf_llm") is None
    ):
        return  # the ovperf_target fixture reports the missing marker at setup
    session = metafunc.config.stash[SESSION_KEY]
    targets = targets_for(metafunc, session.settings, session.catalog)
    metafunc.parametrize("ovperf_target", targets, ids=[t.id for t in targets], indirect=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    budget = getattr(item, "funcargs", {}).get("perf_budget")
    if call.when != "call" or budget is None:
        return report
    from .perf_budget import PerfBudget
    from .records import junit_properties, result_record

    if isinstance(budget, PerfBudget) and budget.results:
        # user_properties travel with the report to the xdist controller
        records = [result_record(r) for r in budget.results]
        report.user_properties.append((USER_PROPERTY, json.dumps(records)))
        # --junitxml writes the item's properties with the test case (from the teardown
        # report, which copies them)
        item.user_properties.extend(junit_properties(records))
    return report
