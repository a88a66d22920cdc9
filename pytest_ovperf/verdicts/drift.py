"""Run-to-run drift: how far one run's value of a figure strays from the machine's long-run
value, and the interval of that long-run value from one run (budgets judge it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .stats import Interval


@dataclass(frozen=True)
class Drift:
    """Run-to-run drift of a figure on this machine (log scale, about a fraction): how far
    one run's value strays from the machine's long-run value, learned from stored runs and
    pooled with a prior (``verdicts.comparison.learned_drift``)."""

    sigma: float
    #: degrees of freedom of the estimate (the prior's included)
    df: float
    #: where it comes from, as shown in messages
    source: str


def calibrated_interval(
    run: Interval, block_values: Sequence[float], drift: Drift, confidence: float
) -> Interval:
    """The interval of the machine's long-run value of a figure, from one run.

    A budget is about what the model costs on this machine, not in this one run, so its
    interval has two parts, added as variances on the log scale:

    * within the run: the wider of the run's own interval (order statistics for a
      percentile, a t-interval over blocks for fps) and the spread of the per-block values
      (block medians, or block fps) over sqrt(blocks): blocks, not single inferences, are
      the independent unit, since neighbouring inferences share the machine's moment;
    * between runs: ``drift``.

    The interval is ``estimate * exp(+-t(df) * se)``. A model whose long-run value equals
    its budget then fails with probability at most (1 - confidence) / 2 when the drift is
    right (2.5% at 95%).
    """
    estimate = run.estimate
    if not (estimate > 0 and math.isfinite(estimate)):
        return run
    run_se = run.log_standard_error
    logs = np.log(np.asarray([b for b in block_values if b > 0], dtype=float))
    block_se = float(logs.std(ddof=1)) / math.sqrt(logs.size) if logs.size >= 2 else math.inf
    within = max(run_se, block_se) if logs.size >= 2 else run_se
    se = math.sqrt(within**2 + drift.sigma**2)
    if not math.isfinite(se):
        return Interval(estimate, -math.inf, math.inf, confidence, run.method)
    half = float(sps.t.ppf(0.5 + confidence / 2.0, drift.df)) * se
    return Interval(
        estimate,
        estimate * math.exp(-half),
        estimate * math.exp(half),
        confidence,
        f"{run.method} and blocks, with {drift.sigma:.1%} run-to-run drift ({drift.source})",
    )
