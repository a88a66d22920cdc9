"""Where stored data lives: the baseline file of a test file, and its lock file."""

from __future__ import annotations

from pathlib import Path


def baseline_path(baseline_dir: Path, rootdir: Path, test_file: Path) -> Path:
    """The baselines of ``test_file`` mirror its path under the baseline directory
    (``tests/perf/test_det.py`` -> ``baselines/tests/perf/test_det.json``)."""
    try:
        relative = test_file.resolve().relative_to(rootdir.resolve())
    except ValueError:
        relative = Path(test_file.name)
    return baseline_dir / relative.with_suffix(".json")


def lock_path(path: Path) -> Path:
    """The lock file of a stored file: ``.<name>.lock`` beside it (it stays on disk)."""
    return path.with_name(f".{path.name}.lock")
