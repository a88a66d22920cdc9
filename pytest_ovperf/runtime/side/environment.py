"""A Python environment that has another OpenVINO release: made once per release and Python
version in a per-user cache, or an interpreter named by its path.

A release (``"2025.4.1"``) gets a virtual environment of the current interpreter at
``<cache>/openvino-<release>-py<major><minor>`` with ``openvino==<release>`` installed from
wheels only (pip resolves numpy by the wheel's own requirement). pytest-xdist workers race to
make it, so it is made under a file lock, and a marker file written last says it is whole:
an environment without the marker was left half-built (an interrupted pip) and is made
again. Either way the interpreter is checked by running it isolated, as the worker will run:
``-I`` (no PYTHONPATH, no user site) and an environment without the variables that would
make it load this process's OpenVINO (``isolated_env``).
"""

from __future__ import annotations

import collections
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

#: what ``resolve`` reports while it makes an environment (pip's lines among them)
Progress = Callable[[str], None]
#: makes the environment of a release: ``(directory, release, progress)`` -> its interpreter;
#: raises on failure (``pip_install``; tests pass their own)
Installer = Callable[[Path, str, Progress], Path]

#: written last into a made environment: it is whole (release, OpenVINO version, interpreter)
MARKER = "ovperf-side.json"
#: how long a process waits for another one making the same environment (s)
LOCK_TIMEOUT_S = 1800.0
#: how long pip may take to install a release (s)
INSTALL_TIMEOUT_S = 1800.0
#: how long the interpreter check may take (an import of openvino, on a loaded machine) (s)
VERIFY_TIMEOUT_S = 120.0
#: pip's last lines kept for the message of a failed install
PIP_TAIL_LINES = 15
#: environment variables prefixes that point a runtime at this process's OpenVINO
_OPENVINO_VARIABLES = ("OV_", "OPENVINO_")
#: a release as pip's ``openvino==`` takes it
_RELEASE = re.compile(r"^\d+(\.\d+)+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
#: the check's output line, apart from anything openvino prints when imported
_PROBE_TAG = "OVPERF-SIDE-PROBE "
_PROBE = f"""
import json, sys
import openvino
get_version = getattr(openvino, "get_version", None)
if get_version is None:  # releases before 2023.1 had it in openvino.runtime only
    from openvino.runtime import get_version
print({_PROBE_TAG!r} + json.dumps({{
    "openvino": get_version(), "file": openvino.__file__, "prefix": sys.prefix,
    "python": sys.version.split()[0],
}}))
"""


class SideRuntimeError(RuntimeError):
    """A side runtime cannot be had or used (not installable, not importable, a worker that
    died, hung or answered garbage, or a request it refused)."""


@dataclass(frozen=True)
class SideInterpreter:
    """A Python interpreter whose isolated ``import openvino`` gives ``openvino_version``."""

    python: Path
    openvino_version: str
    #: what was asked for: a release or an interpreter's path
    spec: str
    #: whether this call made the environment (else it was found, or given)
    created: bool


def default_cache_dir() -> Path:
    """Where made environments live: the user's cache directory (``$XDG_CACHE_HOME`` or
    ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows),
    ``pytest-ovperf/runtimes`` under it."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        # the XDG spec: a relative value is invalid and ignored
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "pytest-ovperf" / "runtimes"


def isolated_env() -> dict[str, str]:
    """This process's environment without what would make another interpreter load this
    process's Python packages or OpenVINO: PYTHONPATH, PYTHONHOME, every ``OV_*`` and
    ``OPENVINO_*`` variable, and the library-path entries that hold an OpenVINO library
    (``setupvars.sh`` puts its own there, and the loader would prefer them to the wheel's)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "PYTHONHOME") and not name.startswith(_OPENVINO_VARIABLES)
    }
    for name in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        if name in env:
            kept = [part for part in env[name].split(os.pathsep) if not _has_openvino(part)]
            if kept:
                env[name] = os.pathsep.join(kept)
            else:
                del env[name]
    return env


def _has_openvino(directory: str) -> bool:
    try:
        return directory != "" and any(
            entry.startswith("libopenvino") for entry in os.listdir(directory)
        )
    except OSError:
        return False


def python_tag() -> str:
    """This interpreter's version as an environment's name spells it (``py311``)."""
    return f"py{sys.version_info.major}{sys.version_info.minor}"


def release_dir(cache_dir: Path, release: str) -> Path:
    """Where ``release``'s environment for this Python version lives."""
    return cache_dir / f"openvino-{release}-{python_tag()}"


def env_python(env_dir: Path) -> Path:
    """The interpreter of the virtual environment at ``env_dir``."""
    if sys.platform == "win32":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def _here() -> str:
    """This Python's version and platform, for messages."""
    return f"Python {platform.python_version()} ({sysconfig.get_platform()})"


def _tail(text: str, lines: int = PIP_TAIL_LINES) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept) if kept else "(no output)"


def _run_logged(command: list[str], progress: Progress, timeout_s: float) -> None:
    """Run ``command``, each of its output lines to ``progress``; raises ``RuntimeError``
    with its last lines when it fails or outlasts ``timeout_s``."""
    tail: collections.deque[str] = collections.deque(maxlen=PIP_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=isolated_env(),
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise RuntimeError(f"cannot run {command[0]}: {exc}") from exc
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if line:
                tail.append(line)
                progress(line)
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code != 0:
        what = f"was stopped after {timeout_s:.0f} s" if code < 0 else f"exited with {code}"
        last = "\n".join(tail) if tail else "(no output)"
        raise RuntimeError(f"{' '.join(command[:4])} ... {what}; its last lines:\n{last}")


def pip_install(env_dir: Path, release: str, progress: Progress) -> Path:
    """Make a virtual environment of this interpreter at ``env_dir`` with pip, and install
    ``openvino==release`` there from wheels only (never a source build); returns its
    interpreter."""
    progress(f"creating a virtual environment for openvino=={release} at {env_dir}")
    _run_logged([sys.executable, "-I", "-m", "venv", str(env_dir)], progress, INSTALL_TIMEOUT_S)
    python = env_python(env_dir)
    progress(f"installing openvino=={release} into {env_dir}")
    command = [
        str(python),
        "-I",
        "-m",
        "pip",
        "install",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar=off",
        f"openvino=={release}",
    ]
    _run_logged(command, progress, INSTALL_TIMEOUT_S)
    return python


def verify(python: Path) -> dict[str, str]:
    """Run ``python`` isolated and import openvino there: its version (``openvino``), its
    ``file``, the interpreter's ``prefix`` and ``python`` version. ``SideRuntimeError``,
    naming the interpreter, when it cannot."""
    try:
        done = subprocess.run(
            # the check on its standard input: whatever else the file runs names it shortly
            [str(python), "-I", "-"],
            input=_PROBE,
            capture_output=True,
            env=isolated_env(),
            text=True,
            errors="replace",
            timeout=VERIFY_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise SideRuntimeError(
            f"{python} did not import openvino within {VERIFY_TIMEOUT_S:.0f} s"
        ) from None
    except OSError as exc:
        raise SideRuntimeError(f"{python} cannot be run as a Python interpreter: {exc}") from None
    for line in done.stdout.splitlines():
        if line.startswith(_PROBE_TAG):
            try:
                found = json.loads(line[len(_PROBE_TAG) :])
            except ValueError:
                break
            if isinstance(found, dict):
                return {str(k): str(v) for k, v in found.items()}
    output = _tail(done.stderr + "\n" + done.stdout, 8)
    if done.returncode == 0:  # it ran, but not as a Python interpreter does
        raise SideRuntimeError(
            f"{python} did not tell an OpenVINO version: is it a Python interpreter? "
            f"(its output: {output})"
        )
    raise SideRuntimeError(
        f"{python} cannot import openvino (run isolated, exit status {done.returncode}): " + output
    )


def _found(env_dir: Path, release: str, spec: str) -> SideInterpreter | None:
    """The whole environment at ``env_dir`` (its marker written) that still runs, else
    ``None``."""
    try:
        marker = json.loads((env_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("release") != release:
        return None
    python = Path(str(marker.get("python", env_python(env_dir))))
    try:
        checked = verify(python)
    except SideRuntimeError:
        return None
    return SideInterpreter(python, checked["openvino"], spec, created=False)


def _make(
    env_dir: Path, release: str, spec: str, progress: Progress, install: Installer
) -> SideInterpreter:
    """Make ``release``'s environment at ``env_dir`` (the lock held)."""
    if env_dir.exists():
        progress(f"removing the unfinished or broken environment at {env_dir}")
        shutil.rmtree(env_dir)
    try:
        python = install(env_dir, release, progress)
        checked = verify(python)
    except Exception as exc:
        shutil.rmtree(env_dir, ignore_errors=True)
        raise SideRuntimeError(
            f"cannot install OpenVINO {release} for {_here()} into {env_dir}: {exc}"
        ) from exc
    marker = {
        "release": release,
        "openvino": checked["openvino"],
        "python": str(python),
        "python_version": checked["python"],
    }
    partial = env_dir / (MARKER + ".partial")
    partial.write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, env_dir / MARKER)
    progress(f"OpenVINO {checked['openvino']} is ready at {python}")
    return SideInterpreter(python, checked["openvino"], spec, created=True)


def _interpreter_at(path: Path) -> Path:
    """The interpreter a path names: the file itself, or an environment's (a directory)."""
    if path.is_dir():
        for candidate in (env_python(path), path / "bin" / "python3", path / "python.exe"):
            if candidate.is_file():
                return candidate
        raise SideRuntimeError(f"{path} is a directory without a Python interpreter in it")
    return path


def resolve(
    spec: str,
    cache_dir: Path,
    progress: Progress | None = None,
    install: Installer | None = None,
) -> SideInterpreter:
    """The interpreter ``spec`` names, with its OpenVINO version.

    ``spec`` is an OpenVINO release (its environment is found in ``cache_dir``, or made
    there by ``install``, ``pip_install`` unless given), or the path of an interpreter (or of
    an environment's directory) that has OpenVINO, used as it is. ``SideRuntimeError`` when
    it cannot be had."""
    say: Progress = progress if progress is not None else (lambda line: None)
    path = Path(spec).expanduser()
    if path.exists():
        python = _interpreter_at(path.absolute())
        checked = verify(python)
        return SideInterpreter(python, checked["openvino"], spec, created=False)
    if not _RELEASE.match(spec):
        raise SideRuntimeError(
            f"{spec!r} is neither an existing Python interpreter nor an OpenVINO release "
            f"(such as 2025.4.1)"
        )
    env_dir = release_dir(cache_dir, spec)
    found = _found(env_dir, spec, spec)
    if found is not None:
        return found
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache_dir / f"{env_dir.name}.lock"), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            # another process may have made it while this one waited
            found = _found(env_dir, spec, spec)
            if found is not None:
                return found
            return _make(env_dir, spec, spec, say, install if install is not None else pip_install)
    except Timeout:
        raise SideRuntimeError(
            f"OpenVINO {spec} for {_here()}: another process has been making {env_dir} for "
            f"over {LOCK_TIMEOUT_S:.0f} s (lock {lock.lock_file})"
        ) from None
