"""Models named by ``@pytest.mark.ovperf_model``: loading, reshaping, inputs, compiling."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import openvino as ov

from .device_locks import DeviceLocks
from .devices import (
    DEFAULT_PRECISION,
    hint_value_for,
    precision_label,
    profile_config,
    steady_config,
)
from .profile import RuntimeProfile, profile_compiled

if TYPE_CHECKING:
    from .generation import GenerationSpec

ModelSource = Union[str, Path, ov.Model, Callable[[], ov.Model]]

#: Seed of the default random inputs, so every run feeds the model the same data.
INPUT_SEED = 20240917


class ModelError(ValueError):
    """A model that cannot be read, reshaped or fed; the message says which and why."""


@dataclass(frozen=True)
class ModelSpec:
    """One ``ovperf_model`` marker, validated (the model itself is loaded lazily)."""

    source: ModelSource
    shape: Mapping[str, list[int]] | list[int] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    inputs: Any = None
    reference: ModelSource | None = None
    #: the reference's compile config (``reference_config=``): the reference is the model
    #: itself (or ``reference``) compiled with this config instead of ``config``
    reference_config: Mapping[str, Any] | None = None
    #: another OpenVINO runtime the reference (the model itself unless ``reference`` or
    #: ``reference_config`` says otherwise) runs under (``reference_runtime=``): a release
    #: (``"2025.4.1"``, installed into a cached side environment) or the path of a Python
    #: interpreter that has OpenVINO (``runtime/side/``)
    reference_runtime: str | None = None
    #: directory of the test file; relative paths are resolved against it
    base_dir: Path = Path(".")
    #: a generation pipeline (``ovperf_llm``): ``source`` is its model file, this says
    #: the rest (the directory, the prompt and how many tokens to generate)
    generation: GenerationSpec | None = None

    @property
    def has_reference(self) -> bool:
        return (
            self.reference is not None
            or self.reference_config is not None
            or self.reference_runtime is not None
        )

    def reference_spec(self) -> ModelSpec:
        """The reference as a model spec of its own: ``reference`` (else this model),
        compiled with ``reference_config`` (else this model's config)."""
        return ModelSpec(
            source=self.reference if self.reference is not None else self.source,
            shape=self.shape,
            config=self.reference_config if self.reference_config is not None else self.config,
            inputs=self.inputs,
            base_dir=self.base_dir,
        )

    def describe_reference(self) -> str:
        """The reference in messages (the runtime it runs under is the partner's to say)."""
        source = self.reference if self.reference is not None else self.source
        text = self.describe(source)
        if self.reference_config is not None:
            text += f" with config {dict(self.reference_config)}"
        return text

    def resolved_path(self, source: ModelSource | None = None) -> Path | None:
        source = self.source if source is None else source
        if isinstance(source, (str, Path)):
            path = Path(source).expanduser()
            return path if path.is_absolute() else (self.base_dir / path).resolve()
        return None

    def describe(self, source: ModelSource | None = None) -> str:
        source = self.source if source is None else source
        path = self.resolved_path(source)
        if path is not None:
            return str(path)
        if isinstance(source, ov.Model):
            return f"ov.Model {source.get_friendly_name()!r}"
        name = getattr(source, "__qualname__", None) or repr(source)
        return f"{getattr(source, '__module__', '?')}.{name}()"


_MODEL_KWARGS = {"shape", "config", "inputs", "reference", "reference_config", "reference_runtime"}


def parse_model_marker(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], base_dir: Path
) -> ModelSpec:
    """Validate ``ovperf_model`` arguments; raises ``ModelError`` naming the problem."""
    if "source" in kwargs:
        # a lone callable positional argument is taken by pytest as the decorated function,
        # so ovperf_model(source=factory) is the way to pass a bare model factory
        if args:
            raise ModelError("ovperf_model got the model both by position and as source=")
        args = (kwargs["source"],)
        kwargs = {k: v for k, v in kwargs.items() if k != "source"}
    if len(args) != 1:
        raise ModelError(
            f"ovperf_model takes exactly one positional argument (the model), got {len(args)}"
        )
    unknown = sorted(set(kwargs) - _MODEL_KWARGS)
    if unknown:
        raise ModelError(
            f"ovperf_model got unknown argument(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(_MODEL_KWARGS))}"
        )
    for name in ("source", "reference"):
        value = args[0] if name == "source" else kwargs.get("reference")
        if value is None and name == "reference":
            continue
        if not isinstance(value, (str, Path, ov.Model)) and not callable(value):
            raise ModelError(
                f"ovperf_model {name} must be a path, an ov.Model or a callable returning one, "
                f"got {type(value).__name__}"
            )
    config = kwargs.get("config") or {}
    if not isinstance(config, Mapping):
        raise ModelError(f"ovperf_model config must be a dict of properties, got {config!r}")
    reference_config = kwargs.get("reference_config")
    if reference_config is not None and not isinstance(reference_config, Mapping):
        raise ModelError(
            f"ovperf_model reference_config must be a dict of properties, got {reference_config!r}"
        )
    reference_runtime = kwargs.get("reference_runtime")
    if reference_runtime is not None and (
        not isinstance(reference_runtime, (str, Path)) or not str(reference_runtime).strip()
    ):
        raise ModelError(
            "ovperf_model reference_runtime must be an OpenVINO release (e.g. '2025.4.1') or "
            f"the path of a Python interpreter that has OpenVINO, got {reference_runtime!r}"
        )
    shape = kwargs.get("shape")
    if shape is not None and not isinstance(shape, (Mapping, list, tuple)):
        raise ModelError(f"ovperf_model shape must be a dict name -> list or a list, got {shape!r}")
    return ModelSpec(
        source=args[0],
        shape=shape,  # type: ignore[arg-type]  # checked above; lists of ints by contract
        config=dict(config),
        inputs=kwargs.get("inputs"),
        reference=kwargs.get("reference"),
        reference_config=dict(reference_config) if reference_config is not None else None,
        reference_runtime=str(reference_runtime) if reference_runtime is not None else None,
        base_dir=base_dir,
    )


def read_model(core: ov.Core, spec: ModelSpec, source: ModelSource | None = None) -> ov.Model:
    """Load and reshape the model; every failure becomes a ``ModelError`` with context."""
    source = spec.source if source is None else source
    what = spec.describe(source)
    path = spec.resolved_path(source)
    if path is not None:
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        try:
            model = core.read_model(str(path))
        except Exception as exc:
            raise ModelError(f"cannot read model {path}: {error_line(exc)}") from exc
    elif isinstance(source, ov.Model):
        model = source.clone()
    else:
        try:
            model = source()  # type: ignore[operator]
        except Exception as exc:
            raise ModelError(f"model factory {what} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(model, ov.Model):
            raise ModelError(f"model factory {what} returned {type(model).__name__}, not ov.Model")
    if spec.shape is not None:
        try:
            model.reshape(_shape_argument(spec.shape))
        except Exception as exc:
            raise ModelError(
                f"cannot reshape {what} to {spec.shape!r}: {error_line(exc)}; "
                f"its inputs are {describe_inputs(model)}"
            ) from exc
    dynamic = [p.get_any_name() for p in model.inputs if p.get_partial_shape().is_dynamic]
    if dynamic:
        raise ModelError(
            f"{what} has dynamic input(s) {', '.join(dynamic)} ({describe_inputs(model)}); "
            "give ovperf_model(..., shape={name: [dims]})"
        )
    return model


def _shape_argument(shape: Mapping[str, list[int]] | list[int] | tuple[int, ...]) -> Any:
    if isinstance(shape, Mapping):
        return {name: ov.PartialShape(list(dims)) for name, dims in shape.items()}
    return ov.PartialShape(list(shape))


def describe_inputs(model: ov.Model) -> str:
    return ", ".join(
        f"{_port_name(p)}{p.get_partial_shape()}:{p.get_element_type()}" for p in model.inputs
    )


def _port_name(port: Any) -> str:
    return str(port.get_any_name()) if port.get_names() else "?"


def property_text(value: Any) -> str:
    """A property value as a stored config and a compile key write it, in a form OpenVINO
    reads back: an ``ov.Type`` by its name (``u8``, not ``<Type: 'uint8_t'>``), an enum by
    its member name (``LATENCY``, not ``PerformanceMode.LATENCY``), else ``str``."""
    if isinstance(value, ov.Type):
        return str(value.get_type_name())
    # a Python enum, or an OpenVINO one (pybind11 enums have ``__members__`` and ``name``)
    if isinstance(value, Enum) or hasattr(type(value), "__members__"):
        return str(value.name)
    return str(value)


def config_text(config: Mapping[str, Any]) -> dict[str, str]:
    """A config's properties as text (``property_text``)."""
    return {str(k): property_text(v) for k, v in config.items()}


def error_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    # OpenVINO prefixes its messages with source locations; keep the last, specific line
    return lines[-1].strip() if lines else type(exc).__name__


def make_inputs(model: ov.Model, given: Any, what: str) -> list[np.ndarray]:
    """Input arrays in the model's input order: ``given`` data or seeded random data."""
    if given is not None:
        if callable(given):
            given = given()
        if isinstance(given, Mapping):
            arrays = []
            for port in model.inputs:
                names = port.get_names()
                key = next((n for n in names if n in given), None)
                if key is None:
                    raise ModelError(
                        f"ovperf_model inputs for {what} has no entry for input "
                        f"{sorted(names)}; it has {sorted(given)}"
                    )
                arrays.append(np.ascontiguousarray(given[key]))
            return arrays
        values = list(given) if isinstance(given, (list, tuple)) else [given]
        if len(values) != len(model.inputs):
            raise ModelError(
                f"ovperf_model inputs for {what} gives {len(values)} arrays, "
                f"the model has {len(model.inputs)} inputs"
            )
        return [np.ascontiguousarray(v) for v in values]
    rng = np.random.default_rng(INPUT_SEED)
    arrays = []
    for port in model.inputs:
        shape = list(port.get_shape())
        dtype = port.get_element_type().to_dtype()
        if np.issubdtype(dtype, np.floating):
            arrays.append(rng.random(shape, dtype=np.float32).astype(dtype))
        elif dtype == np.bool_:
            arrays.append(rng.integers(0, 2, shape).astype(bool))
        else:
            arrays.append(rng.integers(0, 100, shape).astype(dtype))
    return arrays


def model_fingerprint(model: ov.Model) -> str:
    """A short hash that changes whenever the computation changes (the ``model_hash`` fact,
    and the key of the model store): the graph as measured, after any ``shape=`` reshape.

    Every op in topological order contributes its type and opset, its attributes, where each
    input comes from (the producing op's position and port), its outputs' element types and
    shapes, and for constants the data bytes. Op names are left out: names that OpenVINO
    generates (``Convolution_123``) depend on what else the process built before.
    """
    digest = hashlib.sha256()
    position: dict[str, int] = {}
    for index, op in enumerate(model.get_ordered_ops()):
        position[op.get_name()] = index
        type_info = op.get_type_info()
        producers = [i.get_source_output() for i in op.inputs()]
        sources = [(position[s.get_node().get_name()], s.get_index()) for s in producers]
        outputs = [(str(o.get_element_type()), str(o.get_partial_shape())) for o in op.outputs()]
        header = json.dumps(
            [type_info.name, type_info.version_id, op.get_attributes(), sources, outputs],
            sort_keys=True,
            default=str,
        )
        digest.update(header.encode())
        if type_info.name == "Constant":
            digest.update(np.ascontiguousarray(op.get_data()).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class CompiledEntry:
    """A compiled model plus the one-off costs measured when it was made."""

    compiled: ov.CompiledModel
    inputs: list[np.ndarray]
    compile_ms: float
    first_inference_ms: float
    precision: str
    fingerprint: str
    config: dict[str, str]


@dataclass(frozen=True)
class CompileKey:
    model: str
    device: str
    precision: str
    hint: str
    config: str

    @classmethod
    def of(
        cls, spec: ModelSpec, source: ModelSource, device: str, precision: str, hint: str
    ) -> CompileKey:
        """The key of one compile of ``source`` (a model of ``spec``)."""
        config = json.dumps(config_text(spec.config), sort_keys=True)
        return cls(_source_key(spec, source), device, precision, hint, config)


@dataclass(frozen=True)
class PreparedModel:
    """A model read, reshaped and given its input data, ready to compile."""

    model: ov.Model
    inputs: list[np.ndarray]
    fingerprint: str
    quantized: bool


@dataclass(frozen=True)
class ModelFile:
    """A model file and the shape to give it after reading."""

    path: Path
    shape: Mapping[str, list[int]] | list[int] | None

    def read(self, core: ov.Core) -> ov.Model:
        model = core.read_model(str(self.path))
        if self.shape is not None:
            model.reshape(_shape_argument(self.shape))
        return model


class CompileCache:
    """Reads each model once and compiles each (model, device, precision, hint, config)
    once per session."""

    def __init__(self, core: ov.Core, locks: DeviceLocks | None = None) -> None:
        self.core = core
        #: under pytest-xdist: reading and compiling hold the CPU shared, the first
        #: inference (a timed figure) holds its device exclusively
        self.locks = locks or DeviceLocks(None)
        self._entries: dict[CompileKey, CompiledEntry] = {}
        self._prepared: dict[str, PreparedModel] = {}
        self._profiles: dict[CompileKey, RuntimeProfile] = {}
        self._files: dict[str, ModelFile] = {}
        self._file_dir: tempfile.TemporaryDirectory[str] | None = None

    def model_file(self, spec: ModelSpec, source: ModelSource | None = None) -> ModelFile:
        """A file a fresh read of the model starts from (load time and memory read and
        compile it anew): the model's own file with its shape, or, for a model built in
        code, the prepared model saved once as IR (full-precision weights:
        ``compress_to_fp16`` would change what is measured) in a temporary directory that
        lives as long as this cache."""
        source = spec.source if source is None else source
        path = spec.resolved_path(source)
        if path is not None:
            self.prepare(spec, source)  # a bad file is reported as for every kind
            return ModelFile(path, spec.shape)
        key = _source_key(spec, source)
        found = self._files.get(key)
        if found is None:
            found = ModelFile(self._saved(spec, source), None)  # saved after the reshape
            self._files[key] = found
        return found

    def side_file(self, spec: ModelSpec, source: ModelSource | None = None) -> Path:
        """A file another OpenVINO runtime reads the model from (``reference_runtime=``):
        the model's own file where no shape is to be set, so that runtime reads it as
        users' code would; else the prepared model, reshaped, saved as IR."""
        found = self.model_file(spec, source)
        return found.path if found.shape is None else self._saved(spec, source)

    def _saved(self, spec: ModelSpec, source: ModelSource | None) -> Path:
        """The prepared model (read, reshaped) saved once as IR with full-precision weights
        (``compress_to_fp16`` would change what is measured) in a temporary directory that
        lives as long as this cache."""
        prepared = self.prepare(spec, source)
        if self._file_dir is None:
            self._file_dir = tempfile.TemporaryDirectory(prefix="ovperf-models-")
        target = Path(self._file_dir.name) / f"{prepared.fingerprint}.xml"
        if not target.exists():
            ov.save_model(prepared.model, str(target), compress_to_fp16=False)
        return target

    def prepare(self, spec: ModelSpec, source: ModelSource | None = None) -> PreparedModel:
        """Read, reshape and make inputs (``ModelError`` on failure); no compiling."""
        source = spec.source if source is None else source
        key = _source_key(spec, source)
        prepared = self._prepared.get(key)
        if prepared is None:
            with self.locks.preparing():
                model = read_model(self.core, spec, source)
                prepared = PreparedModel(
                    model=model,
                    inputs=make_inputs(model, spec.inputs, spec.describe(source)),
                    fingerprint=model_fingerprint(model),
                    quantized=is_quantized(model),
                )
            self._prepared[key] = prepared
        return prepared

    @property
    def compiled_any(self) -> bool:
        """Whether this cache has compiled a model to measure (this process's OpenVINO has
        compiled and run one)."""
        return bool(self._entries)

    def has(
        self,
        spec: ModelSpec,
        device: str,
        precision: str,
        hint: str,
        source: ModelSource | None = None,
    ) -> bool:
        """Whether ``get`` with these arguments finds a compile already made."""
        source = spec.source if source is None else source
        return CompileKey.of(spec, source, device, precision, hint) in self._entries

    def get(
        self,
        spec: ModelSpec,
        device: str,
        precision: str,
        hint: str,
        source: ModelSource | None = None,
    ) -> CompiledEntry:
        source = spec.source if source is None else source
        key = CompileKey.of(spec, source, device, precision, hint)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._compile(spec, source, device, precision, hint)
            self._entries[key] = entry
        return entry

    def identity(
        self,
        spec: ModelSpec,
        device: str,
        precision: str,
        hint: str,
        source: ModelSource | None = None,
    ) -> tuple[str, dict[str, str]]:
        """The fingerprint and compile config (``CompiledEntry.fingerprint``, ``.config``)
        of this compile, known before it is made: the model is read, not compiled."""
        prepared = self.prepare(spec, source)
        return prepared.fingerprint, config_text(
            steady_compile_config(spec, device, precision, hint)
        )

    def profile(
        self,
        spec: ModelSpec,
        device: str,
        precision: str,
        hint: str,
        source: ModelSource | None = None,
    ) -> RuntimeProfile:
        """Where the time of this compile goes (once per session): the same model and config
        compiled with performance counters, run a few times (``runtime.profile``)."""
        source = spec.source if source is None else source
        key = CompileKey.of(spec, source, device, precision, hint)
        found = self._profiles.get(key)
        if found is None:
            prepared = self.prepare(spec, source)
            config = profile_config(steady_compile_config(spec, device, precision, hint))
            with self.locks.preparing():
                try:
                    compiled = self.core.compile_model(prepared.model, device, config)
                except Exception as exc:
                    raise ModelError(
                        f"cannot compile {spec.describe(source)} for {device} with "
                        f"performance counters: {error_line(exc)}"
                    ) from exc
                request = compiled.create_infer_request()
                bind_inputs(request, prepared.inputs)
            with self.locks.measuring(device):
                found = profile_compiled(compiled, request, device)
            self._profiles[key] = found
        return found

    def _compile(
        self, spec: ModelSpec, source: ModelSource, device: str, precision: str, hint: str
    ) -> CompiledEntry:
        what = spec.describe(source)
        prepared = self.prepare(spec, source)
        model, inputs = prepared.model, prepared.inputs
        config = steady_compile_config(spec, device, precision, hint)
        with self.locks.preparing():
            started = time.perf_counter()
            try:
                compiled = self.core.compile_model(model, device, config)
            except Exception as exc:
                raise ModelError(
                    f"cannot compile {what} for {device} with {config}: {error_line(exc)}"
                ) from exc
            compile_ms = (time.perf_counter() - started) * 1e3
            request = compiled.create_infer_request()
            bind_inputs(request, inputs)
        with self.locks.measuring(device):
            started = time.perf_counter()
            try:
                request.infer()
            except Exception as exc:
                raise ModelError(
                    f"first inference of {what} on {device} failed: {error_line(exc)}"
                ) from exc
            first_inference_ms = (time.perf_counter() - started) * 1e3
        return CompiledEntry(
            compiled=compiled,
            inputs=inputs,
            compile_ms=compile_ms,
            first_inference_ms=first_inference_ms,
            precision=executed_precision(compiled, precision, prepared.quantized),
            fingerprint=prepared.fingerprint,
            config=config_text(config),
        )


def _source_key(spec: ModelSpec, source: ModelSource) -> str:
    path = spec.resolved_path(source)
    shape = json.dumps(spec.shape, sort_keys=True, default=str)
    # given inputs make another entry: the same file fed other data is another measurement
    inputs = f"|inputs:{id(spec.inputs)}" if spec.inputs is not None else ""
    if path is not None:
        return f"path:{path}|{shape}{inputs}"
    # ov.Model objects and factories live as long as the marker that holds them
    return f"object:{id(source)}|{shape}{inputs}"


def is_quantized(model: ov.Model) -> bool:
    """Whether the model carries int8 quantization (FakeQuantize, or i8/u8 weights)."""
    for op in model.get_ordered_ops():
        if op.get_type_name() == "FakeQuantize":
            return True
        element = op.get_output_element_type(0)
        if op.get_type_name() == "Constant" and element in (ov.Type.i8, ov.Type.u8):
            return True
    return False


def compile_config(spec: ModelSpec, precision: str, hint: str) -> dict[str, Any]:
    """The config a model is compiled with: the hint, the precision, the marker's config."""
    config: dict[str, Any] = {"PERFORMANCE_HINT": hint}
    hint_precision = hint_value_for(precision)
    if hint_precision is not None:
        config["INFERENCE_PRECISION_HINT"] = hint_precision
    config.update(spec.config)
    return config


def steady_compile_config(
    spec: ModelSpec, device: str, precision: str, hint: str
) -> dict[str, Any]:
    """The config a model is compiled with for steady inference on ``device`` (latency,
    throughput, their profile, the side runtime's worker): ``compile_config`` with
    ``devices.steady_config``."""
    return steady_config(device, compile_config(spec, precision, hint))


def bind_inputs(request: ov.InferRequest, inputs: list[np.ndarray]) -> None:
    """Set input tensors once so timed inferences copy nothing (as benchmark_app does)."""
    for index, array in enumerate(inputs):
        request.set_input_tensor(index, ov.Tensor(array, shared_memory=True))


def executed_precision(compiled: ov.CompiledModel, requested: str, quantized: bool) -> str:
    """The precision the compiled model really runs, as far as the device reports it.

    int8 comes from a quantized model: asking for int8 on a float model runs the device's
    floating-point precision, and that is what gets reported.
    """
    if requested == "int8" and quantized:
        return "int8"
    try:
        reported = precision_label(compiled.get_property("INFERENCE_PRECISION_HINT"))
    except RuntimeError:
        return requested
    return reported if reported != DEFAULT_PRECISION else requested
