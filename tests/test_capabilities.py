"""The test suite picks what this machine can run; these pin how it picks, for CPUs with
and without bf16/f16, so both paths are known to work wherever the suite runs."""

from __future__ import annotations

import pytest
from conftest import lower_precision_of, unsupported_precision_of


@pytest.mark.parametrize(
    ("capabilities", "lower", "unsupported"),
    [
        (["BF16", "WINOGRAD", "FP32", "INT8", "BIN"], "bf16", "f16"),  # AVX512-BF16
        (["FP32", "INT8", "BIN", "EXPORT_IMPORT"], None, "bf16"),  # a plain x86-64 (AVX2)
        (["FP32", "FP16", "INT8", "EXPORT_IMPORT"], "f16", "bf16"),  # ARM with fp16
        (["BF16", "FP16", "FP32", "INT8"], "bf16", None),  # AMX-FP16: everything runs
    ],
    ids=["avx512-bf16", "avx2", "arm-fp16", "amx-fp16"],
)
def test_the_suite_picks_a_precision_the_cpu_has(
    capabilities: list[str], lower: str | None, unsupported: str | None
) -> None:
    assert lower_precision_of(capabilities) == lower
    assert unsupported_precision_of(capabilities) == unsupported
