"""An example perf suite: budgets per device and precision on models built in code.

Run it with ``pytest examples --ovperf-device=CPU`` (add ``,GPU`` where a GPU is present).
The budgets are generous on purpose so that the suite passes on a slow CI machine: in a
real project they would be set from measured figures (see the baselines gate).
"""

import pytest
from models import mlp, mobilenet_like


@pytest.mark.ovperf_model(source=mobilenet_like)
@pytest.mark.ovperf_budget(device="CPU", precision="f32", latency_ms=50.0)
@pytest.mark.ovperf_budget(device="CPU", precision="bf16", latency_ms=50.0, percentile=90)
@pytest.mark.ovperf_budget(device="GPU", precision="f16", latency_ms=20.0)
def test_mobilenet_latency(compiled_model, perf_budget):
    result = perf_budget.measure_latency(compiled_model)
    assert result.n > 0


@pytest.mark.ovperf_model(source=mobilenet_like)
@pytest.mark.ovperf_budget(device="CPU", precision="f32", throughput_fps=20, compile_ms=30_000)
@pytest.mark.ovperf_budget(device="GPU", precision="f16", throughput_fps=100)
def test_mobilenet_throughput(infer_pool, perf_budget):
    perf_budget.measure_throughput(infer_pool)


@pytest.mark.ovperf_model(mlp, shape={"features": [1, 256]})
@pytest.mark.ovperf_budget(device="CPU", precision="f32", latency_ms=20.0, first_inference_ms=5_000)
@pytest.mark.ovperf_budget(device="GPU", precision="f32", latency_ms=10.0)
def test_mlp_latency(compiled_model, perf_budget):
    perf_budget.measure_latency(compiled_model)


@pytest.mark.ovperf_model(source=mobilenet_like)
@pytest.mark.ovperf_budget(device="CPU", load_ms=5_000, memory_mb=1_000, compile_peak_mb=2_000)
def test_mobilenet_start_up_and_memory(perf_budget):
    # what a user's application pays before its first inference, and what it keeps
    perf_budget.measure_load()
    perf_budget.measure_memory()
