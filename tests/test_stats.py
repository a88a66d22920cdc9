"""Statistics behind the verdicts, checked against known answers on synthetic samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from pytest_ovperf.verdicts.stats import (
    Interval,
    mean_interval,
    order_statistic_ranks,
    percentile_interval,
    rate_interval,
    trimmed_mean,
)

# -- order_statistic_ranks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "q", "confidence", "expected"),
    [
        # Conover, Practical Nonparametric Statistics, table A3 / example 3.2
        (10, 0.5, 0.95, (2, 9)),
        (20, 0.5, 0.95, (6, 15)),
        (6, 0.5, 0.95, (1, 6)),  # smallest n with a 95% median interval: 2 * 0.5**6 <= 0.05
        (10, 0.5, 0.90, (2, 9)),  # P(B <= 1) = 11/1024 <= 0.05 < P(B <= 2) = 56/1024
        (8, 0.5, 0.90, (2, 7)),  # P(B <= 1) = 9/256 <= 0.05
    ],
)
def test_order_statistic_ranks_known_answers(
    n: int, q: float, confidence: float, expected: tuple[int, int]
) -> None:
    assert order_statistic_ranks(n, q, confidence) == expected


@pytest.mark.parametrize(
    ("n", "q", "confidence"),
    [
        (0, 0.5, 0.95),
        (1, 0.5, 0.95),
        (5, 0.5, 0.95),  # 2 * 0.5**5 = 0.0625 > 0.05
        (50, 0.99, 0.95),  # 0.99**50 = 0.6: the top sample is rarely above p99
        (200, 0.99, 0.95),
        (367, 0.99, 0.95),  # 0.99**367 = 0.02501 > 0.025
    ],
)
def test_order_statistic_ranks_too_few_samples_is_none(n: int, q: float, confidence: float) -> None:
    assert order_statistic_ranks(n, q, confidence) is None


def test_p99_needs_368_samples_at_95_percent() -> None:
    # 0.99**368 = 0.02476 <= 0.025: the largest sample becomes the upper bound
    assert order_statistic_ranks(368, 0.99, 0.95) == (360, 368)


@pytest.mark.parametrize("n", [7, 10, 31, 100, 200, 1000])
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_order_statistic_ranks_are_the_tightest_valid_ranks(
    n: int, q: float, confidence: float
) -> None:
    """Each tail holds at most alpha/2 of Binomial(n, q), and moving either rank inwards
    would put more than alpha/2 there."""
    ranks = order_statistic_ranks(n, q, confidence)
    binom = sps.binom(n, q)
    tail = (1 - confidence) / 2
    if ranks is None:
        # no rank 1 <= l or no rank u <= n keeps its tail within alpha/2
        assert binom.cdf(0) > tail or binom.sf(n - 1) > tail
        return
    low, high = ranks
    assert 1 <= low < high <= n
    assert binom.cdf(low - 1) <= tail + 1e-12  # P(B < l): Q below x_(l)
    assert binom.sf(high - 1) <= tail + 1e-12  # P(B >= u): Q above x_(u)
    assert binom.cdf(low) > tail  # l + 1 would not do
    assert binom.sf(high - 2) > tail  # u - 1 would not do
    coverage = binom.cdf(high - 1) - binom.cdf(low - 1)
    assert coverage >= confidence - 1e-12


# -- percentile_interval ---------------------------------------------------------------


def test_percentile_interval_bounds_are_the_order_statistics() -> None:
    samples = np.random.default_rng(1).permutation(np.arange(1.0, 11.0))  # 1..10, shuffled
    interval = percentile_interval(samples, 50, 0.95)
    assert interval.estimate == pytest.approx(5.5)
    assert (interval.low, interval.high) == (2.0, 9.0)  # x_(2), x_(9) of 1..10
    assert interval.confidence == 0.95
    assert interval.method == "order-statistics"
    assert [interval.low, interval.high] == [2.0, 9.0]


def test_percentile_interval_estimate_is_numpy_percentile() -> None:
    samples = np.random.default_rng(2).lognormal(size=501)
    for q in (10, 50, 90, 99):
        assert percentile_interval(samples, q, 0.95).estimate == pytest.approx(
            float(np.percentile(samples, q))
        )


def test_percentile_interval_with_too_few_samples_is_unbounded() -> None:
    samples = np.random.default_rng(3).exponential(size=100)
    interval = percentile_interval(samples, 99, 0.95)
    assert interval.low == -math.inf
    assert interval.high == math.inf
    assert interval.estimate == pytest.approx(float(np.percentile(samples, 99)))
    assert interval.relative_half_width == math.inf


def test_percentile_interval_of_no_samples() -> None:
    interval = percentile_interval([], 50, 0.95)
    assert math.isnan(interval.estimate)
    assert (interval.low, interval.high) == (-math.inf, math.inf)


def _coverage(draws: np.ndarray, q: float, true_quantile: float, confidence: float) -> float:
    hits = 0
    for row in draws:
        interval = percentile_interval(row, q, confidence)
        hits += interval.low <= true_quantile <= interval.high
    return hits / len(draws)


def _exact_coverage(n: int, q: float, confidence: float) -> float:
    ranks = order_statistic_ranks(n, q, confidence)
    assert ranks is not None
    binom = sps.binom(n, q)
    return float(binom.cdf(ranks[1] - 1) - binom.cdf(ranks[0] - 1))


def test_p50_interval_covers_the_exponential_median() -> None:
    rng = np.random.default_rng(20240601)
    draws = rng.exponential(scale=2.0, size=(2000, 200))
    true_median = 2.0 * math.log(2.0)
    coverage = _coverage(draws, 50, true_median, 0.95)
    assert coverage >= 0.93
    # not merely wide: the simulated coverage matches the exact binomial coverage
    assert coverage == pytest.approx(_exact_coverage(200, 0.5, 0.95), abs=0.02)


def test_p90_interval_covers_the_lognormal_p90() -> None:
    rng = np.random.default_rng(20240602)
    mu, sigma = 1.0, 0.5
    draws = rng.lognormal(mean=mu, sigma=sigma, size=(2000, 200))
    true_p90 = math.exp(mu + sigma * float(sps.norm.ppf(0.9)))
    coverage = _coverage(draws, 90, true_p90, 0.95)
    assert coverage >= 0.93
    assert coverage == pytest.approx(_exact_coverage(200, 0.9, 0.95), abs=0.02)


# -- mean_interval ---------------------------------------------------------------------


def test_mean_interval_is_the_student_t_interval() -> None:
    values = [10.2, 9.8, 10.5, 10.1, 9.9, 10.4, 10.0]
    k = len(values)
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    half = float(sps.t.ppf(0.975, k - 1)) * sd / math.sqrt(k)
    interval = mean_interval(values, 0.95)
    assert interval.estimate == pytest.approx(mean)
    assert interval.low == pytest.approx(mean - half)
    assert interval.high == pytest.approx(mean + half)
    assert interval.method == "student-t"
    assert interval.relative_half_width == pytest.approx(half / mean)
    # a higher confidence widens it
    assert mean_interval(values, 0.99).high > interval.high


def test_mean_interval_two_values_hand_computed() -> None:
    # mean 2, sd sqrt(2), sem 1, t(0.95, df=1) = 6.3138
    interval = mean_interval([1.0, 3.0], 0.90)
    assert interval.estimate == 2.0
    assert interval.low == pytest.approx(2.0 - 6.313751514675)
    assert interval.high == pytest.approx(2.0 + 6.313751514675)


def test_mean_interval_undefined_below_two_values() -> None:
    empty = mean_interval([], 0.95)
    assert math.isnan(empty.estimate)
    assert (empty.low, empty.high) == (-math.inf, math.inf)
    single = mean_interval([4.0], 0.95)
    assert single.estimate == 4.0
    assert (single.low, single.high) == (-math.inf, math.inf)
    assert single.relative_half_width == math.inf


def test_mean_interval_of_constant_values_has_zero_width() -> None:
    interval = mean_interval([5.0] * 4, 0.95)
    assert (interval.low, interval.estimate, interval.high) == (5.0, 5.0, 5.0)
    assert interval.relative_half_width == 0.0


# -- rate_interval ---------------------------------------------------------------------


def test_rate_interval_centres_on_the_pooled_rate() -> None:
    counts = [100, 90, 300, 110]
    seconds = [1.0, 1.0, 2.0, 1.0]
    interval = rate_interval(counts, seconds, 0.95)
    pooled = sum(counts) / sum(seconds)  # 600 / 5 = 120, not the mean block rate 112.5
    assert interval.estimate == pytest.approx(pooled)
    rates = [c / s for c, s in zip(counts, seconds)]
    spread = mean_interval(rates, 0.95)
    half = (spread.high - spread.low) / 2
    assert interval.low == pytest.approx(pooled - half)
    assert interval.high == pytest.approx(pooled + half)
    assert interval.method == "student-t over blocks"
    assert spread.estimate != pytest.approx(pooled)


def test_rate_interval_ignores_empty_blocks_in_the_spread() -> None:
    with_empty = rate_interval([50, 0, 60], [0.5, 0.0, 0.5], 0.95)
    without = rate_interval([50, 60], [0.5, 0.5], 0.95)
    assert with_empty.estimate == pytest.approx(110.0)
    assert (with_empty.low, with_empty.high) == pytest.approx((without.low, without.high))


def test_rate_interval_with_one_block_is_unbounded() -> None:
    interval = rate_interval([40], [0.2], 0.95)
    assert interval.estimate == pytest.approx(200.0)
    assert interval.relative_half_width == math.inf


def test_rate_interval_without_time_is_nan() -> None:
    interval = rate_interval([], [], 0.95)
    assert math.isnan(interval.estimate)
    assert interval.relative_half_width == math.inf


# -- Interval --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "estimate", "high"),
    [
        (-math.inf, 1.0, 2.0),
        (0.0, 1.0, math.inf),
        (-math.inf, 1.0, math.inf),
        (-1.0, 0.0, 1.0),  # zero estimate
        (math.nan, 1.0, 2.0),
    ],
)
def test_relative_half_width_is_inf_when_undefined(
    low: float, estimate: float, high: float
) -> None:
    assert Interval(estimate, low, high, 0.95, "test").relative_half_width == math.inf


def test_relative_half_width() -> None:
    assert Interval(10.0, 9.0, 11.0, 0.95, "test").relative_half_width == pytest.approx(0.1)
    assert Interval(-10.0, -11.0, -9.0, 0.95, "test").relative_half_width == pytest.approx(0.1)


# -- trimmed_mean (Yuen) ---------------------------------------------------------------


def test_trimmed_mean_is_scipys_and_its_se_is_yuens() -> None:
    data = np.random.default_rng(1).standard_t(2, size=20)
    centre = trimmed_mean(data, 0.2)
    assert centre.estimate == pytest.approx(sps.trim_mean(data, 0.2))
    assert centre.kept == 12 and centre.df == 11
    # Yuen: the winsorized values' variance, (n - 1) s_w^2 / (h (h - 1)), h values kept
    ordered = np.sort(data)
    winsorized = np.clip(ordered, ordered[4], ordered[15])
    expected = math.sqrt(19 * winsorized.var(ddof=1) / (12 * 11))
    assert centre.se == pytest.approx(expected)


def test_trimmed_mean_cuts_nothing_from_a_few_values() -> None:
    data = [0.1, 0.2, 0.4, 0.3]  # 20% of 4 cuts nothing: the plain mean and its t
    centre = trimmed_mean(data, 0.2)
    assert centre.estimate == pytest.approx(np.mean(data))
    assert centre.se == pytest.approx(np.std(data, ddof=1) / 2.0)
    assert centre.df == 3 and centre.kept == 4


def test_trimmed_mean_of_nothing_or_one_value_knows_no_spread() -> None:
    assert trimmed_mean([], 0.2).se == math.inf
    assert trimmed_mean([0.5], 0.2).se == math.inf


def test_yuens_interval_keeps_its_level_for_heavy_tails() -> None:
    # symmetric, heavy-tailed (t with 2 df, as contended block pairs are): the 95% interval
    # of 16 values covers the centre about 95% of the time
    rng = np.random.default_rng(7)
    covered = 0
    trials = 4000
    for _ in range(trials):
        centre = trimmed_mean(rng.standard_t(2, size=16), 0.2)
        half = float(sps.t.ppf(0.975, centre.df)) * centre.se
        covered += abs(centre.estimate) <= half
    assert 0.93 <= covered / trials <= 0.98
