"""Comparison partners: the sources are asked in their order and the first partner offered is
the one measured (``pytest_ovperf/partners/``)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from pytest_ovperf.partners import (
    NO_PARTNER,
    SOURCES,
    BaselineCopySource,
    BaselineRuntimeSource,
    ComparisonPartner,
    Fallback,
    Judging,
    Offer,
    PartnerSource,
    PartnerUnavailable,
    ProbeSource,
    ReferenceSource,
    SideRuntimeSource,
    first_offer,
)
from pytest_ovperf.runtime.models import CompiledEntry

# -- the walk over the sources (pure logic, fake sources) ----------------------------------


class FakeSource(PartnerSource):
    """A source that offers what it is given, and notes that it was asked."""

    name = "fake"

    def __init__(self, offered: Offer | Exception, asked: list[str], label: str) -> None:
        self.offered = offered
        self.asked = asked
        self.label = label

    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        self.asked.append(self.label)
        if isinstance(self.offered, Exception):
            raise self.offered
        return self.offered


def partner(name: str) -> ComparisonPartner:
    return ComparisonPartner(name, Judging.REFERENCE, f"the {name}")


def walk(*offers: Offer | Exception) -> tuple[ComparisonPartner | None, str, list[str]]:
    asked: list[str] = []
    sources = [FakeSource(offered, asked, f"s{i}") for i, offered in enumerate(offers)]
    entry: Any = None  # the fakes do not look at it
    chosen, fallback = first_offer(sources, "latency", entry)
    return chosen, fallback, asked


def test_the_first_partner_offered_is_chosen_and_later_sources_are_not_asked() -> None:
    chosen, fallback, asked = walk(None, partner("a"), partner("b"))
    assert chosen == partner("a")
    assert (fallback, asked) == ("", ["s0", "s1"])


def test_a_fallback_hands_over_to_the_next_source_and_its_reason_is_kept() -> None:
    chosen, fallback, asked = walk(Fallback("no A/B: gone"), partner("probe"))
    assert chosen == partner("probe")
    assert (fallback, asked) == ("no A/B: gone", ["s0", "s1"])
    # the first reason is the one kept
    chosen, fallback, _ = walk(Fallback("first"), Fallback("second"), None)
    assert (chosen, fallback) == (None, "first")


def test_no_partner_offered_measures_the_model_alone() -> None:
    chosen, fallback, asked = walk(None, None)
    assert (chosen, fallback, asked) == (None, "", ["s0", "s1"])
    assert NO_PARTNER.judging is Judging.HISTORY and NO_PARTNER.blocks is None


def test_a_source_that_cannot_do_without_its_partner_ends_the_walk() -> None:
    asked: list[str] = []
    sources = [
        FakeSource(PartnerUnavailable("--ovperf-compare=ab needs it"), asked, "s0"),
        FakeSource(partner("b"), asked, "s1"),
    ]
    entry: Any = None
    with pytest.raises(PartnerUnavailable, match="compare=ab"):
        first_offer(sources, "latency", entry)
    assert asked == ["s0"]


def test_the_sources_order() -> None:
    assert (
        SideRuntimeSource,
        ReferenceSource,
        BaselineRuntimeSource,
        BaselineCopySource,
        ProbeSource,
    ) == SOURCES
    assert [s.name for s in SOURCES] == [
        "reference-runtime",
        "reference",
        "baseline-runtime",
        "baseline-copy",
        "probe",
    ]
    assert [j for j in Judging if j.against_stored_runs] == [Judging.PROBE, Judging.HISTORY]


# -- the real plugin ------------------------------------------------------------------------

PARTNER_FILE = """\
import pytest
from models import mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size=32){reference})
def test_partner(perf_budget):
    perf_budget.measure_latency()
"""

QUICK = (
    "--ovperf-warmup=0.02",
    "--ovperf-min-time=0.1",
    "--ovperf-max-time=0.2",
    "--ovperf-max-foreign-load=100%",
    "--ovperf-max-probe-shift=1000%",
    "-p",
    "no:cacheprovider",
)


def measured(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    """Run the test file in-process; its latency result from the JSON report."""
    report = pytester.path / "ovperf.json"
    report.unlink(missing_ok=True)
    outcome = pytester.runpytest_inprocess(*QUICK, f"--ovperf-json={report}", *args)
    assert report.exists(), outcome.stdout.str()
    (data,) = json.loads(report.read_text())["results"]
    assert data["kind"] == "latency"
    return dict(data)


def write(pytester: pytest.Pytester, reference: str = "") -> None:
    source = PARTNER_FILE.format(reference=reference)
    (pytester.path / "test_partner.py").write_text(textwrap.dedent(source))


def test_the_partner_is_the_first_source_that_applies(ovtester: pytest.Pytester) -> None:
    ovtester.makeini("[pytest]\npythonpath = .\n")
    write(ovtester)
    # recording: no reference, no A/B (recording never plans one): the speed probe
    recorded = measured(ovtester, "--ovperf-update-baselines")
    assert recorded["baseline_verdict"] == "updated"
    assert recorded["probe_ms"] is not None
    assert recorded["companion"] is not None  # beside a result that goes to the stored runs

    # --ovperf-compare=ab and the baseline's copy at hand: the copy, not the probe
    ab = measured(ovtester, "--ovperf-compare=ab")
    assert ab["baseline_method"] == "ab"
    assert ab["probe_ms"] is None and ab["companion"] is None

    # the same model under auto: no A/B, so the probe, and the stored runs judge
    history = measured(ovtester)
    assert history["baseline_method"] == "history"
    assert history["probe_ms"] is not None and history["companion"] is not None

    # the probe switched off: no partner at all (the companion still runs beside)
    alone = measured(ovtester, "--ovperf-speed-probe=off")
    assert alone["baseline_method"] == "history"
    assert alone["probe_ms"] is None and alone["companion"] is not None

    # a reference: it wins over the baseline's copy, even under --ovperf-compare=ab
    write(ovtester, reference=", reference_config={'INFERENCE_NUM_THREADS': 1}")
    referenced = measured(ovtester, "--ovperf-compare=ab")
    assert referenced["baseline_method"] == "reference"
    assert referenced["probe_ms"] is None and referenced["companion"] is None
