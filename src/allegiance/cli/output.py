"""How the command line shows forecasts and their history (tables, CSV, JSON) and its progress."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from math import nan
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.status import Status
from rich.table import Table

from allegiance.cli.shared import add_row, shown
from allegiance.forecast import Forecast
from allegiance.spreadsheet import spreadsheet_text

if TYPE_CHECKING:
    from allegiance.update import Attribution
    from allegiance.workflow.scoring import Scores


def forecast_table(result: Forecast) -> None:
    """Print a forecast as a table with its method, diagnostics and identity."""
    out = Console()
    flag = "" if result.trustworthy else " [bold red](DIAGNOSTICS FAILED)[/]"
    table = Table(title=f"Forecasts: {shown(result.model_id)}{flag}")
    for name, justify in (
        ("question", "left"),
        ("horizon", "left"),
        ("P", "right"),
        ("90% interval", "right"),
        ("in words", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for q in result.questions:
        if q.resolved:  # the outcome, not a probability
            add_row(table, q.id, q.horizon, q.resolved, f"on {q.resolved_on}", q.word)
        elif q.probability is None or q.lower is None or q.upper is None:
            add_row(table, q.id, q.horizon, "–", "–", q.word)
        else:
            add_row(
                table,
                q.id,
                q.horizon,
                f"{q.probability:.0%}",
                f"{q.lower:.0%} – {q.upper:.0%}",
                q.word,
            )
    out.print(table)
    out.print(f"method: {result.method} ({shown(result.method_reason)})", highlight=False)
    d = result.diagnostics
    verdict = "[green]passed[/]" if d.ok else "[bold red]FAILED: " + "; ".join(d.problems) + "[/]"
    out.print(
        f"diagnostics {verdict}: max R-hat {d.max_rhat:.3f}, min ESS "
        f"{min(d.min_ess_bulk, d.min_ess_tail):.0f}, divergences {d.divergences}"
    )
    p = result.provenance
    when = f", as of {p['as_of']}" + (" as recorded" if p.get("as_recorded") else "")
    out.print(
        f"model {p['model_sha256'][:12]}, evidence {p['evidence_sha256'][:12]} "
        f"({p['evidence_items']} items{when if p.get('as_of') else ''}), "
        f"seed {p['fit_settings'].get('seed')}"
        + (
            f", reweighted from the fit of evidence {p['fitted_evidence_sha256'][:12]}"
            if result.method == "reweighted"
            else ""
        ),
        highlight=False,
    )


def history_text(rows: list[dict[str, Any]], fmt: str) -> str:
    """Return recorded forecasts as JSON or CSV text."""
    plain = [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows
    ]
    if fmt == "json":
        return json.dumps(plain, indent=2, default=str) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(plain[0]) if plain else ["question_id"], lineterminator=os.linesep
    )
    writer.writeheader()
    writer.writerows(
        {k: spreadsheet_text(v) if isinstance(v, str) else v for k, v in r.items()} for r in plain
    )
    return out.getvalue()


def history_table(question: str, rows: list[dict[str, Any]]) -> None:
    """Print recorded forecasts of one question as a table."""
    table = Table(title=f"History: {shown(question)}")
    for name in ("created", "as of", "P", "90% interval", "method", "model", "evidence", "ok"):
        table.add_column(name)
    for row in rows:
        as_of = str(row["as_of"] or "-") + (" (as recorded)" if row["as_recorded"] else "")
        add_row(
            table,
            str(row["created_at"])[:19],
            as_of,
            f"{row['probability']:.0%}",
            f"{row['lower']:.0%} – {row['upper']:.0%}",
            str(row["fit_method"]),
            str(row["model_sha256"])[:12],
            str(row["evidence_sha256"])[:12],
            "yes" if row["trustworthy"] else "NO",
        )
    Console().print(table)


class Steps:
    """Show the steps of long work on stderr as they come, with the time taken so far.

    On a terminal, a line that each step replaces: a spinner, or with a
    ``total`` a progress bar; otherwise (a script, a log) one plain line per
    step, numbered ``(i/total)`` with a total. Use as a context manager; call
    it with each step's name as it starts, or with a total as each is done.
    """

    def __init__(self, total: int | None = None) -> None:
        self._console = Console(stderr=True, highlight=False)
        self._began = time.perf_counter()
        self._total = total
        self._done = 0
        self._live: Status | Progress | None = None

    def __enter__(self) -> Steps:
        if self._console.is_terminal and self._total is None:
            self._live = self._console.status("starting")
        elif self._console.is_terminal:
            self._live = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self._console,
                transient=True,
            )
            self._live.add_task("starting", total=self._total)
        if self._live is not None:
            self._live.start()
        return self

    def __call__(self, step: str, *, counts: bool = True) -> None:
        """Show ``step``; with a total and ``counts``, as one more of them done."""
        line = f"[{time.perf_counter() - self._began:6.1f} s] {step}"
        if self._total is not None and counts:
            self._done += 1
            line += f"  ({self._done}/{self._total})"
        if isinstance(self._live, Progress):
            task = self._live.task_ids[0]
            self._live.update(task, advance=int(counts), description=shown(line))
        elif self._live is not None:
            self._live.update(shown(line))
        else:
            self._console.print(shown(line), soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()


def score_table(table: Table, result: Scores) -> None:
    """Add rows of mean scores: every question, then the grid's and the hand-picked apart."""
    from allegiance.forecast.scores import SCALES

    columns = ("questions", "forecaster", "averaged over", SCALES["brier"], SCALES["brier2"])
    for name in (*columns, SCALES["log"]):
        table.add_column(name)
    for origin in result.origins():
        for who in result.forecasters:
            n = len(result.of(who, origin))
            for by in ("pair", "question", "date") if origin is None else ("pair",):
                m = result.mean(who, by, origin)
                add_row(
                    table,
                    (origin or "all") if (by, who) == ("pair", result.forecasters[0]) else "",
                    who if by == "pair" else "",
                    {"pair": f"{n} forecasts", "question": "questions", "date": "dates"}[by],
                    f"{m['brier']:.3f}",
                    f"{m['brier2']:.3f}",
                    f"{m['log']:.3f}",
                )


def attribution_table(question: str, rows: list[Attribution], now: float | None) -> Table:
    """Return the table of what moved a forecast, strongest first."""
    table = Table(title=f"What moved {shown(question)} (now {now if now is not None else nan:.1%})")
    for name in ("item", "kind", "without it", "change", "log-odds", "method", "note"):
        table.add_column(name)
    for r in rows:
        add_row(
            table,
            r.item_id,
            r.kind,
            f"{r.without_item:.1%}",
            f"{r.delta:+.1%}",
            f"{r.delta_log_odds:+.3f}",
            r.method,
            r.note[:60],
        )
    return table
