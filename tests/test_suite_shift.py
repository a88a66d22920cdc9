"""The suite-level line: most tests compared with stored runs moved together."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_ovperf.report import suite_shift_line
from pytest_ovperf.verdicts.suite import SHIFT_ALPHA, suite_shift


def record(ratio: float, kind: str = "latency", method: str = "history", **extra: Any) -> dict:
    return {
        "nodeid": "t.py::test",
        "kind": kind,
        "baseline_method": method,
        "ratio": ratio,
        "regression_threshold": 0.05,
        "what_changed": {},
        **extra,
    }


def test_most_tests_slower_together_name_the_machine() -> None:
    records = [record(1.3)] * 9 + [record(0.98)] + [record(1 / 1.3, kind="throughput")] * 3
    shift = suite_shift(records)
    assert shift is not None and shift.slower
    assert (shift.moved, shift.compared) == (12, 13)
    line = suite_shift_line(shift)
    assert line.startswith("suite: 12 of 13 tests compared with stored runs are slower")
    assert "the machine changed" in line


def test_a_common_software_change_is_named_as_the_cause() -> None:
    upgrade = {"openvino": ["2025.1", "2026.4"], "model_hash": ["a", "b"]}
    shift = suite_shift([record(0.7, what_changed=upgrade)] * 8)
    assert shift is not None and not shift.slower
    assert shift.common_changes == {"openvino": ("2025.1", "2026.4")}
    assert "the runtime changed (openvino: 2025.1 -> 2026.4)" in suite_shift_line(shift)


def test_no_statement_from_few_tests_small_moves_or_other_methods() -> None:
    assert suite_shift([record(1.5)] * 4) is None  # too few to say
    assert suite_shift([record(1.02)] * 20) is None  # together, but within the threshold
    assert suite_shift([record(1.5, method="ab")] * 20) is None  # A/B cancels the machine
    assert suite_shift([record(1.5), record(0.6)] * 10) is None  # no common direction


def test_independent_tests_rarely_look_like_a_shift() -> None:
    # 20 tests with no common cause, each moving by chance (8% drift): the sign test keeps
    # the false statement rate under its level
    rng = np.random.default_rng(3)
    trials = 2000
    fired = sum(
        suite_shift([record(float(np.exp(rng.normal(0, 0.08)))) for _ in range(20)]) is not None
        for _ in range(trials)
    )
    assert fired / trials <= SHIFT_ALPHA
