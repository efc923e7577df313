"""Whole-process time of ``allegiance report`` on the reference model, as a user runs it.

A copy of the reference model (with its shipped evidence) goes into a temporary
folder. The first report fits the model (compile + sample) and stores the fit;
the next ones start from the stored fit, each run of this source beside a run
of a baseline's (``git archive`` of its ``src`` into a temporary folder, with
its own copy of the model, so its own ledger and stored fit of the same
evidence, the two taking turns), so both meet the same machine load.
Medians over the repeated runs, their ratio, and the time of each step of
this source's report (from its progress lines, medians too).

    .venv/bin/python benchmarks/report.py [--runs 3] [--baseline REF]

The default baseline is the commit before a report computed the model's terms
once and drew its figures in parallel.
"""

from __future__ import annotations

import argparse
import os
import re
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
BASELINE = "63682f5"
STEP = re.compile(r"^\[\s*([0-9.]+) s\] (.*)$")


def _report(model: Path, out: Path, src: Path) -> tuple[float, list[tuple[float, str]]]:
    """Return a report's whole-process seconds, and when each step it showed started."""
    code = "import sys; from allegiance.cli import app; sys.argv[0] = 'allegiance'; app()"
    args = ["report", str(model), "--as-of", "2019-12-01", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-2000:])
    lines = done.stderr.decode().splitlines()
    steps = [(float(m[1]), m[2]) for m in map(STEP.match, lines) if m]
    return seconds, steps


def _phases(runs: list[tuple[float, list[tuple[float, str]]]]) -> list[tuple[float, str]]:
    """Each step's median seconds (to the next step's start); the last, with start-up and exit.

    The progress lines time the steps from the command's start, after the
    imports: the last step's line has no end but the process's.
    """
    spans: dict[str, list[float]] = {}
    for seconds, steps in runs:
        ends = [t for t, _ in steps[1:]] + [seconds + steps[0][0]]  # the rest, to the last
        for (t, name), end in zip(steps, ends, strict=True):
            spans.setdefault(name, []).append(end - t)
    *named, last = spans
    return [(statistics.median(spans[n]), n) for n in named] + [
        (statistics.median(spans[last]), f"{last}, with start-up and exit")
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", default=BASELINE, help="git ref of the code to compare with")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old = folder / "baseline"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "src"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        # Each revision its own copy of the model: its own ledger (of the schema it writes)
        # and its own stored fit, made by a first report.
        models = {"baseline": old / MODEL.name, "this source": folder / MODEL.name}
        for model in models.values():
            for name in (MODEL.name, f"{MODEL.stem}.evidence.yaml"):
                shutil.copy(MODEL.with_name(name), model.with_name(name))
        new = ROOT / "src"
        first, _ = _report(models["this source"], folder / "first", new)
        _report(models["baseline"], folder / "old_first", old / "src")
        runs: dict[str, list[tuple[float, list[tuple[float, str]]]]] = {
            "baseline": [],
            "this source": [],
        }
        for k in range(args.runs):
            runs["baseline"].append(_report(models["baseline"], folder / f"old{k}", old / "src"))
            runs["this source"].append(_report(models["this source"], folder / f"new{k}", new))
        pages = (folder / "new0" / "report.pdf").exists()
    median = {who: statistics.median(s for s, _ in r) for who, r in runs.items()}
    print(f"allegiance report, reference model as of 2019-12-01, whole processes (PDF: {pages})")
    print(f"{'case':<32}{'seconds':>10}{'target':>12}")
    print(f"{'first report (compile + fit)':<32}{first:>10.1f}{'':>12}")
    now = median["this source"]
    print(f"{'from the stored fit, median':<32}{now:>10.1f}{'<= ' + str(TARGET) + ' s':>12}"
          + ("  PASS" if now <= TARGET else "  FAIL"))  # fmt: skip
    print(f"\nfrom the stored fit, {args.runs} runs each, taking turns")
    print(f"{'code':<32}{'median s':>10}  runs")
    for who, r in runs.items():
        each = " ".join(f"{s:.1f}" for s, _ in r)
        print(f"{who + (' (' + args.baseline + ')' if who == 'baseline' else ''):<32}"
              f"{median[who]:>10.1f}  {each}")  # fmt: skip
    print(f"{'ratio (this source / baseline)':<32}{now / median['baseline']:>10.2f}")
    print("\nthis source's steps, median seconds")
    for seconds, name in _phases(runs["this source"]):
        print(f"{seconds:>8.1f}  {name}")


if __name__ == "__main__":
    main()
