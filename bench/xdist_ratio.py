"""pytest-xdist against a serial run: the same figures, and the wall time each takes.

A suite of ``--tests`` latency tests (small conv nets of a few sizes) runs serially (``-n 0``)
and with ``-n N`` in alternating rounds (ABAB...), each run a separate pytest process. Per
round and configuration it reads every test's p50 from the JSON report; the figure is the
median over tests of p50(-n N) / p50(-n 0) within a round, and its median over rounds. The
configurations: serial; ``-n N`` with the device lock (default); ``-n N`` without it
(``--ovperf-device-lock=off``, what the lock buys); and with ``--partition`` also
``-n N --ovperf-cpu-partition=on``.

    python bench/xdist_ratio.py --rounds 3 --tests 20 --workers 2
    python bench/xdist_ratio.py --rounds 3 --tests 20 --workers 8 --partition

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from workdir import ROOT, fresh_workdir

from pytest_ovperf.records import headline_value, read_report, records_of

WORK = ROOT / "bench" / "_work" / "xdist"


def write_suite(tests: int) -> None:
    lines = ["import pytest", "from models import mobilenet_like", "", "SIZES = (48, 64, 80, 96)"]
    for i in range(tests):
        lines += [
            "",
            "",
            f"@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size=SIZES[{i % 4}], "
            f"width={16 + 8 * (i // 4 % 3)}))",
            f"def test_latency_{i}(perf_budget):",
            "    perf_budget.measure_latency()",
        ]
    (WORK / "test_suite.py").write_text("\n".join(lines) + "\n")


def run(args: list[str], env: dict[str, str]) -> tuple[dict[str, float], float]:
    """p50 per test and the wall time of one pytest process."""
    report = WORK / "report.json"
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable, "-m", "pytest", "test_suite.py", "-q", "-p", "no:cacheprovider",
            "--ovperf-speed-probe=off", f"--ovperf-json={report}", *args,
        ],
        cwd=WORK, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if not report.exists():
        raise RuntimeError(f"no report from {args}:\n{completed.stdout[-3000:]}")
    results = records_of(read_report(report))
    return {r["nodeid"]: headline_value(r) or float("nan") for r in results}, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partition", action="store_true", help="also -n N with CPU partitions")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest-ovperf options")
    args = parser.parse_args()

    _, env = fresh_workdir("xdist")
    write_suite(args.tests)
    n = str(args.workers)
    configurations = {
        "-n 0 (serial)": ["-p", "no:xdist"],
        f"-n {n}, device lock (default)": ["-n", n],
        f"-n {n}, --ovperf-device-lock=off": ["-n", n, "--ovperf-device-lock=off"],
    }
    if args.partition:
        configurations[f"-n {n}, --ovperf-cpu-partition=on"] = [
            "-n", n, "--ovperf-cpu-partition=on",
        ]  # fmt: skip
    p50: dict[str, list[dict[str, float]]] = {name: [] for name in configurations}
    walls: dict[str, list[float]] = {name: [] for name in configurations}
    for index in range(args.rounds):
        order = list(configurations) if index % 2 == 0 else list(reversed(configurations))
        for name in order:
            values, wall = run([*configurations[name], *args.pytest_args], env)
            p50[name].append(values)
            walls[name].append(wall)
        print(f"round {index + 1}/{args.rounds} done", flush=True)

    serial = "-n 0 (serial)"
    print()
    print(
        f"{args.tests} latency tests, {args.rounds} rounds, {os.cpu_count()} logical CPUs; "
        "ratio = median over tests of p50 / serial p50 in the same round"
    )
    print()
    print(
        "| configuration | p50 ratio to serial (median of rounds) | rounds | wall time s (median) |"
    )
    print("|---|---|---|---|")
    for name in configurations:
        ratios = []
        for round_values, serial_values in zip(p50[name], p50[serial]):
            common = set(round_values) & set(serial_values)
            ratios.append(statistics.median(round_values[t] / serial_values[t] for t in common))
        shown = ", ".join(f"{r:.3f}" for r in ratios)
        print(
            f"| {name} | {statistics.median(ratios):.3f} | {shown} | "
            f"{statistics.median(walls[name]):.1f} |"
        )


if __name__ == "__main__":
    main()
