"""What one measurement produced, as returned to tests and written to reports."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .verdicts.budgets import Metric, Verdict, judge
from .verdicts.comparison import GateResult
from .verdicts.stats import Interval


@dataclass
class Check:
    """One statistic checked against one limit (a budget or a baseline)."""

    metric: Metric
    statistic: str
    interval: Interval
    limit: float
    verdict: Verdict
    sample_size: int
    note: str = ""

    @classmethod
    def judged(
        cls, metric: Metric, statistic: str, interval: Interval, limit: float, sample_size: int
    ) -> Check:
        """The check of ``interval`` against ``limit``, with its verdict."""
        return cls(metric, statistic, interval, limit, judge(interval, limit, metric), sample_size)


@dataclass
class BaselineComparison:
    """The regression gate's view of one result (filled by ``pytest_ovperf.verdicts.gate``)."""

    verdict: str
    baseline_value: float | None = None
    ratio: float | None = None
    ratio_ci: tuple[float, float] | None = None
    p_value: float | None = None
    threshold: float | None = None
    message: str = ""
    what_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @classmethod
    def from_gate(
        cls,
        outcome: GateResult,
        higher_is_better: bool,
        baseline_value: float,
        message: str,
        what_changed: dict[str, tuple[Any, Any]] | None = None,
    ) -> BaselineComparison:
        ratio, ratio_ci = outcome.ratio(higher_is_better)
        return cls(
            verdict=outcome.verdict,
            baseline_value=baseline_value,
            ratio=ratio,
            ratio_ci=ratio_ci,
            p_value=outcome.p_value,
            threshold=outcome.threshold,
            message=message,
            what_changed=what_changed or {},
        )


@dataclass
class PerfResult:
    """Common part of a latency or throughput result."""

    nodeid: str
    device: str
    precision: str
    requested_precision: str
    kind: str
    compile_ms: float
    first_inference_ms: float
    measure_s: float
    interval: Interval
    statistic: str
    #: per-block summary of the statistic the regression gate compares (ms or fps)
    blocks: list[float] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    baseline: BaselineComparison | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    #: log(model / probe) of adjacent blocks, when the machine-speed probe ran
    probe_log_ratios: list[float] = field(default_factory=list)
    #: the probe's median latency (ms) in this run (it runs sync for both kinds)
    probe_value: float | None = None
    #: fraction of the machine's CPU used by other processes while measuring
    foreign_load: float | None = None

    @property
    def budget_verdict(self) -> Verdict:
        verdicts = {c.verdict for c in self.checks}
        for worst in (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.PASS):
            if worst in verdicts:
                return worst
        return Verdict.NONE

    @property
    def n(self) -> int:
        raise NotImplementedError

    @property
    def gate_value(self) -> float:
        """The figure the regression gate compares (p50 ms, or fps)."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nodeid": self.nodeid,
            "device": self.device,
            "precision": self.precision,
            "requested_precision": self.requested_precision,
            "kind": self.kind,
            "n": self.n,
            "compile_ms": _num(self.compile_ms),
            "first_inference_ms": _num(self.first_inference_ms),
            "measure_s": _num(self.measure_s),
            "statistic": self.statistic,
            "ci": [_num(self.interval.low), _num(self.interval.high)],
            "confidence": self.interval.confidence,
            "ci_method": self.interval.method,
            "budget_verdict": self.budget_verdict.value,
            "probe_ms": _num(self.probe_value),
            "foreign_load": _num(self.foreign_load),
            "checks": [
                {
                    "metric": c.metric.value,
                    "statistic": c.statistic,
                    "value": _num(c.interval.estimate),
                    "ci": [_num(c.interval.low), _num(c.interval.high)],
                    "limit": c.limit,
                    "verdict": c.verdict.value,
                    "n": c.sample_size,
                }
                for c in self.checks
            ],
        }
        if self.baseline is not None:
            b = self.baseline
            data.update(
                baseline_verdict=b.verdict,
                baseline_value=_num(b.baseline_value),
                ratio=_num(b.ratio),
                ratio_ci=[_num(x) for x in b.ratio_ci] if b.ratio_ci else None,
                baseline_p_value=_num(b.p_value),
                regression_threshold=b.threshold,
                baseline_message=b.message,
                what_changed={k: list(v) for k, v in b.what_changed.items()},
            )
        return data


@dataclass
class LatencyResult(PerfResult):
    latencies_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    percentile: float = 50.0

    @property
    def n(self) -> int:
        return int(self.latencies_ms.size)

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.n else math.nan

    @property
    def p50_ms(self) -> float:
        return self.p(50)

    @property
    def p90_ms(self) -> float:
        return self.p(90)

    @property
    def p99_ms(self) -> float:
        return self.p(99)

    @property
    def mean_ms(self) -> float:
        return float(self.latencies_ms.mean()) if self.n else math.nan

    @property
    def gate_value(self) -> float:
        return self.p50_ms

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(
            p50_ms=_num(self.p50_ms),
            p90_ms=_num(self.p90_ms),
            p99_ms=_num(self.p99_ms),
            mean_ms=_num(self.mean_ms),
            min_ms=_num(float(self.latencies_ms.min()) if self.n else math.nan),
            percentile=self.percentile,
        )
        return data

    def __repr__(self) -> str:
        return (
            f"LatencyResult({self.device}/{self.precision} p50={self.p50_ms:.3f}ms "
            f"p{self.percentile:g} CI=[{self.interval.low:.3f}, {self.interval.high:.3f}] "
            f"n={self.n})"
        )


@dataclass
class ThroughputResult(PerfResult):
    completed: int = 0
    requests: int = 1

    @property
    def n(self) -> int:
        return self.completed

    @property
    def fps(self) -> float:
        return self.interval.estimate

    @property
    def gate_value(self) -> float:
        return self.fps

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(fps=_num(self.fps), infer_requests=self.requests, blocks=len(self.blocks))
        return data

    def __repr__(self) -> str:
        return (
            f"ThroughputResult({self.device}/{self.precision} fps={self.fps:.1f} "
            f"CI=[{self.interval.low:.1f}, {self.interval.high:.1f}] n={self.n})"
        )


def _num(value: float | None) -> float | None:
    """JSON has no NaN/inf: write ``null`` instead."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
