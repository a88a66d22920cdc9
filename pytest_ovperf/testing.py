"""Helpers for trying pytest-ovperf without a model of your own.

:func:`tiny_llm` writes a tiny decoder-only LLM, built in code, as a directory that
``openvino_genai.LLMPipeline`` loads: no download, no model hub, no third-party files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import openvino as ov
from filelock import FileLock

from pytest_ovperf.runtime.generation import PIPELINE_MODEL_FILE
from pytest_ovperf.runtime.tiny_llm import (
    BOS_TOKEN_ID,
    EOS_TOKEN_ID,
    PAD_TOKEN_ID,
    TinyLLMConfig,
    build_tiny_llm,
    build_tiny_tokenizer,
)

__all__ = ["tiny_llm"]

#: the file names ``LLMPipeline`` reads from a model directory
MODEL_XML = PIPELINE_MODEL_FILE
MODEL_BIN = str(Path(PIPELINE_MODEL_FILE).with_suffix(".bin"))
CONFIG_JSON = "config.json"
GENERATION_CONFIG_JSON = "generation_config.json"
TOKENIZER_XML = "openvino_tokenizer.xml"
DETOKENIZER_XML = "openvino_detokenizer.xml"


def tiny_llm(
    directory: str | os.PathLike[str],
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    vocab: int = 512,
    seed: int = 0,
    tokenizer: bool = False,
) -> Path:
    """Write a tiny stateful LLM into ``directory`` (created if missing) and return its path.

    It is for trying a CI set-up (an ``LLMPipeline`` gate, a baseline, a report) without
    downloading a model: ``openvino_genai.LLMPipeline(directory, "CPU")`` loads it, and
    ``generate(openvino_genai.TokenizedInputs(ids, mask), config)`` runs it from token ids
    (the directory has no tokenizer; give ``ignore_eos=True`` and ``max_new_tokens`` for a
    fixed amount of work). A variant with more ``layers`` is "the slower variant" of the same
    model, the way to try what a gate says when a change makes the model slower; another
    ``seed`` gives the same speed with other weights.

    The directory holds ``openvino_model.xml``/``.bin`` (f32 weights, saved with
    ``compress_to_fp16=False``), ``config.json`` and ``generation_config.json``. The same
    arguments write byte-identical files (with the same versions of OpenVINO and, for the
    tokenizer, of ``openvino_tokenizers``, ``tokenizers`` and ``transformers``, which the
    files name). Token ids are ``0 .. vocab - 1``; 0, 1 and 2 are the pad, begin- and
    end-of-sequence tokens.

    ``tokenizer=True`` adds ``openvino_tokenizer.xml``/``openvino_detokenizer.xml``, a
    whitespace word-level tokenizer whose words are the model's ``vocab`` ids (unknown words
    are ``<unk>``), so that ``generate("some text", config)`` works too. It needs the
    ``openvino-tokenizers``, ``tokenizers`` and ``transformers`` packages (ImportError
    otherwise); the model is the same with or without it.
    """
    config = TinyLLMConfig(layers=layers, hidden=hidden, heads=heads, vocab=vocab, seed=seed)
    tokenizer_models = build_tiny_tokenizer(vocab) if tokenizer else None
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers may write the same directory at once while another loads it:
    # each file is written aside and renamed into place, one writer at a time
    with FileLock(str(path.parent / f".{path.name}.lock")):
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            ov.save_model(build_tiny_llm(config), staging / MODEL_XML, compress_to_fp16=False)
            _write_json(staging / CONFIG_JSON, config.hf_config())
            _write_json(
                staging / GENERATION_CONFIG_JSON,
                {
                    "bos_token_id": BOS_TOKEN_ID,
                    "eos_token_id": EOS_TOKEN_ID,
                    "pad_token_id": PAD_TOKEN_ID,
                    "do_sample": False,
                },
            )
            if tokenizer_models is not None:
                encoder, decoder = tokenizer_models
                ov.save_model(encoder, staging / TOKENIZER_XML, compress_to_fp16=False)
                ov.save_model(decoder, staging / DETOKENIZER_XML, compress_to_fp16=False)
            for written in sorted(staging.iterdir()):
                os.replace(written, path / written.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return path


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
