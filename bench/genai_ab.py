"""Live series of the generation gate (``ovperf_llm``, ``measure_generation``) on a tiny LLM
pipeline of ``pytest_ovperf.testing.tiny_llm``: A/B false alarms and power, every verdict a
separate pytest process, and the fidelity of the plugin's TTFT/TPOT against a direct
``perf_metrics`` loop as openvino.genai's ``benchmark_genai.py`` sample takes it.

Pipelines: ``tiny_llm(layers=2)`` (the baseline's) and ``tiny_llm(layers=4)`` (the same model
deeper, slower per token), at the CPU's default inference precision (no precision forced).
One test, ``test_generation``, calls ``perf_budget.measure_generation(llm_pipeline)`` with
``prompt_tokens`` / ``new_tokens``; its two results, kinds ``ttft`` and ``tpot``, each get a
verdict against their own baseline entry. Part ``ab``:

* one recording process (``--ovperf-update-baselines``) with the layers=2 pipeline;
* ``--runs`` rounds, each an A/A run (the layers=2 pipeline, ``--ovperf-compare=ab``: both
  sides the same pipeline, so a ``regression`` is a false alarm and the mean log ratio is
  the bias) and a "deeper" run (the test's pipeline is the layers=4 one; the default
  ``--ovperf-compare=auto`` measures it A/B against the baseline's layers=2 copy because the
  model changed); the two take turns going first.

Every pytest run gets ``--ovperf-inconclusive=warn`` and writes a JSON report
(``--ovperf-json``); verdicts, ratios, intervals, foreign load, call count and measuring time
are read from it. A run is **noisy** when other processes used more than 15% of the machine's
CPU while it measured (its ``foreign_load``; the plugin's ``--ovperf-max-foreign-load``) or
when the 95% interval of either kind's ratio is wide: half width on the log scale over
``--wide`` (default 2.5%, half the 5% regression threshold: such an interval cannot tell
"unchanged" from a 5% slowdown). Otherwise it is **quiet**. Other pytest processes (anyone's
``pytest`` not started by this script) are watched every second while each of this script's
processes runs; the runs they overlapped are named.

Part ``fidelity``: ``--rounds`` rounds, each one plugin process (the layers=2 pipeline, no
baseline, ``--ovperf-min-time`` = ``--ovperf-max-time`` = ``--seconds``) and one direct
process, the first side alternating round by round (ABBA). The direct process mirrors
``benchmark_genai.py``: ``LLMPipeline`` loaded with the properties the plugin uses
(``runtime/generation.py``: the CPU's default ``INFERENCE_PRECISION_HINT``,
``ATTENTION_BACKEND`` PA with a ``SchedulerConfig`` whose prefix caching is off and whose
batch limit (2**32 tokens) never splits the prompt, SDPA where PA cannot load), one warm-up
call, then greedy calls (``GenerationConfig(max_new_tokens=N, min_new_tokens=N,
ignore_eos=True, do_sample=False)``) for ``--seconds``, their ``perf_metrics`` summed with
``+``. Its prompts (``--direct-prompts``) are by default the plugin's own (``prompt_ids``:
another each call, the same sequence), so that both sides do the same work;
``fixed`` repeats one prompt, as benchmark_genai does, which reads the time to first token
about 4% lower on the tiny LLM even with the prefix cache off (the same token ids stay in
the CPU's caches); its figures are the summed metrics'
``get_ttft().mean`` and ``get_tpot().mean`` (arithmetic means, benchmark_genai's) and, beside
them, the geometric means of the calls' own figures (the plugin's statistic). The plugin's
ratio over the direct loop's, per round; the median over rounds is the figure (target: within
3%).

    python bench/genai_ab.py --runs 20 --rounds 8
    python bench/genai_ab.py --parts fidelity --rounds 8 --direct-prompts fixed

Prints markdown tables, with the command at the top; the raw data go to
``bench/_work/genai_ab/<time>.json`` (git-ignored). Before the first process the script waits
(``--wait-minutes``, default 15) until no other pytest process runs. Options after ``--`` go
to every pytest run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cpu_load import foreign_load, snapshot
from replay_ab import upper_bound
from side_runtime_ab import ci_text, cpu_name, mean_interval, num, pct, tail
from workdir import ROOT, fresh_workdir

from pytest_ovperf.measure.generation import MAX_CALLS
from pytest_ovperf.runtime.generation import PAGED, STATEFUL, backend_properties, prompt_ids

KINDS = ("ttft", "tpot")
VERDICTS = ("regression", "unchanged", "improvement", "inconclusive")
AA, DEEPER = "A/A", "deeper"
#: the marker's arguments (pipeline directory, prompt and new tokens), as JSON
MARK_ENV = "OVPERF_BENCH_LLM"
TEST = """
import json
import os

import pytest

MARK = json.loads(os.environ["OVPERF_BENCH_LLM"])


@pytest.mark.ovperf_llm(
    MARK["path"], prompt_tokens=MARK["prompt_tokens"], new_tokens=MARK["new_tokens"]
)
def test_generation(perf_budget, llm_pipeline):
    perf_budget.measure_generation(llm_pipeline)
"""
#: above this share of the machine's CPU used by other processes a run is noisy (the
#: plugin's default --ovperf-max-foreign-load)
MAX_FOREIGN_LOAD = 0.15
#: the agreement of the plugin with the direct loop the fidelity part should reach
FIDELITY_TARGET = 0.03
#: what a guarded inconclusive message adds: the verdict statistics alone gave
UNGUARDED = "(statistical verdict without this guard: "
#: seed of the direct loop's prompt
DIRECT_PROMPT_SEED = 20261204


# --------------------------------------------------------------------------- other pytest


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of the processes now running."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name in stat is in parentheses and may hold spaces
        fields = stat.rsplit(")", 1)[-1].split()
        try:
            parent = int(fields[1])
        except (IndexError, ValueError):
            continue
        table[int(entry.name)] = (parent, raw.replace(b"\0", b" ").decode(errors="replace"))
    return table


def other_pytest() -> dict[int, str]:
    """pid -> command line of the pytest processes running now that are not this script's
    (``pgrep -f pytest`` less this process and its descendants)."""
    table = _proc_table()
    me = os.getpid()
    found: dict[int, str] = {}
    for pid, (_, command) in table.items():
        if "pytest" not in command or pid == me:
            continue
        ancestor, seen = pid, 0
        while ancestor in table and ancestor != me and seen < 64:
            ancestor, seen = table[ancestor][0], seen + 1
        if ancestor != me:
            found[pid] = command.strip()
    return found


class PytestWatch:
    """Other pytest processes seen while a block of this script runs (polled every second)."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.seen: dict[int, str] = {}
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while True:
            with contextlib.suppress(OSError):
                self.seen.update(other_pytest())
            if self._stop.wait(self._every):
                return

    def __enter__(self) -> PytestWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> list[str]:
        return [f"{pid}: {command[:140]}" for pid, command in sorted(self.seen.items())]


def wait_for_no_pytest(minutes: float) -> tuple[float, list[str]]:
    """Wait (polling every 10 s) until no other pytest process runs, at most ``minutes``;
    the seconds waited and the ones still running when it gave up."""
    started = time.perf_counter()
    while True:
        running = other_pytest()
        waited = time.perf_counter() - started
        if not running or waited >= minutes * 60:
            return waited, [f"{pid}: {cmd[:140]}" for pid, cmd in sorted(running.items())]
        print(
            f"[wait] {len(running)} other pytest process(es) running, waited {waited:.0f} s",
            flush=True,
        )
        time.sleep(10.0)


# --------------------------------------------------------------------------- part ab


@dataclass
class KindResult:
    verdict: str = "error"
    method: str | None = None
    ratio: float | None = None
    ratio_ci: list[float | None] | None = None
    #: the kind's headline figure this side (ttft_ms / tpot_ms, geometric mean over calls)
    value: float | None = None
    #: an inconclusive verdict's statistical verdict without the guard (from its message)
    unguarded: str | None = None
    remeasured: bool = False
    #: a re-measured run (``--ovperf-confirm``; the verdict above is the re-measure's): the
    #: kind whose regression the first measurement failed on (the plugin names one, the
    #: first of the test to fail), else None
    first_failure: str | None = None
    message: str = ""


@dataclass
class PluginRun:
    """One pytest process: one measurement, a verdict per kind."""

    scenario: str
    round: int
    name: str
    seconds: float = math.nan
    returncode: int | None = None
    error: str | None = None
    foreign_load: float | None = None
    n: int | None = None
    measure_s: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    tokens_per_s: float | None = None
    backend: str | None = None
    precision: str | None = None
    kinds: dict[str, KindResult] = field(default_factory=dict)
    #: other pytest processes that ran at the same time (pid: command line)
    overlap: list[str] = field(default_factory=list)
    #: why the run is noisy ("load", "wide"); empty: quiet
    noisy: list[str] = field(default_factory=list)


def half_width(ci: Sequence[float | None] | None) -> float:
    """Half width of a ratio interval on the log scale (NaN without one)."""
    if not ci or ci[0] is None or ci[1] is None or ci[0] <= 0:
        return math.nan
    return math.log(ci[1] / ci[0]) / 2


class Bench:
    """The work directory, its pipelines and the pytest options every run gets."""

    def __init__(self, args: argparse.Namespace, pytest_args: list[str]) -> None:
        from pytest_ovperf.testing import tiny_llm

        self.args = args
        self.work, self.env = fresh_workdir("genai_ab/work")
        (self.work / "test_bench.py").write_text(TEST)
        self.fidelity = self.work / "fidelity"
        self.fidelity.mkdir()
        (self.fidelity / "test_bench.py").write_text(TEST)
        (self.fidelity / "pytest.ini").write_text("[pytest]\n")
        self.pipelines = {
            layers: tiny_llm(self.work / "pipelines" / f"layers{layers}", layers=layers)
            for layers in (2, 4)
        }
        self.common = ["--ovperf-inconclusive=warn", *pytest_args]
        (self.work / "reports").mkdir()

    def mark(self, layers: int) -> str:
        return json.dumps(
            {
                "path": str(self.pipelines[layers]),
                "prompt_tokens": self.args.prompt_tokens,
                "new_tokens": self.args.new_tokens,
            }
        )

    def pytest(
        self, name: str, layers: int, options: Sequence[str], cwd: Path | None = None
    ) -> tuple[list[dict[str, Any]], PytestWatch, float, str | None, int | None]:
        """One pytest process: its records, the watch, seconds, error, return code."""
        report = self.work / "reports" / f"{name}.json"
        command = [
            sys.executable, "-m", "pytest", "test_bench.py", "-q", "-p", "no:cacheprovider",
            f"--ovperf-json={report}", *self.common, *options,
        ]  # fmt: skip
        if self.args.pause > 0:
            time.sleep(self.args.pause)
        started = time.perf_counter()
        with PytestWatch() as watch:
            try:
                done = subprocess.run(
                    command,
                    cwd=cwd or self.work,
                    env={**self.env, MARK_ENV: self.mark(layers)},
                    capture_output=True,
                    text=True,
                    timeout=self.args.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return [], watch, time.perf_counter() - started, "timed out", None
        seconds = time.perf_counter() - started
        records: list[dict[str, Any]] = []
        error = None
        if report.exists():
            records = list(json.loads(report.read_text()).get("results", []))
        if done.returncode not in (0, 1) or sorted(r.get("kind") for r in records) != sorted(KINDS):
            error = f"pytest exited {done.returncode} with {len(records)} record(s):\n" + tail(
                done.stdout + done.stderr
            )
        return records, watch, seconds, error, done.returncode

    def plugin_run(
        self, scenario: str, index: int, name: str, layers: int, *options: str
    ) -> PluginRun:
        run = PluginRun(scenario, index, name)
        records, watch, run.seconds, run.error, run.returncode = self.pytest(name, layers, options)
        run.overlap = watch.summary()
        if run.error is None:
            fill(run, records)
            if run.foreign_load is not None and run.foreign_load > MAX_FOREIGN_LOAD:
                run.noisy.append("load")
            widths = [half_width(k.ratio_ci) for k in run.kinds.values()]
            if any(w > self.args.wide for w in widths if not math.isnan(w)):
                run.noisy.append("wide")
        return run


def fill(run: PluginRun, records: Sequence[dict[str, Any]]) -> None:
    """``run``'s figures from its two result records."""
    for data in records:
        message = data.get("baseline_message") or ""
        unguarded = None
        if UNGUARDED in message:
            unguarded = message.split(UNGUARDED, 1)[1].split(")", 1)[0]
        run.kinds[data["kind"]] = KindResult(
            verdict=data.get("baseline_verdict") or "-",
            method=data.get("baseline_method"),
            ratio=data.get("ratio"),
            ratio_ci=data.get("ratio_ci"),
            value=data.get(f"{data['kind']}_ms"),
            unguarded=unguarded,
            remeasured="remeasure" in data,
            first_failure=first_failure_kind(data),
            message=message,
        )
    first = records[0]
    run.foreign_load = first.get("foreign_load")
    run.n = first.get("n")
    run.measure_s = first.get("measure_s")
    run.ttft_ms = first.get("ttft_ms")
    run.tpot_ms = first.get("tpot_ms")
    run.tokens_per_s = first.get("tokens_per_s")
    run.backend = first.get("attention_backend")
    run.precision = first.get("precision")


def first_failure_kind(data: dict[str, Any]) -> str | None:
    """The kind whose regression made the plugin re-measure this run (its ``remeasure``
    record's first failure: "ovperf REGRESSION against the baseline for ..., <kind>"), or
    None."""
    first = str((data.get("remeasure") or {}).get("first_failure") or "").split("\n", 1)[0]
    if "REGRESSION" not in first:
        return None
    return first.rsplit(", ", 1)[-1].strip()


def describe(run: PluginRun) -> str:
    if run.error:
        return f"ERROR ({run.seconds:.1f} s): {run.error.splitlines()[0]}"
    kinds = "; ".join(
        f"{kind} {k.verdict}{'/' + k.method if k.method else ''} {num(k.ratio)} "
        f"{ci_text(k.ratio_ci)}"
        for kind, k in run.kinds.items()
    )
    return (
        f"{kinds}; load {pct(run.foreign_load)}, n {run.n}, {num(run.measure_s, 1)} s measured, "
        f"{run.seconds:.1f} s, {run.backend} {run.precision}"
        + (f", noisy ({'+'.join(run.noisy)})" if run.noisy else "")
        + (f", OVERLAP {len(run.overlap)} other pytest" if run.overlap else "")
    )


def part_ab(bench: Bench) -> tuple[list[str], dict[str, Any]]:
    args = bench.args
    record = bench.plugin_run("record", 0, "record", 2, "--ovperf-update-baselines")
    print(f"[ab] record (layers=2): {describe(record)}", flush=True)
    if record.error:
        raise SystemExit(f"recording the baseline failed:\n{record.error}")
    runs: list[PluginRun] = []
    for index in range(1, args.runs + 1):
        order = (AA, DEEPER) if index % 2 == 1 else (DEEPER, AA)
        for scenario in order:
            if scenario == AA:
                run = bench.plugin_run(AA, index, f"{index}-aa", 2, "--ovperf-compare=ab")
            else:
                run = bench.plugin_run(DEEPER, index, f"{index}-deeper", 4)
            runs.append(run)
            print(f"[ab] round {index}/{args.runs} {scenario}: {describe(run)}", flush=True)
    lines: list[str] = []
    subsets = (
        ("all runs", runs),
        ("quiet runs", [r for r in runs if not r.noisy and not r.error]),
        ("noisy runs", [r for r in runs if r.noisy]),
    )
    for title, chosen in subsets:
        lines += [f"#### {title}", "", *summary_table(chosen), ""]
    lines += [
        "ratio: the test's pipeline over the baseline's copy (TTFT / TPOT, geometric means over "
        "calls, ABBA by call), so a positive mean log ratio is the test's side reading slower. "
        f"noisy: foreign load > {MAX_FOREIGN_LOAD:.0%} (load) or a ratio interval's log half "
        f"width > {args.wide:.1%} for either kind (wide). unguarded: what the statistics said "
        "for the inconclusive verdicts the busy guard made (its message); statistical: "
        "inconclusive on the statistics (the interval straddles the threshold). A/B method: "
        "the comparisons that were A/B. re-measured: runs the plugin measured again at the end "
        "(--ovperf-confirm, on by default) because the first measurement failed, and the kind "
        "whose regression it failed on (the plugin names one per run, the first of the test "
        "to fail); the verdict counted is the re-measure's. before confirm: the A/A runs whose "
        "first measurement was a regression of this kind.",
        "",
        *per_run_table([record, *runs]),
    ]
    return lines, {"record": asdict(record), "runs": [asdict(r) for r in runs]}


def summary_table(runs: Sequence[PluginRun]) -> list[str]:
    lines = [
        "| scenario | kind | runs | regression | unchanged | improvement | inconclusive | "
        "errors | target | met | A/B method | mean log ratio [95% t] | median ratio | "
        "median CI half width | inconclusive: unguarded | re-measured (first failure) | "
        "overlapped |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in (AA, DEEPER):
        mine = [r for r in runs if r.scenario == scenario]
        good = [r for r in mine if not r.error]
        for kind in KINDS:
            results = [r.kinds[kind] for r in good]
            counts = Counter(k.verdict for k in results)
            n = len(results)
            logs = [math.log(k.ratio) for k in results if k.ratio]
            mean, low, high = mean_interval(logs)
            widths = [w for w in (half_width(k.ratio_ci) for k in results) if not math.isnan(w)]
            unguarded = Counter(
                k.unguarded or "statistical" for k in results if k.verdict == "inconclusive"
            )
            before = sum(k.first_failure == kind for k in results)
            first = Counter(k.first_failure or "other" for k in results if k.remeasured)
            found = counts["regression"]
            if scenario == AA:
                target = "0 regression"
                met = (
                    f"{found}/{n} false (upper 95% {pct(upper_bound(found, n))}); "
                    f"{before} before confirm"
                )
            else:
                target = ">= 95% regression"
                met = f"{found}/{n} found"
            lines.append(
                f"| {scenario} | {kind} | {n} | {counts['regression']} | {counts['unchanged']} | "
                f"{counts['improvement']} | {counts['inconclusive']} | {len(mine) - n} | "
                f"{target} | {met} | {sum(k.method == 'ab' for k in results)}/{n} | "
                + log_mean_text(mean, low, high, len(logs))
                + f" | {num(statistics.median([math.exp(v) for v in logs]) if logs else None)}"
                f" | {pct(statistics.median(widths) if widths else None, 2)} | "
                + (", ".join(f"{v} {c}" for v, c in sorted(unguarded.items())) or "-")
                + f" | {sum(k.remeasured for k in results)}"
                + (f" ({', '.join(f'{v} {c}' for v, c in sorted(first.items()))})" if first else "")
                + " | "
                f"{sum(bool(r.overlap) for r in mine)} |"
            )
    return lines


def log_mean_text(mean: float, low: float, high: float, n: int) -> str:
    """The mean log ratio and its interval ("-" without values, no interval below two)."""
    if n == 0:
        return "-"
    if math.isnan(low):
        return f"{mean:+.2%}"
    return f"{mean:+.2%} [{low:+.2%}, {high:+.2%}]"


def per_run_table(runs: Sequence[PluginRun]) -> list[str]:
    lines = [
        "<details><summary>per run</summary>",
        "",
        "| round | scenario | ttft verdict | ttft ratio (95% CI) | tpot verdict | tpot ratio "
        "(95% CI) | ttft / tpot ms | foreign load | n calls | measure s | process s | noisy | "
        "overlap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        if run.error:
            lines.append(
                f"| {run.round} | {run.scenario} | error | - | error | - | - | - | - | - | "
                f"{run.seconds:.1f} | - | {len(run.overlap)} |"
            )
            continue
        cells = []
        for kind in KINDS:
            k = run.kinds[kind]
            verdict = k.verdict + (f" ({k.unguarded})" if k.unguarded else "")
            if k.first_failure == kind:
                verdict += ", first measurement: regression"
            cells += [verdict, f"{num(k.ratio)} {ci_text(k.ratio_ci)}"]
        lines.append(
            f"| {run.round} | {run.scenario} | {' | '.join(cells)} | {num(run.ttft_ms)} / "
            f"{num(run.tpot_ms)} | {pct(run.foreign_load)} | {run.n} | {num(run.measure_s, 2)} | "
            f"{run.seconds:.1f} | {'+'.join(run.noisy) or 'quiet'} | "
            f"{len(run.overlap) or '-'} |"
        )
    return [*lines, "", "</details>"]


# --------------------------------------------------------------------------- part fidelity


@dataclass
class FidelityRun:
    round: int
    side: str  # "plugin" or "direct"
    position: int
    seconds: float = math.nan
    error: str | None = None
    n: int | None = None
    measure_s: float | None = None
    #: plugin: its geometric means; direct: the summed perf_metrics' means (arithmetic)
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    #: direct: the geometric means of the calls' own figures
    ttft_geo_ms: float | None = None
    tpot_geo_ms: float | None = None
    backend: str | None = None
    precision: str | None = None
    load_ms: float | None = None
    #: other processes' share of the machine's CPU over the process (this script's view)
    foreign_load: float | None = None
    #: the plugin's own foreign load (over its measurement)
    plugin_foreign_load: float | None = None
    overlap: list[str] = field(default_factory=list)


def fidelity_plugin(bench: Bench, index: int, position: int) -> FidelityRun:
    seconds = bench.args.seconds
    run = FidelityRun(index, "plugin", position)
    before = snapshot()
    records, watch, run.seconds, run.error, _ = bench.pytest(
        f"fidelity-{index}-plugin",
        2,
        [f"--ovperf-min-time={seconds:g}", f"--ovperf-max-time={seconds:g}"],
        cwd=bench.fidelity,
    )
    load = foreign_load(before, snapshot())
    run.foreign_load = load.cpus / (os.cpu_count() or 1) if load is not None else None
    run.overlap = watch.summary()
    if run.error is None:
        first = records[0]
        run.n, run.measure_s = first.get("n"), first.get("measure_s")
        run.ttft_ms, run.tpot_ms = first.get("ttft_ms"), first.get("tpot_ms")
        run.backend, run.precision = first.get("attention_backend"), first.get("precision")
        run.load_ms = first.get("compile_ms")
        run.plugin_foreign_load = first.get("foreign_load")
    return run


def fidelity_direct(bench: Bench, index: int, position: int) -> FidelityRun:
    args = bench.args
    run = FidelityRun(index, "direct", position)
    out = bench.work / "reports" / f"fidelity-{index}-direct.json"
    command = [
        sys.executable, str(Path(__file__).resolve()), "--direct-worker",
        str(bench.pipelines[2]), "--seconds", f"{args.seconds:g}",
        "--prompt-tokens", str(args.prompt_tokens), "--new-tokens", str(args.new_tokens),
        "--prompts", args.direct_prompts, "--out", str(out),
    ]  # fmt: skip
    if args.pause > 0:
        time.sleep(args.pause)
    before = snapshot()
    started = time.perf_counter()
    with PytestWatch() as watch:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=args.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            run.error = "timed out"
            return run
    run.seconds = time.perf_counter() - started
    load = foreign_load(before, snapshot())
    run.foreign_load = load.cpus / (os.cpu_count() or 1) if load is not None else None
    run.overlap = watch.summary()
    if done.returncode != 0 or not out.exists():
        run.error = f"exited {done.returncode}:\n{tail(done.stdout + done.stderr)}"
        return run
    data = json.loads(out.read_text())
    for name in (
        "n", "measure_s", "ttft_ms", "tpot_ms", "ttft_geo_ms", "tpot_geo_ms", "backend",
        "precision", "load_ms",
    ):  # fmt: skip
        setattr(run, name, data[name])
    return run


def part_fidelity(bench: Bench) -> tuple[list[str], dict[str, Any]]:
    args = bench.args
    runs: list[FidelityRun] = []
    for index in range(1, args.rounds + 1):
        order = ("plugin", "direct") if index % 2 == 1 else ("direct", "plugin")
        for position, side in enumerate(order, 1):
            run = (fidelity_plugin if side == "plugin" else fidelity_direct)(bench, index, position)
            runs.append(run)
            print(
                f"[fidelity] round {index}/{args.rounds} {side}: "
                + (
                    f"ERROR {run.error.splitlines()[0]}"
                    if run.error
                    else f"TTFT {num(run.ttft_ms)} ms, TPOT {num(run.tpot_ms)} ms"
                    + (
                        f" (geo {num(run.ttft_geo_ms)} / {num(run.tpot_geo_ms)})"
                        if side == "direct"
                        else ""
                    )
                    + f", n {run.n}, {num(run.measure_s, 1)} s measured, load "
                    f"{pct(run.foreign_load)}, {run.backend} {run.precision}, {run.seconds:.1f} s"
                    + (f", OVERLAP {len(run.overlap)} other pytest" if run.overlap else "")
                ),
                flush=True,
            )
    ratios: dict[str, list[float]] = {}
    rows: list[str] = []
    for index in range(1, args.rounds + 1):
        plugin = next(r for r in runs if (r.round, r.side) == (index, "plugin"))
        direct = next(r for r in runs if (r.round, r.side) == (index, "direct"))
        cells: list[str] = []
        for figure in ("ttft", "tpot"):
            mine = getattr(plugin, f"{figure}_ms")
            for stat, theirs in (
                ("mean", getattr(direct, f"{figure}_ms")),
                ("geo", getattr(direct, f"{figure}_geo_ms")),
            ):
                ratio = mine / theirs if mine and theirs else None
                if ratio is not None:
                    ratios.setdefault(f"{figure}-{stat}", []).append(ratio)
                cells.append(num(ratio))
        rows.append(
            f"| {index} | {'plugin first' if plugin.position == 1 else 'direct first'} | "
            f"{num(plugin.ttft_ms)} / {num(plugin.tpot_ms)} | "
            f"{num(direct.ttft_ms)} / {num(direct.tpot_ms)} | "
            f"{num(direct.ttft_geo_ms)} / {num(direct.tpot_geo_ms)} | {' | '.join(cells)} | "
            f"{plugin.n} / {direct.n} | {num(plugin.measure_s, 1)} / {num(direct.measure_s, 1)} | "
            f"{pct(plugin.foreign_load)} / {pct(direct.foreign_load)} | "
            f"{len(plugin.overlap) + len(direct.overlap) or '-'} |"
        )
    lines = [
        "| figure | plugin (geometric mean over calls) over direct, statistic of the direct "
        "loop | rounds | median of rounds | rounds' ratios | within 3% |",
        "|---|---|---|---|---|---|",
    ]
    for figure in ("ttft", "tpot"):
        for stat, label in (
            ("mean", "benchmark_genai's: summed perf_metrics' mean (arithmetic)"),
            ("geo", "geometric mean of the calls (the plugin's statistic)"),
        ):
            values = ratios.get(f"{figure}-{stat}", [])
            middle = statistics.median(values) if values else math.nan
            lines.append(
                f"| {figure.upper()} | {label} | {len(values)} | **{num(middle)}** | "
                + ", ".join(num(v) for v in values)
                + " | "
                + within(middle)
                + " |"
            )
    backends = sorted({f"{r.side} {r.backend} {r.precision}" for r in runs if not r.error})
    lines += [
        "",
        f"- backends and precisions: {', '.join(backends)}",
        f"- errors: {sum(1 for r in runs if r.error)}",
        "",
        "<details><summary>per round</summary>",
        "",
        "| round | order | plugin TTFT / TPOT ms (geo) | direct TTFT / TPOT ms (mean) | direct "
        "TTFT / TPOT ms (geo) | TTFT plugin/mean | TTFT plugin/geo | TPOT plugin/mean | TPOT "
        "plugin/geo | n calls plugin / direct | measure s plugin / direct | foreign load "
        "plugin / direct | overlap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "</details>",
    ]
    return lines, {"fidelity": [asdict(r) for r in runs]}


def within(ratio: float) -> str:
    """Whether a fidelity ratio is within ``FIDELITY_TARGET`` of 1."""
    if math.isnan(ratio):
        return "-"
    return "yes" if abs(ratio - 1) <= FIDELITY_TARGET else "no"


# --------------------------------------------------------------------------- direct worker


def direct_worker(argv: list[str]) -> None:
    """The direct loop in a process of its own (``part_fidelity``), as benchmark_genai.py
    takes it; writes its figures to ``--out``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("pipeline")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--prompt-tokens", type=int, required=True)
    parser.add_argument("--new-tokens", type=int, required=True)
    parser.add_argument("--prompts", choices=("varied", "fixed"), required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import numpy as np
    import openvino as ov
    import openvino_genai as genai

    directory = Path(args.pipeline)
    precision = ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()
    failures: list[str] = []
    for backend in (PAGED, STATEFUL):
        # the plugin's own load properties of the backend (prefix cache off, unchunked)
        properties = backend_properties(genai, backend, {"INFERENCE_PRECISION_HINT": precision})
        started = time.perf_counter()
        try:
            pipe = genai.LLMPipeline(str(directory), "CPU", **properties)
        except Exception as exc:
            failures.append(f"{backend}: {exc}")
            continue
        load_ms = (time.perf_counter() - started) * 1e3
        break
    else:
        raise SystemExit(f"cannot load {directory}: {'; '.join(failures)}")
    config = genai.GenerationConfig()
    config.max_new_tokens = args.new_tokens
    config.min_new_tokens = args.new_tokens
    config.ignore_eos = True
    config.do_sample = False
    vocab = int(json.loads((directory / "config.json").read_text())["vocab_size"])
    fixed = np.random.default_rng(DIRECT_PROMPT_SEED).integers(
        4, vocab, size=(1, args.prompt_tokens), dtype=np.int64
    )

    def inputs(call: int) -> Any:
        # varied: the plugin's own prompts (``runtime/generation.prompt_ids``, another each
        # call, the warm-up taking call 0); fixed: one prompt repeated, as benchmark_genai
        ids = prompt_ids(vocab, args.prompt_tokens, call) if args.prompts == "varied" else fixed
        return genai.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids)))

    pipe.generate(inputs(0), config)  # warm-up (benchmark_genai's num_warmup=1)
    summed = None
    calls: list[tuple[float, float]] = []
    started = time.perf_counter()
    # the plugin's own limits: the time cap and MAX_CALLS calls, so both sides do the same
    # work in about the same time (a longer window meets more of the VM's slow spells)
    while time.perf_counter() - started < args.seconds and len(calls) < MAX_CALLS:
        metrics = pipe.generate(inputs(len(calls) + 1), config).perf_metrics
        if metrics.get_num_generated_tokens() != args.new_tokens:
            raise SystemExit(f"generated {metrics.get_num_generated_tokens()} tokens")
        calls.append((float(metrics.get_ttft().mean), float(metrics.get_tpot().mean)))
        summed = metrics if summed is None else summed + metrics
    measure_s = time.perf_counter() - started
    assert summed is not None

    def geo(values: Sequence[float]) -> float:
        return math.exp(statistics.fmean(math.log(v) for v in values))

    Path(args.out).write_text(
        json.dumps(
            {
                "n": len(calls),
                "measure_s": measure_s,
                "ttft_ms": float(summed.get_ttft().mean),
                "tpot_ms": float(summed.get_tpot().mean),
                "ttft_geo_ms": geo([c[0] for c in calls]),
                "tpot_geo_ms": geo([c[1] for c in calls]),
                "ttft_arith_of_calls_ms": statistics.fmean(c[0] for c in calls),
                "tpot_arith_of_calls_ms": statistics.fmean(c[1] for c in calls),
                "backend": backend,
                "backend_failures": failures,
                "precision": precision,
                "load_ms": load_ms,
            }
        )
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    else:
        passthrough = []
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--parts", nargs="+", choices=("ab", "fidelity"), default=["ab", "fidelity"]
    )
    parser.add_argument("--runs", type=int, default=20, help="A/A and deeper runs (default 20)")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument(
        "--wide",
        type=float,
        default=0.025,
        help="a run is noisy when a ratio interval's log half width exceeds this (0.025)",
    )
    parser.add_argument("--rounds", type=int, default=8, help="fidelity rounds (default 8)")
    parser.add_argument(
        "--direct-prompts",
        choices=("varied", "fixed"),
        default="varied",
        help="fidelity: the direct loop's prompts: the plugin's (another each call, the "
        "default) or one repeated, as benchmark_genai.py does (fixed)",
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="fidelity: seconds of calls per process"
    )
    parser.add_argument(
        "--wait-minutes",
        type=float,
        default=15.0,
        help="wait at most this long for other pytest processes to end before starting",
    )
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds of idle before every process (1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="longest a process may take (s)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rounds < 1:
        parser.error("--runs and --rounds must be positive")
    return args, passthrough


def main() -> None:
    if sys.argv[1:2] == ["--direct-worker"]:
        direct_worker(sys.argv[2:])
        return
    args, pytest_args = parse_args(sys.argv[1:])
    import openvino as ov

    command = "python bench/genai_ab.py " + shlex.join(sys.argv[1:])
    print(command, flush=True)
    started = time.time()
    waited, still = (0.0, [])
    if args.wait_minutes > 0:
        waited, still = wait_for_no_pytest(args.wait_minutes)
        print(
            f"[wait] waited {waited:.0f} s for other pytest processes"
            + (f"; still running: {still}" if still else ""),
            flush=True,
        )
    bench = Bench(args, pytest_args)
    bench_started = time.time()
    lines: list[str] = []
    raw: dict[str, Any] = {}
    if "ab" in args.parts:
        ab_lines, ab_raw = part_ab(bench)
        title = "### A/B: false alarms (A/A) and power (layers=4 against layers=2)"
        lines += [title, "", *ab_lines, ""]
        raw.update(ab_raw)
    if "fidelity" in args.parts:
        fid_lines, fid_raw = part_fidelity(bench)
        lines += ["### Fidelity: the plugin against a direct perf_metrics loop", "", *fid_lines, ""]
        raw.update(fid_raw)
    wall = time.time() - started
    overlapped = sorted(
        {
            line
            for group in ([raw.get("record", {})], raw.get("runs", []), raw.get("fidelity", []))
            for run in group
            for line in run.get("overlap", [])
        }
    )
    header = [
        f"### genai_ab: tiny_llm layers=2 (baseline) / layers=4, prompt {args.prompt_tokens} "
        f"tokens, {args.new_tokens} new tokens",
        "",
        f"    {command}",
        "",
        f"- OpenVINO {ov.get_version()}, Python {platform.python_version()}, {cpu_name()} "
        f"({os.cpu_count()} logical CPUs); pytest options: `{' '.join(bench.common)}`",
        f"- wall time {wall / 60:.1f} min ({(time.time() - bench_started) / 60:.1f} min after "
        f"waiting {waited:.0f} s for other pytest processes"
        + (f"; gave up with {len(still)} still running" if still else "")
        + ")",
        f"- other pytest processes seen during this script's processes: {len(overlapped)}",
        *(f"    - {line}" for line in overlapped),
        "",
    ]
    print()
    print("\n".join([*header, *lines]))
    out = ROOT / "bench" / "_work" / "genai_ab"
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"genai_ab-{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {
        "command": command,
        "args": vars(args),
        "pytest_args": bench.common,
        "openvino": ov.get_version(),
        "python": sys.executable,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "started": started,
        "wall_s": wall,
        "waited_s": waited,
        "still_running_at_start": still,
    }
    target.write_text(json.dumps({"meta": meta, **raw}, indent=1, default=str))
    print(f"\n[bench] wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
