"""Suite-level false alarms: how often a suite of unchanged tests fails CI, with and without
the confirmation re-measure.

One test file holds ``--tests`` latency tests, each its own small conv net (sizes, widths
and depths vary). ``--record-jobs`` separate pytest runs record the baselines, each as its
own CI job (``CI_JOB_ID``); then ``--runs`` separate pytest runs compare the same, unchanged
models with them (the history path), as CI would on every change that does not touch them.
Every run's JSON report says which tests failed after confirmation, and which failed their
first measurement (the ``remeasure`` records): the latter is what the suite would have
reported without ``--ovperf-confirm``.

    python bench/suite_false_alarms.py --tests 50 --runs 20 --record-jobs 5

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

from workdir import fresh_workdir

from pytest_ovperf.records import ResultRecord, read_report, records_of

TEST_FILE = """
import pytest
from models import mobilenet_like

VARIANTS = {variants!r}


def _builder(size, width, extra):
    return lambda: mobilenet_like(size=size, width=width, extra_blocks=extra)

{tests}
"""

ONE_TEST = """
@pytest.mark.ovperf_model(source=_builder(*VARIANTS[{index}]))
def test_model_{index:02d}(perf_budget):
    perf_budget.measure_latency()
"""


def variants(count: int) -> list[tuple[int, int, int]]:
    """``count`` distinct (size, width, extra blocks) triples, small to moderate nets."""
    grid = [
        (size, width, extra)
        for extra in (0, 1, 2, 3, 4)
        for width in (8, 16, 24)
        for size in (32, 48, 64, 80)
    ]
    return grid[:count]


def run_pytest(
    work: Path, env: dict[str, str], args: list[str], job: str
) -> tuple[list[ResultRecord], int]:
    """One pytest process: its result records and its exit status."""
    report = work / "ovperf.json"
    report.unlink(missing_ok=True)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            f"--ovperf-json={report}",
            *args,
        ],
        cwd=work,
        env={**env, "CI_JOB_ID": job},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode not in (0, 1) or not report.exists():
        raise SystemExit(
            f"pytest failed to run ({completed.returncode}):\n{completed.stdout[-3000:]}"
        )
    return records_of(read_report(report)), completed.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--record-jobs", type=int, default=5)
    parser.add_argument(
        "--pytest-args",
        default="--ovperf-min-time=0.5 --ovperf-max-time=2 --ovperf-profile=off",
        help="options of every pytest run (shorter than the defaults so a run of 50 tests "
        "takes about a minute)",
    )
    args = parser.parse_args()
    work, env = fresh_workdir("suite")
    tests = "".join(ONE_TEST.format(index=i) for i in range(args.tests))
    (work / "test_suite.py").write_text(
        TEST_FILE.format(variants=variants(args.tests), tests=tests)
    )
    extra = args.pytest_args.split()
    started = time.time()
    for job in range(args.record_jobs):
        run_pytest(work, env, ["--ovperf-update-baselines", *extra], f"record-{job}")
        print(
            f"recorded job {job + 1}/{args.record_jobs} ({time.time() - started:.0f} s)", flush=True
        )

    rows = []
    verdicts: collections.Counter[str] = collections.Counter()
    for run in range(args.runs):
        results, returncode = run_pytest(work, env, extra, f"compare-{run}")
        first_failures = [r["remeasure"] for r in results if "remeasure" in r]
        confirmed = [f for f in first_failures if f["confirmed"]]
        verdicts.update(r.get("baseline_verdict", "none") for r in results)
        rows.append((len(results), len(first_failures), len(confirmed), returncode))
        print(
            f"run {run + 1}/{args.runs}: {len(results)} results, first-measurement failures "
            f"{len(first_failures)}, confirmed {len(confirmed)}, exit {returncode} "
            f"({time.time() - started:.0f} s)",
            flush=True,
        )

    runs = len(rows)
    verdict_total = sum(verdicts.values())
    print()
    print(
        f"{args.tests} unchanged latency tests, {args.record_jobs} recorded jobs, "
        f"{runs} compare runs ({args.pytest_args}); {time.time() - started:.0f} s in all"
    )
    print()
    print("| | runs that failed | failing tests (of all test runs) |")
    print("|---|---|---|")
    print(
        f"| first measurement (without confirmation) | {sum(1 for r in rows if r[1])}/{runs} | "
        f"{sum(r[1] for r in rows)}/{sum(r[0] for r in rows)} |"
    )
    print(
        f"| after the confirmation re-measure | {sum(1 for r in rows if r[2])}/{runs} | "
        f"{sum(r[2] for r in rows)}/{sum(r[0] for r in rows)} |"
    )
    print()
    print(
        "verdicts: "
        + ", ".join(f"{v} {n} ({n / verdict_total:.0%})" for v, n in verdicts.most_common())
    )


if __name__ == "__main__":
    main()
