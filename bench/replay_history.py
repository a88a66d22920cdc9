"""Offline replay of stored runs: the history path's A/A false-alarm rate, with its bound.

``--record`` separate pytest processes record the same model (each its own job) into one
baseline entry (at most the entry's ``HISTORY_LIMIT`` runs are kept). Then, offline, each
replay draws one stored run as "the current run" and ``--baseline-runs`` other runs, in their
recorded order, as its history, and judges them with the gate's statistics
(``verdicts.comparison.compare``): on the raw p50 and, where the speed probe ran, on the
model/probe ratios (the scale latency is judged on), with the probe guard (a current probe
more than 10% off the history's makes the verdict inconclusive, as in the gate). Every run
is A/A, so any ``regression`` or ``improvement`` is a false alarm; the upper 95% bound is
Clopper-Pearson. Replays share runs, so they are not independent: the bound is optimistic,
and the figure to trust most is the count of false alarms among the distinct currents.

    cd bench && python replay_history.py --record 20 --replays 400

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

import numpy as np
from scipy import stats as sps
from workdir import fresh_workdir

from pytest_ovperf.store.schema import StoredRun, history_of
from pytest_ovperf.verdicts.comparison import GateSettings, compare

TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size={size}))
def test_replayed(perf_budget):
    perf_budget.measure_latency()
"""

#: the gate's default probe window (--ovperf-max-probe-shift)
PROBE_SHIFT = 0.10


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate."""
    if failures >= trials:
        return 1.0
    return float(sps.beta.ppf(confidence, failures + 1, trials - failures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", type=int, default=20, help="recording processes")
    parser.add_argument("--replays", type=int, default=400)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work, env = fresh_workdir("replay")
    (work / "test_replayed.py").write_text(TEST.format(size=args.size))
    for index in range(args.record):
        completed = subprocess.run(
            [
                sys.executable, "-m", "pytest", "test_replayed.py", "-q",
                "-p", "no:cacheprovider", "--ovperf-update-baselines",
            ],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(completed.stdout[-3000:])
        print(f"recorded {index + 1}/{args.record}", flush=True)
    stored = json.loads((work / "baselines" / "test_replayed.json").read_text())
    (by_profile,) = stored["entries"].values()
    (by_kind,) = by_profile.values()
    runs: list[StoredRun] = history_of(by_kind["latency"])
    rng = np.random.default_rng(args.seed)
    settings = GateSettings()
    table = {}
    for scale in ("raw p50", "model/probe ratio"):
        verdicts: list[str] = []
        alarms_by_current: set[int] = set()
        for _ in range(args.replays):
            current = int(rng.integers(len(runs)))
            others = [i for i in range(len(runs)) if i != current]
            chosen = sorted(rng.choice(others, size=args.baseline_runs, replace=False))
            history = [runs[i] for i in chosen]
            probes = [r.probe_ms for r in history if r.probe_ms]
            cur = runs[current]
            if scale == "raw p50":
                outcome = compare(cur.summary, [r.summary for r in history], settings, False)
            else:
                ratios = [r.normalized for r in history if r.normalized is not None]
                if cur.normalized is None or not ratios:
                    continue
                outcome = compare(cur.normalized, ratios, settings, False)
            verdict = outcome.verdict.value
            if cur.probe_ms and probes:
                reference = math.exp(float(np.mean(np.log(probes))))
                if abs(math.log(cur.probe_ms / reference)) > math.log1p(PROBE_SHIFT):
                    verdict = "inconclusive"
            verdicts.append(verdict)
            if verdict in ("regression", "improvement"):
                alarms_by_current.add(current)
        table[scale] = (verdicts, alarms_by_current)
    values = [r.summary.value for r in runs]
    print()
    print(
        f"{len(runs)} stored runs (separate jobs) of mobilenet_like(size={args.size}), p50 "
        f"{min(values):.4g}-{max(values):.4g} ms; {args.replays} replays per scale, "
        f"{args.baseline_runs} baseline runs each"
    )
    print()
    print(
        "| scale | replays | false regression | false improvement | upper 95% bound of "
        "false alarms | unchanged | inconclusive | currents with an alarm |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for scale, (verdicts, alarmed) in table.items():
        n = len(verdicts)
        regression, improvement = verdicts.count("regression"), verdicts.count("improvement")
        bound = upper_bound(regression + improvement, n) if n else float("nan")
        print(
            f"| {scale} | {n} | {regression} | {improvement} | {bound:.2%} | "
            f"{verdicts.count('unchanged')}/{n} | {verdicts.count('inconclusive')}/{n} | "
            f"{len(alarmed)}/{len(runs)} |"
        )


if __name__ == "__main__":
    main()
