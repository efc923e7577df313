"""Command: ``allegiance serve``: a local web page over the same workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from allegiance.cli.shared import LedgerOpt, app, plain, refuse, user_errors


@app.command()
def serve(
    folder: Annotated[Path, typer.Argument(help="The folder of model files (theatres).")] = Path(
        "models"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port to listen on.")] = 8765,
    host: Annotated[
        str | None,
        typer.Option(help="The address to listen on (default 127.0.0.1, this machine only)."),
    ] = None,
    author: Annotated[str, typer.Option(help="Who records the items added on the page.")] = "",
    ledger: LedgerOpt = None,
) -> None:
    """Serve a local web page over FOLDER's theatres: forecasts, evidence, scenarios, reports.

    The page needs the token in the URL printed at start (then a cookie). An
    address other machines can reach is bound only when given with --host.
    With --ledger, every theatre of FOLDER reads and writes that one database.
    """
    import uvicorn

    from allegiance.serve import Secrets, check_bind, create_app

    if not folder.is_dir():
        raise refuse(f"{folder}: no such folder. Fix: give the folder of your model files.")
    secrets = Secrets()
    bound = host or "127.0.0.1"
    with user_errors():
        check_bind(bound, secrets.token, host_given=host is not None)
    site = create_app(folder, secrets, author=author, ledger=ledger)
    shown = f"[{bound}]" if ":" in bound else bound
    typer.echo(f"serving {plain(folder.resolve())} at http://{shown}:{port}/")
    typer.echo(f"open: http://{shown}:{port}/?token={secrets.token}")
    uvicorn.run(site, host=bound, port=port, log_level="warning")
