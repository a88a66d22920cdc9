"""Device names, availability and precision support, without pytest."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the plugin loads OpenVINO only once a perf test is collected
    import openvino as ov

#: Meta devices whose ``NAME:`` prefix takes a comma separated list of devices.
META_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")

#: Precisions a budget or ``--ovperf-precision`` may name.
PRECISIONS = ("f32", "bf16", "f16", "int8")

#: ``OPTIMIZATION_CAPABILITIES`` entry that a device must report to run a precision.
_CAPABILITY_FOR_PRECISION = {"f32": "FP32", "bf16": "BF16", "f16": "FP16", "int8": "INT8"}

#: Label used when the precision is left to the device and the device does not say.
DEFAULT_PRECISION = "default"


def split_device_list(values: Iterable[str]) -> list[str]:
    """Split ``--ovperf-device`` values into device names.

    A comma separates devices, except after a meta-device prefix such as ``HETERO:``:
    the rest of that value is the meta device's own list (``HETERO:GPU,CPU`` is one device).
    To name another device after a meta device, repeat the option.
    """
    devices: list[str] = []
    for value in values:
        rest = value.strip()
        while rest:
            head, sep, tail = rest.partition(",")
            head = head.strip()
            if ":" in head and head.split(":", 1)[0].upper() in META_DEVICES:
                devices.append(_normalise_device(rest))
                break
            if head:
                devices.append(_normalise_device(head))
            rest = tail if sep else ""
    return list(dict.fromkeys(devices))


def _normalise_device(name: str) -> str:
    prefix, sep, members = name.strip().partition(":")
    if not sep:
        return prefix.upper()
    parts = [m.strip().upper() for m in members.split(",") if m.strip()]
    return f"{prefix.upper()}:{','.join(parts)}"


def parse_precision_list(values: Iterable[str]) -> list[str]:
    """Split ``--ovperf-precision`` values; raise ``ValueError`` naming an unknown one."""
    result: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.strip().lower()
            if not name:
                continue
            if name not in PRECISIONS:
                raise ValueError(
                    f"unknown precision {item.strip()!r}; choose from {', '.join(PRECISIONS)}"
                )
            result.append(name)
    return list(dict.fromkeys(result))


#: AUTO's property that lets the CPU serve the first inferences while the device it chose
#: still compiles (``ov::intel_auto::enable_startup_fallback``, on by default)
AUTO_STARTUP_FALLBACK = "ENABLE_STARTUP_FALLBACK"


def steady_config(device: str, config: dict[str, Any]) -> dict[str, Any]:
    """The compile config of steady inference on ``device`` (latency, throughput, their
    profile; not a load, which measures the start-up as users get it): AUTO's CPU start-up
    helper off, unless the test's config sets it. With the helper on, the first inferences
    run on the CPU while the chosen device compiles, and the compiled model reports the
    CPU's settings: AUTO:GPU,CPU on an NVIDIA H200 profiled the CPU, and its throughput
    queue, sized by the CPU's ``OPTIMAL_NUMBER_OF_INFER_REQUESTS`` (1), left the GPU's
    automatic batching waiting its whole timeout for every inference (0.999 fps; 73,236 fps
    with the helper off and the GPU's 512 requests)."""
    if device.partition(":")[0] != "AUTO":
        return config
    return {AUTO_STARTUP_FALLBACK: False, **config}


#: OpenVINO's ``AUTO_BATCH_TIMEOUT`` where nothing sets it (ms)
DEFAULT_AUTO_BATCH_TIMEOUT_MS = 1000.0
#: the switch of automatic batching under a THROUGHPUT hint (on by default)
ALLOW_AUTO_BATCHING = "ALLOW_AUTO_BATCHING"


#: what a profile's compile sets unless the measured compile's config does: automatic
#: batching off. A profile runs one inference at a time, which a batching device holds for
#: its whole timeout before it runs the request unbatched: 10 s of waiting for each GPU
#: throughput profile on the H200, for the layers of the unbatched program all the same.
#: (As text, which both this process and a side runtime's worker pass to OpenVINO.)
PROFILE_DEFAULTS: dict[str, str] = {ALLOW_AUTO_BATCHING: "NO"}


def profile_config(config: dict[str, Any]) -> dict[str, Any]:
    """The compile config of a profile (``runtime/profile.py``) of steady inference
    (``config``: the measured compile's): ``PROFILE_DEFAULTS`` unless it sets them, and
    performance counters on."""
    return {**PROFILE_DEFAULTS, **config, "PERF_COUNT": True}


def possible_batch_timeout_ms(
    compiled: ov.CompiledModel, device: str, config: Mapping[str, Any]
) -> float | None:
    """Automatic batching's timeout (ms) where a meta device may batch on its GPU and its
    compiled model does not say (AUTO and HETERO report no ``AUTO_BATCH_TIMEOUT``, even
    where their GPU batches): ``config``'s, else OpenVINO's default. ``None`` where it cannot
    batch: not a meta device, no GPU among the compiled model's ``EXECUTION_DEVICES``, not
    the THROUGHPUT hint, or ``config`` turns batching off."""
    if not is_meta_device(device) or _is_off(config.get(ALLOW_AUTO_BATCHING)):
        return None
    # loaded here: this module is imported before any perf test is (numpy comes with loops)
    from ..measure.loops import AUTO_BATCH_TIMEOUT, may_batch

    if not may_batch(compiled):
        return None
    given = config.get(AUTO_BATCH_TIMEOUT)
    try:
        return float(given) if given is not None else DEFAULT_AUTO_BATCH_TIMEOUT_MS
    except (TypeError, ValueError):
        return DEFAULT_AUTO_BATCH_TIMEOUT_MS


def _is_off(value: object) -> bool:
    """Whether a boolean property's value in a config says off (``False``, "NO")."""
    return value is False or str(value).upper() in ("NO", "FALSE")


def member_devices(device: str) -> list[str]:
    """The physical devices a (possibly meta) device name refers to (``BATCH:GPU(4)``: the
    batch size in parentheses is not part of the name)."""
    prefix, sep, members = device.partition(":")
    if prefix in META_DEVICES:
        names = (m.partition("(")[0].strip() for m in members.split(","))
        return [m for m in names if m] if sep else []
    return [device]


def is_meta_device(device: str) -> bool:
    return device.partition(":")[0] in META_DEVICES


def device_is_available(device: str, available: Sequence[str]) -> bool:
    """Whether ``device`` can run here, given ``ov.Core().available_devices``.

    ``GPU`` is available when ``GPU`` or any ``GPU.N`` is; a meta device is available when
    all of its listed members are (bare ``AUTO`` is always available).
    """
    if is_meta_device(device):
        members = member_devices(device)
        if not members:
            # bare AUTO picks among what there is; HETERO / MULTI / BATCH need a list
            return device == "AUTO"
        return all(device_is_available(m, available) for m in members)
    return any(a == device or a.split(".", 1)[0] == device for a in available)


@dataclass(frozen=True)
class DeviceInfo:
    """What the runtime says about one device."""

    name: str
    available: bool
    full_name: str
    capabilities: tuple[str, ...]
    default_precision: str


class DeviceCatalog:
    """Caches device queries against one ``ov.Core`` for the session."""

    def __init__(self, core: ov.Core) -> None:
        self.core = core

    @functools.cached_property
    def available(self) -> list[str]:
        return list(self.core.available_devices)

    @functools.cache  # noqa: B019 - one catalog per session
    def info(self, device: str) -> DeviceInfo:
        available = device_is_available(device, self.available)
        if not available:
            return DeviceInfo(device, False, "", (), DEFAULT_PRECISION)
        if is_meta_device(device):
            members = member_devices(device) or [d.split(".")[0] for d in self.available]
            infos = [self.info(m) for m in members]
            full = " + ".join(i.full_name for i in infos)
            # a meta device can run a precision only when every member it may pick can
            common = set.intersection(*(set(i.capabilities) for i in infos)) if infos else set()
            return DeviceInfo(device, True, full, tuple(sorted(common)), DEFAULT_PRECISION)
        full = str(self._property(device, "FULL_DEVICE_NAME", device))
        caps = tuple(str(c) for c in self._property(device, "OPTIMIZATION_CAPABILITIES", ()))
        default = precision_label(self._property(device, "INFERENCE_PRECISION_HINT", None))
        return DeviceInfo(device, True, full, caps, default)

    def _property(self, device: str, name: str, fallback: Any) -> Any:
        try:
            return self.core.get_property(device, name)
        except RuntimeError:
            return fallback

    def unsupported_precision_reason(self, device: str, precision: str) -> str | None:
        """A skip reason when ``device`` cannot run ``precision``, else ``None``."""
        if precision == DEFAULT_PRECISION:
            return None
        info = self.info(device)
        capability = _CAPABILITY_FOR_PRECISION[precision]
        if capability in info.capabilities:
            return None
        return (
            f"{device} ({info.full_name}) cannot run {precision}: its "
            f"OPTIMIZATION_CAPABILITIES are {', '.join(info.capabilities) or 'unknown'}"
        )


def precision_label(value: object) -> str:
    """Turn an ``ov.Type`` / property value into one of ``PRECISIONS`` (or ``default``)."""
    if value is None:
        return DEFAULT_PRECISION
    text = str(value).lower()
    for prefix in ("<type: '", "type: "):
        text = text.removeprefix(prefix)
    text = text.strip("'>\" ")
    aliases = {
        "f32": "f32", "float32": "f32", "fp32": "f32",
        "bf16": "bf16", "bfloat16": "bf16",
        "f16": "f16", "float16": "f16", "fp16": "f16",
        "i8": "int8", "int8": "int8", "u8": "int8", "int8_t": "int8", "uint8_t": "int8",
    }  # fmt: skip
    return aliases.get(text, text or DEFAULT_PRECISION)


def hint_value_for(precision: str) -> str | None:
    """Value of ``INFERENCE_PRECISION_HINT`` for a precision; int8 comes from the model."""
    return {"f32": "f32", "bf16": "bf16", "f16": "f16"}.get(precision)
