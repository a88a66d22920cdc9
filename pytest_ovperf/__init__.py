"""pytest-ovperf: OpenVINO inference performance budgets and regression gates for pytest."""

from .collect import Target
from .measure.blocks import InferPool
from .measure.settings import MeasureSettings
from .perf_budget import OvperfInconclusiveWarning, OvperfPrecisionWarning, PerfBudget
from .results import LatencyResult, PerfResult, ThroughputResult
from .verdicts.budgets import Budget
from .verdicts.kinds import GateVerdict, Verdict

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "GateVerdict",
    "InferPool",
    "LatencyResult",
    "MeasureSettings",
    "OvperfInconclusiveWarning",
    "OvperfPrecisionWarning",
    "PerfBudget",
    "PerfResult",
    "Target",
    "ThroughputResult",
    "Verdict",
    "__version__",
]
