"""The command line's shared parts: the app, exit codes, options and error handling.

Errors in user files print the file, the key and the fix, and exit with
status 2. A forecast whose fit failed its sampling diagnostics is printed
under a warning banner and exits with status 3, so scripts notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from allegiance.errors import AllegianceError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Bayesian forecasts of defection and alliance formation.",
)
err = Console(stderr=True)
EXIT_BAD_INPUT = 2
EXIT_UNTRUSTWORTHY = 3

ModelArg = Annotated[Path, typer.Argument(help="Model file (YAML).")]
LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger", help="Ledger database URL; default: <model>.ledger.sqlite beside the model."
    ),
]


class Format(StrEnum):
    """Output formats."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a domain error into its message on stderr and exit status 2."""
    try:
        yield
    except AllegianceError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def refuse(message: str) -> typer.Exit:
    """Print an error that is not a domain error (an unknown name on the command line)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def parse_date(value: str | None, option: str) -> dt.date | None:
    """Read an option's date, YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write YYYY-MM-DD.", param_hint=option
        ) from None


def note(lines: list[str]) -> None:
    """Print what a workflow step did, on stderr."""
    for line in lines:
        err.print(escape(line), highlight=False, soft_wrap=True)


def add_row(table: Table, *cells: object) -> None:
    """Add a row of user text: escaped, so that brackets in a note are shown, not obeyed."""
    table.add_row(*(escape(str(c)) for c in cells))
