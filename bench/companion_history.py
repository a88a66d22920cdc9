"""Live series of the history path on a real third-party model: does the gate speak on this
machine, with the one-thread compute companion?

Model: a PP-OCR model from the pinned ``rapidocr-onnxruntime`` wheel (``wheel_models.py``),
at the CPU's default precision (bf16 where the CPU has it), one latency and one throughput
test in one file. Every step below is a separate pytest process, as CI runs it:

1. one recording job, then at once a second run with nothing changed ("right after");
2. ``--record - 1`` more recording jobs (``--record`` in all, each its own job);
3. ``--runs`` runs with nothing changed: every verdict is A/A, so ``regression`` is a false
   alarm and a warning (``OvperfInconclusiveWarning``) is the noise users see;
4. ``--slow-runs`` runs of a slower variant of the same test ids (the input made wider by
   ``--slowdown``, which costs that much more computation in this convolutional recogniser;
   the true ratio at one thread is measured and printed), judged on history
   (``--ovperf-compare=history``): ``regression`` is a detection.

Each run's machine state is printed beside its verdict: the speed probe against the median
of the recording jobs' probes (a probe more than ``--ovperf-max-probe-shift``, 10%, away is a
noisy spell), the foreign CPU load, and which figure the verdict rests on. The summary
counts quiet and noisy spells apart.

    cd bench && python companion_history.py --model rec --record 5 --runs 20 --slow-runs 10

Prints a markdown table per kind; the per-run JSON reports stay in
``bench/_work/companion_history/``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TypedDict

from wheel_models import MODELS, BenchModel, model_path
from workdir import fresh_workdir

from pytest_ovperf.records import ResultRecord, headline_value, read_report, records_of

#: a latency and a throughput test of the wheel model; the input width comes from
#: ``WIDTH_ENV`` (a wider input is more computation for these convolutional models)
WIDTH_ENV = "OVPERF_BENCH_WIDTH"
TEST = """
import os
import pytest

WIDTH = int(os.environ.get("OVPERF_BENCH_WIDTH", "{base_width}"))
SHAPE = {{"{input}": [{batch}, {channels}, {height}, WIDTH]}}

@pytest.mark.ovperf_model({path!r}, shape=SHAPE)
def test_latency(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model({path!r}, shape=SHAPE)
def test_throughput(perf_budget):
    perf_budget.measure_throughput()
"""

KINDS = ("latency", "throughput")


def write_test_file(work: Path, bench_model: BenchModel) -> None:
    """``TEST`` for ``bench_model``, as ``test_bench.py`` in ``work``."""
    batch, channels, height, width = bench_model.shape
    (work / "test_bench.py").write_text(
        TEST.format(
            path=str(model_path(bench_model)),
            input=bench_model.input_name,
            batch=batch,
            channels=channels,
            height=height,
            base_width=width,
        )
    )


class PytestRun(TypedDict):
    """One pytest process of the bench."""

    name: str
    #: its result records by kind
    results: dict[str, ResultRecord]
    #: the kinds whose test warned that its verdict was inconclusive
    warned: set[str]
    returncode: int
    seconds: float


def pytest_run(work: Path, env: dict[str, str], name: str, *args: str) -> PytestRun:
    """One pytest process; its JSON results by kind, its warnings and its exit code."""
    report = work / "reports" / f"{name}.json"
    report.parent.mkdir(exist_ok=True)
    started = time.time()
    completed = subprocess.run(
        [
            sys.executable, "-m", "pytest", "test_bench.py", "-q", "-p", "no:cacheprovider",
            f"--ovperf-json={report}", *args,
        ],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode not in (0, 1) or not report.exists():
        raise RuntimeError(f"{name}: pytest exited {completed.returncode}\n{completed.stdout}")
    results = {r["kind"]: r for r in records_of(read_report(report))}
    warned = {
        kind
        for kind in KINDS
        for line in completed.stdout.splitlines()
        if "OvperfInconclusiveWarning" in line and f"::test_{kind}[" in line
    }
    return {
        "name": name,
        "results": results,
        "warned": warned,
        "returncode": completed.returncode,
        "seconds": time.time() - started,
    }


def companion_ms(record: ResultRecord) -> float:
    """The one-thread companion's p50 of a record (NaN where it was not measured)."""
    companion = record.get("companion")
    if companion is None or companion["p50_ms"] is None:
        return math.nan
    return companion["p50_ms"]


def spell(probe_ms: float | None, reference_ms: float) -> str:
    if probe_ms is None:
        return "?"
    shift = math.log(probe_ms / reference_ms)
    return "noisy" if abs(shift) > math.log1p(0.10) else "quiet"


def one_thread_ratio(model: Path, shape: list[int], slow_shape: list[int]) -> float:
    """The slow variant's true cost: one thread, sync, interleaved medians (30 pairs)."""
    import numpy as np
    import openvino as ov

    core = ov.Core()
    compiled = []
    for dims in (shape, slow_shape):
        read = core.read_model(str(model))
        read.reshape({read.inputs[0].get_any_name(): dims})
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1}
        request = core.compile_model(read, "CPU", config).create_infer_request()
        request.set_input_tensor(ov.Tensor(np.random.default_rng(0).random(dims, np.float32)))
        compiled.append(request)
    ratios = []
    for _ in range(30):
        medians = []
        for request in compiled:
            times = []
            for _ in range(10):
                request.infer()
                times.append(request.latency)
            medians.append(statistics.median(times))
        ratios.append(float(medians[1] / medians[0]))
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="rec")
    parser.add_argument("--record", type=int, default=5, help="recording jobs")
    parser.add_argument("--runs", type=int, default=20, help="runs with nothing changed")
    parser.add_argument("--slow-runs", type=int, default=10, help="runs of the slower variant")
    parser.add_argument("--slowdown", type=float, default=1.25, help="extra computation")
    parser.add_argument("--max-time", type=float, default=5.0, help="--ovperf-max-time")
    args = parser.parse_args()

    bench_model = MODELS[args.model]
    path = model_path(bench_model)
    batch, channels, height, width = bench_model.shape
    slow_width = round(width * args.slowdown / 8.0) * 8
    work, env = fresh_workdir("companion_history")
    write_test_file(work, bench_model)
    true_ratio = one_thread_ratio(
        path, list(bench_model.shape), [batch, channels, height, slow_width]
    )
    common = (f"--ovperf-max-time={args.max_time:g}",)
    print(
        f"model {bench_model.description}, input {bench_model.shape}; slower variant: width "
        f"{slow_width}, {true_ratio:.3f}x at one thread",
        flush=True,
    )

    runs: list[tuple[str, PytestRun]] = []
    recordings = [pytest_run(work, env, "record-1", *common, "--ovperf-update-baselines")]
    runs.append(("right after", pytest_run(work, env, "right-after", *common)))
    for index in range(2, args.record + 1):
        recordings.append(
            pytest_run(work, env, f"record-{index}", *common, "--ovperf-update-baselines")
        )
        print(f"recorded {index}/{args.record}", flush=True)
    for index in range(args.runs):
        runs.append(("unchanged", pytest_run(work, env, f"same-{index}", *common)))
        print(f"unchanged run {index + 1}/{args.runs}", flush=True)
    slow_env = {**env, WIDTH_ENV: str(slow_width)}
    for index in range(args.slow_runs):
        run = pytest_run(work, slow_env, f"slow-{index}", *common, "--ovperf-compare=history")
        runs.append((f"+{args.slowdown - 1:.0%}", run))
        print(f"slow run {index + 1}/{args.slow_runs}", flush=True)

    for kind in KINDS:
        probes = [r["results"][kind].get("probe_ms") for r in recordings]
        reference = statistics.median([p for p in probes if p])
        values = [headline_value(r["results"][kind]) or math.nan for r in recordings]
        companions = [companion_ms(r["results"][kind]) for r in recordings]
        print()
        print(
            f"### {kind}: recordings read {', '.join(f'{v:.4g}' for v in values)} "
            f"({'ms' if kind == 'latency' else 'fps'}); one-thread companion "
            f"{', '.join(f'{v:.4g}' for v in companions)} ms"
        )
        print()
        print(
            "| run | scenario | spell (probe vs recordings) | foreign load | verdict | rests on "
            "| ratio (CI) | companion ratio (CI) | warned |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        tally: dict[tuple[str, str], Counter[str]] = {}
        for scenario, run in runs:
            data = run["results"][kind]
            probe = data.get("probe_ms")
            state = spell(probe, reference)
            shift = f"{probe / reference - 1:+.0%}" if probe else "-"
            ratio = data.get("ratio")
            ci = data.get("ratio_ci") or [math.nan, math.nan]
            companion = data.get("companion_ratio")
            companion_ci = data.get("companion_ratio_ci") or [math.nan, math.nan]
            warned = "yes" if kind in run["warned"] else ""
            print(
                f"| {run['name']} | {scenario} | {state} ({shift}) | "
                f"{(data.get('foreign_load') or 0):.0%} | {data.get('baseline_verdict')} | "
                f"{data.get('decided_by') or '-'} | {ratio:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | "
                + (
                    f"{companion:.3f} [{companion_ci[0]:.3f}, {companion_ci[1]:.3f}]"
                    if companion is not None
                    else "-"
                )
                + f" | {warned} |"
            )
            counter = tally.setdefault((scenario, state), Counter())
            counter[data.get("baseline_verdict", "-")] += 1
            counter["warned"] += 1 if kind in run["warned"] else 0
            counter["runs"] += 1
        print()
        print("| scenario | spell | runs | regression | unchanged | nothing-changed | "
              "inconclusive | improvement | warned |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for (scenario, state), counter in sorted(tally.items()):
            print(
                f"| {scenario} | {state} | {counter['runs']} | {counter['regression']} | "
                f"{counter['unchanged']} | {counter['nothing-changed']} | "
                f"{counter['inconclusive']} | {counter['improvement']} | {counter['warned']} |"
            )


if __name__ == "__main__":
    main()
