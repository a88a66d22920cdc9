"""The memory kind's figures: do they track the weights, and do they hold whatever the
session did before?

Two models built in code, MLPs on 4096 features whose one hidden layer has 4096 or 8192
units: 64 MiB and 128 MiB of f32 weights (the output layer adds 0.16 / 0.31 MiB), measured
with ``perf_budget.measure_memory`` at the CPU's default precision. Each pytest run is a
separate process holding, in this order, a latency test of a conv net (so the session has
compiled and run another model first), the 64 MiB model, the 128 MiB model; ``reversed``
runs hold them in the opposite order. Runs:

* ``--repeats`` forward runs in the default mode (a fresh process per reading);
* one reversed run in that mode;
* one forward and one reversed run with ``--ovperf-memory-mode=session``.

Printed, per model: the median ``memory_mb`` and ``compile_peak_mb`` of each run kind,
the spread over the repeats, and the checks the memory issue asks for: growth from 64 to
128 MiB of weights as a multiple of the 64 MiB added (0.9x to 3.5x), session against fresh
process and forward against reversed (within 10% or 16 MiB), repeats (spread within 5% or
8 MiB).

    cd bench && python memory_kind.py --repeats 5
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
from pathlib import Path

from workdir import fresh_workdir

from pytest_ovperf.records import ResultRecord, read_report, records_of

HEADER = """
import pytest
from models import mlp, mobilenet_like

def weights_64():
    return mlp(features=4096, hidden=4096, depth=1)

def weights_128():
    return mlp(features=4096, hidden=8192, depth=1)
"""

TESTS = {
    "conv": """
@pytest.mark.ovperf_model(source=mobilenet_like)
def test_conv(perf_budget):
    perf_budget.measure_latency()
""",
    "w64": """
@pytest.mark.ovperf_model(source=weights_64)
def test_w64(perf_budget):
    perf_budget.measure_memory()
""",
    "w128": """
@pytest.mark.ovperf_model(source=weights_128)
def test_w128(perf_budget):
    perf_budget.measure_memory()
""",
}
ADDED_MIB = 64.0


def run_suite(
    work: Path, env: dict[str, str], order: list[str], mode: str
) -> dict[str, ResultRecord]:
    """One pytest process; ``{test: record}`` of its memory results."""
    (work / "test_memory.py").write_text(HEADER + "".join(TESTS[name] for name in order))
    report = work / "report.json"
    report.unlink(missing_ok=True)
    completed = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_memory.py",
            f"--ovperf-memory-mode={mode}", f"--ovperf-json={report}", "--ovperf-max-time=1",
        ],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0 or not report.exists():
        raise RuntimeError(f"pytest failed:\n{completed.stdout[-3000:]}")
    records = records_of(read_report(report))
    return {
        r["nodeid"].split("::")[-1].split("[")[0].removeprefix("test_"): r
        for r in records
        if r["kind"] == "memory"
    }


def mib(value: float | None) -> float:
    """A figure of a memory record in MiB (NaN where the record has none)."""
    return math.nan if value is None else value


def within(a: float, b: float, fraction: float, mib: float) -> bool:
    return abs(a - b) <= max(fraction * max(a, b), mib)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="forward runs, default mode")
    args = parser.parse_args()
    work, env = fresh_workdir("memory_kind")
    forward, backward = ["conv", "w64", "w128"], ["w128", "w64", "conv"]
    repeats = [run_suite(work, env, forward, "process") for _ in range(args.repeats)]
    runs = {
        "process, forward (median of repeats)": None,
        "process, reversed": run_suite(work, env, backward, "process"),
        "session, forward": run_suite(work, env, forward, "session"),
        "session, reversed": run_suite(work, env, backward, "session"),
    }
    print(
        f"precision {repeats[0]['w64']['precision']}; {args.repeats} forward runs in the default "
        "mode (a fresh process per reading)"
    )
    print()
    print("| run | model | memory_mb | anon / file | compile_peak_mb |")
    print("|---|---|---|---|---|")
    medians: dict[tuple[str, str], float] = {}
    for name in ("w64", "w128"):
        values = [mib(r[name].get("memory_mb")) for r in repeats]
        medians[("process, forward (median of repeats)", name)] = statistics.median(values)
        peaks = [mib(r[name].get("compile_peak_mb")) for r in repeats]
        peaks = [p for p in peaks if p and not math.isnan(p)]
        anon = statistics.median(mib(r[name].get("anon_mb")) for r in repeats)
        file = statistics.median(mib(r[name].get("file_mb")) for r in repeats)
        print(
            f"| process, forward x{args.repeats} | {name} | {statistics.median(values):.1f} "
            f"(spread {max(values) - min(values):.1f}) | {anon:.1f} / {file:.1f} | "
            f"{statistics.median(peaks):.1f} |"
        )
        for run_name, found in runs.items():
            if found is None:
                continue
            record = found[name]
            medians[(run_name, name)] = mib(record.get("memory_mb"))
            print(
                f"| {run_name} | {name} | {mib(record.get('memory_mb')):.1f} | "
                f"{mib(record.get('anon_mb')):.1f} / {mib(record.get('file_mb')):.1f} | "
                f"{record.get('compile_peak_mb') or float('nan'):.1f} |"
            )
    print()
    base = "process, forward (median of repeats)"
    growth = (medians[(base, "w128")] - medians[(base, "w64")]) / ADDED_MIB
    print(f"- growth for 64 MiB more weights: {growth:.2f}x of 64 MiB (asked: 0.9x to 3.5x)")
    for other in ("process, reversed", "session, forward", "session, reversed"):
        agree = all(
            within(medians[(base, n)], medians[(other, n)], 0.10, 16.0) for n in ("w64", "w128")
        )
        deltas = ", ".join(
            f"{medians[(other, n)] - medians[(base, n)]:+.1f}" for n in ("w64", "w128")
        )
        print(f"- {other} against the forward repeats: {deltas} MiB; within 10% or 16 MiB: {agree}")
    for name in ("w64", "w128"):
        values = [mib(r[name].get("memory_mb")) for r in repeats]
        spread = max(values) - min(values)
        ok = spread <= max(0.05 * statistics.median(values), 8.0)
        print(
            f"- {name}: spread of {args.repeats} repeats {spread:.1f} MiB; within 5% or 8 MiB: {ok}"
        )


if __name__ == "__main__":
    main()
