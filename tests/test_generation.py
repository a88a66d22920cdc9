"""Generation pipelines (``ovperf_llm``, ``measure_generation``): the pure parts, then pytest
runs of a tiny LLM built in code (``pytest_ovperf.testing.tiny_llm``)."""

from __future__ import annotations

import json
import math
import textwrap
import time
from pathlib import Path
from typing import Any
from unittest import mock

import openvino as ov
import pytest
from conftest import FAST

from pytest_ovperf.cli import show
from pytest_ovperf.kinds import kind_of
from pytest_ovperf.measure import generation as generation_loop
from pytest_ovperf.measure.engine import SequentialLooks
from pytest_ovperf.measure.generation import MIN_CALLS, measure_generation
from pytest_ovperf.measure.settings import MeasureSettings
from pytest_ovperf.results import tokens_per_s
from pytest_ovperf.runtime.generation import (
    CallFigures,
    GenerationError,
    parse_llm_marker,
    prompt_ids,
)
from pytest_ovperf.verdicts.budgets import parse_budget
from pytest_ovperf.verdicts.kinds import Metric
from pytest_ovperf.verdicts.stats import Interval

# -- pure logic ----------------------------------------------------------------------------


def test_tokens_per_second_is_the_inverse_of_the_time_per_token_with_swapped_bounds() -> None:
    rate = tokens_per_s(Interval(2.0, 1.0, 4.0, 0.95, "m"))
    assert (rate.estimate, rate.low, rate.high) == (500.0, 250.0, 1000.0)
    assert rate.confidence == 0.95 and rate.method == "m"


def test_prompts_are_fixed_by_the_call_index_and_differ_between_calls() -> None:
    first = prompt_ids(vocab=100, length=16, call=0)
    assert first.shape == (1, 16) and first.dtype.name == "int64"
    assert (first == prompt_ids(vocab=100, length=16, call=0)).all()
    assert not (first == prompt_ids(vocab=100, length=16, call=1)).all()
    assert first.min() >= 4 and first.max() < 100  # no special token ids


def test_generation_kinds_and_budgets() -> None:
    assert kind_of("ttft").headline_field == "ttft_ms"
    assert kind_of("tpot").unit_of_evidence == "call"
    budget = parse_budget(("CPU",), {"ttft_ms": 50, "percentile": 90, "tokens_per_s": 20})
    assert budget.limits() == {Metric.TTFT: 50.0, Metric.TOKENS_PER_S: 20.0}
    assert Metric.TOKENS_PER_S.higher_is_better and Metric.TOKENS_PER_S.unit == "tokens/s"


def _settings(max_time_s: float = 60.0) -> MeasureSettings:
    return MeasureSettings(
        warmup_s=0.0, min_time_s=0.0, max_time_s=max_time_s, target_precision=0.5,
        confidence=0.95,
    )  # fmt: skip


def test_calls_alternate_abba_with_the_partner_and_pair_by_call() -> None:
    order: list[str] = []

    def caller(name: str, ttft: float) -> Any:
        def call() -> CallFigures:
            order.append(name)
            return CallFigures(ttft_ms=ttft, tpot_ms=ttft / 10, new_tokens=4, duration_ms=1.0)

        return call

    with mock.patch.object(generation_loop, "PAIR_WARMUP_S", 0.0):
        samples = measure_generation(caller("model", 2.0), _settings(), caller("partner", 1.0))
    # one warm-up round of both (the pair warm-up), then ABBA
    assert order[:6] == ["model", "partner", "model", "partner", "partner", "model"]
    assert len(samples.calls) == len(samples.partner_calls) >= MIN_CALLS
    assert samples.log_ratios("ttft_ms")[0] == pytest.approx(math.log(2.0))
    assert samples.partner_value("tpot_ms") == pytest.approx(0.1)
    assert samples.interval("tpot_ms", 0.95).estimate == pytest.approx(0.2)


def test_a_settled_look_stops_the_calls_and_is_named() -> None:
    def call() -> CallFigures:
        time.sleep(0.002)
        return CallFigures(ttft_ms=1.0, tpot_ms=1.0, new_tokens=4, duration_ms=1.0)

    seen: list[int] = []

    def settled(log_ratios: Any, look: int) -> bool:
        seen.append(look)
        return True

    looks = {"ttft_ms": SequentialLooks(4, settled), "tpot_ms": SequentialLooks(4, settled)}
    with mock.patch.object(generation_loop, "PAIR_WARMUP_S", 0.0):
        samples = measure_generation(call, _settings(max_time_s=0.2), call, looks)
    assert samples.look == 0 and seen == [0, 0]
    assert samples.measure_s < 0.2


# -- the marker ----------------------------------------------------------------------------


def _pipeline_dir(tmp_path: Path) -> Path:
    (tmp_path / "openvino_model.xml").write_text("<net/>")
    return tmp_path


def _no_factory(factory: Any) -> Path:
    raise AssertionError("not called")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "takes one pipeline: a directory by position, or a callable"),
        (("x",), {"new_tokens": 1}, "new_tokens must be at least 2"),
        (("x",), {"prompt_tokens": 0}, "prompt_tokens=0 must be a positive integer"),
        (("x",), {"max_tokens": 3}, "unknown argument.*max_tokens"),
        (("x",), {"config": {"scheduler_config": 1}}, "may not set scheduler_config"),
        (("missing",), {}, "is not a pipeline directory"),
    ],
)
def test_bad_llm_markers_say_what_is_wrong(
    tmp_path: Path, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    (tmp_path / "x").mkdir()
    _pipeline_dir(tmp_path / "x")
    with pytest.raises(GenerationError, match=message):
        parse_llm_marker(args, kwargs, tmp_path, _no_factory)


def test_an_llm_marker_names_the_pipeline_and_its_prompt(tmp_path: Path) -> None:
    directory = _pipeline_dir(tmp_path)
    spec = parse_llm_marker((), {"source": "."}, directory, _no_factory)
    assert spec.generation is not None
    assert spec.generation.directory == directory
    assert (spec.generation.prompt_tokens, spec.generation.new_tokens) == (128, 64)
    assert spec.resolved_path() == directory / "openvino_model.xml"


# -- pytest runs ---------------------------------------------------------------------------

TESTS = """
import os
import pytest
from pytest_ovperf.testing import tiny_llm

LAYERS = int(os.environ.get("TINY_LAYERS", "2"))

def pipeline():
    return tiny_llm(os.path.join(os.path.dirname(__file__), f"tiny{LAYERS}"), layers=LAYERS)
"""


@pytest.fixture
def genai_tester(ovtester: pytest.Pytester, cpu_alone: None) -> pytest.Pytester:
    pytest.importorskip("openvino_genai", reason="generation tests need openvino-genai")
    return ovtester


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    report = pytester.path / "ovperf.json"
    report.unlink(missing_ok=True)
    outcome = pytester.runpytest_subprocess(*FAST, f"--ovperf-json={report}", *args)
    results = json.loads(report.read_text())["results"] if report.exists() else []
    return outcome, results


def _write(pytester: pytest.Pytester, body: str) -> None:
    (pytester.path / "test_llm.py").write_text(TESTS + textwrap.dedent(body))


def test_generation_budgets_pass_when_generous_and_fail_when_impossible(
    genai_tester: pytest.Pytester,
) -> None:
    _write(
        genai_tester,
        """
        @pytest.mark.ovperf_llm(pipeline, prompt_tokens=16, new_tokens=8)
        @pytest.mark.ovperf_budget("CPU", ttft_ms=10000, tpot_ms=10000, tokens_per_s=0.01,
                                   load_ms=600000)
        def test_generous(perf_budget, llm_pipeline):
            measured = perf_budget.measure_generation(llm_pipeline)
            assert measured.n >= 6 and measured.load_ms > 0
            assert measured.tokens_per_s.estimate == pytest.approx(
                1000 / measured.tpot_ms.estimate)

        @pytest.mark.ovperf_llm(pipeline, prompt_tokens=16, new_tokens=8)
        @pytest.mark.ovperf_budget("CPU", ttft_ms=1e-6, tokens_per_s=1e9)
        def test_impossible(perf_budget):
            perf_budget.measure_generation()
        """,
    )
    outcome, results = _run(genai_tester, "--ovperf-confirm=off")
    outcome.assert_outcomes(passed=1, failed=1)
    failure = "\n".join(outcome.outlines)
    assert "ttft_ms" in failure and "tokens_per_s" in failure
    generous = [r for r in results if "generous" in r["nodeid"]]
    assert sorted(r["kind"] for r in generous) == ["tpot", "ttft"]
    for record in generous:
        assert record["ttft_ms"] > 0 and record["tpot_ms"] > 0 and record["tokens_per_s"] > 0
        assert record["tpot_ci"][0] <= record["tpot_ms"] <= record["tpot_ci"][1]
        assert (record["prompt_tokens"], record["new_tokens"]) == (16, 8)
        assert record["attention_backend"] in ("PA", "SDPA")
        assert {c["verdict"] for c in record["checks"]} == {"pass"}


def test_a_recorded_pipeline_is_kept_and_a_changed_one_is_measured_beside_it(
    genai_tester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        genai_tester,
        """
        @pytest.mark.ovperf_llm(pipeline, prompt_tokens=16, new_tokens=8)
        def test_generate(perf_budget):
            perf_budget.measure_generation()
        """,
    )
    outcome, results = _run(genai_tester, "--ovperf-update-baselines")
    outcome.assert_outcomes(passed=1)
    assert {r["kind"]: r["baseline_verdict"] for r in results} == {
        "ttft": "updated",
        "tpot": "updated",
    }
    stored = json.loads((genai_tester.path / "baselines" / "test_llm.json").read_text())
    assert "ttft" in json.dumps(stored) and "tpot" in json.dumps(stored)
    copies = list((genai_tester.path / "baselines" / "models").iterdir())
    assert len(copies) == 1
    kept = {p.name for p in copies[0].iterdir()}
    assert {"openvino_model.xml", "openvino_model.bin", "config.json"} <= kept
    # the pipeline copy's own JSON files are not taken for baseline files
    table = "\n".join(show(genai_tester.path / "baselines"))
    assert "ttft_ms" in table and "tpot_ms" in table
    # the same pipeline again: its stored runs judge it
    outcome, results = _run(genai_tester)
    assert {r["baseline_method"] for r in results} == {"history"}
    # another OpenVINO alone: the same pipeline twice on this runtime would say nothing
    # about it, so the stored runs judge it too (and name the change)
    baselines = genai_tester.path / "baselines" / "test_llm.json"
    original = baselines.read_text()
    baselines.write_text(original.replace(ov.get_version(), "2020.1.0-old"))
    outcome, results = _run(genai_tester, "--ovperf-inconclusive=pass")
    assert {r["baseline_method"] for r in results} == {"history"}
    assert all("openvino" in r["what_changed"] for r in results)
    baselines.write_text(original)
    # a deeper pipeline: the baseline's own copy runs beside it, call by call
    monkeypatch.setenv("TINY_LAYERS", "3")
    outcome, results = _run(genai_tester, "--ovperf-inconclusive=pass")
    assert {r["kind"]: r["baseline_method"] for r in results} == {"ttft": "ab", "tpot": "ab"}
    for record in results:
        assert "model_hash" in record["what_changed"]
    for record in results:  # judged by the paired test over pairs of calls
        assert "call pairs" in record["baseline_message"]


def test_generation_usage_errors_name_the_problem(genai_tester: pytest.Pytester) -> None:
    _write(
        genai_tester,
        """
        @pytest.mark.ovperf_llm("no-such-dir")
        def test_missing(perf_budget):
            perf_budget.measure_generation()

        @pytest.mark.ovperf_model(source=lambda: __import__("models").mlp(256, 256, 1))
        def test_not_a_pipeline(perf_budget):
            perf_budget.measure_generation()

        @pytest.mark.ovperf_llm(source=pipeline)
        @pytest.mark.ovperf_model("model.xml")
        def test_both(perf_budget):
            pass
        """,
    )
    outcome, _ = _run(genai_tester)
    text = "\n".join(outcome.outlines)
    assert "no-such-dir is not a pipeline directory (no openvino_model.xml)" in text
    assert "measure_generation measures the pipeline of @pytest.mark.ovperf_llm" in text
    assert "has both ovperf_model and ovperf_llm" in text
