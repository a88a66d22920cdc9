"""A tiny decoder-only LLM built in code with ``openvino.opset13``, in the form that
``openvino_genai.LLMPipeline`` loads: the stateful layout Optimum exports
(``optimum-cli export openvino --task text-generation-with-past``) and openvino.genai's own
GGUF reader builds (``src/cpp/src/gguf_utils``).

Inputs ``input_ids`` ``[batch, seq]`` i64, ``attention_mask`` ``[batch, past + seq]`` i64,
``position_ids`` ``[batch, seq]`` i64 and ``beam_idx`` ``[batch]`` i32; one output ``logits``
``[batch, seq, vocab]`` f32, whose producer is the LM head's MatMul (the pipeline slices its
input to the last token). Each layer keeps its keys and values in two variables,
``past_key_values.<i>.keypresent.<i>.key`` / ``...valuepresent.<i>.value``:
``ReadValue -> Gather(beam_idx) -> Concat(axis 2) -> ScaledDotProductAttention`` and
``Concat -> Assign``, the pattern both the CPU plugin's stateful-SDPA fusion and
``ov::pass::SDPAToPagedAttention`` (the pipeline's PagedAttention backend) match. The causal
mask is computed from ``attention_mask`` only, so the PagedAttention rewrite can drop it.

The layers are Llama-like: RMSNorm, rotary position embedding from ``position_ids``,
multi-head attention, SwiGLU MLP. Weights are f32 from ``numpy.random.default_rng(seed)``,
scaled down so that the logits stay finite. Every node gets a name derived from its place in
the graph (nothing from OpenVINO's process-wide counters): the same arguments build the same
graph and save to byte-identical files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import openvino as ov
import openvino.opset13 as ops

#: the special token ids of the tiny model's vocabulary (and of its tokenizer, if any)
PAD_TOKEN_ID = 0
BOS_TOKEN_ID = 1
EOS_TOKEN_ID = 2

_RMS_EPS = 1e-6
_ROPE_BASE = 10000.0
#: the additive mask of a position a token may not see; representable in f16 and bf16
_MASKED = -65504.0
#: a name OpenVINO made up from a counter (``Multiply_12``), maybe with a suffix (``_12.0``)
_AUTO_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*_\d+(\.\d+)*$")


@dataclass(frozen=True)
class TinyLLMConfig:
    """The size knobs of :func:`build_tiny_llm`."""

    layers: int = 2
    hidden: int = 64
    heads: int = 4
    vocab: int = 512
    seed: int = 0
    #: the MLP's inner width as a multiple of ``hidden``
    mlp_ratio: int = 2
    max_position_embeddings: int = 2048

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, got {self.layers}")
        if self.heads < 1 or self.hidden % self.heads:
            raise ValueError(
                f"hidden ({self.hidden}) must be a positive multiple of heads ({self.heads})"
            )
        if (self.hidden // self.heads) % 2:
            raise ValueError(
                f"the head size hidden/heads ({self.hidden // self.heads}) must be even (RoPE)"
            )
        if self.vocab <= EOS_TOKEN_ID:
            raise ValueError(f"vocab must be > {EOS_TOKEN_ID}, got {self.vocab}")
        if self.mlp_ratio < 1:
            raise ValueError(f"mlp_ratio must be >= 1, got {self.mlp_ratio}")

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads

    def hf_config(self) -> dict[str, object]:
        """What a Hugging Face ``config.json`` of this model says (a Llama config)."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.hidden,
            "intermediate_size": self.hidden * self.mlp_ratio,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.heads,
            "head_dim": self.head_size,
            "vocab_size": self.vocab,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": _RMS_EPS,
            "rope_theta": _ROPE_BASE,
            "hidden_act": "silu",
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "use_cache": True,
            "pad_token_id": PAD_TOKEN_ID,
            "bos_token_id": BOS_TOKEN_ID,
            "eos_token_id": EOS_TOKEN_ID,
        }


def _i64(*values: int) -> ov.Node:
    return ops.constant(np.array(values, dtype=np.int64))


def _scalar_i64(value: int) -> ov.Node:
    return ops.constant(np.int64(value))


def _f32(value: float) -> ov.Node:
    return ops.constant(np.float32(value))


def _linear(
    x: ov.Node, rng: np.random.Generator, out_features: int, in_features: int, name: str
) -> ov.Node:
    """``x @ W.T`` with ``W`` ``[out, in]`` (PyTorch's layout, as exported models have it)."""
    weight = (rng.standard_normal((out_features, in_features)) / np.sqrt(in_features)).astype(
        np.float32
    )
    w = ops.constant(weight, name=f"{name}.weight")
    return ops.matmul(x, w, transpose_a=False, transpose_b=True, name=name)


def _rms_norm(x: ov.Node, hidden: int, name: str) -> ov.Node:
    var = ops.reduce_mean(ops.power(x, _f32(2.0)), _i64(-1), keep_dims=True)
    normed = ops.multiply(x, ops.sqrt(ops.divide(_f32(1.0), ops.add(var, _f32(_RMS_EPS)))))
    weight = ops.constant(np.ones((1, 1, hidden), dtype=np.float32), name=f"{name}.weight")
    return ops.multiply(normed, weight, name=name)


def _rotate_half(x: ov.Node) -> ov.Node:
    x1, x2 = ops.split(x, _scalar_i64(-1), 2).outputs()
    return ops.concat([ops.negative(x2), x1], -1)


def _rope(x: ov.Node, cos: ov.Node, sin: ov.Node) -> ov.Node:
    return ops.add(ops.multiply(x, cos), ops.multiply(_rotate_half(x), sin))


def _heads(x: ov.Node, heads: int, head_size: int) -> ov.Node:
    """``[batch, seq, hidden]`` -> ``[batch, heads, seq, head_size]``."""
    split = ops.reshape(x, _i64(0, 0, heads, head_size), special_zero=True)
    return ops.transpose(split, _i64(0, 2, 1, 3))


def _variable_id(layer: int, kind: str) -> str:
    """Optimum's name of a layer's key or value cache variable."""
    return f"past_key_values.{layer}.{kind}present.{layer}.{kind}"


def _kv_cache(
    current: ov.Node, init: ov.Node, beam_idx: ov.Node, variable_id: str, config: TinyLLMConfig
) -> tuple[ov.Node, ov.Node]:
    """``ReadValue -> Gather(beam_idx) -> Concat(past, current)``; the Concat and its Assign."""
    shape = ov.PartialShape([-1, config.heads, -1, config.head_size])
    past = ops.read_value(init, variable_id, np.float32, shape)
    past.set_friendly_name(variable_id)
    reordered = ops.gather(past, beam_idx, _scalar_i64(0))
    present = ops.concat([reordered, current], 2)
    assign = ops.assign(present, variable_id)
    return present, assign


def _causal_mask(input_ids: ov.Node, attention_mask: ov.Node) -> ov.Node:
    """``[batch, 1, seq, past + seq]`` f32: 0 where a query may see a key, ``_MASKED`` else.

    Query ``i`` of this call is at absolute position ``past + i``; it sees key ``j`` when
    ``j <= past + i`` and ``attention_mask[:, j]`` is 1. Only ``attention_mask`` (and the
    shape of ``input_ids``) feed it."""
    seq = ops.gather(ops.shape_of(input_ids), _scalar_i64(1), _scalar_i64(0))
    total = ops.gather(ops.shape_of(attention_mask), _scalar_i64(1), _scalar_i64(0))
    past = ops.subtract(total, seq)
    query_pos = ops.range(past, total, _scalar_i64(1), "i64")
    key_pos = ops.range(_scalar_i64(0), total, _scalar_i64(1), "i64")
    causal = ops.less_equal(
        ops.unsqueeze(key_pos, _i64(0)), ops.unsqueeze(query_pos, _i64(1))
    )  # [seq, total]
    keep = ops.not_equal(attention_mask, ops.constant(np.int64(0)))  # [batch, total]
    keep = ops.unsqueeze(keep, _i64(1, 2))  # [batch, 1, 1, total]
    allowed = ops.logical_and(keep, causal)  # [batch, 1, seq, total]
    return ops.select(allowed, _f32(0.0), _f32(_MASKED), name="causal_mask")


def _rope_tables(position_ids: ov.Node, head_size: int) -> tuple[ov.Node, ov.Node]:
    """cos/sin ``[batch, 1, seq, head_size]`` of the rotary embedding (Llama's)."""
    half = head_size // 2
    inv_freq = 1.0 / (_ROPE_BASE ** (np.arange(0, head_size, 2, dtype=np.float64) / head_size))
    inv_freq_c = ops.constant(inv_freq.astype(np.float32).reshape(1, 1, half))
    positions = ops.unsqueeze(ops.convert(position_ids, "f32"), _i64(-1))  # [b, s, 1]
    freqs = ops.multiply(positions, inv_freq_c)  # [b, s, half]
    emb = ops.concat([freqs, freqs], -1)  # [b, s, head_size]
    emb = ops.unsqueeze(emb, _i64(1))  # [b, 1, s, head_size]
    return ops.cos(emb, name="rope.cos"), ops.sin(emb, name="rope.sin")


def _input(name: str, shape: list[int], dtype: type[np.generic]) -> ov.Node:
    param = ops.parameter(shape, dtype, name=name)
    param.output(0).get_tensor().set_names({name})
    return param


def build_tiny_llm(config: TinyLLMConfig) -> ov.Model:
    """The tiny stateful LLM of ``config`` (see the module's docstring)."""
    c = config
    rng = np.random.default_rng(c.seed)
    input_ids = _input("input_ids", [-1, -1], np.int64)
    attention_mask = _input("attention_mask", [-1, -1], np.int64)
    position_ids = _input("position_ids", [-1, -1], np.int64)
    beam_idx = _input("beam_idx", [-1], np.int32)
    params = [input_ids, attention_mask, position_ids, beam_idx]

    # embeddings: an N(0, 1) table keeps the first RMSNorm's input well scaled
    table = rng.standard_normal((c.vocab, c.hidden)).astype(np.float32)
    embed = ops.constant(table, name="model.embed_tokens.weight")
    hidden_states = ops.gather(
        embed, ops.convert(input_ids, "i32"), ops.constant(np.int32(0)), name="model.embed_tokens"
    )

    cos, sin = _rope_tables(position_ids, c.head_size)
    mask = _causal_mask(input_ids, attention_mask)
    batch = ops.gather(ops.shape_of(input_ids), _i64(0), _scalar_i64(0))
    empty_cache_shape = ops.concat([batch, _i64(c.heads, 0, c.head_size)], 0)
    empty_cache = ops.broadcast(_f32(0.0), empty_cache_shape)
    inner = c.hidden * c.mlp_ratio
    # the residual branches are scaled down so that depth does not blow the activations up
    branch_scale = _f32(1.0 / np.sqrt(2.0 * c.layers))

    sinks: list[ov.Node] = []
    for i in range(c.layers):
        p = f"model.layers.{i}"
        x = _rms_norm(hidden_states, c.hidden, f"{p}.input_layernorm")
        q, k, v = (
            _heads(
                _linear(x, rng, c.hidden, c.hidden, f"{p}.self_attn.{n}_proj"), c.heads, c.head_size
            )
            for n in "qkv"
        )
        q = _rope(q, cos, sin)
        k = _rope(k, cos, sin)
        keys, k_assign = _kv_cache(k, empty_cache, beam_idx, _variable_id(i, "key"), c)
        values, v_assign = _kv_cache(v, empty_cache, beam_idx, _variable_id(i, "value"), c)
        sinks += [k_assign, v_assign]
        attn = ops.scaled_dot_product_attention(
            q, keys, values, mask, causal=False, name=f"{p}.self_attn.sdpa"
        )
        attn = ops.reshape(
            ops.transpose(attn, _i64(0, 2, 1, 3)), _i64(0, 0, c.hidden), special_zero=True
        )
        attn = _linear(attn, rng, c.hidden, c.hidden, f"{p}.self_attn.o_proj")
        hidden_states = ops.add(hidden_states, ops.multiply(attn, branch_scale))

        x = _rms_norm(hidden_states, c.hidden, f"{p}.post_attention_layernorm")
        gate = ops.swish(_linear(x, rng, inner, c.hidden, f"{p}.mlp.gate_proj"))
        up = _linear(x, rng, inner, c.hidden, f"{p}.mlp.up_proj")
        down = _linear(ops.multiply(gate, up), rng, c.hidden, inner, f"{p}.mlp.down_proj")
        hidden_states = ops.add(hidden_states, ops.multiply(down, branch_scale), name=f"{p}.out")

    x = _rms_norm(hidden_states, c.hidden, "model.norm")
    logits = _linear(x, rng, c.vocab, c.hidden, "lm_head")
    result = ops.result(logits, name="logits")
    result.output(0).get_tensor().set_names({"logits"})
    model = ov.Model(
        [result],
        sinks,
        params,
        f"tiny_llm_l{c.layers}_h{c.hidden}_a{c.heads}_v{c.vocab}_s{c.seed}",
    )
    stable_names(model)
    return model


def stable_names(model: ov.Model) -> None:
    """Replace the names OpenVINO gave unnamed nodes and tensors from its process-wide
    counters (``Multiply_1234``) by ones from the node's place in the graph, so that the same
    graph serialises to the same bytes whatever was built before it in the process."""
    for index, node in enumerate(model.get_ordered_ops()):
        if _AUTO_NAME.match(node.get_friendly_name()):
            node.set_friendly_name(f"{node.get_type_name()}.{index}")
        for port, output in enumerate(node.outputs()):
            names = output.get_names()
            kept = {name for name in names if not _AUTO_NAME.match(name)}
            if kept != names:
                output.get_tensor().set_names(kept or {f"{node.get_type_name()}.{index}:{port}"})


#: the words of the tiny tokenizer's vocabulary after its special tokens; ``w<id>`` fills the
#: rest of the vocabulary
_WORDS = """
the of and to a in is it that was for on are with as be at this by from have or not one all
but they we can an which their has more will if about up out no so what when time some could
them other than then now only its over also new two how our work first well way even because
any these give day most us model speed test fast slow token
"""
_SPECIAL_TOKENS = {"<pad>": PAD_TOKEN_ID, "<s>": BOS_TOKEN_ID, "</s>": EOS_TOKEN_ID}
_UNK = "<unk>"


def tiny_vocabulary(size: int) -> dict[str, int]:
    """The ``size`` words of the tiny tokenizer, by id: the special tokens, ``<unk>``, a few
    English words, then ``w<id>``."""
    if size < len(_SPECIAL_TOKENS) + 1:
        raise ValueError(f"a tokenizer needs vocab >= {len(_SPECIAL_TOKENS) + 1}, got {size}")
    vocab = {**_SPECIAL_TOKENS, _UNK: len(_SPECIAL_TOKENS)}
    for word in _WORDS.split():
        if len(vocab) == size:
            break
        vocab[word] = len(vocab)
    while len(vocab) < size:
        vocab[f"w{len(vocab)}"] = len(vocab)
    return vocab


def build_tiny_tokenizer(vocab_size: int) -> tuple[ov.Model, ov.Model]:
    """The tokenizer and detokenizer models of a whitespace word-level tokenizer over
    :func:`tiny_vocabulary`, built with Hugging Face ``tokenizers`` and converted by
    ``openvino_tokenizers.convert_tokenizer`` (which needs ``transformers``). Every id of a
    ``vocab_size`` model decodes to a word; an unknown word encodes to ``<unk>``.

    Raises ImportError naming the package when ``tokenizers``, ``transformers`` or
    ``openvino_tokenizers`` is not installed."""
    from openvino_tokenizers import convert_tokenizer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(tiny_vocabulary(vocab_size), unk_token=_UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece()  # joins the words with spaces
    fast: Any = PreTrainedTokenizerFast  # untyped in some transformers releases
    tokenizer = fast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token=_UNK,
    )
    encoder, decoder = convert_tokenizer(tokenizer, with_detokenizer=True)
    for model in (encoder, decoder):
        stable_names(model)
    return encoder, decoder
