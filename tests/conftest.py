from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import openvino as ov
import pytest

pytest_plugins = ["pytester"]

EXAMPLE_MODELS = Path(__file__).resolve().parent.parent / "examples" / "models.py"

#: keeps measurements short: tests check behaviour, never speed
FAST = (
    "--ovperf-warmup=0.02",
    "--ovperf-min-time=0.1",
    "--ovperf-max-time=0.3",
    "-p",
    "no:cacheprovider",
)


@pytest.fixture(autouse=True)
def _local_terminal_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make inner pytest runs print as they do locally.

    pytest stops truncating the short test summary when ``CI`` or ``BUILD_NUMBER`` is set,
    so output assertions would otherwise see each failure message twice on CI only.
    """
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)


@pytest.fixture
def ovtester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding the example model builders as ``models.py``."""
    pytester.makepyfile(models=EXAMPLE_MODELS.read_text())
    pytester.syspathinsert()
    return pytester


# -- what this machine can run: tests that need a capability pick it here ----------------

#: the lower precisions a test may try, each with the OPTIMIZATION_CAPABILITIES entry it needs
LOWER_PRECISIONS = (("bf16", "BF16"), ("f16", "FP16"))
#: devices a test may use as "not on this machine", in order of preference
ABSENT_DEVICE_CANDIDATES = ("GPU", "NPU", "FPGA")


def lower_precision_of(capabilities: Sequence[str]) -> str | None:
    """A precision below f32 that a device with ``capabilities`` runs, or None."""
    return next((p for p, cap in LOWER_PRECISIONS if cap in capabilities), None)


def unsupported_precision_of(capabilities: Sequence[str]) -> str | None:
    """A precision below f32 that a device with ``capabilities`` cannot run, or None."""
    return next((p for p, cap in LOWER_PRECISIONS if cap not in capabilities), None)


@functools.cache
def _core() -> ov.Core:
    return ov.Core()


@pytest.fixture(scope="session")
def cpu_capabilities() -> tuple[str, ...]:
    return tuple(str(c) for c in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


@pytest.fixture(scope="session")
def cpu_default() -> str:
    """The precision the CPU plugin picks by itself on this machine (bf16 where it can),
    read from the runtime rather than through the plugin's own code."""
    hint = _core().get_property("CPU", "INFERENCE_PRECISION_HINT")
    return {ov.Type.f32: "f32", ov.Type.bf16: "bf16", ov.Type.f16: "f16"}[hint]


@pytest.fixture(scope="session")
def lower_precision(cpu_capabilities: tuple[str, ...]) -> str | None:
    return lower_precision_of(cpu_capabilities)


@pytest.fixture(scope="session")
def available_devices() -> list[str]:
    return list(_core().available_devices)


@pytest.fixture(scope="session")
def absent_device(available_devices: list[str]) -> str:
    """A device this machine does not have (GPU where there is none)."""
    present = {d.split(".")[0] for d in available_devices}
    for name in ABSENT_DEVICE_CANDIDATES:
        if name not in present:
            return name
    pytest.skip(f"this machine has every device a test could treat as absent: {present}")
