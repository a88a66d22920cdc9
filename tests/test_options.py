"""One unit for every fraction: 0.05 or "5%" on the command line, in the ini file and in the
marker; a bare 5 (a percent without its sign) is an error that says how to write it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from conftest import FAST

from pytest_ovperf.verdicts.budgets import BudgetError, parse_budget
from pytest_ovperf.verdicts.limits import FractionError, parse_fraction, percent_text


@pytest.mark.parametrize(
    ("value", "fraction"),
    [(0.05, 0.05), ("0.05", 0.05), ("5%", 0.05), (" 12.5 % ", 0.125), ("900%", 9.0), (1e-3, 1e-3)],
)
def test_fractions_and_percents(value: object, fraction: float) -> None:
    assert parse_fraction(value, "x") == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (5, ["x=5 looks like a percent", "'5%'", "0.05"]),
        ("5", ["looks like a percent"]),
        (1, ["looks like a percent", "'1%'"]),
        ("0", ["must be positive"]),
        (-0.1, ["must be positive"]),
        ("five%", ["not a number"]),
        (True, ["fraction (0.05) or a percent ('5%')"]),
        (None, ["fraction (0.05) or a percent ('5%')"]),
    ],
)
def test_the_other_unit_is_a_clear_error(value: object, words: Sequence[str]) -> None:
    with pytest.raises(FractionError) as error:
        parse_fraction(value, "x")
    for word in words:
        assert word in str(error.value)


def test_percent_text_round_trips() -> None:
    assert percent_text(0.05) == "5%"
    assert parse_fraction(percent_text(0.15), "x") == pytest.approx(0.15)


def test_marker_threshold_takes_both_forms_and_refuses_a_bare_percent() -> None:
    assert parse_budget(("CPU",), {"regression_threshold": "10%"}).regression_threshold == 0.1
    assert parse_budget(("CPU",), {"regression_threshold": 0.1}).regression_threshold == 0.1
    with pytest.raises(BudgetError, match=r"regression_threshold=10 looks like a percent"):
        parse_budget(("CPU",), {"regression_threshold": 10})


@pytest.mark.parametrize(
    "option",
    [
        "--ovperf-regression-threshold=5",
        "--ovperf-drift-prior=3",
        "--ovperf-max-foreign-load=15",
        "--ovperf-max-probe-shift=10",
    ],
)
def test_a_bare_percent_on_the_command_line_is_a_usage_error(
    pytester: pytest.Pytester, option: str
) -> None:
    pytester.makepyfile(test_run_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess(*FAST, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    name, value = option.split("=")
    assert f"{name}='{value}' looks like a percent: write '{value}%'" in result.stderr.str()


THRESHOLD_TEST = """
import pytest
from models import mlp

@pytest.mark.ovperf_model(source=mlp)
def test_threshold(perf_budget, ovperf_session):
    perf_budget.measure_latency()
    assert ovperf_session.settings.regression_threshold == pytest.approx({expected})
"""


@pytest.mark.parametrize(
    ("ini", "cli", "expected"),
    [("", "", 0.05), ("ovperf_regression_threshold = 12%", "", 0.12),
     ("ovperf_regression_threshold = 0.12", "--ovperf-regression-threshold=7%", 0.07)],
    ids=["default", "ini-percent", "cli-wins"],
)  # fmt: skip
def test_threshold_from_ini_and_command_line(
    ovtester: pytest.Pytester, ini: str, cli: str, expected: float
) -> None:
    ovtester.makeini(f"[pytest]\n{ini}\n")
    ovtester.makepyfile(test_threshold=THRESHOLD_TEST.format(expected=expected))
    report = ovtester.path / "report.json"
    args = [*FAST, f"--ovperf-json={report}", "--ovperf-speed-probe=off"]
    result = ovtester.runpytest_inprocess(*args, *([cli] if cli else []))
    result.assert_outcomes(passed=1)
    assert json.loads(report.read_text())["results"][0]["kind"] == "latency"


def test_bad_ini_fraction_names_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\novperf_max_probe_shift = 15\n")
    pytester.makepyfile(test_run_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess(*FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--ovperf-max-probe-shift='15' looks like a percent" in result.stderr.str()
