"""Offline replay of the A/B comparison: A/A false alarms, +10% / +25% detection, with bounds,
for latency or throughput, on a toy model or a real third-party one.

Models (``--model``): ``toy`` (the default) is an A/A' pair of ``mobilenet_like(size, seed=8)``
as the current model and ``seed=7`` as the baseline's own (the same graph with other
weights, so the same speed; ``--size`` 128 by default, as in ``gate_error_rates.py``), at
``INFERENCE_PRECISION_HINT=f32``. ``det``, ``rec`` and ``cls`` are the PP-OCR ONNX models of
the pinned ``rapidocr-onnxruntime`` wheel (``wheel_models.py``, fetched into ``bench/_work``
once): the A/A' pair is the same ONNX file at the model's fixed shape compiled twice (two
compiles, as in a real A/B run, where the baseline's side is compiled from its copy in the
model store), at the CPU's default inference precision (no ``INFERENCE_PRECISION_HINT``:
the plugin's ``default`` precision); each file records the precision both compiled models
report (``INFERENCE_PRECISION_HINT``; bf16 where the CPU has it).

Data: ``--processes`` separate Python processes, one after another. Each compiles the pair
for CPU with the plugin's own compile cache, with the performance hint of ``--kind``
(``LATENCY`` or ``THROUGHPUT``), makes the runners in the plugin's order and measures them
with the engine's own loop, ``measure.engine.run_blocks``, ABBA order, for ``--seconds`` of
wall time plus ``--max-time`` / 5 (so that the last window ends by the budget rule, not by
the end of the data):

* latency: the baseline's ``LatencyBlocks`` is made (and warmed up) first, when the partner
  is chosen, then the model's, in ``measure_latency``; 0.1 s blocks of each side (the
  block's median latency, ms);
* throughput: the model's ``InferPool`` is made first (``PerfBudget.measure_throughput``),
  then the baseline's ``ThroughputBlocks(InferPool(...))`` (the partner), then the model's
  ``ThroughputBlocks``, as ``measure_throughput`` does; each side's blocks as many of its
  own request latencies long, at least 8 (``engine.paired_throughput_blocks``, as
  ``measure_throughput`` passes them to ``run_blocks``); a block's value is its rate over
  its median cycle of the whole queue (``loops.median_cycle_rate``), what the plugin pairs;
  every submission's return is recorded too, and its steady rate, so that ``--counting
  whole`` and ``--counting steady`` replay what the plugin paired before.

The engine's own stopping rules would end an A/B run at its first settled look, so the looks
are switched off here (one look that never settles) and the loop runs to its time budget.
Every block pair's ``log(model / partner)`` (what ``PartnerSamples.log_ratios`` holds), both
sides' block values, every block's start and end time and the machine's CPU counters at
each block's start and end go to one JSON file per process, in
``bench/_work/replay_ab_<model>_<kind>/data/process-NN.json`` (one folder per model and
kind, so collections do not overwrite each other).

Machine state, per process: the foreign CPU load (other processes' share of the machine's
CPU, counted as the plugin's ``LoadMeter`` counts it, from ``/proc/stat``) over 1 s of idle
before the compiles, over the measurement (from the model's warm-up on, as the plugin's
meter runs) and over 1 s of idle after it; the model's *level*, its mean block value over
the median of all processes' means (computed at replay time; latency > 1 and throughput < 1
are slower); the coefficient of variation (CV) of its model block values; and the SD of its
block log ratios (the interleaved pair's own spread).

Noisy and quiet processes: a process is **noisy** if the CV of its model block values is
over 2x the CV of the steadiest quarter of the processes (their 25th percentile, "cv"), or
its level is more than 10% off the fast state (the fastest quarter: the 25th percentile of
the processes' mean latency, the 75th of their fps; "level": the plugin's
``--ovperf-max-probe-shift``, applied to the model itself since there is no probe here), or
other processes used more than 15% of the CPU over its measurement ("load": the plugin's
``--ovperf-max-foreign-load``); otherwise it is **quiet**. The undisturbed machine is its
fastest, steadiest state (the plugin's slow-state guard also measures from the fastest
probe); a median would sit between the states when many processes ran disturbed. The
first two signs are relative to the other processes, so they cannot see a collection that
is noisy throughout (every process under the same load reads quiet by them); the third is
absolute. None needs a probe; which signs made a process noisy is printed per process.

Replay: each process's pairs are cut, in order, into consecutive non-overlapping windows,
each as long as one real A/B measurement: the pairs ``run_blocks`` takes before its time
budget (``--max-time``, 5 s = ``--ovperf-max-time``, both sides together) stops it, found by
running ``run_blocks`` itself over the recorded pairs on a clock that replays the recorded
block end times (latency: 21-24 pairs of 2 x 0.1 s; throughput of ``rec``: about 16 pairs of
2 x 0.125 s; 12-13 windows in 63 s either way; the counts are printed). Each window is then
judged as the plugin judges an A/B run: ``run_blocks`` again on the replayed clock, with the
looks the plugin's ``partners.ab_looks`` builds (``AB_LOOKS`` looks, each ``compare_paired`` at the
gate's ``ab_settings``: the O'Brien-Fleming level of each look, 5% threshold), stopping at
the first settled look, then the final verdict from ``compare_paired`` over the pairs it
took (what ``judge_ab`` decides on), with ``higher_is_better`` False for latency and True
for throughput (``PerfResult.higher_is_better``, passed by ``partners.ab_looks`` and
``judge_ab``). The +10% and +25% rows replay the same windows with the current model 10% /
25% slower: every latency block multiplied by 1.10 / 1.25, every fps block divided by it,
i.e. ``log(1.10)`` / ``log(1.25)`` added to (latency) or taken from (throughput) every log
ratio; the blocks' timing is left as recorded. Every row is printed over all processes, then
over the quiet and the noisy ones. ``--data`` replays stored files (give the same
``--max-time``); the kind is read from the files.

The foreign-load guard (``busy_guarded``: a paired verdict measured while other processes
used more than 15% of the CPU is inconclusive) is not applied to the verdicts; each window's
foreign load is computed from the recorded counters over the pairs it used, and the busy
windows and the regressions the guard would leave are printed beside the verdicts. Not
replayed: the re-measure that confirms a regression before a test fails (``--ovperf-confirm``,
on by default), so the rates here are those of one measurement.

Not mirrored exactly: the baseline's side of a wheel model is compiled from the same ONNX
file, where a real A/B run compiles the IR copy the model store keeps (the same graph after
the reshape, read by another frontend); only the first window of a process follows its
compiles and warm-ups, the later ones run on (a real A/B run starts right after them); a
collecting process holds only this pair, where a pytest session may hold other compiled
models; and a window's foreign load covers its blocks only, where the plugin's meter also
spans the model's warm-up.

Windows of one process share its process-level offset (code and memory placement of its
two compiles: what ``PAIRED_DRIFT`` models), so they are not independent: the Clopper-Pearson
bound over windows is optimistic; the count of processes with a false alarm is the more
robust figure. The between-process SD of each process's mean log ratio is printed beside
``PAIRED_DRIFT``.

Full runs (at least 300 A/A verdicts per kind: a window lasts at most about ``--max-time``, so
63 s of data per process hold 12 windows or more; about ``--seconds`` + 6 s per process,
some 29 minutes per command):

    cd bench && python replay_ab.py --model rec --kind latency --processes 25 --seconds 62
    cd bench && python replay_ab.py --model rec --kind throughput --processes 25 --seconds 62
    cd bench && python replay_ab.py --processes 25 --seconds 62    # the toy, latency
    # issue 19: one side in a worker of this release, roles taking turns; or both sides
    # in workers of their own (the symmetric design), the worker started first taking turns
    cd bench && python replay_ab.py --model rec --kind throughput --processes 26 --seconds 62 \
        --worker alternate
    cd bench && python replay_ab.py --model rec --kind throughput --processes 26 --seconds 62 \
        --worker both
    # a stressed machine: a process beside the measurement spins one CPU 15% of the time
    cd bench && python replay_ab.py --model rec --kind throughput --processes 12 --seconds 50 \
        --burst-load 0.15
    # replay again, measuring nothing (data collected before 2026-12-05 hold no submission
    # returns: add --counting whole, what the plugin paired then):
    cd bench && python replay_ab.py --data _work/replay_ab_rec_throughput/data

Prints markdown tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from unittest import mock

import numpy as np
from scipy import stats as sps
from wheel_models import MODELS, model_path
from workdir import ROOT, fresh_workdir

sys.path.insert(0, str(ROOT))  # the plugin of this tree, whichever one is installed

import openvino as ov

from pytest_ovperf.kinds import kind_of
from pytest_ovperf.measure import engine, loops
from pytest_ovperf.measure.blocks import InferPool, LatencyBlocks, ThroughputBlocks
from pytest_ovperf.measure.engine import BlockRunner, Interleaved, SequentialLooks
from pytest_ovperf.measure.load import LoadMeter, own_cpu_seconds
from pytest_ovperf.measure.loops import STEADY_LATENCIES, STEADY_SKIP
from pytest_ovperf.measure.settings import MeasureSettings
from pytest_ovperf.partners import ab_looks
from pytest_ovperf.partners.side_runtime import SideBlocks, side_config, workers_idle_share
from pytest_ovperf.runtime.devices import DEFAULT_PRECISION
from pytest_ovperf.runtime.models import CompileCache, CompiledEntry, ModelSpec
from pytest_ovperf.runtime.side.client import SideWorker
from pytest_ovperf.runtime.side.environment import resolve as resolve_runtime
from pytest_ovperf.runtime.toy_models import mobilenet_like
from pytest_ovperf.store.models import ModelStore
from pytest_ovperf.verdicts.comparison import (
    GateResult,
    GateSettings,
    compare_paired,
    project_settle,
)
from pytest_ovperf.verdicts.gate import BaselineGate
from pytest_ovperf.verdicts.kinds import GateVerdict
from pytest_ovperf.verdicts.limits import (
    DEFAULT_DRIFT_PRIOR,
    DEFAULT_MAX_FOREIGN_LOAD,
    DEFAULT_MAX_PROBE_SHIFT,
    DEFAULT_REGRESSION_THRESHOLD,
    PAIRED_DRIFT,
)

#: weights seeds of the toy: the current model and the baseline's own (same graph, same speed)
CURRENT_SEED, BASELINE_SEED = 8, 7
#: data recorded beyond --seconds, as a fraction of --max-time
MARGIN = 0.2
#: (row name, true slowdown of the current model)
SCENARIOS = (("A/A' (same speed)", 1.0), ("+10%", 1.10), ("+25%", 1.25))
VERDICTS = ("regression", "improvement", "unchanged", "inconclusive")
MODEL_CHOICES = ("toy", *sorted(MODELS))
KINDS = ("latency", "throughput")
#: seconds of idle over which the foreign load is read before and after a process's measuring
IDLE_S = 1.0
#: a process is noisy when its model blocks' CV is over this many times the CV of the
#: quietest quarter of the processes (the 25th percentile) ...
NOISY_CV_FACTOR = 2.0
#: ... or its level is further than this from the fast state (the fastest quarter of the
#: processes: the 25th percentile of latency, the 75th of fps)
NOISY_LEVEL = DEFAULT_MAX_PROBE_SHIFT
#: ... or other processes used more than this share of the CPU while it measured
NOISY_LOAD = DEFAULT_MAX_FOREIGN_LOAD
#: ``--worker``: which side of the pair a side-runtime worker of this same release measures
#: (issue 19's A/A across processes), or ``alternate`` process by process, or ``both``: each
#: side in a worker of its own (the symmetric design), the worker started first taking turns
#: process by process (recorded as ``both-model-first`` / ``both-reference-first``), or
#: ``reference-loaded-first``: the reference's worker started and loaded before this process
#: compiles the current model (the plugin compiles the current model first), or
#: ``load-order``: ``reference`` and ``reference-loaded-first`` taking turns; or
#: ``reference-recompiled``: as ``reference``, then the current model compiled again after the
#: worker loaded, and that compile measured (the first kept alive, as a fixture keeps it);
#: ``recompile-order``: ``reference`` and ``reference-recompiled`` taking turns
WORKER_SIDES = (
    "none", "reference", "model", "alternate", "both", "reference-loaded-first", "load-order",
    "reference-recompiled", "recompile-order",
)  # fmt: skip
#: what ``both`` records, process by process
BOTH_ORDERS = ("both-model-first", "both-reference-first")
#: processes that measure for this one (the worker): their CPU is not foreign load
HELPER_PIDS: tuple[int, ...] = ()
#: A/A verdicts a full run should give
MIN_AA_VERDICTS = 300

#: (machine busy CPU seconds, this process's CPU seconds), as ``LoadMeter`` counts them
Counters = Optional[tuple[float, float]]


# -- data collection (one process each) ---------------------------------------------------


def cpu_counters() -> Counters:
    """The counters ``measure.load.LoadMeter`` reads: the machine's busy CPU time in
    ``/proc/stat`` (steal included) and this process's CPU time; ``None`` without
    ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    busy = (sum(values[:3]) + sum(values[5:8])) / os.sysconf("SC_CLK_TCK")
    return busy, own_cpu_seconds(HELPER_PIDS)


def idle_load(seconds: float) -> float | None:
    """Foreign load over ``seconds`` of sleep."""
    meter = LoadMeter().start()
    time.sleep(seconds)
    return meter.foreign_load()


def pair_specs(model: str, size: int) -> tuple[ModelSpec, ModelSpec, str, dict[str, Any]]:
    """The current model and the baseline's own, the precision both are compiled at, and
    what the pair is."""
    if model == "toy":

        def toy(seed: int) -> ModelSpec:
            return ModelSpec(source=functools.partial(mobilenet_like, size=size, seed=seed))

        about: dict[str, Any] = {
            "description": f"mobilenet_like(size={size}), seeds {CURRENT_SEED} / {BASELINE_SEED}",
            "size": size,
            "current_seed": CURRENT_SEED,
            "baseline_seed": BASELINE_SEED,
            "requested_precision": "f32",
        }
        return toy(CURRENT_SEED), toy(BASELINE_SEED), "f32", about
    bench_model = MODELS[model]
    path = model_path(bench_model, log=False)
    spec = ModelSpec(source=str(path), shape={bench_model.input_name: bench_model.shape_list})
    about = {
        "description": bench_model.description,
        "path": str(path),
        "shape": bench_model.shape_list,
        "requested_precision": DEFAULT_PRECISION,
    }
    return spec, spec, DEFAULT_PRECISION, about


class Side:
    """One side of the pair: compiled here, or loaded (and warmed up) in a worker of this
    same OpenVINO release (``runtime/side/``), as ``reference_runtime=`` loads a reference."""

    def __init__(
        self, core: ov.Core, spec: ModelSpec, precision: str, kind: str, in_worker: bool
    ) -> None:
        # a cache each: one cache compiles a file once, and the pair is two compiles
        cache = CompileCache(core)
        hint = kind_of(kind).hint
        self.kind = kind
        self.entry: CompiledEntry | None = None
        self.pool: InferPool | None = None
        self.worker: SideWorker | None = None
        self._logs: tempfile.TemporaryDirectory[str] | None = None
        if not in_worker:
            self.entry = cache.get(spec, "CPU", precision, hint)
            if kind != "latency":
                # PerfBudget.measure_throughput makes the model's pool before it chooses the
                # partner: made here, with the compile, the current model's comes first
                self.pool = InferPool(self.entry.compiled, self.entry.inputs)
            return
        global HELPER_PIDS
        settings = MeasureSettings()
        interpreter = resolve_runtime(sys.executable, Path(tempfile.gettempdir()))
        self._logs = tempfile.TemporaryDirectory(prefix="replay-side-")
        self.worker = SideWorker.start(interpreter, Path(self._logs.name))
        HELPER_PIDS = (*HELPER_PIDS, self.worker.worker_pid)
        config = side_config(spec, "CPU", precision, hint)
        self.loaded = self.worker.load(
            cache.side_file(spec),
            "CPU",
            config,
            cache.prepare(spec).inputs,
            kind=kind,
            warmup_s=settings.warmup_s,
            warmup_iterations=settings.warmup_iterations,
        )
        self._keep = cache  # its saved IR lives as long as the cache

    def runner(self, settings: MeasureSettings) -> LatencyBlocks | ThroughputBlocks | SideBlocks:
        """Its block runner, warmed up (a worker warmed up when it loaded)."""
        if self.worker is not None:
            return SideBlocks(self.worker, self.kind, self.loaded, settings.block_s)
        assert self.entry is not None
        if self.pool is None:
            return LatencyBlocks(self.entry.compiled, self.entry.inputs, settings)
        return ThroughputBlocks(self.pool, settings)

    def reported(self, name: str) -> str | None:
        if self.worker is not None:
            return self.loaded.effective.get(name)
        assert self.entry is not None
        return reported(self.entry.compiled, name)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        if self._logs is not None:
            self._logs.cleanup()


def reported(compiled: ov.CompiledModel, name: str) -> str | None:
    try:
        return str(compiled.get_property(name))
    except RuntimeError:
        return None


def collect(
    out: Path, model_key: str, kind: str, size: int, seconds: float, worker: str = "none"
) -> None:
    """Measure the A/A' pair interleaved for ``seconds`` and write every block to ``out``;
    ``worker`` (reference | model | none) names the side a worker of this release measures."""
    load_before = idle_load(IDLE_S)
    settings = MeasureSettings()
    current_spec, baseline_spec, precision, about = pair_specs(model_key, size)
    core = ov.Core()
    # the plugin compiles the current model first, then the reference's side
    if worker == "both-reference-first":
        baseline = Side(core, baseline_spec, precision, kind, True)
        current = Side(core, current_spec, precision, kind, True)
    elif worker == "reference-loaded-first":
        baseline = Side(core, baseline_spec, precision, kind, True)
        current = Side(core, current_spec, precision, kind, False)
    elif worker == "reference-recompiled":
        first_compile = Side(core, current_spec, precision, kind, False)
        baseline = Side(core, baseline_spec, precision, kind, True)
        current = Side(core, current_spec, precision, kind, False)
    else:
        both = worker == "both-model-first"
        current = Side(core, current_spec, precision, kind, both or worker == "model")
        baseline = Side(core, baseline_spec, precision, kind, both or worker == "reference")
    model: LatencyBlocks | ThroughputBlocks | SideBlocks
    partner: LatencyBlocks | ThroughputBlocks | SideBlocks
    extra: dict[str, Any] = {}
    if kind == "latency":
        # the plugin makes (and warms up) the partner's runner first, then the model's
        partner = baseline.runner(settings)
        meter = LoadMeter(helper_pids=HELPER_PIDS).start()  # started where PerfBudget starts it
        model = current.runner(settings)
        block_s = settings.block_s
    else:
        # PerfBudget.measure_throughput makes the model's pool, then chooses the partner (its
        # runner warmed up), then measure_throughput makes the model's runner (warmed up);
        # the current model's pool was made with its compile (``Side``)
        partner = baseline.runner(settings)
        meter = LoadMeter(helper_pids=HELPER_PIDS).start()
        model = current.runner(settings)
        assert not isinstance(model, LatencyBlocks) and not isinstance(partner, LatencyBlocks)
        model_block_s = float(model.block_s)
        partner_block_s = float(partner.block_s)
        # as measure_throughput pairs them: each side's blocks as many of its own request
        # latencies long (the A/B partner's share is 1, PartnerChooser.choose)
        block_s, paired = engine.paired_throughput_blocks(model, engine.Partner(partner, 1.0, True))
        share = paired.share
        extra = {
            "requests": model.pool.size if isinstance(model, ThroughputBlocks) else None,
            "partner_requests": (
                partner.pool.size if isinstance(partner, ThroughputBlocks) else None
            ),
            "model_block_s": model_block_s,
            "partner_block_s": partner_block_s,
            "request_latency_s": getattr(model, "request_latency_s", None),
            "partner_request_latency_s": getattr(partner, "request_latency_s", None),
            "partner_share": share,
        }
    spans: dict[str, list[tuple[float, float]]] = {"model": [], "partner": []}
    counters: dict[str, list[tuple[Counters, Counters]]] = {"model": [], "partner": []}
    # throughput in this process: every submission's return in every block (``returns`` of
    # ``loops.throughput_block``), for ``--counting cycles``
    returns: dict[str, list[list[float] | None]] = {"model": [], "partner": []}
    captured: list[list[float]] = []
    throughput_block = loops.throughput_block

    def capturing(*args: Any, **kwargs: Any) -> loops.ThroughputBlock:
        times: list[float] = []
        captured.append(times)
        return throughput_block(*args, **kwargs, returns=times)

    def timed(runner: LatencyBlocks | ThroughputBlocks | SideBlocks, side: str) -> BlockRunner:
        def run(block: float) -> float:
            before = cpu_counters()
            started = time.perf_counter()
            captured.clear()
            value = float(runner(block))
            spans[side].append((started, time.perf_counter()))
            counters[side].append((before, cpu_counters()))
            returns[side].append([round(t, 7) for t in captured[0]] if captured else None)
            return value

        return run

    never = SequentialLooks(1, lambda ratios, look: False)
    with mock.patch.object(loops, "throughput_block", capturing):
        run = engine.run_blocks(
            timed(model, "model"),
            timed(partner, "partner"),
            dataclasses.replace(settings, max_time_s=seconds),
            dict,
            partner_share=1.0 if kind == "latency" else share,
            compare_partner=True,  # as an A/B run: the same work between blocks
            looks=never,
            block_s=None if kind == "latency" else block_s,
        )
    load_during = meter.foreign_load()
    idle_share: float | None = None
    if isinstance(model, SideBlocks) and isinstance(partner, SideBlocks):
        idle_share = workers_idle_share(model, partner)
    elif isinstance(model, SideBlocks) or isinstance(partner, SideBlocks):
        idle_share = next(r for r in (model, partner) if isinstance(r, SideBlocks)).idle_share
    current.close()
    baseline.close()
    if worker == "reference-recompiled":
        first_compile.close()  # held until here, as a fixture holds its compile
    load_after = idle_load(IDLE_S)
    origin = min(spans["model"][0][0], spans["partner"][0][0])

    def relative(side: str, end: int) -> list[float]:
        return [span[end] - origin for span in spans[side]]

    def cpu(side: str) -> list[list[float]] | None:
        rows = []
        for before, after in counters[side]:
            if before is None or after is None:
                return None
            rows.append([*before, *after])
        return rows

    record = {
        "kind": kind,
        "model": model_key,
        **about,
        "unit": "ms" if kind == "latency" else "fps",
        "config": next(
            (e.config for e in (current.entry, baseline.entry) if e is not None),
            side_config(current_spec, "CPU", precision, kind_of(kind).hint),
        ),
        # the precision label the plugin stores, and what the compiled models report
        "precision": precision,
        "inference_precision_hint": current.reported("INFERENCE_PRECISION_HINT"),
        "baseline_inference_precision_hint": baseline.reported("INFERENCE_PRECISION_HINT"),
        "num_streams": current.reported("NUM_STREAMS"),
        "inference_num_threads": current.reported("INFERENCE_NUM_THREADS"),
        # issue 19: which side a worker of this release measured, and the idle side's CPU
        # as a share of the measuring side's (the plugin's idle-side guard: 1%)
        "worker_side": worker,
        "idle_share": idle_share,
        "openvino": ov.get_version(),
        "block_s": block_s,
        **extra,
        "seconds": seconds,
        "measure_s": run.measure_s,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_during": load_during,
        "load_after": load_after,
        "model_value": model.value,
        "partner_value": partner.value,
        "model_blocks": list(run.model_blocks),
        # throughput: the block values are cycle rates (``loops.median_cycle_rate``), what
        # the plugin pairs; each block's steady rate too, for ``--counting steady``
        "block_counting": "cycles" if kind == "throughput" else None,
        "block_latencies": loops.STEADY_SKIP + loops.STEADY_LATENCIES,
        "model_steady_blocks": steady_rates(model),
        "partner_steady_blocks": steady_rates(partner),
        "model_submitted": model.submitted if isinstance(model, ThroughputBlocks) else None,
        "partner_submitted": partner.submitted if isinstance(partner, ThroughputBlocks) else None,
        # every submission's return (s from the block's start), the drain's end last
        "model_returns": returns["model"] if kind == "throughput" else None,
        "partner_returns": returns["partner"] if kind == "throughput" else None,
        "partner_blocks": list(run.partner_blocks),
        "log_ratios": list(run.log_ratios),
        "model_start_s": relative("model", 0),
        "model_end_s": relative("model", 1),
        "partner_start_s": relative("partner", 0),
        "partner_end_s": relative("partner", 1),
        # [busy, own] CPU seconds at the block's start, then at its end
        "model_cpu": cpu("model"),
        "partner_cpu": cpu("partner"),
    }
    out.write_text(json.dumps(record))


#: a burst load: spin one CPU for ``duty`` of a period drawn from 0.05-0.35 s, sleep the rest
_BURST_LOOP = """
import random, sys, time
duty, rng = float(sys.argv[1]), random.Random(int(sys.argv[2]))
while True:
    period = rng.uniform(0.05, 0.35)
    end = time.perf_counter() + duty * period
    while time.perf_counter() < end:
        pass
    time.sleep(period * (1.0 - duty))
"""


def start_burst_load(duty: float, seed: int) -> subprocess.Popen[bytes]:
    """A process beside the measurement that spins one CPU in short bursts, ``duty`` of the
    time at random phases (``--burst-load``): a stand-in for the host's intermittent
    contention of one vCPU (the Xeon without AMX), which a whole block's rate absorbs; its
    CPU shows in the foreign load (``duty`` / CPUs of the machine)."""
    return subprocess.Popen([sys.executable, "-c", _BURST_LOOP, str(duty), str(seed)])


def measure_all(args: argparse.Namespace) -> list[Path]:
    """Run the collecting processes one after another; the folders of their JSON files (one
    per ``--block-latencies`` value, the values taking turns process by process, so that a
    spell hits them alike)."""
    if args.model != "toy":
        model_path(MODELS[args.model])  # fetched once, before any process measures
    suffix = "" if args.worker == "none" else f"_worker_{args.worker}"
    lengths: list[int] = args.block_latencies
    if lengths != [STEADY_SKIP + STEADY_LATENCIES]:
        suffix += "_blocks" + "-".join(str(n) for n in lengths)
    if args.burst_load > 0:
        suffix += f"_burst{args.burst_load:g}"
    work, env = fresh_workdir(f"replay_ab_{args.model}_{args.kind}{suffix}", keep_previous=True)
    folders = [work / "data"] if len(lengths) == 1 else [work / f"data-blocks{n}" for n in lengths]
    for folder in folders:
        folder.mkdir()
    seconds = args.seconds + MARGIN * args.max_time
    started = time.time()
    for index in range(args.processes):
        turn = index % len(lengths)
        out = folders[turn] / f"process-{index:02d}.json"
        worker = args.worker
        if worker == "alternate":  # the roles swap process by process
            worker = ("reference", "model")[index % 2]
        elif worker == "both":  # the worker started first takes turns
            worker = BOTH_ORDERS[index % 2]
        elif worker == "load-order":  # which side is loaded first takes turns
            worker = ("reference", "reference-loaded-first")[index % 2]
        elif worker == "recompile-order":  # measuring a compile made after the worker's, in turn
            worker = ("reference", "reference-recompiled")[index % 2]
        burst = start_burst_load(args.burst_load, seed=index) if args.burst_load > 0 else None
        completed = subprocess.run(
            [
                sys.executable, str(Path(__file__).resolve()), "--collect-into", str(out),
                "--model", args.model, "--kind", args.kind, "--size", str(args.size),
                "--seconds", str(seconds), "--worker", worker,
                "--block-latencies", str(lengths[turn]),
            ],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if burst is not None:
            burst.kill()
            burst.wait()
        if completed.returncode != 0 or not out.exists():
            raise RuntimeError(f"collecting process failed:\n{completed.stderr[-3000:]}")
        print(
            f"process {index + 1}/{args.processes} done ({time.time() - started:.0f} s)",
            flush=True,
        )
    return folders


# -- replay -----------------------------------------------------------------------------


def whole_rates(submitted: list[int], starts: list[float], ends: list[float]) -> list[float]:
    """Each throughput block's inferences over its whole time, fill and drain included (fps),
    from the block's recorded start and end: for data collected before the plugin paired
    whole rates (``measure/loops.py``), whose block values are steady rates."""
    return [n / (end - start) for n, start, end in zip(submitted, starts, ends, strict=True)]


def steady_rates(runner: object) -> list[float] | None:
    """The steady rate of each block of an in-process throughput runner (the headline's
    evidence); ``None`` for a latency runner or a worker (which sums its windows)."""
    if not isinstance(runner, ThroughputBlocks):
        return None
    pairs = zip(runner.block_counts, runner.block_seconds, strict=True)
    return [count / seconds for count, seconds in pairs]


def cycle_rates(blocks: list[list[float] | None], size: int) -> list[float]:
    """Each throughput block's paired rate from its submissions' returns, by the plugin's
    rule (``loops.paired_rate``: ``size`` over its median whole-queue cycle)."""
    if any(times is None for times in blocks):
        raise SystemExit("no submission returns recorded for --counting cycles")
    return [loops.paired_rate(times, size) for times in blocks if times is not None]


#: what a throughput block's replayed value is: ``cycles`` (a whole queue's median cycle:
#: ``cycle_rates``, the plugin's pairing), ``whole`` (the block's inferences over its whole
#: time, the plugin's pairing before the cycles) or ``steady`` (the steady window's rate, the
#: plugin's pairing before whole blocks)
COUNTINGS = ("cycles", "whole", "steady")


@dataclass(frozen=True)
class Recording:
    """One process's interleaved blocks, in order; times in seconds from its first block."""

    name: str
    kind: str
    #: the block values: median latency (ms) or steady fps
    model_values: list[float]
    partner_values: list[float]
    pair_start_s: list[float]
    pair_end_s: list[float]
    model_value: float
    partner_value: float
    #: the CPU counters at each pair's start and end (``None``: not recorded)
    pair_cpu_start: list[tuple[float, float]] | None
    pair_cpu_end: list[tuple[float, float]] | None
    cpus: int
    load_before: float | None
    load_during: float | None
    load_after: float | None
    meta: dict[str, Any]
    #: each block's start and end (s), model's blocks then partner's
    block_start_s: list[float]
    block_end_s: list[float]
    #: what a throughput block's value is (``COUNTINGS``)
    counting: str = "cycles"

    @classmethod
    def load(cls, path: Path, counting: str = "cycles") -> Recording:
        """``counting`` (``COUNTINGS``): what a throughput block's value is, whichever way
        the file recorded it."""
        raw: dict[str, Any] = json.loads(path.read_text())
        # files written before throughput was replayed: latency, "_ms" keys, no counters
        model: list[float] = raw["model_blocks"] if "model_blocks" in raw else raw["model_ms"]
        partner: list[float] = (
            raw["partner_blocks"] if "partner_blocks" in raw else raw["partner_ms"]
        )
        recorded = raw.get("block_counting") or "steady"
        if raw.get("kind") != "throughput" or counting == recorded:
            pass
        elif counting == "cycles":
            model = cycle_rates(raw.get("model_returns") or [None], int(raw["requests"]))
            partner = cycle_rates(
                raw.get("partner_returns") or [None], int(raw["partner_requests"])
            )
        elif counting == "whole":
            if not (raw.get("model_submitted") and raw.get("partner_submitted")):
                raise SystemExit(f"{path}: no submitted counts recorded for --counting whole")
            model = whole_rates(raw["model_submitted"], raw["model_start_s"], raw["model_end_s"])
            partner = whole_rates(
                raw["partner_submitted"], raw["partner_start_s"], raw["partner_end_s"]
            )
        else:
            if not (raw.get("model_steady_blocks") and raw.get("partner_steady_blocks")):
                raise SystemExit(f"{path}: no steady rates recorded for --counting steady")
            model, partner = raw["model_steady_blocks"], raw["partner_steady_blocks"]
        model_first = [a <= b for a, b in zip(raw["model_start_s"], raw["partner_start_s"])]
        model_last = [a >= b for a, b in zip(raw["model_end_s"], raw["partner_end_s"])]
        cpu_start = cpu_end = None
        if raw.get("model_cpu") and raw.get("partner_cpu"):
            pairs = zip(raw["model_cpu"], raw["partner_cpu"], model_first, model_last)
            cpu_start, cpu_end = [], []
            for m, p, first, last in pairs:
                begin, finish = (m if first else p), (m if last else p)
                cpu_start.append((float(begin[0]), float(begin[1])))
                cpu_end.append((float(finish[2]), float(finish[3])))
        meta = {k: v for k, v in raw.items() if not isinstance(v, list) or k == "shape"}
        return cls(
            name=path.stem,
            kind=str(raw.get("kind", "latency")),
            model_values=[float(x) for x in model],
            partner_values=[float(x) for x in partner],
            pair_start_s=[min(a, b) for a, b in zip(raw["model_start_s"], raw["partner_start_s"])],
            pair_end_s=[max(a, b) for a, b in zip(raw["model_end_s"], raw["partner_end_s"])],
            model_value=float(raw["model_value"] if "model_value" in raw else raw["model_p50_ms"]),
            partner_value=float(
                raw["partner_value"] if "partner_value" in raw else raw["partner_p50_ms"]
            ),
            pair_cpu_start=cpu_start,
            pair_cpu_end=cpu_end,
            cpus=int(raw.get("cpus") or os.cpu_count() or 1),
            load_before=raw.get("load_before"),
            load_during=raw.get("load_during"),
            load_after=raw.get("load_after"),
            meta=meta,
            block_start_s=[float(t) for t in raw["model_start_s"] + raw["partner_start_s"]],
            block_end_s=[float(t) for t in raw["model_end_s"] + raw["partner_end_s"]],
            counting=counting,
        )

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "throughput"

    @property
    def log_ratios(self) -> np.ndarray:
        ratios = np.asarray(self.model_values) / np.asarray(self.partner_values)
        return np.asarray(np.log(ratios), dtype=float)

    @property
    def mean_value(self) -> float:
        return float(np.mean(self.model_values))

    @property
    def cv(self) -> float:
        """Coefficient of variation of the model's block values."""
        values = np.asarray(self.model_values)
        return float(values.std(ddof=1) / values.mean())

    def window_load(self, start: int, pairs: int) -> float | None:
        """Foreign load over pairs ``start`` .. ``start + pairs - 1``, as ``LoadMeter``."""
        if self.pair_cpu_start is None or self.pair_cpu_end is None or pairs < 1:
            return None
        end = start + pairs - 1
        busy0, own0 = self.pair_cpu_start[start]
        busy1, own1 = self.pair_cpu_end[end]
        wall = self.pair_end_s[end] - self.pair_start_s[start]
        if wall <= 0:
            return None
        others = (busy1 - busy0) - (own1 - own0)
        return min(max(others / (wall * self.cpus), 0.0), 1.0)


class _OutOfData(Exception):
    """The replayed engine asked for a block pair past the recording's end."""


class _ReplayedClock:
    """Stands for the ``time`` module in ``engine``: the time of the recorded pairs."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def replay_engine(
    recording: Recording,
    start: int,
    settings: MeasureSettings,
    looks: SequentialLooks,
    slowdown: float = 1.0,
    pairs: int | None = None,
) -> Interleaved | None:
    """``engine.run_blocks`` over the recorded pairs from ``start`` (at most ``pairs`` of
    them), its clock reading each pair's recorded end; ``None`` when it wanted more pairs
    than there are. The current model is made ``slowdown`` times slower: its latency blocks
    multiplied, its fps blocks divided by it."""
    clock = _ReplayedClock()
    origin = recording.pair_start_s[start]
    total = len(recording.model_values)
    stop = total if pairs is None else min(start + pairs, total)
    served = {"model": 0, "partner": 0}
    factor = 1.0 / slowdown if recording.higher_is_better else slowdown

    def serve(side: str, values: Sequence[float], by: float) -> BlockRunner:
        def run(block_s: float) -> float:
            index = start + served[side]
            if index >= stop:
                raise _OutOfData
            served[side] += 1
            if served["model"] == served["partner"]:  # the pair is complete
                clock.now = recording.pair_end_s[index] - origin
            return values[index] * by

        return run

    with mock.patch.object(engine, "time", clock):
        try:
            return engine.run_blocks(
                serve("model", recording.model_values, factor),
                serve("partner", recording.partner_values, 1.0),
                settings,
                dict,
                partner_share=1.0,
                # the precision of the ratio decides nothing when looks are given
                compare_partner=False,
                looks=looks,
            )
        except _OutOfData:
            return None


def windows_of(
    recording: Recording, settings: MeasureSettings, never: SequentialLooks
) -> list[tuple[int, int]]:
    """(first pair, pairs) of each window: the pairs one A/B run takes before its time
    budget stops it, back to back from the first pair; an incomplete last one is left out."""
    windows = []
    start = 0
    while start < len(recording.model_values):
        run = replay_engine(recording, start, settings, never)
        if run is None:
            break
        windows.append((start, len(run.log_ratios)))
        start += len(run.log_ratios)
    return windows


@dataclass
class Row:
    verdicts: list[str] = field(default_factory=list)
    #: recording name of each verdict
    processes: list[str] = field(default_factory=list)
    pairs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    #: the look that stopped each run: 1..AB_LOOKS-1 inside the engine, "end" at the budget
    stops: list[str] = field(default_factory=list)
    #: foreign load over the pairs each run used (``None``: not recorded)
    loads: list[float | None] = field(default_factory=list)

    def subset(self, names: set[str]) -> Row:
        keep = [i for i, p in enumerate(self.processes) if p in names]
        return Row(
            *(
                [getattr(self, f.name)[i] for i in keep]
                for f in dataclasses.fields(self)  # every field is a list, in order
            )
        )


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate."""
    if trials == 0:
        return float("nan")
    if failures >= trials:
        return 1.0
    return float(sps.beta.ppf(confidence, failures + 1, trials - failures))


@dataclass(frozen=True)
class State:
    """One process's machine state (module docstring: the noisy/quiet rule)."""

    level: float
    cv: float
    ratio_sd: float
    noisy_by: tuple[str, ...]

    @property
    def spell(self) -> str:
        return f"noisy ({', '.join(self.noisy_by)})" if self.noisy_by else "quiet"


def machine_states(recordings: list[Recording], higher_is_better: bool) -> dict[str, State]:
    # the undisturbed machine is its fastest, steadiest state (as the plugin's slow-state
    # guard measures from the fastest probe): a median would sit between the states when
    # many processes ran disturbed, and call the undisturbed ones off
    fast = float(np.percentile([r.mean_value for r in recordings], 75 if higher_is_better else 25))
    steady_cv = float(np.percentile([r.cv for r in recordings], 25))
    states = {}
    for recording in recordings:
        level = recording.mean_value / fast
        signs = []
        if recording.cv > NOISY_CV_FACTOR * steady_cv:
            signs.append("cv")
        if abs(math.log(level)) > math.log1p(NOISY_LEVEL):
            signs.append("level")
        if recording.load_during is not None and recording.load_during > NOISY_LOAD:
            signs.append("load")
        states[recording.name] = State(
            level, recording.cv, float(recording.log_ratios.std(ddof=1)), tuple(signs)
        )
    return states


def print_proposals(
    undecided: list[tuple[str, float, Recording, int, GateResult, float]],
    measure: MeasureSettings,
    looks: SequentialLooks,
    gate: BaselineGate,
    threshold: float,
    higher_is_better: bool,
) -> None:
    """What the message of an inconclusive run proposes (``project_settle``), checked: the
    same window replayed from its first pair with ``--ovperf-max-time`` at the proposal."""
    print()
    print(
        "Inconclusive runs and the measuring time their message proposes "
        "(`comparison.project_settle`), each replayed from its first pair with that "
        "`--ovperf-max-time` (runs whose process has too few pairs left are not replayed):"
    )
    print()
    print(
        "| scenario | inconclusive | a time proposed (median s) | no time would | over the "
        "limit | replayed | regression | improvement | unchanged | inconclusive |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, _ in SCENARIOS:
        chosen = [u for u in undecided if u[0] == name]
        proposed: list[int] = []
        never = over = 0
        tally = dict.fromkeys(VERDICTS, 0)
        for _, slowdown, recording, start, outcome, seconds in chosen:
            projection = project_settle(outcome, seconds)
            if projection.settle_s is None:
                never += 1
                continue
            seconds_proposed = projection.max_time_s
            if seconds_proposed is None:
                over += 1
                continue
            proposed.append(seconds_proposed)
            longer = dataclasses.replace(measure, max_time_s=float(seconds_proposed))
            run = replay_engine(recording, start, longer, looks, slowdown)
            if run is None:
                continue
            final = run.look if run.look is not None else looks.count - 1
            verdict = compare_paired(
                run.log_ratios, gate.ab_settings(threshold, final), higher_is_better
            ).verdict
            tally[verdict.value] += 1
        replayed = sum(tally.values())
        median = f" ({np.median(proposed):g})" if proposed else ""
        print(
            f"| {name} | {len(chosen)} | {len(proposed)}{median} | {never} | {over} | "
            f"{replayed} | " + " | ".join(f"{tally[v]}/{replayed}" for v in VERDICTS) + " |"
        )


#: the median absolute value of a standard normal variable (a MAD's scale to an SD)
MAD_TO_SD = 0.6745
#: variogram lags (in blocks) fitted to find a process's white noise (the intercept at 0)
FLOOR_LAGS = (1, 2, 3)


@dataclass(frozen=True)
class NoiseFloor:
    """How well any interleaved design could judge one process's machine within one A/B
    time budget: the white part of its block noise (what no pairing cancels) as a variance
    per block, found as the intercept at lag 0 of the blocks' robust variogram (both sides'
    blocks in time order, each side's mean taken out) fitted over ``FLOOR_LAGS``; from it the SE of
    the mean log ratio of an ideal A/B run that counts every moment of its budget and pairs
    its two sides at no distance (white noise averages with time alone), without and with
    the paired test's between-process term; and the chance that such a run of a model
    pair of truly equal speed says `unchanged` at the threshold."""

    white_sd: float
    se: float
    se_with_drift: float
    p_unchanged: float


def noise_floor(
    recording: Recording, max_time: float, threshold: float, equivalence_confidence: float
) -> NoiseFloor:
    model = np.log(np.asarray(recording.model_values))
    partner = np.log(np.asarray(recording.partner_values))
    starts, ends = np.asarray(recording.block_start_s), np.asarray(recording.block_end_s)
    values = np.concatenate([model - model.mean(), partner - partner.mean()])
    order = np.argsort(starts)
    values = values[order]
    # robust semivariances (the scaled median absolute difference, squared, halved): the
    # paired test centres on a trimmed mean, so bursts in the tails do not count against it
    gamma = [
        float((np.median(np.abs(values[h:] - values[:-h])) / MAD_TO_SD) ** 2 / 2)
        for h in FLOOR_LAGS
    ]
    _slope, intercept = np.polyfit(FLOOR_LAGS, gamma, 1)
    white = min(max(float(intercept), 0.0), gamma[0])
    # the seconds a block's figure stands for: a throughput block counted by its steady
    # window leaves out its fill and drain
    counted = float(np.mean(ends - starts))
    if recording.higher_is_better and recording.counting == "steady":
        counted *= STEADY_LATENCIES / (STEADY_SKIP + STEADY_LATENCIES)
    # each side has half the budget: white variance per second of one side's time is
    # white * counted; the difference of the two sides' means doubles it
    se = math.sqrt(2 * white * counted / (max_time / 2))
    se_drift = math.hypot(se, PAIRED_DRIFT)
    z = float(sps.norm.ppf(0.5 + equivalence_confidence / 2))
    reach = math.log1p(threshold) / se_drift - z
    p_unchanged = max(2 * float(sps.norm.cdf(reach)) - 1, 0.0)
    return NoiseFloor(math.sqrt(white), se, se_drift, p_unchanged)


def print_floors(
    recordings: list[Recording],
    groups: list[tuple[str, set[str]]],
    aa: Row,
    max_time: float,
    threshold: float,
    equivalence_confidence: float,
) -> None:
    """Per spell: the noise floor (``NoiseFloor``) beside what the replayed A/A said."""
    floors = {
        r.name: noise_floor(r, max_time, threshold, equivalence_confidence) for r in recordings
    }
    print()
    print(
        "Noise floor (NoiseFloor): the white block noise no pairing cancels, the SE of an ideal "
        f"{max_time:g} s A/B run (every moment counted, the two sides paired at no distance), "
        "without and with the 1% between-process term, and the share of A/A runs such an "
        "ideal run would call unchanged, against the replayed A/A `unchanged`:"
    )
    print()
    print(
        "| processes | n | white SD per block (median) | ideal SE (median) | with the "
        "between-process term | ideal `unchanged` (mean) | replayed A/A `unchanged` |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, names in groups:
        chosen = [floors[n] for n in sorted(names)]
        if not chosen:
            continue
        row = aa.subset(names)
        said = row.verdicts.count("unchanged") / max(len(row.verdicts), 1)
        print(
            f"| {label} | {len(chosen)} | {np.median([f.white_sd for f in chosen]):.1%} | "
            f"{np.median([f.se for f in chosen]):.2%} | "
            f"{np.median([f.se_with_drift for f in chosen]):.2%} | "
            f"{np.mean([f.p_unchanged for f in chosen]):.0%} | {said:.0%} |"
        )


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def replay(
    recordings: list[Recording],
    max_time: float,
    threshold: float,
    paired_drift: float = PAIRED_DRIFT,
) -> None:
    kinds = {r.kind for r in recordings}
    if len(kinds) != 1:
        raise SystemExit(f"the recordings mix kinds {sorted(kinds)}: replay one kind at a time")
    kind = kinds.pop()
    higher_is_better = kind == "throughput"
    measure = dataclasses.replace(MeasureSettings(), max_time_s=max_time)
    measure.validate()
    # the session's gate settings at the defaults (session.py), split per look as in A/B
    gate = BaselineGate(
        baseline_dir=Path(),
        rootdir=Path(),
        settings=GateSettings(
            threshold=threshold,
            confidence=measure.confidence,
            prior_drift=DEFAULT_DRIFT_PRIOR,
            paired_drift=paired_drift,
        ),
        model_store=ModelStore(Path()),
    )
    looks = ab_looks(gate, threshold, higher_is_better)
    settings = gate.ab_settings(threshold, looks.count - 1)  # the final look's, printed
    never = SequentialLooks(looks.count, lambda ratios, look: False)
    look_times = [max_time * (k + 1) / looks.count for k in range(looks.count)]
    rows = {name: Row() for name, _ in SCENARIOS}
    #: the inconclusive runs: (scenario, slowdown, recording, first pair, outcome, seconds)
    undecided: list[tuple[str, float, Recording, int, GateResult, float]] = []
    window_pairs: list[int] = []
    window_counts: dict[str, int] = {}
    for recording in recordings:
        windows = windows_of(recording, measure, never)
        window_counts[recording.name] = len(windows)
        for start, pairs in windows:
            window_pairs.append(pairs)
            for name, slowdown in SCENARIOS:
                run = replay_engine(recording, start, measure, looks, slowdown, pairs)
                if run is None:
                    raise RuntimeError(f"{recording.name}: a window ran out of its pairs")
                final = run.look if run.look is not None else looks.count - 1
                outcome = compare_paired(
                    run.log_ratios, gate.ab_settings(threshold, final), higher_is_better
                )
                used = len(run.log_ratios)
                reached = sum(1 for t in look_times if run.measure_s >= t)
                row = rows[name]
                row.verdicts.append(outcome.verdict.value)
                row.processes.append(recording.name)
                row.pairs.append(used)
                row.seconds.append(run.measure_s)
                row.stops.append("end" if used == pairs else str(reached))
                row.loads.append(recording.window_load(start, used))
                if outcome.verdict is GateVerdict.INCONCLUSIVE:
                    undecided.append((name, slowdown, recording, start, outcome, run.measure_s))

    n_processes = len(recordings)
    n_windows = len(window_pairs)
    if n_windows == 0:
        raise SystemExit(f"no recording holds one A/B run of --max-time {max_time:g} s")
    states = machine_states(recordings, higher_is_better)
    quiet = {name for name, state in states.items() if not state.noisy_by}
    noisy = set(states) - quiet
    logs = [r.log_ratios for r in recordings]
    means = np.array([float(x.mean()) for x in logs])
    within = np.array([float(x.std(ddof=1)) ** 2 / x.size for x in logs])
    between_sd = float(means.std(ddof=1)) if n_processes > 1 else float("nan")
    corrected = (
        math.sqrt(max(between_sd**2 - float(within.mean()), 0.0))
        if n_processes > 1
        else float("nan")
    )
    first = recordings[0].meta
    unit = "fps" if higher_is_better else "ms"
    values = [r.model_value for r in recordings] + [r.partner_value for r in recordings]
    blocks = sorted({float(r.meta.get("block_s", measure.block_s)) for r in recordings})
    precisions = sorted(
        {
            f"{r.meta.get('precision', '?')} (reports "
            f"{r.meta.get('inference_precision_hint', '?')} / "
            f"{r.meta.get('baseline_inference_precision_hint', '?')})"
            for r in recordings
        }
    )
    counts = list(window_counts.values())
    print()
    print(
        f"**{kind}**, model {first.get('description', first.get('model', 'toy'))}, "
        f"config {first.get('config')}, precision {', '.join(precisions)}, OpenVINO "
        f"{first.get('openvino')}; blocks of {blocks[0]:.3g}-{blocks[-1]:.3g} s"
        + (
            f", {first.get('requests')} requests, {first.get('num_streams')} streams"
            if higher_is_better
            else ""
        )
        + "."
    )
    print()
    print(
        f"{n_processes} processes (separate compiles), {sum(len(x) for x in logs)} block pairs; "
        f"{'fps' if higher_is_better else 'p50'} {min(values):.4g}-{max(values):.4g} {unit}; "
        f"{n_windows} windows of one A/B run each "
        f"(max time {max_time:g} s: {min(window_pairs)}-{max(window_pairs)} pairs, median "
        f"{np.median(window_pairs):g}); windows per process {min(counts)}-{max(counts)}; "
        f"{looks.count} looks at {', '.join(f'{t:g}' for t in look_times)} s "
        f"(the engine looks first at its min time, {measure.min_time_s * 2:g} s of both sides, "
        f"and the last look is the final verdict at the budget's end); threshold "
        f"{threshold:.0%}, O'Brien-Fleming levels, at the last look "
        f"confidence {settings.confidence:.4g} / equivalence {settings.equivalence_confidence:.4g}"
        f"; higher_is_better={higher_is_better}. Processes: {len(quiet)} quiet, {len(noisy)} "
        f"noisy (model blocks' CV over {NOISY_CV_FACTOR:g}x the steadiest quarter's, level "
        f"more than {NOISY_LEVEL:.0%} off the fastest quarter's, or foreign load over "
        f"{NOISY_LOAD:.0%} while "
        "measuring). Busy: a window whose foreign load is over "
        f"{DEFAULT_MAX_FOREIGN_LOAD:.0%} (the busy guard, not applied to the verdicts)."
    )
    print()
    print(
        "| scenario | processes | verdicts | regression | improvement | unchanged | "
        "inconclusive | regression rate (upper 95% bound) | processes with a regression | "
        "busy windows | regressions outside busy windows | stopped at look 1/2/3/end | "
        "mean pairs / s per verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    roles = {
        role: {r.name for r in recordings if r.meta.get("worker_side") == role}
        for role in sorted({str(r.meta.get("worker_side")) for r in recordings} - {"none", "None"})
    }
    groups = [("all", set(states)), ("quiet", quiet), ("noisy", noisy)] + [
        (f"{role} in the worker", names) for role, names in roles.items() if names
    ]
    for name, full in rows.items():
        for spell, names in groups:
            row = full.subset(names)
            n = len(row.verdicts)
            tally = [row.verdicts.count(v) for v in VERDICTS]
            regression = tally[0]
            alarmed = {p for p, v in zip(row.processes, row.verdicts) if v == "regression"}
            stops = "/".join(
                str(row.stops.count(s)) for s in [*(str(k) for k in range(1, looks.count)), "end"]
            )
            busy = [load is not None and load > DEFAULT_MAX_FOREIGN_LOAD for load in row.loads]
            known = sum(load is not None for load in row.loads)
            left = sum(v == "regression" and not b for v, b in zip(row.verdicts, busy))
            rate = f"{regression / n:.1%} ({upper_bound(regression, n):.1%})" if n else "-"
            label = name if spell == "all" else f"{name}, {spell}"
            print(
                f"| {label} | {len(names)} | {n} | "
                + " | ".join(f"{c}/{n}" for c in tally)
                + f" | {rate} | {len(alarmed)}/{len(names)} | "
                f"{sum(busy)}/{known} | {left} | {stops} | "
                f"{np.mean(row.pairs or [0]):.1f} / {np.mean(row.seconds or [0]):.2f} |"
            )
    aa = rows[SCENARIOS[0][0]]
    false_alarms = aa.verdicts.count("regression") + aa.verdicts.count("improvement")
    alarmed_processes = {
        p for p, v in zip(aa.processes, aa.verdicts) if v in ("regression", "improvement")
    }
    by_windows = upper_bound(false_alarms, n_windows)
    by_processes = upper_bound(len(alarmed_processes), n_processes)
    per_process = n_windows / max(n_processes, 1)
    print()
    print(
        f"A/A': unchanged {aa.verdicts.count('unchanged')}/{n_windows}; false alarms of either "
        f"sign {false_alarms}/{n_windows} (upper 95% bound {by_windows:.1%}), in "
        f"{len(alarmed_processes)}/{n_processes} processes (upper 95% bound over processes "
        f"{by_processes:.1%}). Dependence: the {n_windows} windows come from {n_processes} "
        f"processes ({per_process:.1f} each) and the windows of a process share its "
        "process-level offset, so the bound over windows is optimistic; the bound over "
        "processes does not assume independent windows."
    )
    if n_windows < MIN_AA_VERDICTS:
        print()
        print(
            f"Note: {n_windows} A/A verdicts, fewer than the {MIN_AA_VERDICTS} a full run "
            "should give: more --processes or --seconds."
        )
    print()
    print(
        f"between-process SD of the mean log ratio: {between_sd:.4f} raw, {corrected:.4f} less "
        f"the within-process noise (PAIRED_DRIFT = {PAIRED_DRIFT}); mean current/baseline ratio "
        f"over processes {math.exp(float(means.mean())):.4f}"
    )
    print_proposals(undecided, measure, looks, gate, threshold, higher_is_better)
    print_floors(
        recordings, groups, aa, max_time, threshold,
        gate.ab_settings(threshold, looks.count - 1).equivalence_confidence,
    )  # fmt: skip
    if any(roles.values()):
        print_roles(recordings, means, roles)
    print()
    print(
        f"| process | level (mean {unit} / median) | CV of model blocks | SD of block log "
        "ratios | mean log ratio | foreign load before / during / after | windows | "
        "A/A false alarms | spell |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for recording, mean in zip(recordings, means):
        state = states[recording.name]
        alarms = sum(
            p == recording.name and v in ("regression", "improvement")
            for p, v in zip(aa.processes, aa.verdicts)
        )
        print(
            f"| {recording.name} | {state.level:.3f} | {state.cv:.3f} | {state.ratio_sd:.4f} | "
            f"{mean:+.4f} | {percent(recording.load_before)} / {percent(recording.load_during)} "
            f"/ {percent(recording.load_after)} | {window_counts[recording.name]} | {alarms} | "
            f"{state.spell} |"
        )


def t_interval(values: np.ndarray) -> str:
    """The mean of ``values`` (log ratios) as a percentage with its 95% t-interval."""
    mean = float(values.mean())
    if values.size < 2:
        return f"{mean:+.2%}"
    half = float(sps.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return f"{mean:+.2%} [{mean - half:+.2%}, {mean + half:+.2%}]"


def print_roles(recordings: list[Recording], means: np.ndarray, roles: dict[str, set[str]]) -> None:
    """Issue 19's bias across processes, per role: the processes' mean log ratios (current /
    baseline) with a t-interval over processes, and the same turned into in-process / worker
    (whose sign flips with the roles where a bias belongs to a process, and not where it
    belongs to a role), and the idle side's CPU share."""
    by_name = dict(zip((r.name for r in recordings), means))
    print()
    print(
        "| worker measures | processes | mean log ratio current / baseline [95% t over "
        "processes] | in-process / worker | idle-side CPU median / max |"
    )
    print("|---|---|---|---|---|")
    signed: list[float] = []
    for role, names in roles.items():
        if not names:
            continue
        values = np.array([by_name[n] for n in sorted(names)])
        # the model's side in the worker: current / baseline is worker / in-process
        flipped = -values if role == "model" else values
        signed.extend(flipped)
        shares = [
            float(r.meta["idle_share"])
            for r in recordings
            if r.name in names and r.meta.get("idle_share") is not None
        ]
        idle = f"{np.median(shares):.2%} / {max(shares):.2%}" if shares else "-"
        label = {"reference": "the baseline", "model": "the current model"}.get(role, role)
        print(f"| {label} | {len(names)} | {t_interval(values)} | {t_interval(flipped)} | {idle} |")
    print(f"| both | {len(signed)} | | {t_interval(np.array(signed))} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--processes", type=int, default=25, help="measuring processes")
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring per process")
    parser.add_argument(
        "--block-latencies",
        type=int,
        nargs="+",
        default=[loops.STEADY_SKIP + loops.STEADY_LATENCIES],
        help="throughput: the fewest request latencies a block spans (a variant of the "
        "plugin's, for collecting; at least STEADY_SKIP + STEADY_MIN_CYCLES + 1); several "
        "values take turns process by process and are replayed apart",
    )
    parser.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default="toy",
        help="toy: mobilenet_like at f32; det/rec/cls: the PP-OCR wheel model at the default "
        "precision",
    )
    parser.add_argument("--kind", choices=KINDS, default="latency", help="measurement kind")
    parser.add_argument("--size", type=int, default=128, help="image size of the toy conv net")
    parser.add_argument(
        "--max-time",
        type=float,
        default=MeasureSettings().max_time_s,
        help="time budget of one A/B run, both sides (--ovperf-max-time)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_REGRESSION_THRESHOLD,
        help="regression threshold (--ovperf-regression-threshold)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="replay the JSON files here, measuring nothing"
    )
    parser.add_argument(
        "--worker",
        choices=(*WORKER_SIDES, *BOTH_ORDERS),
        default="none",
        help="a worker process of this same OpenVINO release measures the reference's side, "
        "the model's side, or each in turn process by process (issue 19's A/A across "
        "processes, roles swapped); reference-loaded-first: the reference's worker loaded "
        "before this process compiles the current model (load-order: that and reference in "
        "turn); both: each side in a worker of its "
        "own, the one started "
        "first taking turns (both-model-first / both-reference-first: one process's order, "
        "as the collecting processes are called); none: both sides in the collecting process",
    )
    parser.add_argument(
        "--counting",
        choices=COUNTINGS,
        default="cycles",
        help="throughput: replay each block's rate over its median cycle of the whole queue "
        "(cycles: what the plugin pairs; from every submission's return, recorded since "
        "2026-12-05), its inferences over its whole time, fill and drain included (whole: the "
        "plugin's pairing before), or its steady window's rate (steady: before whole "
        "blocks), whichever way the data recorded them",
    )
    parser.add_argument(
        "--burst-load",
        type=float,
        default=0.0,
        help="collecting: a process beside each measuring one spins one CPU in bursts of this "
        "share of the time (0.1: 10%% of one CPU, in bursts of 5-35 ms at random phases), a "
        "stand-in for a host that takes a vCPU now and then (default 0: none)",
    )
    parser.add_argument(
        "--paired-drift",
        type=float,
        default=PAIRED_DRIFT,
        help="the between-process term the replayed verdicts add (log scale; default the "
        "gate's PAIRED_DRIFT): what another value would have decided, on the same data",
    )
    parser.add_argument("--collect-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect_into is not None:
        # a variant of the plugin's throughput block length, this process only
        loops.STEADY_LATENCIES = args.block_latencies[0] - loops.STEADY_SKIP
        collect(args.collect_into, args.model, args.kind, args.size, args.seconds, args.worker)
        return
    folders = [args.data] if args.data is not None else measure_all(args)
    for data in folders:
        recordings = [
            Recording.load(path, args.counting) for path in sorted(data.glob("process-*.json"))
        ]
        if not recordings:
            raise SystemExit(f"no process-*.json files in {data}")
        if len(folders) > 1:
            print(f"\n## {data.name}\n", flush=True)
        replay(recordings, args.max_time, args.threshold, args.paired_drift)


if __name__ == "__main__":
    main()
