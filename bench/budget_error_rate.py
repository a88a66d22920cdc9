"""How often a model exactly at its budget fails: the calibrated budget interval, measured.

``--record-runs`` separate pytest processes record baseline runs (each its own job, so the
gate learns this machine's run-to-run drift), then ``--runs`` separate processes measure the
same model with a latency (or throughput) budget. A budget verdict only depends on where the
interval lies, so every run reports its calibrated interval, and the budget is placed
afterwards at the model's long-run value: the median p50 (or fps) over all measured runs. A
run "fails" when its interval lies wholly on the wrong side of that budget (above a latency,
below an fps). The same is counted for the run's own (uncalibrated)
interval (``run_ci`` in the JSON report: order statistics of the run's inferences), to show
what calibration buys. A failing run whose check carries a machine guard (busy, slow state)
does not count: the plugin makes it inconclusive. Each process measures the model twice, as
two tests: the second stands for the confirmation re-measure of a failure of the first.

    python bench/budget_error_rate.py --runs 40 --record-runs 5
    python bench/budget_error_rate.py --model rec --kind throughput --runs 40 --record-runs 5

``--model toy`` (the default) is ``mobilenet_like`` built in code at f32; ``--model rec`` (or
``det``, ``cls``) is a PP-OCR model from the pinned PyPI wheel (``wheel_models.py``) at the
CPU's default precision (no precision in the budget marker), as users run it.

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from wheel_models import MODELS, model_path
from workdir import ROOT, fresh_workdir

from pytest_ovperf.records import ResultRecord, read_report, records_of

WORK = ROOT / "bench" / "_work" / "budget"

#: the model of the two tests: ``{source}`` (an ``ovperf_model`` argument list), the budget
#: marker ``{budget}`` and the measuring call ``{measure}``
TEST = """
import pytest
from models import mobilenet_like


@pytest.mark.ovperf_model({source})
@pytest.mark.ovperf_budget({budget})
def test_at_budget(perf_budget):
    perf_budget.{measure}()


# the same model again, right after: the confirmation re-measure of a failure of the first
# (in a one-test suite the re-measure follows at once, in the same machine state: the case
# least favourable to confirmation)
@pytest.mark.ovperf_model({source})
@pytest.mark.ovperf_budget({budget})
def test_at_budget_again(perf_budget):
    perf_budget.{measure}()
"""
#: budgets never reached, so that the verdict is read from the interval alone
BUDGETS = {"latency": "latency_ms=1e9", "throughput": "throughput_fps=1e-9"}
MEASURES = {"latency": "measure_latency", "throughput": "measure_throughput"}


def write_test_file(model: str, kind: str, size: int) -> str:
    """``test_budget.py`` for ``model`` and ``kind``; returns the model's description."""
    if model == "toy":
        source = f"source=lambda: mobilenet_like(size={size})"
        budget = f'"CPU", "f32", {BUDGETS[kind]}'
        description = f"mobilenet_like(size={size}), f32"
    else:
        bench_model = MODELS[model]
        shape = {bench_model.input_name: bench_model.shape_list}
        source = f"{str(model_path(bench_model))!r}, shape={shape!r}"
        budget = f'"CPU", {BUDGETS[kind]}'  # no precision: the CPU's default
        description = f"{bench_model.description}, the CPU's default precision"
    (WORK / "test_budget.py").write_text(
        TEST.format(source=source, budget=budget, measure=MEASURES[kind])
    )
    return description


def run(args: list[str], env: dict[str, str]) -> list[ResultRecord]:
    report = WORK / "report.json"
    report.unlink(missing_ok=True)
    completed = subprocess.run(
        [
            sys.executable, "-m", "pytest", "test_budget.py", "-q", "-p", "no:cacheprovider",
            "--ovperf-inconclusive=pass", f"--ovperf-json={report}", *args,
        ],
        cwd=WORK, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not report.exists():
        raise RuntimeError(f"no report:\n{completed.stdout[-3000:]}")
    return records_of(read_report(report))


def known(value: float | None) -> float:
    """A figure the run must have reported."""
    if value is None:
        raise RuntimeError("a check of the report lacks a figure or a bound")
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--record-runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=128, help="the toy model's input size")
    parser.add_argument("--model", choices=["toy", *MODELS], default="toy")
    parser.add_argument("--kind", choices=list(BUDGETS), default="latency")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest-ovperf options")
    args = parser.parse_args()
    _, env = fresh_workdir("budget")
    description = write_test_file(args.model, args.kind, args.size)
    # the wrong side of a budget: above a latency, below an fps
    sign = 1.0 if args.kind == "latency" else -1.0
    unit = "ms" if args.kind == "latency" else "fps"
    for _ in range(args.record_runs):
        run(["--ovperf-update-baselines", *args.pytest_args], env)
    runs: list[tuple[float, float, float]] = []  # value and calibrated interval
    own: list[tuple[float, float] | None] = []  # the run's own interval, where reported
    guarded: list[bool] = []
    again: list[tuple[float, float, bool]] = []  # the re-measure: interval, guarded
    for index in range(args.runs):
        first, second = run(args.pytest_args, env)
        (check,) = first["checks"]
        value = known(check["value"])
        runs.append((value, known(check["ci"][0]), known(check["ci"][1])))
        run_ci = check.get("run_ci")
        own.append((known(run_ci[0]), known(run_ci[1])) if run_ci else None)
        guarded.append(check.get("guard") is not None)
        (check_again,) = second["checks"]
        again.append(
            (
                known(check_again["ci"][0]),
                known(check_again["ci"][1]),
                check_again.get("guard") is not None,
            )
        )
        print(
            f"run {index + 1}/{args.runs}: {value:.4g} {unit} "
            f"[{known(check['ci'][0]):.4g}, {known(check['ci'][1]):.4g}], guard "
            f"{check.get('guard')}; again {known(check_again['value']):.4g} {unit}",
            flush=True,
        )
    truth = statistics.median(v for v, _, _ in runs)

    def beyond(low: float, high: float) -> bool:
        """The interval lies wholly on the wrong side of the budget: a failed budget."""
        return low > truth if sign > 0 else high < truth

    def within(low: float, high: float) -> bool:
        """The interval lies wholly on the right side of the budget: a passed budget."""
        return high <= truth if sign > 0 else low >= truth

    # a run fails when its interval lies wholly beyond the budget and no guard stopped it
    failing = [beyond(low, high) and not g for (_, low, high), g in zip(runs, guarded, strict=True)]
    fails = sum(failing)
    confirmed = sum(
        f and beyond(low, high) and not g for f, (low, high, g) in zip(failing, again, strict=True)
    )
    unguarded_fails = sum(beyond(low, high) for _, low, high in runs)
    passes = sum(within(low, high) for _, low, high in runs)
    values = [v for v, _, _ in runs]
    cv = statistics.stdev(values) / statistics.mean(values)
    widths = [(high - low) / 2 / value for value, low, high in runs]
    print()
    print(
        f"model {description}, {args.kind} ({'p50' if sign > 0 else 'fps'}); "
        f"{args.record_runs} recording runs, {args.runs} measured runs; run-to-run CV "
        f"{cv:.1%}, range {min(values):.4g}-{max(values):.4g} {unit}; budget placed at the "
        f"median {truth:.4g} {unit}; runs held by a guard {sum(guarded)}/{args.runs}"
    )
    print()
    print("| interval | fail at budget | pass at budget | median half width |")
    print("|---|---|---|---|")
    print(f"| calibrated, confirmed by a re-measure | {confirmed}/{args.runs} | | |")
    print(
        f"| calibrated (blocks + drift), guards | {fails}/{args.runs} | {passes}/{args.runs} | "
        f"{statistics.median(widths):.1%} |"
    )
    print(f"| calibrated, no guards | {unguarded_fails}/{args.runs} | | |")
    reported = [
        (interval, value) for interval, (value, _, _) in zip(own, runs, strict=True) if interval
    ]
    if reported:
        own_fails = sum(beyond(low, high) for (low, high), _ in reported)
        own_passes = sum(within(low, high) for (low, high), _ in reported)
        own_widths = [(high - low) / 2 / value for (low, high), value in reported]
        print(
            f"| the run's own (order statistics) | {own_fails}/{len(reported)} | "
            f"{own_passes}/{len(reported)} | {statistics.median(own_widths):.1%} |"
        )


if __name__ == "__main__":
    main()
