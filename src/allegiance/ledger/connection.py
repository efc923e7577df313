"""A ledger's database: the engine, its write lock, and the schema it is brought to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from allegiance.errors import EvidenceError, LedgerError
from allegiance.ledger.schema import METADATA, MIGRATIONS, OWNER, SCHEMA, SCHEMA_VERSION
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec

BUSY_TIMEOUT_S = 60.0  # how long an SQLite writer waits for the write lock


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


def _utc(stamp: dt.datetime) -> dt.datetime:
    """Return a timestamp in UTC; a naive one is taken as UTC."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def _now(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else _utc(now)


class LedgerConnection:
    """The database of a ledger: opened, brought to the current schema, claimed by one model.

    See :class:`allegiance.ledger.Ledger`, which adds the items and the forecast history.
    """

    def __init__(self, url: str | URL, spec: ModelSpec) -> None:
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
        self._engine = self._create_engine(self.url)
        try:
            self._ensure_schema()
        except OperationalError as exc:
            self._engine.dispose()
            raise LedgerError(
                self.name,
                f"cannot open the ledger ({exc.orig}).",
                "check the URL, that the folder exists, and that the server runs.",
            ) from None
        except DatabaseError as exc:  # a file that is not a database: text, an image, junk
            self._engine.dispose()
            raise LedgerError(
                self.name,
                f"not a ledger this package can read ({exc.orig}).",
                "restore the ledger from a backup or an export, or move this file aside "
                "to start a new one.",
            ) from None
        except BaseException:
            self._engine.dispose()
            raise

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
            # the write lock up front for writers, so they queue on the busy
            # timeout instead of failing when upgrading a read lock.
            @event.listens_for(engine, "connect")
            def _connect(dbapi_connection: Any, record: Any) -> None:
                dbapi_connection.isolation_level = None
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                write = conn.get_execution_options().get(_WRITE, False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction, holding the ledger's write lock from its start."""
        with self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                yield conn

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

    def _ensure_schema(self) -> None:
        with self._reading() as conn:
            version = self._version(conn)
            owner = self._owner(conn) if version == SCHEMA_VERSION else None
        self._check_not_newer(version)
        if owner is not None:
            self._check_owner(owner)
            return
        with self._writing() as conn:  # another process may have migrated meanwhile
            version = self._version(conn)
            self._check_not_newer(version)
            if version == 0:
                SCHEMA.create(conn)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
                conn.execute(insert(SCHEMA).values(version=target, applied_at=_now(None)))
            owner = self._owner(conn)
            if owner is None:
                conn.execute(insert(OWNER).values(model_id=self.spec.id, claimed_at=_now(None)))
            else:
                self._check_owner(owner)

    @staticmethod
    def _owner(conn: Connection) -> str | None:
        return conn.execute(select(OWNER.c.model_id)).scalar()

    def _check_owner(self, owner: str) -> None:
        # Items name conditions and actors of one model: two models must not share a ledger.
        if owner != self.spec.id:
            raise LedgerError(
                self.name,
                f"the ledger holds the evidence of model {owner!r}, not of {self.spec.id!r}.",
                "give each model its own ledger: the default file beside the model file, "
                "or another database (or PostgreSQL schema) in --ledger.",
            )

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
