"""Generation: repeated generate calls of a pipeline, and of its partner (the baseline's
pipeline copy) in ABBA order, each call one observation of two figures, time to first token
and time per output token (``runtime/generation.CallFigures``).

The call is the unit of evidence: tokens within a call share its state (the KV cache, the
machine's moment), calls are close to independent. A figure's headline is the geometric
mean over the calls, with a t-interval on the logs (calls are roughly log-normal and ratios
are what budgets and baselines compare). The loop takes at least ``MIN_CALLS`` calls of each
side (a median's order-statistic interval at 95% needs six) and at most ``MAX_CALLS``, and
stops before ``max_time_s`` (both sides) would be exceeded. Before that it stops, with
sequential looks (an A/B run), at the first look where every figure's verdict is settled;
without, once both figures' intervals (and, with a partner, both ratios') are as narrow as
``target_precision`` with ``min_time_s`` of the model's own calls spent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..runtime.generation import CallFigures
from ..verdicts.stats import Interval, log_mean_interval
from .engine import SequentialLooks
from .settings import MeasureSettings

#: fewest calls of each side before the stopping rule looks
MIN_CALLS = 6
#: seconds of calls of both pipelines, in turn, before an A/B measurement counts any: after
#: a second pipeline is loaded in the process, the first one read 10-19% slower than it for
#: the next 1-3 s of calls (not of idle time: sleeping did not shorten it), then the two
#: agreed within 1.3% (10 of 10 processes, tiny LLM, 2-vCPU VM; BENCHMARKS.md)
PAIR_WARMUP_S = 3.0
#: most calls of each side
MAX_CALLS = 500

GenerateCall = Callable[[], CallFigures]
#: what the interval methods name the observations
CALLS = "calls"


@dataclass(frozen=True)
class GenerationSamples:
    """The calls of one side, and of its partner (each taken beside the model's of its pair)."""

    calls: tuple[CallFigures, ...]
    measure_s: float
    partner_calls: tuple[CallFigures, ...] = ()
    #: with sequential looks: the look (0-based) whose verdict is the final one
    look: int | None = None

    def values(self, figure: str) -> tuple[float, ...]:
        """``figure`` ("ttft_ms" / "tpot_ms") of each of the model's calls."""
        return tuple(_figure(self.calls, figure))

    def partner_values(self, figure: str) -> tuple[float, ...]:
        """``figure`` of each of the partner's calls."""
        return tuple(_figure(self.partner_calls, figure))

    def interval(self, figure: str, confidence: float) -> Interval:
        """The geometric mean of ``figure`` over the model's calls."""
        return log_mean_interval(self.values(figure), confidence, CALLS)

    def partner_value(self, figure: str) -> float:
        """The geometric mean of ``figure`` over the partner's calls."""
        logs = [math.log(v) for v in self.partner_values(figure) if v > 0]
        return math.exp(sum(logs) / len(logs)) if logs else math.nan

    def log_ratios(self, figure: str) -> tuple[float, ...]:
        """log(model / partner) of ``figure`` for each pair of calls."""
        pairs = zip(self.values(figure), self.partner_values(figure))
        return tuple(math.log(m / p) for m, p in pairs if m > 0 < p)


#: the figures a generate call gives, as ``CallFigures`` names them
FIGURES = ("ttft_ms", "tpot_ms")


def _figure(calls: Sequence[CallFigures], figure: str) -> list[float]:
    return [float(getattr(c, figure)) for c in calls]


def measure_generation(
    model: GenerateCall,
    settings: MeasureSettings,
    partner: GenerateCall | None = None,
    looks: Mapping[str, SequentialLooks] | None = None,
) -> GenerationSamples:
    """Time generate calls of ``model`` (and of ``partner``, ABBA); see the module. Uncounted
    calls first: ``--ovperf-warmup`` of the model's, or with a partner at least
    ``PAIR_WARMUP_S`` of both in turn. With ``looks`` (one per figure, the same count) the
    loop stops at the first look where every figure's verdict is settled, instead of on
    precision."""
    if partner is None:
        _warm_up((model,), settings.warmup_s)
    else:
        _warm_up((model, partner), max(settings.warmup_s, PAIR_WARMUP_S))
    calls: list[CallFigures] = []
    partner_calls: list[CallFigures] = []
    sequential = looks if partner is not None and looks else None
    count = min(look.count for look in sequential.values()) if sequential else 0
    look_times = [settings.max_time_s * (k + 1) / count for k in range(count)]
    looks_passed, final_look = 0, (count - 1 if sequential else None)
    started = time.perf_counter()
    own_s = 0.0
    while len(calls) < MAX_CALLS:
        model_first = len(calls) % 2 == 0 or partner is None
        if partner is not None and not model_first:
            partner_calls.append(partner())
        call_started = time.perf_counter()
        calls.append(model())
        own_s += time.perf_counter() - call_started
        if partner is not None and model_first:
            partner_calls.append(partner())
        elapsed = time.perf_counter() - started
        if len(calls) < MIN_CALLS:
            continue
        per_round = elapsed / len(calls)
        if elapsed + per_round > settings.max_time_s:
            break
        if sequential is not None:
            reached = sum(1 for t in look_times if elapsed >= t)
            if reached > looks_passed:
                looks_passed = reached
                samples = GenerationSamples(tuple(calls), elapsed, tuple(partner_calls))
                if all(
                    look.settled(samples.log_ratios(figure), reached - 1)
                    for figure, look in sequential.items()
                ):
                    final_look = reached - 1
                    break
            continue
        if own_s < settings.min_time_s:
            continue
        if _precise(calls, partner_calls, settings):
            break
    return GenerationSamples(
        tuple(calls), time.perf_counter() - started, tuple(partner_calls), final_look
    )


def _warm_up(sides: Sequence[GenerateCall], seconds: float) -> None:
    """Calls of every side in turn, not counted: one round at least, then until ``seconds``
    have passed."""
    warm_until = time.perf_counter() + seconds
    while True:
        for side in sides:
            side()
        if time.perf_counter() >= warm_until:
            return


def _precise(
    calls: Sequence[CallFigures], partner_calls: Sequence[CallFigures], settings: MeasureSettings
) -> bool:
    """Whether both figures' intervals (and both ratios', with a partner) are narrow enough."""
    tracked = [log_mean_interval(_figure(calls, f), settings.confidence, CALLS) for f in FIGURES]
    if partner_calls:
        for figure in FIGURES:
            ratios = [m / p for m, p in zip(_figure(calls, figure), _figure(partner_calls, figure))]
            tracked.append(log_mean_interval(ratios, settings.confidence, "ratios"))
    return all(i.relative_half_width <= settings.target_precision for i in tracked)
