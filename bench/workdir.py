"""The working directory of a bench script: a fresh folder with the example models and an
empty pytest.ini, and the environment its pytest runs get."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_workdir(name: str) -> tuple[Path, dict[str, str]]:
    """``bench/_work/<name>`` emptied and set up, and an environment whose pytest runs
    import the example models and the plugin of this tree, whichever one is installed (a
    bench may run from a snapshot while the working tree changes)."""
    work = ROOT / "bench" / "_work" / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "models.py", work / "models.py")
    (work / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work), str(ROOT)])}
    return work, env
