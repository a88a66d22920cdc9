"""Offline replay of stored runs: the history path's A/A false-alarm rate, with its bound.

``--record`` separate pytest processes record the same model (each its own job) into one
baseline entry (at most the entry's ``HISTORY_LIMIT`` runs are kept). Then, offline, each
replay draws one stored run as "the current run" and ``--baseline-runs`` other runs, in their
recorded order, as its history, and judges them as the gate does: of those runs, the ones
recorded in the machine state the current run found (its speed probe within
``--ovperf-max-probe-shift``, 10%, of theirs: ``BaselineGate._comparable_runs``) are the
history; when there is none, the probe guard makes the verdict inconclusive. The history is
judged with the gate's statistics (``verdicts.comparison.compare``) on the raw p50 and,
where the speed probe ran, on the model/probe ratios (the scale latency is judged on). Every run
is A/A, so any ``regression`` or ``improvement`` is a false alarm; the upper 95% bound is
Clopper-Pearson. Replays share runs, so they are not independent: the bound is optimistic,
and the figure to trust most is the count of false alarms among the distinct currents.

    cd bench && python replay_history.py --record 20 --replays 400
    cd bench && python replay_history.py --data _work/replay/baselines/test_replayed.json

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import stats as sps
from workdir import fresh_workdir

from pytest_ovperf.store.schema import StoredRun, history_of
from pytest_ovperf.verdicts.comparison import GateSettings, compare
from pytest_ovperf.verdicts.history import same_machine_state
from pytest_ovperf.verdicts.limits import DEFAULT_MAX_PROBE_SHIFT

TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size={size}))
def test_replayed(perf_budget):
    perf_budget.measure_latency()
"""


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate."""
    if failures >= trials:
        return 1.0
    return float(sps.beta.ppf(confidence, failures + 1, trials - failures))


def same_state(stored: StoredRun, current: StoredRun) -> bool:
    """Both probes within the gate's default ``--ovperf-max-probe-shift`` of each other."""
    if not stored.probe_ms or not current.probe_ms:
        return False
    return same_machine_state(current.probe_ms, stored.probe_ms, DEFAULT_MAX_PROBE_SHIFT)


def record(processes: int, size: int) -> Path:
    """``processes`` recording runs of one model into a fresh baseline file; its path."""
    work, env = fresh_workdir("replay")
    (work / "test_replayed.py").write_text(TEST.format(size=size))
    for index in range(processes):
        completed = subprocess.run(
            [
                sys.executable, "-m", "pytest", "test_replayed.py", "-q",
                "-p", "no:cacheprovider", "--ovperf-update-baselines",
            ],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(completed.stdout[-3000:])
        print(f"recorded {index + 1}/{processes}", flush=True)
    return work / "baselines" / "test_replayed.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", type=int, default=20, help="recording processes")
    parser.add_argument("--replays", type=int, default=400)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data", type=Path, default=None, help="replay this baseline file; no recording"
    )
    args = parser.parse_args()
    if args.data is None:
        args.data = record(args.record, args.size)
    stored = json.loads(args.data.read_text())
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
            cur = runs[current]
            # the gate's choice: the runs of the machine state this run found, if any
            history = [runs[i] for i in chosen if same_state(runs[i], cur)]
            if not history:
                verdicts.append("guarded")  # the probe guard: no run of this state
                continue
            if scale == "raw p50":
                outcome = compare(cur.summary, [r.summary for r in history], settings, False)
            else:
                ratios = [r.normalized for r in history if r.normalized is not None]
                if cur.normalized is None or not ratios:
                    continue
                outcome = compare(cur.normalized, ratios, settings, False)
            verdict = outcome.verdict.value
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
        "false alarms | unchanged | inconclusive | of which no stored run of its state | "
        "currents with an alarm |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for scale, (verdicts, alarmed) in table.items():
        n = len(verdicts)
        regression, improvement = verdicts.count("regression"), verdicts.count("improvement")
        guarded = verdicts.count("guarded")
        bound = upper_bound(regression + improvement, n) if n else float("nan")
        print(
            f"| {scale} | {n} | {regression} | {improvement} | {bound:.2%} | "
            f"{verdicts.count('unchanged')}/{n} | "
            f"{verdicts.count('inconclusive') + guarded}/{n} | {guarded}/{n} | "
            f"{len(alarmed)}/{len(runs)} |"
        )


if __name__ == "__main__":
    main()
