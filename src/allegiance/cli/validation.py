"""Command: ``allegiance validate``: leave-one-theatre-out validation of a folder of theatres."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.cli.shared import (
    FIT,
    ChainsOpt,
    DrawsOpt,
    SchedulerOpt,
    SeedOpt,
    TargetAcceptOpt,
    TuneOpt,
    WorkersOpt,
    add_row,
    app,
    check_out_folder,
    fit_settings,
    plain,
    user_errors,
)

if TYPE_CHECKING:
    from allegiance.update import ReplayStep
    from allegiance.workflow.validation import ScoreRow


@app.command()
def validate(
    folder: Annotated[Path, typer.Argument(help="Model files and their records.")] = Path("models"),
    out: Annotated[Path, typer.Option(help="Folder for the tables and figures.")] = Path(
        "validation"
    ),
    theatres: Annotated[
        list[str] | None, typer.Option(help="Hold out only these theatres: a,b.")
    ] = None,
    every: Annotated[str, typer.Option(help="month or week.")] = "month",
    seed: SeedOpt = FIT.seed,
    draws: DrawsOpt = FIT.draws,
    tune: TuneOpt = FIT.tune,
    chains: ChainsOpt = FIT.chains,
    target_accept: TargetAcceptOpt = FIT.target_accept,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Hold out each theatre in turn, learn from the others, backtest it, and pool the scores.

    Each date's line goes to stderr; the tables (mean Brier 0–1 and log score, per theatre
    and pooled, grid and hand-picked questions apart) to stdout. With --workers or
    --scheduler the theatres' replays and baselines run on Dask workers (the same numbers),
    and each theatre's lines come when its replay is done.
    """
    from allegiance.cli.shared import note
    from allegiance.workflow.fanout import Fanout
    from allegiance.workflow.validation import validate as run

    named = [t.strip() for given in theatres or () for t in given.split(",")]
    settings = fit_settings(seed, draws, tune, chains, target_accept)

    def done(name: str, s: ReplayStep) -> None:
        note([f"{name}  {s.date}  {s.method:<10}  {s.seconds:.1f} s"])

    with user_errors():
        fanout = Fanout(workers, scheduler)
        check_out_folder(out)  # the theatres named are checked before any fit, too
        result = run(folder, settings, only=named, every=every, on_step=done, fanout=fanout)
    console = Console(width=None if Console().is_terminal else 160)  # a file gets whole rows
    rows, who = result.rows(), result.pooled.forecasters
    for scale, title in (("brier", "Brier (0–1), lower is better"), ("log", "log score")):
        console.print(_table(rows, who, scale, title))
    from allegiance.report.validation import write_validation

    for path in write_validation(result, out):
        typer.echo(f"wrote {plain(path)}")


def _table(rows: list[ScoreRow], who: list[str], scale: str, title: str) -> Table:
    """One row per theatre and question origin, a column per forecaster."""
    table = Table(title=f"Leave-one-theatre-out: {title}, mean over forecasts")
    for name in ("theatre", "questions", "forecasts", *who):
        table.add_column(name)
    by: dict[tuple[str, str], dict[str, ScoreRow]] = {}
    for row in rows:
        by.setdefault((row.theatre, row.questions), {})[row.forecaster] = row
    for (name, origin), cells in by.items():
        means = (f"{getattr(cells[w], scale):.3f}" for w in who)
        add_row(table, name, origin, str(cells[who[0]].forecasts), *means)
    return table
