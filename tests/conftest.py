from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLE_MODELS = Path(__file__).resolve().parent.parent / "examples" / "models.py"

#: keeps measurements short: tests check behaviour, never speed
FAST = (
    "--ovperf-warmup=0.02",
    "--ovperf-min-time=0.1",
    "--ovperf-max-time=0.3",
    "-p",
    "no:cacheprovider",
)


@pytest.fixture(autouse=True)
def _local_terminal_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make inner pytest runs print as they do locally.

    pytest stops truncating the short test summary when ``CI`` or ``BUILD_NUMBER`` is set,
    so output assertions would otherwise see each failure message twice on CI only.
    """
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)


@pytest.fixture
def ovtester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding the example model builders as ``models.py``."""
    pytester.makepyfile(models=EXAMPLE_MODELS.read_text())
    pytester.syspathinsert()
    return pytester
