"""The JSON result record, written and read through the same code: ``result_record`` ->
JSON file -> ``read_report``; the report's version and shape checked, naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import example_result
from recorded import STORED, history_result

from pytest_ovperf.kinds import RESERVED_FIELDS
from pytest_ovperf.records import (
    REQUIRED_CHECK_FIELDS,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
    CheckRecord,
    ReportError,
    ResultRecord,
    headline_value,
    json_report,
    read_report,
    records_of,
    result_record,
)
from pytest_ovperf.results import RecordedPoint
from pytest_ovperf.store.schema import RunSummary, StoredRun


def write(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload, allow_nan=False))
    return path


def test_a_record_round_trips_through_a_json_report(tmp_path: Path) -> None:
    record = result_record(history_result())
    report = write(tmp_path / "r.json", json_report([record], {"cpu": "Example CPU"}))
    read = read_report(report)
    assert read["schema_version"] == SCHEMA_VERSION
    assert read["environment"] == {"cpu": "Example CPU"}
    (again,) = records_of(read)
    assert again == json.loads(json.dumps(record))
    assert headline_value(again) == pytest.approx(1.2)
    assert again["baseline_method"] == "history"
    runs = again["recorded_runs"]
    assert [r["value"] for r in runs] == list(STORED)
    assert [r["software"] for r in runs] == ["sw-a"] * 3 + ["sw-b"] * 2
    assert [r["in_baseline"] for r in runs] == [False] * 3 + [True] * 2
    assert runs[0]["recorded_at"] == "2026-11-01T10:00:00+00:00"
    low, high = runs[0]["ci"]
    assert low is not None and high is not None and low < 1.0 < high


def test_the_record_type_lists_every_field_the_writer_writes() -> None:
    record = result_record(history_result())
    assert set(record) <= set(ResultRecord.__annotations__)
    for check in record["checks"]:
        assert set(check) <= set(CheckRecord.__annotations__)
    assert set(REQUIRED_FIELDS) <= set(record)
    # a plugin kind's headline field may take none of them but a built-in kind's own
    own = {
        "p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "percentile",
        "latency_quantiles_ms", "fps", "infer_requests", "optimal_infer_requests",
        "auto_batch_timeout_ms", "blocks", "load_ms", "load_hint",
        "memory_mb", "compile_peak_mb", "anon_mb", "file_mb", "device_mb",
        "memory_spread_mb", "memory_mode",
    }  # fmt: skip
    assert set(ResultRecord.__annotations__) - RESERVED_FIELDS == own


def test_a_record_without_stored_runs_has_no_trend() -> None:
    record = result_record(example_result([1.0, 1.1, 1.2]))
    assert "recorded_runs" not in record


def test_a_recorded_point_has_the_runs_t_interval() -> None:
    run = StoredRun(RunSummary(2.0, math.log(2.0), 0.01, 10, "sw"), recorded_at="then")
    point = RecordedPoint.of_run(run, in_baseline=True)
    t = 2.2621571627409915  # t(0.975, 9)
    assert point.low == pytest.approx(2.0 * math.exp(-t * 0.01))
    assert point.high == pytest.approx(2.0 * math.exp(t * 0.01))
    assert (point.value, point.recorded_at, point.software, point.in_baseline) == (
        2.0, "then", "sw", True,
    )  # fmt: skip
    unknown = StoredRun(RunSummary(2.0, math.log(2.0), math.inf, 0, "sw"))
    assert RecordedPoint.of_run(unknown).low is None


def test_a_plugin_kinds_headline_is_read_from_its_own_field(tmp_path: Path) -> None:
    record = {
        "nodeid": "t.py::test_p", "device": "CPU", "precision": "f32", "kind": "postprocess",
        "statistic": "geomean", "ci": [2.9, 3.1], "budget_verdict": "none", "checks": [],
        "unit": "ms", "higher_is_better": False, "headline_field": "postprocess_ms",
        "postprocess_ms": 3.0,
    }  # fmt: skip
    report = write(
        tmp_path / "r.json", {"schema_version": 1, "environment": {}, "results": [record]}
    )
    (read,) = records_of(read_report(report))
    assert headline_value(read) == 3.0


def good(**overrides: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(result_record(example_result([1.0, 1.1, 1.2]))))
    record.update(overrides)
    return record


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "not a pytest-ovperf JSON report (no 'results' list)"),
        ({"tests": []}, "not a pytest-ovperf JSON report (no 'results' list)"),
        (
            {"schema_version": SCHEMA_VERSION + 1, "results": []},
            f"report schema_version {SCHEMA_VERSION + 1} is newer than this pytest-ovperf "
            f"reads ({SCHEMA_VERSION})",
        ),
        ({"results": []}, "report schema_version None is not one pytest-ovperf has written"),
        ({"schema_version": 0, "results": []}, "report schema_version 0 is not one"),
        ({"schema_version": True, "results": []}, "report schema_version True is not one"),
        ({"schema_version": "1", "results": []}, "report schema_version '1' is not one"),
        ({"schema_version": 1, "environment": [], "results": []}, "the report's 'environment'"),
        ({"schema_version": 1, "results": [[]]}, "result 0 is not an object"),
        (
            {"schema_version": 1, "results": [good(), {"kind": "latency", "nodeid": "t"}]},
            "result 1 has no 'device', 'precision', 'statistic', 'ci', 'budget_verdict', 'checks'",
        ),
        (
            {"schema_version": 1, "results": [good(checks=None)]},
            "result 0 (test_x.py::test_a[CPU-f32]) has an invalid 'checks': None",
        ),
        (
            {"schema_version": 1, "results": [good(ci=[1.0])]},
            "result 0 (test_x.py::test_a[CPU-f32]) has an invalid 'ci': [1.0]",
        ),
        (
            {"schema_version": 1, "results": [good(checks=[{"metric": "latency_ms"}])]},
            "result 0 (test_x.py::test_a[CPU-f32]) check 0 has no 'statistic'",
        ),
        (
            {"schema_version": 1, "results": [good(kind="tokens")]},
            "result 0 (test_x.py::test_a[CPU-f32]) is of kind 'tokens', which this "
            "pytest-ovperf does not know",
        ),
    ],
)
def test_what_is_not_a_report_of_this_version_is_named(
    tmp_path: Path, payload: Any, problem: str
) -> None:
    path = write(tmp_path / "bad.json", payload)
    with pytest.raises(ReportError) as raised:
        read_report(path)
    assert str(raised.value).startswith(f"{path}: {problem}")


def test_a_file_that_is_no_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"missing\.json: no such file"):
        read_report(tmp_path / "missing.json")
    text = tmp_path / "text.json"
    text.write_text("{not json")
    with pytest.raises(ReportError, match=r"text\.json: not a JSON file"):
        read_report(text)


def test_a_report_without_environment_reads_as_an_empty_one(tmp_path: Path) -> None:
    report = read_report(write(tmp_path / "r.json", {"schema_version": 1, "results": [good()]}))
    assert report["environment"] == {}
    assert set(REQUIRED_CHECK_FIELDS) <= set(CheckRecord.__annotations__)
