"""The words of every verdict, and where a verdict comes from (typed, never parsed from text)."""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    """Outcome of checking one measured statistic against one budget."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NONE = "none"


class GateVerdict(str, Enum):
    """Outcome of comparing a result with its baseline (or its interleaved reference)."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    #: compared with the interleaved reference, and judged by the test's speedup budget
    #: (``min_speedup`` / ``max_slowdown``) alone: the user stated how the model must compare
    #: with its reference, so the regression threshold does not judge the same ratio again
    BY_BUDGET = "by-budget"
    #: history, and nothing the gate fingerprints changed since the baseline (model, config,
    #: OpenVINO, Python, this plugin; the machine profile is the same by construction): the
    #: run was a check of the machine, which could not tell its noise from a change. Not a
    #: warning: a confident slowdown is still a ``regression``, and a slowdown only the
    #: machine guards withheld stays ``inconclusive``
    NOTHING_CHANGED = "nothing-changed"
    #: nothing stored for this test and machine profile: the test passes
    NO_BASELINE = "no-baseline"
    #: this run was recorded as a baseline run
    UPDATED = "updated"
    #: the baseline file cannot be used (corrupt, foreign schema, lock timeout)
    ERROR = "error"


class GateMethod(str, Enum):
    """What a result was compared with."""

    #: the baseline's own model (its stored copy), measured interleaved in the same run
    AB = "ab"
    #: the stored runs of the baseline entry (runs of other processes, other times)
    HISTORY = "history"
    #: the ``reference=`` model, measured interleaved in the same run
    REFERENCE = "reference"


class GuardReason(str, Enum):
    """Why the machine's state forbids a gate verdict, whatever the statistics say."""

    #: other processes used more of the CPU than allowed
    BUSY = "busy"
    #: the speed probe ran at another speed than in the baseline's runs
    MACHINE_SPEED = "machine-speed"
    #: the speed probe ran slower than in the fastest stored runs on this machine (budgets)
    SLOW_STATE = "slow-state"
    #: the idle one of two runtime processes used CPU while the other measured
    IDLE_SIDE_CPU = "idle-side-cpu"


class CompareMode(str, Enum):
    """How a result is compared with its baseline."""

    #: A/B against the baseline's own model when the model or config changed and its copy is
    #: at hand, else the stored runs
    AUTO = "auto"
    #: always A/B against the baseline's own model; a missing copy is a test error
    AB = "ab"
    #: always the stored runs
    HISTORY = "history"


class Metric(str, Enum):
    LATENCY = "latency_ms"
    THROUGHPUT = "throughput_fps"
    FIRST_INFERENCE = "first_inference_ms"
    COMPILE = "compile_ms"
    #: load time: reading and compiling the model, repeated (the load kind's headline)
    LOAD = "load_ms"
    #: resident memory of the compiled model and one infer request (MiB)
    MEMORY = "memory_mb"
    #: peak resident growth while reading and compiling (MiB)
    COMPILE_PEAK = "compile_peak_mb"
    #: generation: time to the first token of a call, ms (``percentile=``, p50 by default)
    TTFT = "ttft_ms"
    #: generation: mean time per output token after the first, ms (geometric mean of calls)
    TPOT = "tpot_ms"
    #: generation: output tokens per second after the first token (1000 / ``TPOT``)
    TOKENS_PER_S = "tokens_per_s"
    #: how many times as fast as the reference (latency: reference / model; throughput:
    #: model / reference), at least
    SPEEDUP = "min_speedup"
    #: how much slower than the reference (the inverse speedup), at most (a factor in the
    #: checks; the marker takes a fraction, 0.10 = 10% slower)
    SLOWDOWN = "max_slowdown"

    @property
    def higher_is_better(self) -> bool:
        return self in (Metric.THROUGHPUT, Metric.SPEEDUP, Metric.TOKENS_PER_S)

    @property
    def unit(self) -> str:
        if self in (Metric.SPEEDUP, Metric.SLOWDOWN):
            return "x"
        if self in (Metric.MEMORY, Metric.COMPILE_PEAK):
            return "MiB"
        if self is Metric.TOKENS_PER_S:
            return "tokens/s"
        return "fps" if self is Metric.THROUGHPUT else "ms"

    @property
    def against_reference(self) -> bool:
        """Judged on the interleaved ratio to the reference, not on the model alone."""
        return self in (Metric.SPEEDUP, Metric.SLOWDOWN)

    @property
    def has_interval(self) -> bool:
        """Judged on an interval (the one-off costs are single observations; memory is a
        median of readings held against its limit as it is)."""
        return self not in (
            Metric.FIRST_INFERENCE, Metric.COMPILE, Metric.MEMORY, Metric.COMPILE_PEAK
        )  # fmt: skip
