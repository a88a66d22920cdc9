"""The working directory of a bench script: a fresh folder with the example models and an
empty pytest.ini, and the environment its pytest runs get."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_workdir(name: str, keep_previous: bool = False) -> tuple[Path, dict[str, str]]:
    """``bench/_work/<name>`` emptied and set up, and an environment whose pytest runs
    import the example models and the plugin of this tree, whichever one is installed (a
    bench may run from a snapshot while the working tree changes).

    ``keep_previous``: a folder already there is renamed ``<name>-<its UTC time>`` instead of
    deleted, for benches whose collected data is the evidence of a published figure (a
    smoke run must not wipe an hour-long series)."""
    work = ROOT / "bench" / "_work" / name
    if work.exists() and keep_previous:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(work.stat().st_mtime))
        kept = work.with_name(f"{name}-{stamp}")
        work.rename(kept)
        print(f"[bench] the previous {work} is kept as {kept}", file=sys.stderr)
    elif work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "models.py", work / "models.py")
    (work / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work), str(ROOT)])}
    return work, env
