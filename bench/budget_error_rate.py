"""How often a model exactly at its budget fails: the calibrated budget interval, measured.

``--record-runs`` separate pytest processes record baseline runs (each its own job, so the
gate learns this machine's run-to-run drift), then ``--runs`` separate processes measure the
same model with a latency budget. A budget verdict only depends on where the interval lies,
so every run reports its calibrated interval, and the budget is placed afterwards at the
model's long-run value: the median p50 over all measured runs. A run "fails" when its
interval lies wholly above that budget. The same is counted for the run's own (uncalibrated)
interval (``run_ci`` in the JSON report: order statistics of the run's inferences), to show
what calibration buys. A failing run whose check carries a machine guard (busy, slow state)
does not count: the plugin makes it inconclusive. Each process measures the model twice, as
two tests: the second stands for the confirmation re-measure of a failure of the first.

    python bench/budget_error_rate.py --runs 40 --record-runs 5

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from workdir import ROOT, fresh_workdir

from pytest_ovperf.records import ResultRecord, read_report, records_of

WORK = ROOT / "bench" / "_work" / "budget"

TEST = """
import pytest
from models import mobilenet_like


@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size={size}))
@pytest.mark.ovperf_budget("CPU", "f32", latency_ms=1e9)
def test_at_budget(perf_budget):
    perf_budget.measure_latency()


# the same model again, right after: the confirmation re-measure of a failure of the first
# (in a one-test suite the re-measure follows at once, in the same machine state: the case
# least favourable to confirmation)
@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size={size}))
@pytest.mark.ovperf_budget("CPU", "f32", latency_ms=1e9)
def test_at_budget_again(perf_budget):
    perf_budget.measure_latency()
"""


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
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest-ovperf options")
    args = parser.parse_args()
    _, env = fresh_workdir("budget")
    (WORK / "test_budget.py").write_text(TEST.format(size=args.size))
    for _ in range(args.record_runs):
        run(["--ovperf-update-baselines", *args.pytest_args], env)
    runs: list[tuple[float, float, float]] = []
    own: list[tuple[float, float]] = []
    guarded: list[bool] = []
    again: list[tuple[float, bool]] = []  # the re-measure: interval low, guarded
    for index in range(args.runs):
        first, second = run(args.pytest_args, env)
        (check,) = first["checks"]
        value = known(check["value"])
        runs.append((value, known(check["ci"][0]), known(check["ci"][1])))
        run_ci = check.get("run_ci") or [None, None]
        own.append((known(run_ci[0]), known(run_ci[1])))
        guarded.append(check.get("guard") is not None)
        (check_again,) = second["checks"]
        again.append((known(check_again["ci"][0]), check_again.get("guard") is not None))
        print(
            f"run {index + 1}/{args.runs}: p50 {value:.4g} ms, guard "
            f"{check.get('guard')}; again {known(check_again['value']):.4g} ms",
            flush=True,
        )
    truth = statistics.median(v for v, _, _ in runs)
    # a run fails when its interval lies wholly above the budget and no guard stopped it
    failing = [low > truth and not g for (_, low, _), g in zip(runs, guarded, strict=True)]
    fails = sum(failing)
    confirmed = sum(f and low > truth and not g for f, (low, g) in zip(failing, again, strict=True))
    unguarded_fails = sum(low > truth for _, low, _ in runs)
    passes = sum(high <= truth for _, _, high in runs)
    values = [v for v, _, _ in runs]
    cv = statistics.stdev(values) / statistics.mean(values)
    widths = [(high - low) / 2 / value for value, low, high in runs]
    print()
    print(
        f"model mobilenet_like(size={args.size}), f32, latency p50; {args.record_runs} "
        f"recording runs, {args.runs} measured runs; run-to-run CV {cv:.1%}, range "
        f"{min(values):.4g}-{max(values):.4g} ms; budget placed at the median p50 {truth:.4g} ms"
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
    own_fails = sum(low > truth for low, _ in own)
    own_passes = sum(high <= truth for _, high in own)
    own_widths = [(high - low) / 2 / value for (low, high), (value, _, _) in zip(own, runs)]
    print(
        f"| the run's own (order statistics) | {own_fails}/{args.runs} | "
        f"{own_passes}/{args.runs} | {statistics.median(own_widths):.1%} |"
    )


if __name__ == "__main__":
    main()
