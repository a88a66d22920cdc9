"""The regression gate's statistics: is this run materially slower than its baseline?

Method (README, "How the regression gate decides"):

Work on the log scale, where a slowdown is a difference. A run is summarised by ``y``, the
log of its gate statistic (p50 latency, or fps), and by ``w``, the standard error of ``y``
within the run, from the spread of its blocks' log summaries (``sd / sqrt(k)``).
Runs also differ from each other by more than ``w`` (machine drift, other tenants): that
between-run variance ``s_drift^2`` is learned from the entry's stored history of runs, pooled
with a prior (``prior_drift`` with ``prior_df`` degrees of freedom, a scaled inverse-chi^2
prior), so that a young baseline is judged cautiously and an old one by what this machine
really does. With the baseline ``y_B`` the mean of the jobs of its latest ``M`` runs of the
same software, each job weighted by ``1 / (s_drift^2 + w_j^2)`` (the drift itself estimated by the
DerSimonian-Laird moment estimator, so a noisy recording counts for little):

    D  = slowdown = y_cur - y_B        (latency; for throughput y_B - y_cur)
    SE^2 = 1 / sum_j 1 / (s_drift^2 + w_j^2) + s_drift^2 + w_cur^2
    CI  = D +- t(df, 1 - alpha/2) * SE,     df = prior_df + history degrees of freedom

* ``regression``   the CI's lower bound is above log(1 + threshold): significant AND material;
* ``improvement``  the CI's upper bound is below -log(1 + threshold);
* ``unchanged``    the (1 - 2 alpha_eq) interval lies inside +-log(1 + threshold): two
                   one-sided tests (TOST) at alpha_eq = 5% each, i.e. the 90% interval;
* ``inconclusive`` otherwise: the noise is too large to tell a material change from drift.

Under the model, a run with no real slowdown is called a regression with probability at
most alpha/2 (2.5% at 95%), and far less in practice because the threshold must be cleared too;
a run whose true change is at or beyond the threshold is called unchanged with probability at
most alpha_eq (5%).
``p_value`` is the one-sided p of "slowdown <= threshold".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from ..store.schema import RunSummary
from .kinds import GateVerdict
from .limits import (
    DEFAULT_DRIFT_PRIOR,
    DEFAULT_REGRESSION_THRESHOLD,
    DRIFT_PRIOR_DF,
    PAIRED_DRIFT,
    PAIRED_SETTLE_MAX_S,
    PAIRED_TRIM,
    SETTLE_POWER,
)
from .stats import trimmed_mean


def summarise_run(value: float, block_values: Sequence[float], software: str) -> RunSummary:
    """Summary of a run from its headline value and its per-block values."""
    logs = np.log(np.asarray([b for b in block_values if b > 0], dtype=float))
    k = int(logs.size)
    within = math.inf  # no blocks: nothing known
    if k >= 2:
        within = float(logs.std(ddof=1)) / math.sqrt(k)
    elif k == 1:
        within = 0.1  # one block: no spread known, assume 10%
    return RunSummary(value, math.log(value), within, k, software)


def summarise_log_ratios(log_ratios: Sequence[float], software: str) -> RunSummary:
    """Summary of a run judged by paired log ratios (model / machine-speed probe)."""
    logs = np.asarray(log_ratios, dtype=float)
    k = int(logs.size)
    mean = float(logs.mean())
    within = float(logs.std(ddof=1)) / math.sqrt(k) if k >= 2 else 0.1
    return RunSummary(math.exp(mean), mean, within, k, software)


@dataclass(frozen=True)
class GateSettings:
    threshold: float = DEFAULT_REGRESSION_THRESHOLD
    #: two-sided level of the interval shown and of regression / improvement (one-sided
    #: tests at (1 - confidence) / 2 each)
    confidence: float = 0.95
    #: level of the interval that must lie inside +-threshold for ``unchanged`` (TOST at
    #: (1 - equivalence_confidence) / 2 on each side: 90% is the conventional 5% TOST)
    equivalence_confidence: float = 0.90
    #: prior between-run drift (log scale ~ fraction) and its weight in degrees of freedom
    prior_drift: float = DEFAULT_DRIFT_PRIOR
    prior_df: float = DRIFT_PRIOR_DF
    #: how many latest runs of the same software form the baseline value
    baseline_runs: int = 5
    #: paired comparisons: the between-process spread of an interleaved ratio (log scale)
    paired_drift: float = PAIRED_DRIFT


@dataclass(frozen=True)
class GateResult:
    verdict: GateVerdict  # regression | improvement | unchanged | inconclusive
    slowdown: float  # D, log scale, positive = slower
    ci: tuple[float, float]  # of D
    se: float
    drift: float  # s_drift used
    df: float
    p_value: float
    baseline_value: float
    baseline_runs: int
    threshold: float
    confidence: float
    #: the current run's own standard error (log scale) and its number of blocks (history),
    #: or of block pairs (paired)
    current_within_se: float
    current_blocks: int
    #: the confidence of the equivalence interval that says `unchanged`
    equivalence_confidence: float = math.nan

    def ratio(self, higher_is_better: bool) -> tuple[float, tuple[float, float]]:
        """current / baseline in the metric's own units, with its interval."""
        sign = -1.0 if higher_is_better else 1.0
        low, high = sorted((math.exp(sign * self.ci[0]), math.exp(sign * self.ci[1])))
        return math.exp(sign * self.slowdown), (low, high)


def _job_units(runs: Sequence[RunSummary]) -> list[tuple[float, float]]:
    """(mean log value, within-run variance of that mean) per job: runs recorded back to
    back in one job saw the same machine state, so a job is one unit of drift evidence."""
    jobs: dict[str, list[RunSummary]] = {}
    for index, run in enumerate(runs):
        jobs.setdefault(run.job or f"run {index}", []).append(run)
    units = []
    for members in jobs.values():
        logs = [r.log_value for r in members]
        within = float(np.mean([min(r.within_se, 1.0) ** 2 for r in members])) / len(members)
        units.append((float(np.mean(logs)), within))
    return units


#: the most weight (degrees of freedom) the other tests of a machine profile lend to one
#: test's drift: enough to beat the prior, little enough that a test's own runs soon decide
POOL_MAX_DF = 8.0


def between_job_spread(history: Sequence[RunSummary]) -> tuple[float, int]:
    """(sum of squares, degrees of freedom) of the between-job spread within each software
    version of one test's history."""
    groups: dict[str, list[RunSummary]] = {}
    for run in history:
        groups.setdefault(run.software, []).append(run)
    sum_sq, df = 0.0, 0
    for runs in groups.values():
        units = _job_units(runs)
        if len(units) < 2:
            continue
        between = _between_variance(units)
        sum_sq += between * (len(units) - 1)
        df += len(units) - 1
    return sum_sq, df


#: smallest within-run variance a job is weighted with (a run that reported no noise at all)
_WITHIN_FLOOR = 1e-10


def _within_variances(units: Sequence[tuple[float, float]]) -> np.ndarray:
    """The units' within-run variances, floored so that each can be a weight's divisor."""
    return np.maximum([u[1] for u in units], _WITHIN_FLOOR)


def _between_variance(units: Sequence[tuple[float, float]]) -> float:
    """Between-job variance of (mean log value, within variance) units: the DerSimonian-
    Laird moment estimator of random-effects meta-analysis. Each job is weighted by its own
    precision, so one noisy recording (a run disturbed while it measured, with a wide
    within-run spread) counts for little; with equal within variances it is the plain
    ``var(job means) - within variance``."""
    logs = np.array([u[0] for u in units])
    weights = 1.0 / _within_variances(units)
    total = float(weights.sum())
    mean = float((weights * logs).sum()) / total
    q = float((weights * (logs - mean) ** 2).sum())
    scale = total - float((weights**2).sum()) / total
    return max((q - (len(units) - 1)) / scale, 0.0)


def learned_drift(
    history: Sequence[RunSummary],
    settings: GateSettings,
    pooled: Sequence[Sequence[RunSummary]] = (),
) -> tuple[float, float]:
    """(s_drift, degrees of freedom): the spread between jobs of this test's history, pooled
    with a prior. The prior is ``prior_drift`` worth ``prior_df``, sharpened by the drift of
    the other tests of the same machine profile (``pooled``: their histories), which lend
    at most ``POOL_MAX_DF`` degrees of freedom."""
    prior_variance, prior_df = settings.prior_drift**2, settings.prior_df
    pool = [between_job_spread(other) for other in pooled]
    pool_ss, pool_df = sum(s for s, _ in pool), sum(d for _, d in pool)
    if pool_df > 0:
        # tests recorded in the same jobs share those jobs' machine states: the pool is
        # worth no more degrees of freedom than it has distinct jobs (less one)
        jobs = {r.job for other in pooled for r in other if r.job}
        independent = len(jobs) - 1 if jobs else pool_df
        weight = min(float(pool_df), float(max(independent, 0)), POOL_MAX_DF)
        if weight > 0:
            prior_variance = (prior_df * prior_variance + weight * pool_ss / pool_df) / (
                prior_df + weight
            )
            prior_df += weight
    own_ss, own_df = between_job_spread(history)
    variance = (prior_df * prior_variance + own_ss) / (prior_df + own_df)
    return math.sqrt(variance), prior_df + own_df


def drift_evidence(
    history: Sequence[RunSummary], pooled: Sequence[Sequence[RunSummary]] = ()
) -> tuple[int, int]:
    """(this test's, the other tests') degrees of freedom of drift evidence: 0 and 0 mean
    the drift is the prior alone."""
    return between_job_spread(history)[1], sum(between_job_spread(other)[1] for other in pooled)


def compare(
    current: RunSummary,
    history: Sequence[RunSummary],
    settings: GateSettings,
    higher_is_better: bool,
    pooled: Sequence[Sequence[RunSummary]] = (),
) -> GateResult:
    """Judge ``current`` against the baseline runs in ``history`` (oldest first); the
    histories of the profile's other tests (``pooled``) inform the drift."""
    if not history:
        raise ValueError("compare() needs at least one baseline run")
    latest_software = history[-1].software
    same = [r for r in history if r.software == latest_software][-settings.baseline_runs :]
    m = len(same)
    # the baseline is the mean of its jobs (runs of one job share that job's drift), each
    # weighted by its precision: drift plus its own within-run noise
    units = _job_units(same)
    drift, df = learned_drift(history, settings, pooled)
    weights = 1.0 / (drift**2 + _within_variances(units))
    baseline_log = float((weights * np.array([u[0] for u in units])).sum() / weights.sum())
    variance = 1.0 / float(weights.sum()) + drift**2 + min(current.within_se, 1.0) ** 2
    se = math.sqrt(variance)
    slowdown = current.log_value - baseline_log
    if higher_is_better:
        slowdown = -slowdown
    baseline_value = math.exp(baseline_log)
    return _judge(
        slowdown, se, df, settings, drift, baseline_value, m, current.within_se, current.blocks
    )


def compare_paired(
    log_ratios: Sequence[float], settings: GateSettings, higher_is_better: bool
) -> GateResult:
    """Judge interleaved blocks of a model against its reference in the same run.

    ``log_ratios`` are log(model / reference) of paired blocks; pairing removes the
    machine's drift. Their centre is Yuen's trimmed mean (``PAIRED_TEST``): a pair one
    side of which the host's contention hit is cut, not averaged in. Pairing does not
    remove a process-level offset between two compiled models (their code and memory
    placement), which no pair within the run can show: ``paired_drift`` is added to the
    standard error of the centre for it.
    """
    centre = trimmed_mean(log_ratios, PAIRED_TRIM)
    k = len(log_ratios)
    slowdown = -centre.estimate if higher_is_better else centre.estimate
    se = math.sqrt(centre.se**2 + settings.paired_drift**2)
    df = float(max(centre.df, 1.0))
    return _judge(slowdown, se, df, settings, settings.paired_drift, math.nan, 0, centre.se, int(k))


def paired_settle_s(outcome: GateResult, measured_s: float) -> float | None:
    """About how long (s, both sides together) a paired comparison (``compare_paired``)
    with this run's noise would have to measure to settle the estimate it found, with
    probability ``SETTLE_POWER`` if the truth is that estimate: inside the threshold
    (`unchanged`, by the equivalence interval) or beyond it (by the interval). The pairs'
    own standard error shrinks with the square root of the time; the between-process term
    does not, so ``None`` where that term alone is too wide for an estimate this close to
    the threshold. A projection: a longer run finds another estimate."""
    margin = math.log1p(outcome.threshold)
    inside = abs(outcome.slowdown) < margin
    confidence = outcome.equivalence_confidence if inside else outcome.confidence
    if not 0.0 < confidence < 1.0 or measured_s <= 0 or outcome.current_within_se <= 0:
        return None
    # the sample-size rule: the interval's quantile plus the power's
    quantile = float(sps.norm.ppf(0.5 + confidence / 2.0) + sps.norm.ppf(SETTLE_POWER))
    room = (abs(abs(outcome.slowdown) - margin) / quantile) ** 2 - outcome.drift**2
    if room <= 0:
        return None
    return measured_s * outcome.current_within_se**2 / room


@dataclass(frozen=True)
class SettleProjection:
    """How long an inconclusive paired comparison would have to measure at its noise
    (``paired_settle_s``), and the ``--ovperf-max-time`` its message proposes."""

    #: seconds (both sides together); ``None``: no time would settle it
    settle_s: float | None
    #: the settle time rounded up, at least a second more than was measured; ``None`` where
    #: no time would settle it or it is over ``PAIRED_SETTLE_MAX_S``
    max_time_s: int | None


def project_settle(outcome: GateResult, measured_s: float) -> SettleProjection:
    """``paired_settle_s`` of ``outcome`` and the maximum measuring time to propose."""
    settle = paired_settle_s(outcome, measured_s)
    if settle is None or settle > PAIRED_SETTLE_MAX_S:
        return SettleProjection(settle, None)
    return SettleProjection(settle, max(math.ceil(settle), math.ceil(measured_s) + 1))


def _judge(
    slowdown: float,
    se: float,
    df: float,
    settings: GateSettings,
    drift: float,
    baseline_value: float,
    baseline_runs: int,
    current_within_se: float,
    current_blocks: int,
) -> GateResult:
    quantile = float(sps.t.ppf(0.5 + settings.confidence / 2.0, df))
    low, high = slowdown - quantile * se, slowdown + quantile * se
    equivalence = float(sps.t.ppf(0.5 + settings.equivalence_confidence / 2.0, df)) * se
    margin = math.log1p(settings.threshold)
    if low > margin:
        verdict = GateVerdict.REGRESSION
    elif high < -margin:
        verdict = GateVerdict.IMPROVEMENT
    elif -margin < slowdown - equivalence and slowdown + equivalence < margin:
        verdict = GateVerdict.UNCHANGED
    else:
        verdict = GateVerdict.INCONCLUSIVE
    if se > 0 and math.isfinite(se):
        p_value = float(sps.t.sf((slowdown - margin) / se, df))
    else:  # no noise at all (or none known): the p-value is a plain comparison
        p_value = 0.0 if se == 0 and slowdown > margin else 1.0
    return GateResult(
        verdict=verdict,
        slowdown=slowdown,
        ci=(low, high),
        se=se,
        drift=drift,
        df=df,
        p_value=p_value,
        baseline_value=baseline_value,
        baseline_runs=baseline_runs,
        threshold=settings.threshold,
        confidence=settings.confidence,
        current_within_se=current_within_se,
        current_blocks=current_blocks,
        equivalence_confidence=settings.equivalence_confidence,
    )
