"""The database's refusals, said in the user's terms: what went wrong and what to do."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

from allegiance.errors import LedgerError
from allegiance.ledger.lock import NOTHING_WRITTEN

# What the database said, lower-cased, and what it means for the user: (problem, fix).
_REFUSALS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("locked", "busy", "lock timeout", "deadlock"),
        "another process (or several, one after another) held the ledger's lock for the whole wait",
        "wait until the other commands (or a program holding the file open) are done, "
        f"then run this again; {NOTHING_WRITTEN}",
    ),
    (
        ("readonly", "read-only", "read only", "permission denied", "insufficient privilege"),
        "the ledger cannot be written",
        "make the ledger (file and folder, or database role) writable, or give --ledger "
        "a copy you can write; nothing was written.",
    ),
    (
        ("malformed", "not a database", "encrypted", "disk i/o", "corrupt"),
        "the ledger file is damaged",
        "restore it from a backup (or import an export into a new ledger), or move it "
        "aside to start a new one; the file is left as it is.",
    ),
    (
        ("no such column", "no such table", "has no column", "undefined column", "undefined table"),
        "the ledger's tables are not as this package writes them",
        "restore the ledger from a backup or an export; it is left as it is.",
    ),
)


def database_error(name: str, exc: DBAPIError | sqlite3.Error) -> LedgerError:
    """Return the :class:`LedgerError` that explains a database's refusal.

    Parameters
    ----------
    name : str
        The ledger, as shown to the user.
    exc : DBAPIError or sqlite3.Error
        What the database driver raised (wrapped by SQLAlchemy, or not).

    Returns
    -------
    LedgerError
        Saying what went wrong in the user's terms, with the database's own
        words in brackets, and what to do.
    """
    said = cut(" ".join(str(exc.orig if isinstance(exc, DBAPIError) else exc).split()))
    lowered = said.lower()
    for words, problem, fix in _REFUSALS:
        if any(w in lowered for w in words):
            return LedgerError(name, f"{problem} ({said}).", fix)
    return LedgerError(
        name,
        f"cannot use the ledger ({said}).",
        "check the URL, that the folder exists, and that the server runs; nothing was written.",
    )


def cut(text_: str, limit: int = 200) -> str:
    """Return a text cut to ``limit`` characters, ending "..." if it was longer."""
    return text_ if len(text_) <= limit else text_[: limit - 3] + "..."
