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


def baseline_files(baseline_dir: Path, model_store: Path) -> list[Path]:
    """Every baseline file of the suite: the JSON files under ``baseline_dir``, less the
    model store's (which may live inside it)."""
    if not baseline_dir.is_dir():
        return []
    store = model_store.resolve()
    return sorted(
        path
        for path in baseline_dir.rglob("*.json")
        if store != path.resolve() and store not in path.resolve().parents
    )
