"""Where the time goes: a compiled model's layers with their runtime precision, kernel and
time, from OpenVINO's performance counters (``PERF_COUNT``).

The measured compile never counts (counters cost time); a profile compiles the same model
with the same config plus ``PERF_COUNT`` and runs a few inferences. Per layer it keeps the
median of the counters' ``real_time`` over those inferences, the counters' ``exec_type``
(the kernel, e.g. ``brgconv_avx512_amx_bf16``) and the runtime model's ``runtimePrecision``.

Which precision is truthful differs per device: the CPU plugin's runtime model names each
node's precision; on GPU the runtime model has been seen to say f32 for every node while the
kernels ran f16, so there the precision named in the kernel wins where it names one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import openvino as ov

from ..measure.loops import PROFILE_ITERATIONS, executed_layer_times
from .devices import member_devices, precision_label

#: precisions a kernel name may spell, as tokens (``jit_avx2_FP32``, ``gemm_f16``...)
_KERNEL_PRECISION = re.compile(r"(?:^|[_:])(fp32|f32|bf16|fp16|f16|i8|u8|int8)(?:$|[_:])", re.I)


#: layer types that convert data between precisions or layouts rather than compute: the
#: CPU plugin's ``Reorder`` at a bf16 model's f32 inputs and outputs runs in f32 by nature;
#: on a tiny model with many threads it took half the time (16 cores: f32 51%, bf16 49%),
#: and counting it as f32 compute called a model that ran in bf16 a fallback
CONVERSION_LAYER_TYPES = frozenset({"reorder", "convert"})

#: one layer type's time (us), kernels and precisions
TypeTime = tuple[float, frozenset[str], frozenset[str]]


@dataclass(frozen=True)
class LayerTime:
    """One executed layer (a node of the runtime model)."""

    name: str
    layer_type: str
    precision: str
    kernel: str
    time_us: float


@dataclass(frozen=True)
class RuntimeProfile:
    layers: tuple[LayerTime, ...]

    @property
    def total_us(self) -> float:
        return float(sum(layer.time_us for layer in self.layers))

    def precision_shares(self) -> dict[str, float]:
        """Share of the compute's time per runtime precision, largest first: the layers'
        time less the conversions' (``CONVERSION_LAYER_TYPES``), or every layer's where
        the model is nothing but conversions."""
        compute = [
            layer for layer in self.layers if layer.layer_type.lower() not in CONVERSION_LAYER_TYPES
        ]
        counted = compute or list(self.layers)
        total = float(sum(layer.time_us for layer in counted))
        if total <= 0:
            return {}
        shares: dict[str, float] = {}
        for layer in counted:
            shares[layer.precision] = shares.get(layer.precision, 0.0) + layer.time_us / total
        return dict(sorted(shares.items(), key=lambda item: -item[1]))

    def by_type(self) -> dict[str, TypeTime]:
        """Layer type -> (time in us, kernels, precisions)."""
        grouped: dict[str, tuple[float, set[str], set[str]]] = {}
        for layer in self.layers:
            time_us, kernels, precisions = grouped.setdefault(layer.layer_type, (0.0, set(), set()))
            kernels.add(layer.kernel)
            precisions.add(layer.precision)
            grouped[layer.layer_type] = (time_us + layer.time_us, kernels, precisions)
        return {k: (t, frozenset(ks), frozenset(ps)) for k, (t, ks, ps) in grouped.items()}


def profile_to_json(profile: RuntimeProfile) -> dict[str, Any]:
    """The compact per-layer-type form a baseline entry keeps (``store/schema.py``)."""
    return {
        layer_type: {"us": round(time_us, 1), "kernels": sorted(kernels), "precisions": sorted(p)}
        for layer_type, (time_us, kernels, p) in profile.by_type().items()
    }


def profile_from_json(data: Any) -> dict[str, TypeTime] | None:
    """A stored per-layer-type profile (``RuntimeProfile.by_type`` form); ``None`` when
    there is none or it is malformed (attribution is then left out, nothing fails)."""
    if not isinstance(data, dict):
        return None
    found: dict[str, TypeTime] = {}
    for layer_type, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("us"), (int, float)):
            return None
        found[str(layer_type)] = (
            float(item["us"]),
            frozenset(str(k) for k in item.get("kernels", [])),
            frozenset(str(p) for p in item.get("precisions", [])),
        )
    return found


def kernel_precision(kernel: str) -> str | None:
    """The precision a kernel name spells, if it spells one."""
    match = _KERNEL_PRECISION.search(kernel)
    return precision_label(match.group(1)) if match else None


def _runtime_precisions(compiled: ov.CompiledModel) -> dict[str, str]:
    """Runtime model node name -> its ``runtimePrecision`` (where the device says)."""
    found: dict[str, str] = {}
    try:
        runtime_model = compiled.get_runtime_model()
    except RuntimeError:
        return found
    for node in runtime_model.get_ordered_ops():
        info = node.get_rt_info()
        if "runtimePrecision" in info:
            found[node.get_friendly_name()] = precision_label(info["runtimePrecision"].astype(str))
    return found


def profile_compiled(
    compiled: ov.CompiledModel, request: ov.InferRequest, device: str
) -> RuntimeProfile:
    """Run ``request`` (of ``compiled``, compiled with ``PERF_COUNT``, inputs bound) a few
    times and read its counters."""
    samples, kinds = executed_layer_times(
        request, PROFILE_ITERATIONS, ov.ProfilingInfo.Status.EXECUTED
    )
    runtime = _runtime_precisions(compiled)
    gpu = any(m.startswith("GPU") for m in member_devices(device))
    layers = []
    for name, times in samples.items():
        layer_type, kernel = kinds[name]
        named = kernel_precision(kernel)
        precision = runtime.get(name) or named or "unknown"
        if gpu and named is not None:
            precision = named
        layers.append(LayerTime(name, layer_type, precision, kernel, float(np.median(times))))
    return RuntimeProfile(tuple(layers))


@dataclass(frozen=True)
class LayerChange:
    """How one layer type's time changed from a baseline profile to the current one."""

    layer_type: str
    baseline_us: float
    current_us: float
    baseline_kernels: frozenset[str]
    current_kernels: frozenset[str]
    baseline_precisions: frozenset[str]
    current_precisions: frozenset[str]

    @property
    def delta_us(self) -> float:
        return self.current_us - self.baseline_us


def attribute(
    baseline: Mapping[str, TypeTime], current: Mapping[str, TypeTime]
) -> list[LayerChange]:
    """Layer types (``RuntimeProfile.by_type``) by how much time they gained: added or
    slowed layers first."""
    before, after = baseline, current
    empty: TypeTime = (0.0, frozenset(), frozenset())
    changes = []
    for layer_type in set(before) | set(after):
        b, a = before.get(layer_type, empty), after.get(layer_type, empty)
        changes.append(LayerChange(layer_type, b[0], a[0], b[1], a[1], b[2], a[2]))
    return sorted(changes, key=lambda change: -change.delta_us)
