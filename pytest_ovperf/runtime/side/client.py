"""The client of a side-runtime worker (``worker.py``, whose docstring gives the protocol):
starts it under a side environment's interpreter with a pair of pipes of its own, sends one
request at a time and waits for each answer no longer than that request may take.

A worker that dies, hangs or answers garbage is killed, and the request raises
``SideRuntimeError`` naming the runtime and the end of the worker's log; a request the
worker refuses (a model the runtime cannot read or compile) raises ``SideRequestError``
and leaves the worker running. Workers die with this process: on ``close()`` / leaving the
``with`` block, at exit (``atexit``, so Ctrl-C too), and, if this process is killed, at the
end of file on their request pipe.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import re
import select
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import numpy as np
import openvino as ov

from ...measure.loops import PROFILE_ITERATIONS
from ...measure.settings import MeasureSettings
from ..devices import PROFILE_DEFAULTS, member_devices, precision_label
from ..profile import LayerTime, RuntimeProfile, kernel_precision
from .environment import SideInterpreter, SideRuntimeError, isolated_env

#: the worker script a side interpreter runs
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
#: how long a load may take: reading and compiling a large model, its warm-up and one
#: inference, on a loaded machine (s)
LOAD_TIMEOUT_S = 900.0
#: how long a closed worker has to exit before it is terminated, then killed (s)
EXIT_GRACE_S = 5.0
#: the longest answer accepted (a longer length is garbage)
MAX_MESSAGE = 64 << 20
#: lines of the worker's log an error quotes
LOG_TAIL_LINES = 20

_HEADER_SIZE = 4
_names = itertools.count()
#: every worker process started and not yet reaped: killed at exit
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


class SideRequestError(SideRuntimeError):
    """The worker refused a request (``ok: false``): it is still running. ``answer`` is
    what it said."""

    def __init__(self, message: str, answer: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.answer = dict(answer)


@dataclass(frozen=True)
class HelloAnswer:
    openvino: str
    python: str
    pid: int


@dataclass(frozen=True)
class LoadAnswer:
    """A model loaded by the worker: compiled, inputs bound, warmed up."""

    #: reading the model, and compiling it (ms)
    read_ms: float
    compile_ms: float
    #: one inference's outputs on the given inputs (``numpy.savez``: arr_0, arr_1... in the
    #: model's output order); ``read_outputs`` reads them
    outputs: Path
    #: the compiled model's properties as text (``str`` of the value), those it reports
    effective: dict[str, str]
    #: the size of its request queue (throughput blocks)
    requests: int
    #: one request's latency in the throughput warm-up (s), if that kind was warmed up
    request_latency_s: float | None
    #: the worker's OpenVINO version
    openvino: str

    def read_outputs(self) -> list[np.ndarray]:
        with np.load(self.outputs, allow_pickle=False) as data:
            return [data[name] for name in data.files]


@dataclass(frozen=True)
class BlockAnswer:
    """One block measured by the worker."""

    kind: str
    #: median latency (ms), or the block's fps over its median cycle (what a pair compares,
    #: ``loops.py``)
    value: float
    #: the worker's CPU time (user + system, all its threads) in the block (s)
    cpu_s: float
    #: the worker's CPU time in all when the block began (s): its growth from the previous
    #: block's end is what the worker burned between blocks
    cpu_before_s: float
    wall_s: float
    #: inferences run (latency) or submitted (throughput)
    inferences: int
    #: throughput only: the steady window's completions and seconds, and all submitted
    completions: int | None = None
    window_s: float | None = None
    submitted: int | None = None
    #: latency only: every inference's latency (ms)
    latencies_ms: tuple[float, ...] = ()


def _kill_live_workers() -> None:
    with _LIVE_LOCK:
        processes = list(_LIVE)
        _LIVE.clear()
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(EXIT_GRACE_S)


atexit.register(_kill_live_workers)


class SideWorker:
    """A running worker of a side runtime; ``start`` makes one."""

    def __init__(
        self,
        interpreter: SideInterpreter,
        process: subprocess.Popen[bytes],
        read_fd: int,
        write_fd: int,
        log_path: Path,
        timeout_s: float,
        load_timeout_s: float,
    ) -> None:
        self.interpreter = interpreter
        self.process = process
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.load_timeout_s = load_timeout_s
        self._read_fd: int | None = read_fd
        self._write_fd: int | None = write_fd
        #: why the worker is gone, once it is
        self._gone: str | None = None
        self._lock = threading.Lock()
        self._loads = 0
        #: the device of the last model loaded (a profile's precisions depend on it)
        self._device = "CPU"
        #: the worker's own hello (``start``)
        self.info: HelloAnswer | None = None

    @classmethod
    def start(
        cls,
        interpreter: SideInterpreter,
        log_dir: Path,
        timeout_s: float = 120.0,
        *,
        load_timeout_s: float = LOAD_TIMEOUT_S,
        worker_script: Path | None = None,
    ) -> SideWorker:
        """Start a worker under ``interpreter`` (its log and files in ``log_dir``) and greet
        it. ``timeout_s`` bounds the start, a hello and a close, and is each block's margin
        beyond its own seconds; loads and profiles get ``load_timeout_s``. ``worker_script``
        replaces ``worker.py`` (tests)."""
        if os.name != "posix":
            raise SideRuntimeError(
                f"OpenVINO {interpreter.openvino_version} ({interpreter.python}): side "
                "runtimes need a POSIX system (the worker's pipes are passed by number)"
            )
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"side-worker-{os.getpid()}-{next(_names)}.log"
        script = worker_script if worker_script is not None else WORKER_SCRIPT
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        try:
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [
                        str(interpreter.python),
                        "-I",
                        str(script),
                        str(to_worker_r),
                        str(from_worker_w),
                    ],
                    pass_fds=(to_worker_r, from_worker_w),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=isolated_env(),
                    start_new_session=False,
                )
        except OSError as exc:
            os.close(to_worker_w)
            os.close(from_worker_r)
            raise SideRuntimeError(
                f"cannot start the worker of OpenVINO {interpreter.openvino_version} "
                f"({interpreter.python}): {exc}"
            ) from None
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        with _LIVE_LOCK:
            _LIVE.add(process)
        worker = cls(
            interpreter, process, from_worker_r, to_worker_w, log_path, timeout_s, load_timeout_s
        )
        try:
            worker.info = worker.hello()
        except BaseException:
            worker.close()
            raise
        return worker

    # -- requests ----------------------------------------------------------------------

    def hello(self) -> HelloAnswer:
        answer = self._request({"op": "hello"}, self.timeout_s)
        return HelloAnswer(str(answer["openvino"]), str(answer["python"]), int(answer["pid"]))

    def load(
        self,
        model: Path,
        device: str,
        config: Mapping[str, str],
        inputs: Sequence[np.ndarray],
        requests: int | None = None,
        *,
        kind: str | None = None,
        warmup_s: float = MeasureSettings.warmup_s,
        warmup_iterations: int = MeasureSettings.warmup_iterations,
    ) -> LoadAnswer:
        """Read ``model`` (an IR .xml or an .onnx file) and compile it for ``device`` with
        ``config``, bind ``inputs`` (in the model's input order) to a request and to a queue
        of ``requests`` (the device's optimal number unless given), warm up (``kind``'s
        warm-up, both kinds' unless given) and run one inference. A worker holds one model:
        loading replaces the last one. ``SideRequestError`` when the runtime cannot."""
        self._loads += 1
        stem = f"{self.log_path.stem.replace('worker', 'inputs')}-{self._loads}"
        inputs_path = self.log_path.parent / f"{stem}.npz"
        np.savez(inputs_path, *[np.ascontiguousarray(array) for array in inputs])
        message = {
            "op": "load",
            "model": str(Path(model).absolute()),
            "device": device,
            "config": {str(k): str(v) for k, v in config.items()},
            "inputs": str(inputs_path.absolute()),
            "requests": requests,
            "kind": kind,
            "warmup_s": warmup_s,
            "warmup_iterations": warmup_iterations,
        }
        try:
            answer = self._request(message, max(self.load_timeout_s, self.timeout_s))
        finally:
            inputs_path.unlink(missing_ok=True)  # the worker holds them now
        self._device = device
        latency = answer.get("request_latency_s")
        return LoadAnswer(
            read_ms=float(answer["read_ms"]),
            compile_ms=float(answer["compile_ms"]),
            outputs=Path(str(answer["outputs"])),
            effective={str(k): str(v) for k, v in dict(answer["effective"]).items()},
            requests=int(answer["requests"]),
            request_latency_s=None if latency is None else float(latency),
            openvino=str(answer.get("openvino", self.interpreter.openvino_version)),
        )

    def block(self, kind: str, seconds: float) -> BlockAnswer:
        """One block of ``kind`` (latency | throughput) on the loaded model, ``seconds``
        long (one inference at least; a throughput block drains its queue)."""
        answer = self._request(
            {"op": "block", "kind": kind, "seconds": seconds}, seconds + self.timeout_s
        )

        def optional(name: str) -> Any:
            return answer.get(name)

        completions, window_s, submitted = (
            optional(name) for name in ("completions", "window_s", "submitted")
        )
        return BlockAnswer(
            kind=kind,
            value=float(answer["value"]),
            cpu_s=float(answer["cpu_s"]),
            cpu_before_s=float(answer["cpu_before_s"]),
            wall_s=float(answer["wall_s"]),
            inferences=int(answer["inferences"]),
            completions=None if completions is None else int(completions),
            window_s=None if window_s is None else float(window_s),
            submitted=None if submitted is None else int(submitted),
            latencies_ms=tuple(float(v) for v in answer.get("latencies_ms") or ()),
        )

    def profile(self, iterations: int = PROFILE_ITERATIONS) -> RuntimeProfile:
        """Where the loaded model's time goes under this runtime: its layers from the
        performance counters (the model compiled again with ``PERF_COUNT``), as
        ``runtime/profile.py``'s ``profile_compiled`` reports them for this process's
        runtime (``profile_to_json`` gives the stored per-layer-type form)."""
        answer = self._request(
            {"op": "profile", "iterations": iterations, "defaults": PROFILE_DEFAULTS},
            max(self.load_timeout_s, self.timeout_s),
        )
        gpu = any(member.startswith("GPU") for member in member_devices(self._device))
        layers = []
        for layer in answer["layers"]:
            kernel = str(layer["kernel"])
            named = kernel_precision(kernel)
            runtime = layer.get("runtime_precision")
            precision = (precision_label(runtime) if runtime else None) or named or "unknown"
            if gpu and named is not None:
                precision = named
            layers.append(
                LayerTime(str(layer["name"]), str(layer["type"]), precision, kernel, layer["us"])
            )
        return RuntimeProfile(tuple(layers))

    @property
    def worker_pid(self) -> int:
        """The worker process's id."""
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self._gone is None and self.process.poll() is None

    def close(self) -> None:
        """Ask the worker to exit, then terminate and kill it if it does not; always reaps
        it. Closing twice does nothing."""
        with self._lock:
            if self._gone is None and self.process.poll() is None:
                with contextlib.suppress(SideRuntimeError):
                    self._exchange({"op": "close"}, min(self.timeout_s, EXIT_GRACE_S))
            if self._gone is None:
                self._gone = "it was closed"
            self._reap(EXIT_GRACE_S)

    def __enter__(self) -> SideWorker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # a worker dropped without close(): closing its pipes ends it (end of file)
        for fd in (getattr(self, "_read_fd", None), getattr(self, "_write_fd", None)):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __repr__(self) -> str:
        return f"SideWorker(OpenVINO {self.interpreter.openvino_version}, pid {self.worker_pid})"

    # -- the pipes ---------------------------------------------------------------------

    def _request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        op = str(message.get("op"))
        with self._lock:
            if self._gone is not None:
                raise SideRuntimeError(f"{self._name()}: cannot send {op}: {self._gone}")
            answer = self._exchange(message, timeout_s)
        if not answer.get("ok"):
            error = str(answer.get("error") or "no reason given")
            version = str(answer.get("openvino") or self.interpreter.openvino_version)
            raise SideRequestError(
                f"OpenVINO {version} ({self.interpreter.python}) cannot {_what(message)}: {error}",
                answer,
            )
        return answer

    def _exchange(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send ``message`` and read the answer (the lock held); a broken, silent or
        garbled worker is killed and raises."""
        op = str(message.get("op"))
        body = json.dumps(message).encode("utf-8")
        try:
            self._write(len(body).to_bytes(_HEADER_SIZE, "big") + body)
        except OSError as exc:
            self._fail(f"did not take the {op} request ({exc.strerror or exc})")
        deadline = time.monotonic() + timeout_s
        header = self._read(_HEADER_SIZE, deadline, op, timeout_s)
        size = int.from_bytes(header, "big")
        if size > MAX_MESSAGE:
            self._fail(f"answered {op} with garbage (a length of {size} bytes)")
        data = self._read(size, deadline, op, timeout_s)
        try:
            answer = json.loads(data.decode("utf-8"))
        except ValueError:
            self._fail(f"answered {op} with garbage ({data[:80]!r})")
        if not isinstance(answer, dict) or "ok" not in answer:
            self._fail(f"answered {op} with garbage ({data[:80]!r})")
        return answer

    def _write(self, data: bytes) -> None:
        if self._write_fd is None:
            raise OSError("the pipe is closed")
        view = memoryview(data)
        while view:
            view = view[os.write(self._write_fd, view) :]

    def _read(self, size: int, deadline: float, op: str, timeout_s: float) -> bytes:
        chunks: list[bytes] = []
        while size > 0:
            fd = self._read_fd
            if fd is None:
                self._fail("has no pipe to answer on")
            remaining = deadline - time.monotonic()
            poller = select.poll()  # not select.select: no limit on the descriptor's number
            poller.register(fd, select.POLLIN)
            if remaining <= 0 or not poller.poll(max(1, int(remaining * 1e3))):
                self._fail(f"did not answer {op} within {timeout_s:.1f} s")
            try:
                chunk = os.read(fd, min(size, 1 << 20))
            except OSError as exc:
                self._fail(f"broke its pipe while answering {op} ({exc})")
            if not chunk:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(EXIT_GRACE_S)
                self._fail(f"closed its pipe instead of answering {op}")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _fail(self, reason: str) -> NoReturn:
        """Kill the worker and raise ``SideRuntimeError`` with ``reason`` and its log."""
        self._gone = reason
        self._reap(0.0)
        status = self.process.returncode
        if status is None:
            died = ""
        elif status < 0:
            died = f" (killed by signal {-status})"
        else:
            died = f" (exit status {status})"
        raise SideRuntimeError(
            f"{self._name()} {reason}{died}; the end of its log {self.log_path}:\n"
            + self.log_tail()
        )

    def _reap(self, grace_s: float) -> None:
        """Close the pipes and end the process: wait ``grace_s``, terminate, kill."""
        for name in ("_write_fd", "_read_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                with contextlib.suppress(OSError):
                    os.close(fd)
        process = self.process
        if process.poll() is None and grace_s > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace_s)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(grace_s or 1.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with _LIVE_LOCK:
            _LIVE.discard(process)

    def _name(self) -> str:
        interpreter = self.interpreter
        return (
            f"the worker of OpenVINO {interpreter.openvino_version} ({interpreter.python}, "
            f"pid {self.process.pid})"
        )

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the worker's log (its stdout and stderr)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(cannot read it: {exc})"
        kept = [line for line in text.splitlines() if line.strip()][-lines:]
        return "\n".join(kept) if kept else "(empty)"


def _what(message: Mapping[str, Any]) -> str:
    """What a request asks, for messages."""
    op = message.get("op")
    if op == "load":
        return f"load {message.get('model')} on {message.get('device')}"
    if op == "block":
        return f"run a {message.get('kind')} block"
    if op == "profile":
        return "profile the loaded model"
    return f"answer {op}"


def save_model_for_side(model: ov.Model, directory: Path, name: str | None = None) -> Path:
    """Save a model built in code as IR in ``directory`` (``name``.xml / .bin, the model's
    friendly name unless given), weights as they are (no fp16 compression), so that a side
    runtime can read it; returns the .xml path."""
    stem = name or model.get_friendly_name() or "model"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip(".") or "model"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.xml"
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path
