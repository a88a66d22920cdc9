"""Offline replay of the A/B comparison: A/A false alarms, +10% / +25% detection, with bounds.

Data: ``--processes`` separate Python processes, one after another. Each builds an A/A'
pair (``mobilenet_like(size, seed=8)`` as the current model, ``seed=7`` as the baseline's
own: the same graph with other weights, so the same speed; ``--size`` 128 by default, as in
``gate_error_rates.py``), compiles both for CPU with the plugin's own compile cache
(``PERFORMANCE_HINT=LATENCY``, ``INFERENCE_PRECISION_HINT=f32``; a real A/B run compiles
the baseline from its stored IR copy instead), warms them up in the plugin's order (the
baseline's runner is made first, when the partner is chosen, then the model's in
``measure_latency``) and measures them with the engine's own loop,
``measure.engine.run_blocks``, over ``measure.blocks.LatencyBlocks``: 0.1 s blocks of each
side, ABBA order, for ``--seconds`` of wall time plus ``--max-time`` / 5 (so that the last
window ends by the budget rule, not by the end of the data). The engine's own stopping rules
would end an A/B run at its first settled look, so the looks are switched off here (one
look that never settles) and the loop runs to its time budget. Every block pair's
``log(model / partner)`` (what ``PartnerSamples.log_ratios`` holds), both block medians and
every block's start and end time go to one JSON file per process
(``bench/_work/replay_ab/data/process-NN.json``).

Replay: each process's pairs are cut, in order, into consecutive non-overlapping windows,
each as long as one real A/B measurement: the pairs ``run_blocks`` takes before its time
budget (``--max-time``, 5 s = ``--ovperf-max-time``, both sides together) stops it, found by
running ``run_blocks`` itself over the recorded pairs on a clock that replays the recorded
block end times (about 24 pairs of 2 x 0.1 s; 12 windows in 60 s; the counts are printed).
Each window is then judged as the plugin judges an A/B run: ``run_blocks`` again on the
replayed clock, with the looks the plugin's ``_ab_looks`` builds (``AB_LOOKS`` looks, each
``compare_paired`` at the gate's ``ab_settings``: the O'Brien-Fleming level of each look, 5%
threshold), stopping at the first settled look, then the final verdict from
``compare_paired`` over the pairs it took (what ``judge_ab`` decides on),
``higher_is_better=False``. The +10% and +25% rows replay the same windows with every model
block median multiplied by 1.10 / 1.25, i.e. ``log(1.10)`` / ``log(1.25)`` added to every
log ratio (the blocks' timing is left as recorded). ``--data`` replays stored files (give
the same ``--max-time``).

Not replayed: the foreign-load guard (``busy_guarded``), and the re-measure that confirms a
regression before a test fails (``--ovperf-confirm``, on by default), so the rates here are
those of one measurement.

Windows of one process share its process-level offset (code and memory placement of its
two compiles: what ``PAIRED_DRIFT`` models), so they are not independent: the Clopper-Pearson
bound over windows is optimistic; the count of processes with a false alarm is the more
robust figure. The between-process SD of each process's mean log ratio is printed beside
``PAIRED_DRIFT``.

    cd bench && python replay_ab.py --processes 25 --seconds 60
    cd bench && python replay_ab.py --data _work/replay_ab/data    # replay again, no measuring

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from scipy import stats as sps
from workdir import ROOT, fresh_workdir

sys.path.insert(0, str(ROOT))  # the plugin of this tree, whichever one is installed

import openvino as ov

from pytest_ovperf.measure import engine
from pytest_ovperf.measure.blocks import LatencyBlocks
from pytest_ovperf.measure.engine import BlockRunner, Interleaved, SequentialLooks
from pytest_ovperf.measure.settings import MeasureSettings
from pytest_ovperf.runtime.models import CompileCache, ModelSpec
from pytest_ovperf.runtime.toy_models import mobilenet_like
from pytest_ovperf.store.models import ModelStore
from pytest_ovperf.verdicts.comparison import GateSettings, compare_paired
from pytest_ovperf.verdicts.gate import AB_LOOKS, BaselineGate
from pytest_ovperf.verdicts.kinds import GateVerdict
from pytest_ovperf.verdicts.limits import (
    DEFAULT_DRIFT_PRIOR,
    DEFAULT_REGRESSION_THRESHOLD,
    PAIRED_DRIFT,
)

#: weights seeds: the current model and the baseline's own (same graph, same speed)
CURRENT_SEED, BASELINE_SEED = 8, 7
#: data recorded beyond --seconds, as a fraction of --max-time
MARGIN = 0.2
#: (row name, true slowdown factor applied to the current model's blocks)
SCENARIOS = (("A/A' (same speed)", 1.0), ("+10%", 1.10), ("+25%", 1.25))
VERDICTS = ("regression", "improvement", "unchanged", "inconclusive")


# -- data collection (one process each) ---------------------------------------------------


def collect(out: Path, size: int, seconds: float) -> None:
    """Measure the A/A' pair interleaved for ``seconds`` and write every block to ``out``."""
    settings = MeasureSettings()
    cache = CompileCache(ov.Core())
    current = cache.get(
        ModelSpec(source=functools.partial(mobilenet_like, size=size, seed=CURRENT_SEED)),
        "CPU", "f32", "LATENCY",
    )  # fmt: skip
    baseline = cache.get(
        ModelSpec(source=functools.partial(mobilenet_like, size=size, seed=BASELINE_SEED)),
        "CPU", "f32", "LATENCY",
    )  # fmt: skip
    # the plugin makes (and warms up) the partner's runner first, then the model's
    partner = LatencyBlocks(baseline.compiled, baseline.inputs, settings)
    model = LatencyBlocks(current.compiled, current.inputs, settings)
    spans: dict[str, list[tuple[float, float]]] = {"model": [], "partner": []}

    def timed(runner: LatencyBlocks, side: str) -> BlockRunner:
        def run(block_s: float) -> float:
            started = time.perf_counter()
            value = float(runner(block_s))
            spans[side].append((started, time.perf_counter()))
            return value

        return run

    never = SequentialLooks(1, lambda ratios, look: False)
    run = engine.run_blocks(
        timed(model, "model"),
        timed(partner, "partner"),
        dataclasses.replace(settings, max_time_s=seconds),
        dict,
        partner_share=1.0,
        compare_partner=True,  # as an A/B run: the same work between blocks
        looks=never,
    )
    origin = min(spans["model"][0][0], spans["partner"][0][0])

    def relative(side: str, end: int) -> list[float]:
        return [span[end] - origin for span in spans[side]]

    record = {
        "size": size,
        "current_seed": CURRENT_SEED,
        "baseline_seed": BASELINE_SEED,
        "config": current.config,
        "precision": current.precision,
        "openvino": ov.get_version(),
        "block_s": settings.block_s,
        "seconds": seconds,
        "measure_s": run.measure_s,
        "model_p50_ms": model.value,
        "partner_p50_ms": partner.value,
        "model_ms": list(run.model_blocks),
        "partner_ms": list(run.partner_blocks),
        "log_ratios": list(run.log_ratios),
        "model_start_s": relative("model", 0),
        "model_end_s": relative("model", 1),
        "partner_start_s": relative("partner", 0),
        "partner_end_s": relative("partner", 1),
    }
    out.write_text(json.dumps(record))


def measure_all(args: argparse.Namespace) -> Path:
    """Run the collecting processes one after another; the folder of their JSON files."""
    work, env = fresh_workdir("replay_ab")
    data = work / "data"
    data.mkdir()
    seconds = args.seconds + MARGIN * args.max_time
    started = time.time()
    for index in range(args.processes):
        out = data / f"process-{index:02d}.json"
        completed = subprocess.run(
            [
                sys.executable, str(Path(__file__).resolve()), "--collect-into", str(out),
                "--size", str(args.size), "--seconds", str(seconds),
            ],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0 or not out.exists():
            raise RuntimeError(f"collecting process failed:\n{completed.stderr[-3000:]}")
        print(
            f"process {index + 1}/{args.processes} done ({time.time() - started:.0f} s)",
            flush=True,
        )
    return data


# -- replay -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """One process's interleaved blocks, in order; times in seconds from its first block."""

    name: str
    model_ms: list[float]
    partner_ms: list[float]
    pair_start_s: list[float]
    pair_end_s: list[float]
    model_p50_ms: float
    partner_p50_ms: float

    @classmethod
    def load(cls, path: Path) -> Recording:
        raw: dict[str, Any] = json.loads(path.read_text())
        starts = zip(raw["model_start_s"], raw["partner_start_s"])
        ends = zip(raw["model_end_s"], raw["partner_end_s"])
        return cls(
            path.stem,
            [float(x) for x in raw["model_ms"]],
            [float(x) for x in raw["partner_ms"]],
            [min(a, b) for a, b in starts],
            [max(a, b) for a, b in ends],
            float(raw["model_p50_ms"]),
            float(raw["partner_p50_ms"]),
        )

    @property
    def log_ratios(self) -> np.ndarray:
        ratios = np.asarray(self.model_ms) / np.asarray(self.partner_ms)
        return np.asarray(np.log(ratios), dtype=float)


class _OutOfData(Exception):
    """The replayed engine asked for a block pair past the recording's end."""


class _ReplayedClock:
    """Stands for the ``time`` module in ``engine``: the time of the recorded pairs."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def replay_engine(
    recording: Recording,
    start: int,
    settings: MeasureSettings,
    looks: SequentialLooks,
    slowdown: float = 1.0,
    pairs: int | None = None,
) -> Interleaved | None:
    """``engine.run_blocks`` over the recorded pairs from ``start`` (at most ``pairs`` of
    them), its clock reading each pair's recorded end; ``None`` when it wanted more pairs
    than there are. The current model's blocks are multiplied by ``slowdown``."""
    clock = _ReplayedClock()
    origin = recording.pair_start_s[start]
    stop = len(recording.model_ms) if pairs is None else min(start + pairs, len(recording.model_ms))
    served = {"model": 0, "partner": 0}

    def serve(side: str, values: Sequence[float], factor: float) -> BlockRunner:
        def run(block_s: float) -> float:
            index = start + served[side]
            if index >= stop:
                raise _OutOfData
            served[side] += 1
            if served["model"] == served["partner"]:  # the pair is complete
                clock.now = recording.pair_end_s[index] - origin
            return values[index] * factor

        return run

    with mock.patch.object(engine, "time", clock):
        try:
            return engine.run_blocks(
                serve("model", recording.model_ms, slowdown),
                serve("partner", recording.partner_ms, 1.0),
                settings,
                dict,
                partner_share=1.0,
                # the precision of the ratio decides nothing when looks are given
                compare_partner=False,
                looks=looks,
            )
        except _OutOfData:
            return None


def windows_of(
    recording: Recording, settings: MeasureSettings, never: SequentialLooks
) -> list[tuple[int, int]]:
    """(first pair, pairs) of each window: the pairs one A/B run takes before its time
    budget stops it, back to back from the first pair; an incomplete last one is left out."""
    windows = []
    start = 0
    while start < len(recording.model_ms):
        run = replay_engine(recording, start, settings, never)
        if run is None:
            break
        windows.append((start, len(run.log_ratios)))
        start += len(run.log_ratios)
    return windows


@dataclass
class Row:
    verdicts: list[str] = field(default_factory=list)
    #: recording name of each verdict
    processes: list[str] = field(default_factory=list)
    pairs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    #: the look that stopped each run: 1..AB_LOOKS-1 inside the engine, "end" at the budget
    stops: list[str] = field(default_factory=list)


def ab_looks(gate: BaselineGate, threshold: float) -> SequentialLooks:
    """The looks the plugin gives an A/B run of latency (lower is better): settled at a look
    when ``compare_paired`` at the per-look levels says anything but inconclusive. A copy of
    the plugin's ``_ab_looks`` (``PerfBudget``, or ``PartnerChooser`` in ``partners.py``),
    made of the same public pieces, since that private method has moved."""

    def settled(log_ratios: Sequence[float], look: int) -> bool:
        verdict = compare_paired(log_ratios, gate.ab_settings(threshold, look), False).verdict
        return verdict is not GateVerdict.INCONCLUSIVE

    return SequentialLooks(AB_LOOKS, settled)


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate."""
    if trials == 0:
        return float("nan")
    if failures >= trials:
        return 1.0
    return float(sps.beta.ppf(confidence, failures + 1, trials - failures))


def replay(recordings: list[Recording], max_time: float, threshold: float) -> None:
    measure = dataclasses.replace(MeasureSettings(), max_time_s=max_time)
    measure.validate()
    # the session's gate settings at the defaults (session.py), split per look as in A/B
    gate = BaselineGate(
        baseline_dir=Path(),
        rootdir=Path(),
        settings=GateSettings(
            threshold=threshold, confidence=measure.confidence, prior_drift=DEFAULT_DRIFT_PRIOR
        ),
        model_store=ModelStore(Path()),
    )
    looks = ab_looks(gate, threshold)
    settings = gate.ab_settings(threshold, looks.count - 1)  # the final look's, printed
    never = SequentialLooks(looks.count, lambda ratios, look: False)
    look_times = [max_time * (k + 1) / looks.count for k in range(looks.count)]
    rows = {name: Row() for name, _ in SCENARIOS}
    window_pairs: list[int] = []
    window_counts: list[int] = []
    for recording in recordings:
        windows = windows_of(recording, measure, never)
        window_counts.append(len(windows))
        for start, pairs in windows:
            window_pairs.append(pairs)
            for name, slowdown in SCENARIOS:
                run = replay_engine(recording, start, measure, looks, slowdown, pairs)
                if run is None:
                    raise RuntimeError(f"{recording.name}: a window ran out of its pairs")
                final = run.look if run.look is not None else looks.count - 1
                outcome = compare_paired(run.log_ratios, gate.ab_settings(threshold, final), False)
                used = len(run.log_ratios)
                reached = sum(1 for t in look_times if run.measure_s >= t)
                row = rows[name]
                row.verdicts.append(outcome.verdict.value)
                row.processes.append(recording.name)
                row.pairs.append(used)
                row.seconds.append(run.measure_s)
                row.stops.append("end" if used == pairs else str(reached))

    n_processes = len(recordings)
    n_windows = len(window_pairs)
    if n_windows == 0:
        raise SystemExit(f"no recording holds one A/B run of --max-time {max_time:g} s")
    logs = [r.log_ratios for r in recordings]
    means = np.array([float(x.mean()) for x in logs])
    within = np.array([float(x.std(ddof=1)) ** 2 / x.size for x in logs])
    between_sd = float(means.std(ddof=1)) if n_processes > 1 else float("nan")
    corrected = (
        math.sqrt(max(between_sd**2 - float(within.mean()), 0.0))
        if n_processes > 1
        else float("nan")
    )
    p50s = [r.model_p50_ms for r in recordings] + [r.partner_p50_ms for r in recordings]
    print()
    print(
        f"{n_processes} processes (separate compiles), {sum(len(x) for x in logs)} block pairs; "
        f"p50 {min(p50s):.3g}-{max(p50s):.3g} ms; {n_windows} windows of one A/B run each "
        f"(max time {max_time:g} s: {min(window_pairs, default=0)}-"
        f"{max(window_pairs, default=0)} pairs, median {np.median(window_pairs or [0]):g}); "
        f"windows per process {min(window_counts, default=0)}-{max(window_counts, default=0)}; "
        f"{looks.count} looks at {', '.join(f'{t:g}' for t in look_times)} s "
        f"(the engine looks first at its min time, {measure.min_time_s * 2:g} s of both sides, "
        f"and the last look is the final verdict at the budget's end); threshold "
        f"{threshold:.0%}, O'Brien-Fleming levels, at the last look "
        f"confidence {settings.confidence:.4g} / equivalence {settings.equivalence_confidence:.4g}"
    )
    print()
    print(
        "| scenario | verdicts | regression | improvement | unchanged | inconclusive | "
        "regression rate (upper 95% bound) | processes with a regression | "
        "stopped at look 1/2/3/end | mean pairs / s per verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        n = len(row.verdicts)
        counts = [row.verdicts.count(v) for v in VERDICTS]
        regression = counts[0]
        alarmed = {p for p, v in zip(row.processes, row.verdicts) if v == "regression"}
        stops = "/".join(
            str(row.stops.count(s)) for s in [*(str(k) for k in range(1, looks.count)), "end"]
        )
        rate = regression / n if n else float("nan")
        bound = upper_bound(regression, n)
        print(
            f"| {name} | {n} | "
            + " | ".join(f"{c}/{n}" for c in counts)
            + f" | {rate:.1%} ({bound:.1%}) | {len(alarmed)}/{n_processes} | {stops} | "
            f"{np.mean(row.pairs or [0]):.1f} / {np.mean(row.seconds or [0]):.2f} |"
        )
    aa = rows[SCENARIOS[0][0]]
    false_alarms = aa.verdicts.count("regression") + aa.verdicts.count("improvement")
    alarmed_processes = {
        p for p, v in zip(aa.processes, aa.verdicts) if v in ("regression", "improvement")
    }
    by_windows = upper_bound(false_alarms, n_windows)
    by_processes = upper_bound(len(alarmed_processes), n_processes)
    per_process = n_windows / max(n_processes, 1)
    print()
    print(
        f"A/A': unchanged {aa.verdicts.count('unchanged')}/{n_windows}; false alarms of either "
        f"sign {false_alarms}/{n_windows} (upper 95% bound {by_windows:.1%}), in "
        f"{len(alarmed_processes)}/{n_processes} processes (upper 95% bound over processes "
        f"{by_processes:.1%}). Dependence: the {n_windows} windows come from {n_processes} "
        f"processes ({per_process:.1f} each) and the windows of a process share its "
        "process-level offset, so the bound over windows is optimistic; the bound over "
        "processes does not assume independent windows."
    )
    print()
    print(
        f"between-process SD of the mean log ratio: {between_sd:.4f} raw, {corrected:.4f} less "
        f"the within-process noise (PAIRED_DRIFT = {PAIRED_DRIFT}); mean current/baseline ratio "
        f"over processes {math.exp(float(means.mean())):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=25, help="measuring processes")
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring per process")
    parser.add_argument("--size", type=int, default=128, help="image size of the conv net")
    parser.add_argument(
        "--max-time",
        type=float,
        default=MeasureSettings().max_time_s,
        help="time budget of one A/B run, both sides (--ovperf-max-time)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_REGRESSION_THRESHOLD,
        help="regression threshold (--ovperf-regression-threshold)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="replay the JSON files here, measuring nothing"
    )
    parser.add_argument("--collect-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect_into is not None:
        collect(args.collect_into, args.size, args.seconds)
        return
    data = args.data if args.data is not None else measure_all(args)
    recordings = [Recording.load(path) for path in sorted(data.glob("process-*.json"))]
    if not recordings:
        raise SystemExit(f"no process-*.json files in {data}")
    replay(recordings, args.max_time, args.threshold)


if __name__ == "__main__":
    main()
