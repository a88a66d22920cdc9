#!/usr/bin/env python
"""Measure pytest-ovperf against OpenVINO's ``benchmark_app`` on a real model, in one run.

Both tools get the same ONNX file (from a pinned PyPI wheel, see ``wheel_models.py``), the
same static shape, the same device, ``INFERENCE_PRECISION_HINT=f32`` and the same
performance hint:

* latency:    ``benchmark_app -hint latency -api sync``  vs  the plugin's ``compiled_model``
              fixture + ``perf_budget.measure_latency`` (LATENCY hint, one sync request);
* throughput: ``benchmark_app -hint throughput -api async`` (``-nireq`` left at its default,
              i.e. ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``)  vs  the plugin's ``infer_pool``
              fixture + ``perf_budget.measure_throughput`` (THROUGHPUT hint).

``-ip f32`` keeps benchmark_app from turning the image-like input into u8 (the plugin feeds
f32 tensors too). Each round runs four subprocesses, latency pair then throughput pair, in
ABBA order that flips every round (round 1: BA, plugin, plugin, BA; round 2: plugin, BA,
BA, plugin; ...), so drift of a shared machine lands on both tools alike. Per round it
reports plugin/benchmark_app ratios of p50 latency and of fps, then their median.

Usage::

    python bench/compare_benchmark_app.py --rounds 3 --bench-seconds 10 --model det \\
        --json bench/_work/det.json -- --ovperf-max-time=5

Everything after ``--`` (and any option this script does not know) goes to pytest.
``--skip-plugin`` runs the benchmark_app half only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_load import foreign_load, snapshot, wait_for_quiet
from wheel_models import (
    DEFAULT_WORK_DIR,
    MODELS,
    WHEEL_FILE,
    WHEEL_SHA256,
    BenchModel,
    model_path,
)

BA = "benchmark_app"
PLUGIN = "pytest-ovperf"
KINDS = ("latency", "throughput")
OUTLIER_FRACTION = 0.25
_BA_HINT_API = {"latency": ("latency", "sync"), "throughput": ("throughput", "async")}


@dataclass
class Run:
    """One subprocess: one tool measuring one kind once."""

    tool: str
    kind: str
    round: int
    position: int  # 1-based place inside the round
    p50_ms: float | None = None
    fps: float | None = None
    n: int | None = None
    measure_s: float | None = None  # time spent measuring (benchmark_app: its -t loop)
    wall_s: float = math.nan  # whole subprocess, start-up and compile included
    compile_ms: float | None = None
    first_inference_ms: float | None = None
    ci: list[float] | None = None
    requests: int | None = None
    verdict: str | None = None
    foreign_cpus: float | None = None  # average CPUs other processes used during the run
    steal_s: float | None = None  # hypervisor steal time during the run, all CPUs
    waited_s: float | None = None  # waiting for a quiet machine before the run
    attempt: int = 1
    raw: dict[str, Any] = field(default_factory=dict)


class RunFailed(RuntimeError):
    pass


# --------------------------------------------------------------------------- benchmark_app


def find_benchmark_app(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "benchmark_app"
    if beside.is_file():
        return str(beside)
    found = shutil.which("benchmark_app")
    if found is None:
        raise SystemExit("benchmark_app not found; pass --benchmark-app PATH")
    return found


def benchmark_app_command(
    exe: str, model: Path, spec: BenchModel, kind: str, device: str, seconds: int, report: Path
) -> list[str]:
    hint, api = _BA_HINT_API[kind]
    return [
        exe,
        "-m",
        str(model),
        "-d",
        device,
        "-hint",
        hint,
        "-api",
        api,
        "-infer_precision",
        "f32",
        "-ip",
        "f32",
        "-shape",
        spec.benchmark_app_shape(),
        "-t",
        str(seconds),
        "-report_type",
        "no_counters",
        "-report_folder",
        str(report),
        "-json_stats",
    ]


_CONSOLE_MEDIAN = re.compile(r"Median:\s*([0-9.]+)\s*(ms|us)")
_CONSOLE_FPS = re.compile(r"Throughput:\s*([0-9.]+)\s*FPS")
_CONSOLE_NIREQ = re.compile(r"(\d+) inference requests")


def parse_benchmark_app(report: dict[str, Any], console: str) -> dict[str, Any]:
    """Figures from benchmark_app's JSON report, the console log as fallback.

    The JSON values carry two decimals in ms; below 1 ms average the console prints
    microseconds, which is finer, so the console median wins there.
    """
    results = report.get("execution_results", {})
    config = report.get("configuration_setup", {})

    def number(key: str) -> float | None:
        value = results.get(key)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    p50 = number("latency (ms)")
    fps = number("throughput")
    match = _CONSOLE_MEDIAN.search(console)
    if match:
        console_p50 = float(match.group(1)) / (1000.0 if match.group(2) == "us" else 1.0)
        if p50 is None or p50 < 1.0:
            p50 = console_p50
    if fps is None and (fps_match := _CONSOLE_FPS.search(console)):
        fps = float(fps_match.group(1))
    if p50 is None or fps is None:
        raise RunFailed("could not read median latency / throughput from benchmark_app")
    total_ms = number("total execution time (ms)")
    iterations = results.get("total number of iterations")
    nireq = config.get("number of parallel infer requests")
    if nireq is None and (nireq_match := _CONSOLE_NIREQ.search(console)):
        nireq = nireq_match.group(1)
    return {
        "p50_ms": p50,
        "fps": fps,
        "n": int(iterations) if iterations is not None else None,
        "measure_s": total_ms / 1000.0 if total_ms is not None else None,
        "compile_ms": number("compile model time (ms)"),
        "first_inference_ms": number("first inference time (ms)"),
        "requests": int(nireq) if nireq is not None else None,
        "mean_ms": number("avg latency"),
    }


def run_benchmark_app(
    exe: str, model: Path, spec: BenchModel, kind: str, device: str, seconds: int, run: Run
) -> Run:
    with tempfile.TemporaryDirectory(prefix="ovperf-ba-") as tmp:
        report_dir = Path(tmp)
        command = benchmark_app_command(exe, model, spec, kind, device, seconds, report_dir)
        started = time.perf_counter()
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 600, check=False
        )
        run.wall_s = time.perf_counter() - started
        console = done.stdout + done.stderr
        if done.returncode != 0:
            raise RunFailed(
                f"benchmark_app {kind} exited {done.returncode}:\n{_tail(console)}\n"
                f"command: {' '.join(command)}"
            )
        report_file = report_dir / "benchmark_report.json"
        report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    figures = parse_benchmark_app(report, console)
    run.p50_ms = figures["p50_ms"]
    run.fps = figures["fps"]
    run.n = figures["n"]
    run.measure_s = figures["measure_s"]
    run.compile_ms = figures["compile_ms"]
    run.first_inference_ms = figures["first_inference_ms"]
    run.requests = figures["requests"]
    run.raw = {"command": command, "report": report, "mean_ms": figures["mean_ms"]}
    return run


# --------------------------------------------------------------------------- plugin


def plugin_test_source(model: Path, spec: BenchModel, device: str) -> str:
    shape = {spec.input_name: spec.shape_list}
    return textwrap.dedent(
        f"""\
        import pytest

        MODEL = {str(model)!r}


        @pytest.mark.ovperf_model(MODEL, shape={shape!r})
        @pytest.mark.ovperf_budget(device={device!r}, precision="f32", latency_ms=10000.0)
        def test_latency(compiled_model, perf_budget):
            perf_budget.measure_latency(compiled_model)


        @pytest.mark.ovperf_model(MODEL, shape={shape!r})
        @pytest.mark.ovperf_budget(device={device!r}, precision="f32", throughput_fps=0.001)
        def test_throughput(infer_pool, perf_budget):
            perf_budget.measure_throughput(infer_pool)
        """
    )


def check_plugin_installed() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import pytest_ovperf.plugin"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise SystemExit(
            "pytest_ovperf is not importable from this interpreter "
            f"({sys.executable}); run `pip install -e .` in the repository first.\n"
            + _tail(probe.stderr)
        )


def run_plugin(test_file: Path, kind: str, device: str, pytest_args: list[str], run: Run) -> Run:
    out_json = test_file.parent / f"r{run.round}-{kind}.ovperf.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"{test_file}::test_{kind}",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--ovperf-device={device}",
        "--ovperf-precision=f32",
        f"--ovperf-json={out_json}",
        *pytest_args,
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=test_file.parent,
    )
    run.wall_s = time.perf_counter() - started
    console = done.stdout + done.stderr
    if done.returncode != 0 or not out_json.is_file():
        raise RunFailed(
            f"pytest ({kind}) exited {done.returncode}"
            + ("" if out_json.is_file() else f", no report at {out_json}")
            + f":\n{_tail(console)}\ncommand: {' '.join(command)}"
        )
    # imported here: check_plugin_installed names a missing plugin before any run
    from pytest_ovperf.records import ReportError, read_report, records_of

    try:
        report = read_report(out_json)
    except ReportError as exc:
        raise RunFailed(str(exc)) from None
    results = [r for r in records_of(report) if r["kind"] == kind]
    if len(results) != 1:
        raise RunFailed(f"expected one {kind} result in {out_json}, got {len(results)}: {report}")
    result = results[0]
    run.p50_ms = _float(result.get("p50_ms"))
    run.fps = _float(result.get("fps"))
    run.n = result.get("n")
    run.measure_s = _float(result.get("measure_s"))
    run.compile_ms = _float(result.get("compile_ms"))
    run.first_inference_ms = _float(result.get("first_inference_ms"))
    low, high = result["ci"]
    run.ci = [float(low), float(high)] if low is not None and high is not None else None
    run.requests = result.get("infer_requests")
    run.verdict = result["budget_verdict"]
    run.raw = {"command": command, "result": result}
    if (kind == "latency" and run.p50_ms is None) or (kind == "throughput" and run.fps is None):
        raise RunFailed(f"{kind} result lacks its headline figure: {result}")
    return run


# --------------------------------------------------------------------------- schedule


def round_schedule(round_index: int) -> list[tuple[str, str]]:
    """ABBA inside each round, mirrored on alternate rounds."""
    first, second = (BA, PLUGIN) if round_index % 2 == 0 else (PLUGIN, BA)
    return [
        (first, "latency"),
        (second, "latency"),
        (second, "throughput"),
        (first, "throughput"),
    ]


def run_all(args: argparse.Namespace, pytest_args: list[str]) -> dict[str, Any]:
    spec = MODELS[args.model]
    model = model_path(spec, Path(args.work_dir))
    exe = find_benchmark_app(args.benchmark_app)
    if not args.skip_plugin:
        check_plugin_installed()
    runs: list[Run] = []
    discarded: list[Run] = []
    meta = environment(spec, model, args, exe, pytest_args)
    print(
        f"[bench] {spec.key}: {model} shape {spec.shape_list} on {args.device}, "
        f"{args.rounds} rounds, benchmark_app -t {args.bench_seconds}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="ovperf-bench-") as tmp:
        test_file = Path(tmp) / "test_ovperf_vs_benchmark_app.py"
        test_file.write_text(plugin_test_source(model, spec, args.device))
        error: str | None = None
        try:
            for round_index in range(args.rounds):
                for position, (tool, kind) in enumerate(round_schedule(round_index), 1):
                    if tool == PLUGIN and args.skip_plugin:
                        continue
                    run = measure_once(
                        args,
                        exe,
                        model,
                        spec,
                        test_file,
                        pytest_args,
                        tool,
                        kind,
                        round_index + 1,
                        position,
                        discarded,
                        first=not runs and not discarded,
                    )
                    runs.append(run)
        except (RunFailed, subprocess.TimeoutExpired) as exc:
            error = str(exc)
            print(f"[bench] FAILED: {error}", file=sys.stderr)
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {
        "meta": meta,
        "runs": [asdict(r) for r in runs],
        "discarded": [asdict(r) for r in discarded],
        "summary": summarise(runs),
        "error": error,
    }


def measure_once(
    args: argparse.Namespace,
    exe: str,
    model: Path,
    spec: BenchModel,
    test_file: Path,
    pytest_args: list[str],
    tool: str,
    kind: str,
    round_no: int,
    position: int,
    discarded: list[Run],
    first: bool,
) -> Run:
    """One measurement in a quiet moment; retried while other processes load the CPU."""
    attempt = 0
    while True:
        attempt += 1
        if not first or attempt > 1:
            time.sleep(args.pause)
        waited, _ = wait_for_quiet(args.quiet_threshold, args.quiet_wait)
        run = Run(tool, kind, round_no, position, attempt=attempt, waited_s=waited)
        before = snapshot()
        if tool == BA:
            run_benchmark_app(exe, model, spec, kind, args.device, args.bench_seconds, run)
        else:
            run_plugin(test_file, kind, args.device, pytest_args, run)
        load = foreign_load(before, snapshot())
        if load is not None:
            run.foreign_cpus, run.steal_s = load.cpus, load.steal_s
        disturbed = run.foreign_cpus is not None and run.foreign_cpus > args.quiet_threshold
        print(
            f"[bench] {_describe(run)}" + ("  -> DISTURBED, discarded" if disturbed else ""),
            file=sys.stderr,
        )
        if not disturbed or attempt > args.retries:
            return run
        discarded.append(run)


def environment(
    spec: BenchModel, model: Path, args: argparse.Namespace, exe: str, pytest_args: list[str]
) -> dict[str, Any]:
    import openvino as ov

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model_key": spec.key,
        "model_description": spec.description,
        "model_file": str(model),
        "wheel": WHEEL_FILE,
        "wheel_sha256": WHEEL_SHA256,
        "shape": spec.benchmark_app_shape(),
        "device": args.device,
        "precision": "f32",
        "rounds": args.rounds,
        "bench_seconds": args.bench_seconds,
        "quiet_threshold": args.quiet_threshold,
        "benchmark_app": exe,
        "pytest_args": pytest_args,
        "openvino": ov.get_version(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }


# --------------------------------------------------------------------------- summary


def _pairs(runs: list[Run], kind: str) -> list[tuple[Run, Run]]:
    pairs = []
    for round_no in sorted({r.round for r in runs}):
        by_tool = {r.tool: r for r in runs if r.round == round_no and r.kind == kind}
        if BA in by_tool and PLUGIN in by_tool:
            pairs.append((by_tool[BA], by_tool[PLUGIN]))
    return pairs


def summarise(runs: list[Run]) -> dict[str, Any]:
    lat = _pairs(runs, "latency")
    tput = _pairs(runs, "throughput")
    p50_ratios = [p.p50_ms / b.p50_ms for b, p in lat if p.p50_ms and b.p50_ms]
    fps_ratios = [p.fps / b.fps for b, p in tput if p.fps and b.fps]

    def median(values: list[float]) -> float | None:
        return float(np.median(values)) if values else None

    def collect(tool: str, kind: str, attr: str) -> list[float]:
        values = [getattr(r, attr) for r in runs if r.tool == tool and r.kind == kind]
        return [float(v) for v in values if v is not None]

    summary: dict[str, Any] = {
        "p50_ratio_per_round": p50_ratios,
        "fps_ratio_per_round": fps_ratios,
        "p50_ratio_median": median(p50_ratios),
        "fps_ratio_median": median(fps_ratios),
        "ba_p50_in_plugin_ci": [
            bool(p.ci[0] <= b.p50_ms <= p.ci[1]) if p.ci and b.p50_ms else None for b, p in lat
        ],
        "ba_fps_in_plugin_ci": [
            bool(p.ci[0] <= b.fps <= p.ci[1]) if p.ci and b.fps else None for b, p in tput
        ],
    }
    for tool in (BA, PLUGIN):
        for kind in KINDS:
            for attr in ("p50_ms", "fps", "measure_s", "wall_s"):
                summary[f"{tool}.{kind}.{attr}.median"] = median(collect(tool, kind, attr))
    return summary


def _outliers(runs: list[Run]) -> set[int]:
    """ids of runs whose headline figure is far from the same tool's median for its kind."""
    odd: set[int] = set()
    for tool in (BA, PLUGIN):
        for kind, attr in (("latency", "p50_ms"), ("throughput", "fps")):
            group = [r for r in runs if r.tool == tool and r.kind == kind]
            values = [getattr(r, attr) for r in group if getattr(r, attr)]
            if len(values) < 3:
                continue
            centre = float(np.median(values))
            odd.update(
                id(r)
                for r in group
                if getattr(r, attr) and abs(getattr(r, attr) / centre - 1.0) > OUTLIER_FRACTION
            )
    return odd


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _ci(run: Run) -> str:
    return f"[{run.ci[0]:.2f}, {run.ci[1]:.2f}]" if run.ci else "-"


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    known = {f.name for f in fields(Run)}
    runs = [Run(**{k: v for k, v in r.items() if k in known}) for r in result["runs"]]
    summary = result["summary"]
    lines = [
        f"### pytest-ovperf vs benchmark_app: {meta['model_key']} ({meta['model_description']})",
        "",
        f"- model: `{Path(meta['model_file']).name}` from `{meta['wheel']}`, "
        f"shape `{meta['shape']}`, device {meta['device']}, precision f32 "
        f"(`INFERENCE_PRECISION_HINT=f32`, benchmark_app `-ip f32`)",
        f"- OpenVINO {meta['openvino']}, Python {meta['python']}, {meta['cpu']} "
        f"({meta['cpu_count']} logical CPUs)",
        f"- {meta['rounds']} rounds, benchmark_app `-t {meta['bench_seconds']}`, "
        f"plugin pytest args: `{' '.join(meta['pytest_args']) or '(defaults)'}`",
        "- latency: benchmark_app `-hint latency -api sync` vs `compiled_model` + "
        "`measure_latency`; throughput: `-hint throughput -api async` vs `infer_pool` + "
        "`measure_throughput`",
        "",
        "| round | kind | order | benchmark_app | pytest-ovperf | plugin 95% CI | "
        "ratio plugin/BA | n BA / plugin | measure s BA / plugin | wall s BA / plugin | "
        "foreign CPUs BA / plugin |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    odd = _outliers(runs)
    for kind, unit, attr in (("latency", "p50 ms", "p50_ms"), ("throughput", "fps", "fps")):
        for b, p in _pairs(runs, kind):
            bv, pv = getattr(b, attr), getattr(p, attr)
            order = "BA first" if b.position < p.position else "plugin first"
            b_mark = " †" if id(b) in odd else ""
            p_mark = " †" if id(p) in odd else ""
            lines.append(
                f"| {b.round} | {kind} ({unit}) | {order} | {_fmt(bv)}{b_mark} "
                f"| {_fmt(pv)}{p_mark} | {_ci(p)} "
                f"| {_fmt(pv / bv if bv and pv else None, 3)} | {b.n} / {p.n} "
                f"| {_fmt(b.measure_s)} / {_fmt(p.measure_s)} "
                f"| {_fmt(b.wall_s, 1)} / {_fmt(p.wall_s, 1)} "
                f"| {_fmt(b.foreign_cpus)} / {_fmt(p.foreign_cpus)} |"
            )
    lines += [
        "",
        f"- median p50 ratio (plugin/benchmark_app): **{_fmt(summary['p50_ratio_median'], 3)}**"
        f" (per round: {', '.join(_fmt(v, 3) for v in summary['p50_ratio_per_round'])})",
        f"- median fps ratio (plugin/benchmark_app): **{_fmt(summary['fps_ratio_median'], 3)}**"
        f" (per round: {', '.join(_fmt(v, 3) for v in summary['fps_ratio_per_round'])})",
        f"- median across rounds: p50 benchmark_app "
        f"{_fmt(summary[f'{BA}.latency.p50_ms.median'])} ms vs plugin "
        f"{_fmt(summary[f'{PLUGIN}.latency.p50_ms.median'])} ms; fps benchmark_app "
        f"{_fmt(summary[f'{BA}.throughput.fps.median'])} vs plugin "
        f"{_fmt(summary[f'{PLUGIN}.throughput.fps.median'])}",
        f"- measuring time per latency verdict, median: plugin "
        f"{_fmt(summary[f'{PLUGIN}.latency.measure_s.median'])} s vs benchmark_app "
        f"{_fmt(summary[f'{BA}.latency.measure_s.median'])} s; per throughput verdict: plugin "
        f"{_fmt(summary[f'{PLUGIN}.throughput.measure_s.median'])} s vs benchmark_app "
        f"{_fmt(summary[f'{BA}.throughput.measure_s.median'])} s",
        f"- whole subprocess (start-up, read, compile, warm-up, measure), median latency run: "
        f"plugin {_fmt(summary[f'{PLUGIN}.latency.wall_s.median'], 1)} s vs benchmark_app "
        f"{_fmt(summary[f'{BA}.latency.wall_s.median'], 1)} s",
        f"- benchmark_app p50 inside the plugin's CI per round: "
        f"{summary['ba_p50_in_plugin_ci']}; benchmark_app fps inside the plugin's CI: "
        f"{summary['ba_fps_in_plugin_ci']}",
    ]
    if result.get("discarded"):
        lines.append(
            f"- {len(result['discarded'])} run(s) repeated because other processes used more "
            f"than {meta.get('quiet_threshold', '?')} CPUs on average during them (see JSON)"
        )
    if odd:
        lines.append(
            f"- † more than {OUTLIER_FRACTION:.0%} away from the same tool's median over the "
            "rounds: a disturbed run (shared/virtualised CPU), kept in the medians"
        )
    if not _pairs(runs, "latency"):
        lines += [
            "",
            "| round | kind | benchmark_app p50 ms | fps | n | measure s | wall s |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.round} | {r.kind} | {_fmt(r.p50_ms)} | {_fmt(r.fps)} | {r.n} "
            f"| {_fmt(r.measure_s)} | {_fmt(r.wall_s, 1)} |"
            for r in runs
            if r.tool == BA
        ]
    if result.get("error"):
        lines += ["", f"**Run stopped early:** {result['error'].splitlines()[0]}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _describe(run: Run) -> str:
    figure = f"p50 {_fmt(run.p50_ms, 3)} ms" if run.kind == "latency" else f"{_fmt(run.fps)} fps"
    return (
        f"round {run.round} #{run.position} {run.tool:<13} {run.kind:<10} {figure}, "
        f"n={run.n}, measure {_fmt(run.measure_s)} s, wall {_fmt(run.wall_s, 1)} s, "
        f"requests {run.requests}, foreign CPUs {_fmt(run.foreign_cpus)}, "
        f"steal {_fmt(run.steal_s)} s, waited {_fmt(run.waited_s, 1)} s, attempt {run.attempt}"
    )


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    else:
        passthrough = []
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        allow_abbrev=False,
    )
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds (default 3)")
    parser.add_argument(
        "--bench-seconds", type=int, default=10, help="benchmark_app -t per run (default 10)"
    )
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="det",
        help="model from the rapidocr wheel (default det)",
    )
    parser.add_argument("--device", default="CPU", help="OpenVINO device (default CPU)")
    parser.add_argument("--json", type=Path, default=None, help="write raw runs + summary here")
    parser.add_argument(
        "--work-dir",
        default=str(DEFAULT_WORK_DIR),
        help="where the wheel and models are cached (default bench/_work)",
    )
    parser.add_argument("--benchmark-app", default=None, help="benchmark_app executable")
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds of idle between runs (default 1)"
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=0.25,
        help="CPUs other processes may use: wait before a run until below it, and repeat a "
        "run whose average foreign load exceeded it (default 0.25)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        help="longest wait for a quiet machine before each run, seconds (default 300)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help="repeats of a run disturbed by foreign load before it is kept anyway (default 3)",
    )
    parser.add_argument(
        "--skip-plugin", action="store_true", help="run the benchmark_app half only"
    )
    args, unknown = parser.parse_known_args(argv)
    if args.rounds < 1 or args.bench_seconds < 1:
        parser.error("--rounds and --bench-seconds must be positive")
    return args, unknown + passthrough


def main(argv: list[str] | None = None) -> int:
    args, pytest_args = parse_args(sys.argv[1:] if argv is None else argv)
    result = run_all(args, pytest_args)
    print(markdown(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"[bench] wrote {args.json}", file=sys.stderr)
    return 1 if result["error"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
