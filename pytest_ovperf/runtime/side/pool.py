"""The session's side runtimes: each ``reference_runtime=`` resolved once (an environment
made or found, ``environment.py``), one worker process per runtime, the model it has loaded,
and every worker shut down when the session ends."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .client import LoadAnswer, SideWorker
from .environment import SideInterpreter, SideRuntimeError, default_cache_dir, resolve


@dataclass(frozen=True)
class LoadedModel:
    """What a worker has loaded: the model file, device and config it was given."""

    model: Path
    device: str
    config: tuple[tuple[str, str], ...]
    kind: str


#: the release in OpenVINO's full version string (``2025.4.1-20426-82bbf0292c5-releases/...``)
_RELEASE_OF_VERSION = re.compile(r"^(\d{4}\.\d+\.\d+)(?:[-.]|$)")


def release_of(version: object) -> str | None:
    """The release (``2025.4.1``) an OpenVINO version string names, as pip installs it;
    ``None`` for anything else (a custom build, an unknown value)."""
    found = _RELEASE_OF_VERSION.match(str(version)) if isinstance(version, str) else None
    return found.group(1) if found else None


def runtime_argument(spec: str, base_dir: Path) -> str:
    """A ``reference_runtime=`` value as ``resolve`` takes it: a release as it is; a path
    (it names a directory or a file that exists there) made absolute against the test
    file's directory, as model paths are."""
    candidate = Path(spec).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if "/" in spec or "\\" in spec or candidate.exists():
        # absolute, but not resolved: a virtual environment's python is a link to the base
        # interpreter, which does not see the environment's packages
        return os.path.abspath(candidate)
    return spec


class SideRuntimes:
    """The session's side runtimes and their workers (made on first use)."""

    def __init__(
        self,
        cache_dir: Path | None,
        pythons: Mapping[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        #: what making an environment says as it goes (pip's lines among them)
        self.progress = progress
        #: releases to take from these interpreters instead of installing them
        self.pythons = dict(pythons or {})
        self._interpreters: dict[str, SideInterpreter | SideRuntimeError] = {}
        self._workers: dict[Path, SideWorker] = {}
        self._loaded: dict[Path, tuple[LoadedModel, LoadAnswer]] = {}
        #: a load made ahead that failed, for the next load of the same model to raise
        self._failed_ahead: dict[Path, tuple[LoadedModel, SideRuntimeError]] = {}
        self._logs: tempfile.TemporaryDirectory[str] | None = None

    def interpreter(self, spec: str) -> SideInterpreter:
        """The side runtime ``spec`` names (``runtime_argument``), made or found once a
        session; raises ``SideRuntimeError`` (again, for every test that names it)."""
        found = self._interpreters.get(spec)
        if found is None:
            try:
                found = self._resolve(spec)
            except SideRuntimeError as exc:
                found = exc
            self._interpreters[spec] = found
        if isinstance(found, SideRuntimeError):
            raise found
        return found

    def _resolve(self, spec: str) -> SideInterpreter:
        given = self.pythons.get(spec)
        if given is None:
            return resolve(spec, self.cache_dir, self.progress)
        found = resolve(given, self.cache_dir)
        if release_of(found.openvino_version) != spec:
            raise SideRuntimeError(
                f"--ovperf-runtime-python gives {given} for OpenVINO {spec}, but it has "
                f"OpenVINO {found.openvino_version}"
            )
        return found

    def load(
        self,
        interpreter: SideInterpreter,
        model: Path,
        device: str,
        config: Mapping[str, str],
        inputs: Sequence[np.ndarray],
        kind: str,
        warmup: tuple[float, int],
        *,
        ahead: bool = False,
    ) -> tuple[SideWorker, LoadAnswer]:
        """The runtime's worker with ``model`` compiled for ``device`` with ``config`` and
        warmed up for ``kind`` (``warmup``: seconds and iterations, as the model's own) (a
        worker loads one model at a time: loading another replaces it). ``ahead``: loaded
        before the model it is measured beside is compiled, and asked for again then; a
        failure (of the worker's start or of the load) is kept and raised by that next load
        of the same model, so that a worker that hangs costs its timeouts once in a test
        (``forget_failures`` at its end)."""
        wanted = LoadedModel(model, device, tuple(sorted(config.items())), kind)
        failed = self._failed_ahead.get(interpreter.python)
        if failed is not None:
            if failed[0] == wanted:
                if not ahead:  # raised once where it is reported; a later test tries anew
                    del self._failed_ahead[interpreter.python]
                raise failed[1]
            del self._failed_ahead[interpreter.python]
        worker = self._workers.get(interpreter.python)
        loaded = self._loaded.get(interpreter.python)
        if worker is not None and loaded is not None and loaded[0] == wanted:
            return worker, loaded[1]
        try:
            if worker is None:
                if self._logs is None:
                    self._logs = tempfile.TemporaryDirectory(prefix="ovperf-side-")
                worker = SideWorker.start(interpreter, Path(self._logs.name))
                self._workers[interpreter.python] = worker
            seconds, iterations = warmup
            answer = worker.load(
                model,
                device,
                config,
                inputs,
                kind=kind,
                warmup_s=seconds,
                warmup_iterations=iterations,
            )
        except SideRuntimeError as exc:
            # a worker that failed is not trusted with the next model: the next starts anew
            self._loaded.pop(interpreter.python, None)
            failed_worker = self._workers.pop(interpreter.python, None)
            if failed_worker is not None:
                failed_worker.close()
            if ahead:
                self._failed_ahead[interpreter.python] = (wanted, exc)
            raise
        self._loaded[interpreter.python] = (wanted, answer)
        return worker, answer

    def forget_failures(self) -> None:
        """A test's end: failures kept from its loads made ahead are not carried to the next
        test, which tries anew."""
        self._failed_ahead.clear()

    def close(self) -> None:
        """Shut every worker down (the session's end)."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
        self._loaded.clear()
        self._failed_ahead.clear()
        if self._logs is not None:
            self._logs.cleanup()
            self._logs = None
