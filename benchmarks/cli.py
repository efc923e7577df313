"""Whole-process times of the command line, as a user runs it; medians over repeated runs.

Each case runs in fresh processes on a copy of the reference model in a temporary folder:

- ``forecast`` from a stored fit of exactly the evidence in force;
- ``evidence add`` then ``forecast`` (a reweighted forecast), both processes together;
- ``check``;
- a first ``forecast`` on a fresh copy (compile + fit; the PyTensor/numba caches of the
  machine stay warm, as on a user's second model).

With ``--against REV`` the same cases run on another revision of the package (checked out
into a temporary worktree and put first on ``PYTHONPATH``), side by side.

    .venv/bin/python benchmarks/cli.py [--runs 5] [--against fbd56a9]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "afghanistan_2020.yaml"
TARGETS = {"stored": 1.5, "add+reweighted": 2.5, "check": 1.0}


def _run(src: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = "import sys; from allegiance.cli import app; sys.argv[0] = 'allegiance'; app()"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise RuntimeError(done.stderr.decode()[-2000:])
    return seconds


def _copy(folder: Path, models: Path) -> Path:
    """Copy the reference model and its shipped evidence as the measured revision has them."""
    for name in ("afghanistan_2020.yaml", "afghanistan_2020.evidence.yaml"):
        shutil.copy(models / name, folder / name)
    return folder / MODEL.name


def measure(src: Path, runs: int) -> dict[str, float]:
    """Median seconds per case for the package at ``src`` (on that revision's model files)."""
    out: dict[str, list[float]] = {k: [] for k in ("first", "stored", "add+reweighted", "check")}
    with tempfile.TemporaryDirectory() as tmp:
        model = _copy(Path(tmp), src.parent / "models")
        out["first"].append(_run(src, ["forecast", str(model)]))
        for _ in range(runs):
            out["stored"].append(_run(src, ["forecast", str(model)]))
            out["check"].append(_run(src, ["check", str(model)]))
        for i in range(runs):
            add = [
                "evidence", "add", str(model), "--id", f"bench_{i}", "--kind", "report",
                "--date", "2020-03-10", "--source", "benchmark", "--grade", "C3",
                "-f", "target=isk_capacity", "-f", "favours=true", "-f", "strength=weakly",
            ]  # fmt: skip
            out["add+reweighted"].append(_run(src, add) + _run(src, ["forecast", str(model)]))
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--against", help="another revision to measure side by side")
    args = ap.parse_args()
    results = {"this tree": measure(ROOT / "src", args.runs)}
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            worktree = Path(tmp) / "other"
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(worktree),
                 args.against], check=True,
            )  # fmt: skip
            try:
                results[args.against] = measure(worktree / "src", args.runs)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(worktree)], check=True)  # fmt: skip
    names = list(results)
    print(f"whole processes, median of {args.runs} runs (first forecast: one run)")
    print(f"{'case':<18}" + "".join(f"{n:>14}" for n in names) + f"{'target':>10}"
          + ("  ratio" if len(names) == 2 else ""))  # fmt: skip
    for case in results[names[0]]:
        row = f"{case:<18}" + "".join(f"{results[n][case]:>13.2f}s" for n in names)
        target = TARGETS.get(case)
        row += f"{'<= ' + str(target) + ' s' if target else '':>10}"
        if len(names) == 2:
            row += f"  {results[names[1]][case] / results[names[0]][case]:.1f}x"
        print(row)


if __name__ == "__main__":
    main()
