"""``ovperf sweep``: a small grid measured for real, its table and JSON, and bad grids
refused before anything compiles."""

from __future__ import annotations

import json
from pathlib import Path

import openvino as ov
import pytest

from pytest_ovperf.cli import main
from pytest_ovperf.runtime.toy_models import dynamic_mlp, mlp

QUICK = ["--time", "0.3"]


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "mlp.xml"
    ov.save_model(mlp(hidden=64), str(path), compress_to_fp16=False)
    return path


def test_a_grid_is_measured_and_the_best_configurations_marked(
    model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, page = tmp_path / "sweep.json", tmp_path / "sweep.html"
    args = ["sweep", str(model_file), "--streams", "1,2", "--batch", "1,2", "--hint", "throughput"]
    assert main([*args, *QUICK, "--json", str(out), "--html", str(page)]) == 0
    captured = capsys.readouterr()
    assert "[4/4] hint=THROUGHPUT streams=2 batch=2" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["hint", "streams", "batch", "requests"]
    assert len(lines) == 2 + 4 + 1
    assert sum(line.count(" *") for line in lines[2:6]) == 2  # best latency, best throughput
    data = json.loads(out.read_text())
    grid = [(r["hint"], r["streams"], r["batch"]) for r in data["results"]]
    assert grid == [("THROUGHPUT", s, b) for s in (1, 2) for b in (1, 2)]
    for result in data["results"]:
        assert 0 < result["p50_ms"]["low"] <= result["p50_ms"]["value"] <= result["p50_ms"]["high"]
        assert result["items_per_s"]["value"] > 0
    assert [r["best_latency"] for r in data["results"]].count(True) == 1
    assert [r["best_throughput"] for r in data["results"]].count(True) == 1
    assert page.read_text().count('class="ovperf-plot"') == 8


def test_a_dynamic_model_needs_a_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dynamic.xml"
    ov.save_model(dynamic_mlp(), str(path), compress_to_fp16=False)
    assert main(["sweep", str(path), "--hint", "latency", *QUICK]) == 2
    assert "features" in capsys.readouterr().err
    assert main(["sweep", str(path), "--hint", "latency", "--shape", "features[1,64]", *QUICK]) == 0


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--streams", "1,0", "--streams '1,0': '0' is not a whole number >= 1"),
        ("--batch", "two", "--batch 'two': 'two' is not a whole number >= 1"),
        ("--hint", "fast", "--hint 'fast': 'fast' is not one of latency, throughput"),
        ("--shape", "1,3,224", "--shape '1,3,224': write name[1,3,224,224]"),
        ("--precision", "f8", "unknown precision 'f8'"),
        ("--precision", "int8", "--precision 'int8': give one of f32, bf16, f16"),
        ("--precision", "f32,f16", "--precision 'f32,f16': give one of f32, bf16, f16"),
    ],
)
def test_a_bad_grid_is_refused_before_any_compile(
    model_file: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, problem: str
) -> None:
    assert main(["sweep", str(model_file), option, value]) == 2
    captured = capsys.readouterr()
    assert problem in captured.err
    assert "[1/" not in captured.err  # nothing was measured


def test_a_missing_model_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.xml"
    assert main(["sweep", str(missing)]) == 2
    assert f"{missing}: no such model file" in capsys.readouterr().err
