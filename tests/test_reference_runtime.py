"""``reference_runtime=``: the reference measured under another OpenVINO runtime, in a worker
process, block by block in turn with this one. Without network the "other" runtime is this
interpreter (the same release): what is checked is the route, the judging and the errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import openvino as ov
import psutil
import pytest
from conftest import FAST
from conftest import run_json as run_report

from pytest_ovperf.runtime.models import CompileCache, ModelSpec
from pytest_ovperf.runtime.probe import PROBE_SPEC
from pytest_ovperf.runtime.side.client import SideWorker
from pytest_ovperf.runtime.side.pool import release_of
from pytest_ovperf.verdicts.gate import BaselineGate

RUNTIME_TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(
    source=lambda: mobilenet_like(size=32), reference_runtime={runtime!r}
)
@pytest.mark.ovperf_budget("CPU", {budget})
def test_upgrade(perf_budget):
    perf_budget.measure_{kind}()
"""


def run_json(
    pytester: pytest.Pytester, *args: str
) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    return run_report(pytester, "--ovperf-min-time=0.5", "--ovperf-max-time=2", *args)


def side_workers() -> list[psutil.Process]:
    """This process's children running the side worker."""
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if any("worker.py" in part for part in child.cmdline())
    ]


@pytest.mark.parametrize("kind", ["latency", "throughput"])
def test_the_same_release_in_a_worker_is_judged_as_a_reference(
    ovtester: pytest.Pytester, kind: str
) -> None:
    budget = 'max_slowdown="50%"'
    ovtester.makepyfile(
        test_upgrade=RUNTIME_TEST.format(runtime=sys.executable, budget=budget, kind=kind)
    )
    result, (data,) = run_json(ovtester, "--ovperf-inconclusive=pass")
    data_text = json.dumps(data)
    assert data["baseline_method"] == "reference"
    # both runtimes are named: the side's version and interpreter, and this run's
    message = data["baseline_message"]
    assert f"under OpenVINO {ov.get_version()} ({sys.executable};" in message, message
    assert "this run: OpenVINO" in message
    # the same release on both sides is no slowdown of 50%: never a failure
    (check,) = [c for c in data["checks"] if c["metric"] == "max_slowdown"]
    assert check["verdict"] in ("pass", "inconclusive"), data_text
    if data["baseline_verdict"] == "inconclusive" and "idle side" in message:
        assert "did not take turns cleanly" in message
    result.assert_outcomes(passed=1)
    assert not side_workers()  # shut down with the session


@pytest.fixture
def openvino_order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What OpenVINO does in an in-process pytest run, in order: "side load" (a side
    runtime's worker loads a model), "compile" (this process compiles one) and "compile
    probe" (this process compiles the speed probe)."""
    events: list[str] = []
    side_load, compile_here = SideWorker.load, CompileCache._compile

    def loading(*args: Any, **kwargs: Any) -> Any:
        events.append("side load")
        return side_load(*args, **kwargs)

    def compiling(cache: CompileCache, spec: ModelSpec, *args: Any, **kwargs: Any) -> Any:
        events.append("compile probe" if spec is PROBE_SPEC else "compile")
        return compile_here(cache, spec, *args, **kwargs)

    monkeypatch.setattr(SideWorker, "load", loading)
    monkeypatch.setattr(CompileCache, "_compile", compiling)
    return events


ORDER_TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(
    source=lambda: mobilenet_like(size=32), reference_runtime={runtime!r}
)
def test_upgrade({body}
"""


@pytest.mark.parametrize(
    ("body", "probe"),
    [
        ("perf_budget):\n    perf_budget.measure_latency()", "on"),
        ("infer_pool, perf_budget):\n    perf_budget.measure_throughput(infer_pool)", "on"),
        ("compiled_model, perf_budget):\n    perf_budget.measure_latency(compiled_model)", "off"),
    ],
    ids=["measure_latency", "infer_pool-fixture", "compiled_model-fixture-probe-off"],
)
def test_the_side_worker_loads_before_this_process_compiles(
    ovtester: pytest.Pytester, openvino_order: list[str], body: str, probe: str
) -> None:
    """The order biases a paired comparison across two processes (docs/statistics.md):
    this process's OpenVINO starts (the speed probe, unless it is off), then the worker
    loads the reference, once, then the test's model is compiled here, whether the
    measurement or a fixture compiles it."""
    ovtester.makepyfile(test_upgrade=ORDER_TEST.format(runtime=sys.executable, body=body))
    result, _ = run_json(ovtester, "--ovperf-inconclusive=pass", f"--ovperf-speed-probe={probe}")
    result.assert_outcomes(passed=1)
    first = ["compile probe"] if probe == "on" else []
    assert openvino_order == [*first, "side load", "compile"]


def test_a_runtime_that_cannot_be_had_fails_the_test_naming_it(
    ovtester: pytest.Pytester,
) -> None:
    missing = str(ovtester.path / "no-such-env" / "bin" / "python")
    ovtester.makepyfile(
        test_upgrade=RUNTIME_TEST.format(runtime=missing, budget="latency_ms=1e6", kind="latency")
    )
    result, _ = run_json(ovtester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "the reference under OpenVINO" in out and "no-such-env" in out
    assert f"this run: OpenVINO {ov.get_version()}" in out


def test_load_time_under_another_runtime_is_a_clear_error(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(
        test_upgrade=RUNTIME_TEST.format(runtime=sys.executable, budget="load_ms=1e6", kind="load")
    )
    result, _ = run_json(ovtester)
    result.assert_outcomes(failed=1)
    assert "load time and memory under another runtime are not measured yet" in (
        result.stdout.str()
    )


def test_reference_runtime_must_name_a_release_or_a_path(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(
        test_upgrade=RUNTIME_TEST.format(runtime="", budget="latency_ms=1e6", kind="latency")
    )
    result, _ = run_json(ovtester)
    assert "reference_runtime must be an OpenVINO release" in result.stdout.str()


# -- an upgrade judged in one run: the baseline's model under the baseline's runtime -------

UPGRADE_TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size=32))
@pytest.mark.ovperf_budget("CPU", latency_ms=1e6)
def test_model(perf_budget):
    perf_budget.measure_latency()
"""


def _recorded_under(baseline_dir: Path, version: str) -> None:
    """Make every stored entry say it was recorded under OpenVINO ``version``."""
    for path in baseline_dir.glob("*.json"):
        data = json.loads(path.read_text())

        def visit(node: Any) -> None:
            if isinstance(node, dict):
                software = node.get("software")
                if isinstance(software, dict) and "openvino" in software:
                    software["openvino"] = version
                for value in node.values():
                    visit(value)
            elif isinstance(node, list):
                for value in node:
                    visit(value)

        visit(data)
        path.write_text(json.dumps(data))


def test_a_baseline_of_another_release_is_judged_against_its_runtime_in_one_run(
    ovtester: pytest.Pytester, openvino_order: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = release_of(ov.get_version())
    assert release is not None
    ovtester.makepyfile(test_model=UPGRADE_TEST)
    run_json(ovtester, "--ovperf-update-baselines")
    # the baseline now says another build of this release recorded it; offline, that
    # release is this interpreter (--ovperf-runtime-python), so no wheel is installed
    _recorded_under(ovtester.path / "baselines", f"{release}-00000-elsewhere")
    mapping = f"--ovperf-runtime-python={release}={sys.executable}"
    openvino_order.clear()
    plans: list[str] = []
    plan_ab = BaselineGate.plan_ab

    def planning(gate: BaselineGate, *args: Any, **kwargs: Any) -> Any:
        plans.append(args[1])
        return plan_ab(gate, *args, **kwargs)

    monkeypatch.setattr(BaselineGate, "plan_ab", planning)
    result, (data,) = run_json(ovtester, mapping, "--ovperf-inconclusive=pass")
    result.assert_outcomes(passed=1)
    # planned once (a read of the baseline, a hash of its model copy), before the compile
    # (to load the baseline's side first) and shared with the measurement
    assert len(plans) == 1 and plans[0].startswith("test_model"), plans
    # the baseline's runtime loads its model before this process compiles the test's
    assert openvino_order == ["compile probe", "side load", "compile"]
    assert data["baseline_method"] == "ab"
    assert data["what_changed"]["openvino"][0] == f"{release}-00000-elsewhere"
    assert f"under OpenVINO {ov.get_version()} ({sys.executable};" in data["baseline_message"]
    assert data["idle_side_cpu"] is not None

    # the release cannot be had: auto falls back to the stored runs and says why ...
    broken = f"--ovperf-runtime-python={release}={ovtester.path / 'no' / 'python'}"
    result, (data,) = run_json(ovtester, broken, "--ovperf-inconclusive=pass")
    assert data["baseline_method"] == "history"
    assert "no A/B under the baseline's runtime" in data["baseline_message"]
    # ... and --ovperf-compare=ab makes that an error naming it
    result, _ = run_json(ovtester, broken, "--ovperf-compare=ab")
    result.assert_outcomes(failed=1)
    assert f"cannot run under the baseline's OpenVINO {release}" in result.stdout.str()
    # the model changed too: its change alone is judged (A/B on this runtime), saying why
    ovtester.makepyfile(test_model=UPGRADE_TEST.replace("size=32", "size=32, extra_blocks=1"))
    result, (data,) = run_json(ovtester, broken, "--ovperf-inconclusive=pass")
    assert data["baseline_method"] == "ab"
    message = data["baseline_message"]
    assert "no A/B under the baseline's runtime" in message
    assert "the A/B above ran both models on this runtime" in message


def test_runtime_python_must_map_releases_to_paths(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(test_model=UPGRADE_TEST)
    result = ovtester.runpytest_inprocess(*FAST, "--ovperf-runtime-python=2025.4.1")
    assert "write RELEASE=PATH" in result.stderr.str()
