"""The plugin end to end: pytester runs of tiny models on the real OpenVINO runtime.

Every measured test costs a fraction of a second, so each pytester run holds several
tests and each outer test checks many things about one run. No assertion looks at a
measured time: budgets are either absurdly generous or impossible, and an inconclusive
verdict comes from a percentile that the number of samples cannot bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openvino as ov
import pytest
from conftest import FAST, busy_machine

from pytest_ovperf.messages import fmt
from pytest_ovperf.runtime.toy_models import mlp

#: the start of every generated test file: the fastest model there is
HEADER = """
import pytest
from models import dynamic_mlp, mlp


def tiny():
    return mlp(features=16, hidden=16, depth=1)

"""

#: enough blocks (about five) for a throughput interval that excludes zero
THROUGHPUT_TIME = "--ovperf-max-time=1.0"


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, pytest.HookRecorder]:
    """Run pytest inline with the short measurement settings; the recorder gives reports."""
    result = pytester.runpytest_inprocess(*FAST, *args)
    recorder: pytest.HookRecorder = result.reprec  # type: ignore[attr-defined]
    return result, recorder


def failure_texts(recorder: pytest.HookRecorder, when: str) -> dict[str, str]:
    """nodeid -> failure text of the reports of one phase that failed."""
    return {
        report.nodeid: report.longreprtext
        for report in recorder.getreports("pytest_runtest_logreport")
        if report.when == when and report.failed
    }


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    return {r["nodeid"]: r for r in data["results"]}


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "Exception from" not in text  # OpenVINO's C++ source locations
    assert ".cpp" not in text
    assert len(text.strip().splitlines()) <= 2, text


LATENCY_FIELDS = ("p50_ms", "p90_ms", "p99_ms", "mean_ms")
COMMON_FIELDS = (
    "nodeid",
    "device",
    "precision",
    "kind",
    "n",
    "compile_ms",
    "first_inference_ms",
    "ci",
    "budget_verdict",
)


# -- budgets pass and fail, reports ------------------------------------------------------

BUDGETS = (
    HEADER
    + """
SEEN = {}


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=1e6)
@pytest.mark.ovperf_budget("GPU", latency_ms=1e-6)
def test_latency_ok(compiled_model, perf_budget):
    SEEN["latency_ok"] = compiled_model
    result = perf_budget.measure_latency(compiled_model)
    assert result.n > 0
    assert [c.limit for c in result.checks] == [1e6]  # the GPU budget does not apply on CPU


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=1e-6)
def test_latency_impossible(compiled_model, perf_budget):
    SEEN["latency_impossible"] = compiled_model
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", throughput_fps=1e-9)
def test_throughput_ok(infer_pool, perf_budget):
    perf_budget.measure_throughput(infer_pool)


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget(device="CPU", throughput_fps=1e12)
def test_throughput_impossible(infer_pool, perf_budget):
    perf_budget.measure_throughput(infer_pool)


@pytest.mark.ovperf_model(source=tiny)
def test_compiled_once(compiled_model):
    # same model, device and precision: the very object the earlier tests got
    assert SEEN["latency_ok"] is compiled_model
    assert SEEN["latency_impossible"] is compiled_model


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", compile_ms=1e9, first_inference_ms=1e-9)
def test_one_off_costs(compiled_model, perf_budget):
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", "f32", latency_ms=1e6)
@pytest.mark.ovperf_budget("ABSENT", "f16", latency_ms=1e6)
LOWER_BUDGETS
def test_precisions_from_budgets(ovperf_target):
    assert ovperf_target.device == "CPU"
    assert ovperf_target.precision in RUNNABLE
"""
)


def lower_budgets(*precisions: str) -> str:
    """Generous CPU budgets, one per precision, as decorator lines."""
    budget = '@pytest.mark.ovperf_budget("CPU", "{}", latency_ms=1e6)'
    return "\n".join(budget.format(p) for p in precisions)


def test_budgets_pass_and_fail_with_reports(
    ovtester: pytest.Pytester,
    cpu_default: str,
    lower_precision: str | None,
    unsupported_precision: str | None,
    absent_device: str,
    tmp_path: Path,
) -> None:
    # budgets for the lower precision this CPU runs (bf16 or f16, where it has one) and for
    # one it cannot run (where there is one): the first is measured, the second skipped
    runs = [p for p in (lower_precision,) if p]
    skips = [p for p in (unsupported_precision,) if p]
    source = (
        BUDGETS.replace("ABSENT", absent_device)
        .replace('"GPU"', f'"{absent_device}"')
        .replace("LOWER_BUDGETS", lower_budgets(*runs, *skips))
        .replace("RUNNABLE", repr(("f32", *runs)))
    )
    ovtester.makepyfile(test_run_budgets=source)
    report = tmp_path / "out" / "ovperf.json"
    result, recorder = run(ovtester, "-v", "-rfEs", f"--ovperf-json={report}", THROUGHPUT_TIME)

    tag = f"CPU-{cpu_default}"
    result.assert_outcomes(passed=4 + len(runs), failed=3, skipped=len(skips))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*test_latency_ok?{tag}? PASSED*",
            f"*test_throughput_ok?{tag}? PASSED*",
            f"*test_compiled_once?{tag}? PASSED*",
            f"*test_one_off_costs?{tag}? FAILED*",  # a single observation fails at once
            # the precisions the budgets name for the device, in the order they are written
            "*test_precisions_from_budgets?CPU-f32? PASSED*",
            *(f"*test_precisions_from_budgets?CPU-{p}? PASSED*" for p in runs),
            *(f"*test_precisions_from_budgets?CPU-{p}? SKIPPED*" for p in skips),
            # measured failures are confirmed by a re-measure after the other tests
            f"*test_latency_impossible?{tag}? FAILED*",
            f"*test_throughput_impossible?{tag}? FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [f"SKIPPED*CPU (*) cannot run {p}: its OPTIMIZATION_CAPABILITIES are *" for p in skips]
    )
    out = result.stdout.str()
    assert "ovperf latency p50" in out  # -v shows progress
    assert "ovperf throughput" in out
    assert "ovperf summary" in out
    assert f"ovperf JSON report: {report}" in out
    assert "OvperfAsyncStallWarning" not in out  # a sound CPU queue is not a stall

    results = load_results(report)
    base = "test_run_budgets.py::"
    one_off = results.pop(f"{base}test_one_off_costs[{tag}]")
    measured = ("latency_ok", "latency_impossible", "throughput_ok", "throughput_impossible")
    assert sorted(results) == sorted(f"{base}test_{name}[{tag}]" for name in measured)
    assert one_off["budget_verdict"] == "fail"
    assert [(c["metric"], c["limit"], c["verdict"], c["n"]) for c in one_off["checks"]] == [
        ("first_inference_ms", 1e-9, "fail", 1),
        ("compile_ms", 1e9, "pass", 1),
    ]
    for data in results.values():
        for field in COMMON_FIELDS:
            assert field in data, field
        assert data["device"] == "CPU"
        assert data["precision"] == cpu_default
        assert data["n"] > 0
        assert isinstance(data["compile_ms"], float)
        assert isinstance(data["first_inference_ms"], float)
        assert len(data["ci"]) == 2
        assert len(data["checks"]) == 1
    for name in ("test_latency_ok", "test_latency_impossible"):
        data = results[f"{base}{name}[{tag}]"]
        assert data["kind"] == "latency"
        for field in LATENCY_FIELDS:
            assert isinstance(data[field], float), field
        assert data["statistic"] == "p50"
        assert data["checks"][0]["value"] == pytest.approx(data["p50_ms"])
    for name in ("test_throughput_ok", "test_throughput_impossible"):
        data = results[f"{base}{name}[{tag}]"]
        assert data["kind"] == "throughput"
        assert isinstance(data["fps"], float)
        assert data["statistic"] == "fps"
    verdicts = {nodeid.split("::")[1]: r["budget_verdict"] for nodeid, r in results.items()}
    assert verdicts == {
        f"test_latency_ok[{tag}]": "pass",
        f"test_latency_impossible[{tag}]": "fail",
        f"test_throughput_ok[{tag}]": "pass",
        f"test_throughput_impossible[{tag}]": "fail",
    }

    # the summary table has a row per checked result
    summary = out[out.index("ovperf summary") :]
    for name, verdict in verdicts.items():
        row = next(line for line in summary.splitlines() if line.startswith(name + " "))
        assert " CPU " in row and verdict in row.split()

    # failures are test failures (not errors) that say what was measured and by how much
    failures = failure_texts(recorder, "call")
    assert sorted(failures) == [
        f"{base}test_latency_impossible[{tag}]",
        f"{base}test_one_off_costs[{tag}]",
        f"{base}test_throughput_impossible[{tag}]",
    ]
    latency = failures[f"{base}test_latency_impossible[{tag}]"]
    latency_data = results[f"{base}test_latency_impossible[{tag}]"]
    for words in (
        "ovperf budget FAILED",
        f"test_latency_impossible[{tag}]",
        "latency_ms",
        f"p50 = {fmt(latency_data['p50_ms'])} ms",
        "CI [",
        f"n={latency_data['n']}",
        "budget <= 1.00e-06 ms",
        "over budget by",
        "%",
        "-> FAIL",
    ):
        assert words in latency, words
    throughput = failures[f"{base}test_throughput_impossible[{tag}]"]
    throughput_data = results[f"{base}test_throughput_impossible[{tag}]"]
    for words in (
        "ovperf budget FAILED",
        "throughput_fps",
        f"fps = {fmt(throughput_data['fps'])} fps",
        "CI [",
        f"n={throughput_data['n']}",
        f"budget >= {fmt(1e12)} fps",
        "short of budget by",
        "%",
        "-> FAIL",
    ):
        assert words in throughput, words
    one_off_text = failures[f"{base}test_one_off_costs[{tag}]"]
    assert "first_inference_ms: first_inference_ms = " in one_off_text
    assert "(single observation)" in one_off_text
    assert "compile_ms" not in one_off_text  # only the broken budgets are listed
    for text in failures.values():
        assert "Traceback" not in text
    assert failure_texts(recorder, "setup") == {}


# -- precisions, budgets scoped to a precision, one compile per precision -----------------

PRECISIONS = (
    HEADER
    + """
SEEN = {}


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", "f32", latency_ms=1e-6)
@pytest.mark.ovperf_budget("CPU", "LOWER", latency_ms=1e6)
@pytest.mark.ovperf_budget("ABSENT", latency_ms=1e-6)
def test_scoped(compiled_model, perf_budget, ovperf_target):
    SEEN[ovperf_target.precision] = compiled_model
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=tiny)
def test_compiled_per_precision(compiled_model, ovperf_target):
    assert SEEN[ovperf_target.precision] is compiled_model
    assert SEEN["f32"] is not SEEN["LOWER"]
    assert compiled_model.get_property("INFERENCE_PRECISION_HINT") == {
        "f32": ov.Type.f32, "bf16": ov.Type.bf16, "f16": ov.Type.f16
    }[ovperf_target.precision]
"""
).replace("import pytest\n", "import openvino as ov\nimport pytest\n", 1)


def test_precision_option_parametrizes_and_budgets_apply_per_precision(
    ovtester: pytest.Pytester,
    runnable_lower_precision: str,
    absent_device: str,
    tmp_path: Path,
) -> None:
    lower = runnable_lower_precision  # bf16 or f16; a CPU with neither skips this test
    source = PRECISIONS.replace("LOWER", lower).replace("ABSENT", absent_device)
    ovtester.makepyfile(test_run_precisions=source)
    report = tmp_path / "ovperf.json"
    result, recorder = run(ovtester, f"--ovperf-precision=f32,{lower}", f"--ovperf-json={report}")

    outcomes = {
        r.nodeid.split("::")[1]: r.outcome
        for r in recorder.getreports("pytest_runtest_logreport")
        if r.when == "call"
    }
    assert outcomes == {
        "test_scoped[CPU-f32]": "failed",  # only the f32 budget is impossible
        f"test_scoped[CPU-{lower}]": "passed",
        "test_compiled_per_precision[CPU-f32]": "passed",
        f"test_compiled_per_precision[CPU-{lower}]": "passed",
    }
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    results = load_results(report)
    f32 = results["test_run_precisions.py::test_scoped[CPU-f32]"]
    low = results[f"test_run_precisions.py::test_scoped[CPU-{lower}]"]
    assert (f32["precision"], f32["requested_precision"]) == ("f32", "f32")
    assert (low["precision"], low["requested_precision"]) == (lower, lower)
    assert [(c["limit"], c["verdict"]) for c in f32["checks"]] == [(1e-6, "fail")]
    assert [(c["limit"], c["verdict"]) for c in low["checks"]] == [(1e6, "pass")]
    assert "precision f32" in failure_texts(recorder, "call")[f32["nodeid"]]


# -- devices ------------------------------------------------------------------------------

DEVICES = (
    HEADER
    + """

@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("ABSENT", "f16", latency_ms=1e-6)
def test_where(compiled_model, ovperf_target):
    assert ovperf_target.device in ("CPU", "HETERO:CPU")
"""
)


def test_device_list_with_missing_devices_skips_them(
    ovtester: pytest.Pytester,
    cpu_default: str,
    lower_precision: str | None,
    unsupported_precision: str | None,
    absent_device: str,
    available_devices: list[str],
) -> None:
    absent = absent_device
    available = ", ".join(available_devices)
    ovtester.makepyfile(test_run_devices=DEVICES.replace("ABSENT", absent))
    result, _ = run(
        ovtester,
        "-rs",
        "-v",
        f"--ovperf-device=CPU,{absent.lower()}",
        f"--ovperf-device=HETERO:{absent},CPU",
        "--ovperf-device=hetero:cpu",
    )
    result.assert_outcomes(passed=2, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            f"*test_where?CPU-{cpu_default}? PASSED*",
            f"*test_where?{absent}-f16? SKIPPED*",  # the precision its budget names for it
            f"*test_where?HETERO:{absent},CPU-default? SKIPPED*",  # one meta device
            "*test_where?HETERO:CPU-default? PASSED*",  # a meta device of present devices
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED*device {absent} is not available on this machine (available: {available})",
            f"SKIPPED*device HETERO:{absent},CPU is not available on this machine "
            f"(available: {available})",
        ]
    )

    # the same from ini keys; the command line would win over them
    ovtester.makeini(f"[pytest]\novperf_device = {absent}, CPU\novperf_precision = f32\n")
    result, _ = run(ovtester, "-v")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [f"*test_where?{absent}-f32? SKIPPED*", "*test_where?CPU-f32? PASSED*"]
    )
    # --ovperf-precision with the lower precision this CPU runs and one it cannot run (each
    # where there is one; every CPU has at least one of the two): it runs one, skips the other
    runs = [p for p in (lower_precision,) if p]
    skips = [p for p in (unsupported_precision,) if p]
    precisions = ",".join([*runs, *skips])
    result, _ = run(
        ovtester, "-v", "-rs", "--ovperf-device=CPU", f"--ovperf-precision={precisions}"
    )
    result.assert_outcomes(passed=len(runs), skipped=len(skips))
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            *(f"*test_where?CPU-{p}? PASSED*" for p in runs),
            *(f"*test_where?CPU-{p}? SKIPPED*" for p in skips),
            *(
                f"SKIPPED*CPU (*) cannot run {p}: its OPTIMIZATION_CAPABILITIES are *"
                for p in skips
            ),
        ]
    )


UNRUNNABLE = (
    HEADER
    + """

@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=1e-6)
@pytest.mark.ovperf_budget("GPU", latency_ms=1e-6)
def test_impossible(compiled_model, perf_budget):
    perf_budget.measure_latency(compiled_model)
"""
)


def test_missing_device_or_precision_skips_and_never_fails(
    ovtester: pytest.Pytester,
    unsupported_precision: str | None,
    absent_device: str,
    available_devices: list[str],
    tmp_path: Path,
) -> None:
    ovtester.makepyfile(test_run_unrunnable=UNRUNNABLE.replace('"GPU"', f'"{absent_device}"'))
    report = tmp_path / "ovperf.json"
    result, _ = run(ovtester, "-rs", f"--ovperf-device={absent_device}", f"--ovperf-json={report}")
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            f"SKIPPED*device {absent_device} is not available*"
            f"(available: {', '.join(available_devices)})"
        ]
    )
    assert "ovperf summary" not in result.stdout.str()
    assert load_results(report) == {}

    unsupported = unsupported_precision
    if unsupported is None:
        return  # this CPU runs bf16 and f16: no precision to skip
    # a precision the device cannot run is skipped the same way
    result, _ = run(ovtester, "-rs", "-v", f"--ovperf-precision={unsupported}")
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            f"*test_impossible?CPU-{unsupported}? SKIPPED*",
            f"SKIPPED*CPU (*) cannot run {unsupported}: its OPTIMIZATION_CAPABILITIES are *",
        ]
    )


# -- inconclusive verdicts ----------------------------------------------------------------

# p99.999 at 99.9999% confidence needs about 1.45 million samples for a two-sided interval;
# a fraction of a second of a ~10 us model gives a few ten thousand, so the interval is
# (-inf, inf) and the verdict is inconclusive whatever the machine's speed
UNDECIDED = (
    HEADER
    + """

@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=1e6, percentile=99.999)
def test_undecided(compiled_model, perf_budget):
    result = perf_budget.measure_latency(compiled_model)
    assert result.budget_verdict.value == "inconclusive"
"""
)


@pytest.mark.parametrize("policy", ["fail", "warn", "pass"])
def test_inconclusive_policy(
    ovtester: pytest.Pytester, policy: str, cpu_default: str, tmp_path: Path
) -> None:
    ovtester.makepyfile(test_run_undecided=UNDECIDED)
    report = tmp_path / "ovperf.json"
    result, recorder = run(
        ovtester,
        f"--ovperf-inconclusive={policy}",
        "--ovperf-confidence=0.999999",
        f"--ovperf-json={report}",
    )
    nodeid = f"test_run_undecided.py::test_undecided[CPU-{cpu_default}]"
    data = load_results(report)[nodeid]
    assert data["budget_verdict"] == "inconclusive"
    assert data["ci"] == [None, None]  # unbounded: JSON has no infinity
    assert data["statistic"] == "p99.999"
    out = result.stdout.str()
    assert "inconclusive" in out[out.index("ovperf summary") :]
    if policy == "fail":
        result.assert_outcomes(failed=1)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        text = failure_texts(recorder, "call")[nodeid]
        assert "ovperf budget INCONCLUSIVE" in text
        assert "p99.999" in text
        assert "-> INCONCLUSIVE" in text
        assert "--ovperf-inconclusive (now: fail)" in text
    elif policy == "warn":
        result.assert_outcomes(passed=1, warnings=1)
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(
            ["*OvperfInconclusiveWarning: ovperf budget INCONCLUSIVE*", "*(now: warn)*"]
        )
    else:
        result.assert_outcomes(passed=1)
        assert result.ret == pytest.ExitCode.OK
        assert "OvperfInconclusiveWarning" not in out


# -- models: sources, shapes, and bad input -----------------------------------------------

INPUTS = (
    HEADER
    + """
def broken_factory():
    raise RuntimeError("no weights today")


MODEL = tiny()


@pytest.mark.ovperf_model("no_such_model.xml")
def test_missing_file(compiled_model):
    pass


@pytest.mark.ovperf_model("garbage.xml")
def test_garbage_file(compiled_model):
    pass


@pytest.mark.ovperf_model(source=tiny, shapes={"features": [1, 16]})
def test_unknown_model_argument(compiled_model):
    pass


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency=5)
def test_unknown_budget_argument(perf_budget):
    pass


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=-1)
def test_negative_budget(perf_budget):
    pass


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=5, percentile=100)
def test_percentile_100(perf_budget):
    pass


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=5, percentile=0)
def test_percentile_0(perf_budget):
    pass


@pytest.mark.ovperf_budget("CPU", latency_ms=5)
def test_no_model_marker(perf_budget):
    pass


@pytest.mark.ovperf_model(source=dynamic_mlp)
def test_dynamic_without_shape(compiled_model):
    pass


@pytest.mark.ovperf_model(source=tiny, shape={"features": [1, 3, 5]})
def test_bad_shape(compiled_model):
    pass


@pytest.mark.ovperf_model(source=broken_factory)
def test_factory_raises(compiled_model):
    pass


@pytest.mark.ovperf_model(source=tiny, inputs=[[0.0] * 16, [0.0] * 16])
def test_too_many_inputs(compiled_model):
    pass


@pytest.mark.ovperf_model(source=tiny, inputs={"pixels": [[0.0] * 16]})
def test_misnamed_input(compiled_model):
    pass


@pytest.mark.ovperf_model(source=tiny, config={"NO_SUCH_PROPERTY": "1"})
def test_bad_config(compiled_model):
    pass


@pytest.mark.ovperf_model(dynamic_mlp, shape={"features": [2, 64]})
def test_reshaped(compiled_model, perf_budget):
    assert list(compiled_model.inputs[0].get_shape()) == [2, 64]
    assert perf_budget.measure_latency(compiled_model).n > 0


@pytest.mark.ovperf_model(MODEL)
def test_ov_model_object(compiled_model):
    assert list(compiled_model.inputs[0].get_shape()) == [1, 16]


@pytest.mark.ovperf_model(lambda: mlp(features=8, hidden=8, depth=1))
def test_lambda_source(compiled_model):
    assert list(compiled_model.inputs[0].get_shape()) == [1, 8]
"""
)

IR_TEST = """
import pytest


@pytest.mark.ovperf_model("tiny_ir.xml")
def test_ir_file(compiled_model):
    assert list(compiled_model.inputs[0].get_shape()) == [1, 16]
"""

#: test name -> words its setup error must contain (besides the test's node id)
SETUP_ERRORS = {
    "test_missing_file": ["model file not found:", "no_such_model.xml"],
    "test_garbage_file": ["cannot read model", "garbage.xml"],
    "test_unknown_model_argument": ["ovperf_model got unknown argument(s) shapes"],
    "test_unknown_budget_argument": ["ovperf_budget got unknown argument(s) latency"],
    "test_negative_budget": ["latency_ms=-1 must be a positive number"],
    "test_percentile_100": ["percentile=100 must be inside (0, 100)"],
    "test_percentile_0": ["percentile=0 must be inside (0, 100)"],
    "test_no_model_marker": ["has no @pytest.mark.ovperf_model"],
    "test_dynamic_without_shape": ["dynamic_mlp()", "dynamic input(s) features", "shape="],
    "test_bad_shape": ["cannot reshape", "[1, 3, 5]"],
    "test_factory_raises": ["broken_factory() raised RuntimeError: no weights today"],
    "test_too_many_inputs": ["gives 2 arrays, the model has 1 inputs"],
    "test_misnamed_input": ["no entry for input ['features']", "['pixels']"],
    "test_bad_config": ["cannot compile", "NO_SUCH_PROPERTY"],
}


def test_model_sources_and_bad_input(ovtester: pytest.Pytester, cpu_default: str) -> None:
    ovtester.makepyfile(test_run_inputs=INPUTS)
    (ovtester.path / "garbage.xml").write_text("<net><layers>this is not a model</net>")
    sub = ovtester.mkpydir("sub")
    (sub / "__init__.py").unlink()  # a plain directory: the path resolves against it
    ov.save_model(mlp(features=16, hidden=16, depth=1), sub / "tiny_ir.xml")
    (sub / "test_ir.py").write_text(IR_TEST)
    result, recorder = run(ovtester, "-rA")

    result.assert_outcomes(passed=4, errors=len(SETUP_ERRORS))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    passed = sorted(
        r.nodeid
        for r in recorder.getreports("pytest_runtest_logreport")
        if r.passed and r.when == "call"
    )
    tag = f"CPU-{cpu_default}"
    assert passed == [
        f"sub/test_ir.py::test_ir_file[{tag}]",
        f"test_run_inputs.py::test_lambda_source[{tag}]",
        f"test_run_inputs.py::test_ov_model_object[{tag}]",
        f"test_run_inputs.py::test_reshaped[{tag}]",
    ]
    errors = failure_texts(recorder, "setup")
    by_name = {nodeid.split("::")[1].split("[")[0]: (nodeid, t) for nodeid, t in errors.items()}
    assert sorted(by_name) == sorted(SETUP_ERRORS)
    for name, words in SETUP_ERRORS.items():
        nodeid, text = by_name[name]
        assert nodeid in text, name
        for word in words:
            assert word in text, (name, word)
        assert_no_traceback(text)
    # a missing or relative model path is resolved against the test file's directory
    assert str(ovtester.path / "no_such_model.xml") in by_name["test_missing_file"][1]
    assert by_name["test_no_model_marker"][0] == "test_run_inputs.py::test_no_model_marker"


# -- xdist --------------------------------------------------------------------------------

XDIST = (
    HEADER
    + """

@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=1e6)
def test_one(compiled_model, perf_budget):
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=tiny)
@pytest.mark.ovperf_budget("CPU", latency_ms=1e-6)
def test_two(compiled_model, perf_budget):
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=tiny)
def test_three(infer_pool, perf_budget):
    perf_budget.measure_throughput(infer_pool)
"""
)


def test_xdist_results_reach_the_controller(
    ovtester: pytest.Pytester, cpu_default: str, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    ovtester.makepyfile(test_run_xdist=XDIST)
    report = tmp_path / "ovperf.json"
    result = ovtester.runpytest_inprocess(
        *FAST, "-p", "xdist", "-n", "2", f"--ovperf-json={report}"
    )
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    results = load_results(report)
    tag = f"CPU-{cpu_default}"
    assert sorted(results) == [
        f"test_run_xdist.py::test_one[{tag}]",
        f"test_run_xdist.py::test_three[{tag}]",
        f"test_run_xdist.py::test_two[{tag}]",
    ]
    assert results[f"test_run_xdist.py::test_two[{tag}]"]["budget_verdict"] == "fail"
    assert results[f"test_run_xdist.py::test_three[{tag}]"]["kind"] == "throughput"
    out = result.stdout.str()
    summary = out[out.index("ovperf summary") :]
    for name in ("test_one", "test_two", "test_three"):
        assert f"{name}[{tag}]" in summary


# -- option errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("--ovperf-precision=fp99", ["--ovperf-precision", "unknown precision 'fp99'"]),
        ("--ovperf-precision=f32,fp99", ["unknown precision 'fp99'"]),
        ("--ovperf-inconclusive=maybe", ["--ovperf-inconclusive='maybe'", "pass, warn or fail"]),
        ("--ovperf-confidence=high", ["--ovperf-confidence='high' is not a number"]),
        ("--ovperf-confidence=1.5", ["confidence 1.5 must be inside (0, 1)"]),
        ("--ovperf-device=,", ["--ovperf-device names no device"]),
    ],
)
def test_bad_option_is_a_usage_error(
    ovtester: pytest.Pytester, option: str, words: Sequence[str]
) -> None:
    ovtester.makepyfile(test_run_nothing="def test_nothing():\n    pass\n")
    result = ovtester.runpytest_inprocess(*FAST, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    for word in words:
        assert word in result.stderr.str(), word


# -- known plugin bugs --------------------------------------------------------------------

LAZY = (
    HEADER
    + """

@pytest.mark.ovperf_model(source=dynamic_mlp)
def test_dynamic_lazy(perf_budget):
    perf_budget.measure_latency()


@pytest.mark.ovperf_model("no_such_model.xml")
def test_missing_lazy(perf_budget):
    perf_budget.measure_latency()
"""
)


def test_bad_model_used_only_through_perf_budget_is_a_setup_error(
    ovtester: pytest.Pytester, cpu_default: str
) -> None:
    ovtester.makepyfile(test_run_lazy=LAZY)
    result, recorder = run(ovtester)
    errors = failure_texts(recorder, "setup")
    assert sorted(errors) == [
        f"test_run_lazy.py::test_{name}_lazy[CPU-{cpu_default}]" for name in ("dynamic", "missing")
    ]
    result.assert_outcomes(errors=2)


SAME_FILE_INPUTS = """
import numpy as np
import pytest


@pytest.mark.ovperf_model("tiny_ir.xml", inputs=[np.zeros((1, 16), np.float32)])
def test_zeros(infer_pool):
    assert float(infer_pool.inputs[0].sum()) == 0.0


@pytest.mark.ovperf_model("tiny_ir.xml", inputs=[np.ones((1, 16), np.float32)])
def test_ones(infer_pool):
    assert float(infer_pool.inputs[0].sum()) == 16.0
"""


def test_each_test_gets_its_own_inputs_for_the_same_model_file(
    ovtester: pytest.Pytester,
) -> None:
    ov.save_model(mlp(features=16, hidden=16, depth=1), ovtester.path / "tiny_ir.xml")
    ovtester.makepyfile(test_run_same_file=SAME_FILE_INPUTS)
    result, _ = run(ovtester)
    result.assert_outcomes(passed=2)


# -- budgets on a busy machine ------------------------------------------------------------

OVER_BUDGET = """
import pytest
from models import mlp

@pytest.mark.ovperf_model(source=lambda: mlp())
@pytest.mark.ovperf_budget("CPU", latency_ms=1e-6)
def test_over(perf_budget):
    perf_budget.measure_latency()
"""


def test_a_budget_is_not_failed_on_a_busy_machine(
    ovtester: pytest.Pytester, tmp_path: Path
) -> None:
    # a process spinning on every CPU makes the machine busy for the whole measurement: the
    # budget, far exceeded, is inconclusive (never failed), and the message says why
    ovtester.makepyfile(test_over=OVER_BUDGET)
    report = tmp_path / "ovperf.json"
    with busy_machine():
        result, _ = run(
            ovtester, "--ovperf-max-foreign-load=1%", "--ovperf-inconclusive=fail",
            f"--ovperf-json={report}",
        )  # fmt: skip
    result.assert_outcomes(failed=1)
    (data,) = json.loads(report.read_text())["results"]
    assert data["budget_verdict"] == "inconclusive"
    assert data["foreign_load"] > 0.01
    out = result.stdout.str()
    assert "ovperf budget INCONCLUSIVE" in out
    assert "not judged: machine busy: other processes used the CPU during this run" in out


def test_a_session_without_perf_tests_loads_no_openvino_numpy_or_scipy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin is imported by every pytest run of an environment that has it: a run that
    collects no perf test (a project's unit tests) must not pay for OpenVINO, numpy or
    scipy. A fresh process, as a user's run is (this suite's process has them all), without
    this suite's capability emulation (conftest.py), which loads OpenVINO itself, and
    without the environment's other plugins (pytest-benchmark or hypothesis, where
    installed, import numpy themselves): the plugin alone is loaded, by name."""
    monkeypatch.delenv("PYTEST_PLUGINS", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(
        """
import sys

def pytest_sessionfinish(session):
    heavy = sorted(m for m in ("openvino", "numpy", "scipy") if m in sys.modules)
    print("heavy modules:", ",".join(heavy) or "none")
"""
    )
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess(
        "-s", "-p", "pytest_ovperf.plugin", "--ovperf-device=CPU"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*heavy modules: none*"])
    # the plugin was active: its option was accepted, and a plain test stays plain
    assert "ovperf summary" not in result.stdout.str()
