"""Command-line options and ini keys of pytest-ovperf, and their resolution into ``Settings``.

Every option is also an ini key (``--ovperf-max-time`` <-> ``ovperf_max_time``); the command
line wins. This table is the one place that names an option, its default and its help.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TypeVar

import pytest

from .measure.settings import MeasureSettings
from .runtime.devices import parse_precision_list, split_device_list
from .verdicts.kinds import CompareMode
from .verdicts.limits import (
    DEFAULT_DRIFT_PRIOR,
    DEFAULT_MAX_FOREIGN_LOAD,
    DEFAULT_MAX_PROBE_SHIFT,
    DEFAULT_MEMORY_FLOOR_MB,
    DEFAULT_MEMORY_THRESHOLD,
    DEFAULT_REGRESSION_THRESHOLD,
    FractionError,
    parse_fraction,
    percent_text,
)


class MemoryMode(str, Enum):
    """Where ``measure_memory`` reads the memory a compiled model keeps."""

    #: a fresh process per reading: nothing compiled before in the session counts
    PROCESS = "process"
    #: in the test's own process, the peak reset first (Linux; elsewhere ``process``)
    SESSION = "session"


class InconclusivePolicy(str, Enum):
    """What an inconclusive verdict does to the test (and so to the exit status)."""

    PASS = "pass"  # the test passes; the summary still says inconclusive
    WARN = "warn"  # the test passes with an OvperfInconclusiveWarning
    FAIL = "fail"  # the test fails


@dataclass
class Settings:
    """Everything the options decide, resolved and validated once per session."""

    devices: list[str]
    precisions: list[str]
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    inconclusive: InconclusivePolicy = InconclusivePolicy.WARN
    json_path: Path | None = None
    markdown_path: Path | None = None
    html_path: Path | None = None
    #: smallest slowdown (fraction) that counts as a regression
    regression_threshold: float = DEFAULT_REGRESSION_THRESHOLD
    baseline_dir: Path = Path("baselines")
    #: where the copies of the baselines' models live (default: ``<baseline_dir>/models``)
    model_store: Path = Path("baselines") / "models"
    compare: CompareMode = CompareMode.AUTO
    update_baselines: bool = False
    prune_stale: bool = False
    #: prior run-to-run drift of the regression gate (fraction)
    prior_drift: float = DEFAULT_DRIFT_PRIOR
    #: interleave the machine-speed probe with every measurement
    speed_probe: bool = True
    #: on the CPU, measure the model with one inference thread too (``partners/``)
    companion: bool = True
    #: above this foreign CPU load (fraction) a baseline comparison is inconclusive
    max_foreign_load: float = DEFAULT_MAX_FOREIGN_LOAD
    #: above this change of the speed probe (fraction) a baseline comparison is inconclusive
    max_probe_shift: float = DEFAULT_MAX_PROBE_SHIFT
    #: under pytest-xdist, one measurement per device at a time (and no CPU-heavy
    #: preparation during a CPU measurement)
    device_lock: bool = True
    #: under pytest-xdist, give each worker its own physical CPU cores
    cpu_partition: bool = False
    #: profile each measured compile with performance counters (runtime precision, layers)
    profile: bool = True
    #: fail a test whose device ran most of its compute in another precision than asked
    strict_precision: bool = False
    #: memory: how each reading is taken (``measure/memory.py``)
    memory_mode: MemoryMode = MemoryMode.PROCESS
    #: memory: an increase over the baseline beyond both of these is a regression
    memory_threshold: float = DEFAULT_MEMORY_THRESHOLD
    memory_floor_mb: float = DEFAULT_MEMORY_FLOOR_MB
    #: where the side environments of other OpenVINO releases live (``None``: the user's
    #: cache directory, ``runtime/side/environment.py``)
    runtime_cache: Path | None = None
    #: OpenVINO releases to take from these interpreters instead of installing them
    runtime_pythons: dict[str, str] = field(default_factory=dict)
    #: measure a test that failed on statistics alone again at the end of the run, and
    #: fail it only when the re-measure fails too
    confirm: bool = True


_DEFAULT_MEASURE = MeasureSettings()
_FRACTION_HELP = "; a fraction (0.05) or a percent ('5%')"

#: (name, default, help) of the options that take a value; each is also an ini key
VALUE_OPTIONS: list[tuple[str, str, str]] = [
    (
        "warmup",
        f"{_DEFAULT_MEASURE.warmup_s:g}",
        f"seconds of warmup inference before measuring (default {_DEFAULT_MEASURE.warmup_s:g})",
    ),
    (
        "min-time",
        f"{_DEFAULT_MEASURE.min_time_s:g}",
        "minimum seconds of measurement of the model per metric "
        f"(default {_DEFAULT_MEASURE.min_time_s:g})",
    ),
    (
        "max-time",
        f"{_DEFAULT_MEASURE.max_time_s:g}",
        "maximum seconds of measurement per metric, interleaved probe or reference included "
        f"(default {_DEFAULT_MEASURE.max_time_s:g})",
    ),
    (
        "confidence",
        f"{_DEFAULT_MEASURE.confidence:g}",
        f"confidence level of every interval (default {_DEFAULT_MEASURE.confidence:g})",
    ),
    (
        "ci-width",
        f"{_DEFAULT_MEASURE.target_precision:g}",
        "stop measuring once the interval's half width is this fraction of the estimate "
        f"(default {_DEFAULT_MEASURE.target_precision:g})",
    ),
    ("json", "", "write every perf result to this JSON file"),
    (
        "html",
        "",
        "write a self-contained HTML report (summary table, plots, verdicts) to this file",
    ),
    (
        "markdown",
        "",
        "write a markdown summary table to this file (it is also appended to "
        "$GITHUB_STEP_SUMMARY when that is set)",
    ),
    (
        "inconclusive",
        InconclusivePolicy.WARN.value,
        "what an inconclusive verdict does: pass, warn (pass with a warning; default) or fail",
    ),
    (
        "regression-threshold",
        percent_text(DEFAULT_REGRESSION_THRESHOLD),
        "smallest slowdown that counts as a regression"
        + _FRACTION_HELP
        + f" (default {percent_text(DEFAULT_REGRESSION_THRESHOLD)})",
    ),
    ("baseline-dir", "baselines", "directory of the baseline JSON files, relative to rootdir"),
    (
        "model-store",
        "",
        "directory of the copies of the models baselines were recorded with, relative to "
        "rootdir (default: <baseline-dir>/models)",
    ),
    (
        "runtime-cache",
        "",
        "directory of the side environments of other OpenVINO releases (reference_runtime=); "
        "default: the user's cache directory (~/.cache/pytest-ovperf/runtimes)",
    ),
    (
        "runtime-python",
        "",
        "interpreters that have an OpenVINO release, used instead of installing it: "
        "RELEASE=PATH, comma-separated (offline CI, a custom build)",
    ),
    (
        "compare",
        CompareMode.AUTO.value,
        "how a result is compared with its baseline: auto (A/B against the baseline's own model "
        "when the model or compile config changed and its copy is at hand, else the stored "
        "runs; default), ab (always A/B), history (always the stored runs)",
    ),
    (
        "drift-prior",
        percent_text(DEFAULT_DRIFT_PRIOR),
        "run-to-run drift the regression gate assumes until the baseline history shows this "
        "machine's own" + _FRACTION_HELP + f" (default {percent_text(DEFAULT_DRIFT_PRIOR)})",
    ),
    (
        "max-foreign-load",
        percent_text(DEFAULT_MAX_FOREIGN_LOAD),
        "share of the machine's CPU other processes may use while a test measures before its "
        "baseline comparison is called inconclusive"
        + _FRACTION_HELP
        + f" (default {percent_text(DEFAULT_MAX_FOREIGN_LOAD)})",
    ),
    (
        "max-probe-shift",
        percent_text(DEFAULT_MAX_PROBE_SHIFT),
        "how far the speed probe may run faster or slower than in the baseline's runs before "
        "a baseline comparison is called inconclusive"
        + _FRACTION_HELP
        + f" (default {percent_text(DEFAULT_MAX_PROBE_SHIFT)})",
    ),
    (
        "speed-probe",
        "on",
        "on/off: interleave a small fixed workload with every measurement; the regression "
        "gate uses it to tell the machine's state and to compare model/probe latency "
        "ratios (default on)",
    ),
    (
        "companion",
        "on",
        "on/off: on the CPU, measure each model also with one inference thread within the "
        "same time cap and judge both figures against the stored runs; one thread stays "
        "within a few percent across processes on a shared machine where two threads do not "
        "(default on)",
    ),
    (
        "memory-mode",
        MemoryMode.PROCESS.value,
        "how measure_memory reads memory: process (a fresh process per reading, so what the "
        "session compiled before does not count; default) or session (in the test's own "
        "process, its peak reset first; Linux only, elsewhere process)",
    ),
    (
        "memory-threshold",
        percent_text(DEFAULT_MEMORY_THRESHOLD),
        "smallest relative increase of memory over its baseline that counts as a regression "
        "(it must also exceed --ovperf-memory-floor)"
        + _FRACTION_HELP
        + f" (default {percent_text(DEFAULT_MEMORY_THRESHOLD)})",
    ),
    (
        "memory-floor",
        f"{DEFAULT_MEMORY_FLOOR_MB:g}",
        "smallest increase of memory over its baseline, in MiB, that counts as a regression "
        f"(it must also exceed --ovperf-memory-threshold; default {DEFAULT_MEMORY_FLOOR_MB:g})",
    ),
    (
        "device-lock",
        "on",
        "on/off: under pytest-xdist, workers measure one at a time per device, and none "
        "compiles while another measures on the CPU (default on)",
    ),
    (
        "cpu-partition",
        "off",
        "on/off: under pytest-xdist, give each worker its own physical CPU cores (NUMA "
        "aware), so workers measure on the CPU at the same time without sharing cores "
        "(default off)",
    ),
    (
        "profile",
        "on",
        "on/off: after measuring, profile the compile with performance counters: the runtime "
        "precision of the compute in the JSON report, and the layers whose time grew in a "
        "regression message (default on)",
    ),
    (
        "confirm",
        "on",
        "on/off: measure a test that failed on statistics alone (a regression, a broken "
        "latency/throughput/speedup budget) again at the end of the run and fail it only "
        "when the re-measure fails too (default on)",
    ),
]

#: (name, help) of the on/off flags; each is also a boolean ini key
FLAG_OPTIONS: list[tuple[str, str]] = [
    ("update-baselines", "record this run's results as the baselines"),
    ("prune-baselines", "delete stale baseline entries of the test files that ran in full"),
    (
        "strict-precision",
        "fail a test whose device ran most of its compute in another precision than the one "
        "asked for (bf16, f16); without it a warning says so",
    ),
]


def _ini_name(name: str) -> str:
    return f"ovperf_{name.replace('-', '_')}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("ovperf", "OpenVINO performance budgets (pytest-ovperf)")
    group.addoption(
        "--ovperf-device",
        action="append",
        default=None,
        metavar="DEVICE[,DEVICE]",
        help="device(s) to run perf tests on, e.g. CPU, GPU, AUTO, HETERO:GPU,CPU; "
        "repeat or comma-separate (default CPU)",
    )
    parser.addini("ovperf_device", "default for --ovperf-device", default="CPU")
    group.addoption(
        "--ovperf-precision",
        action="append",
        default=None,
        metavar="PRECISION[,PRECISION]",
        help="inference precision(s): f32, bf16, f16, int8 (default: the precisions the "
        "test's budgets name for the device, else the device default)",
    )
    parser.addini("ovperf_precision", "default for --ovperf-precision", default="")
    for name, default, help_text in VALUE_OPTIONS:
        group.addoption(f"--ovperf-{name}", default=None, help=help_text)
        parser.addini(_ini_name(name), help_text, default=default)
    for name, help_text in FLAG_OPTIONS:
        group.addoption(f"--ovperf-{name}", action="store_true", default=None, help=help_text)
        parser.addini(_ini_name(name), help_text, type="bool", default=False)


ChoiceT = TypeVar("ChoiceT", bound=Enum)


class _Reader:
    """Reads one option from the command line, else from the ini file."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def text(self, name: str) -> str:
        option = self.config.getoption(_ini_name(name))
        if option is not None:
            return str(option)
        return str(self.config.getini(_ini_name(name)))

    def number(self, name: str) -> float:
        text = self.text(name)
        try:
            return float(text)
        except ValueError:
            raise pytest.UsageError(f"--ovperf-{name}={text!r} is not a number") from None

    def fraction(self, name: str) -> float:
        try:
            return parse_fraction(self.text(name), f"--ovperf-{name}")
        except FractionError as exc:
            raise pytest.UsageError(str(exc)) from None

    def flag(self, name: str) -> bool:
        option = self.config.getoption(_ini_name(name))
        return bool(option) if option is not None else bool(self.config.getini(_ini_name(name)))

    def choice(self, name: str, choices: type[ChoiceT]) -> ChoiceT:
        """One of an enum's values (case-insensitive); a usage error lists them."""
        text = self.text(name).lower()
        try:
            return choices(text)
        except ValueError:
            words = [str(member.value) for member in choices]
            raise pytest.UsageError(
                f"--ovperf-{name}={text!r}: choose {', '.join(words[:-1])} or {words[-1]}"
            ) from None

    def switch(self, name: str) -> bool:
        text = self.text(name).lower()
        if text not in ("on", "off"):
            raise pytest.UsageError(f"--ovperf-{name}={text!r}: choose on or off")
        return text == "on"

    def listed(self, name: str) -> list[str]:
        values: list[str] | None = self.config.getoption(_ini_name(name))
        return values or [str(self.config.getini(_ini_name(name)))]


def settings_from_config(config: pytest.Config) -> Settings:
    """Resolve and validate every option; a bad value is a ``pytest.UsageError`` naming it."""
    read = _Reader(config)
    devices = split_device_list(read.listed("device"))
    if not devices:
        raise pytest.UsageError("--ovperf-device names no device")
    try:
        precisions = parse_precision_list(read.listed("precision"))
    except ValueError as exc:
        raise pytest.UsageError(f"--ovperf-precision: {exc}") from None
    measure = MeasureSettings(
        warmup_s=read.number("warmup"),
        min_time_s=read.number("min-time"),
        max_time_s=read.number("max-time"),
        confidence=read.number("confidence"),
        target_precision=read.number("ci-width"),
    )
    try:
        measure.validate()
    except ValueError as exc:
        raise pytest.UsageError(f"ovperf measurement options: {exc}") from None
    policy = read.choice("inconclusive", InconclusivePolicy)
    compare = read.choice("compare", CompareMode)
    memory_mode = read.choice("memory-mode", MemoryMode)
    memory_floor = read.number("memory-floor")
    if not (math.isfinite(memory_floor) and memory_floor >= 0):
        raise pytest.UsageError(f"--ovperf-memory-floor={memory_floor:g}: give MiB, zero or more")
    json_text = read.text("json")
    rootdir = Path(config.rootpath)
    baseline_dir = rootdir / read.text("baseline-dir")
    model_store_text = read.text("model-store")
    return Settings(
        devices=devices,
        precisions=precisions,
        measure=measure,
        inconclusive=policy,
        json_path=Path(json_text) if json_text else None,
        markdown_path=Path(read.text("markdown")) if read.text("markdown") else None,
        html_path=Path(read.text("html")) if read.text("html") else None,
        regression_threshold=read.fraction("regression-threshold"),
        baseline_dir=baseline_dir,
        model_store=rootdir / model_store_text if model_store_text else baseline_dir / "models",
        compare=compare,
        update_baselines=read.flag("update-baselines"),
        prune_stale=read.flag("prune-baselines"),
        prior_drift=read.fraction("drift-prior"),
        speed_probe=read.switch("speed-probe"),
        companion=read.switch("companion"),
        max_foreign_load=read.fraction("max-foreign-load"),
        max_probe_shift=read.fraction("max-probe-shift"),
        device_lock=read.switch("device-lock"),
        cpu_partition=read.switch("cpu-partition"),
        profile=read.switch("profile"),
        strict_precision=read.flag("strict-precision"),
        confirm=read.switch("confirm"),
        memory_mode=memory_mode,
        memory_threshold=read.fraction("memory-threshold"),
        memory_floor_mb=memory_floor,
        runtime_cache=rootdir / read.text("runtime-cache") if read.text("runtime-cache") else None,
        runtime_pythons=_runtime_pythons(read.text("runtime-python"), rootdir),
    )


def _runtime_pythons(text: str, rootdir: Path) -> dict[str, str]:
    """``--ovperf-runtime-python``: release -> interpreter path (relative to the rootdir)."""
    found: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        release, equals, path = item.partition("=")
        if not equals or not release.strip() or not path.strip():
            raise pytest.UsageError(
                f"--ovperf-runtime-python={text}: write RELEASE=PATH, comma-separated "
                "(2025.4.1=/opt/ov-2025.4/bin/python)"
            )
        found[release.strip()] = os.path.abspath(rootdir / path.strip())
    return found
