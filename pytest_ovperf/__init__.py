"""pytest-ovperf: OpenVINO inference performance budgets and regression gates for pytest.

The public names load on first use (PEP 562): pytest imports this package for its entry
point in every run, and a run that collects no perf test must not pay for OpenVINO, numpy
or scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .collect import Target as Target
    from .measure.blocks import InferPool as InferPool
    from .measure.settings import MeasureSettings as MeasureSettings
    from .perf_budget import OvperfAsyncStallWarning as OvperfAsyncStallWarning
    from .perf_budget import OvperfInconclusiveWarning as OvperfInconclusiveWarning
    from .perf_budget import OvperfPrecisionWarning as OvperfPrecisionWarning
    from .perf_budget import PerfBudget as PerfBudget
    from .results import LatencyResult as LatencyResult
    from .results import PerfResult as PerfResult
    from .results import ThroughputResult as ThroughputResult
    from .verdicts.budgets import Budget as Budget
    from .verdicts.kinds import GateVerdict as GateVerdict
    from .verdicts.kinds import Verdict as Verdict

__version__ = "0.1.0"

#: public name -> the module that defines it
_PUBLIC = {
    "Budget": ".verdicts.budgets",
    "GateVerdict": ".verdicts.kinds",
    "InferPool": ".measure.blocks",
    "LatencyResult": ".results",
    "MeasureSettings": ".measure.settings",
    "OvperfAsyncStallWarning": ".perf_budget",
    "OvperfInconclusiveWarning": ".perf_budget",
    "OvperfPrecisionWarning": ".perf_budget",
    "PerfBudget": ".perf_budget",
    "PerfResult": ".results",
    "Target": ".collect",
    "ThroughputResult": ".results",
    "Verdict": ".verdicts.kinds",
}

__all__ = [*sorted(_PUBLIC), "__version__"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
