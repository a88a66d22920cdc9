"""The side-runtime worker: measures one model under the OpenVINO release of the Python
environment that runs it, on request, block by block.

Run by ``client.py`` as ``python -I worker.py <read_fd> <write_fd>`` in a side environment
that has openvino and numpy but not pytest_ovperf: it imports nothing else but the standard
library and ``measure/loops.py`` (the timed loops ``blocks.py`` runs in the test's process, so
both sides measure the same way). Keep it so, and keep it to Python 3.9.

Protocol, on the two pipes the client passed (never stdout: stdout and stderr go to the log
file the client names): each message is a 4-byte big-endian length and that many bytes of
UTF-8 JSON; the client sends one request and reads its answer before the next. Every answer
has ``ok``; a refused request answers ``{"ok": false, "error": ..., "openvino": ...}`` and
the worker carries on. Requests (``op``):

* ``hello`` -> ``openvino`` (its version), ``python``, ``pid``, ``prefix``
* ``load`` (``model``: an .xml/.onnx path, ``device``, ``config``: compile properties,
  ``inputs``: an .npz of the inputs in input order, ``requests``: the queue's size or
  null for ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``, optional ``kind``: the only kind to warm
  up, ``warmup_s``, ``warmup_iterations``) -> ``compile_ms``, ``read_ms``, ``outputs``
  (one inference's outputs, ``<inputs>.side-outputs.npz``), ``effective`` (compiled
  properties as text), ``requests``, ``request_latency_s`` (from the throughput warm-up)
* ``block`` (``kind``: latency | throughput, ``seconds``) -> ``value`` (median latency ms |
  the block's fps over its median cycle, what a pair compares: ``loops.py``), ``cpu_s`` (this
  process's CPU time in the block), ``cpu_before_s`` (its CPU time in all when the block
  began), ``wall_s``, ``inferences``; throughput adds ``completions``, ``window_s`` (the
  steady window's), ``submitted``
* ``profile`` (``iterations``) -> ``layers``: per executed layer ``name``, ``type``,
  ``kernel``, ``us`` (median real time), ``runtime_precision`` (or null); the loaded model
  compiled again with ``PERF_COUNT``
* ``close`` -> ``ok``, then the worker exits. End of file on its read pipe: it exits.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import struct
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import openvino as ov

if TYPE_CHECKING:
    from pytest_ovperf.measure import loops
else:

    def _import_loops() -> Any:
        # The side environment has no pytest_ovperf, and importing the file as
        # ``pytest_ovperf.measure.loops`` would run the package's __init__ files, which need
        # pytest. loops.py imports nothing from pytest_ovperf, so its directory goes first on
        # sys.path just while it is imported as the top-level module ``loops`` (first, so no
        # installed ``loops`` wins), and comes off again so that its neighbours there
        # (blocks.py, engine.py...) shadow nothing later.
        directory = str(Path(__file__).resolve().parents[2] / "measure")
        sys.path.insert(0, directory)
        try:
            module = importlib.import_module("loops")
        finally:
            sys.path.remove(directory)
        if Path(module.__file__).resolve().parent != Path(directory):
            raise ImportError(f"imported {module.__file__} as loops, not {directory}/loops.py")
        return module

    loops = _import_loops()

_HEADER = struct.Struct(">I")
#: the longest message either side accepts (a longer length is garbage)
MAX_MESSAGE = 64 << 20
#: the compiled model's properties a load answers with, where the device reports them
EFFECTIVE_PROPERTIES = (
    "INFERENCE_PRECISION_HINT",
    "NUM_STREAMS",
    "INFERENCE_NUM_THREADS",
    "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
    "EXECUTION_DEVICES",
)
#: the block kinds
LATENCY, THROUGHPUT = "latency", "throughput"
#: the warm-up a load request leaves unsaid (``MeasureSettings``' defaults)
DEFAULT_WARMUP_S, DEFAULT_WARMUP_ITERATIONS = 0.5, 5


class Refused(Exception):
    """A request the worker cannot do: answered ``ok: false`` with this message."""


def read_exact(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``; ``None`` at end of file."""
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> Any:
    """The next message; ``None`` at end of file. ``ValueError`` for garbage."""
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ValueError(f"a message of {size} bytes")
    body = read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def encode_message(message: Any) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return _HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def openvino_version() -> str:
    return str(ov.get_version())


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` lies under ``prefix``, as written or with links resolved."""
    for file, root in (
        (Path(path).absolute(), Path(prefix).absolute()),
        (Path(path).resolve(), Path(prefix).resolve()),
    ):
        if root == file or root in file.parents:
            return True
    return False


def startup_problem() -> str | None:
    """Why this worker must not measure, if it must not: its openvino is not its own
    environment's (a leaked PYTHONPATH, say, made it import the test process's)."""
    if not _under(ov.__file__ or "", sys.prefix):
        return (
            f"the openvino imported ({ov.__file__}) is not under this interpreter's prefix "
            f"({sys.prefix}): it is not this environment's OpenVINO"
        )
    if not hasattr(ov, "AsyncInferQueue") or not hasattr(ov, "Core"):
        return f"OpenVINO {openvino_version()} is too old for the worker (2023.1 or later)"
    return None


def bind_inputs(request: Any, inputs: list[np.ndarray]) -> None:
    """Set input tensors once so timed inferences copy nothing (as ``runtime/models.py``'s
    ``bind_inputs`` does in the test's process)."""
    for index, array in enumerate(inputs):
        request.set_input_tensor(index, ov.Tensor(array, shared_memory=True))


def read_inputs(path: str) -> list[np.ndarray]:
    """The arrays ``numpy.savez(path, *arrays)`` wrote, in their order (the archive's)."""
    with np.load(path, allow_pickle=False) as data:
        return [np.ascontiguousarray(data[name]) for name in data.files]


class Worker:
    """The loaded model, its request and queue, and the requests' handlers."""

    def __init__(self, problem: str | None) -> None:
        self.problem = problem
        self.core: ov.Core | None = None
        self.model: ov.Model | None = None
        self.device = "CPU"
        self.config: dict[str, str] = {}
        self.compiled: ov.CompiledModel | None = None
        self.request: ov.InferRequest | None = None
        self.queue: ov.AsyncInferQueue | None = None
        self.size = 0
        self.whole_queues = False
        #: the loaded model's inputs: bound without copies, so kept alive here
        self.inputs: list[np.ndarray] = []

    def handle(self, message: Any) -> dict[str, Any]:
        op = message.get("op") if isinstance(message, dict) else None
        if op == "close":
            return {"ok": True}
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "hello": self.hello,
            "load": self.load,
            "block": self.block,
            "profile": self.profile,
        }
        try:
            if self.problem is not None:
                raise Refused(self.problem)
            if not isinstance(op, str) or op not in handlers:
                raise Refused(f"unknown request {message!r:.200}")
            answer = handlers[op](message)
        except Exception as exc:
            if not isinstance(exc, Refused):
                traceback.print_exc()
                sys.stderr.flush()
            return {"ok": False, "error": _describe(exc), "openvino": openvino_version()}
        answer["ok"] = True
        return answer

    def hello(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "openvino": openvino_version(),
            "python": platform.python_version(),
            "pid": os.getpid(),
            "prefix": sys.prefix,
        }

    def unload(self) -> None:
        self.queue = self.request = self.compiled = self.model = None
        self.inputs = []

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        self.unload()
        model_path, inputs_path = str(message["model"]), str(message["inputs"])
        self.device = str(message.get("device") or "CPU")
        self.config = {str(k): str(v) for k, v in (message.get("config") or {}).items()}
        kind = message.get("kind")
        warmup_s = float(message.get("warmup_s", DEFAULT_WARMUP_S))
        warmup_iterations = int(message.get("warmup_iterations", DEFAULT_WARMUP_ITERATIONS))
        if self.core is None:
            self.core = ov.Core()
        clock = time.perf_counter
        started = clock()
        model = self.core.read_model(model_path)
        read_ms = (clock() - started) * 1e3
        started = clock()
        compiled = self.core.compile_model(model, self.device, self.config)
        compile_ms = (clock() - started) * 1e3
        inputs = read_inputs(inputs_path)
        request = compiled.create_infer_request()
        bind_inputs(request, inputs)
        requests = message.get("requests")
        if requests is None:
            requests = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        size = max(1, int(requests))
        queue = ov.AsyncInferQueue(compiled, size)
        for index in range(size):
            bind_inputs(queue[index], inputs)
        self.model, self.compiled, self.request, self.queue = model, compiled, request, queue
        self.size, self.inputs = size, inputs
        # as this process's ``InferPool`` (``loops.throughput_block``)
        self.whole_queues = loops.may_batch(compiled)
        if kind in (None, LATENCY):
            loops.warm_up(request.infer, warmup_s, warmup_iterations)
        request_latency_s = None
        if kind in (None, THROUGHPUT):
            warm = loops.throughput_warm_up(
                queue.start_async,
                queue.wait_all,
                size,
                warmup_s,
                warmup_iterations,
                self.whole_queues,
            )
            request_latency_s = size / loops.pooled_rate(warm)
        request.infer()
        outputs = [
            np.array(request.get_output_tensor(index).data, copy=True)
            for index in range(len(compiled.outputs))
        ]
        outputs_path = inputs_path + ".side-outputs.npz"
        np.savez(outputs_path, *outputs)
        return {
            "openvino": openvino_version(),
            "read_ms": read_ms,
            "compile_ms": compile_ms,
            "outputs": outputs_path,
            "effective": self.effective(),
            "requests": size,
            "request_latency_s": request_latency_s,
        }

    def effective(self) -> dict[str, str]:
        assert self.compiled is not None
        found = {}
        for name in EFFECTIVE_PROPERTIES:
            try:
                found[name] = str(self.compiled.get_property(name))
            except Exception:  # a property the device does not report
                continue
        return found

    def block(self, message: dict[str, Any]) -> dict[str, Any]:
        kind, seconds = message.get("kind"), float(message["seconds"])
        if self.request is None or self.queue is None:
            raise Refused("no model is loaded")
        if kind not in (LATENCY, THROUGHPUT):
            raise Refused(f"unknown block kind {kind!r}")
        cpu_before = time.process_time()
        started = time.perf_counter()
        if kind == LATENCY:
            latencies: list[float] = []
            value = loops.latency_block(self.request, seconds, latencies)
            # every latency, so that the reference's figure is the median of them all, as
            # this process's own ``LatencyBlocks`` reports it
            extra: dict[str, Any] = {"inferences": len(latencies), "latencies_ms": latencies}
        else:
            queue = self.queue
            found = loops.throughput_block(
                queue.start_async, queue.wait_all, self.size, seconds, self.whole_queues
            )
            value = found.paired_rate  # what the pair compares, as ``ThroughputBlocks``
            extra = {
                "inferences": found.submitted,
                "completions": found.completions,
                "window_s": found.window_s,
                "submitted": found.submitted,
            }
        wall_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_before
        return {
            "value": value,
            "cpu_s": cpu_s,
            "cpu_before_s": cpu_before,
            "wall_s": wall_s,
            **extra,
        }

    def profile(self, message: dict[str, Any]) -> dict[str, Any]:
        """The loaded model compiled again with ``PERF_COUNT``, a few inferences, and its
        executed layers (``runtime/profile.py``'s ``profile_compiled`` makes its figures
        the same way; the client turns them into its ``RuntimeProfile``)."""
        if self.model is None or self.core is None:
            raise Refused("no model is loaded")
        iterations = max(1, int(message.get("iterations") or loops.PROFILE_ITERATIONS))
        # the profile's defaults (``devices.PROFILE_DEFAULTS``), unless the loaded config sets
        # them, as this process's profile compiles
        defaults = {str(k): str(v) for k, v in (message.get("defaults") or {}).items()}
        config = {**defaults, **self.config, "PERF_COUNT": "YES"}
        compiled = self.core.compile_model(self.model, self.device, config)
        request = compiled.create_infer_request()
        bind_inputs(request, self.inputs)
        samples, kinds = loops.executed_layer_times(
            request, iterations, ov.ProfilingInfo.Status.EXECUTED
        )
        precisions: dict[str, str] = {}
        try:
            for node in compiled.get_runtime_model().get_ordered_ops():
                rt_info = node.get_rt_info()
                if "runtimePrecision" in rt_info:
                    precisions[node.get_friendly_name()] = str(
                        rt_info["runtimePrecision"].astype(str)
                    )
        except RuntimeError:
            pass
        layers = [
            {
                "name": name,
                "type": kinds[name][0],
                "kernel": kinds[name][1],
                "us": float(np.median(times)),
                "runtime_precision": precisions.get(name),
            }
            for name, times in samples.items()
        ]
        return {"layers": layers, "openvino": openvino_version()}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, (Refused, RuntimeError)) else f"{type(exc).__name__}: {text}"


def serve(read_fd: int, write_fd: int, worker: Worker) -> int:
    while True:
        try:
            message = read_message(read_fd)
        except (ValueError, UnicodeDecodeError) as exc:
            print(f"ovperf side worker: garbage on the request pipe: {exc}", file=sys.stderr)
            return 2
        if message is None:  # the client is gone
            return 0
        answer = worker.handle(message)
        try:
            write_all(write_fd, encode_message(answer))
        except BrokenPipeError:
            return 0
        if isinstance(message, dict) and message.get("op") == "close":
            worker.unload()
            return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} READ_FD WRITE_FD", file=sys.stderr)
        return 2
    read_fd, write_fd = int(argv[1]), int(argv[2])
    problem = startup_problem()
    if problem is not None:
        print(f"ovperf side worker: {problem}", file=sys.stderr)
    print(
        f"ovperf side worker {os.getpid()}: OpenVINO {openvino_version()} "
        f"({ov.__file__}), Python {platform.python_version()} ({sys.executable})",
        file=sys.stderr,
        flush=True,
    )
    try:
        return serve(read_fd, write_fd, Worker(problem))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: leave quietly
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
