"""A scenario sweep's file: ``sweep.csv``, a row per theatre, scenario and question."""

from __future__ import annotations

import csv
from pathlib import Path

from allegiance.spreadsheet import spreadsheet_text
from allegiance.workflow.sweep import Sweep

COLUMNS = ("theatre", "as_of", "scenario", "mode", "setting", "question", "as_it_stands",
           "under_scenario", "change_pp", "lower", "upper", "resolved", "checks")  # fmt: skip


def write_sweep(result: Sweep, path: Path) -> Path:
    """Write the sweep's rows to ``path`` (CSV); return it.

    Probabilities are written with full precision and left empty where a
    question has none (past its horizon, or resolved); ``checks`` says whether
    the fit behind the row passed its sampling checks.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for r in result.rows():
            cells = (r.theatre, r.as_of, r.scenario, r.mode, r.setting, r.question, r.stands,
                     r.under, r.change, r.lower, r.upper, r.resolved,
                     "passed" if r.trustworthy else "FAILED")  # fmt: skip
            writer.writerow(
                "" if c is None else spreadsheet_text(c) if isinstance(c, str) else c for c in cells
            )
    return path
