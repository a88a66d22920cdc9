"""What the plugin costs a pytest run that has no perf test (a project's unit tests).

pytest imports every installed plugin in every run. A suite of one plain test is run
``--runs`` times with the plugin and as many times with ``-p no:ovperf``, alternating (so a
slow spell of the machine hits both alike), each a fresh ``python -m pytest`` process.
Printed: the median wall time of each, their ratio, and each side's peak resident memory
(``ru_maxrss`` of the child), plus whether the plugin's run imported openvino, numpy or
scipy. The plugin's package is byte-compiled first (``compileall``), as pip does at install:
without bytecode every run would also time Python compiling the plugin's modules.

    cd bench && python idle_cost.py --runs 16
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from workdir import ROOT, fresh_workdir

PLAIN_TEST = "def test_plain():\n    assert True\n"
CONFTEST = """
import sys

def pytest_sessionfinish(session):
    heavy = sorted(m for m in ("openvino", "numpy", "scipy") if m in sys.modules)
    print("heavy modules:", ",".join(heavy) or "none")
"""


def one_run(work: Path, env: dict[str, str], extra: list[str]) -> tuple[float, int, str]:
    """Wall seconds, the child's peak RSS (KiB, from ``wait4``) and its report of heavy
    modules."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *extra],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"pytest failed:\n{output[-3000:]}")
    heavy = next(
        (line.split("heavy modules:", 1)[1].strip() for line in output.splitlines()
         if "heavy modules:" in line),
        "?",
    )  # fmt: skip
    return wall, usage.ru_maxrss, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=16, help="runs of each side")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "pytest_ovperf"), quiet=1)
    work, env = fresh_workdir("idle_cost")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    (work / "test_plain.py").write_text(PLAIN_TEST)
    (work / "conftest.py").write_text(CONFTEST)
    with_plugin: list[float] = []
    without: list[float] = []
    rss_with: list[int] = []
    rss_without: list[int] = []
    heavy_seen: set[str] = set()
    for _ in range(args.runs):
        wall, rss, _ = one_run(work, env, ["-p", "no:ovperf"])
        without.append(wall)
        rss_without.append(rss)
        wall, rss, heavy = one_run(work, env, [])
        with_plugin.append(wall)
        rss_with.append(rss)
        heavy_seen.add(heavy)
    median_with, median_without = statistics.median(with_plugin), statistics.median(without)
    print("| run of one plain test | median wall (s) | peak RSS (MiB) |")
    print("|---|---|---|")
    print(f"| with the plugin | {median_with:.3f} | {statistics.median(rss_with) / 1024:.0f} |")
    print(
        f"| `-p no:ovperf` | {median_without:.3f} | {statistics.median(rss_without) / 1024:.0f} |"
    )
    print()
    print(
        f"ratio {median_with / median_without:.3f} over {args.runs} alternating runs each; "
        f"heavy modules imported with the plugin: {', '.join(sorted(heavy_seen))}"
    )


if __name__ == "__main__":
    main()
