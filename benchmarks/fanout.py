"""Benchmark: a leave-one-theatre-out validation in this process and on Dask workers.

Usage::

    .venv/bin/python benchmarks/fanout.py                 # 4 theatres, ~5 min on 2 cores
    .venv/bin/python benchmarks/fanout.py --theatres 2 --draws 200

The theatres are copies of the one-hazard test model (``tests/fixtures/models/
beta_binomial.yaml``), each with its own id (so its own compile, as real
theatres have), a question grid of 3 and 6 months and a record (a departure in
some, none in others); each is backtested monthly over its 25 months. The same
validation runs three ways, each on a fresh copy of the folder (no stored fit
shared): serial, in a fresh process (``--worker``; whole-process seconds, imports
included), then on a local Dask cluster of 1 and of 2 worker processes reached
through its scheduler's address (``--scheduler``'s path), cluster start
included. Every run's pairs must be identical to the serial run's.

Compile per worker: each worker compiles a probe model, all at once, before
the run (the serial process does the same): a fresh process's first compile.
A theatre's first date: its model's compile (cheaper after the first, the
graphs alike) and its first fit. Later dates are "warm": a fit's seconds is
their median MCMC step, a date's seconds their mean (fits and reweighted dates
alike), and fits per worker-minute is their MCMC fits over their minutes: the
throughput of a worker that has compiled (the baselines' fits are left out).

The scaling model for ``--cluster`` workers and ``--big-theatres`` x ``--big-dates``:
``compile + theatres x first date / busy workers + fits / (workers x rate)``
spreads every fit over every worker. A theatre's dates are replayed one after
another (each reweights the fits before it), so no more workers than theatres
are ever busy, and a run takes at least ``compile + first date + (dates - 1) x
seconds per date``: the model prints both, the larger being the estimate.
The machine has 2 cores; other processes' CPU during each run is printed
(0 = quiet machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "models" / "beta_binomial.yaml"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import on_local_cluster, since_start, three_ways  # noqa: E402


def write_theatres(folder: Path, n: int) -> None:
    """``n`` theatres with a grid and a record, and a probe model (no grid) to compile."""
    base = FIXTURE.read_text().replace(
        "    within_months: 1\n",
        "    within_months: 1\n    public: true\n    reference_class: splinter_ucdp_all\n",
    )
    for k in range(n + 1):
        name = f"theatre_{k}" if k < n else "probe"
        text = base.replace("id: beta_binomial", f"id: {name}")
        if k < n:
            text += "question_grid:\n  horizons: [3, 6]\n"
        (folder / f"{name}.yaml").write_text(text)
        items = "items: []\n"
        if k < n and k % 2 == 0:  # half of them see a departure, at different months
            month = f"2020-{2 + 3 * (k // 2) % 10:02d}"
            items = (
                f"items:\n  - {{id: gone, kind: event, date: {month}-10, source: s, grade: A1,"
                f" hazard: leave, actor: faction, month: {month},"
                f" recorded_at: '{month}-10T12:00:00Z'}}\n"
            )
        if k < n:
            (folder / f"{name}.evidence.yaml").write_text(
                f"schema_version: 1\nmodel: {name}\n{items}"
            )


def probe_compile(folder: str) -> float:
    """Seconds to compile the probe model in this process (a worker's first compile)."""
    from allegiance.posterior import prepare
    from allegiance.spec import load_spec

    start = time.perf_counter()
    prepare(load_spec(Path(folder) / "probe.yaml"))
    return time.perf_counter() - start


def validation(folder: Path, settings: Any, scheduler: str | None) -> dict[str, Any]:
    """Run the validation; return its seconds, fits, steps and pairs (to compare)."""
    from allegiance.workflow.fanout import Fanout
    from allegiance.workflow.validation import validate

    start = time.perf_counter()
    result = validate(folder, settings, fanout=Fanout(scheduler=scheduler) if scheduler else None)
    seconds = time.perf_counter() - start
    firsts = [b.steps[0].seconds for b in result.backtests.values()]
    warm = [s for b in result.backtests.values() for s in b.steps[1:]]
    fitted = [s.seconds for s in warm if s.method == "mcmc"]
    return {
        "seconds": seconds,
        "theatres": len(result.backtests),
        "dates": len(warm) + len(firsts),
        "first_s": statistics.mean(firsts),  # the theatre's compile and its first fit
        "fit_s": statistics.median(fitted) if fitted else float("nan"),
        "date_s": sum(s.seconds for s in warm) / len(warm),
        "fits_per_date": len(fitted) / len(warm),
        "rate": 60 * len(fitted) / sum(s.seconds for s in warm),
        "pairs": [repr(p) for p in result.pooled.pairs],
    }


def worker(folder: Path, draws: int) -> None:
    """The serial run, in a fresh process: print its result as JSON."""
    born = time.perf_counter() - since_start()
    from allegiance.posterior import FitSettings

    compile_s = probe_compile(str(folder))
    out = validation(folder, FitSettings(draws=draws, tune=300, chains=2), None)
    out.update(compile_s=[compile_s], process_s=time.perf_counter() - born)
    print(json.dumps(out))


def on_dask(folder: Path, workers: int, draws: int) -> dict[str, Any]:
    """The run on a local cluster of ``workers`` processes, reached by its address."""
    from allegiance.posterior import FitSettings

    def run(client: Any, address: str) -> dict[str, Any]:
        compiles = list(client.run(probe_compile, str(folder)).values())
        out = validation(folder, FitSettings(draws=draws, tune=300, chains=2), address)
        return {**out, "compile_s": compiles}

    return on_local_cluster(workers, run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--theatres", type=int, default=4)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--cluster", type=int, default=64)
    ap.add_argument("--big-theatres", type=int, default=20)
    ap.add_argument("--big-dates", type=int, default=100)
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
    print(f"{args.theatres} theatres x 25 monthly dates, one-hazard model, 2 chains x "
          f"{args.draws} draws; {os.cpu_count()} cores")  # fmt: skip
    head = ("run", "whole s", "fan-out s", "speed-up", "compile s/worker", "theatre's first date s",
            "fit s", "date s", "fits/worker-min", "other CPU s", "same numbers")  # fmt: skip
    print(" | ".join(head))
    for name, r in runs.items():
        print(" | ".join([
            name, f"{r['process_s']:.1f}", f"{r['seconds']:.1f}",
            f"{serial['seconds'] / r['seconds']:.2f}x",
            "/".join(f"{c:.1f}" for c in r["compile_s"]), f"{r['first_s']:.1f}",
            f"{r['fit_s']:.2f}", f"{r['date_s']:.2f}", f"{r['rate']:.0f}",
            f"{r['other_cpu_s']:.0f}", str(r["pairs"] == serial["pairs"]),
        ]))  # fmt: skip
    n, t, d = args.cluster, args.big_theatres, args.big_dates
    # A fresh process's first compile with a core to itself, as each worker of a big cluster has
    compile_s = serial["compile_s"][0]
    first, rate, date_s = serial["first_s"], serial["rate"], serial["date_s"]
    fits = serial["fits_per_date"] * t * d
    busy = min(n, t)
    spread = compile_s + t * first / busy + fits / (n * rate) * 60
    chain = compile_s + first + (d - 1) * date_s
    print(f"\nScaling model, {n} workers, {t} theatres x {d} dates: {fits:.0f} replay fits "
          f"({serial['fits_per_date']:.2f} per date), {rate:.0f} fits per warm worker-minute "
          f"(reweighted dates' time included), a fresh worker's compile {compile_s:.1f} s, "
          f"each theatre's first date {first:.1f} s (its compile)")  # fmt: skip
    print(f"  every fit spread over {n} workers: {compile_s:.1f} + {t} x {first:.1f} / {busy} + "
          f"{fits:.0f} / ({n} x {rate:.0f}) min = {spread:.0f} s")  # fmt: skip
    print(f"  a theatre's dates in turn (at most {busy} workers busy): {compile_s:.1f} + "
          f"{first:.1f} + {d - 1} x {date_s:.2f} s = {chain:.0f} s")  # fmt: skip
    serial_s = compile_s + t * (first + (d - 1) * date_s)
    print(f"  estimate: {max(spread, chain):.0f} s; one worker: {serial_s:.0f} s "
          "(baselines' fits not counted)")  # fmt: skip


if __name__ == "__main__":
    main()
