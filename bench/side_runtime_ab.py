"""Live series of ``reference_runtime=`` on a real third-party model: the reference measured
under another OpenVINO runtime in a worker process, block by block in turn with the test's
model under this runtime. Every verdict is a separate pytest process (one test, one kind),
and each run's machine state is printed beside it: the foreign CPU load and the CPU the idle
side used while the other measured (``idle_side_cpu``; over 1% makes it inconclusive).

Model: a PP-OCR model from the pinned ``rapidocr-onnxruntime`` wheel (``wheel_models.py``) at
the CPU's default precision. Three modes:

``aa``
    the side runtime is this interpreter (``sys.executable``, the same release): ``--runs``
    runs per kind of the model against itself under the side runtime, default options and
    ``--ovperf-inconclusive=pass``. Any ``regression`` is a false one; the mean log ratio over
    the runs, with its 95% t-interval, is the bias of the worker's side (target: within
    +-0.5%). ``--first-test``: each process first runs a test that compiles the same model
    without the side runtime, so this process's OpenVINO starts before the worker's (an
    earlier test of a suite).
``power``
    the test's model is the input made wider by each ``--slowdowns`` factor (352: +10%,
    400: +25%, as ``ab_live.py`` builds them), the reference is the original (width 320),
    both saved as static-shape IR; two arms take turns run by run: ``in-process``
    (``reference=`` only) and ``side`` (``reference_runtime=`` this interpreter), so that
    "detected as often as in-process" can be read off.
``pair``
    the model against itself under ``--side-runtime`` (a release, from ``--runtime-cache``):
    the plugin's ratio this/other per kind, and in the same rounds benchmark_app of both
    releases (ABBA per round and kind, the first side flipping every round: new, old,
    plugin, old, new; then old, new, plugin, new, old), latency ``-hint latency -api sync``
    and throughput ``-hint throughput -api async``, the same shape, ``-ip f32`` and the
    default inference precision. The plugin's ratio over benchmark_app's is their agreement
    (target: within 3%).

    cd bench && python side_runtime_ab.py --mode aa --runs 40 --model rec [--first-test]
    cd bench && python side_runtime_ab.py --mode power --runs 12 --model rec
    cd bench && python side_runtime_ab.py --mode pair --runs 6 --model rec \\
        --side-runtime 2025.4.1 --runtime-cache /tmp/sidecache

Prints markdown tables, with the command at the top; the raw per-run data go to
``bench/_work/side_runtime/<mode>-<time>.json`` (git-ignored). Options after ``--`` go to
every pytest run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from companion_history import one_thread_ratio
from compare_benchmark_app import RunFailed, parse_benchmark_app
from cpu_load import foreign_load, snapshot
from replay_ab import upper_bound
from scipy import stats as sps
from wheel_models import MODELS, BenchModel, model_path
from workdir import ROOT, fresh_workdir

from pytest_ovperf.records import ReportError, ResultRecord, read_report, records_of
from pytest_ovperf.runtime.side.environment import (
    SideRuntimeError,
    default_cache_dir,
    isolated_env,
    resolve,
)
from pytest_ovperf.verdicts.limits import DEFAULT_MAX_FOREIGN_LOAD, MAX_IDLE_SIDE_CPU

KINDS = ("latency", "throughput")
VERDICTS = ("regression", "improvement", "unchanged", "inconclusive")
#: the marker's keyword arguments, as JSON, for the test file
MARK_ENV = "OVPERF_BENCH_MARK"
TEST = """
import json
import os

import pytest

MARK = json.loads(os.environ["OVPERF_BENCH_MARK"])
# the same model without the side runtime, another compile key (a no-op setting)
FIRST = {
    k: v for k, v in MARK.items() if k not in ("reference_runtime", "reference", "config")
}


@pytest.mark.ovperf_model(**FIRST, config={"PERFORMANCE_HINT_NUM_REQUESTS": 1})
def test_a_first(compiled_model):
    # --first-test: this process's OpenVINO compiles and infers before the measured test's
    # side runtime starts, as an earlier in-process test of a suite would
    pass


@pytest.mark.ovperf_model(**MARK)
def test_latency(perf_budget):
    perf_budget.measure_latency()


@pytest.mark.ovperf_model(**MARK)
def test_throughput(perf_budget):
    perf_budget.measure_throughput()
"""
#: the bias of the worker's side the A/A series should stay within
BIAS_TARGET = 0.005
#: the agreement of the plugin's ratio with benchmark_app's the pair series should reach
AGREEMENT_TARGET = 0.03
#: what the comparison message says when a guard made it inconclusive
IDLE_SIDE_TEXT = "did not take turns cleanly"
BUSY_TEXT = "machine busy"
IN_PROCESS, SIDE = "in-process", "side"
NEW, OLD = "new", "old"
#: the compiled model's settings read from benchmark_app's console
BA_SETTINGS = ("INFERENCE_PRECISION_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS")
_BA_HINT_API = {"latency": ("latency", "sync"), "throughput": ("throughput", "async")}


@dataclass
class PluginRun:
    """One pytest process: one test (one kind), one verdict."""

    mode: str
    round: int
    kind: str
    #: power: the test model's width; otherwise the model's own
    width: int
    arm: str
    name: str
    verdict: str = "error"
    method: str | None = None
    ratio: float | None = None
    ratio_ci: list[float | None] | None = None
    idle_side_cpu: float | None = None
    foreign_load: float | None = None
    idle_side_guard: bool = False
    busy_guard: bool = False
    precision: str | None = None
    value: float | None = None
    #: what the message adds after naming the reference: its settings that differ, outputs
    #: that differ (``partners/side_runtime.py``)
    notes: str = ""
    #: the statistical failure was measured again at the end of the run (``confirm``)
    remeasured: bool = False
    message: str = ""
    returncode: int | None = None
    seconds: float = math.nan
    error: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchAppRun:
    """One benchmark_app process of one release."""

    round: int
    kind: str
    side: str  # NEW (this env) or OLD (the side env); power: the wider model or the original
    position: int
    #: power: the model's width
    width: int | None = None
    p50_ms: float | None = None
    fps: float | None = None
    requests: int | None = None
    n: int | None = None
    #: the compiled model's settings benchmark_app printed (``BA_SETTINGS``)
    settings: dict[str, str] = field(default_factory=dict)
    foreign_cpus: float | None = None
    seconds: float = math.nan
    error: str | None = None
    command: list[str] = field(default_factory=list)


class Bench:
    """The work directory, its environment and the pytest options every run gets."""

    def __init__(self, mode: str, args: argparse.Namespace, pytest_args: list[str]) -> None:
        self.work, self.env = fresh_workdir(f"side_runtime/{mode}")
        (self.work / "test_bench.py").write_text(TEST)
        self.args = args
        self.common = ["--ovperf-inconclusive=pass"]
        if args.max_time is not None:
            self.common.append(f"--ovperf-max-time={args.max_time:g}")
        if args.runtime_cache is not None:
            self.common.append(f"--ovperf-runtime-cache={Path(args.runtime_cache).resolve()}")
        self.common += pytest_args
        self.started = time.time()

    def selection(self, kind: str) -> str:
        """The ``-k`` expression of a run of ``kind``: its test, after ``test_a_first``
        with ``--first-test``."""
        test = f"test_{kind}"
        return f"test_a_first or {test}" if self.args.first_test else test

    def pytest_run(self, run: PluginRun, mark: dict[str, Any]) -> PluginRun:
        """Run ``run``'s test in a pytest process of its own; fill in its verdict."""
        report = self.work / "reports" / f"{run.name}.json"
        report.parent.mkdir(exist_ok=True)
        command = [
            sys.executable, "-m", "pytest", "test_bench.py", "-q", "-p", "no:cacheprovider",
            "-k", self.selection(run.kind), f"--ovperf-json={report}", *self.common,
        ]  # fmt: skip
        if self.args.pause > 0:
            time.sleep(self.args.pause)
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                cwd=self.work,
                env={**self.env, MARK_ENV: json.dumps(mark)},
                capture_output=True,
                text=True,
                timeout=self.args.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            run.seconds = time.perf_counter() - started
            run.error = f"timed out after {self.args.timeout:g} s"
            return run
        run.seconds = time.perf_counter() - started
        run.returncode = done.returncode
        records = []
        if report.exists():
            try:
                records = [r for r in records_of(read_report(report)) if r["kind"] == run.kind]
            except ReportError as exc:
                run.error = str(exc)
        if done.returncode not in (0, 1) or len(records) != 1:
            run.error = run.error or (
                f"pytest exited {done.returncode} with {len(records)} {run.kind} record(s):\n"
                + tail(done.stdout + done.stderr)
            )
            return run
        fill(run, records[0])
        return run


def fill(run: PluginRun, data: ResultRecord) -> None:
    """``run``'s figures from its result record."""
    run.record = dict(data)
    run.verdict = data.get("baseline_verdict") or "-"
    run.method = data.get("baseline_method")
    run.ratio = data.get("ratio")
    run.ratio_ci = data.get("ratio_ci")
    run.idle_side_cpu = data.get("idle_side_cpu")
    run.foreign_load = data.get("foreign_load")
    run.precision = data.get("precision")
    run.value = data.get("p50_ms") if run.kind == "latency" else data.get("fps")
    run.message = data.get("baseline_message") or ""
    run.remeasured = "remeasure" in data
    run.notes = reference_notes(run.message)
    inconclusive = run.verdict == "inconclusive"
    run.idle_side_guard = IDLE_SIDE_TEXT in run.message or (
        inconclusive and (run.idle_side_cpu or 0.0) > MAX_IDLE_SIDE_CPU
    )
    run.busy_guard = BUSY_TEXT in run.message or (
        inconclusive and (run.foreign_load or 0.0) > DEFAULT_MAX_FOREIGN_LOAD
    )


def reference_notes(message: str) -> str:
    """The notes the message's first line adds after naming the reference and the two
    runtimes (``... (python; this run: OpenVINO X); <notes>: p50 = ...``), or ''."""
    line = message.split("\n", 1)[0]
    start = line.find("this run: OpenVINO ")
    if start < 0:
        return ""
    rest = line[start:].split(")", 1)[-1]
    if not rest.startswith("; "):
        return ""
    for figure in (": p50 = ", ": fps = "):
        if figure in rest:
            rest = rest.rsplit(figure, 1)[0]
    return rest[2:]


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}%}"


def num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def ci_text(ci: Sequence[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "-"
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def median(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else math.nan


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and its 95% t-interval (NaN bounds below two values)."""
    if not values:
        return math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = float(sps.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values)
    half /= math.sqrt(len(values))
    return mean, mean - half, mean + half


def interval_text(values: Sequence[float]) -> str:
    """``mean_interval`` as text, in percent ("-" below two values)."""
    if len(values) < 2:
        return "-"
    mean, low, high = mean_interval(values)
    return f"{mean:+.2%} [{low:+.2%}, {high:+.2%}]"


def describe(run: PluginRun) -> str:
    """One line of progress: the verdict and the machine's state."""
    if run.error:
        return f"ERROR ({run.seconds:.1f} s): {run.error.splitlines()[0]}"
    guards = [
        g
        for g, on in (("idle-side guard", run.idle_side_guard), ("busy guard", run.busy_guard))
        if on
    ]
    return (
        f"{run.verdict}{' (' + ', '.join(guards) + ')' if guards else ''}, ratio "
        f"{num(run.ratio)} {ci_text(run.ratio_ci)}, foreign load {pct(run.foreign_load)}, "
        f"idle side {pct(run.idle_side_cpu, 2)}, {run.precision}"
        f"{', re-measured' if run.remeasured else ''}, {run.seconds:.1f} s"
    )


def per_run_table(runs: Sequence[PluginRun], with_width: bool) -> list[str]:
    lines = [
        "<details><summary>per run</summary>",
        "",
        "| run | kind | " + ("test model | " if with_width else "") + "arm | verdict | ratio "
        "(95% CI) | foreign load | idle-side CPU | guard | s |",
        "|---|---|" + ("---|" if with_width else "") + "---|---|---|---|---|---|---|",
    ]
    for run in runs:
        guard = ", ".join(
            g for g, on in (("idle side", run.idle_side_guard), ("busy", run.busy_guard)) if on
        )
        lines.append(
            f"| {run.round} | {run.kind} | "
            + (f"width {run.width} | " if with_width else "")
            + f"{run.arm} | {run.verdict if not run.error else 'error'} | {num(run.ratio)} "
            f"{ci_text(run.ratio_ci)} | {pct(run.foreign_load)} | {pct(run.idle_side_cpu, 2)} "
            f"| {guard or '-'} | {run.seconds:.1f} |"
        )
    return [*lines, "", "</details>"]


def timing_lines(runs: Sequence[dict[str, Any]], wall_s: float) -> list[str]:
    """The wall time of the series and of one pytest process per kind (``raw["runs"]``)."""
    lines = [f"- wall time {wall_s / 60:.1f} min for {len(runs)} pytest processes"]
    for kind in KINDS:
        seconds = [
            float(r["seconds"]) for r in runs if r["kind"] == kind and not math.isnan(r["seconds"])
        ]
        if seconds:
            lines.append(
                f"- {kind}: {statistics.fmean(seconds):.1f} s per pytest process (mean; "
                f"max {max(seconds):.1f} s)"
            )
    return lines


# --------------------------------------------------------------------------- mode aa


def bias_within(mean: float, low: float, high: float) -> str:
    """Whether the bias is within ``BIAS_TARGET``: the whole interval ("yes"), the mean only,
    or not ("no"); "-" without an interval."""
    if math.isnan(low):
        return "-"
    if low >= -BIAS_TARGET and high <= BIAS_TARGET:
        return "yes"
    return "mean only" if abs(mean) <= BIAS_TARGET else "no"


def mode_aa(bench: Bench, spec: BenchModel, model: Path) -> tuple[list[str], dict[str, Any]]:
    args = bench.args
    mark = {
        "source": str(model),
        "shape": {spec.input_name: spec.shape_list},
        "reference_runtime": sys.executable,
    }
    runs: list[PluginRun] = []
    for index in range(args.runs):
        # the kinds take turns going first
        for kind in KINDS if index % 2 == 0 else KINDS[::-1]:
            run = PluginRun("aa", index + 1, kind, spec.shape[-1], SIDE, f"{index + 1}-{kind}")
            bench.pytest_run(run, mark)
            runs.append(run)
            print(f"[aa] run {index + 1}/{args.runs} {kind}: {describe(run)}", flush=True)
    lines = [
        "| kind | runs | regression | improvement | unchanged | inconclusive | errors | "
        "false regressions (upper 95%) | mean log ratio [95% t] | bias within +-0.5% | "
        "idle-side CPU median / max | inconclusive by idle-side guard | by busy guard |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        mine = [r for r in runs if r.kind == kind and not r.error]
        errors = sum(1 for r in runs if r.kind == kind and r.error)
        counts = Counter(r.verdict for r in mine)
        n = len(mine)
        logs = [math.log(r.ratio) for r in mine if r.ratio]
        mean, low, high = mean_interval(logs)
        within = bias_within(mean, low, high)
        idle = [r.idle_side_cpu for r in mine if r.idle_side_cpu is not None]
        inconclusive = [r for r in mine if r.verdict == "inconclusive"]
        lines.append(
            f"| {kind} | {n} | {counts['regression']} | {counts['improvement']} | "
            f"{counts['unchanged']} | {counts['inconclusive']} | {errors} | "
            f"{counts['regression']}/{n} ({pct(upper_bound(counts['regression'], n))}) | "
            f"{mean:+.2%} [{low:+.2%}, {high:+.2%}] (n={len(logs)}) | {within} | "
            f"{pct(median(idle), 2)} / {pct(max(idle) if idle else None, 2)} | "
            f"{sum(r.idle_side_guard for r in inconclusive)} | "
            f"{sum(r.busy_guard for r in inconclusive)} |"
        )
    lines += [
        "",
        "ratio: this runtime's model over the worker's (latency: p50 ms; throughput: fps), "
        "so a positive mean log ratio is this side reading higher; the log ratios are of the "
        "runs that gave one, whatever their verdict.",
        "",
        *per_run_table(runs, with_width=False),
    ]
    return lines, {"runs": [asdict(r) for r in runs]}


# --------------------------------------------------------------------------- mode power


def static_ir(model: Path, spec: BenchModel, width: int, folder: Path) -> Path:
    """``model`` reshaped to ``width`` and saved as IR with its f32 weights: ``reference=``
    shares the test's ``shape=``, so each side's shape is fixed in its own file."""
    import openvino as ov

    target = folder / f"{spec.key}-w{width}.xml"
    read = ov.Core().read_model(str(model))
    read.reshape({spec.input_name: [*spec.shape[:-1], width]})
    folder.mkdir(parents=True, exist_ok=True)
    ov.save_model(read, str(target), compress_to_fp16=False)
    return target


def arm_difference_lines(runs: Sequence[PluginRun], kind: str, widths: Sequence[int]) -> list[str]:
    """Per width: each arm's mean log ratio (95% t over runs) and the side arm's over the
    in-process arm's, paired by round (the two arms of a round ran one after the other)."""
    lines = [
        "| test model | in-process mean log ratio | side mean log ratio | side - in-process, "
        "paired by round [95% t] | rounds |",
        "|---|---|---|---|---|",
    ]

    for width in widths:
        by_round: dict[int, dict[str, float]] = {}
        for run in runs:
            if run.kind == kind and run.width == width and not run.error and run.ratio:
                by_round.setdefault(run.round, {})[run.arm] = math.log(run.ratio)
        both = [r for r in by_round.values() if IN_PROCESS in r and SIDE in r]
        lines.append(
            f"| width {width} | {interval_text([r[IN_PROCESS] for r in both])} | "
            f"{interval_text([r[SIDE] for r in both])} | "
            f"{interval_text([r[SIDE] - r[IN_PROCESS] for r in both])} | {len(both)} |"
        )
    return lines


def benchmark_app_lines(
    runs: Sequence[PluginRun], apps: Sequence[BenchAppRun], kind: str, widths: Sequence[int]
) -> list[str]:
    """Per width: benchmark_app's ratio of the two models in each round (the geometric mean
    of its two runs per model, ABBA), and each arm's ratio over it (the arm's agreement),
    as the mean log over rounds with its 95% t."""
    attr = "p50_ms" if kind == "latency" else "fps"
    lines = [
        "| test model | benchmark_app ratio, median (range) | in-process / benchmark_app, mean "
        "log [95% t] | side / benchmark_app, mean log [95% t] | rounds |",
        "|---|---|---|---|---|",
    ]

    for width in widths:
        ratios: dict[int, float] = {}
        for index in {a.round for a in apps if a.kind == kind}:
            chosen = [a for a in apps if (a.round, a.kind) == (index, kind) and not a.error]
            wide = geomean([getattr(a, attr) for a in chosen if a.width == width])
            base = geomean([getattr(a, attr) for a in chosen if a.side == OLD])
            if math.isfinite(wide / base):
                ratios[index] = wide / base
        agreement: dict[str, list[float]] = {IN_PROCESS: [], SIDE: []}
        for run in runs:
            if run.kind == kind and run.width == width and run.ratio and run.round in ratios:
                agreement[run.arm].append(math.log(run.ratio / ratios[run.round]))
        values = sorted(ratios.values())
        lines.append(
            f"| width {width} | {num(median(values))} ({num(values[0] if values else None)}-"
            f"{num(values[-1] if values else None)}) | {interval_text(agreement[IN_PROCESS])} | "
            f"{interval_text(agreement[SIDE])} | {len(ratios)} |"
        )
    return lines


def mode_power(bench: Bench, spec: BenchModel, model: Path) -> tuple[list[str], dict[str, Any]]:
    args = bench.args
    width = spec.shape[-1]
    base = static_ir(model, spec, width, bench.work / "models")
    slow: list[tuple[int, Path, float, float]] = []  # width, file, factor, one-thread ratio
    for factor in args.slowdowns:
        wider = round(width * factor / 8.0) * 8
        true = one_thread_ratio(model, spec.shape_list, [*spec.shape[:-1], wider])
        slow.append((wider, static_ir(model, spec, wider, bench.work / "models"), factor, true))
        print(f"[power] width {wider}: {true:.3f}x at one thread", flush=True)
    runs: list[PluginRun] = []
    apps: list[BenchAppRun] = []
    exe = benchmark_app_of(Path(sys.executable)) if args.benchmark_app else None
    for index in range(args.runs):
        for wider, path, _, _ in slow:
            for kind in args.kinds:
                # the arms take turns going first, so that a noisy spell hits them alike
                arms = (
                    (IN_PROCESS, SIDE)
                    if (index + KINDS.index(kind)) % 2 == 0
                    else (SIDE, IN_PROCESS)
                )
                for arm in arms:
                    mark: dict[str, Any] = {"source": str(path), "reference": str(base)}
                    if arm == SIDE:
                        mark["reference_runtime"] = sys.executable
                    run = PluginRun(
                        "power", index + 1, kind, wider, arm, f"{index + 1}-{wider}-{kind}-{arm}"
                    )
                    bench.pytest_run(run, mark)
                    runs.append(run)
                    print(
                        f"[power] run {index + 1}/{args.runs} width {wider} {kind} {arm}: "
                        f"{describe(run)}",
                        flush=True,
                    )
                if exe is None:
                    continue
                # benchmark_app of the two models in the same round, ABBA, the first flipping
                # every round: what the two threads' true ratio is, for both arms to agree with
                wide_spec = replace(spec, shape=(*spec.shape[:-1], wider))
                first, second = (NEW, OLD) if index % 2 == 0 else (OLD, NEW)
                for position, step in enumerate((first, second, second, first), start=1):
                    app = BenchAppRun(index + 1, f"{kind}", step, position)
                    app.width = wider if step == NEW else width
                    run_benchmark_app(
                        exe,
                        path if step == NEW else base,
                        wide_spec if step == NEW else spec,
                        app,
                        args.bench_seconds,
                        args.pause,
                    )
                    apps.append(app)
                    figure = app.p50_ms if kind == "latency" else app.fps
                    print(
                        f"[power] run {index + 1}/{args.runs} benchmark_app width {app.width} "
                        f"{kind}: {app.error.splitlines()[0] if app.error else num(figure)}",
                        flush=True,
                    )
    lines: list[str] = []
    for kind in args.kinds:
        lines += [
            f"#### {kind}",
            "",
            "| test model vs width " + str(width) + " | arm | runs | regression found | "
            "unchanged | inconclusive | improvement | errors | median ratio | "
            "idle-side CPU median | busy (load > 15%) | re-measured |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for wider, _, factor, true in slow:
            for arm in (IN_PROCESS, SIDE):
                chosen = [r for r in runs if (r.kind, r.width, r.arm) == (kind, wider, arm)]
                good = [r for r in chosen if not r.error]
                counts = Counter(r.verdict for r in good)
                n = len(good)
                lines.append(
                    f"| width {wider} (+{factor - 1:.0%}; {true:.3f}x at one thread) | {arm} | "
                    f"{n} | {counts['regression']}/{n} | {counts['unchanged']} | "
                    f"{counts['inconclusive']} | {counts['improvement']} | "
                    f"{len(chosen) - n} | {num(median([r.ratio for r in good]))} | "
                    + (pct(median([r.idle_side_cpu for r in good]), 2) if arm == SIDE else "-")
                    + f" | {sum((r.foreign_load or 0.0) > DEFAULT_MAX_FOREIGN_LOAD for r in good)}"
                    f" | {sum(r.remeasured for r in good)} |"
                )
        lines += ["", *arm_difference_lines(runs, kind, [w for w, _, _, _ in slow]), ""]
        if apps:
            lines += [*benchmark_app_lines(runs, apps, kind, [w for w, _, _, _ in slow]), ""]
    lines += [
        "ratio: the wider model over the original (latency: p50 ms; throughput: fps). "
        "re-measured: a regression the plugin measured again at the end of the run "
        "(--ovperf-confirm); the verdict counted is the re-measure's.",
        "",
        *per_run_table(runs, with_width=True),
    ]
    raw = {
        "slow": [
            {"width": w, "factor": f, "one_thread_ratio": t, "model": str(p)} for w, p, f, t in slow
        ],
        "runs": [asdict(r) for r in runs],
        "benchmark_app": [asdict(a) for a in apps],
    }
    return lines, raw


# --------------------------------------------------------------------------- mode pair


def benchmark_app_of(python: Path) -> Path:
    """The benchmark_app the OpenVINO wheel installed beside ``python``."""
    found = python.parent / "benchmark_app"
    if not found.is_file():
        raise SystemExit(
            f"no benchmark_app beside {python}: the openvino wheel of that environment did not "
            "install one"
        )
    return found


def run_benchmark_app(
    exe: Path, model: Path, spec: BenchModel, run: BenchAppRun, seconds: int, pause: float
) -> BenchAppRun:
    hint, api = _BA_HINT_API[run.kind]
    if pause > 0:
        time.sleep(pause)
    with tempfile.TemporaryDirectory(prefix="ovperf-ba-") as tmp:
        run.command = [
            str(exe), "-m", str(model), "-d", "CPU", "-hint", hint, "-api", api, "-ip", "f32",
            "-shape", spec.benchmark_app_shape(), "-t", str(seconds), "-report_type",
            "no_counters", "-report_folder", tmp, "-json_stats",
        ]  # fmt: skip
        before = snapshot()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                run.command,
                capture_output=True,
                text=True,
                timeout=seconds + 600,
                check=False,
                env=isolated_env(),
            )
        except subprocess.TimeoutExpired:
            run.error = "timed out"
            return run
        run.seconds = time.perf_counter() - started
        load = foreign_load(before, snapshot())
        run.foreign_cpus = load.cpus if load is not None else None
        console = done.stdout + done.stderr
        if done.returncode != 0:
            run.error = f"exited {done.returncode}:\n{tail(console)}"
            return run
        report_file = Path(tmp) / "benchmark_report.json"
        report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    try:
        figures = parse_benchmark_app(report, console)
    except RunFailed as exc:
        run.error = str(exc)
        return run
    run.p50_ms, run.fps = figures["p50_ms"], figures["fps"]
    run.requests, run.n = figures["requests"], figures["n"]
    for line in console.splitlines():
        name, _, value = line.replace("[ INFO ]", "").strip().partition(": ")
        if name in BA_SETTINGS and name not in run.settings:
            run.settings[name] = value.replace("<Type: ", "").strip("<>'")
    return run


def geomean(values: Sequence[float | None]) -> float:
    present = [v for v in values if v]
    return math.exp(statistics.fmean(math.log(v) for v in present)) if present else math.nan


def mode_pair(bench: Bench, spec: BenchModel, model: Path) -> tuple[list[str], dict[str, Any]]:
    args = bench.args
    cache = Path(args.runtime_cache).resolve() if args.runtime_cache else default_cache_dir()
    try:
        side = resolve(args.side_runtime, cache, progress=lambda line: print(line, flush=True))
    except SideRuntimeError as exc:
        raise SystemExit(f"the side runtime cannot be had: {exc}") from None
    import openvino as ov

    exes = {NEW: benchmark_app_of(Path(sys.executable)), OLD: benchmark_app_of(side.python)}
    versions = {NEW: ov.get_version(), OLD: side.openvino_version}
    print(f"[pair] this: OpenVINO {versions[NEW]}; side: {versions[OLD]} ({side.python})")
    mark = {
        "source": str(model),
        "shape": {spec.input_name: spec.shape_list},
        "reference_runtime": args.side_runtime,
    }
    runs: list[PluginRun] = []
    apps: list[BenchAppRun] = []
    for index in range(args.runs):
        first, second = (NEW, OLD) if index % 2 == 0 else (OLD, NEW)
        for kind in KINDS:
            position = 0
            for step in (first, second, "plugin", second, first):
                position += 1
                if step == "plugin":
                    run = PluginRun(
                        "pair", index + 1, kind, spec.shape[-1], SIDE, f"{index + 1}-{kind}"
                    )
                    bench.pytest_run(run, mark)
                    runs.append(run)
                    print(
                        f"[pair] round {index + 1}/{args.runs} plugin {kind}: {describe(run)}",
                        flush=True,
                    )
                    continue
                app = BenchAppRun(index + 1, kind, step, position)
                run_benchmark_app(exes[step], model, spec, app, args.bench_seconds, args.pause)
                apps.append(app)
                figure = (
                    f"p50 {num(app.p50_ms)} ms" if kind == "latency" else (f"{num(app.fps, 1)} fps")
                )
                print(
                    f"[pair] round {index + 1}/{args.runs} benchmark_app {step} ({versions[step]})"
                    f" {kind}: "
                    + (
                        f"ERROR {app.error.splitlines()[0]}"
                        if app.error
                        else f"{figure}, {app.requests} requests, "
                        f"{app.settings.get('INFERENCE_PRECISION_HINT', '?')}, foreign CPUs "
                        f"{num(app.foreign_cpus, 2)}, {app.seconds:.1f} s"
                    ),
                    flush=True,
                )
    lines = [
        f"this runtime (new): OpenVINO {versions[NEW]}; the side runtime (old): OpenVINO "
        f"{versions[OLD]} ({side.python})",
        "",
        "| kind | rounds | plugin verdicts | plugin ratio new/old, median | benchmark_app "
        "ratio new/old, median | agreement plugin/benchmark_app, median of rounds | within 3% "
        "| idle-side CPU median / max | foreign load max (plugin) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    per_round: list[str] = []
    for kind in KINDS:
        attr = "p50_ms" if kind == "latency" else "fps"
        plugin_ratios: list[float] = []
        app_ratios: list[float] = []
        agreements: list[float] = []
        for index in range(1, args.runs + 1):
            (run,) = [r for r in runs if (r.round, r.kind) == (index, kind)]
            sides = {
                s: geomean(
                    [
                        getattr(a, attr)
                        for a in apps
                        if (a.round, a.kind, a.side) == (index, kind, s) and not a.error
                    ]
                )
                for s in (NEW, OLD)
            }
            app_ratio = sides[NEW] / sides[OLD]
            if not math.isnan(app_ratio):
                app_ratios.append(app_ratio)
            if run.ratio:
                plugin_ratios.append(run.ratio)
                if not math.isnan(app_ratio):
                    agreements.append(run.ratio / app_ratio)
            per_round.append(
                f"| {index} | {kind} | {run.verdict if not run.error else 'error'} | "
                f"{num(run.ratio)} {ci_text(run.ratio_ci)} | {num(run.value, 2)} | "
                f"{num(sides[NEW], 2)} / {num(sides[OLD], 2)} | {num(app_ratio)} | "
                f"{num(run.ratio / app_ratio if run.ratio else None)} | "
                f"{pct(run.foreign_load)} | {pct(run.idle_side_cpu, 2)} |"
            )
        good = [r for r in runs if r.kind == kind and not r.error]
        counts = Counter(r.verdict for r in good)
        agreement = median(agreements)
        idle = [r.idle_side_cpu for r in good if r.idle_side_cpu is not None]
        lines.append(
            f"| {kind} | {args.runs} | "
            + ", ".join(f"{v} {counts[v]}" for v in VERDICTS if counts[v])
            + (f", error {args.runs - len(good)}" if len(good) < args.runs else "")
            + f" | {num(median(plugin_ratios))} | {num(median(app_ratios))} | "
            f"{num(agreement)} | "
            + (
                "-"
                if math.isnan(agreement)
                else "yes"
                if abs(agreement - 1.0) <= AGREEMENT_TARGET
                else "no"
            )
            + f" | {pct(median(idle), 2)} / {pct(max(idle) if idle else None, 2)} | "
            f"{pct(max((r.foreign_load or 0.0 for r in good), default=None))} |"
        )
    notes = {r.notes for r in runs if r.notes}
    settings = {
        (kind, side): ", ".join(
            sorted(
                {
                    f"{k} {v}"
                    for a in apps
                    if (a.kind, a.side) == (kind, side)
                    for k, v in a.settings.items()
                }
            )
        )
        or "-"
        for kind in KINDS
        for side in (NEW, OLD)
    }
    lines += [
        "",
        "ratio new/old: latency p50 ms, throughput fps. benchmark_app: the geometric mean of "
        "its two runs per release and round (ABBA); agreement: the plugin's ratio over "
        "benchmark_app's, per round.",
        "",
        "<details><summary>per round</summary>",
        "",
        "| round | kind | plugin verdict | plugin ratio (95% CI) | plugin value (this side) | "
        "benchmark_app new / old | benchmark_app ratio | plugin / benchmark_app | foreign load "
        "| idle-side CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *per_round,
        "",
        "</details>",
    ]
    lines += [
        "",
        *(
            f"- benchmark_app's compiled settings, {kind}: new {settings[kind, NEW]}; "
            f"old {settings[kind, OLD]}"
            for kind in KINDS
        ),
        f"- the plugin's precision: {', '.join(sorted({str(r.precision) for r in runs}))}",
    ]
    lines += [f"- the plugin's message says: {note}" for note in sorted(notes)]
    raw = {
        "versions": versions,
        "side_python": str(side.python),
        "benchmark_app": {k: str(v) for k, v in exes.items()},
        "runs": [asdict(r) for r in runs],
        "benchmark_app_runs": [asdict(a) for a in apps],
    }
    return lines, raw


# --------------------------------------------------------------------------- main

MODES: dict[str, Callable[[Bench, BenchModel, Path], tuple[list[str], dict[str, Any]]]] = {
    "aa": mode_aa,
    "power": mode_power,
    "pair": mode_pair,
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    else:
        passthrough = []
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mode", choices=sorted(MODES), required=True)
    parser.add_argument("--model", choices=sorted(MODELS), default="rec")
    parser.add_argument(
        "--runs", type=int, default=None, help="runs per kind (aa 40, power 12, pair 6 rounds)"
    )
    parser.add_argument(
        "--max-time",
        type=float,
        default=None,
        help="--ovperf-max-time for every pytest run (default: the plugin's)",
    )
    parser.add_argument(
        "--slowdowns",
        type=float,
        nargs="*",
        default=[1.10, 1.25],
        help="power: the wider inputs of the test's model",
    )
    parser.add_argument(
        "--side-runtime",
        default="2025.4.1",
        help="pair: the other OpenVINO release (or a Python interpreter)",
    )
    parser.add_argument(
        "--runtime-cache", default=None, help="--ovperf-runtime-cache (default: the plugin's)"
    )
    parser.add_argument(
        "--bench-seconds", type=int, default=10, help="pair: benchmark_app -t per run (default 10)"
    )
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds of idle before every process (default 1)"
    )
    parser.add_argument(
        "--benchmark-app",
        action="store_true",
        help="power: each round, benchmark_app of the wider and the original model (ABBA, "
        "--bench-seconds each), the two-thread ratio both arms are read against",
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=KINDS,
        default=list(KINDS),
        help="power: the kinds measured (default both)",
    )
    parser.add_argument(
        "--first-test",
        action="store_true",
        help="aa: every process first compiles the model in a test of its own (no side "
        "runtime), so this process's OpenVINO starts before the worker's, as in a suite",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="longest a pytest process may take (s)"
    )
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = {"aa": 40, "power": 12, "pair": 6}[args.mode]
    if args.runs < 1:
        parser.error("--runs must be positive")
    return args, passthrough


def main() -> None:
    args, pytest_args = parse_args(sys.argv[1:])
    import openvino as ov

    spec = MODELS[args.model]
    model = model_path(spec)
    command = "cd bench && python side_runtime_ab.py " + shlex.join(sys.argv[1:])
    bench = Bench(args.mode, args, pytest_args)
    print(f"{command}", flush=True)
    started = time.time()
    lines, raw = MODES[args.mode](bench, spec, model)
    wall = time.time() - started
    header = [
        f"### reference_runtime= {args.mode}: {spec.description}, input {list(spec.shape)}",
        "",
        f"    {command}",
        "",
        f"- OpenVINO {ov.get_version()}, Python {platform.python_version()}, {cpu_name()} "
        f"({os.cpu_count()} logical CPUs); pytest options: `{' '.join(bench.common)}`",
    ]
    print()
    timing = timing_lines(raw["runs"], wall)
    timing.insert(
        1,
        f"- {wall / args.runs / 60:.2f} min per round of {len(raw['runs']) // args.runs} "
        f"pytest processes" + (" and 8 benchmark_app runs" if args.mode == "pair" else ""),
    )
    print("\n".join([*header, *timing, "", *lines]))
    out = ROOT / "bench" / "_work" / "side_runtime"
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {
        "command": command,
        "args": vars(args),
        "pytest_args": bench.common,
        "openvino": ov.get_version(),
        "python": sys.executable,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "model": str(model),
        "shape": list(spec.shape),
        "started": started,
        "wall_s": wall,
        "benchmark_app_here": shutil.which("benchmark_app"),
    }
    target.write_text(json.dumps({"meta": meta, **raw}, indent=1, default=str))
    print(f"\n[bench] wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
