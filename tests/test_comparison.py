"""The regression gate's statistics on synthetic run summaries (no OpenVINO involved)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest
from conftest import example_result
from scipy import stats as sps

from pytest_ovperf.messages import comparison_text
from pytest_ovperf.records import result_record
from pytest_ovperf.results import BaselineComparison, MachineGuard
from pytest_ovperf.verdicts.comparison import (
    POOL_MAX_DF,
    GateResult,
    GateSettings,
    RunSummary,
    SettleProjection,
    compare,
    compare_paired,
    drift_evidence,
    learned_drift,
    paired_settle_s,
    project_settle,
    summarise_log_ratios,
    summarise_run,
)
from pytest_ovperf.verdicts.kinds import GateMethod, GateVerdict, GuardReason
from pytest_ovperf.verdicts.limits import PAIRED_SETTLE_MAX_S, PAIRED_TRIM, SETTLE_POWER
from pytest_ovperf.verdicts.stats import trimmed_mean

DEFAULTS = GateSettings()


def run(value: float, within: float = 0.005, software: str = "sw1", blocks: int = 10) -> RunSummary:
    """A run summary whose log value is exactly log(value)."""
    return RunSummary(value, math.log(value), within, blocks, software)


def steady_history(
    value: float = 10.0, runs: int = 5, within: float = 0.005, software: str = "sw1"
) -> list[RunSummary]:
    return [run(value, within, software) for _ in range(runs)]


def run_from_log(log_value: float, within: float, software: str = "sw1") -> RunSummary:
    return RunSummary(math.exp(log_value), log_value, within, 10, software)


# -- compare(): the four verdicts ------------------------------------------------------


def test_thirty_percent_slower_latency_is_a_regression() -> None:
    outcome = compare(run(13.0), steady_history(10.0), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "regression"
    assert outcome.slowdown == pytest.approx(math.log(1.3))
    assert outcome.ci[0] > math.log1p(DEFAULTS.threshold)
    assert outcome.p_value < (1 - DEFAULTS.confidence) / 2
    assert outcome.baseline_value == pytest.approx(10.0)
    assert outcome.baseline_runs == 5


def test_half_a_percent_slower_with_a_big_threshold_is_unchanged() -> None:
    settings = GateSettings(threshold=0.5)
    outcome = compare(run(10.05), steady_history(10.0), settings, higher_is_better=False)
    assert outcome.verdict == "unchanged"
    margin = math.log1p(0.5)
    assert -margin < outcome.ci[0] < outcome.ci[1] < margin
    # p is the one-sided p-value of the null "slowdown <= threshold": nowhere near rejected
    assert outcome.p_value > 0.99


def test_thirty_percent_faster_latency_is_an_improvement() -> None:
    outcome = compare(run(7.0), steady_history(10.0), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "improvement"
    assert outcome.ci[1] < -math.log1p(DEFAULTS.threshold)
    assert outcome.p_value > 0.99


def test_large_within_run_noise_is_inconclusive() -> None:
    noisy = run(11.0, within=0.3)
    outcome = compare(noisy, steady_history(10.0), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "inconclusive"
    assert outcome.ci[0] < math.log1p(DEFAULTS.threshold) < outcome.ci[1]


def test_large_run_to_run_drift_in_the_history_is_inconclusive() -> None:
    # the baseline runs themselves wander by about 20%: a 15% slowdown cannot be told apart
    logs = [math.log(10.0) + d for d in (-0.25, 0.2, -0.1, 0.25, -0.15)]
    history = [run_from_log(y, 0.005) for y in logs]
    outcome = compare(run(10.0 * 1.15), history, DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "inconclusive"
    assert outcome.drift > 0.1


def test_confidence_interval_is_centred_on_the_slowdown() -> None:
    outcome = compare(run(12.0), steady_history(10.0), DEFAULTS, higher_is_better=False)
    low, high = outcome.ci
    assert (low + high) / 2 == pytest.approx(outcome.slowdown)
    assert high - low > 0
    assert outcome.threshold == DEFAULTS.threshold
    assert outcome.confidence == DEFAULTS.confidence


@pytest.mark.parametrize(
    ("current_fps", "verdict"),
    [(13.0, "improvement"), (7.0, "regression"), (10.0, "unchanged")],
)
def test_throughput_direction_is_flipped(current_fps: float, verdict: str) -> None:
    outcome = compare(run(current_fps), steady_history(10.0), DEFAULTS, higher_is_better=True)
    assert outcome.verdict == verdict
    assert outcome.slowdown == pytest.approx(-math.log(current_fps / 10.0))


def test_same_numbers_read_as_latency_and_throughput_give_opposite_verdicts() -> None:
    current, history = run(13.0), steady_history(10.0)
    latency = compare(current, history, DEFAULTS, higher_is_better=False)
    throughput = compare(current, history, DEFAULTS, higher_is_better=True)
    assert (latency.verdict, throughput.verdict) == ("regression", "improvement")
    assert latency.slowdown == pytest.approx(-throughput.slowdown)
    assert latency.se == pytest.approx(throughput.se)


def test_baseline_is_the_latest_runs_of_the_latest_software() -> None:
    old = steady_history(20.0, runs=4, software="old")
    # seven runs of the new software; only the latest five form the baseline value
    new = [run(v, software="new") for v in (30.0, 30.0, 10.0, 10.0, 10.0, 10.0, 10.0)]
    outcome = compare(run(10.0, software="new"), old + new, DEFAULTS, higher_is_better=False)
    assert outcome.baseline_runs == 5
    assert outcome.baseline_value == pytest.approx(10.0)
    assert outcome.slowdown == pytest.approx(0.0, abs=1e-12)


def test_baseline_value_is_a_geometric_mean() -> None:
    history = [run(8.0), run(12.5)]  # geometric mean 10
    outcome = compare(run(10.0), history, DEFAULTS, higher_is_better=False)
    assert outcome.baseline_value == pytest.approx(10.0)
    assert outcome.baseline_runs == 2


def test_compare_needs_a_baseline_run() -> None:
    with pytest.raises(ValueError, match="at least one baseline run"):
        compare(run(10.0), [], DEFAULTS, higher_is_better=False)


def test_unknown_within_run_noise_is_capped_not_propagated_as_infinity() -> None:
    # a run without blocks has an infinite within-run SE; the gate caps it (1.0 on the
    # log scale) so the verdict is inconclusive and every figure stays finite
    blockless = summarise_run(30.0, [], "sw1")
    outcome = compare(blockless, steady_history(10.0), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "inconclusive"
    assert math.isfinite(outcome.se) and math.isfinite(outcome.p_value)
    assert all(math.isfinite(x) for x in outcome.ci)


def test_unchanged_is_reachable_with_a_long_quiet_history() -> None:
    history = steady_history(10.0, runs=20, within=0.002)
    outcome = compare(run(10.02, within=0.002), history, DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "unchanged"
    assert outcome.df == DEFAULTS.prior_df + 19


# -- learned_drift -----------------------------------------------------------------------


def test_learned_drift_without_history_is_the_prior() -> None:
    drift, df = learned_drift([], DEFAULTS)
    assert drift == pytest.approx(DEFAULTS.prior_drift)
    assert df == DEFAULTS.prior_df


def test_learned_drift_ignores_software_versions_with_a_single_run() -> None:
    history = [run(10.0, software="a"), run(20.0, software="b"), run(40.0, software="c")]
    drift, df = learned_drift(history, DEFAULTS)
    assert drift == pytest.approx(DEFAULTS.prior_drift)
    assert df == DEFAULTS.prior_df


def test_learned_drift_pools_within_each_software_version() -> None:
    a = [run_from_log(y, 0.0, "a") for y in (0.0, 0.1, 0.2)]  # variance 0.01, 2 df
    b = [run_from_log(y, 0.0, "b") for y in (5.0, 5.2)]  # variance 0.02, 1 df
    drift, df = learned_drift(a + b, DEFAULTS)
    prior = DEFAULTS.prior_df * DEFAULTS.prior_drift**2
    expected = (prior + 0.01 * 2 + 0.02 * 1) / (DEFAULTS.prior_df + 3)
    assert df == DEFAULTS.prior_df + 3
    assert drift == pytest.approx(math.sqrt(expected))


def test_a_software_change_is_not_mistaken_for_drift() -> None:
    # two versions, each perfectly steady, a factor e apart: no drift inside either
    history = [run_from_log(0.0, 0.0, "a")] * 3 + [run_from_log(1.0, 0.0, "b")] * 3
    drift, df = learned_drift(history, DEFAULTS)
    assert drift == pytest.approx(
        DEFAULTS.prior_drift * math.sqrt(DEFAULTS.prior_df / (DEFAULTS.prior_df + 4))
    )
    assert df == DEFAULTS.prior_df + 4


def test_learned_drift_subtracts_the_within_run_noise() -> None:
    # the spread of these runs is explained by their own within-run SE: no extra drift
    logs = (0.0, 0.05, -0.05, 0.02, -0.02)
    history = [run_from_log(y, 0.1) for y in logs]
    drift, df = learned_drift(history, DEFAULTS)
    assert float(np.var(logs, ddof=1)) < 0.1**2
    assert drift == pytest.approx(
        DEFAULTS.prior_drift * math.sqrt(DEFAULTS.prior_df / (DEFAULTS.prior_df + 4))
    )
    assert df == DEFAULTS.prior_df + 4


def test_learned_drift_learns_a_large_drift() -> None:
    logs = [0.3 * (-1) ** i for i in range(11)]
    drift, _ = learned_drift([run_from_log(y, 0.0) for y in logs], DEFAULTS)
    assert drift > 0.25


def test_learned_drift_uses_the_prior_of_the_settings() -> None:
    settings = GateSettings(prior_drift=0.1, prior_df=10.0)
    assert learned_drift([], settings) == pytest.approx((0.1, 10.0))


def test_infinite_within_run_noise_in_history_is_capped() -> None:
    history = [run_from_log(y, math.inf) for y in (0.0, 0.1, 0.2)]
    drift, _ = learned_drift(history, DEFAULTS)
    assert math.isfinite(drift)


# -- simulated A/A study ---------------------------------------------------------------

TRUE_DRIFT = 0.03  # lognormal run-to-run drift
TRUE_WITHIN = 0.01  # within-run standard error


def _simulated_verdicts(
    shift: float, trials: int, seed: int, baseline_runs: int = 5
) -> Counter[str]:
    """Verdicts of ``trials`` comparisons of runs drawn from a known noise model."""
    rng = np.random.default_rng(seed)
    mu = math.log(4.2)
    verdicts: Counter[str] = Counter()

    def draw(offset: float) -> RunSummary:
        y = mu + offset + rng.normal(0.0, TRUE_DRIFT) + rng.normal(0.0, TRUE_WITHIN)
        return run_from_log(y, TRUE_WITHIN)

    for _ in range(trials):
        history = [draw(0.0) for _ in range(baseline_runs)]
        verdicts[compare(draw(shift), history, DEFAULTS, False).verdict] += 1
    return verdicts


def test_aa_study_false_regression_rate_is_at_most_one_percent() -> None:
    verdicts = _simulated_verdicts(0.0, trials=2000, seed=20240917)
    assert sum(verdicts.values()) == 2000
    assert verdicts["regression"] <= 20, verdicts
    assert verdicts["improvement"] <= 20, verdicts


def test_aa_study_detects_a_true_25_percent_slowdown() -> None:
    verdicts = _simulated_verdicts(math.log(1.25), trials=2000, seed=7)
    assert verdicts["regression"] >= 1900, verdicts
    assert verdicts["improvement"] == 0 and verdicts["unchanged"] == 0, verdicts


# -- compare_paired ----------------------------------------------------------------------


def _ratios(ratio: float, noise: float, pairs: int, seed: int = 3) -> Sequence[float]:
    rng = np.random.default_rng(seed)
    return list(math.log(ratio) + rng.normal(0.0, noise, pairs))


def test_paired_fifty_percent_slower_is_a_regression() -> None:
    outcome = compare_paired(_ratios(1.5, 0.02, 20), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "regression"
    assert outcome.slowdown == pytest.approx(math.log(1.5), abs=0.02)
    assert outcome.drift == DEFAULTS.paired_drift and outcome.baseline_runs == 0
    assert math.isnan(outcome.baseline_value)
    assert outcome.df == 11  # 20 pairs, 4 cut from each end (PAIRED_TRIM)


def test_paired_direction_flips_for_throughput() -> None:
    # the model does 1.5x the reference's fps: an improvement, not a regression
    outcome = compare_paired(_ratios(1.5, 0.02, 20), DEFAULTS, higher_is_better=True)
    assert outcome.verdict == "improvement"
    ratio, (low, high) = outcome.ratio(higher_is_better=True)
    assert low < ratio < high
    assert ratio == pytest.approx(1.5, rel=0.02)


def test_paired_equal_models_are_unchanged() -> None:
    outcome = compare_paired(_ratios(1.0, 0.01, 20), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "unchanged"
    within = trimmed_mean(_ratios(1.0, 0.01, 20), PAIRED_TRIM).se
    assert outcome.current_within_se == pytest.approx(within)
    # the between-process spread of a ratio joins the pairs' own
    assert outcome.se == pytest.approx(math.sqrt(within**2 + DEFAULTS.paired_drift**2))


def test_the_paired_drift_keeps_a_tiny_offset_from_reading_as_real() -> None:
    # 1.5% apart with almost no block noise: within a run "significant", but two compiles
    # of one network differ that much between processes
    tight = [math.log(0.985)] * 19 + [math.log(0.986)]
    without = GateSettings(threshold=0.0001, paired_drift=0.0)
    assert compare_paired(tight, without, False).verdict == "improvement"
    assert compare_paired(tight, GateSettings(threshold=0.0001), False).verdict == "inconclusive"


def test_a_pair_the_host_hit_does_not_make_equal_models_inconclusive() -> None:
    # 19 quiet pairs and two a contention burst hit (one block each 60% slow): the trimmed
    # centre cuts them, where a plain mean's standard error would triple
    ratios = [*_ratios(1.0, 0.02, 19), math.log(1.6), -math.log(1.6)]
    assert compare_paired(ratios, DEFAULTS, higher_is_better=False).verdict == "unchanged"
    plain = np.asarray(ratios)
    assert plain.std(ddof=1) / math.sqrt(plain.size) > 0.025  # the mean could not say so


def test_paired_noisy_ratios_are_inconclusive() -> None:
    outcome = compare_paired(_ratios(1.06, 0.2, 6), DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "inconclusive"


@pytest.mark.parametrize("ratios", [[], [0.4]], ids=["no-pairs", "one-pair"])
def test_paired_with_fewer_than_two_pairs_is_inconclusive(ratios: list[float]) -> None:
    outcome = compare_paired(ratios, DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "inconclusive"
    assert outcome.se == math.inf
    assert outcome.p_value == 1.0


def test_paired_ratios_without_spread_do_not_crash() -> None:
    outcome = compare_paired([math.log(2.0)] * 6, DEFAULTS, higher_is_better=False)
    assert outcome.verdict == "regression"


# -- summarise_run / summarise_log_ratios -----------------------------------------------


def test_summarise_run_without_blocks_knows_nothing_of_the_noise() -> None:
    summary = summarise_run(2.5, [], "sw")
    assert summary.blocks == 0
    assert summary.within_se == math.inf
    assert summary.value == 2.5 and summary.log_value == pytest.approx(math.log(2.5))
    assert summary.software == "sw"


def test_summarise_run_with_one_block_assumes_ten_percent() -> None:
    summary = summarise_run(2.5, [2.4], "sw")
    assert summary.blocks == 1
    assert summary.within_se == pytest.approx(0.1)


def test_summarise_run_with_many_blocks_uses_their_log_spread() -> None:
    blocks = [2.4, 2.5, 2.6, 2.55, 2.45, 2.5]
    summary = summarise_run(2.5, blocks, "sw")
    logs = np.log(blocks)
    assert summary.blocks == 6
    assert summary.within_se == pytest.approx(logs.std(ddof=1) / math.sqrt(6))
    # the headline value, not the block mean, is the run's value
    assert summary.log_value == pytest.approx(math.log(2.5))


def test_summarise_run_drops_non_positive_blocks() -> None:
    summary = summarise_run(2.0, [2.0, 0.0, -1.0, 2.2], "sw")
    assert summary.blocks == 2


def test_summarise_log_ratios() -> None:
    summary = summarise_log_ratios([0.1, 0.2, 0.3], "sw")
    assert summary.log_value == pytest.approx(0.2)
    assert summary.value == pytest.approx(math.exp(0.2))
    assert summary.within_se == pytest.approx(0.1 / math.sqrt(3))
    assert summarise_log_ratios([0.1], "sw").within_se == pytest.approx(0.1)


def test_run_summary_json_round_trip() -> None:
    summary = summarise_run(2.5, [2.4, 2.6, 2.5], "abc")
    assert RunSummary.from_json(summary.to_json()) == summary


# -- GateResult.ratio -------------------------------------------------------------------


def _result(slowdown: float, ci: tuple[float, float]) -> GateResult:
    return GateResult(
        verdict=GateVerdict.REGRESSION,
        slowdown=slowdown,
        ci=ci,
        se=0.01,
        drift=0.03,
        df=8.0,
        p_value=0.001,
        baseline_value=10.0,
        baseline_runs=5,
        threshold=0.05,
        confidence=0.95,
        current_within_se=0.01,
        current_blocks=20,
    )


def test_ratio_for_latency_is_current_over_baseline() -> None:
    result = _result(math.log(1.3), (math.log(1.2), math.log(1.4)))
    ratio, (low, high) = result.ratio(higher_is_better=False)
    assert ratio == pytest.approx(1.3)
    assert (low, high) == pytest.approx((1.2, 1.4))


def test_ratio_for_throughput_is_current_over_baseline_fps() -> None:
    # a slowdown of log(1.3) in throughput means fps fell to 1/1.3 of the baseline
    result = _result(math.log(1.3), (math.log(1.2), math.log(1.4)))
    ratio, (low, high) = result.ratio(higher_is_better=True)
    assert ratio == pytest.approx(1 / 1.3)
    assert low == pytest.approx(1 / 1.4) and high == pytest.approx(1 / 1.2)
    assert low < ratio < high


def test_ratio_matches_the_measured_figures() -> None:
    history = steady_history(100.0)
    latency = compare(run(130.0), history, DEFAULTS, higher_is_better=False)
    throughput = compare(run(70.0), history, DEFAULTS, higher_is_better=True)
    assert latency.ratio(False)[0] == pytest.approx(1.3)
    assert throughput.ratio(True)[0] == pytest.approx(0.7)
    low, high = throughput.ratio(True)[1]
    assert low < 0.7 < high


def test_unchanged_is_a_tost_on_the_90_percent_interval() -> None:
    """Equivalence uses the 90% interval (TOST at 5% a side); regression the 95% one."""
    settings = GateSettings(
        threshold=0.05, confidence=0.95, equivalence_confidence=0.90, paired_drift=0.0
    )
    # a paired run whose 90% interval fits inside +-5% but whose 95% interval does not
    rng = np.random.default_rng(3)
    half = rng.normal(0.0, 0.05, 20)
    ratios = np.concatenate([half, -half])  # symmetric: centred at 0, trimmed or not
    outcome = compare_paired(ratios, settings, higher_is_better=False)
    half_95 = (outcome.ci[1] - outcome.ci[0]) / 2
    margin = math.log1p(0.05)
    if half_95 < margin:  # make the case: stretch the spread until 95% no longer fits
        ratios *= margin / half_95 * 1.05
        outcome = compare_paired(ratios, settings, higher_is_better=False)
    assert outcome.ci[1] > margin  # the 95% interval straddles the threshold
    assert outcome.verdict == "unchanged"
    strict = compare_paired(
        ratios, GateSettings(threshold=0.05, equivalence_confidence=0.95, paired_drift=0.0), False
    )
    assert strict.verdict == "inconclusive"


def test_other_tests_of_the_profile_sharpen_the_prior_with_capped_weight() -> None:
    steady_neighbours = [[run_from_log(y, 0.0, f"s{i}") for y in (0.0, 0.0)] for i in range(3)]
    drift, df = learned_drift([], DEFAULTS, steady_neighbours)
    # three neighbours with no drift lend 3 df: the prior is pulled toward 0
    prior = DEFAULTS.prior_df * DEFAULTS.prior_drift**2
    assert df == DEFAULTS.prior_df + 3
    assert drift == pytest.approx(math.sqrt(prior / (DEFAULTS.prior_df + 3)))
    many = [[run_from_log(y, 0.0, f"m{i}") for y in (0.0, 0.2)] for i in range(50)]
    drift, df = learned_drift([], DEFAULTS, many)
    # fifty neighbours lend at most POOL_MAX_DF: one test's own runs still count
    assert df == DEFAULTS.prior_df + POOL_MAX_DF
    assert DEFAULTS.prior_drift < drift < 0.2 / math.sqrt(2)


def test_a_tests_own_runs_outweigh_the_pool_as_they_accumulate() -> None:
    noisy_own = [run_from_log(0.3 * (-1) ** i, 0.0) for i in range(30)]
    steady_pool = [[run_from_log(0.0, 0.0, f"p{i}") for _ in range(3)] for i in range(20)]
    drift, _ = learned_drift(noisy_own, DEFAULTS, steady_pool)
    assert drift > 0.25
    assert drift_evidence(noisy_own, steady_pool) == (29, 40)


def test_tests_recorded_in_the_same_jobs_lend_one_jobs_worth_of_evidence() -> None:
    # ten tests, each recorded in the same two jobs: one degree of freedom of real evidence
    # about day-to-day drift, not ten
    def in_job(log_value: float, job: str, test: int) -> RunSummary:
        return RunSummary(math.exp(log_value), log_value, 0.0, 10, f"t{test}", job)

    pooled = [[in_job(0.0, "a", i), in_job(0.0, "b", i)] for i in range(10)]
    _, df = learned_drift([], DEFAULTS, pooled)
    assert df == DEFAULTS.prior_df + 1


def test_a_noisy_recording_counts_for_little() -> None:
    # four recordings as stored by a real run (bench/gate_error_rates.py, 2026-12-03): three
    # quiet ones within 1%, one disturbed while it measured (within-run SE 2.9%) 8% off
    quiet = [(0.0, 0.0015), (-0.010, 0.0015), (-0.008, 0.002)]
    history = [run_from_log(y, w) for y, w in [*quiet, (0.075, 0.029)]]
    drift, _ = learned_drift(history, DEFAULTS)
    plain_spread = float(np.std([y for y, _ in [*quiet, (0.075, 0.029)]], ddof=1))
    assert drift < DEFAULTS.prior_drift < plain_spread
    outcome = compare(run_from_log(-0.006, 0.002), history, DEFAULTS, higher_is_better=False)
    # the baseline sits with the quiet runs: no 2% offset from the disturbed one
    assert abs(outcome.slowdown) < 0.005
    assert outcome.verdict == GateVerdict.UNCHANGED


# -- paired_settle_s: how long an inconclusive paired comparison would have to measure ---------


def _paired(log_ratios: Sequence[float]) -> GateResult:
    settings = GateSettings(threshold=0.05, confidence=0.95, equivalence_confidence=0.90)
    return compare_paired(log_ratios, settings, higher_is_better=False)


def _inconclusive_reference(outcome: GateResult) -> BaselineComparison:
    return BaselineComparison(
        verdict=GateVerdict.INCONCLUSIVE,
        method=GateMethod.REFERENCE,
        outcome=outcome,
        baseline_value=1.0,
        reference="the reference",
    )


def test_settle_time_grows_as_the_pairs_noise_and_falls_with_room() -> None:
    noisy = _paired(np.tile([0.12, -0.1, 0.05, -0.07], 4))
    assert noisy.verdict is GateVerdict.INCONCLUSIVE
    settle = paired_settle_s(noisy, 5.0)
    assert settle is not None and settle > 5.0
    # at the projected time the pairs' SE, with the between-process term, fits the room the
    # estimate leaves inside the threshold with the power's margin
    margin = math.log1p(0.05)
    quantile = float(sps.norm.ppf(0.5 + 0.90 / 2) + sps.norm.ppf(SETTLE_POWER))
    shrunk = noisy.current_within_se * math.sqrt(5.0 / settle)
    assert quantile * math.hypot(shrunk, noisy.drift) == pytest.approx(margin - abs(noisy.slowdown))
    # twice the measuring time for the same evidence is twice the projection
    assert paired_settle_s(noisy, 10.0) == pytest.approx(2 * settle)


def test_settle_time_for_an_estimate_beyond_the_threshold_uses_the_interval() -> None:
    rng = np.random.default_rng(4)
    slower = _paired(math.log(1.3) + rng.normal(0.0, 0.4, 16))
    assert slower.slowdown > math.log1p(0.05)
    settle = paired_settle_s(slower, 5.0)
    assert settle is not None
    quantile = float(sps.norm.ppf(0.5 + 0.95 / 2) + sps.norm.ppf(SETTLE_POWER))
    shrunk = slower.current_within_se * math.sqrt(5.0 / settle)
    assert quantile * math.hypot(shrunk, slower.drift) == pytest.approx(
        slower.slowdown - math.log1p(0.05)
    )


def test_no_settle_time_where_the_between_process_term_alone_is_too_wide() -> None:
    # an estimate 0.5% from the threshold: the 1% between-process term alone spans more
    near = _paired(np.full(16, math.log1p(0.045)) + np.tile([0.01, -0.01], 8))
    assert paired_settle_s(near, 5.0) is None


@pytest.mark.parametrize(
    ("log_ratios", "expected"),
    [
        (np.tile([0.12, -0.1, 0.05, -0.07], 4), "--ovperf-max-time="),
        (np.tile([0.8, -0.8, 0.6, -0.6], 4), "it would take over"),
        (
            np.full(16, math.log1p(0.045)) + np.tile([0.01, -0.01], 8),
            "no measuring time would settle it",
        ),
    ],
)
def test_an_inconclusive_paired_message_says_how_long_would_settle_it(
    log_ratios: np.ndarray, expected: str
) -> None:
    outcome = _paired(log_ratios)
    assert outcome.verdict is GateVerdict.INCONCLUSIVE
    comparison = _inconclusive_reference(outcome)
    text = comparison_text(example_result([1.0, 1.0, 1.0], measure_s=5.0), comparison)
    assert "the pairs' noise is too large to tell a 5% change in 5.0 s" in text
    assert expected in text
    assert "record more baseline runs" not in text  # no stored runs in a paired comparison


def test_the_proposed_time_is_the_settle_time_rounded_up_and_longer_than_the_run() -> None:
    noisy = _paired(np.tile([0.12, -0.1, 0.05, -0.07], 4))
    settle = paired_settle_s(noisy, 5.0)
    assert settle is not None
    projection = project_settle(noisy, 5.0)
    assert projection.settle_s == settle
    assert projection.max_time_s == max(math.ceil(settle), 6)
    # never less than a second more than the run measured
    for measured in (0.3, 1.0, 2.5):
        proposal = project_settle(noisy, measured).max_time_s
        assert proposal is not None and proposal >= math.ceil(measured) + 1
    # over the limit: no time proposed, the settle time kept
    wild = _paired(np.tile([0.8, -0.8, 0.6, -0.6], 4))
    over = project_settle(wild, 5.0)
    assert over.settle_s is not None and over.settle_s > PAIRED_SETTLE_MAX_S
    assert over.max_time_s is None
    near = _paired(np.full(16, math.log1p(0.045)) + np.tile([0.01, -0.01], 8))
    assert project_settle(near, 5.0) == SettleProjection(None, None)


@pytest.mark.parametrize(
    ("method", "guarded", "projected"),
    [
        (GateMethod.AB, False, True),
        (GateMethod.REFERENCE, False, True),
        (GateMethod.HISTORY, False, False),  # stored runs, not pairs
        (GateMethod.AB, True, False),  # a machine guard, not the pairs' noise
    ],
)
def test_only_a_paired_comparison_undecided_by_its_noise_is_projected(
    method: GateMethod, guarded: bool, projected: bool
) -> None:
    outcome = _paired(np.tile([0.12, -0.1, 0.05, -0.07], 4))
    guards = [MachineGuard(GuardReason.BUSY, 0.3, None, 0.1)] if guarded else []
    comparison = BaselineComparison(
        verdict=GateVerdict.INCONCLUSIVE, method=method, outcome=outcome, guards=guards
    )
    projection = comparison.settle_projection(5.0)
    assert (projection == project_settle(outcome, 5.0)) if projected else projection is None


def test_the_json_record_carries_the_proposal_of_an_inconclusive_paired_comparison() -> None:
    outcome = _paired(np.tile([0.12, -0.1, 0.05, -0.07], 4))
    comparison = _inconclusive_reference(outcome)
    record = result_record(example_result([1.0, 1.0, 1.0], measure_s=5.0, baseline=comparison))
    seconds = record["proposed_max_time_s"]
    assert seconds is not None and seconds == project_settle(outcome, 5.0).max_time_s
    assert record["settle_s"] == pytest.approx(paired_settle_s(outcome, 5.0))
    # the message proposes the same time
    assert f"--ovperf-max-time={seconds})" in record["baseline_message"]
