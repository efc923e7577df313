"""A backtest's files: ``backtest.csv`` (a row per scored forecast), ``backtest.json``, figures."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from allegiance.forecast.scores import scores
from allegiance.report.figures import backtest_figures
from allegiance.spreadsheet import spreadsheet_text
from allegiance.workflow.backtest import Backtest


def write_backtest(result: Backtest, out: Path) -> list[Path]:
    """Write ``backtest.csv``, ``backtest.json`` and its figures into ``out``; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    s = result.scores
    rows = []
    for pair in s.pairs:
        row: dict[str, object] = {
            "question": pair.question,
            "origin": pair.origin,
            "date": pair.date.isoformat(),
            "outcome": int(pair.outcome),
        }
        for who in s.forecasters:
            p = pair.forecasts[who]
            each = scores([p], [pair.outcome])
            row[f"{who}: p"] = p
            row[f"{who}: brier"] = float(each["brier"][0])
            row[f"{who}: log"] = float(each["log"][0])
        rows.append(row)
    table = out / "backtest.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(
            {k: spreadsheet_text(v) if isinstance(v, str) else v for k, v in r.items()}
            for r in rows
        )
    summary = {
        "scales": {"brier": "0-1", "brier2": "0-2 (tournament)", "log": "ln p of the outcome"},
        "means": {
            origin or "all": {
                who: {by: s.mean(who, by, origin) for by in ("pair", "question", "date")}
                for who in s.forecasters
            }
            for origin in s.origins()
        },
        "calibration": {
            origin or "all": {
                who: [asdict(b) for b in s.calibration(who, origin=origin)] for who in s.forecasters
            }
            for origin in s.origins()
        },
        "fits": sum(step.method == "mcmc" for step in result.steps),
        "fit_settings": asdict(result.settings),
        "dates": [step.date.isoformat() for step in result.steps],
        "pairs": rows,
    }
    doc = out / "backtest.json"
    doc.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return [table, doc, *backtest_figures(result, out)]
