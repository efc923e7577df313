"""What the machine is doing besides a benchmark: shared by the benchmark scripts."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def busy_cpu_s() -> float:
    """CPU seconds spent busy by the whole machine since boot (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def since_start() -> float:
    """Seconds since this process started (imports before main included)."""
    with open(f"/proc/{os.getpid()}/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return up - ticks / os.sysconf("SC_CLK_TCK")


def on_local_cluster(workers: int, run: Callable[[Any, str], dict[str, Any]]) -> dict[str, Any]:
    """Run ``run(client, scheduler_address)`` on a fresh local Dask cluster of ``workers``.

    Adds the cluster's start (``cluster_s``) and the whole run's seconds
    (``process_s``, start included) to what ``run`` returns.
    """
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        up = time.perf_counter() - start
        out = run(client, cluster.scheduler_address)
    out.update(cluster_s=up, process_s=time.perf_counter() - start)
    return out


WAYS = (("serial", 0), ("dask, 1 worker", 1), ("dask, 2 workers", 2))


def three_ways(
    script: str,
    write: Callable[[Path], None],
    dask: Callable[[Path, int], dict[str, Any]],
    draws: int,
) -> dict[str, dict[str, Any]]:
    """Run a benchmark serially in a fresh process, then on local clusters of 1 and 2 workers.

    Each run gets a fresh folder made by ``write`` (no stored fit shared). The
    serial run is ``script --worker FOLDER --draws N``, which prints its result
    as JSON on its last line. Each result gains the other processes' CPU
    seconds during it (``other_cpu_s``) and its wall seconds (``wall_s``).
    """
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, workers in WAYS:
            folder = Path(tmp) / name.replace(" ", "_").replace(",", "")
            folder.mkdir()
            write(folder)
            busy, wall = busy_cpu_s(), time.perf_counter()
            if workers == 0:
                cmd = [sys.executable, script, "--worker", str(folder), "--draws", str(draws)]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
            else:
                runs[name] = dask(folder, workers)
            own = runs[name]["process_s"] * max(workers, 1)  # at most this much CPU is ours
            runs[name]["other_cpu_s"] = max(busy_cpu_s() - busy - own, 0.0)
            runs[name]["wall_s"] = time.perf_counter() - wall
            shutil.rmtree(folder)
    return runs
