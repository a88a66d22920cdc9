"""Generation (``measure_generation``, openvino-genai's ``LLMPipeline``): two kinds from one
measurement, each gated against its own baseline. Time to first token is the prompt's cost
(prefill), time per output token the cost of each further token (decode); an upgrade or a
model change may move one without the other. Both are per-call figures, the call being the
unit of evidence; their headline is the geometric mean over the calls."""

from __future__ import annotations

from ..verdicts.kinds import Metric
from .base import MeasurementKind

TTFT = MeasurementKind(
    name="ttft",
    unit="ms",
    higher_is_better=False,
    headline_field="ttft_ms",
    headline="ttft geomean",
    metric=Metric.TTFT,
    hint="LATENCY",
    interleaved=False,
    confirmable=True,
    statistical=True,
    unit_of_evidence="call",
)

TPOT = MeasurementKind(
    name="tpot",
    unit="ms",
    higher_is_better=False,
    headline_field="tpot_ms",
    headline="tpot geomean",
    metric=Metric.TPOT,
    derived_metrics=(Metric.TOKENS_PER_S,),
    hint="LATENCY",
    interleaved=False,
    confirmable=True,
    statistical=True,
    unit_of_evidence="call",
)

#: ``ovperf_llm``'s defaults: the prompt's length and the tokens generated per call
DEFAULT_PROMPT_TOKENS = 128
DEFAULT_NEW_TOKENS = 64

#: the kinds of one generation measurement, in the order results list them
GENERATION = (TTFT, TPOT)
