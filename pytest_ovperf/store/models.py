"""The model store: copies of the models baselines were recorded with, for A/B runs.

A later run whose model changed measures it interleaved with the baseline's own model, and
that model has to be at hand. Each recorded model is kept once, content-addressed by its
fingerprint (the ``model_hash`` fact)::

    <store>/<fingerprint>/manifest.json      what the entry holds, with each file's sha256
    <store>/<fingerprint>/<files>            the original bytes of a model file (IR .xml and
                                             its .bin, ONNX, ...), or the model built in code
                                             saved as IR with f32 weights (model.xml/.bin),
                                             or a generation pipeline's files (its model,
                                             configs and tokenizer IRs: a directory
                                             ``openvino_genai.LLMPipeline`` loads)

An entry costs the model's own size (a built model's weights are kept uncompressed, f32).
Entries are never rewritten: a valid one is kept as it is, a bad one is reported and left
for the user to look at. Writers build an entry in a temporary directory and rename it into
place, so concurrent writers of one fingerprint leave one complete entry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openvino as ov

from .files import write_json_atomic

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "pytest-ovperf-model"
MANIFEST_VERSION = 1
#: what a model built in code is saved as
BUILT_MODEL_FILE = "model.xml"
#: the ``kind`` of an entry that holds a generation pipeline's directory
PIPELINE_COPY = "pipeline"


class ModelStoreError(Exception):
    """A model copy that cannot be had; the message names the store entry and the problem."""


@dataclass(frozen=True)
class StoredModel:
    """One model copy in the store."""

    fingerprint: str
    directory: Path
    #: the file to read (.xml, .onnx, ...)
    path: Path
    #: the ``shape=`` reshape the model was measured with
    shape: Any
    #: ``file`` (original bytes), ``built`` (a model built in code, saved as IR) or
    #: ``pipeline`` (a generation pipeline's directory: its model, configs and tokenizers)
    kind: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _model_files(source: Path) -> list[Path]:
    """The files a model file consists of: an IR's .xml and the .bin beside it."""
    files = [source]
    weights = source.with_suffix(".bin")
    if source.suffix.lower() == ".xml" and weights.is_file():
        files.append(weights)
    return files


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def entry_dir(self, fingerprint: str) -> Path:
        if not fingerprint or any(c in fingerprint for c in "/\\.") or len(fingerprint) > 64:
            raise ModelStoreError(f"model store {self.root}: {fingerprint!r} is no fingerprint")
        return self.root / fingerprint

    def get(self, fingerprint: str) -> StoredModel:
        """The copy of the model with ``fingerprint``, checked against its manifest."""
        directory = self.entry_dir(fingerprint)
        where = f"model store entry {directory}"
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise ModelStoreError(f"{where} is missing (no copy of model {fingerprint} kept)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelStoreError(f"{where}: {MANIFEST} cannot be read ({exc})") from exc
        if (
            not isinstance(manifest, dict)
            or manifest.get("schema") != MANIFEST_SCHEMA
            or manifest.get("schema_version") != MANIFEST_VERSION
            or manifest.get("fingerprint") != fingerprint
            or not isinstance(manifest.get("files"), list)
            or not manifest["files"]
        ):
            raise ModelStoreError(
                f"{where}: {MANIFEST} is not a pytest-ovperf model manifest (version "
                f"{MANIFEST_VERSION}) for {fingerprint}"
            )
        for item in manifest["files"]:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or Path(name).name != name:
                raise ModelStoreError(f"{where}: {MANIFEST} lists a bad file entry {item!r}")
            file = directory / name
            if not file.is_file():
                raise ModelStoreError(f"{where}: {name} is missing")
            if _sha256(file) != item.get("sha256"):
                raise ModelStoreError(
                    f"{where}: {name} fails its hash check (changed since it was stored)"
                )
        return StoredModel(
            fingerprint=fingerprint,
            directory=directory,
            path=directory / manifest["files"][0]["name"],
            shape=manifest.get("shape"),
            kind=str(manifest.get("kind")),
        )

    def put(
        self,
        fingerprint: str,
        model: ov.Model | None,
        source: Path | None,
        shape: Any,
        files: Sequence[Path] | None = None,
    ) -> StoredModel:
        """Keep a copy of ``model`` (the original files when it was read from ``source``;
        ``files``, the model file first, when it is more than a model's own files: a
        generation pipeline's directory), unless a valid copy with this fingerprint is
        there already."""
        directory = self.entry_dir(fingerprint)
        if (directory / MANIFEST).is_file():
            return self.get(fingerprint)  # kept as it is; a bad one is reported, not replaced
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{fingerprint}.", dir=self.root))
        try:
            if source is not None:
                kind = "file" if files is None else PIPELINE_COPY
                names = []
                for file in files if files is not None else _model_files(source):
                    shutil.copyfile(file, staging / file.name)
                    names.append(file.name)
            else:
                assert model is not None  # a model built in code is saved from memory
                kind = "built"
                ov.save_model(model, str(staging / BUILT_MODEL_FILE), compress_to_fp16=False)
                names = [BUILT_MODEL_FILE, Path(BUILT_MODEL_FILE).with_suffix(".bin").name]
                names = [n for n in names if (staging / n).is_file()]
            write_json_atomic(
                staging / MANIFEST,
                {
                    "schema": MANIFEST_SCHEMA,
                    "schema_version": MANIFEST_VERSION,
                    "fingerprint": fingerprint,
                    "kind": kind,
                    "source": str(source) if source is not None else None,
                    "shape": shape,
                    "files": [
                        {
                            "name": n,
                            "sha256": _sha256(staging / n),
                            "bytes": (staging / n).stat().st_size,
                        }
                        for n in names
                    ],
                    "created_at": dt.datetime.now(dt.timezone.utc)
                    .replace(microsecond=0)
                    .isoformat(),
                },
            )
            with contextlib.suppress(OSError):  # another writer was first: keep theirs
                os.rename(staging, directory)
        except OSError as exc:
            raise ModelStoreError(
                f"model store {self.root}: cannot keep a copy of model {fingerprint} ({exc})"
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(fingerprint)
