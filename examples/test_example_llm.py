"""An example generation test: time to first token, time per output token and tokens/s of an
openvino-genai LLM pipeline, with budgets. The pipeline is a tiny decoder built in code
(``pytest_ovperf.testing.tiny_llm``), so nothing is downloaded; point ``ovperf_llm`` at your
own exported model directory instead. Skips where openvino-genai is not installed
(``pip install "pytest-ovperf[genai]"``).
"""

import tempfile
from pathlib import Path

import pytest

pytest.importorskip("openvino_genai", reason="generation tests need openvino-genai")

from pytest_ovperf.testing import tiny_llm

PIPELINES = Path(tempfile.gettempdir()) / "pytest-ovperf-example-llm"


def tiny_pipeline():
    return tiny_llm(PIPELINES / "tiny-2-layers", layers=2)


@pytest.mark.ovperf_llm(source=tiny_pipeline, prompt_tokens=32, new_tokens=16)
@pytest.mark.ovperf_budget(device="CPU", ttft_ms=200, percentile=90, tpot_ms=20, tokens_per_s=50)
def test_tiny_llm_generation(llm_pipeline, perf_budget):
    measured = perf_budget.measure_generation(llm_pipeline)
    assert measured.n >= 6
