"""pytest-ovperf: OpenVINO inference performance budgets and regression gates for pytest."""

from .measure.engine import InferPool, MeasureSettings
from .perf_budget import OvperfInconclusiveWarning, OvperfPrecisionWarning, PerfBudget, Target
from .results import LatencyResult, PerfResult, ThroughputResult
from .verdicts.budgets import Budget, Verdict

__version__ = "0.1.0"

__all__ = [
    "Budget",
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
