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
    SeedOpt,
    TargetAcceptOpt,
    TuneOpt,
    add_row,
    app,
    check_out_folder,
    plain,
    user_errors,
)

if TYPE_CHECKING:
    from allegiance.update import ReplayStep
    from allegiance.workflow.validation import Validation


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
) -> None:
    """Hold out each theatre in turn, learn from the others, backtest it, and pool the scores.

    Each date's line goes to stderr; the tables (mean Brier 0–1 and log score, per theatre
    and pooled, grid and hand-picked questions apart) to stdout.
    """
    from allegiance.cli.shared import note
    from allegiance.posterior import FitSettings
    from allegiance.workflow.validation import theatres as found
    from allegiance.workflow.validation import validate as run

    named = [t.strip() for given in theatres or () for t in given.split(",")]
    settings = FitSettings(
        draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept
    )

    def done(name: str, s: ReplayStep) -> None:
        note([f"{name}  {s.date}  {s.method:<10}  {s.seconds:.1f} s"])

    with user_errors():
        check_out_folder(out)
        found(folder, named)
        result = run(folder, settings, only=named, every=every, on_step=done)
    console = Console(width=None if Console().is_terminal else 160)  # a file gets whole rows
    for scale, title in (("brier", "Brier (0–1), lower is better"), ("log", "log score")):
        console.print(_table(result, scale, title))
    from allegiance.report.validation import write_validation

    for path in write_validation(result, out):
        typer.echo(f"wrote {plain(path)}")


def _table(result: Validation, scale: str, title: str) -> Table:
    who = result.pooled.forecasters
    table = Table(title=f"Leave-one-theatre-out: {title}, mean over forecasts")
    for name in ("theatre", "questions", "forecasts", *who):
        table.add_column(name)
    rows = [*((n, b.scores) for n, b in result.backtests.items()), ("pooled", result.pooled)]
    for name, scores in rows:
        for origin in ("grid", "hand"):
            n = len(scores.of(who[0], origin))
            if n:
                means = [scores.mean(w, origin=origin)[scale] for w in who]
                add_row(table, name, origin, str(n), *(f"{m:.3f}" for m in means))
    return table
