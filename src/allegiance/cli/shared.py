"""The command line's shared parts: the app, exit codes, options and error handling.

Errors in user files print the file, the key and the fix, and exit with
status 2. A forecast whose fit failed its sampling diagnostics is printed
under a warning banner and exits with status 3, so scripts notice.
"""

from __future__ import annotations

import datetime as dt
import os
import re
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
from allegiance.posterior.settings import FitSettings
from allegiance.reading import iso_date

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Bayesian forecasts of defection and alliance formation.",
)
err = Console(stderr=True)
EXIT_BAD_INPUT = 2
EXIT_UNTRUSTWORTHY = 3

ModelArg = Annotated[Path, typer.Argument(help="Model file (YAML).")]
AuthorOpt = Annotated[
    str | None, typer.Option(help="Who records it (default: your login name), kept with it.")
]
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

# The sampler's options; a command's defaults are FitSettings' own (``seed: SeedOpt = FIT.seed``).
FIT = FitSettings()
SeedOpt = Annotated[int, typer.Option(help="Random seed of the sampler.")]
DrawsOpt = Annotated[int, typer.Option(min=1, help="Draws per chain after tuning.")]
TuneOpt = Annotated[int, typer.Option(min=0, help="Tuning steps per chain.")]
ChainsOpt = Annotated[int, typer.Option(min=1, help="Number of chains.")]
TargetAcceptOpt = Annotated[
    float,
    typer.Option(
        min=0.5, max=0.999, help="Target acceptance rate of the sampler (raise on divergences)."
    ),
]

# Fan-out of independent fits (backtests, validation) on dask.distributed (allegiance[dask]).
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Run the fits on a local Dask cluster of N worker processes (the same numbers).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="Run the fits on the Dask cluster of this scheduler (tcp://host:8786)."),
]


def fit_settings(
    seed: int, draws: int, tune: int, chains: int, target_accept: float
) -> FitSettings:
    """Return the settings a command's sampler options give (the ``...Opt`` above)."""
    return FitSettings(
        draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept
    )


# C0 and C1 control characters but tab and newline, and the bidirectional overrides that
# reorder what a terminal shows
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    r"""Return user text safe to print on a terminal: control characters shown, not obeyed.

    Parameters
    ----------
    text : object
        User-supplied text (an id, a note, a source, a file path), or anything printable.

    Returns
    -------
    str
        The text with each control character written as ``\xNN`` (or ``\uNNNN``),
        so no escape sequence reaches the terminal.
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


def shown(text: object) -> str:
    """Return user text for Rich: control characters shown (:func:`plain`), markup escaped."""
    return escape(plain(text))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a domain error into its message on stderr and exit status 2."""
    try:
        yield
    except AllegianceError as exc:
        err.print(f"[bold red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def refuse(message: str) -> typer.Exit:
    """Print an error that is not a domain error (an unknown name on the command line)."""
    err.print(f"[bold red]error:[/] {shown(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def parse_date(value: str | None, option: str) -> dt.date | None:
    """Read an option's date, YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return iso_date(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write YYYY-MM-DD.", param_hint=option
        ) from None


def note(lines: list[str]) -> None:
    """Print what a workflow step did, on stderr."""
    for line in lines:
        err.print(shown(line), highlight=False, soft_wrap=True)


def add_row(table: Table, *cells: object) -> None:
    """Add a row of user text: escaped, so that brackets and escape codes are shown, not obeyed."""
    table.add_row(*(shown(c) for c in cells))


def check_out_folder(out: Path) -> None:
    """Refuse a folder that cannot be made or written in, before any work."""
    for path in (out, *out.parents):
        if not path.exists():
            continue
        if not path.is_dir():
            raise refuse(
                f"--out {out}: {path} is a file, not a folder. Fix: give a folder (it is made "
                "if missing) for the files written."
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise refuse(f"--out {out}: {path} cannot be written in; give a folder you can write.")
        return
