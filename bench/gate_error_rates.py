"""Measure the regression gate itself: A/A false alarms and detection of +10% / +25% slowdowns.

Every verdict comes from a separate pytest run, as in CI: one run records the baseline
(``--ovperf-update-baselines``, ``--record-runs`` times), then A/A runs (same model: judged
against the stored runs), A/A' runs (the same graph with other weights: a changed model,
judged A/B against the baseline's own model) and runs of the same network with extra layers
(about +10% and +25% latency, calibrated at the start by interleaved measurement; changed
models, so judged A/B by default) are compared with it. The four scenarios are interleaved
round-robin so machine drift hits all of them alike. Beside every pytest-ovperf run, in the
same round, pytest-benchmark measures the same model variant and judges it with
``--benchmark-compare-fail=median:5%`` against its own saved baseline.

    python bench/gate_error_rates.py --runs 20
    python bench/gate_error_rates.py --runs 20 --kind throughput

With ``--kind throughput`` the tests measure fps with ``measure_throughput`` and
pytest-benchmark times a batch of 64 inferences through a full ``AsyncInferQueue``.

Needs pytest-benchmark (``pip install -e ".[bench]"``). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openvino as ov
from workdir import ROOT, fresh_workdir

from pytest_ovperf.records import ResultRecord, headline_value, read_report, records_of

WORK = ROOT / "bench" / "_work" / "gate"

OVPERF_TEST = """
import os

import pytest
from models import mobilenet_like

SIZE = int(os.environ["OVPERF_BENCH_SIZE"])
EXTRA = int(os.environ["OVPERF_BENCH_EXTRA"])
SEED = int(os.environ.get("OVPERF_BENCH_SEED", "7"))


def model():
    return mobilenet_like(size=SIZE, extra_blocks=EXTRA, seed=SEED)


@pytest.mark.ovperf_model(source=model)
@pytest.mark.ovperf_budget(device="CPU", precision="f32", latency_ms=100_000)
def test_gate_latency(compiled_model, perf_budget):
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=model)
@pytest.mark.ovperf_budget(device="CPU", precision="f32", throughput_fps=0.001)
def test_gate_throughput(infer_pool, perf_budget):
    perf_budget.measure_throughput(infer_pool)
"""

BENCHMARK_TEST = """
import os

import numpy as np
import openvino as ov
from models import mobilenet_like

SIZE = int(os.environ["OVPERF_BENCH_SIZE"])
EXTRA = int(os.environ["OVPERF_BENCH_EXTRA"])
SEED = int(os.environ.get("OVPERF_BENCH_SEED", "7"))


def test_gate_latency(benchmark):
    model = mobilenet_like(size=SIZE, extra_blocks=EXTRA, seed=SEED)
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    compiled = ov.Core().compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    data = np.random.default_rng(0).random(list(compiled.inputs[0].shape), dtype=np.float32)
    request.set_input_tensor(ov.Tensor(data, shared_memory=True))
    benchmark(request.infer)


def test_gate_throughput(benchmark):
    model = mobilenet_like(size=SIZE, extra_blocks=EXTRA, seed=SEED)
    config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}
    compiled = ov.Core().compile_model(model, "CPU", config)
    queue = ov.AsyncInferQueue(compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    data = np.random.default_rng(0).random(list(compiled.inputs[0].shape), dtype=np.float32)
    tensor = ov.Tensor(data, shared_memory=True)

    def batch():
        for _ in range(64):
            queue.start_async({0: tensor})
        queue.wait_all()

    benchmark(batch)
"""


@dataclass
class Scenario:
    name: str
    extra_blocks: int
    true_ratio: float
    #: weights seed of the variant: another seed is the same graph with other weights bytes
    seed: int = 7
    verdicts: list[str] = field(default_factory=list)
    #: what each verdict compared with (ab, history)
    methods: list[str] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    #: p50 ms (latency) or fps (throughput) of each run
    values: list[float] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)
    #: the gate's own explanation of each verdict, kept for analysing misses
    messages: list[str] = field(default_factory=list)
    measure_s: list[float] = field(default_factory=list)
    benchmark_alarms: list[bool] = field(default_factory=list)


def _latency_median(request: ov.InferRequest, seconds: float) -> float:
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        request.infer()
        latencies.append(request.latency)
    return float(np.median(latencies))


def _time_per_inference(queue: ov.AsyncInferQueue, tensor: ov.Tensor, seconds: float) -> float:
    started = time.perf_counter()
    count = 0
    while time.perf_counter() < started + seconds:
        queue.start_async({0: tensor})
        count += 1
    queue.wait_all()
    return (time.perf_counter() - started) / count


def calibrate(size: int, candidates: range, pairs: int, kind: str) -> dict[int, float]:
    """Slowdown of each extra-block variant against the base network, ABBA-interleaved
    (latency: median latency; throughput: time per inference of a full queue)."""
    sys.path.insert(0, str(ROOT / "examples"))
    from models import mobilenet_like

    core = ov.Core()
    hint = "LATENCY" if kind == "latency" else "THROUGHPUT"
    config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": "f32"}

    def timer_for(extra: int) -> Callable[[float], float]:
        compiled = core.compile_model(mobilenet_like(size=size, extra_blocks=extra), "CPU", config)
        data = np.random.default_rng(0).random(list(compiled.inputs[0].shape), dtype=np.float32)
        if kind == "latency":
            request = compiled.create_infer_request()
            request.set_input_tensor(ov.Tensor(data))
            timer: Callable[[float], float] = functools.partial(_latency_median, request)
        else:
            requests = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
            queue = ov.AsyncInferQueue(compiled, requests)
            timer = functools.partial(_time_per_inference, queue, ov.Tensor(data))
        timer(0.1)
        return timer

    base = timer_for(0)
    ratios: dict[int, float] = {}
    for extra in candidates:
        variant = timer_for(extra)
        logs = []
        for pair in range(pairs):
            first, second = (variant, base) if pair % 2 == 0 else (base, variant)
            a, b = first(0.15), second(0.15)
            slow, fast = (a, b) if first is variant else (b, a)
            logs.append(np.log(slow / fast))
        ratios[extra] = float(np.exp(np.median(logs)))
    return ratios


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=WORK, env=env, capture_output=True, text=True, check=False)


def ovperf_run(
    extra: int, env: dict[str, str], extra_args: list[str], kind: str, seed: int = 7
) -> ResultRecord:
    report = WORK / "report.json"
    report.unlink(missing_ok=True)
    completed = run(
        [
            sys.executable, "-m", "pytest", "test_ovperf_gate.py", "-k", kind, "-q",
            "-p", "no:cacheprovider", "-p", "no:benchmark", f"--ovperf-json={report}",
            "--ovperf-inconclusive=pass",
            *extra_args,
        ],
        {**env, "OVPERF_BENCH_EXTRA": str(extra), "OVPERF_BENCH_SEED": str(seed)},
    )  # fmt: skip
    if not report.exists():
        raise RuntimeError(f"pytest-ovperf run produced no report:\n{completed.stdout[-3000:]}")
    return records_of(read_report(report))[0]


def benchmark_run(extra: int, env: dict[str, str], save: bool, kind: str, seed: int = 7) -> bool:
    """Run pytest-benchmark; True when it raised a regression alarm."""
    storage = f"file://{WORK / '.benchmarks'}"
    args = ["--benchmark-save=base"] if save else [
        "--benchmark-compare=0001", "--benchmark-compare-fail=median:5%",
    ]  # fmt: skip
    completed = run(
        [
            sys.executable, "-m", "pytest", "test_benchmark_gate.py", "-k", kind, "-q", "-p",
            "no:cacheprovider", "-p", "no:ovperf", f"--benchmark-storage={storage}", *args,
        ],
        {**env, "OVPERF_BENCH_EXTRA": str(extra), "OVPERF_BENCH_SEED": str(seed)},
    )  # fmt: skip
    if save and completed.returncode != 0:
        raise RuntimeError(f"pytest-benchmark baseline run failed:\n{completed.stdout[-3000:]}")
    return completed.returncode != 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per scenario")
    parser.add_argument("--record-runs", type=int, default=1, help="baseline recording runs")
    parser.add_argument(
        "--record-every",
        type=int,
        default=0,
        help="also record a baseline run (same model) after every N rounds, as a CI job on "
        "the main branch would; 0: never",
    )
    parser.add_argument("--size", type=int, default=128, help="image size of the conv net")
    parser.add_argument("--kind", choices=["latency", "throughput"], default="latency")
    parser.add_argument(
        "--extra",
        nargs=2,
        type=int,
        default=None,
        metavar=("E10", "E25"),
        help="extra blocks for the +10%% and +25%% variants (skip calibration)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest-ovperf options")
    args = parser.parse_args()

    _, env = fresh_workdir("gate")
    (WORK / "test_ovperf_gate.py").write_text(OVPERF_TEST)
    (WORK / "test_benchmark_gate.py").write_text(BENCHMARK_TEST)
    env["OVPERF_BENCH_SIZE"] = str(args.size)

    if args.extra is None:
        ratios = calibrate(args.size, range(1, 7), pairs=16, kind=args.kind)
        rounded = {k: round(v, 3) for k, v in ratios.items()}
        print("calibration (slowdown per extra blocks):", rounded)
        e10 = min(ratios, key=lambda e: abs(ratios[e] - 1.10))
        e25 = min(ratios, key=lambda e: abs(ratios[e] - 1.25))
    else:
        e10, e25 = args.extra
        ratios = calibrate(
            args.size, range(min(e10, e25), max(e10, e25) + 1), pairs=16, kind=args.kind
        )
    scenarios = [
        Scenario("A/A (same model)", 0, 1.0),
        Scenario("A/A' (same graph, other weights)", 0, 1.0, seed=8),
        Scenario(f"+{ratios[e10] - 1:.0%} (extra_blocks={e10})", e10, ratios[e10]),
        Scenario(f"+{ratios[e25] - 1:.0%} (extra_blocks={e25})", e25, ratios[e25]),
    ]

    statistic = "p50_ms" if args.kind == "latency" else "fps"
    unit = "ms" if args.kind == "latency" else "fps"
    record = ["--ovperf-update-baselines", *args.pytest_args]
    started = time.time()
    for _ in range(args.record_runs):
        ovperf_run(0, env, record, args.kind)
    benchmark_run(0, env, save=True, kind=args.kind)
    for index in range(args.runs):
        for scenario in scenarios:
            result = ovperf_run(
                scenario.extra_blocks, env, args.pytest_args, args.kind, scenario.seed
            )
            scenario.verdicts.append(str(result.get("baseline_verdict")))
            scenario.methods.append(str(result.get("baseline_method")))
            scenario.ratios.append(result.get("ratio") or float("nan"))
            scenario.values.append(headline_value(result) or float("nan"))
            scenario.measure_s.append(result.get("measure_s") or float("nan"))
            scenario.messages.append(str(result.get("baseline_message") or ""))
            scenario.probe_ms.append(result.get("probe_ms") or float("nan"))
            alarm = benchmark_run(
                scenario.extra_blocks, env, save=False, kind=args.kind, seed=scenario.seed
            )
            scenario.benchmark_alarms.append(alarm)
        if args.record_every and (index + 1) % args.record_every == 0:
            ovperf_run(0, env, record, args.kind)
        print(f"round {index + 1}/{args.runs} done ({time.time() - started:.0f} s)", flush=True)

    aa = scenarios[0]
    values = aa.values
    noise = statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0
    print()
    print(
        f"runs per scenario: {args.runs}; baseline recording runs: {args.record_runs}"
        f" (+1 after every {args.record_every} rounds); "
        f"model mobilenet_like(size={args.size}) f32 on CPU, {args.kind}; base {statistic} "
        f"{statistics.median(values):.4g} {unit}; run-to-run CV of A/A {statistic}: {noise:.1%}; "
        f"range {min(values):.4g}-{max(values):.4g} {unit}"
    )
    print()
    print(
        "| scenario | method | true slowdown (interleaved) | ovperf regression | inconclusive | "
        "unchanged | improvement | median ratio | pytest-benchmark alarms (median:5%) | "
        "median measure s/verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for s in scenarios:
        n = len(s.verdicts)
        regression = s.verdicts.count("regression")
        inconclusive = s.verdicts.count("inconclusive")
        unchanged = s.verdicts.count("unchanged")
        other = n - regression - inconclusive - unchanged
        methods = "/".join(sorted(set(s.methods)))
        alarms = sum(s.benchmark_alarms)
        row = {
            "scenario": s.name,
            "true_ratio": s.true_ratio,
            "regression": regression,
            "inconclusive": inconclusive,
            "unchanged": unchanged,
            "other": other,
            "methods": s.methods,
            "n": n,
            "median_ratio": float(np.nanmedian(s.ratios)),
            "benchmark_alarms": alarms,
            "median_measure_s": statistics.median(s.measure_s),
            "verdicts": s.verdicts,
            "ratios": s.ratios,
            "values": s.values,
            "probe_ms": s.probe_ms,
            "messages": s.messages,
        }
        rows.append(row)
        print(
            f"| {s.name} | {methods} | {s.true_ratio:.3f} | {regression}/{n} | "
            f"{inconclusive}/{n} | {unchanged}/{n} | {other}/{n} | {row['median_ratio']:.3f} | "
            f"{alarms}/{n} | "
            f"{row['median_measure_s']:.1f} |"
        )
    if args.json:
        figures = {"kind": args.kind, "noise_cv": noise, "scenarios": rows}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
