"""The ledger's tables and the migrations that bring a database to the current schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 5
THEATRES_VERSION = 5  # the version from which items belong to a theatre


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


# The theatres (models) whose evidence the database holds: a theatre claims its row on first use.
OWNER = Table(
    "ledger_model",
    METADATA,
    Column("model_id", String(200), primary_key=True),
    Column("claimed_at", _UTCDateTime, nullable=False),
)


def _item_columns(*ids: Column[Any]) -> list[Column[Any]]:
    """Return the columns of ``items``, ``ids`` after ``seq`` (new objects: one table each)."""
    return [
        Column("seq", Integer, primary_key=True, autoincrement=True),
        *ids,
        Column("kind", String(40), nullable=False),
        Column("date", Date, nullable=False),
        Column("source", Text, nullable=False),
        Column("grade", String(2), nullable=False),
        Column("note", Text, nullable=False),
        Column("author", Text, nullable=False),
        Column("recorded_at", _UTCDateTime, nullable=False),
        Column("fields", Text, nullable=False),
    ]


# An item id is unique within its theatre, not across the database (schema version 5).
ITEMS = Table(
    "items",
    METADATA,
    *_item_columns(
        Column("model_id", String(200), nullable=False),
        Column("id", String(200), nullable=False),
    ),
    UniqueConstraint("model_id", "id", name="uq_items_theatre_id"),
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


# Each report made: what it showed, so the next one can say what changed since.
REPORTS = Table(
    "reports",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(200), nullable=False),
    Column("as_of", Date, nullable=True),
    Column("as_recorded", Boolean, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("evidence_sha256", String(64), nullable=False),
    Column("probabilities", Text, nullable=False),  # JSON: question id -> probability or null
    Column("items", Text, nullable=False),  # JSON: item id -> digest, the evidence in force
    Column("created_at", _UTCDateTime, nullable=False),
)


# Each migration brings a database from the version before to its own. They
# create the tables from the definitions above: a later version that changes
# a table must freeze the old definition inside the earlier migration first.
def _items_v1(metadata: MetaData, name: str = "items") -> Table:
    """Return the ``items`` table of versions 1 to 4: an item id unique in the whole database."""
    return Table(
        name, metadata, *_item_columns(Column("id", String(200), nullable=False, unique=True))
    )


def _migrate_to_1(conn: Connection) -> None:
    """Version 1: the ``items`` table."""
    _items_v1(MetaData()).create(conn)


def _migrate_to_2(conn: Connection) -> None:
    """Version 2: the ``forecasts`` history table."""
    FORECASTS.create(conn)


def _migrate_to_3(conn: Connection) -> None:
    """Version 3: the ``ledger_model`` table; an older ledger goes to the first model to open it."""
    OWNER.create(conn)


def _migrate_to_4(conn: Connection) -> None:
    """Version 4: the ``reports`` table."""
    REPORTS.create(conn)


def _migrate_to_5(conn: Connection) -> None:
    """Version 5: items belong to a theatre; an item id is unique within its theatre.

    The items already recorded go to the theatre that claimed the ledger
    (the caller claims an unclaimed ledger first). PostgreSQL alters the table
    in place; SQLite, which cannot drop a constraint, copies it to a new one.
    """
    owner = conn.execute(select(OWNER.c.model_id).order_by(OWNER.c.claimed_at)).scalar() or ""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE items ADD COLUMN model_id VARCHAR(200)"))
        conn.execute(text("UPDATE items SET model_id = :owner"), {"owner": owner})
        conn.execute(text("ALTER TABLE items ALTER COLUMN model_id SET NOT NULL"))
        conn.execute(text("ALTER TABLE items DROP CONSTRAINT IF EXISTS items_id_key"))
        conn.execute(
            text("ALTER TABLE items ADD CONSTRAINT uq_items_theatre_id UNIQUE (model_id, id)")
        )
        return
    conn.execute(text("ALTER TABLE items RENAME TO items_v4"))
    ITEMS.create(conn)
    moved = _items_v1(MetaData(), "items_v4")
    names = [c.name for c in moved.columns]
    rows = select(*moved.columns, literal(owner))
    conn.execute(insert(ITEMS).from_select([*names, "model_id"], rows.order_by(moved.c.seq)))
    conn.execute(text("DROP TABLE items_v4"))


Migration = Callable[[Connection], None]


MIGRATIONS: dict[int, Migration] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
    5: _migrate_to_5,
}
