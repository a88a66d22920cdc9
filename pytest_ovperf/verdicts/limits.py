"""The gate's fractions (thresholds and limits): their defaults and their one unit.

Every fraction a user gives, on the command line, in the ini file or in a marker, is
written either as a fraction (``0.05``) or as a string with a percent sign (``"5%"``).
A bare number of 1 or more (``5``) is an error: it looks like a percent, and reading it as
500% would silently switch the check off.
"""

from __future__ import annotations

import math
from typing import Any

#: smallest slowdown that counts as a regression
DEFAULT_REGRESSION_THRESHOLD = 0.05
#: run-to-run drift the gate assumes until the history shows the machine's own: about twice
#: the drift measured between processes in one machine state (under 1% raw, ~1.2% as
#: model/probe ratios; runs of another state are never compared), worth
#: ``DRIFT_PRIOR_DF`` degrees of freedom (two jobs), so that a machine's own jobs soon
#: decide; bench/prior_sensitivity.py gives the trade-off behind both numbers
DEFAULT_DRIFT_PRIOR = 0.02
DRIFT_PRIOR_DF = 2.0
#: between-process spread of the ratio of two interleaved models (log scale): two compiles of
#: the same network read 0.86% apart (SD over 40 processes, bench/speedup_error_rate.py),
#: a process-level effect (code and memory placement) that no block pair within a run shows
PAIRED_DRIFT = 0.01
#: share of the block pairs cut from each end before the paired test averages their log
#: ratios (Yuen's trimmed t): a block the host's contention hits lands on one side of its
#: pair, and such pairs made the ratios heavy-tailed (kurtosis 5-80 on the 2-vCPU VM, their
#: SD up to 5x their scaled MAD); cutting 20% (the conventional choice) lifted replayed A/A
#: `unchanged` on a real model from 70% to 91% (latency) at no false regression
#: (BENCHMARKS.md, bench/replay_ab.py)
PAIRED_TRIM = 0.2
#: the paired test, as messages name it
PAIRED_TEST = f"Yuen's paired t on the {PAIRED_TRIM:.0%}-trimmed mean"
#: the longest measuring time (s) an inconclusive paired comparison's message proposes: past
#: it, the advice is a quieter machine (a CI job does not wait minutes for one test)
PAIRED_SETTLE_MAX_S = 120.0
#: the chance that the measuring time an inconclusive paired comparison proposes settles
#: the estimate it found, if that estimate is the truth (the sample-size rule's power)
SETTLE_POWER = 0.8
#: memory: an increase over the baseline is a regression only beyond both this fraction
#: and ``DEFAULT_MEMORY_FLOOR_MB``: the figure repeats to a few MiB, so a fraction alone
#: would flag allocator noise on a small model, a floor alone a real growth of a big one
DEFAULT_MEMORY_THRESHOLD = 0.10
DEFAULT_MEMORY_FLOOR_MB = 16.0
#: below this share of the compute in the requested precision (performance counters), the
#: device fell back to another precision
PRECISION_FALLBACK_SHARE = 0.5
#: a throughput figure below this fraction of the rate of one synchronous inference at a time
#: measures a stall of the device's asynchronous path, not the model: a queue in flight
#: reaches at least the sync rate on a sound device, and the sync rate is taken from the
#: first inference, one-time costs included, so it reads low. AUTO:GPU,CPU on an NVIDIA
#: H200 through OpenCL read 1.02 fps while its first inference took 0.64 ms (1562 per
#: second; BENCHMARKS.md, "A GPU through OpenCL")
ASYNC_STALL_FRACTION = 0.1
#: a queue whose requests each take at least this fraction of automatic batching's timeout
#: (``AUTO_BATCH_TIMEOUT``) waits out the timeout rather than computing: a batch that fills
#: completes in a few milliseconds (the H200's 512 requests cycled in 5 ms), one that cannot
#: fill waits the whole timeout (1000 ms by default: 1 fps with one request)
BATCH_WAIT_SHARE = 0.5
#: share of the machine's CPU other processes may use before a comparison is inconclusive
DEFAULT_MAX_FOREIGN_LOAD = 0.15
#: how far the speed probe may move from the baseline's runs before they count as another
#: machine state
DEFAULT_MAX_PROBE_SHIFT = 0.10
#: another runtime's worker measured beside this one: the CPU the idle side may use while the
#: other side measures, as a fraction of the active side's CPU in that time. OpenVINO's
#: worker threads spin after an inference; two runtimes in one process share one pool, two
#: processes do not, and the idle side's spinning takes cores from the measured one
MAX_IDLE_SIDE_CPU = 0.01


class FractionError(ValueError):
    """A fraction given in the wrong unit or out of range; the message says how to write it."""


def parse_fraction(value: Any, what: str) -> float:
    """``0.05`` or ``"5%"`` -> 0.05; ``5`` (a percent without its sign) is an error.

    ``what`` names the option or marker argument in the error message.
    """
    if isinstance(value, bool):
        raise FractionError(f"{what}={value!r} must be a fraction (0.05) or a percent ('5%')")
    if isinstance(value, str):
        text = value.strip()
        percent = text.endswith("%")
        number_text = text[:-1].strip() if percent else text
        try:
            number = float(number_text)
        except ValueError:
            raise FractionError(
                f"{what}={value!r} is not a number; write a fraction (0.05) or a percent ('5%')"
            ) from None
    elif isinstance(value, (int, float)):
        number, percent = float(value), False
    else:
        raise FractionError(f"{what}={value!r} must be a fraction (0.05) or a percent ('5%')")
    if not math.isfinite(number) or number <= 0:
        raise FractionError(f"{what}={value!r} must be positive")
    if percent:
        return number / 100.0
    if number >= 1:
        raise FractionError(
            f"{what}={value!r} looks like a percent: write '{number:g}%' "
            f"(or the fraction {number / 100:g})"
        )
    return number


def percent_text(fraction: float) -> str:
    """How a fraction is written back to users: ``0.05`` -> ``'5%'``."""
    return f"{fraction * 100:g}%"
