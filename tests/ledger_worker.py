"""Append items to a ledger from a process of its own (driven by tests/test_ledger.py).

    python ledger_worker.py URL MODEL PREFIX COUNT BARRIER [--round S]

Once imported, the worker creates ``BARRIER/ready.PREFIX.PID`` and waits for
the file ``BARRIER/go``, which holds a start time ``T`` (epoch seconds). It
opens the ledger at ``T``, then from ``T + 0.5`` appends COUNT single-item
batches with ids ``PREFIX_0`` .. ``PREFIX_{COUNT-1}``; with ``--round S`` item
``n`` is appended at ``T + 0.5 + n * S``, so that workers given the same prefix
race for every id. Prints one JSON line: ``results``, a list with ``"ok"`` or
the EvidenceError (``key`` and message) of each append, or ``refused`` and the
LedgerError's message when the ledger refused it (its write lock not had in
time), ``began`` and ``ended``, the epoch times of the first and the last
append, and ``longest``, the seconds the slowest append took. Any other error crashes the process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

from allegiance.errors import EvidenceError, LedgerError
from allegiance.evidence import Item
from allegiance.ledger import Ledger
from allegiance.spec import load_spec

OPEN_S = 0.5  # from opening the ledger to the first append: every worker has opened it


def wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("model")
    parser.add_argument("prefix")
    parser.add_argument("count", type=int)
    parser.add_argument("barrier", type=Path)
    parser.add_argument("--round", type=float, default=0.0)
    args = parser.parse_args()
    spec = load_spec(args.model)
    (args.barrier / f"ready.{args.prefix}.{os.getpid()}").touch()
    go = args.barrier / "go"
    deadline = time.time() + 60
    while not go.exists() or not go.read_text().strip():
        if time.time() > deadline:
            raise SystemExit("no go signal within 60 s")
        time.sleep(0.005)
    start_at = float(go.read_text())
    wait_until(start_at)
    ledger = Ledger(args.url, spec)  # every worker may find the database new
    results: list[object] = []
    began = ended = longest = 0.0
    try:
        for n in range(args.count):
            wait_until(start_at + OPEN_S + n * args.round)
            began = began or time.time()
            item = Item(
                f"{args.prefix}_{n}",
                "report",
                dt.date(2020, 2, 1),
                f"worker {args.prefix}",
                "C3",
                {"target": "lobby.splinter", "favours": True, "likelihood_ratio": 1.5},
            )
            called = time.time()
            try:
                ledger.append([item])
                results.append("ok")
            except EvidenceError as exc:
                results.append({"key": exc.key, "message": str(exc)})
            except LedgerError as exc:
                results.append({"refused": str(exc)})
            ended = time.time()
            longest = max(longest, ended - called)
    finally:
        ledger.close()
    print(json.dumps({"results": results, "began": began, "ended": ended, "longest": longest}))


if __name__ == "__main__":
    main()
