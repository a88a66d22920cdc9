"""Small models built in code with ``openvino.opset13``: the examples, the tests and the
machine-speed probe use them, so nothing needs a model file.

``mobilenet_like`` is a stack of depthwise-separable convolution blocks (as in MobileNet v1);
``mlp`` is a multi-layer perceptron. ``extra_blocks`` / ``depth`` make slower variants of the
same network, which is how the regression tests and benchmarks build "the same model, slower".
"""

from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

_SEED = 7


def _weights(rng: np.random.Generator, *shape: int) -> ov.Node:
    fan_in = int(np.prod(shape[1:])) or 1
    data = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
    return ops.constant(data)


def _conv_bn_relu(
    x: ov.Node, rng: np.random.Generator, in_ch: int, out_ch: int, stride: int, group: bool
) -> ov.Node:
    if group:
        kernel = _weights(rng, in_ch, 1, 1, 3, 3)
        y = ops.group_convolution(x, kernel, [stride, stride], [1, 1], [1, 1], [1, 1])
    else:
        kernel = _weights(rng, out_ch, in_ch, 1, 1)
        y = ops.convolution(x, kernel, [stride, stride], [0, 0], [0, 0], [1, 1])
    bias = ops.constant(np.zeros((1, out_ch, 1, 1), dtype=np.float32))
    return ops.relu(ops.add(y, bias))


def mobilenet_like(
    size: int = 64, width: int = 32, extra_blocks: int = 0, classes: int = 10, seed: int = _SEED
) -> ov.Model:
    """A MobileNet-v1-like conv net on a ``[1, 3, size, size]`` image input named ``images``.

    Another ``seed`` gives the same graph with other weights: the same speed, another
    fingerprint (an A/A pair for the A/B gate)."""
    rng = np.random.default_rng(seed)
    image = ops.parameter([1, 3, size, size], np.float32, name="images")
    stem = _weights(rng, width, 3, 3, 3)
    x = ops.relu(ops.convolution(image, stem, [2, 2], [1, 1], [1, 1], [1, 1]))
    channels = width
    plan = [(2 * width, 1), (2 * width, 2), (4 * width, 1), (4 * width, 2)]
    plan += [(4 * width, 1)] * extra_blocks
    for out_ch, stride in plan:
        x = _conv_bn_relu(x, rng, channels, channels, stride, group=True)
        x = _conv_bn_relu(x, rng, channels, out_ch, 1, group=False)
        channels = out_ch
    pooled = ops.reduce_mean(x, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
    logits = ops.matmul(pooled, _weights(rng, channels, classes), False, False)
    result = ops.softmax(logits, 1)
    model = ov.Model([result], [image], f"mobilenet_like_{size}_{width}_{extra_blocks}")
    model.outputs[0].get_tensor().set_names({"scores"})
    return model


def mlp(features: int = 256, hidden: int = 512, depth: int = 3, batch: int = 1) -> ov.Model:
    """A ReLU multi-layer perceptron on a ``[batch, features]`` input named ``features``."""
    rng = np.random.default_rng(_SEED)
    data = ops.parameter([batch, features], np.float32, name="features")
    x: ov.Node = data
    width = features
    for _ in range(depth):
        x = ops.relu(ops.matmul(x, _weights(rng, width, hidden), False, False))
        width = hidden
    out = ops.matmul(x, _weights(rng, width, 10), False, False)
    model = ov.Model([out], [data], f"mlp_{features}_{hidden}_{depth}")
    model.outputs[0].get_tensor().set_names({"logits"})
    return model


def dynamic_mlp(features: int = 64) -> ov.Model:
    """An MLP whose batch dimension is dynamic: needs ``ovperf_model(..., shape=...)``."""
    rng = np.random.default_rng(_SEED)
    data = ops.parameter([-1, features], np.float32, name="features")
    out = ops.matmul(data, _weights(rng, features, 10), False, False)
    return ov.Model([out], [data], "dynamic_mlp")
