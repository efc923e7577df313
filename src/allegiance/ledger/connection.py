"""A ledger's database: the engine, its write lock, the schema it is brought to, its theatres."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from allegiance.errors import EvidenceError, LedgerError
from allegiance.ledger.lock import WriteLock
from allegiance.ledger.refusals import cut, database_error
from allegiance.ledger.schema import (
    METADATA,
    MIGRATIONS,
    OWNER,
    SCHEMA,
    SCHEMA_VERSION,
    THEATRES_VERSION,
)
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec

# How long a writer waits for the write lock while no other write gets through (SQLite), or
# in turn (PostgreSQL), before it is refused; also SQLite's busy timeout for everything else.
BUSY_TIMEOUT_S = 60.0


_PG_LOCK_KEY = 0x616C6C6567  # pg_advisory_xact_lock key shared by every ledger writer


_WRITE = "allegiance_ledger_write"  # execution option: this transaction writes


def default_url(spec: ModelSpec) -> str:
    """Return the default ledger of a model: an SQLite file beside the model file.

    Parameters
    ----------
    spec : ModelSpec
        The model; its file ``models/x.yaml`` has the ledger
        ``models/x.ledger.sqlite``.

    Returns
    -------
    str
        An SQLAlchemy URL, ``sqlite:///`` and the absolute path.
    """
    path = spec.path.resolve().with_name(f"{spec.path.stem}.ledger.sqlite")
    return f"sqlite:///{path}"


_UNREADABLE = (ValueError, TypeError, OverflowError)  # a stored value the column's type rejects


def _unreadable(conn: Connection, query: Select[Any]) -> Exception | None:
    """Return what stops a query's values being read, or None if they all read."""
    try:
        conn.execute(query).all()
    except _UNREADABLE as exc:
        return exc
    return None


def _utc(stamp: dt.datetime) -> dt.datetime:
    """Return a timestamp in UTC; a naive one is taken as UTC."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def _now(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else _utc(now)


class LedgerConnection:
    """The database of a ledger: opened, brought to the current schema, one theatre's view of it.

    A database holds the evidence of many theatres (models); each opening
    reads and writes only its model's items, forecasts and reports.

    See :class:`allegiance.ledger.Ledger`, which adds the items and the forecast history.
    """

    def __init__(self, url: str | URL, spec: ModelSpec) -> None:
        self._connect(url, spec)
        try:
            if not self._held():
                self._bring_up_to_date()
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def kept(cls, url: str | URL, spec: ModelSpec) -> Self | None:
        """Open the ledger only if it holds the theatre already: opening it writes nothing.

        For a reader that must not write (the web page's GET): a database, or
        an SQLite file, that does not exist is not made, a theatre it does not
        hold is not claimed, and an older schema is not brought up to date.

        Parameters
        ----------
        url : str or URL
            An SQLAlchemy database URL.
        spec : ModelSpec
            The theatre's model.

        Returns
        -------
        LedgerConnection or None
            The ledger, open (close it), or None where opening it would write.

        Raises
        ------
        LedgerError
            As opening the ledger does: not a database URL, a database that
            cannot be read, that is not a ledger, or of a newer schema.
        """
        out = cls.__new__(cls)
        out._connect(url, spec)
        file = out.url.database if out.url.get_backend_name() == "sqlite" else None
        try:  # connecting to an SQLite file that does not exist would make it
            held = (file in (None, "", ":memory:") or Path(str(file)).exists()) and out._held()
        except BaseException:
            out.close()
            raise
        if not held:
            out.close()
            return None
        return out

    def _connect(self, url: str | URL, spec: ModelSpec) -> None:
        """Make the engine; it connects only when asked (an SQLite file is made then)."""
        self.spec = spec
        try:
            self.url = make_url(url)
        except ArgumentError:
            shown = str(url) if "@" not in str(url) else "the ledger URL"  # may hold a password
            raise LedgerError(
                shown,
                "not a database URL.",
                "write e.g. sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host/db.",
            ) from None
        self.name = self._display_name(self.url)
        self._reader = KeyReader(Path(self.name), EvidenceError, name=self.name)
        self._lock: WriteLock | None = None  # SQLite's; PostgreSQL queues writers itself
        self._engine = self._create_engine(self.url)

    @staticmethod
    def _display_name(url: URL) -> str:
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return str(url.database)
        return url.render_as_string(hide_password=True)

    def _create_engine(self, url: URL) -> Engine:
        sqlite = url.get_backend_name() == "sqlite"
        try:
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S} if sqlite else {})
        except ImportError as exc:
            raise LedgerError(
                self.name,
                f"the database driver {exc.name or url.get_driver_name()!r} is not installed.",
                "for PostgreSQL install allegiance[postgres] (psycopg).",
            ) from None
        except ArgumentError as exc:
            raise LedgerError(self.name, f"unusable database URL ({exc}).") from None
        if sqlite:
            # pysqlite starts transactions lazily and commits before DDL; take
            # over: no implicit transactions, and an explicit BEGIN that takes
            # the write lock up front for writers (in turn, see WriteLock), so
            # they queue instead of failing when upgrading a read lock.
            lock = self._lock = WriteLock(self.name, BUSY_TIMEOUT_S)

            @event.listens_for(engine, "connect")
            def _connect(dbapi_connection: Any, record: Any) -> None:
                dbapi_connection.isolation_level = None
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                if conn.get_execution_options().get(_WRITE, False):
                    try:  # on the driver's connection, whose errors SQLAlchemy does not wrap
                        lock.acquire(conn.connection.driver_connection)
                    except sqlite3.Error as exc:
                        raise database_error(self.name, exc) from exc
                else:
                    conn.exec_driver_sql("BEGIN")

        return engine

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._database_errors(), self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction, holding the ledger's write lock from its start."""
        with self._database_errors(), self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":  # waiters are served in turn
                        wait = f"{int(BUSY_TIMEOUT_S * 1000)}ms"
                        conn.execute(text(f"SET LOCAL lock_timeout = '{wait}'"))
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                        )
                    yield conn
            finally:
                if self._lock is not None:
                    self._lock.released()

    def _rows(self, conn: Connection, query: Select[Any], table: Table) -> list[Row[Any]]:
        """Run a query; a cell the table's types cannot read is named by row and column."""
        try:
            return list(conn.execute(query))
        except _UNREADABLE as exc:
            raise self._bad_cell(conn, table, exc) from None

    def _bad_cell(self, conn: Connection, table: Table, exc: Exception) -> LedgerError:
        for column in table.columns:
            if _unreadable(conn, select(column)) is None:
                continue
            for (seq,) in conn.execute(select(table.c.seq).order_by(table.c.seq)):
                cell = _unreadable(conn, select(column).where(table.c.seq == seq))
                if cell is not None:
                    return self.damaged_cell(table.name, seq, column.name, str(cell))
        return self.damaged_cell(table.name, None, None, str(exc))

    def damaged_cell(
        self, table: str, seq: int | None, column: str | None, problem: str
    ) -> LedgerError:
        """Return the error for a stored value this package cannot read.

        Parameters
        ----------
        table : str
            The table, e.g. ``items``.
        seq : int or None
            The row's ``seq``, if known.
        column : str or None
            The column, if known.
        problem : str
            What is wrong with the value.

        Returns
        -------
        LedgerError
        """
        where = f"table {table}" + (f", row seq={seq}" if seq is not None else "")
        where += f", column {column}" if column is not None else ""
        return LedgerError(
            self.name,
            f"a stored value cannot be read ({where}): {cut(problem)}. The ledger was "
            "changed outside this package, or is damaged.",
            "restore the ledger from a backup or an export; it is left as it is.",
        )

    def stored_json(self, table: str, seq: int, column: str, text_: str) -> dict[str, Any]:
        """Read a JSON object stored in a cell, or name the cell that holds something else."""
        try:
            value = json.loads(text_)
        except (TypeError, ValueError) as exc:
            raise self.damaged_cell(table, seq, column, f"not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self.damaged_cell(table, seq, column, "not a JSON object")
        return value

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        """Turn the database's refusals into a :class:`LedgerError` naming the ledger."""
        try:
            yield
        except DBAPIError as exc:
            raise database_error(self.name, exc) from exc

    def close(self) -> None:
        """Release the ledger's database connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.name!r}, model={self.spec.id!r})"

    def _version(self, conn: Connection) -> int:
        tables = set(inspect(conn).get_table_names())
        if SCHEMA.name not in tables:
            ours = tables & {t.name for t in METADATA.sorted_tables}
            if ours:
                raise LedgerError(
                    self.name,
                    f"the database has ledger tables ({', '.join(sorted(ours))}) "
                    "but no schema_version table: it is not a ledger this package wrote.",
                    "point the ledger at another database or file.",
                )
            return 0
        version = conn.execute(select(func.max(SCHEMA.c.version))).scalar()
        return int(version or 0)

    def _held(self) -> bool:
        """Return whether the database is at this schema and holds this theatre (a read)."""
        with self._reading() as conn:
            version = self._version(conn)
            held = version == SCHEMA_VERSION and self.spec.id in self._theatres(conn)
        self._check_not_newer(version)
        return held

    def _bring_up_to_date(self) -> None:
        with self._writing() as conn:  # another process may have migrated meanwhile
            version = self._version(conn)
            self._check_not_newer(version)
            if version == 0:
                SCHEMA.create(conn)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                if target == THEATRES_VERSION and not self._theatres(conn):
                    self._claim(conn)  # an older ledger's items go to the first model to open it
                MIGRATIONS[target](conn)
                conn.execute(insert(SCHEMA).values(version=target, applied_at=_now(None)))
            if self.spec.id not in self._theatres(conn):
                self._claim(conn)

    def _claim(self, conn: Connection) -> None:
        conn.execute(insert(OWNER).values(model_id=self.spec.id, claimed_at=_now(None)))

    @staticmethod
    def _theatres(conn: Connection) -> list[str]:
        if OWNER.name not in inspect(conn).get_table_names():
            return []
        query = select(OWNER.c.model_id).order_by(OWNER.c.claimed_at, OWNER.c.model_id)
        return list(conn.execute(query).scalars())

    def theatres(self) -> list[str]:
        """Return the ids of the models (theatres) whose evidence the database holds.

        Returns
        -------
        list of str
            In the order they first opened it; this ledger's model among them.
        """
        with self._reading() as conn:
            return self._theatres(conn)

    def _check_not_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LedgerError(
                self.name,
                f"the ledger has schema version {version}, newer than the version "
                f"{SCHEMA_VERSION} this package reads.",
                "upgrade allegiance to read it; it is left untouched.",
            )

    @property
    def schema_version(self) -> int:
        """The schema version of the database."""
        with self._reading() as conn:
            return self._version(conn)
