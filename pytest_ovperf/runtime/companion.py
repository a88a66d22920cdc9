"""The compute companion: the test's model with one inference thread, measured beside the
user-facing figure on the CPU (chosen in ``partners/``, judged in ``verdicts/companion.py``).
"""

from __future__ import annotations

import dataclasses

from .models import ModelSpec

#: the compute companion: the test's model compiled with this many inference threads, sync,
#: measured beside the user-facing figure on the CPU. On a shared machine the second vCPU
#: comes and goes, which moves multi-thread latency by tens of percent between processes,
#: while one thread stays within a few percent: the companion measures the computation
COMPANION_THREADS = 1
#: a companion block lasts this fraction of a model block
COMPANION_SHARE = 0.5
#: the compile properties that choose threads, streams and requests: the companion's own
_THREADING_PROPERTIES = (
    "PERFORMANCE_HINT",
    "PERFORMANCE_HINT_NUM_REQUESTS",
    "NUM_STREAMS",
    "INFERENCE_NUM_THREADS",
)
#: the one device the companion is defined for (INFERENCE_NUM_THREADS is a CPU property)
COMPANION_DEVICE = "CPU"


def companion_spec(spec: ModelSpec) -> ModelSpec:
    """The test's model with the user's config, but one inference thread (and the plugin's
    LATENCY hint, sync): the companion."""
    config = {k: v for k, v in spec.config.items() if k not in _THREADING_PROPERTIES}
    config["INFERENCE_NUM_THREADS"] = COMPANION_THREADS
    return dataclasses.replace(spec, config=config, reference=None, reference_config=None)
