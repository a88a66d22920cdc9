"""The model store (copies of the baselines' models, for A/B runs) and the fingerprint that
keys it: real OpenVINO models built in code and saved as IR."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest

from pytest_ovperf.runtime.models import ModelSpec, model_fingerprint, read_model
from pytest_ovperf.runtime.toy_models import dynamic_mlp, mlp, mobilenet_like
from pytest_ovperf.store.models import MANIFEST, ModelStore, ModelStoreError


def small_conv(stride: int = 1, weight: float = 0.5, dtype: type = np.float32) -> ov.Model:
    image = ops.parameter([1, 2, 8, 8], dtype, name="x")
    kernel = ops.constant(np.full((2, 2, 3, 3), weight, dtype=dtype))
    y = ops.convolution(image, kernel, [stride, stride], [1, 1], [1, 1], [1, 1])
    return ov.Model([y], [image], "small_conv")


# -- the fingerprint --------------------------------------------------------------------


def test_fingerprint_is_the_same_in_another_process() -> None:
    code = (
        "import openvino\n"
        "from pytest_ovperf.runtime.models import model_fingerprint\n"
        "from pytest_ovperf.runtime.toy_models import mlp, mobilenet_like\n"
        "mlp()  # build something first: generated op names shift, the fingerprint must not\n"
        "print(model_fingerprint(mobilenet_like()))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == model_fingerprint(mobilenet_like())


@pytest.mark.parametrize(
    "changed",
    [
        small_conv(weight=0.25),  # one weight value
        small_conv(stride=2),  # an attribute
        small_conv(dtype=np.float16),  # the input's element type
    ],
    ids=["weights", "attribute", "input-type"],
)
def test_fingerprint_changes_with_the_computation(changed: ov.Model) -> None:
    assert model_fingerprint(changed) != model_fingerprint(small_conv())


def test_fingerprint_changes_with_the_reshape(tmp_path: Path) -> None:
    core = ov.Core()
    one = read_model(core, ModelSpec(source=dynamic_mlp, shape=[1, 64]))
    four = read_model(core, ModelSpec(source=dynamic_mlp, shape=[4, 64]))
    assert model_fingerprint(one) != model_fingerprint(four)


def test_an_ir_file_and_its_source_model_have_one_fingerprint(tmp_path: Path) -> None:
    model = mobilenet_like()
    ov.save_model(model, str(tmp_path / "m.xml"), compress_to_fp16=False)
    read = ov.Core().read_model(str(tmp_path / "m.xml"))
    assert model_fingerprint(read) == model_fingerprint(model)


# -- the store ----------------------------------------------------------------------------


def test_a_built_model_round_trips(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    model = mobilenet_like()
    fingerprint = model_fingerprint(model)
    kept = store.put(fingerprint, model, None, None)
    assert kept.kind == "built" and kept.path.suffix == ".xml"
    again = store.get(fingerprint)
    assert again == kept
    assert model_fingerprint(ov.Core().read_model(str(again.path))) == fingerprint
    manifest = json.loads((kept.directory / MANIFEST).read_text())
    assert {f["name"] for f in manifest["files"]} == {"model.xml", "model.bin"}


def test_a_file_model_keeps_its_original_bytes_and_reshape(tmp_path: Path) -> None:
    source = tmp_path / "src" / "net.xml"
    source.parent.mkdir()
    ov.save_model(dynamic_mlp(), str(source), compress_to_fp16=False)
    spec = ModelSpec(source=source, shape={"features": [2, 64]})
    model = read_model(ov.Core(), spec)
    store = ModelStore(tmp_path / "models")
    kept = store.put(model_fingerprint(model), model, source, spec.shape)
    assert kept.kind == "file" and kept.shape == {"features": [2, 64]}
    assert kept.path.read_bytes() == source.read_bytes()
    assert (kept.directory / "net.bin").read_bytes() == source.with_suffix(".bin").read_bytes()
    again = read_model(ov.Core(), ModelSpec(source=kept.path, shape=kept.shape))
    assert model_fingerprint(again) == model_fingerprint(model)


def test_putting_twice_keeps_the_first_copy(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    model = mlp()
    kept = store.put("f" * 16, model, None, None)
    written = (kept.directory / MANIFEST).stat().st_mtime_ns
    store.put("f" * 16, model, None, None)
    assert (kept.directory / MANIFEST).stat().st_mtime_ns == written
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["f" * 16]


def test_a_missing_copy_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match=r"models/0123456789abcdef is missing"):
        ModelStore(tmp_path / "models").get("0123456789abcdef")


def test_a_changed_file_fails_its_hash_check_and_is_left_alone(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    kept = store.put("a" * 16, mlp(), None, None)
    weights = kept.directory / "model.bin"
    tampered = b"x" + weights.read_bytes()[1:]
    weights.write_bytes(tampered)
    with pytest.raises(ModelStoreError, match=r"model\.bin fails its hash check"):
        store.get("a" * 16)
    with pytest.raises(ModelStoreError, match="hash check"):
        store.put("a" * 16, mlp(), None, None)  # never replaced
    assert weights.read_bytes() == tampered


def test_a_missing_file_and_a_corrupt_manifest_are_named(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    kept = store.put("b" * 16, mlp(), None, None)
    (kept.directory / "model.bin").unlink()
    with pytest.raises(ModelStoreError, match=r"model\.bin is missing"):
        store.get("b" * 16)
    (kept.directory / MANIFEST).write_text("{ not json")
    with pytest.raises(ModelStoreError, match=r"manifest\.json cannot be read"):
        store.get("b" * 16)


def test_a_path_is_no_fingerprint(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match="is no fingerprint"):
        ModelStore(tmp_path).get("../etc")
