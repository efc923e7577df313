"""Whole-process time of ``allegiance report`` on the reference model, as a user runs it.

A copy of the reference model (with its shipped evidence) goes into a temporary
folder. The first report fits the model (compile + sample) and stores the fit;
the next ones start from the stored fit. Medians over the repeated runs.

    .venv/bin/python benchmarks/report.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "afghanistan_2020.yaml"
TARGET = 60.0  # seconds, from a stored fit


def _report(model: Path, out: Path) -> float:
    code = "import sys; from allegiance.cli import app; sys.argv[0] = 'allegiance'; app()"
    args = ["report", str(model), "--as-of", "2019-12-01", "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-2000:])
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in (MODEL.name, f"{MODEL.stem}.evidence.yaml"):
            shutil.copy(MODEL.with_name(name), folder / name)
        model = folder / MODEL.name
        first = _report(model, folder / "first")
        stored = [_report(model, folder / f"run{k}") for k in range(args.runs)]
        pages = (folder / "run0" / "report.pdf").exists()
    median = statistics.median(stored)
    print(f"allegiance report, reference model as of 2019-12-01, whole processes (PDF: {pages})")
    print(f"{'case':<32}{'seconds':>10}{'target':>12}")
    print(f"{'first report (compile + fit)':<32}{first:>10.1f}{'':>12}")
    print(f"{'from the stored fit, median':<32}{median:>10.1f}{'<= ' + str(TARGET) + ' s':>12}"
          + ("  PASS" if median <= TARGET else "  FAIL"))  # fmt: skip


if __name__ == "__main__":
    main()
