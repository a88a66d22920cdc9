"""How often a speedup budget fails when the true ratio equals it.

The same network is measured against itself (two compiles of ``mobilenet_like``: the true
speedup is exactly 1) with ``min_speedup=1.0`` and, in the same runs, ``max_slowdown`` of
the smallest fraction the marker takes (a true slowdown factor of 1 against a limit of 1.0001).
Each run is a separate pytest process, as in CI; defaults otherwise (95% confidence, 5 s
cap, the foreign-load guard on). A run "fails" a budget when its check says fail; the
design rate is at most 2.5% (one side of a 95% interval), the target 5%.

    cd bench && python speedup_error_rate.py --runs 40

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from workdir import fresh_workdir

from pytest_ovperf.records import read_report, records_of

TEST = """
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(
    source=lambda: mobilenet_like(size={size}), reference=lambda: mobilenet_like(size={size})
)
@pytest.mark.ovperf_budget("CPU", "f32", min_speedup=1.0, max_slowdown=0.0001)
def test_at_budget(perf_budget):
    perf_budget.measure_{kind}()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--kind", choices=["latency", "throughput"], default="latency")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest-ovperf options")
    args = parser.parse_args()
    work, env = fresh_workdir("speedup")
    (work / "test_speedup_bench.py").write_text(TEST.format(size=args.size, kind=args.kind))
    verdicts: dict[str, list[str]] = {"min_speedup": [], "max_slowdown": []}
    ratios = []
    for index in range(args.runs):
        report = Path(work / "report.json")
        report.unlink(missing_ok=True)
        completed = subprocess.run(
            [
                sys.executable, "-m", "pytest", "test_speedup_bench.py", "-q",
                "-p", "no:cacheprovider", "--ovperf-inconclusive=pass",
                f"--ovperf-json={report}", *args.pytest_args,
            ],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if not report.exists():
            raise RuntimeError(f"no report:\n{completed.stdout[-3000:]}")
        (result,) = records_of(read_report(report))
        for check in result["checks"]:
            if check["metric"] in verdicts:
                verdicts[check["metric"]].append(check["verdict"])
        ratios.append(result.get("ratio") or float("nan"))
        print(f"run {index + 1}/{args.runs}: ratio {ratios[-1]:.3f}", flush=True)
    print()
    print(
        f"mobilenet_like(size={args.size}) against itself, {args.kind}, {args.runs} separate "
        f"runs; model/reference ratio {min(ratios):.3f}-{max(ratios):.3f}"
    )
    print()
    print("| budget | fail | inconclusive | pass |")
    print("|---|---|---|---|")
    for metric, found in verdicts.items():
        counts = [found.count(v) for v in ("fail", "inconclusive", "pass")]
        print(
            f"| {metric} at the true ratio | "
            + " | ".join(f"{c}/{len(found)}" for c in counts)
            + " |"
        )


if __name__ == "__main__":
    main()
