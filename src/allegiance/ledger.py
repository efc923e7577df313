"""The evidence ledger: an append-only, durable record of evidence and forecasts.

A ledger is a database reached through SQLAlchemy: by default an SQLite file
beside the model file (:func:`default_url`), or any SQLAlchemy URL, e.g. a
PostgreSQL one (``postgresql+psycopg://...``, with the ``postgres`` extra).

Nothing in a ledger is ever edited or deleted. An item is corrected by a new
item of kind ``retraction`` that names it (:meth:`Ledger.retract`); the
evidence in force as of a date, or as it was recorded by then, comes from
:func:`allegiance.evidence.in_force`. Every batch appended is validated
against the model as a whole and written in one transaction, so a refused
batch leaves the ledger as it was. Writers take the database's write lock at
the start of their transaction (``BEGIN IMMEDIATE`` on SQLite, an advisory
lock on PostgreSQL), so several processes appending at once queue instead of
failing, and the duplicate-id and contradiction checks see everything that
was committed before.

Schema
------
``schema_version (version, applied_at)``
    One row per schema version applied; the highest is the database's.
``items (seq, id, kind, date, source, grade, note, author, recorded_at, fields)``
    One row per evidence item, in recorded order (``seq``); ``fields`` holds
    the kind-specific values as JSON text.
``forecasts (seq, model_id, question_id, horizon, probability, lower, upper,
word, as_of, as_recorded, model_sha256, evidence_sha256, fit_method,
diagnostics, trustworthy, created_at)``
    One row per question per recorded forecast (schema version 2).

Schema versions are explicit: :data:`MIGRATIONS` maps each version to the
function that brings a database from the version before to it. A new ledger
runs them all, an older one runs the missing ones, and a newer one is refused
with a :class:`LedgerError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.types import TypeDecorator

from allegiance.errors import EvidenceError, LedgerError
from allegiance.evidence import (
    EvidenceSet,
    Item,
    check_retractions,
    in_force,
    model_data,
    parse_item,
)
from allegiance.spec import ModelSpec, _Reader

if TYPE_CHECKING:
    from allegiance.forecast import Forecast

SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 60.0  # how long an SQLite writer waits for the write lock
_PG_LOCK_KEY = 0x616C6C6567  # pg_advisory_xact_lock key shared by every ledger writer
_WRITE = "allegiance_ledger_write"  # execution option: this transaction writes


class _UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores it as ``timestamptz``; backends without time zones
    store naive UTC. Read back, it is always aware and in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive timestamp {value!r}: the ledger stores aware UTC times")
        value = value.astimezone(dt.UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            value = dt.datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


METADATA = MetaData()

SCHEMA = Table(
    "schema_version",
    METADATA,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", _UTCDateTime, nullable=False),
)

# The model whose evidence the ledger holds: one row, written by the first model to open it.
OWNER = Table(
    "ledger_model",
    METADATA,
    Column("model_id", String(200), primary_key=True),
    Column("claimed_at", _UTCDateTime, nullable=False),
)

ITEMS = Table(
    "items",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(200), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("date", Date, nullable=False),
    Column("source", Text, nullable=False),
    Column("grade", String(2), nullable=False),
    Column("note", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("recorded_at", _UTCDateTime, nullable=False),
    Column("fields", Text, nullable=False),
)

FORECASTS = Table(
    "forecasts",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(200), nullable=False),
    Column("question_id", String(200), nullable=False),
    Column("horizon", String(10), nullable=False),
    Column("probability", Double, nullable=False),
    Column("lower", Double, nullable=False),
    Column("upper", Double, nullable=False),
    Column("word", String(40), nullable=False),
    Column("as_of", Date, nullable=True),
    Column("as_recorded", Boolean, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("evidence_sha256", String(64), nullable=False),
    Column("fit_method", String(40), nullable=False),
    Column("diagnostics", Text, nullable=False),
    Column("trustworthy", Boolean, nullable=False),
    Column("created_at", _UTCDateTime, nullable=False),
    Index("ix_forecasts_question", "question_id", "created_at"),
)


# Each migration brings a database from the version before to its own. They
# create the tables from the definitions above: a later version that changes
# a table must freeze the old definition inside the earlier migration first.
def _migrate_to_1(conn: Connection) -> None:
    """Version 1: the ``items`` table."""
    ITEMS.create(conn)


def _migrate_to_2(conn: Connection) -> None:
    """Version 2: the ``forecasts`` history table."""
    FORECASTS.create(conn)


def _migrate_to_3(conn: Connection) -> None:
    """Version 3: the ``ledger_model`` table; an older ledger goes to the first model to open it."""
    OWNER.create(conn)


Migration = Callable[[Connection], None]
MIGRATIONS: dict[int, Migration] = {1: _migrate_to_1, 2: _migrate_to_2, 3: _migrate_to_3}
assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


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


class _LedgerReader(_Reader):
    """Raises :class:`EvidenceError` naming the ledger (a URL is not a file path)."""

    def __init__(self, name: str) -> None:
        super().__init__(Path(name), EvidenceError)
        self.name = name

    def fail(self, key: str, problem: str, fix: str = "") -> EvidenceError:
        return EvidenceError(self.name, key, problem, fix)


def _utc(stamp: dt.datetime) -> dt.datetime:
    """Return a timestamp in UTC; a naive one is taken as UTC."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def _now(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else _utc(now)


class Ledger:
    """An append-only record of one model's evidence items and forecasts.

    Parameters
    ----------
    url : str or URL
        An SQLAlchemy database URL, e.g. :func:`default_url` of the model or
        ``postgresql+psycopg://user@host/db``.
    spec : ModelSpec
        The model every item is validated against.

    Raises
    ------
    LedgerError
        When the database cannot be opened, is not a ledger, or has a schema
        newer than this package reads.

    Examples
    --------
    >>> ledger = Ledger(default_url(spec), spec)  # doctest: +SKIP
    >>> ledger.append([item])  # doctest: +SKIP
    >>> evidence = ledger.evidence(as_of=dt.date(2020, 6, 1))  # doctest: +SKIP
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
        self._reader = _LedgerReader(self.name)
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
        except BaseException:
            self._engine.dispose()
            raise

    # -- connection handling -------------------------------------------------

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

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.name!r}, model={self.spec.id!r})"

    # -- schema --------------------------------------------------------------

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

    # -- items ---------------------------------------------------------------

    @staticmethod
    def _row(item: Item) -> dict[str, Any]:
        return {
            "id": item.id,
            "kind": item.kind,
            "date": item.date,
            "source": item.source,
            "grade": item.grade,
            "note": item.note,
            "author": item.author,
            "recorded_at": item.recorded_at,
            "fields": json.dumps(dict(item.fields), sort_keys=True),
        }

    @staticmethod
    def _item(row: Any) -> Item:
        return Item(
            id=row.id,
            kind=row.kind,
            date=row.date,
            source=row.source,
            grade=row.grade,
            fields=json.loads(row.fields),
            note=row.note,
            author=row.author,
            recorded_at=row.recorded_at,
        )

    def _items(self, conn: Connection) -> list[Item]:
        rows = conn.execute(select(ITEMS).order_by(ITEMS.c.seq))
        return [self._item(row) for row in rows]

    def items(self) -> list[Item]:
        """Return every item, retractions included, in recorded order.

        Returns
        -------
        list of Item
            As appended, with ``recorded_at`` set (aware, UTC).
        """
        with self._reading() as conn:
            return self._items(conn)

    def get(self, item_id: str) -> Item | None:
        """Return one item by id, or None if the ledger has none by that id.

        Parameters
        ----------
        item_id : str
            The item's id.

        Returns
        -------
        Item or None
        """
        with self._reading() as conn:
            row = conn.execute(select(ITEMS).where(ITEMS.c.id == item_id)).one_or_none()
        return None if row is None else self._item(row)

    def evidence(self, as_of: dt.date | None = None, as_recorded: bool = False) -> EvidenceSet:
        """Return the evidence in force, as :func:`allegiance.evidence.in_force` defines it.

        Parameters
        ----------
        as_of : date, optional
            Keep items whose event date is on or before it.
        as_recorded : bool
            Also leave out items and retractions recorded after ``as_of``: the
            record as it stood on that day.

        Returns
        -------
        EvidenceSet
            The items in force, hashed.

        Raises
        ------
        EvidenceError
            If an item in force no longer fits the model (the model file
            changed since it was recorded), naming the item and the field.
        """
        items = in_force(self.items(), as_of, as_recorded)
        self._check_stored(items)
        return EvidenceSet.of(items)

    def append(self, items: Sequence[Item], *, now: dt.datetime | None = None) -> list[Item]:
        """Validate items against the model and the ledger, and record them in one transaction.

        Parameters
        ----------
        items : sequence of Item
            New items; corrections are items of kind ``retraction``.
        now : datetime, optional
            The recording time stamped on items without ``recorded_at``
            (default: the current time; a naive time is taken as UTC).

        Returns
        -------
        list of Item
            The items as recorded: validated, normalised, with ``recorded_at``.

        Raises
        ------
        EvidenceError
            Naming the item and the field (key ``items[i].field`` or
            ``items.<id>.field``) for a malformed item, an unknown target, an
            event date after the recording time, a likelihood ratio <= 0, a
            duplicate id (in the batch or in the ledger), a retraction of an
            unknown id or of a retraction, or a contradiction with what is in
            force. Nothing of the batch is then recorded.
        """
        batch = list(items)
        if not batch:
            return []
        with self._writing() as conn:
            # Stamped inside the write lock: recorded order and recording times agree.
            stamp = _now(now)
            stored = self._items(conn)
            checked = self._validate(batch, stored, stamp)
            try:
                conn.execute(insert(ITEMS), [self._row(i) for i in checked])
            except IntegrityError:  # a backend without a write lock lost a race
                raise self._reader.fail(
                    "items",
                    "an item id of this batch was recorded by another writer meanwhile.",
                    "read the ledger again and give every item its own id.",
                ) from None
        return checked

    def _validate(self, batch: list[Item], stored: list[Item], stamp: dt.datetime) -> list[Item]:
        r = self._reader
        known = {i.id: i for i in stored}
        checked: list[Item] = []
        first: dict[str, int] = {}
        for i, item in enumerate(batch):
            key = f"items[{i}]"
            if not isinstance(item, Item):
                raise r.fail(key, f"expected an evidence Item, got {type(item).__name__}.")
            parsed = self._reparse(item, key, stamp)
            assert parsed.recorded_at is not None
            if parsed.recorded_at > stamp:
                raise r.fail(
                    f"{key}.recorded_at",
                    f"recorded at {parsed.recorded_at.isoformat()}, after the recording "
                    f"time {stamp.isoformat()}.",
                    "leave recorded_at empty to have the ledger stamp it.",
                )
            if parsed.id in known:
                raise r.fail(
                    f"{key}.id",
                    f"duplicate id {parsed.id!r}: the ledger already holds an item by that id "
                    f"(recorded {known[parsed.id].recorded_at}).",
                    "give every item its own id; correct an item by retracting it "
                    "and recording a new one.",
                )
            if parsed.id in first:
                raise r.fail(
                    f"{key}.id",
                    f"duplicate id {parsed.id!r} (first at items[{first[parsed.id]}] "
                    "of this batch).",
                    "give every item its own id.",
                )
            first[parsed.id] = i
            checked.append(parsed)
        retracted = {i.fields["retracts"]: i.id for i in stored if i.kind == "retraction"}
        for item in checked:
            if item.kind != "retraction":
                continue
            target = item.fields["retracts"]
            if target in known and known[target].kind == "retraction":
                raise r.fail(
                    f"items.{item.id}.retracts",
                    f"{target!r} is a retraction; a retraction cannot be retracted.",
                    "record the retracted item again under a new id instead.",
                )
            if target in retracted:
                raise r.fail(
                    f"items.{item.id}.retracts",
                    f"{target!r} is already retracted by {retracted[target]!r}.",
                    "drop this retraction.",
                )
            retracted[target] = item.id
        check_retractions(r, checked, known=set(known))
        in_force_now = in_force([*stored, *checked])
        self._check_stored([i for i in in_force_now if i.id in known])
        # Contradictions surface now, against everything in force, not at fit time.
        model_data(self.spec, EvidenceSet.of(in_force_now), r)
        return checked

    def _check_stored(self, items: Sequence[Item]) -> None:
        """Check recorded items against the model as it is now: the file may have changed."""
        for item in items:
            try:
                parse_item(self._reader, item.to_dict(), f"items.{item.id}", self.spec)
            except EvidenceError as exc:
                raise self._reader.fail(
                    exc.key,
                    f"the recorded item {item.id!r} no longer fits the model: {exc.problem}",
                    "the model file changed since it was recorded: retract the item "
                    "(and record it anew if it still applies), or restore the model.",
                ) from None

    def _reparse(self, item: Item, key: str, stamp: dt.datetime) -> Item:
        """Validate an item as if read from a file: items built in code are checked too."""
        if item.recorded_at is None:
            item = dataclasses.replace(item, recorded_at=stamp)  # stamp first: dates check
        try:
            body = item.to_dict()
        except (AttributeError, TypeError, ValueError) as exc:
            raise self._reader.fail(
                key, f"malformed item ({exc}).", "build it with valid types."
            ) from None
        return parse_item(self._reader, body, key, self.spec)

    def retract(
        self,
        item_id: str,
        *,
        source: str,
        grade: str,
        author: str = "",
        note: str = "",
        date: dt.date | None = None,
        now: dt.datetime | None = None,
    ) -> Item:
        """Withdraw an item by recording a retraction of it under a new id.

        Parameters
        ----------
        item_id : str
            The item to withdraw.
        source : str
            Where the correction comes from.
        grade : str
            Admiralty grade of the correction, e.g. ``B2``.
        author, note : str
            Optional.
        date : date, optional
            The date of the correction (default: the day of ``now``, UTC).
        now : datetime, optional
            The recording time (default: the current time).

        Returns
        -------
        Item
            The retraction as recorded.

        Raises
        ------
        EvidenceError
            If the ledger has no such item, or it is a retraction or already
            retracted.
        """
        when = date if date is not None else _now(now).date()
        retraction = Item(
            id=f"retract_{item_id}_{secrets.token_hex(4)}",
            kind="retraction",
            date=when,
            source=source,
            grade=grade,
            fields={"retracts": item_id},
            note=note,
            author=author,
        )
        return self.append([retraction], now=now)[0]

    # -- forecast history ----------------------------------------------------

    def record_forecast(
        self,
        forecast: Forecast,
        *,
        as_of: dt.date | None,
        as_recorded: bool,
        fit_method: str,
        created_at: dt.datetime | None = None,
    ) -> None:
        """Record a forecast in the history, one row per question, in one transaction.

        Parameters
        ----------
        forecast : Forecast
            Its ``provenance`` must give ``model_sha256`` and ``evidence_sha256``.
        as_of : date or None
            The date the evidence was taken as of (None: everything).
        as_recorded : bool
            Whether the evidence was the record as it stood on ``as_of``.
        fit_method : str
            How the posterior was obtained, e.g. ``"mcmc"`` or ``"reweighted"``.
        created_at : datetime, optional
            When the forecast was made (default: now; naive is taken as UTC).

        Raises
        ------
        LedgerError
            If the forecast is of another model, lacks its provenance hashes
            or ``fit_method`` is empty.
        """
        if forecast.model_id != self.spec.id:
            raise LedgerError(
                self.name,
                f"the forecast is of model {forecast.model_id!r}, the ledger of {self.spec.id!r}.",
                "record it in the ledger of its own model.",
            )
        missing = [k for k in ("model_sha256", "evidence_sha256") if not forecast.provenance.get(k)]
        if missing:
            raise LedgerError(
                self.name,
                f"the forecast's provenance lacks {', '.join(missing)}.",
                "record forecasts as allegiance.forecast.forecast() returns them.",
            )
        if not isinstance(fit_method, str) or not fit_method.strip():
            raise LedgerError(self.name, "fit_method is empty.", "say e.g. 'mcmc'.")
        stamp = _now(created_at)
        common = {
            "model_id": forecast.model_id,
            "as_of": as_of,
            "as_recorded": bool(as_recorded),
            "model_sha256": str(forecast.provenance["model_sha256"]),
            "evidence_sha256": str(forecast.provenance["evidence_sha256"]),
            "fit_method": fit_method.strip(),
            "diagnostics": json.dumps(forecast.diagnostics.to_dict(), sort_keys=True),
            "trustworthy": bool(forecast.trustworthy),
            "created_at": stamp,
        }
        rows = [
            {
                **common,
                "question_id": q.id,
                "horizon": q.horizon,
                "probability": float(q.probability),
                "lower": float(q.lower),
                "upper": float(q.upper),
                "word": q.word,
            }
            for q in forecast.questions
        ]
        if not rows:
            return
        with self._writing() as conn:
            conn.execute(insert(FORECASTS), rows)

    def history(self, question_id: str) -> list[dict[str, Any]]:
        """Return the recorded forecasts of one question, oldest first.

        Parameters
        ----------
        question_id : str
            A question id of the model.

        Returns
        -------
        list of dict
            One per recorded forecast, with ``question_id``, ``model_id``,
            ``horizon``, ``probability``, ``lower``, ``upper``, ``word``,
            ``as_of`` (date or None), ``as_recorded``, ``model_sha256``,
            ``evidence_sha256``, ``fit_method``, ``diagnostics`` (a dict),
            ``trustworthy`` and ``created_at`` (aware, UTC).
        """
        query = (
            select(FORECASTS)
            .where(FORECASTS.c.question_id == question_id)
            .order_by(FORECASTS.c.created_at, FORECASTS.c.seq)
        )
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        out = []
        for row in rows:
            entry = {k: v for k, v in row.items() if k != "seq"}
            entry["diagnostics"] = json.loads(entry["diagnostics"])
            entry["as_recorded"] = bool(entry["as_recorded"])
            entry["trustworthy"] = bool(entry["trustworthy"])
            out.append(entry)
        return out
