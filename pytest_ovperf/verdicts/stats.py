"""Statistics behind every verdict: point estimates and confidence intervals.

Methods (the README states them for users):

* Percentile intervals are distribution free: the interval between two order statistics
  whose ranks come from the Binomial(n, q) distribution of the number of samples below the
  true q-quantile (Conover, *Practical Nonparametric Statistics*, 3.2). Coverage is at least
  the confidence level for any continuous distribution of independent samples.
* Throughput intervals are Student-t intervals over per-block rates: a block is a fixed slice
  of wall time, so block rates are close to independent and roughly normal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval around a point estimate."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str

    @property
    def log_standard_error(self) -> float:
        """The standard error on the log scale that a normal interval this wide implies
        (half the log width over z); ``inf`` without two positive finite bounds."""
        if not (self.low > 0 and math.isfinite(self.high)):
            return math.inf
        z = float(sps.norm.ppf(0.5 + self.confidence / 2.0))
        return (math.log(self.high) - math.log(self.low)) / (2.0 * z)

    @property
    def relative_half_width(self) -> float:
        """Half the interval width over the estimate; ``inf`` when undefined."""
        if not math.isfinite(self.low) or not math.isfinite(self.high) or self.estimate == 0:
            return math.inf
        return (self.high - self.low) / 2.0 / abs(self.estimate)


def order_statistic_ranks(n: int, q: float, confidence: float) -> tuple[int, int] | None:
    """1-based ranks (l, u) with P(x_(l) <= Q_q <= x_(u)) >= ``confidence``.

    ``q`` is a fraction in (0, 1). Returns ``None`` when ``n`` is too small for any
    two-sided interval at that confidence (e.g. p99 with a few dozen samples).
    """
    if n < 1:
        return None
    alpha = 1.0 - confidence
    binom = sps.binom(n, q)
    # B = number of samples below the quantile; x_(l) <= Q  <=>  B >= l, and Q <= x_(u) <=> B < u.
    low_rank = int(binom.ppf(alpha / 2.0))
    high_rank = int(binom.ppf(1.0 - alpha / 2.0)) + 1
    # ppf may land one short of the tail mass; widen until the coverage really holds
    while low_rank >= 1 and binom.cdf(low_rank - 1) > alpha / 2.0:
        low_rank -= 1
    while high_rank <= n and binom.sf(high_rank - 1) > alpha / 2.0:
        high_rank += 1
    if low_rank < 1 or high_rank > n:
        return None
    return low_rank, high_rank


def percentile_interval(
    samples: Sequence[float] | np.ndarray, q: float, confidence: float
) -> Interval:
    """Distribution-free interval for the ``q``-th percentile (0 < q < 100).

    When there are too few samples for a two-sided interval, the missing bound is
    ``-inf``/``inf`` so that no verdict can be drawn from it.
    """
    data = np.sort(np.asarray(samples, dtype=float))
    n = data.size
    estimate = float(np.percentile(data, q)) if n else math.nan
    ranks = order_statistic_ranks(n, q / 100.0, confidence)
    if ranks is None:
        return Interval(estimate, -math.inf, math.inf, confidence, "order-statistics")
    low_rank, high_rank = ranks
    return Interval(
        estimate,
        float(data[low_rank - 1]),
        float(data[high_rank - 1]),
        confidence,
        "order-statistics",
    )


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float) -> Interval:
    """Student-t interval for the mean of (roughly independent) values."""
    data = np.asarray(values, dtype=float)
    k = data.size
    if k == 0:
        return Interval(math.nan, -math.inf, math.inf, confidence, "student-t")
    mean = float(data.mean())
    if k < 2:
        return Interval(mean, -math.inf, math.inf, confidence, "student-t")
    sem = float(data.std(ddof=1)) / math.sqrt(k)
    half = float(sps.t.ppf(0.5 + confidence / 2.0, k - 1)) * sem
    return Interval(mean, mean - half, mean + half, confidence, "student-t")


@dataclass(frozen=True)
class TrimmedMean:
    """The mean of the middle values (``trim`` cut from each end) with Yuen's standard
    error from the winsorized variance, and its degrees of freedom."""

    estimate: float
    se: float
    df: float
    #: values averaged (all, less those cut)
    kept: int


def trimmed_mean(values: Sequence[float] | np.ndarray, trim: float) -> TrimmedMean:
    """Yuen's trimmed mean (Wilcox, *Introduction to Robust Estimation*, 4.3): cut
    ``floor(trim * n)`` values from each end, average the rest; its standard error is
    ``s_w / ((1 - 2 trim) sqrt(n))`` with ``s_w`` the SD of the winsorized values, and
    ``df = kept - 1``. Where cutting would leave fewer than 3 values nothing is cut (the
    plain mean and t). Under a symmetric distribution it estimates the centre, as the mean
    does, and its interval keeps its level for heavy tails that inflate the mean's."""
    data = np.sort(np.asarray(values, dtype=float))
    n = int(data.size)
    if n == 0:
        return TrimmedMean(math.nan, math.inf, 1.0, 0)
    cut = math.floor(trim * n)
    if n - 2 * cut < 3:
        cut = 0
    kept = n - 2 * cut
    estimate = float(data[cut : n - cut].mean())
    if n < 2:
        return TrimmedMean(estimate, math.inf, 1.0, kept)
    winsorized = np.clip(data, data[cut], data[n - cut - 1])
    se = math.sqrt(float(winsorized.var(ddof=1)) * (n - 1) / (kept * (kept - 1)))
    return TrimmedMean(estimate, se, float(kept - 1), kept)


def log_mean_interval(values: Sequence[float], confidence: float, what: str) -> Interval:
    """Student-t interval of the geometric mean of positive, roughly log-normal values
    (repeated loads): the t-interval of their logs, exponentiated."""
    logs = np.log(np.asarray([v for v in values if v > 0], dtype=float))
    method = f"student-t on logs over {what}"
    if logs.size == 0:
        return Interval(math.nan, -math.inf, math.inf, confidence, method)
    centre = float(logs.mean())
    if logs.size < 2:
        return Interval(math.exp(centre), -math.inf, math.inf, confidence, method)
    half = (
        float(sps.t.ppf(0.5 + confidence / 2.0, logs.size - 1))
        * float(logs.std(ddof=1))
        / math.sqrt(logs.size)
    )
    return Interval(
        math.exp(centre), math.exp(centre - half), math.exp(centre + half), confidence, method
    )


def rate_interval(
    block_counts: Sequence[int], block_seconds: Sequence[float], confidence: float
) -> Interval:
    """Interval for a rate measured in blocks: t-interval on per-block rates, centred on the
    pooled rate (total events / total time), which is the figure users compare."""
    counts = np.asarray(block_counts, dtype=float)
    seconds = np.asarray(block_seconds, dtype=float)
    pooled = float(counts.sum() / seconds.sum()) if seconds.sum() > 0 else math.nan
    per_block = counts / np.where(seconds > 0, seconds, np.nan)
    per_block = per_block[np.isfinite(per_block)]
    spread = mean_interval(per_block, confidence)
    half = (spread.high - spread.low) / 2.0
    return Interval(pooled, pooled - half, pooled + half, confidence, "student-t over blocks")
