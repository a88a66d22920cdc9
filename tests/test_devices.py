"""Device lists, availability and precision support: pure functions and the real ``ov.Core``."""

from __future__ import annotations

import os

import openvino as ov
import pytest
from conftest import (
    HIDE_ENV,
    core_patches,
    hidden_capabilities,
    hide_in_child_processes,
    lower_precision_of,
    no_lower_precision_reason,
    precision_capability,
    unsupported_precision_of,
    visible_capabilities,
)

from pytest_ovperf.measure.loops import batch_timeout_ms
from pytest_ovperf.runtime.devices import (
    DEFAULT_PRECISION,
    PRECISIONS,
    DeviceCatalog,
    device_is_available,
    hint_value_for,
    is_meta_device,
    member_devices,
    parse_precision_list,
    possible_batch_timeout_ms,
    precision_label,
    profile_config,
    split_device_list,
    steady_config,
)
from pytest_ovperf.runtime.toy_models import mlp

# -- split_device_list -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["CPU"], ["CPU"]),
        (["CPU,GPU"], ["CPU", "GPU"]),
        (["CPU", "GPU"], ["CPU", "GPU"]),
        ([" CPU , GPU "], ["CPU", "GPU"]),
        (["cpu,gpu.1"], ["CPU", "GPU.1"]),
        (["HETERO:GPU,CPU"], ["HETERO:GPU,CPU"]),  # one meta device, not two
        (["hetero:gpu, cpu"], ["HETERO:GPU,CPU"]),
        (["CPU", "MULTI:GPU,CPU"], ["CPU", "MULTI:GPU,CPU"]),
        (["CPU,MULTI:GPU,CPU"], ["CPU", "MULTI:GPU,CPU"]),  # the meta list runs to the end
        (["AUTO"], ["AUTO"]),
        (["auto:gpu,cpu"], ["AUTO:GPU,CPU"]),
        (["BATCH:GPU(4)"], ["BATCH:GPU(4)"]),
        (["CPU", "cpu", "CPU,CPU"], ["CPU"]),  # duplicates removed
        (["GPU,CPU,GPU"], ["GPU", "CPU"]),  # first occurrence keeps its place
        (["HETERO:GPU,CPU", "hetero:GPU,cpu"], ["HETERO:GPU,CPU"]),
        (["CPU,,GPU,"], ["CPU", "GPU"]),
        ([""], []),
        ([], []),
    ],
)
def test_split_device_list(values: list[str], expected: list[str]) -> None:
    assert split_device_list(values) == expected


def test_meta_device_helpers() -> None:
    assert is_meta_device("HETERO:GPU,CPU")
    assert is_meta_device("AUTO")
    assert not is_meta_device("CPU")
    assert not is_meta_device("GPU.0")
    assert member_devices("HETERO:GPU,CPU") == ["GPU", "CPU"]
    assert member_devices("AUTO") == []
    assert member_devices("BATCH:CPU(4)") == ["CPU"]
    assert member_devices("GPU.1") == ["GPU.1"]


# -- device_is_available -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "available", "expected"),
    [
        ("CPU", ["CPU"], True),
        ("GPU", ["CPU"], False),
        ("GPU", ["CPU", "GPU.0"], True),  # GPU.0 counts as GPU
        ("GPU", ["CPU", "GPU.0", "GPU.1"], True),
        ("GPU.1", ["CPU", "GPU.0", "GPU.1"], True),
        ("GPU.1", ["CPU", "GPU.0"], False),
        ("GPU", ["CPU", "GPU"], True),
        ("NPU", ["CPU", "GPU.0"], False),
        ("HETERO:GPU,CPU", ["CPU"], False),  # every member is needed
        ("HETERO:GPU,CPU", ["CPU", "GPU.0"], True),
        ("MULTI:CPU", ["CPU"], True),
        ("AUTO", ["CPU"], True),
        ("AUTO", [], True),  # bare AUTO picks whatever there is
        ("AUTO:GPU,CPU", ["CPU"], False),
        ("CPU", [], False),
    ],
)
def test_device_is_available(device: str, available: list[str], expected: bool) -> None:
    assert device_is_available(device, available) is expected


# -- precisions --------------------------------------------------------------------------


def test_parse_precision_list() -> None:
    assert parse_precision_list(["f32"]) == ["f32"]
    assert parse_precision_list(["F32, bf16", "f32", "INT8"]) == ["f32", "bf16", "int8"]
    assert parse_precision_list([""]) == []
    assert parse_precision_list(["f16,,"]) == ["f16"]
    assert parse_precision_list([]) == []


@pytest.mark.parametrize("bad", ["fp99", "fp32", "float32", "i8", "f32,fp16"])
def test_parse_precision_list_names_the_unknown_precision(bad: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_precision_list([bad])
    message = str(raised.value)
    wrong = next(p for p in bad.split(",") if p not in PRECISIONS)
    assert f"unknown precision {wrong!r}" in message
    assert "f32, bf16, f16, int8" in message


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (ov.Type.f32, "f32"),
        (ov.Type.bf16, "bf16"),
        (ov.Type.f16, "f16"),
        ("f32", "f32"),
        ("FP32", "f32"),
        ("bfloat16", "bf16"),
        ("i8", "int8"),
        ("u8", "int8"),
        (None, DEFAULT_PRECISION),
        ("", DEFAULT_PRECISION),
    ],
)
def test_precision_label(value: object, label: str) -> None:
    assert precision_label(value) == label


@pytest.mark.parametrize("value", [ov.Type.i8, ov.Type.u8])
def test_precision_label_of_integer_ov_types(value: object) -> None:
    assert precision_label(value) == "int8"


def test_hint_value_for() -> None:
    assert hint_value_for("f32") == "f32"
    assert hint_value_for("bf16") == "bf16"
    assert hint_value_for("f16") == "f16"
    assert hint_value_for("int8") is None  # int8 comes from the model, not a hint
    assert hint_value_for(DEFAULT_PRECISION) is None


# -- DeviceCatalog on the real runtime ---------------------------------------------------


@pytest.fixture(scope="module")
def core() -> ov.Core:
    return ov.Core()


@pytest.fixture
def catalog(core: ov.Core) -> DeviceCatalog:
    return DeviceCatalog(core)


def test_catalog_cpu(core: ov.Core, catalog: DeviceCatalog) -> None:
    assert "CPU" in catalog.available
    info = catalog.info("CPU")
    assert info.available
    assert info.name == "CPU"
    assert info.full_name == str(core.get_property("CPU", "FULL_DEVICE_NAME"))
    capabilities = [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    assert info.capabilities == tuple(capabilities)
    assert "FP32" in info.capabilities
    # the default is whatever the runtime picks for this CPU (bf16 on some CPUs that have
    # it, f32 on others, depending on the CPU and the OpenVINO release)
    runtime_default = precision_label(core.get_property("CPU", "INFERENCE_PRECISION_HINT"))
    assert info.default_precision == runtime_default
    assert info.default_precision in PRECISIONS
    if "BF16" not in info.capabilities and "FP16" not in info.capabilities:
        assert info.default_precision == "f32"


def test_catalog_missing_device(catalog: DeviceCatalog, absent_device: str) -> None:
    # GPU where the machine has none, else another device it lacks
    info = catalog.info(absent_device)
    assert not info.available
    assert info.default_precision == DEFAULT_PRECISION
    assert not catalog.info(f"HETERO:{absent_device},CPU").available


def test_catalog_meta_devices(catalog: DeviceCatalog) -> None:
    cpu = catalog.info("CPU")
    for name in ("AUTO:CPU", "HETERO:CPU", "MULTI:CPU"):
        info = catalog.info(name)
        assert info.available, name
        assert info.default_precision == DEFAULT_PRECISION
        assert info.full_name == cpu.full_name
        assert set(info.capabilities) == set(cpu.capabilities)
    # bare AUTO may pick any device of the machine: it runs what all of them can
    auto = catalog.info("AUTO")
    assert auto.available
    assert auto.default_precision == DEFAULT_PRECISION
    assert cpu.full_name in auto.full_name.split(" + ")
    assert set(auto.capabilities) <= set(cpu.capabilities)
    if catalog.available == ["CPU"]:
        assert auto.full_name == cpu.full_name
        assert set(auto.capabilities) == set(cpu.capabilities)


def test_steady_inference_on_auto_runs_without_the_cpu_start_up_helper() -> None:
    off = {"ENABLE_STARTUP_FALLBACK": False}
    assert steady_config("AUTO:GPU,CPU", {"PERF_COUNT": True}) == {**off, "PERF_COUNT": True}
    assert steady_config("AUTO", {}) == off
    # the test's own setting wins; other devices have no such helper
    assert steady_config("AUTO", {"ENABLE_STARTUP_FALLBACK": True}) == {
        "ENABLE_STARTUP_FALLBACK": True
    }
    assert steady_config("HETERO:GPU,CPU", {"PERF_COUNT": True}) == {"PERF_COUNT": True}
    assert steady_config("CPU", {}) == {}


def test_catalog_caches_queries(catalog: DeviceCatalog) -> None:
    assert catalog.info("CPU") is catalog.info("CPU")


def test_unsupported_precision_reason(catalog: DeviceCatalog) -> None:
    cpu = catalog.info("CPU")
    assert catalog.unsupported_precision_reason("CPU", "f32") is None
    assert catalog.unsupported_precision_reason("CPU", DEFAULT_PRECISION) is None
    capability = {"f32": "FP32", "bf16": "BF16", "f16": "FP16", "int8": "INT8"}
    for precision, name in capability.items():
        reason = catalog.unsupported_precision_reason("CPU", precision)
        if name in cpu.capabilities:
            assert reason is None, precision
        else:
            assert reason is not None
            assert reason.startswith(f"CPU ({cpu.full_name}) cannot run {precision}")
            assert "OPTIMIZATION_CAPABILITIES" in reason
            assert "FP32" in reason


def test_lower_precision_on_a_cpu_without_it(
    catalog: DeviceCatalog, unsupported_precision: str | None
) -> None:
    # f16 on most x86 CPUs, bf16 on ARM and on x86 CPUs without AVX512-BF16 or AMX
    if unsupported_precision is None:
        pytest.skip("CPU has both BF16 and FP16 in OPTIMIZATION_CAPABILITIES")
    reason = catalog.unsupported_precision_reason("CPU", unsupported_precision)
    assert reason is not None
    assert f"cannot run {unsupported_precision}" in reason


@pytest.mark.parametrize("device", ["HETERO", "MULTI", "BATCH"])
def test_bare_meta_device_without_members_is_not_available(device: str) -> None:
    assert not device_is_available(device, ["CPU", "GPU"])
    assert device_is_available("AUTO", ["CPU"])


# -- the suite's own view of this machine (tests/conftest.py) ------------------------------


@pytest.mark.parametrize(
    ("capabilities", "reason"),
    [
        (["FP32", "INT8"], "CPU has no BF16 or FP16 in OPTIMIZATION_CAPABILITIES (FP32, INT8)"),
        ([], "CPU has no BF16 or FP16 in OPTIMIZATION_CAPABILITIES (none reported)"),
    ],
)
def test_a_test_that_needs_a_lower_precision_names_what_is_missing(
    capabilities: list[str], reason: str
) -> None:
    assert lower_precision_of(capabilities) is None
    assert no_lower_precision_reason(capabilities) == reason


@pytest.mark.parametrize(
    ("capabilities", "hidden", "lower", "unsupported"),
    [
        (["BF16", "WINOGRAD", "FP32", "INT8"], "BF16", None, "bf16"),  # as a plain AVX2 CPU
        (["BF16", "FP16", "FP32", "INT8"], "BF16", "f16", "bf16"),  # as ARM with fp16
        (["BF16", "FP16", "FP32", "INT8"], "fp16", "bf16", "f16"),  # as AVX512-BF16
        (["BF16", "FP16", "FP32", "INT8"], " bf16, FP16 ", None, "bf16"),
        (["FP32", "INT8"], "BF16", None, "bf16"),  # hiding what is not there changes nothing
        (["BF16", "FP32", "INT8"], "", "bf16", "f16"),
    ],
)
def test_hidden_capabilities_change_what_the_tests_pick(
    capabilities: list[str], hidden: str, lower: str | None, unsupported: str | None
) -> None:
    visible = visible_capabilities(capabilities, hidden_capabilities(hidden))
    assert "FP32" in visible and "INT8" in visible
    assert (lower_precision_of(visible), unsupported_precision_of(visible)) == (lower, unsupported)


@pytest.mark.parametrize("value", ["FP32", "BF16,INT8", "AMX"])
def test_only_lower_precisions_can_be_hidden(value: str) -> None:
    with pytest.raises(ValueError, match=f"{HIDE_ENV}=.*cannot hide .*choose from BF16, FP16"):
        hidden_capabilities(value)


def test_precision_capability() -> None:
    assert precision_capability(ov.Type.bf16) == precision_capability("bf16") == "BF16"
    assert precision_capability(ov.Type.f16) == precision_capability("F16") == "FP16"
    assert precision_capability(ov.Type.f32) is None
    assert precision_capability("f32") is None
    assert precision_capability(None) is None


def test_hidden_capabilities_on_the_real_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """With BF16 and FP16 hidden, this CPU looks like one without either, to the plugin too:
    f32 by default, a bf16 or f16 hint compiles to f32, both are refused with a reason."""
    for name, value in core_patches(frozenset({"BF16", "FP16"})).items():
        monkeypatch.setattr(ov.Core, name, value, raising=False)
    core = ov.Core()
    capabilities = [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    assert "BF16" not in capabilities and "FP16" not in capabilities
    assert "FP32" in capabilities
    assert core.get_property("CPU", "INFERENCE_PRECISION_HINT") == ov.Type.f32
    model = mlp(features=8, hidden=8, depth=1)
    for hint in (None, "bf16", "f16", ov.Type.bf16):
        config = {} if hint is None else {"INFERENCE_PRECISION_HINT": hint}
        compiled = core.compile_model(model, "CPU", config)
        assert compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32, hint
    catalog = DeviceCatalog(core)
    assert catalog.info("CPU").default_precision == "f32"
    for precision in ("bf16", "f16"):
        reason = catalog.unsupported_precision_reason("CPU", precision)
        assert reason is not None and f"cannot run {precision}" in reason
    assert catalog.unsupported_precision_reason("CPU", "f32") is None


CHILD_TEST = """
import openvino as ov

from pytest_ovperf.runtime.devices import DeviceCatalog


def test_the_cpu_has_neither_bf16_nor_fp16():
    core = ov.Core()
    capabilities = [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    assert "BF16" not in capabilities and "FP16" not in capabilities
    assert core.get_property("CPU", "INFERENCE_PRECISION_HINT") == ov.Type.f32
    assert DeviceCatalog(core).unsupported_precision_reason("CPU", "bf16") is not None
"""


def test_hidden_capabilities_reach_child_pytest_processes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    # the environment as it is now comes back after the test, whatever the helper changes
    for name in ("PYTEST_PLUGINS", "PYTHONPATH"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    monkeypatch.setenv(HIDE_ENV, "BF16,FP16")
    hide_in_child_processes(request.addfinalizer)
    pytester.makepyfile(test_child=CHILD_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_profile_runs_without_automatic_batching_unless_the_config_asks() -> None:
    assert profile_config({"PERFORMANCE_HINT": "THROUGHPUT"}) == {
        "ALLOW_AUTO_BATCHING": "NO",
        "PERFORMANCE_HINT": "THROUGHPUT",
        "PERF_COUNT": True,
    }
    assert profile_config({"ALLOW_AUTO_BATCHING": True})["ALLOW_AUTO_BATCHING"] is True


class _Compiled:
    """The properties ``possible_batch_timeout_ms`` reads of a meta device's compiled model
    (which reports no ``AUTO_BATCH_TIMEOUT``)."""

    def __init__(self, executing: list[str], hint: str = "THROUGHPUT") -> None:
        self.properties = {
            "SUPPORTED_PROPERTIES": ["EXECUTION_DEVICES", "PERFORMANCE_HINT"],
            "EXECUTION_DEVICES": executing,
            "PERFORMANCE_HINT": hint,
        }

    def get_property(self, name: str) -> object:
        return self.properties[name]


def test_a_meta_device_running_a_gpu_may_batch_unreported() -> None:
    def possible(device: str, config: dict[str, object], *executing: str) -> float | None:
        return possible_batch_timeout_ms(_Compiled(list(executing)), device, config)  # type: ignore[arg-type]

    # AUTO:GPU,CPU on the H200, without its start-up helper: GPU.0
    assert possible("AUTO:GPU,CPU", {}, "GPU.0") == 1000.0
    assert possible("HETERO:GPU.1,CPU", {"AUTO_BATCH_TIMEOUT": 20}, "GPU.1", "CPU") == 20.0
    # bare AUTO that chose the CPU, batching switched off, or the LATENCY hint: no batching
    assert possible("AUTO", {}, "CPU") is None
    assert possible("AUTO:GPU,CPU", {"ALLOW_AUTO_BATCHING": False}, "GPU.0") is None
    assert possible("AUTO:GPU,CPU", {"ALLOW_AUTO_BATCHING": "NO"}, "GPU.0") is None
    assert possible_batch_timeout_ms(_Compiled(["GPU.0"], "LATENCY"), "AUTO", {}) is None  # type: ignore[arg-type]
    # a plain device reports its own
    assert possible("GPU", {}, "GPU.0") is None
    # the real AUTO:CPU runs the CPU
    compiled = ov.Core().compile_model(
        mlp(8, 16, depth=1), "AUTO:CPU", {"PERFORMANCE_HINT": "THROUGHPUT"}
    )
    assert possible_batch_timeout_ms(compiled, "AUTO:CPU", {}) is None


def test_automatic_batching_is_read_from_the_compiled_model() -> None:
    """``BATCH:CPU(2)`` batches requests on the CPU as the GPU plugin does under a
    THROUGHPUT hint: its compiled model reports the timeout; the CPU's does not."""
    core = ov.Core()
    model = mlp(8, 16, depth=1)
    batched = core.compile_model(model, "BATCH:CPU(2)", {"AUTO_BATCH_TIMEOUT": 30})
    assert batch_timeout_ms(batched) == 30.0
    assert batch_timeout_ms(core.compile_model(model, "CPU")) is None
