"""Generation pipelines named by ``@pytest.mark.ovperf_llm``: the marker, loading an
``openvino_genai.LLMPipeline`` once per session, and one timed generate call.

openvino-genai is an extra (``pip install pytest-ovperf[genai]``); it is imported where a
pipeline is loaded, so the rest of the plugin runs without it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import openvino as ov

from ..kinds.generation import DEFAULT_NEW_TOKENS, DEFAULT_PROMPT_TOKENS
from .device_locks import DeviceLocks
from .devices import hint_value_for, precision_label
from .models import ModelError, ModelSpec, config_text, error_line, model_fingerprint

#: the model file of a pipeline directory (what optimum-cli and ``testing.tiny_llm`` write)
PIPELINE_MODEL_FILE = "openvino_model.xml"
#: the other files of a pipeline directory the pipeline reads and the model store keeps
#: beside the model (configs, tokenizer and detokenizer IRs)
PIPELINE_FILE_PATTERNS = ("*.json", "openvino_tokenizer.*", "openvino_detokenizer.*")
#: the property that chooses the attention backend (continuous batching with paged attention,
#: or the stateful model's own SDPA); the backend is part of the measured config
ATTENTION_BACKEND = "ATTENTION_BACKEND"
#: the attention backends: continuous batching with paged attention (genai's default where
#: the model allows it) and the stateful model's own scaled-dot-product attention
PAGED = "PA"
STATEFUL = "SDPA"
#: the paged-attention scheduler's batch limit in tokens: large enough that no prompt is
#: split into chunks (genai's own latency default is the largest size_t)
UNCHUNKED_PROMPT_TOKENS = 1 << 32
#: seed of the prompts' token ids: call ``i`` of every run feeds the same prompt
PROMPT_SEED = 20261203
#: token ids below this are left out of prompts (special tokens sit at the low ids)
FIRST_PROMPT_ID = 4

PipelineSource = Union[str, Path, Callable[[], Union[str, Path]]]


class GenerationError(ModelError):
    """A pipeline that cannot be loaded or run; the message names it and the problem."""


@dataclass(frozen=True)
class GenerationSpec:
    """What ``ovperf_llm`` asks beyond the model: the prompt and how many tokens to generate."""

    directory: Path
    prompt_tokens: int
    new_tokens: int


_LLM_KWARGS = {"prompt_tokens", "new_tokens", "config"}
_COUNT_DEFAULTS = {"prompt_tokens": DEFAULT_PROMPT_TOKENS, "new_tokens": DEFAULT_NEW_TOKENS}


def parse_llm_marker(
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    base_dir: Path,
    resolve: Callable[[Callable[[], str | Path]], Path],
) -> ModelSpec:
    """Validate ``ovperf_llm`` arguments (``GenerationError`` names the problem); a factory
    source is called through ``resolve`` (once per session)."""
    if "source" in kwargs:
        if args:
            raise GenerationError("ovperf_llm got the pipeline both by position and as source=")
        args = (kwargs["source"],)
        kwargs = {k: v for k, v in kwargs.items() if k != "source"}
    if len(args) != 1:
        raise GenerationError(
            "ovperf_llm takes one pipeline: a directory by position, or a callable returning "
            f"one as source=factory, got {len(args)} positional arguments"
        )
    unknown = sorted(set(kwargs) - _LLM_KWARGS)
    if unknown:
        raise GenerationError(
            f"ovperf_llm got unknown argument(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_LLM_KWARGS))}"
        )
    counts = {name: kwargs.get(name, default) for name, default in _COUNT_DEFAULTS.items()}
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GenerationError(f"ovperf_llm {name}={value!r} must be a positive integer")
    if counts["new_tokens"] < 2:
        raise GenerationError(
            "ovperf_llm new_tokens must be at least 2: the time per output token is "
            "measured on the tokens after the first"
        )
    config = kwargs.get("config") or {}
    if not isinstance(config, Mapping):
        raise GenerationError(f"ovperf_llm config must be a dict of properties, got {config!r}")
    if "scheduler_config" in config:
        raise GenerationError(
            "ovperf_llm config may not set scheduler_config: the plugin sets it (prefix "
            "caching off, prompts unchunked); choose the backend with ATTENTION_BACKEND"
        )
    source = args[0]
    if isinstance(source, (str, Path)):
        directory = Path(source).expanduser()
        directory = directory if directory.is_absolute() else (base_dir / directory).resolve()
    elif callable(source):
        directory = resolve(source)
    else:
        raise GenerationError(
            "ovperf_llm takes a pipeline directory or a callable returning one, got "
            f"{type(source).__name__}"
        )
    model_file = directory / PIPELINE_MODEL_FILE
    if not model_file.is_file():
        raise GenerationError(
            f"ovperf_llm: {directory} is not a pipeline directory (no {PIPELINE_MODEL_FILE})"
        )
    return ModelSpec(
        source=model_file,
        config=dict(config),
        base_dir=base_dir,
        generation=GenerationSpec(directory, counts["prompt_tokens"], counts["new_tokens"]),
    )


def pipeline_files(directory: Path) -> list[Path]:
    """The files of a pipeline directory the model store keeps: the model and its weights
    first, then the configs and tokenizer IRs."""
    files = [directory / PIPELINE_MODEL_FILE, (directory / PIPELINE_MODEL_FILE).with_suffix(".bin")]
    for pattern in PIPELINE_FILE_PATTERNS:
        files.extend(sorted(p for p in directory.glob(pattern) if p.is_file()))
    return [f for f in dict.fromkeys(files) if f.is_file()]


def pipeline_properties(config: Mapping[str, Any], precision: str) -> dict[str, Any]:
    """The properties a pipeline is loaded with: the test's precision, the marker's config."""
    properties: dict[str, Any] = {}
    hint = hint_value_for(precision)
    if hint is not None:
        properties["INFERENCE_PRECISION_HINT"] = hint
    properties.update(config)
    return properties


@dataclass(frozen=True)
class PipelineEntry:
    """A loaded pipeline and the one-off costs measured when it was made (the fields the
    results share with a compiled model's ``CompiledEntry``)."""

    pipeline: Any  # openvino_genai.LLMPipeline
    directory: Path
    #: loading the pipeline: reading and compiling its models, ms
    compile_ms: float
    #: the first (warm-up) generate call, ms
    first_inference_ms: float
    precision: str
    fingerprint: str
    #: the properties it was loaded with, as strings (a stored fact)
    config: dict[str, str]
    #: the attention backend it runs (``PAGED`` or ``STATEFUL``)
    backend: str
    vocab_size: int


def import_genai() -> Any:
    """openvino_genai, or a ``GenerationError`` saying how to install it."""
    try:
        import openvino_genai
    except ImportError as exc:
        raise GenerationError(
            "generation tests need openvino-genai: pip install 'pytest-ovperf[genai]' "
            f"(import failed: {error_line(exc)})"
        ) from exc
    return openvino_genai


def vocab_size(model: ov.Model, directory: Path) -> int:
    """The vocabulary: the logits' last dimension, else ``config.json``'s ``vocab_size``."""
    for output in model.outputs:
        shape = output.get_partial_shape()
        if "logits" in output.get_names() and shape.rank.is_static and shape[-1].is_static:
            return int(shape[-1].get_length())
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        return int(config["vocab_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenerationError(
            f"{directory}: cannot tell the vocabulary size (no static logits dimension, and "
            f"config.json has no vocab_size: {exc})"
        ) from exc


def prompt_ids(vocab: int, length: int, call: int) -> np.ndarray:
    """The token ids of call ``call``'s prompt: drawn with a fixed seed, another prompt on
    every call so that a prefix cache cannot serve one call from another's prompt."""
    rng = np.random.default_rng((PROMPT_SEED, call))
    low = min(FIRST_PROMPT_ID, vocab - 1)
    return rng.integers(low, vocab, size=(1, length), dtype=np.int64)


@dataclass(frozen=True)
class CallFigures:
    """One generate call as ``perf_metrics`` times it."""

    ttft_ms: float
    #: mean time per output token after the first, ms
    tpot_ms: float
    new_tokens: int
    #: the whole call, ms
    duration_ms: float


class GenerationCall:
    """Generate calls of one pipeline: greedy, ``ignore_eos``, exactly ``new_tokens`` new
    tokens from a prompt of exactly ``prompt_tokens`` ids, another prompt each call."""

    def __init__(self, entry: PipelineEntry, spec: GenerationSpec, what: str) -> None:
        genai = import_genai()
        self._genai = genai
        self._entry = entry
        self._spec = spec
        self._what = what
        self._calls = 0
        config = genai.GenerationConfig()
        config.max_new_tokens = spec.new_tokens
        config.min_new_tokens = spec.new_tokens
        config.ignore_eos = True
        config.do_sample = False
        self._config = config

    def __call__(self) -> CallFigures:
        ids = prompt_ids(self._entry.vocab_size, self._spec.prompt_tokens, self._calls)
        self._calls += 1
        inputs = self._genai.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids)))
        try:
            result = self._entry.pipeline.generate(inputs, self._config)
        except Exception as exc:
            raise GenerationError(f"{self._what}: generate failed: {error_line(exc)}") from exc
        metrics = result.perf_metrics
        generated = int(metrics.get_num_generated_tokens())
        if generated != self._spec.new_tokens:
            raise GenerationError(
                f"{self._what}: generated {generated} tokens, asked for exactly "
                f"{self._spec.new_tokens} (ignore_eos, min_new_tokens)"
            )
        return CallFigures(
            ttft_ms=float(metrics.get_ttft().mean),
            tpot_ms=float(metrics.get_tpot().mean),
            new_tokens=generated,
            duration_ms=float(metrics.get_generate_duration().mean),
        )


class PipelineCache:
    """Pipelines loaded once per session, by directory, device and properties; pipeline
    factories called once per session."""

    def __init__(self, core: ov.Core, locks: DeviceLocks) -> None:
        self._core = core
        #: the pytest-xdist workers' device locks: a pipeline is read and compiled holding
        #: the CPU shared and warmed up holding its device, as ``CompileCache`` does
        self._locks = locks
        self._entries: dict[tuple[str, str, str, str], PipelineEntry] = {}
        self._factories: dict[int, tuple[Callable[[], str | Path], Path]] = {}
        self._lock = threading.Lock()

    def resolve(self, factory: Callable[[], str | Path]) -> Path:
        """The directory a pipeline factory writes (called once per session)."""
        known = self._factories.get(id(factory))
        if known is not None and known[0] is factory:
            return known[1]
        name = getattr(factory, "__qualname__", repr(factory))
        try:
            directory = Path(factory()).resolve()
        except Exception as exc:
            raise GenerationError(f"ovperf_llm factory {name}() failed: {error_line(exc)}") from exc
        self._factories[id(factory)] = (factory, directory)
        return directory

    def get(self, spec: ModelSpec, device: str, precision: str) -> PipelineEntry:
        """The pipeline of ``spec`` on ``device`` at ``precision``, loaded (and warmed up by
        one generate call) the first time it is asked for."""
        generation = spec.generation
        assert generation is not None  # an ovperf_llm spec
        return self._cached(
            generation, device, precision, pipeline_properties(spec.config, precision)
        )

    def load(
        self, directory: Path, device: str, config: Mapping[str, str], spec: GenerationSpec
    ) -> PipelineEntry:
        """The pipeline of another directory (the baseline's copy) loaded with the
        properties stored with it (its ``config`` fact), prompted as ``spec`` says."""
        other = GenerationSpec(directory, spec.prompt_tokens, spec.new_tokens)
        precision = precision_label(config.get("INFERENCE_PRECISION_HINT"))
        return self._cached(other, device, precision, dict(config))

    def forget(self, entry: PipelineEntry) -> None:
        """Drop a pipeline (the baseline's copy after its A/B measurement): an LLM's weights
        and KV cache are too large to keep a second copy loaded for the whole session."""
        with self._lock:
            for key in [k for k, v in self._entries.items() if v is entry]:
                del self._entries[key]

    def _cached(
        self, generation: GenerationSpec, device: str, precision: str, properties: dict[str, Any]
    ) -> PipelineEntry:
        config = config_text(properties)
        key = (str(generation.directory), device, precision, json.dumps(config, sort_keys=True))
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                found = self._load(generation, device, precision, properties)
                self._entries[key] = found
        return found

    def _load(
        self, generation: GenerationSpec, device: str, precision: str, properties: dict[str, Any]
    ) -> PipelineEntry:
        genai = import_genai()
        directory = generation.directory
        try:
            model = self._core.read_model(str(directory / PIPELINE_MODEL_FILE))
        except Exception as exc:
            raise GenerationError(
                f"cannot read {directory / PIPELINE_MODEL_FILE}: {error_line(exc)}"
            ) from exc
        requested = properties.pop(ATTENTION_BACKEND, None)
        # genai's default tries paged attention and falls back to SDPA without saying so;
        # the backend is part of what is measured, so it is chosen here and recorded
        backends = [str(requested)] if requested is not None else [PAGED, STATEFUL]
        failures: list[str] = []
        with self._locks.preparing():
            for backend in backends:
                started = time.perf_counter()
                try:
                    pipeline = genai.LLMPipeline(
                        str(directory), device, **backend_properties(genai, backend, properties)
                    )
                except Exception as exc:
                    failures.append(f"{backend}: {error_line(exc)}")
                    continue
                load_ms = (time.perf_counter() - started) * 1e3
                break
            else:
                raise GenerationError(
                    f"cannot load the pipeline {directory} on {device} with {properties} "
                    f"({'; '.join(failures)})"
                )
        entry = PipelineEntry(
            pipeline=pipeline,
            directory=directory,
            compile_ms=load_ms,
            first_inference_ms=math.nan,
            precision=precision,
            fingerprint=model_fingerprint(model),
            config={**config_text(properties), ATTENTION_BACKEND: backend},
            backend=backend,
            vocab_size=vocab_size(model, directory),
        )
        with self._locks.measuring(device):
            started = time.perf_counter()
            GenerationCall(entry, generation, str(directory))()  # warm-up, not counted
            first_ms = (time.perf_counter() - started) * 1e3
        return dataclasses.replace(entry, first_inference_ms=first_ms)


def backend_properties(genai: Any, backend: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The load properties of ``backend``: paged attention with its prefix cache off (a
    cached prompt prefix would flatter the time to first token) and no chunking of long
    prompts (a user scheduler config's default splits prompts over 256 tokens)."""
    loaded = {**properties, ATTENTION_BACKEND: backend}
    if backend == PAGED:
        scheduler = genai.SchedulerConfig()
        scheduler.enable_prefix_caching = False
        scheduler.max_num_batched_tokens = UNCHUNKED_PROMPT_TOKENS
        loaded["scheduler_config"] = scheduler
    return loaded
