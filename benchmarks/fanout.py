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

Compile per worker: each worker compiles a probe theatre's model, all at once,
before the run (the serial process does the same). Fits: MCMC fits of the
replays plus each theatre's prior-only fit (time-only refits are not counted).
A fit's seconds: the median replay step fitted by MCMC, its first one left out
(it may include the compile). Fits per worker-minute: fits over the run's
worker-minutes less the compiles, i.e. the throughput a warm worker sustains.

The scaling model for ``--cluster`` workers and ``--big-theatres`` x ``--big-dates``:
``compile + fits / (workers x rate)`` spreads every fit over every worker. A
theatre's dates are replayed one after another (each reweights the fits before
it), so no more workers than theatres are ever busy, and a run takes at least
``compile + dates x (seconds per date)``: the model prints both, the larger
being the estimate. The machine has 2 cores; other processes' CPU during each
run is printed (0 = quiet machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "models" / "beta_binomial.yaml"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import busy_cpu_s  # noqa: E402


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
    steps = [s for b in result.backtests.values() for s in b.steps]
    fitted = [
        s.seconds for b in result.backtests.values() for s in b.steps[1:] if s.method == "mcmc"
    ]
    return {
        "seconds": seconds,
        "theatres": len(result.backtests),
        "dates": len(steps),
        "fits": sum(s.method == "mcmc" for s in steps) + len(result.backtests),
        "fit_s": statistics.median(fitted) if fitted else float("nan"),
        "date_s": sum(s.seconds for s in steps) / len(steps),
        "pairs": [repr(p) for p in result.pooled.pairs],
    }


def worker(folder: Path, draws: int) -> None:
    """The serial run, in a fresh process: print its result as JSON."""
    born = time.perf_counter() - _since_start()
    from allegiance.posterior import FitSettings

    compile_s = probe_compile(str(folder))
    out = validation(folder, FitSettings(draws=draws, tune=300, chains=2), None)
    out.update(compile_s=[compile_s], process_s=time.perf_counter() - born)
    print(json.dumps(out))


def _since_start() -> float:
    """Seconds since this process started (imports before main included)."""
    with open(f"/proc/{os.getpid()}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return up - ticks / os.sysconf("SC_CLK_TCK")


def on_dask(folder: Path, workers: int, draws: int) -> dict[str, Any]:
    """The run on a local cluster of ``workers`` processes, reached by its address."""
    from distributed import Client, LocalCluster

    from allegiance.posterior import FitSettings

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        up = time.perf_counter() - start
        compiles = list(client.run(probe_compile, str(folder)).values())
        settings = FitSettings(draws=draws, tune=300, chains=2)
        out = validation(folder, settings, cluster.scheduler_address)
    out.update(compile_s=compiles, cluster_s=up, process_s=time.perf_counter() - start)
    return out


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
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, workers in (("serial", 0), ("dask, 1 worker", 1), ("dask, 2 workers", 2)):
            folder = Path(tmp) / name.replace(" ", "_").replace(",", "")
            folder.mkdir()
            write_theatres(folder, args.theatres)
            busy, wall = busy_cpu_s(), time.perf_counter()
            if workers == 0:
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    str(folder),
                    "--draws",
                    str(args.draws),
                ]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
            else:
                runs[name] = on_dask(folder, workers, args.draws)
            own = runs[name]["process_s"] * max(workers, 1)  # at most this much CPU is ours
            runs[name]["other_cpu_s"] = max(busy_cpu_s() - busy - own, 0.0)
            runs[name]["wall_s"] = time.perf_counter() - wall
            shutil.rmtree(folder)
    report(runs, args)


def report(runs: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Print the table and the scaling model."""
    serial = runs["serial"]
    print(f"{args.theatres} theatres x 25 monthly dates, one-hazard model, 2 chains x "
          f"{args.draws} draws; {os.cpu_count()} cores")  # fmt: skip
    head = ("run", "whole s", "fan-out s", "speed-up", "compile s/worker", "fit s", "fits",
            "fits/worker-min", "other CPU s", "same numbers")  # fmt: skip
    print(" | ".join(head))
    for name, r in runs.items():
        workers = max(1, int(name.split(",")[1].split()[0]) if "," in name else 1)
        compile_s = statistics.mean(r["compile_s"])
        minutes = max(workers * (r["seconds"] - compile_s * args.theatres / workers), 1e-9) / 60
        r["rate"] = r["fits"] / minutes
        print(" | ".join([
            name, f"{r['process_s']:.1f}", f"{r['seconds']:.1f}",
            f"{serial['seconds'] / r['seconds']:.2f}x",
            "/".join(f"{c:.1f}" for c in r["compile_s"]), f"{r['fit_s']:.2f}", str(r["fits"]),
            f"{r['rate']:.0f}", f"{r['other_cpu_s']:.0f}", str(r["pairs"] == serial["pairs"]),
        ]))  # fmt: skip
    n, t, d = args.cluster, args.big_theatres, args.big_dates
    compile_s = statistics.mean(runs["dask, 2 workers"]["compile_s"])
    fits_per_date = serial["fits"] / serial["dates"]
    fits = fits_per_date * t * d
    rate = serial["rate"]  # one warm worker's throughput
    spread = compile_s + fits / (n * rate) * 60
    chain = compile_s + d * serial["date_s"]
    print(f"\nScaling model, {n} workers, {t} theatres x {d} dates: {fits:.0f} fits "
          f"({fits_per_date:.2f} per date), {rate:.0f} fits per worker-minute, compile "
          f"{compile_s:.1f} s per worker")  # fmt: skip
    print(f"  every fit spread over {n} workers: {compile_s:.1f} + {fits:.0f} / ({n} x "
          f"{rate:.0f}) min = {spread:.0f} s")  # fmt: skip
    print(f"  a theatre's dates in turn (at most {min(n, t)} workers busy): {compile_s:.1f} + "
          f"{d} x {serial['date_s']:.2f} s = {chain:.0f} s")  # fmt: skip
    print(f"  estimate: {max(spread, chain):.0f} s "
          f"(serial on one worker: {t * compile_s + t * d * serial['date_s']:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
