"""Commands: ``allegiance ledger migrate``: a theatre's record moved into a shared database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from allegiance.cli.shared import app, plain, refuse, user_errors

ledger_app = typer.Typer(no_args_is_help=True, help="Move a theatre's record between ledgers.")
app.add_typer(ledger_app, name="ledger")


def _beside(source: str) -> Path | None:
    """Return the model file a default ledger file sits beside (x.ledger.sqlite: x.yaml)."""
    path = Path(source.removeprefix("sqlite:///"))
    if not path.name.endswith(".ledger.sqlite"):
        return None
    model = path.with_name(path.name.removesuffix(".ledger.sqlite") + ".yaml")
    return model if model.is_file() else None


@ledger_app.command("migrate")
def ledger_migrate(
    source: Annotated[str, typer.Argument(help="The ledger read: an SQLite file or a URL.")],
    dest: Annotated[
        str, typer.Argument(help="The ledger written, e.g. postgresql+psycopg://user@host/db.")
    ],
    theatre: Annotated[
        Path | None,
        typer.Option(
            help="The theatre's model file (default: x.yaml beside a source x.ledger.sqlite)."
        ),
    ] = None,
) -> None:
    """Copy a theatre's items, forecasts and reports into another ledger, nothing lost.

    Items keep their order, recording times and authors. The source is not
    changed. If the destination holds an item id of the theatre that says
    something else, nothing is written; run twice, the second run has nothing to do.
    """
    from allegiance.ledger.migrate import migrate
    from allegiance.spec import load_spec

    model = theatre or _beside(source)
    if model is None:
        raise refuse(
            f"which theatre's record to move from {plain(source)}? Fix: give --theatre "
            "and the model file."
        )
    with user_errors():
        moved = migrate(source, dest, load_spec(model))
    if moved.nothing_to_do:
        typer.echo(
            f"nothing to do: the destination already holds theatre {plain(moved.theatre)}'s "
            f"record ({moved.already} items)"
        )
        return
    typer.echo(
        f"moved theatre {plain(moved.theatre)}: {moved.items} items, {moved.forecasts} "
        f"forecast rows, {moved.reports} reports"
        + (f"; {moved.already} items the destination already held" if moved.already else "")
    )
