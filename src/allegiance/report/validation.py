"""A leave-one-theatre-out validation's files: tables, reliability diagrams, backtests."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

from allegiance.report.backtest import write_backtest
from allegiance.report.figures import reliability_figure
from allegiance.workflow.validation import Validation


def write_validation(result: Validation, out: Path) -> list[Path]:
    """Write a validation's tables, pooled reliability diagrams and each theatre's backtest.

    ``validation.csv`` and ``validation.json`` hold the mean scores per theatre
    and pooled, by question origin and forecaster; each theatre's backtest
    files go in a folder of its own. Return the files.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = [dataclasses.asdict(r) for r in result.rows()]
    table = out / "validation.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    doc = out / "validation.json"
    climates = {n: {"by_horizon": c.by_horizon, "overall": c.overall}
                for n, c in result.climatologies.items()}  # fmt: skip
    refits = {n: {"a": r.a, "b": r.b} for n, r in result.recalibrations.items()}
    summary = {"rows": rows, "climatology": climates, "recalibration": refits}
    doc.write_text(json.dumps(summary, indent=2), "utf-8")
    paths = [table, doc]
    paths += [reliability_figure(result.pooled, o, out) for o in result.pooled.origins()]
    for name, backtest in result.backtests.items():
        paths += write_backtest(backtest, out / name)
    return paths
