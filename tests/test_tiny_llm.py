"""testing.tiny_llm: the tiny LLM built in code that openvino_genai.LLMPipeline loads.

Behaviour only: the files, their determinism, and that the pipeline runs the model with both
attention backends (stateful SDPA and PagedAttention) and gives the same tokens as a plain
OpenVINO run without a KV cache. No timing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import pytest

from pytest_ovperf.runtime.tiny_llm import (
    EOS_TOKEN_ID,
    TinyLLMConfig,
    build_tiny_llm,
    tiny_vocabulary,
)
from pytest_ovperf.testing import tiny_llm

GENAI_MISSING = "openvino_genai is not installed: pip install openvino-genai (in .[dev])"
PROMPT = list(range(3, 35))  # 32 prompt tokens
NEW_TOKENS = 6
# f32 so that the backends' and the reference's greedy tokens compare exactly
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _digests(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
    }


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llm(tmp_path_factory.mktemp("tiny") / "llm")


@pytest.fixture(scope="module")
def genai() -> Any:
    return pytest.importorskip("openvino_genai", reason=GENAI_MISSING)


def _greedy(new_tokens: int) -> Any:
    import openvino_genai

    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = new_tokens
    config.ignore_eos = True
    config.do_sample = False
    return config


def _token_inputs(genai: Any, rows: list[list[int]]) -> Any:
    ids = np.array(rows, dtype=np.int64)
    return genai.TokenizedInputs(ov.Tensor(ids), ov.Tensor(np.ones_like(ids)))


def _pipeline(genai: Any, directory: Path, backend: str, **properties: Any) -> Any:
    if backend == "PA":
        scheduler = genai.SchedulerConfig()
        scheduler.enable_prefix_caching = False
        properties["scheduler_config"] = scheduler
    return genai.LLMPipeline(str(directory), "CPU", ATTENTION_BACKEND=backend, **properties)


def _reference_tokens(directory: Path, prompt: list[int], new_tokens: int) -> list[int]:
    """Greedy tokens from plain OpenVINO runs of the whole sequence, state reset each time
    (so the KV cache never carries over a step)."""
    compiled = ov.Core().compile_model(directory / "openvino_model.xml", "CPU", F32)
    request = compiled.create_infer_request()
    ids = list(prompt)
    for _ in range(new_tokens):
        request.reset_state()
        batch = np.array([ids], dtype=np.int64)
        logits = request.infer(
            {
                "input_ids": batch,
                "attention_mask": np.ones_like(batch),
                "position_ids": np.arange(batch.shape[1], dtype=np.int64)[None],
                "beam_idx": np.zeros(1, dtype=np.int32),
            }
        )["logits"]
        ids.append(int(np.argmax(logits[0, -1])))
    return ids[len(prompt) :]


# -- the files ---------------------------------------------------------------------------


def test_writes_a_pipeline_directory(model_dir: Path) -> None:
    assert {path.name for path in model_dir.iterdir()} == {
        "openvino_model.xml",
        "openvino_model.bin",
        "config.json",
        "generation_config.json",
    }
    config = json.loads((model_dir / "config.json").read_text())
    assert config["num_hidden_layers"] == 2
    assert config["vocab_size"] == 512
    assert json.loads((model_dir / "generation_config.json").read_text())["eos_token_id"] == (
        EOS_TOKEN_ID
    )


def test_model_inputs_outputs_and_states(model_dir: Path) -> None:
    model = ov.Core().read_model(model_dir / "openvino_model.xml")
    inputs = {port.get_any_name(): port for port in model.inputs}
    assert list(inputs) == ["input_ids", "attention_mask", "position_ids", "beam_idx"]
    assert inputs["beam_idx"].get_element_type() == ov.Type.i32
    assert all(
        inputs[name].get_element_type() == ov.Type.i64
        for name in ("input_ids", "attention_mask", "position_ids")
    )
    assert model.output(0).get_any_name() == "logits"
    assert model.output(0).get_partial_shape() == ov.PartialShape([-1, -1, 512])
    assert sorted(v.get_info().variable_id for v in model.get_variables()) == [
        "past_key_values.0.keypresent.0.key",
        "past_key_values.0.valuepresent.0.value",
        "past_key_values.1.keypresent.1.key",
        "past_key_values.1.valuepresent.1.value",
    ]
    types = [op.get_type_name() for op in model.get_ops()]
    assert types.count("ScaledDotProductAttention") == 2
    assert types.count("ReadValue") == types.count("Assign") == 4


def test_same_arguments_write_identical_files(model_dir: Path, tmp_path: Path) -> None:
    build_tiny_llm(TinyLLMConfig(layers=3, seed=5))  # moves OpenVINO's name counters on
    again = tiny_llm(tmp_path / "again")
    assert _digests(again) == _digests(model_dir)


def test_another_seed_changes_the_weights_only(model_dir: Path, tmp_path: Path) -> None:
    other = _digests(tiny_llm(tmp_path / "seed1", seed=1))
    same = _digests(model_dir)
    assert other["openvino_model.bin"] != same["openvino_model.bin"]
    assert other["config.json"] == same["config.json"]


def test_more_layers_more_ops(model_dir: Path, tmp_path: Path) -> None:
    core = ov.Core()
    two = core.read_model(model_dir / "openvino_model.xml")
    four = core.read_model(tiny_llm(tmp_path / "deep", layers=4) / "openvino_model.xml")
    assert len(four.get_ops()) > len(two.get_ops())
    assert len(four.get_variables()) == 2 * len(two.get_variables())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"hidden": 30, "heads": 4}, "multiple of heads"),
        ({"hidden": 12, "heads": 4}, "must be even"),
        ({"layers": 0}, "layers"),
        ({"vocab": 2}, "vocab"),
    ],
)
def test_bad_sizes_are_refused(tmp_path: Path, arguments: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_llm(tmp_path / "bad", **arguments)
    assert not (tmp_path / "bad").exists()


# -- LLMPipeline -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["SDPA", "PA"])
def test_pipeline_generates_exactly_the_tokens_asked(
    genai: Any, model_dir: Path, backend: str
) -> None:
    pipeline = _pipeline(genai, model_dir, backend)
    for new_tokens in (1, NEW_TOKENS):
        result = pipeline.generate(_token_inputs(genai, [PROMPT]), _greedy(new_tokens))
        assert len(result.tokens) == 1
        assert len(result.tokens[0]) == new_tokens
        assert all(0 <= token < 512 for token in result.tokens[0])
        assert result.perf_metrics.get_num_generated_tokens() == new_tokens
        assert result.perf_metrics.get_num_input_tokens() == len(PROMPT)


@pytest.mark.parametrize("backend", ["SDPA", "PA"])
def test_pipeline_tokens_match_a_run_without_kv_cache(
    genai: Any, model_dir: Path, backend: str
) -> None:
    """The KV cache, the causal mask and the position ids are right: the pipeline's greedy
    tokens are those of whole-sequence runs, with either attention backend."""
    pipeline = _pipeline(genai, model_dir, backend, **F32)
    result = pipeline.generate(_token_inputs(genai, [PROMPT]), _greedy(NEW_TOKENS))
    assert list(result.tokens[0]) == _reference_tokens(model_dir, PROMPT, NEW_TOKENS)


def test_pipeline_batch_of_two(genai: Any, model_dir: Path) -> None:
    pipeline = _pipeline(genai, model_dir, "SDPA", **F32)
    result = pipeline.generate(_token_inputs(genai, [PROMPT, PROMPT[::-1]]), _greedy(3))
    assert [len(tokens) for tokens in result.tokens] == [3, 3]
    alone = pipeline.generate(_token_inputs(genai, [PROMPT[::-1]]), _greedy(3))
    assert list(result.tokens[1]) == list(alone.tokens[0])


# -- the tokenizer -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for package in ("openvino_tokenizers", "tokenizers", "transformers"):
        pytest.importorskip(package, reason=f"tiny_llm(tokenizer=True) needs {package}")
    return tiny_llm(tmp_path_factory.mktemp("tiny") / "llm_tok", vocab=64, tokenizer=True)


def test_tokenizer_files_are_deterministic(tokenizer_dir: Path, tmp_path: Path) -> None:
    digests = _digests(tokenizer_dir)
    assert {"openvino_tokenizer.xml", "openvino_detokenizer.xml"} <= set(digests)
    assert _digests(tiny_llm(tmp_path / "again", vocab=64, tokenizer=True)) == digests
    without = _digests(tiny_llm(tmp_path / "model_only", vocab=64))
    assert without == {name: digests[name] for name in without}


def test_tokenizer_vocabulary_covers_the_model() -> None:
    vocab = tiny_vocabulary(64)
    assert sorted(vocab.values()) == list(range(64))
    assert vocab["<pad>"] == 0 and vocab["</s>"] == EOS_TOKEN_ID
    with pytest.raises(ValueError, match="vocab"):
        tiny_vocabulary(3)


@pytest.mark.parametrize("backend", ["SDPA", "PA"])
def test_pipeline_generates_from_text(genai: Any, tokenizer_dir: Path, backend: str) -> None:
    pipeline = _pipeline(genai, tokenizer_dir, backend)
    tokenizer = pipeline.get_tokenizer()
    vocab = tiny_vocabulary(64)
    ids = tokenizer.encode("it is the zebra").input_ids.data
    assert ids.tolist() == [[vocab["it"], vocab["is"], vocab["the"], vocab["<unk>"]]]
    words = {token: word for word, token in vocab.items()}
    assert tokenizer.decode([4, 5, 63]) == f"the of {words[63]}"
    # a str prompt gives a str; a list of them gives DecodedResults, with perf_metrics
    text = pipeline.generate("it is the zebra", _greedy(NEW_TOKENS))
    # (special tokens among the generated ones decode to nothing)
    assert isinstance(text, str) and 0 < len(text.split()) <= NEW_TOKENS
    result = pipeline.generate(["it is the zebra"], _greedy(NEW_TOKENS))
    assert len(result.texts) == 1
    assert result.texts[0] == text
    assert result.perf_metrics.get_num_generated_tokens() == NEW_TOKENS
