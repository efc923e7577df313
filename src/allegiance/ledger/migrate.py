"""One theatre's record moved from a ledger into another: a SQLite file into a shared database.

The source is read as it is (any schema version this package wrote, never
changed); the destination is brought to the current schema and gets, in one
transaction under its write lock, every item the theatre's record holds (in
recorded order, with its recording time and author), its forecast history and
its reports. An item id the destination already holds for the theatre with
other content refuses the whole move, and nothing is written; what the
destination already holds, the same, is left out, so a second run has nothing
to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, create_engine, insert, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from allegiance.errors import EvidenceError, LedgerError
from allegiance.evidence import Item
from allegiance.ledger.imports import Conflict, FileImports
from allegiance.ledger.refusals import database_error
from allegiance.ledger.schema import FORECASTS, ITEMS, OWNER, REPORTS, SCHEMA
from allegiance.spec import ModelSpec


@dataclass(frozen=True)
class Migrated:
    """What a move copied.

    Attributes
    ----------
    theatre : str
        The model whose record moved.
    items, forecasts, reports : int
        Rows written to the destination (0 each: it held everything already).
    already : int
        The source's items the destination already held, the same.
    """

    theatre: str
    items: int
    forecasts: int
    reports: int
    already: int

    @property
    def nothing_to_do(self) -> bool:
        """Whether the destination already held the whole record."""
        return self.items == self.forecasts == self.reports == 0


def ledger_url(given: str) -> str:
    """Return a database URL for a URL or a path to an SQLite file.

    Parameters
    ----------
    given : str
        ``sqlite:///...``, ``postgresql+psycopg://...``, or a file path.

    Returns
    -------
    str
    """
    return given if "://" in given else f"sqlite:///{Path(given).expanduser().resolve()}"


@dataclass(frozen=True)
class _Record:
    """A theatre's rows in the source, oldest first."""

    items: list[Item]
    forecasts: list[dict[str, Any]]
    reports: list[dict[str, Any]]


def _shown(url: URL) -> str:
    if url.get_backend_name() == "sqlite" and url.database:
        return str(url.database)
    return url.render_as_string(hide_password=True)


def read_record(source: str, theatre: str) -> _Record:
    """Read one theatre's items, forecasts and reports from a ledger, changing nothing.

    Parameters
    ----------
    source : str
        The ledger's URL or SQLite file.
    theatre : str
        The model id.

    Returns
    -------
    _Record

    Raises
    ------
    LedgerError
        For a source that does not exist, is not a ledger, or holds another
        theatre's evidence (a ledger older than schema version 5 holds one).
    """
    try:
        url = make_url(ledger_url(source))
    except ArgumentError:
        raise LedgerError(source, "not a database URL or file.") from None
    name = _shown(url)
    if url.get_backend_name() == "sqlite" and not Path(str(url.database)).is_file():
        raise LedgerError(name, "no such ledger file.", "give the path of an existing ledger.")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _read(conn, name, theatre)
    except DBAPIError as exc:
        raise database_error(name, exc) from exc
    finally:
        engine.dispose()


def _read(conn: Connection, name: str, theatre: str) -> _Record:
    tables = set(inspect(conn).get_table_names())
    if SCHEMA.name not in tables or ITEMS.name not in tables:
        raise LedgerError(
            name, "not a ledger this package wrote.", "give the ledger's file or URL."
        )
    columns = {c["name"] for c in inspect(conn).get_columns(ITEMS.name)}
    owners = list(conn.execute(select(OWNER.c.model_id)).scalars()) if OWNER.name in tables else []
    if owners and theatre not in owners:  # an unclaimed ledger (before version 3) is anyone's
        raise LedgerError(
            name,
            f"the ledger holds the evidence of {', '.join(map(repr, owners))}, not of {theatre!r}.",
            "give --theatre the model file of a theatre it holds.",
        )
    rows = [r._mapping for r in conn.execute(_items_query(columns, theatre))]
    items = [_item(name, row) for row in rows]
    forecasts = _rows(conn, tables, FORECASTS, theatre)
    reports = _rows(conn, tables, REPORTS, theatre)
    return _Record(items, forecasts, reports)


def _items_query(columns: set[str], theatre: str) -> Any:
    wanted = [c for c in ITEMS.columns if c.name in columns]
    query = select(*wanted).order_by(ITEMS.c.seq)
    return query.where(ITEMS.c.model_id == theatre) if "model_id" in columns else query


def _item(name: str, row: Any) -> Item:
    try:
        fields = json.loads(row["fields"])
    except ValueError:
        raise LedgerError(
            name, f"the item seq={row['seq']} has fields that are not JSON.", "restore it."
        ) from None
    return Item(
        id=row["id"],
        kind=row["kind"],
        date=row["date"],
        source=row["source"],
        grade=row["grade"],
        fields=fields,
        note=row["note"],
        author=row["author"],
        recorded_at=row["recorded_at"],
    )


def _rows(conn: Connection, tables: set[str], table: Table, theatre: str) -> list[dict[str, Any]]:
    if table.name not in tables:
        return []
    query = select(table).where(table.c.model_id == theatre).order_by(table.c.seq)
    return [{k: v for k, v in r._mapping.items() if k != "seq"} for r in conn.execute(query)]


def _key(row: dict[str, Any]) -> str:
    """Return a row's identity, all but its seq: a row the destination holds is not copied."""
    return json.dumps({k: v for k, v in row.items() if k != "seq"}, sort_keys=True, default=str)


def migrate(source: str, dest: str, spec: ModelSpec) -> Migrated:
    """Copy a theatre's record from one ledger into another, in one transaction.

    Parameters
    ----------
    source : str
        The ledger read (URL or SQLite file); it is not changed.
    dest : str
        The ledger written (URL or SQLite file), e.g. the team's PostgreSQL database.
    spec : ModelSpec
        The theatre's model: whose record moves, and what its items are checked against.

    Returns
    -------
    Migrated

    Raises
    ------
    LedgerError
        When either ledger cannot be read or written.
    EvidenceError
        When the destination holds an item id of the theatre with other
        content, or the items contradict what it holds; nothing is then written.
    """
    record = read_record(source, spec.id)
    if make_url(ledger_url(source)) == make_url(ledger_url(dest)):
        raise LedgerError(
            _shown(make_url(ledger_url(dest))),
            "the source and the destination are one ledger.",
            "give another destination.",
        )
    with FileImports(ledger_url(dest), spec) as into:
        return _write(into, record, spec.id)


def _write(into: FileImports, record: _Record, theatre: str) -> Migrated:
    rows: list[int] = []

    def copy_rows(conn: Connection) -> None:
        rows.append(_new_rows(conn, FORECASTS, record.forecasts, theatre))
        rows.append(_new_rows(conn, REPORTS, record.reports, theatre))

    # Unlike a file's, items recorded before the destination's latest are taken:
    # they were recorded then, in the source ledger.
    done = into.append_recorded(
        record.items, backdated=True, conflict=_conflict(into.name, theatre), then=copy_rows
    )
    forecasts, reports = rows
    return Migrated(theatre, len(done.recorded), forecasts, reports, done.already)


def _conflict(name: str, theatre: str) -> Conflict:
    def refusal(n: int, held: Item, item: Item) -> EvidenceError:
        return EvidenceError(
            name,
            f"items.{item.id}",
            f"the destination already holds an item {item.id!r} of theatre "
            f"{theatre!r} that says something else (recorded {held.recorded_at}).",
            "move the record into another database, or retract and rename the item "
            "in one of them first; nothing was written.",
        )

    return refusal


def _new_rows(conn: Connection, table: Table, rows: list[dict[str, Any]], theatre: str) -> int:
    query = select(table).where(table.c.model_id == theatre)
    held = {_key(dict(r._mapping)) for r in conn.execute(query)}
    new = [row for row in rows if _key(row) not in held]
    if new:
        conn.execute(insert(table), new)
    return len(new)
