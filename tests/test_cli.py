"""The ``ovperf`` command: show, compare, merge; bad input names the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST

from pytest_ovperf.cli import main


def report(path: Path, *results: dict[str, Any], cpu: str = "cpu-a") -> Path:
    path.write_text(
        json.dumps({"schema_version": 1, "environment": {"cpu": cpu}, "results": list(results)})
    )
    return path


def latency(p50: float, nodeid: str = "t.py::test_a[CPU-f32]") -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "device": "CPU",
        "precision": "f32",
        "kind": "latency",
        "statistic": "p50",
        "p50_ms": p50,
        "ci": [p50 * 0.99, p50 * 1.01],
        "confidence": 0.95,
        "budget_verdict": "none",
        "checks": [],
    }


def test_compare_says_regression_with_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = report(tmp_path / "old.json", latency(1.0), latency(5.0, "t.py::test_b[CPU-f32]"))
    new = report(tmp_path / "new.json", latency(2.0), latency(5.0, "t.py::test_b[CPU-f32]"))
    assert main(["compare", str(old), str(new)]) == 1
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows[0][:6] == ["test_a[CPU-f32]", "CPU", "latency", "1", "2", "2.000"]
    assert rows[0][-1] == "regression"
    # equal figures from one run each: the gate's prior drift leaves it undecided
    assert rows[1][0] == "test_b[CPU-f32]" and rows[1][-1] == "inconclusive"


def test_compare_lists_tests_missing_on_either_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = report(tmp_path / "old.json", latency(1.0, "t.py::gone"))
    new = report(tmp_path / "new.json", latency(1.0, "t.py::added"))
    assert main(["compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "added" in out and "no-baseline" in out
    assert "gone" in out and "not in new" in out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not a JSON file"),
        ('{"something": "else"}', "not a pytest-ovperf JSON report"),
        ('{"schema_version": 99, "results": []}', "report schema_version 99"),
        ('{"schema_version": 1, "results": [{"kind": "latency"}]}', "result 0 has no 'nodeid'"),
    ],
)
def test_bad_reports_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = report(tmp_path / "good.json", latency(1.0))
    assert main(["compare", str(good), str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"ovperf: {bad}: {problem}")


def test_a_bad_threshold_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = report(tmp_path / "good.json", latency(1.0))
    assert main(["compare", str(good), str(good), "--threshold", "5"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_merge_keeps_each_results_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = report(tmp_path / "a.json", latency(1.0), cpu="cpu-a")
    b = report(tmp_path / "b.json", latency(3.0), cpu="cpu-b")
    merged, page = tmp_path / "out" / "all.json", tmp_path / "out" / "all.html"
    assert main(["merge", str(a), str(b), "-o", str(merged), "--html", str(page)]) == 0
    assert page.read_text().count('class="ovperf-plot"') == 2
    data = json.loads(merged.read_text())
    assert [r["environment"]["cpu"] for r in data["results"]] == ["cpu-a", "cpu-b"]
    assert [r["source"] for r in data["results"]] == [str(a), str(b)]
    assert f"merged 2 result(s) into {merged}" in capsys.readouterr().out


def test_show_lists_recorded_baselines(ovtester: pytest.Pytester, cpu_default: str) -> None:
    ovtester.makeini("[pytest]\npythonpath = .\n")
    ovtester.makepyfile(
        test_rec="""
import pytest
from models import mlp

@pytest.mark.ovperf_model(source=lambda: mlp(hidden=64))
def test_rec(perf_budget):
    perf_budget.measure_latency()
"""
    )
    outcome = ovtester.runpytest_inprocess(*FAST, "--ovperf-update-baselines")
    outcome.assert_outcomes(passed=1)
    shown = subprocess.run(
        [sys.executable, "-m", "pytest_ovperf.cli", "show", str(ovtester.path / "baselines")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == [
        "file", "test", "profile", "kind", "value", "runs", "recorded", "openvino",
    ]  # fmt: skip
    # no budget names a precision: the test runs the CPU's own default (bf16 on AMX)
    assert f"test_rec.json  test_rec[CPU-{cpu_default}]  CPU" in lines[2]
    assert " latency  p50_ms " in lines[2]


def test_show_of_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    assert main(["show", str(tmp_path / "nowhere")]) == 2


# -- ab ------------------------------------------------------------------------------------


def _saved_model(directory: Path, name: str, extra_blocks: int) -> Path:
    import openvino as ov

    from pytest_ovperf.runtime.toy_models import mobilenet_like

    path = directory / f"{name}.xml"
    ov.save_model(mobilenet_like(size=32, extra_blocks=extra_blocks), path, False)
    return path


def test_ab_measures_a_model_under_another_runtime_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # offline, the "other" runtime is this interpreter: the route, not an upgrade, is checked
    model = _saved_model(tmp_path, "model", 0)
    status = main(["ab", str(model), "--reference-runtime", sys.executable, "--max-time", "1.5"])
    out = capsys.readouterr().out
    assert status in (0, 1)  # 1 only for a confident regression of the same model
    assert out.startswith("latency on CPU")
    assert "under OpenVINO" in out and "this run: OpenVINO" in out
    assert "block pairs" in out
    assert "where the time goes (this side): " in out


def test_ab_needs_a_reference_or_a_runtime_and_existing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _saved_model(tmp_path, "model", 0)
    assert main(["ab", str(model)]) == 2
    assert "give --reference MODEL, --reference-runtime RELEASE, or both" in (
        capsys.readouterr().err
    )
    assert main(["ab", str(tmp_path / "none.xml"), "--reference", str(model)]) == 2
    assert "none.xml: no such model file" in capsys.readouterr().err
