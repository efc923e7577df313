"""Benchmark: a scenario sweep over several theatres in one process and on Dask workers.

Usage::

    .venv/bin/python benchmarks/sweep.py                  # 4 theatres, ~5 min on 2 cores
    .venv/bin/python benchmarks/sweep.py --theatres 2 --draws 500

The theatres are copies of the minimal test model (``tests/fixtures/models/
minimal.yaml``: two binary conditions, a level, a count series, two named
scenarios), each with its own id (so its own compile, as real theatres have)
and the minimal evidence. The same sweep (``allegiance sweep``, as of
2019-12-31) runs three ways, each on a fresh copy of the folder (no stored fit
shared): serial in a fresh process (whole-process seconds, imports included),
then on a local Dask cluster of 1 and of 2 worker processes reached through
its scheduler's address, cluster start included. Every run's rows must equal
the serial run's.

A theatre is one task: its compile, its fit, then its scenarios, which
reweight that fit. The scaling model for ``--cluster`` workers and
``--big-theatres`` theatres: ``ceil(theatres / workers)`` rounds of one
theatre each, a round taking a theatre's mean seconds (compile and fit
included), against ``theatres x`` that on one worker. The machine has 2 cores;
other processes' CPU during each run is printed (0 = quiet machine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DAY = "2019-12-31"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import on_local_cluster, since_start, three_ways  # noqa: E402


def write_theatres(folder: Path, n: int) -> None:
    """``n`` copies of the minimal model, each with its id and the minimal evidence."""
    model = (FIXTURES / "models" / "minimal.yaml").read_text(encoding="utf-8")
    evidence = (FIXTURES / "evidence" / "minimal.yaml").read_text(encoding="utf-8")
    for k in range(n):
        name = f"theatre_{k}"
        (folder / f"{name}.yaml").write_text(model.replace("id: minimal", f"id: {name}", 1))
        shipped = evidence.replace("model: minimal", f"model: {name}")
        (folder / f"{name}.evidence.yaml").write_text(shipped, encoding="utf-8")


def swept(folder: Path, draws: int, scheduler: str | None) -> dict[str, Any]:
    """Run the sweep; return its seconds, each theatre's seconds, and its rows (to compare)."""
    import datetime as dt

    from allegiance.posterior import FitSettings
    from allegiance.workflow.fanout import Fanout
    from allegiance.workflow.sweep import sweep

    settings = FitSettings(draws=draws, tune=draws, chains=2, seed=3)
    start = time.perf_counter()
    result = sweep([folder], settings, as_of=dt.date.fromisoformat(DAY),
                   fanout=Fanout(scheduler=scheduler) if scheduler else None)  # fmt: skip
    return {
        "seconds": time.perf_counter() - start,
        "fit_s": [t.seconds[0] for t in result.theatres],
        "scenarios_s": [t.seconds[1] for t in result.theatres],
        "scenarios": sum(len(t.scenarios) for t in result.theatres),
        "rows": [repr(r) for r in result.rows()],
    }


def worker(folder: Path, draws: int) -> None:
    """The serial run, in a fresh process: print its result as JSON."""
    born = time.perf_counter() - since_start()
    out = swept(folder, draws, None)
    out.update(process_s=time.perf_counter() - born)
    print(json.dumps(out))


def on_dask(folder: Path, workers: int, draws: int) -> dict[str, Any]:
    """The run on a local cluster of ``workers`` processes, reached by its address."""
    return on_local_cluster(workers, lambda _client, address: swept(folder, draws, address))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--theatres", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--cluster", type=int, default=64)
    ap.add_argument("--big-theatres", type=int, default=20)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.draws)
    runs = three_ways(
        __file__,
        lambda folder: write_theatres(folder, args.theatres),
        lambda folder, workers: on_dask(folder, workers, args.draws),
        args.draws,
    )
    report(runs, args)


def report(runs: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Print the table and the scaling model."""
    serial = runs["serial"]
    print(f"{args.theatres} theatres (the minimal model, {serial['scenarios']} scenarios in all),"
          f" 2 chains x {args.draws} draws; {os.cpu_count()} cores")  # fmt: skip
    head = ("run", "whole s", "sweep s", "speed-up", "theatre's forecast s (compile, fit)",
            "its scenarios s", "other CPU s", "same numbers")  # fmt: skip
    print(" | ".join(head))
    for name, r in runs.items():
        print(" | ".join([
            name, f"{r['process_s']:.1f}", f"{r['seconds']:.1f}",
            f"{serial['seconds'] / r['seconds']:.2f}x", f"{statistics.mean(r['fit_s']):.1f}",
            f"{statistics.mean(r['scenarios_s']):.2f}", f"{r['other_cpu_s']:.0f}",
            str(r["rows"] == serial["rows"]),
        ]))  # fmt: skip
    n, t = args.cluster, args.big_theatres
    per = statistics.mean(serial["fit_s"]) + statistics.mean(serial["scenarios_s"])
    rounds = math.ceil(t / n)
    print(f"\nScaling model, {n} workers, {t} theatres: a theatre is one task of {per:.1f} s "
          f"(its compile, its fit, its scenarios); {rounds} round(s) of at most {n} theatres: "
          f"about {rounds * per:.0f} s, against {t * per:.0f} s on one worker "
          "(a cluster's start and the workers' imports not counted)")  # fmt: skip


if __name__ == "__main__":
    main()
