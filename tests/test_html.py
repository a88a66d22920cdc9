"""The HTML report: written by the plugin and by ``ovperf html``, self-contained, and rendered
by a real headless browser (Debian's chromium, which .ci/run installs) without console
messages."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FAST, example_result
from recorded import STORED, history_result

from pytest_ovperf.cli import main
from pytest_ovperf.html import html_report
from pytest_ovperf.records import result_record

SUITE = """
import pytest
from models import mlp, mobilenet_like

@pytest.mark.ovperf_model(source=lambda: mlp(hidden=64))
@pytest.mark.ovperf_budget("CPU", latency_ms=1e6)
def test_latency(perf_budget):
    perf_budget.measure_latency()

@pytest.mark.ovperf_model(source=lambda: mobilenet_like(size=32))
@pytest.mark.ovperf_budget("CPU", throughput_fps=0.001)
def test_throughput(perf_budget):
    perf_budget.measure_throughput()
"""

#: the flags this machine's Chromium needs headless (no network behind it, run as root)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return found


def render(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console messages it logged."""
    completed = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    return completed.stdout, console


#: appended to a page by the browser tests: counts the pairs of labels of one plot whose boxes
#: overlap, once the page drew its plots
OVERLAP_CHECK = """<script>
(function () {
  const overlaps = [];
  document.querySelectorAll("svg").forEach(function (svg) {
    const boxes = Array.from(svg.querySelectorAll("text")).map(t => [t.textContent, t.getBBox()]);
    boxes.forEach(function ([a, p], i) {
      boxes.slice(i + 1).forEach(function ([b, q]) {
        if (p.x < q.x + q.width - 0.5 && q.x < p.x + p.width - 0.5 &&
            p.y < q.y + q.height - 0.5 && q.y < p.y + p.height - 0.5) {
          overlaps.push(svg.id + ": " + a + " / " + b);
        }
      });
    });
  });
  document.body.setAttribute("data-overlaps", overlaps.join("; ") || "none");
})();
</script></body>"""


@pytest.fixture
def report(ovtester: pytest.Pytester) -> tuple[Path, Path]:
    """An HTML and a JSON report of a latency and a throughput test."""
    ovtester.makepyfile(test_html_suite=SUITE)
    page, data = ovtester.path / "out" / "report.html", ovtester.path / "report.json"
    result = ovtester.runpytest_inprocess(*FAST, f"--ovperf-html={page}", f"--ovperf-json={data}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"ovperf HTML report: {page}"])
    return page, data


def test_the_report_is_one_file_that_needs_no_network(report: tuple[Path, Path]) -> None:
    page, _ = report
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert '<table class="summary">' in text
    assert text.count('class="ovperf-plot"') == 2
    # no stylesheet, script or image from elsewhere (the SVG namespace is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)
    assert "<link" not in text


def test_a_real_browser_draws_every_plot_without_console_messages(
    report: tuple[Path, Path], tmp_path: Path
) -> None:
    page, _ = report
    checked = tmp_path / "checked.html"
    checked.write_text(page.read_text().replace("</body>", OVERLAP_CHECK))
    dom, console = render(checked, tmp_path / "profile")
    assert console == []
    assert 'data-rendered="yes"' in dom
    assert 'data-overlaps="none"' in dom  # no label covers another
    assert dom.count('class="ovperf-ecdf"') == 1  # the latency test's distribution
    assert dom.count('class="ovperf-bar"') == 1  # the throughput test's fps
    assert dom.count('class="ovperf-budget"') == 2  # both budget lines


def test_the_browser_check_sees_a_broken_page(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><body><script>throw new Error('boom')</script></body>")
    _, console = render(broken, tmp_path / "profile")
    assert any("Uncaught Error: boom" in line for line in console)


def test_ovperf_html_writes_the_same_page_from_a_json_report(
    report: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page, data = report
    again = tmp_path / "again.html"
    assert main(["html", str(data), "-o", str(again)]) == 0
    assert f"wrote {again} (2 result(s))" in capsys.readouterr().out
    assert again.read_text() == page.read_text()


def test_ovperf_html_names_a_foreign_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"tests": []}))
    assert main(["html", str(foreign), "-o", str(tmp_path / "x.html")]) == 2
    assert f"ovperf: {foreign}: not a pytest-ovperf JSON report" in capsys.readouterr().err


def test_the_trend_draws_every_recorded_run_and_marks_this_one(tmp_path: Path) -> None:
    compared = result_record(history_result())
    unrecorded = result_record(example_result([1.0, 1.1, 1.2]))
    unrecorded["baseline_verdict"] = "no-baseline"  # the gate looked, found no runs
    page = tmp_path / "trend.html"
    text = html_report([compared, unrecorded], {"cpu": "Example CPU", "openvino": "x"})
    assert text.count('class="ovperf-trend"') == 1
    assert text.count('<p class="ovperf-no-trend">no recorded runs</p>') == 1
    page.write_text(text.replace("</body>", OVERLAP_CHECK))
    dom, console = render(page, tmp_path / "profile")
    assert console == []
    assert 'data-rendered="yes"' in dom
    assert 'data-overlaps="none"' in dom
    runs = re.findall(r'<circle [^>]*class="ovperf-trend-run"[^>]*>', dom)
    assert len(runs) == len(STORED)
    # the runs the baseline figure came from are filled, the others hollow
    assert [('fill="#fff"' not in run) for run in runs] == [False] * 3 + [True] * 2
    assert dom.count('class="ovperf-trend-current"') == 1  # this run, apart from the stored
    assert dom.count('class="ovperf-trend-ci"') == len(STORED) + 1  # each with its interval
    assert dom.count('class="ovperf-trend-software"') == 1  # sw-a -> sw-b
    assert dom.count('class="ovperf-trend-baseline"') == 1
    assert "2026-11-01T10:00:00+00:00: 1.000 ms" in dom  # a run's tooltip
    assert "this run: 1.200 ms" in dom
