"""Why a result is what it is: runtime precision, per-layer attribution, and the outputs CI
systems read (JUnit XML properties, markdown summary)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import example_result, run_json

from pytest_ovperf.messages import async_stall_message
from pytest_ovperf.results import ThroughputResult
from pytest_ovperf.runtime.profile import (
    LayerTime,
    RuntimeProfile,
    attribute,
    kernel_precision,
    profile_from_json,
    profile_to_json,
)

# -- pure logic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel", "precision"),
    [
        ("jit_avx2_FP32", "f32"),
        ("brgconv_avx512_amx_bf16", "bf16"),
        ("gemm_f16", "f16"),
        ("jit_avx512_I8", "int8"),
        ("undef", None),
        ("ref_any", None),
    ],
)
def test_kernel_names_spell_their_precision(kernel: str, precision: str | None) -> None:
    assert kernel_precision(kernel) == precision


def layer(layer_type: str, precision: str, time_us: float, kernel: str = "k") -> LayerTime:
    return LayerTime(f"{layer_type}_{time_us}", layer_type, precision, kernel, time_us)


def test_precision_shares_weigh_layers_by_time() -> None:
    profile = RuntimeProfile((layer("Conv", "bf16", 90.0), layer("Softmax", "f32", 10.0)))
    assert profile.precision_shares() == pytest.approx({"bf16": 0.9, "f32": 0.1})
    assert list(profile.precision_shares()) == ["bf16", "f32"]


def test_precision_shares_leave_conversions_out() -> None:
    # a bf16 model's f32 input reorder converts, it does not compute: no fallback to f32
    profile = RuntimeProfile((layer("Reorder", "f32", 60.0), layer("FullyConnected", "bf16", 40.0)))
    assert profile.precision_shares() == pytest.approx({"bf16": 1.0})
    # a model of nothing but conversions still has shares
    only = RuntimeProfile((layer("Convert", "f32", 5.0),))
    assert only.precision_shares() == pytest.approx({"f32": 1.0})


def _throughput(
    fps: float,
    first_inference_ms: float,
    requests: int,
    batch_timeout_ms: float | None = None,
    optimal_requests: int | None = None,
) -> ThroughputResult:
    common = vars(example_result([fps], first_inference_ms=first_inference_ms)).copy()
    del common["latencies_ms"], common["percentile"]
    common.update(kind="throughput", statistic="fps", nodeid="test_x.py::test_q[AUTO-f32]")
    return ThroughputResult(
        **common,
        completed=100,
        requests=requests,
        optimal_requests=optimal_requests,
        auto_batch_timeout_ms=batch_timeout_ms,
    )


def test_a_throughput_far_below_one_sync_inference_at_a_time_names_the_stall() -> None:
    # what AUTO:GPU,CPU read on an NVIDIA H200 through OpenCL: one request, 1.02 fps, while
    # its first (sync) inference took 0.64 ms
    text = async_stall_message(_throughput(1.02, 0.64, requests=1))
    assert text.startswith("test_x.py::test_q[AUTO-f32]: 1.02 fps with 1 infer request(s)")
    assert "took 0.64 ms, 1562 per second" in text
    assert "1532x slower than one inference at a time" in text
    # a queue at a fifth of the first inference's rate, or just above a tenth, is load or
    # noise on a slow device, not a stall
    assert async_stall_message(_throughput(200.0, 1.0, requests=2)) == ""
    assert async_stall_message(_throughput(101.0, 1.0, requests=2)) == ""
    assert async_stall_message(_throughput(0.0, 1.0, requests=2)) == ""
    assert async_stall_message(example_result([1.0], first_inference_ms=1e3)) == ""


def test_requests_waiting_out_automatic_batching_name_its_timeout() -> None:
    # the H200's GPU under a THROUGHPUT hint batches requests and waits 1000 ms for a batch
    # to fill: one request in flight read 1 fps, its first inference 1001 ms (so the rule
    # above, against the first inference, cannot see it)
    text = async_stall_message(_throughput(0.999, 1001.0, 1, 1000.0, optimal_requests=512))
    assert "0.999 fps with 1 infer request(s) in flight: each request took 1001 ms" in text
    assert "the 1000 ms that automatic batching on " in text and "AUTO_BATCH_TIMEOUT" in text
    assert "keep 512 requests in flight (OPTIMAL_NUMBER_OF_INFER_REQUESTS" in text
    # a full queue fills its batches, however long a heavy model's cycle (512 requests at
    # 500 fps: 1024 ms); batches that fill cycle in milliseconds (the H200's first GPU run:
    # 512 requests at 99,295 fps)
    assert async_stall_message(_throughput(500.0, 1001.0, 512, 1000.0, 512)) == ""
    assert async_stall_message(_throughput(99_295.0, 1001.0, 512, 1000.0, 512)) == ""
    # a short queue whose requests take far longer than the timeout is slow, not waiting;
    # one far quicker than the timeout did not wait it out
    assert async_stall_message(_throughput(0.3, 1001.0, 1, 1000.0, 512)) == ""
    assert async_stall_message(_throughput(100.0, 1001.0, 1, 1000.0, 512)) == ""


def test_a_meta_device_that_may_batch_on_its_gpu_warns_on_a_short_queue() -> None:
    # AUTO:GPU,CPU and HETERO:GPU,CPU on the H200: a one-request pool read 1.142 fps, their
    # compiled models report no AUTO_BATCH_TIMEOUT, their first inference took 1001 ms
    def meta(fps: float, requests: int) -> ThroughputResult:
        result = _throughput(fps, 1001.0, requests, None, optimal_requests=512)
        result.possible_batch_timeout_ms = 1000.0
        return result

    text = async_stall_message(meta(1.142, 1))
    assert "each request took 875.7 ms, about the 1000 ms that automatic batching" in text
    assert "may use on its GPU (a meta device does not report it)" in text
    assert "keep 512 requests in flight" in text
    # a full queue, or requests far slower than the timeout: no claim about batching
    assert async_stall_message(meta(1.142 * 512, 512)) == ""
    assert async_stall_message(meta(0.3, 1)) == ""


BATCH_TEST = """
import pytest
from models import mlp
from pytest_ovperf import InferPool

@pytest.mark.ovperf_model(source=lambda: mlp(hidden=64), config={"AUTO_BATCH_TIMEOUT": 20})
def test_one_request(infer_pool, perf_budget):
    # one request in flight: a batch of the device's size never fills
    pool = InferPool(infer_pool.compiled_model, infer_pool.inputs, size=1)
    perf_budget.measure_throughput(pool)


@pytest.mark.ovperf_model(source=lambda: mlp(hidden=64), config={"AUTO_BATCH_TIMEOUT": 20})
def test_the_device_queue(infer_pool, perf_budget):
    perf_budget.measure_throughput(infer_pool)
"""


def test_a_queue_too_short_for_automatic_batching_warns(ovtester: pytest.Pytester) -> None:
    """``BATCH:CPU(4)`` batches requests on the CPU as the GPU plugin does under a
    THROUGHPUT hint: one request waits out the timeout, and the warning says so; the
    device's own queue is measured in whole queues."""
    ovtester.makepyfile(test_batch=BATCH_TEST)
    result, (data, full) = run_json(
        ovtester, "--ovperf-device=BATCH:CPU(4)", "--ovperf-speed-probe=off", "-W", "always"
    )
    result.assert_outcomes(passed=2)
    # the device's own queue fills its batches: blocks end at whole queues, and no warning
    assert full["infer_requests"] == full["optimal_infer_requests"] > 1
    assert full["n"] % full["infer_requests"] == 0
    assert "test_the_device_queue" not in "".join(
        line for line in result.stdout.lines if "OvperfAsyncStallWarning" in line
    )
    assert data["device"] == "BATCH:CPU(4)"
    assert data["infer_requests"] == 1 and data["optimal_infer_requests"] > 1
    assert data["auto_batch_timeout_ms"] == 20.0
    assert data["top_layers"]  # the profile compiles on BATCH too (batching off)
    result.stdout.fnmatch_lines(
        ["*OvperfAsyncStallWarning*automatic batching on BATCH:CPU(4) waits*(AUTO_BATCH_TIMEOUT)*"]
    )


def test_attribution_puts_added_and_slowed_layer_types_first() -> None:
    before = RuntimeProfile((layer("Conv", "f32", 100.0), layer("Pool", "f32", 50.0)))
    after = RuntimeProfile(
        (
            layer("Conv", "f32", 100.0),
            layer("Pool", "f32", 80.0, kernel="ref"),
            layer("MatMul", "f32", 200.0),
        )
    )
    changes = attribute(before.by_type(), after.by_type())
    assert [c.layer_type for c in changes] == ["MatMul", "Pool", "Conv"]
    assert changes[0].baseline_us == 0 and changes[0].delta_us == 200
    assert changes[1].current_kernels == {"ref"} and changes[1].baseline_kernels == {"k"}


def test_a_stored_profile_round_trips_and_bad_ones_are_ignored() -> None:
    profile = RuntimeProfile((layer("Conv", "bf16", 90.0, "brg"), layer("Conv", "f32", 10.0)))
    stored = json.loads(json.dumps(profile_to_json(profile)))
    assert stored == {"Conv": {"us": 100.0, "kernels": ["brg", "k"], "precisions": ["bf16", "f32"]}}
    assert profile_from_json(stored) == profile.by_type()
    assert profile_from_json(None) is None
    assert profile_from_json({"Conv": {"us": "fast"}}) is None


# -- runtime precision -------------------------------------------------------------------

MLP_TEST = """
import pytest
from models import mlp

@pytest.mark.ovperf_model(source=lambda: mlp(hidden=128))
@pytest.mark.ovperf_budget("CPU", "{precision}", latency_ms=1e6{strict})
def test_mlp(perf_budget):
    perf_budget.measure_latency()
"""


def test_the_report_gives_the_share_of_compute_per_runtime_precision(
    ovtester: pytest.Pytester, cpu_default: str
) -> None:
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="f32", strict=""))
    result, (data,) = run_json(ovtester)
    result.assert_outcomes(passed=1)
    shares = data["runtime_precisions"]
    assert max(shares, key=shares.get) == "f32"
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert data["top_layers"] and data["top_layers"][0]["time_us"] > 0


def test_an_auto_device_is_profiled_without_its_cpu_start_up_helper(
    ovtester: pytest.Pytester,
) -> None:
    """The profile of an AUTO device compiles with ENABLE_STARTUP_FALLBACK off, so that its
    inferences run on the device AUTO chose (``devices.profile_config``): AUTO:CPU takes it."""
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="f32", strict=""))
    result, (data,) = run_json(ovtester, "--ovperf-device=AUTO:CPU", "--ovperf-precision=f32")
    result.assert_outcomes(passed=1)
    assert data["device"] == "AUTO:CPU"
    shares = data["runtime_precisions"]
    assert max(shares, key=shares.get) == "f32"
    assert data["top_layers"]


def test_a_lower_precision_the_cpu_runs_is_what_runs(
    ovtester: pytest.Pytester, runnable_lower_precision: str
) -> None:
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision=runnable_lower_precision, strict=""))
    result, (data,) = run_json(ovtester)
    result.assert_outcomes(passed=1)
    shares = data["runtime_precisions"]
    assert max(shares, key=shares.get) == runnable_lower_precision


def test_a_silent_fallback_warns_and_fails_when_strict(
    ovtester: pytest.Pytester, cpu_capabilities: tuple[str, ...]
) -> None:
    if "INT8" not in cpu_capabilities:
        pytest.skip(f"CPU has no INT8 in OPTIMIZATION_CAPABILITIES ({', '.join(cpu_capabilities)})")
    # int8 asked of a float model: the device runs its floating-point precision
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="int8", strict=""))
    result, (data,) = run_json(ovtester, "-W", "always")
    result.assert_outcomes(passed=1)
    assert data["runtime_precisions"].get("int8", 0.0) < 0.5
    result.stdout.fnmatch_lines(["*asked CPU for int8, but 0% of the compute ran in it*"])

    ovtester.makepyfile(
        test_mlp=MLP_TEST.format(precision="int8", strict=", strict_precision=True")
    )
    result, _ = run_json(ovtester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the device fell back (strict_precision)*"])

    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="int8", strict=""))
    result, _ = run_json(ovtester, "--ovperf-strict-precision")
    result.assert_outcomes(failed=1)


def test_strict_precision_must_be_a_bool(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="f32", strict=", strict_precision=1"))
    result, _ = run_json(ovtester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*strict_precision=1 must be True or False*"])


def test_profiling_can_be_switched_off(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="f32", strict=""))
    _, (data,) = run_json(ovtester, "--ovperf-profile=off")
    assert "runtime_precisions" not in data


# -- attribution -------------------------------------------------------------------------

SLOWER_IN_KNOWN_LAYERS = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(
    source=lambda: mobilenet_like(extra_blocks=12),
    reference=lambda: mobilenet_like(size=32),
)
def test_slower(perf_budget):
    perf_budget.measure_latency()
"""


def test_a_regression_names_the_layer_types_that_gained_time(ovtester: pytest.Pytester) -> None:
    # twelve extra depthwise-separable blocks (group and 1x1 convolutions) on an image
    # four times as large: several times slower, whatever else runs on the machine
    ovtester.makepyfile(test_slower=SLOWER_IN_KNOWN_LAYERS)
    result, (data,) = run_json(ovtester, "--ovperf-min-time=0.5", "--ovperf-max-time=3")
    assert data["baseline_verdict"] == "regression", data.get("baseline_message")
    top = data["attribution"][0]
    assert top["type"] in ADDED_LAYER_TYPES
    assert top["current_us"] > top["baseline_us"]
    result.stdout.fnmatch_lines(["*where the time went*", f"*{top['type']}: *us (+*"])


#: the CPU plugin's names for the layers the extra blocks add: depthwise and 1x1
#: convolutions; on the small final feature map it runs the 1x1 ones as FullyConnected
ADDED_LAYER_TYPES = {"Convolution", "GroupConvolution", "FullyConnected"}

HISTORY_TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size={size}, extra_blocks={extra}))
def test_history(perf_budget):
    perf_budget.measure_latency()
"""


def test_a_history_regression_is_attributed_against_the_stored_profile(
    ovtester: pytest.Pytester,
) -> None:
    ovtester.makeini("[pytest]\npythonpath = .\n")
    ovtester.makepyfile(test_history=HISTORY_TEST.format(size=32, extra=0))
    result, (data,) = run_json(ovtester, "--ovperf-update-baselines", "--ovperf-speed-probe=off")
    result.assert_outcomes(passed=1)
    stored = json.loads((ovtester.path / "baselines" / "test_history.json").read_text())
    (entry,) = [by_kind["latency"] for p in stored["entries"].values() for by_kind in p.values()]
    assert set(entry["profile"]) & ADDED_LAYER_TYPES

    # the same test now runs 12 extra blocks on an image four times as large (about 10x the
    # cost, far beyond any noise); no A/B (history): the stored profile is compared
    ovtester.makepyfile(test_history=HISTORY_TEST.format(size=64, extra=12))
    args = (
        "--ovperf-compare=history",
        "--ovperf-speed-probe=off",
        "--ovperf-min-time=0.5",
        "--ovperf-max-time=2",
    )
    result, (data,) = run_json(ovtester, *args)
    assert data["baseline_verdict"] == "regression", data["baseline_message"]
    assert data["attribution"][0]["type"] in ADDED_LAYER_TYPES, data["attribution"]
    result.stdout.fnmatch_lines(["*where the time went*"])


# -- JUnit XML and markdown --------------------------------------------------------------


def test_junit_xml_carries_each_figure_as_a_property(ovtester: pytest.Pytester) -> None:
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="f32", strict=""))
    junit = ovtester.path / "junit.xml"
    result, (data,) = run_json(ovtester, f"--junitxml={junit}")
    result.assert_outcomes(passed=1)
    properties = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert properties["ovperf_latency_budget_verdict"] == "pass"
    assert float(properties["ovperf_latency_p50_ms"]) == pytest.approx(data["p50_ms"], rel=1e-5)
    assert properties["ovperf_latency_runtime_precisions"].startswith("f32 ")


def test_markdown_summary_to_a_file_and_to_the_github_step_summary(
    ovtester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ovtester.makepyfile(test_mlp=MLP_TEST.format(precision="f32", strict=""))
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    markdown = tmp_path / "out" / "ovperf.md"
    result, _ = run_json(ovtester, f"--ovperf-markdown={markdown}")
    result.assert_outcomes(passed=1)
    text = markdown.read_text()
    assert text.startswith("### pytest-ovperf")
    assert "| test_mlp[CPU-f32] | CPU | f32 | p50 |" in text
    assert step_summary.read_text() == "earlier step\n" + text
