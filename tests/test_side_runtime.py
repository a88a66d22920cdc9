"""Side runtimes (``runtime/side/``): the environment's resolution and cache, the worker's
protocol against the real worker, and its faults. No network: the "other" runtime is this
interpreter (which has openvino), or a bare environment that borrows this one's packages;
a release's environment is made by an installer the tests pass in."""

from __future__ import annotations

import ast
import os
import platform
import signal
import sys
import sysconfig
import threading
import time
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import pytest

from pytest_ovperf.runtime.profile import profile_to_json
from pytest_ovperf.runtime.side import client as side_client
from pytest_ovperf.runtime.side import environment
from pytest_ovperf.runtime.side.client import (
    SideRequestError,
    SideWorker,
    save_model_for_side,
)
from pytest_ovperf.runtime.side.environment import (
    MARKER,
    SideInterpreter,
    SideRuntimeError,
    env_python,
    isolated_env,
    release_dir,
    resolve,
)
from pytest_ovperf.runtime.side.pool import SideRuntimes
from pytest_ovperf.runtime.toy_models import mlp

pytestmark = pytest.mark.skipif(os.name != "posix", reason="side runtimes need POSIX pipes")

#: a release no installer here ever fetches (the tests' installers make its environment)
RELEASE = "1999.1.0"
#: the compile config of the protocol tests: f32, so the two runtimes' outputs match closely
CONFIG = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}


def bare_env(directory: Path, borrow: bool) -> Path:
    """A virtual environment of this interpreter without pip; with ``borrow``, a .pth file
    makes this environment's packages (openvino among them) importable there too."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(directory)
    if borrow:
        paths = {"base": str(directory), "platbase": str(directory)}
        site = Path(sysconfig.get_path("purelib", vars=paths))
        site.mkdir(parents=True, exist_ok=True)
        (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return env_python(directory)


@pytest.fixture(scope="module")
def here() -> SideInterpreter:
    """This interpreter as a side runtime."""
    return resolve(sys.executable, Path("unused"))


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return save_model_for_side(mlp(features=32, hidden=64, depth=2), tmp_path / "models")


def mlp_inputs() -> list[np.ndarray]:
    return [np.random.default_rng(3).standard_normal((1, 32)).astype(np.float32)]


def gone(pid: int) -> bool:
    """Whether the process ``pid`` has ended and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- the environment ------------------------------------------------------------------


def test_an_interpreter_given_by_path_is_used_as_it_is(tmp_path: Path) -> None:
    found = resolve(sys.executable, tmp_path / "cache")
    assert found.openvino_version == ov.get_version()
    assert found.python == Path(sys.executable)
    assert found.spec == sys.executable and not found.created
    assert not (tmp_path / "cache").exists()  # nothing made


def test_an_environment_directory_names_its_interpreter(tmp_path: Path) -> None:
    directory = tmp_path / "env"
    bare_env(directory, borrow=True)
    found = resolve(str(directory), tmp_path / "cache")
    assert found.python == env_python(directory)
    assert found.openvino_version == ov.get_version()


def test_a_python_without_openvino_is_named(tmp_path: Path) -> None:
    python = bare_env(tmp_path / "bare", borrow=False)
    with pytest.raises(SideRuntimeError, match="cannot import openvino") as raised:
        resolve(str(python), tmp_path / "cache")
    assert str(python) in str(raised.value)


@pytest.mark.parametrize("kind", ["script", "not-executable"])
def test_a_file_that_is_no_python_is_named(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "not-python"
    path.write_text("#!/bin/sh\necho hello\n")
    if kind == "script":
        path.chmod(0o755)
    with pytest.raises(SideRuntimeError) as raised:
        resolve(str(path), tmp_path / "cache")
    assert str(path) in str(raised.value)


def test_neither_a_path_nor_a_release(tmp_path: Path) -> None:
    with pytest.raises(SideRuntimeError, match="neither"):
        resolve("no/such/python", tmp_path)


def test_the_isolated_environment_leaves_out_this_process_python_and_openvino(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ours, other = tmp_path / "ours", tmp_path / "other"
    ours.mkdir()
    other.mkdir()
    (ours / "libopenvino.so.2026.4.1").touch()
    for name, value in {
        "PYTHONPATH": "/somewhere",
        "PYTHONHOME": "/home",
        "OV_CPU_DEBUG": "1",
        "OPENVINO_LIB_PATHS": "/lib",
        "OVPERF_KEPT": "yes",
        "LD_LIBRARY_PATH": f"{ours}{os.pathsep}{other}",
    }.items():
        monkeypatch.setenv(name, value)
    env = isolated_env()
    for name in ("PYTHONPATH", "PYTHONHOME", "OV_CPU_DEBUG", "OPENVINO_LIB_PATHS"):
        assert name not in env
    assert env["OVPERF_KEPT"] == "yes"
    assert env["LD_LIBRARY_PATH"] == str(other)


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG rule is Linux's")
def test_the_cache_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert environment.default_cache_dir() == tmp_path / "pytest-ovperf" / "runtimes"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert environment.default_cache_dir() == Path.home() / ".cache/pytest-ovperf/runtimes"


class FakeInstaller:
    """Makes a release's environment without pip: a bare environment borrowing this
    interpreter's packages; counts its calls, and can be slow or fail."""

    def __init__(self, delay_s: float = 0.0, error: str | None = None) -> None:
        self.delay_s, self.error = delay_s, error
        self.calls: list[Path] = []
        self._lock = threading.Lock()

    def __call__(self, env_dir: Path, release: str, progress: Callable[[str], None]) -> Path:
        with self._lock:
            self.calls.append(env_dir)
        progress(f"installing openvino=={release} into {env_dir}")
        time.sleep(self.delay_s)
        python = bare_env(env_dir, borrow=True)
        if self.error is not None:
            raise RuntimeError(self.error)
        return python


def test_a_release_is_made_once_and_then_found(tmp_path: Path) -> None:
    install = FakeInstaller()
    lines: list[str] = []
    made = resolve(RELEASE, tmp_path, progress=lines.append, install=install)
    assert made.created and made.spec == RELEASE
    assert made.openvino_version == ov.get_version()
    assert made.python == env_python(release_dir(tmp_path, RELEASE))
    assert (release_dir(tmp_path, RELEASE) / MARKER).is_file()
    assert any(f"openvino=={RELEASE}" in line for line in lines)
    found = resolve(RELEASE, tmp_path, install=install)
    assert not found.created and found.python == made.python
    assert len(install.calls) == 1


def test_racing_processes_make_a_release_once(tmp_path: Path) -> None:
    install = FakeInstaller(delay_s=0.3)
    results: list[SideInterpreter] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(resolve(RELEASE, tmp_path, install=install))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(install.calls) == 1
    assert sorted(result.created for result in results) == [False, False, True]
    assert len({result.python for result in results}) == 1


def test_a_half_made_release_is_made_again(tmp_path: Path) -> None:
    half = release_dir(tmp_path, RELEASE)
    (half / "lib").mkdir(parents=True)
    (half / "lib" / "left-by-an-interrupted-pip").touch()
    install = FakeInstaller()
    made = resolve(RELEASE, tmp_path, install=install)
    assert made.created and len(install.calls) == 1
    assert not (half / "lib" / "left-by-an-interrupted-pip").exists()
    assert (half / MARKER).is_file()


def test_a_failed_install_names_the_release_and_python(tmp_path: Path) -> None:
    pip_says = "ERROR: No matching distribution found for openvino==1999.1.0"
    install = FakeInstaller(error=f"pip exited with 1; its last lines:\n{pip_says}")
    with pytest.raises(SideRuntimeError) as raised:
        resolve(RELEASE, tmp_path, install=install)
    message = str(raised.value)
    assert RELEASE in message and platform.python_version() in message and pip_says in message
    # nothing half-made is left to be taken for whole
    assert not (release_dir(tmp_path, RELEASE) / MARKER).exists()
    with pytest.raises(SideRuntimeError):
        resolve(RELEASE, tmp_path, install=install)
    assert len(install.calls) == 2


def test_pip_without_an_index_fails_with_its_own_words(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real installer (venv + pip) offline: pip's error comes back in the message."""
    pytest.importorskip("ensurepip")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    lines: list[str] = []
    with pytest.raises(SideRuntimeError) as raised:
        resolve(RELEASE, tmp_path, progress=lines.append)
    message = str(raised.value)
    assert RELEASE in message and platform.python_version() in message
    assert "openvino==1999.1.0" in message  # pip's last lines name the requirement
    assert any(line.startswith("installing openvino==") for line in lines)
    assert not release_dir(tmp_path, RELEASE).exists()


def test_the_worker_and_loops_import_nothing_of_the_plugin() -> None:
    """The worker runs where pytest_ovperf is not installed: loops.py and worker.py import
    only the standard library, numpy and openvino (and the plugin for the type checker)."""
    package = Path(side_client.__file__).parents[2]
    allowed = set(sys.stdlib_module_names) | {"numpy", "openvino", "__future__"}
    for path in (package / "measure" / "loops.py", package / "runtime/side/worker.py"):
        tree = ast.parse(path.read_text())
        type_checking = {
            id(node)
            for stmt in ast.walk(tree)
            if isinstance(stmt, ast.If) and ast.unparse(stmt.test) == "TYPE_CHECKING"
            for inner in stmt.body
            for node in ast.walk(inner)
        }
        for node in ast.walk(tree):
            if id(node) in type_checking:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


# -- the worker's protocol ------------------------------------------------------------


def test_the_worker_measures_a_model_as_this_process_does(
    here: SideInterpreter, model_file: Path, tmp_path: Path
) -> None:
    inputs = mlp_inputs()
    with SideWorker.start(here, tmp_path / "logs") as worker:
        hello = worker.hello()
        assert hello.openvino == ov.get_version()
        assert hello.pid == worker.worker_pid
        assert worker.info == hello

        loaded = worker.load(model_file, "CPU", CONFIG, inputs, warmup_s=0.05)
        assert loaded.compile_ms > 0 and loaded.requests >= 1
        assert loaded.openvino == ov.get_version()
        assert loaded.outputs.is_file()
        assert loaded.effective["OPTIMAL_NUMBER_OF_INFER_REQUESTS"] == str(loaded.requests)
        assert "INFERENCE_PRECISION_HINT" in loaded.effective
        assert loaded.request_latency_s is not None and loaded.request_latency_s > 0
        compiled = ov.Core().compile_model(ov.Core().read_model(model_file), "CPU", CONFIG)
        ours = compiled(inputs)
        theirs = loaded.read_outputs()
        assert len(theirs) == len(compiled.outputs)
        np.testing.assert_allclose(theirs[0], ours[0], rtol=1e-4, atol=1e-5)

        latency = worker.block("latency", 0.05)
        assert latency.value > 0 and latency.inferences >= 1
        assert latency.cpu_s >= 0 and latency.cpu_before_s >= 0 and latency.wall_s > 0
        assert latency.completions is None
        assert len(latency.latencies_ms) == latency.inferences
        assert latency.value == pytest.approx(float(np.median(latency.latencies_ms)))
        throughput = worker.block("throughput", 0.05)
        assert throughput.value > 0 and throughput.cpu_s >= 0
        assert throughput.completions is not None and throughput.submitted is not None
        assert 0 < throughput.completions <= throughput.submitted
        assert throughput.window_s is not None and throughput.window_s > 0
        # CPU time only grows: the second block began after the first ended
        assert throughput.cpu_before_s >= latency.cpu_before_s + latency.cpu_s - 1e-6

        profile = worker.profile(iterations=2)
        assert profile.layers and profile.total_us > 0
        stored = profile_to_json(profile)
        assert all(set(entry) == {"us", "kernels", "precisions"} for entry in stored.values())

        # a queue of the size asked for, and a kind's warm-up alone
        again = worker.load(model_file, "CPU", CONFIG, inputs, requests=3, kind="throughput")
        assert again.requests == 3
        assert worker.block("throughput", 0.02).value > 0
        pid = worker.worker_pid
    assert worker.process.returncode == 0  # it exited on close
    assert gone(pid)


def test_a_model_the_runtime_cannot_read_is_refused_and_the_worker_carries_on(
    here: SideInterpreter, model_file: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00 not a model \xff")
    with SideWorker.start(here, tmp_path / "logs") as worker:
        with pytest.raises(SideRequestError) as raised:
            worker.load(garbage, "CPU", CONFIG, mlp_inputs())
        message = str(raised.value)
        assert ov.get_version() in message and str(garbage) in message
        assert raised.value.answer["ok"] is False
        with pytest.raises(SideRequestError, match="no model is loaded"):
            worker.block("latency", 0.01)
        assert worker.alive
        loaded = worker.load(model_file, "CPU", CONFIG, mlp_inputs(), warmup_s=0.0)
        assert loaded.requests >= 1
        with pytest.raises(SideRequestError, match="unknown block kind"):
            worker.block("memory", 0.01)


def failed_load(
    runtimes: SideRuntimes, here: SideInterpreter, model: Path, ahead: bool
) -> SideRuntimeError:
    """``runtimes.load`` of ``model`` for latency, which must fail: its failure."""
    with pytest.raises(SideRuntimeError) as raised:
        runtimes.load(here, model, "CPU", CONFIG, mlp_inputs(), "latency", (0.0, 1), ahead=ahead)
    return raised.value


def test_a_load_made_ahead_that_fails_costs_once(
    here: SideInterpreter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load made before the test's model is compiled (``ahead``) that fails is kept: the
    load that reports it (the partner's) raises the same failure without a new worker, so
    that a hanging worker costs its timeouts once; a later test tries anew."""
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00 not a model \xff")
    started: list[SideWorker] = []
    start = SideWorker.start

    def counted(*args: Any, **kwargs: Any) -> SideWorker:
        started.append(start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(SideWorker, "start", staticmethod(counted))
    runtimes = SideRuntimes(tmp_path / "cache")

    def load(ahead: bool) -> SideRuntimeError:
        return failed_load(runtimes, here, garbage, ahead)

    try:
        first = load(ahead=True)
        assert str(garbage) in str(first)
        assert load(ahead=True) is first  # asked ahead again (a compile already made)
        assert load(ahead=False) is first  # reported where the partner is made
        assert len(started) == 1
        assert load(ahead=False) is not first  # a later load starts a worker anew
        assert len(started) == 2
    finally:
        runtimes.close()


def test_a_worker_that_cannot_start_ahead_costs_once_a_test(
    here: SideInterpreter, model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that fails to start (or hangs until its timeout) for a load made ahead is
    not started again by the loads of that test; the next test tries anew."""
    starts: list[str] = []

    def cannot_start(*args: Any, **kwargs: Any) -> SideWorker:
        starts.append("start")
        raise SideRuntimeError("the worker did not answer hello within 120 s")

    monkeypatch.setattr(SideWorker, "start", staticmethod(cannot_start))
    runtimes = SideRuntimes(tmp_path / "cache")

    def load(ahead: bool) -> SideRuntimeError:
        return failed_load(runtimes, here, model_file, ahead)

    first = load(ahead=True)  # the fixture's
    assert load(ahead=True) is first  # the measurement's
    assert load(ahead=False) is first  # the partner's, which reports it
    assert starts == ["start"]
    load(ahead=True)  # the next test's ...
    runtimes.forget_failures()  # ... failure is forgotten at its end
    load(ahead=False)
    assert starts == ["start"] * 3


def test_a_killed_worker_fails_the_next_request(
    here: SideInterpreter, model_file: Path, tmp_path: Path
) -> None:
    worker = SideWorker.start(here, tmp_path / "logs")
    try:
        worker.load(model_file, "CPU", CONFIG, mlp_inputs(), warmup_s=0.0)
        os.kill(worker.worker_pid, signal.SIGKILL)
        with pytest.raises(SideRuntimeError) as raised:
            worker.block("latency", 0.05)
        assert ov.get_version() in str(raised.value)
        assert "killed by signal" in str(raised.value)
        assert not worker.alive
        with pytest.raises(SideRuntimeError, match="cannot send"):
            worker.hello()
    finally:
        worker.close()
    assert gone(worker.worker_pid)


def test_a_worker_whose_openvino_is_not_its_own_says_so(tmp_path: Path) -> None:
    """A side environment that imports openvino from elsewhere (here: this environment's,
    through a .pth file) would measure this runtime under another name."""
    python = bare_env(tmp_path / "borrowing", borrow=True)
    borrowing = SideInterpreter(python, ov.get_version(), str(python), False)
    with pytest.raises(SideRequestError, match="not under this interpreter's prefix") as raised:
        SideWorker.start(borrowing, tmp_path / "logs")
    assert str(tmp_path / "borrowing") in str(raised.value)
    assert ov.__file__ in str(raised.value)


#: stand-in workers that misbehave, each answering its first request so
_FAKE_WORKERS = {
    "hangs": "time.sleep(600)",
    "dies": "sys.exit(3)",
    "answers-a-huge-length": "os.write(out, b'\\xff\\xff\\xff\\xff')",
    "answers-no-json": "os.write(out, b'\\x00\\x00\\x00\\x05hello'); time.sleep(600)",
    "answers-no-ok": "os.write(out, b'\\x00\\x00\\x00\\x02[]'); time.sleep(600)",
}


@pytest.mark.parametrize("behaviour", sorted(_FAKE_WORKERS))
def test_a_worker_that_hangs_dies_or_babbles_is_killed(
    here: SideInterpreter, tmp_path: Path, behaviour: str
) -> None:
    script = tmp_path / "fake_worker.py"
    pid_file = tmp_path / "pid"
    script.write_text(
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "inp, out = int(sys.argv[1]), int(sys.argv[2])\n"
        "os.read(inp, 4)\n"
        "print('the fake worker got a request', flush=True)\n"
        f"{_FAKE_WORKERS[behaviour]}\n"
    )
    with pytest.raises(SideRuntimeError) as raised:
        SideWorker.start(here, tmp_path / "logs", timeout_s=1.0, worker_script=script)
    message = str(raised.value)
    assert ov.get_version() in message
    assert "the fake worker got a request" in message  # the end of its log
    if behaviour == "hangs":
        assert "did not answer hello within 1.0 s" in message
    assert gone(int(pid_file.read_text()))


def test_a_block_that_outlasts_its_margin_is_killed(here: SideInterpreter, tmp_path: Path) -> None:
    """A worker that answers hello, then hangs in a block."""
    script = tmp_path / "fake_worker.py"
    script.write_text(
        "import json, os, sys, time\n"
        "inp, out = int(sys.argv[1]), int(sys.argv[2])\n"
        "size = int.from_bytes(os.read(inp, 4), 'big'); os.read(inp, size)\n"
        "body = json.dumps({'ok': True, 'openvino': 'x', 'python': '3', 'pid': os.getpid()})\n"
        "os.write(out, len(body).to_bytes(4, 'big') + body.encode())\n"
        "os.read(inp, 1 << 16)\n"
        "time.sleep(600)\n"
    )
    worker = SideWorker.start(here, tmp_path / "logs", timeout_s=0.5, worker_script=script)
    with pytest.raises(SideRuntimeError, match="did not answer block"):
        worker.block("latency", 0.1)
    assert gone(worker.worker_pid)
    worker.close()  # nothing left to do, and no error


def test_closing_twice_and_exit_hooks(here: SideInterpreter, tmp_path: Path) -> None:
    worker = SideWorker.start(here, tmp_path / "logs")
    assert worker.process in side_client._LIVE
    worker.close()
    worker.close()
    assert worker.process not in side_client._LIVE
    assert gone(worker.worker_pid)
    # the exit hook kills whatever is left
    other = SideWorker.start(here, tmp_path / "logs")
    side_client._kill_live_workers()
    assert gone(other.worker_pid)
    other.close()


def test_a_model_built_in_code_is_saved_for_the_side(tmp_path: Path) -> None:
    path = save_model_for_side(mlp(features=8, hidden=8, depth=1), tmp_path / "m")
    assert path.suffix == ".xml" and path.with_suffix(".bin").is_file()
    read = ov.Core().read_model(path)
    assert read.get_friendly_name() == "mlp_8_8_1"
    named = save_model_for_side(mlp(features=8, hidden=8, depth=1), tmp_path / "m", "a b/c")
    assert named.name == "a_b_c.xml"


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux CPU affinity and at least 2 CPUs",
)
def test_the_worker_runs_on_the_cores_of_its_pytest_process(
    here: SideInterpreter, tmp_path: Path
) -> None:
    """Under ``--ovperf-cpu-partition`` an xdist worker's threads are held to its cores
    (``workers.py``); the side worker it starts must inherit them, so that OpenVINO there
    sizes its threads to the same cores."""
    import psutil

    allowed = os.sched_getaffinity(0)
    core = min(allowed)
    os.sched_setaffinity(0, {core})
    try:
        with SideWorker.start(here, tmp_path / "logs") as worker:
            assert psutil.Process(worker.worker_pid).cpu_affinity() == [core]
    finally:
        os.sched_setaffinity(0, allowed)
