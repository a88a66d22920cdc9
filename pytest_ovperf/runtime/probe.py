"""The machine-speed probe: a fixed small workload measured interleaved with the model.

A shared CI machine speeds up and slows down as other tenants come and go; a model measured
at another time looks faster or slower for no reason of its own. The probe is measured in
short blocks between the model's blocks, on the same device and precision, and the gate
compares ``model / probe`` (paired log ratios of adjacent blocks) instead of the raw latency
whenever both runs have a probe of the same version on the same OpenVINO version. Across
OpenVINO versions the gate compares raw figures, so that a release that slows everything
down (the probe included) is still caught.
"""

from __future__ import annotations

import openvino as ov

from .models import ModelSpec
from .toy_models import mobilenet_like

#: bump whenever the probe workload changes: runs with different probes are not normalised
PROBE_VERSION = 1
#: a probe block lasts this fraction of a model block
PROBE_SHARE = 0.5


def probe_model() -> ov.Model:
    """About 0.1 ms on one modern x86 core pair: small enough to cost little time, large
    enough to use the same kernels and threads as a conv net."""
    return mobilenet_like(size=64, width=16)


PROBE_SPEC = ModelSpec(source=probe_model)
