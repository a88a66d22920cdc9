"""Live series of the A/B path on a real third-party model, latency and throughput: the
current model measured interleaved with the baseline's own copy, every verdict a separate
pytest process.

Model: a PP-OCR model from the pinned ``rapidocr-onnxruntime`` wheel (``wheel_models.py``)
at the CPU's default precision. One recording job stores the baseline (and the model's copy
in the model store); then ``--runs`` processes per scenario run with
``--ovperf-compare=ab``: the same model (A/A: any ``regression`` is a false alarm), and the
input made wider by each ``--slowdowns`` factor (more computation in this convolutional
recogniser; the true ratio at one thread is measured and printed), judged against the
baseline's own model at its recorded shape. Each run's foreign CPU load and pair count are
printed beside its verdict.

    cd bench && python ab_live.py --model rec --runs 20 --slowdowns 1.10 1.25

Prints a markdown table per kind.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import Counter

from companion_history import (
    KINDS,
    WIDTH_ENV,
    PytestRun,
    one_thread_ratio,
    pytest_run,
    write_test_file,
)
from scipy import stats
from wheel_models import MODELS, model_path
from workdir import fresh_workdir

from pytest_ovperf.records import ResultRecord


def pairs_of(data: ResultRecord) -> str:
    """The block pairs the verdict rests on, from its message."""
    message = data.get("baseline_message") or ""
    marker = " block pairs"
    if marker not in message:
        return "-"
    return message.split(marker)[0].rsplit(" ", 1)[-1]


def counting_summary(logs: list[float]) -> str:
    """The mean of ``logs`` as a percentage, with its 95% t-interval."""
    if len(logs) < 2:
        return "-"
    mean = statistics.fmean(logs)
    half = stats.t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return f"{100 * math.expm1(mean):+.2f}% [{100 * math.expm1(mean - half):+.2f}, " + (
        f"{100 * math.expm1(mean + half):+.2f}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="rec")
    parser.add_argument("--runs", type=int, default=20, help="processes per scenario")
    parser.add_argument("--slowdowns", type=float, nargs="*", default=[1.10, 1.25])
    parser.add_argument("--max-time", type=float, default=5.0, help="--ovperf-max-time")
    args = parser.parse_args()

    bench_model = MODELS[args.model]
    path = model_path(bench_model)
    batch, channels, height, width = bench_model.shape
    work, env = fresh_workdir("ab_live")
    write_test_file(work, bench_model)
    common = (f"--ovperf-max-time={args.max_time:g}",)
    scenarios: list[tuple[str, int]] = [("A/A", width)]
    for factor in args.slowdowns:
        wider = round(width * factor / 8.0) * 8
        ratio = one_thread_ratio(path, list(bench_model.shape), [batch, channels, height, wider])
        scenarios.append((f"width {wider} ({ratio:.3f}x at one thread)", wider))
    print(f"model {bench_model.description}, input {bench_model.shape}", flush=True)
    pytest_run(work, env, "record", *common, "--ovperf-update-baselines")
    runs: list[tuple[str, PytestRun]] = []
    for index in range(args.runs):
        # the scenarios take turns, so that a noisy spell hits them alike
        for name, scenario_width in scenarios:
            run_env = {**env, WIDTH_ENV: str(scenario_width)}
            run = pytest_run(
                work, run_env, f"{index}-{scenario_width}", *common, "--ovperf-compare=ab"
            )
            runs.append((name, run))
        print(f"round {index + 1}/{args.runs}", flush=True)

    for kind in KINDS:
        print()
        print(f"### {kind}")
        print()
        print("| scenario | runs | regression | unchanged | inconclusive | improvement | "
              "median pairs | median ratio | paired / headline ratio | "
              "busy (load > 15%) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, _ in scenarios:
            verdicts: Counter[str] = Counter()
            pairs: list[int] = []
            ratios: list[float] = []
            # log(paired ratio / headline ratio): what the pairs' counting (throughput:
            # median cycles) reads against the headline figures' (the steady windows)
            counting_logs: list[float] = []
            busy = 0
            for scenario, run in runs:
                if scenario != name:
                    continue
                data = run["results"][kind]
                verdicts[data.get("baseline_verdict", "-")] += 1
                if pairs_of(data).isdigit():
                    pairs.append(int(pairs_of(data)))
                measured = data.get("ratio")
                if measured is not None:
                    ratios.append(measured)
                    # the headline: fps, or the p50 the A/B path compares for latency
                    value = data.get("fps" if kind == "throughput" else "p50_ms")
                    baseline_value = data.get("baseline_value")
                    if value and baseline_value:
                        counting_logs.append(math.log(measured * baseline_value / value))
                busy += (data.get("foreign_load") or 0) > 0.15
            total = sum(verdicts.values())
            print(
                f"| {name} | {total} | {verdicts['regression']} | {verdicts['unchanged']} | "
                f"{verdicts['inconclusive']} | {verdicts['improvement']} | "
                f"{statistics.median(pairs) if pairs else '-'} | "
                f"{statistics.median(ratios) if ratios else math.nan:.3f} | "
                f"{counting_summary(counting_logs)} | {busy} |"
            )


if __name__ == "__main__":
    main()
