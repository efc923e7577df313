"""The evidence ledger: an append-only, durable record of evidence and forecasts.

A ledger is a database reached through SQLAlchemy: by default an SQLite file
beside the model file (:func:`default_url`), or any SQLAlchemy URL, e.g. a
PostgreSQL one (``postgresql+psycopg://...``, with the ``postgres`` extra).
One database holds the records of many theatres (models): a :class:`Ledger`
opened with a model reads and writes that theatre's items, forecasts and
reports only, and item ids are unique within a theatre. Every item records
its author (:mod:`allegiance.ledger.authors`); a theatre's record moves
between databases with :func:`allegiance.ledger.migrate.migrate`.

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
``items (seq, model_id, id, kind, date, source, grade, note, author, recorded_at, fields)``
    One row per evidence item, in recorded order (``seq``); ``fields`` holds
    the kind-specific values as JSON text. ``(model_id, id)`` is unique
    (schema version 5; before it, ``id`` alone and no ``model_id``).
``forecasts (seq, model_id, question_id, horizon, probability, lower, upper,
word, as_of, as_recorded, model_sha256, evidence_sha256, fit_method,
diagnostics, trustworthy, created_at)``
    One row per question per recorded forecast (schema version 2).
``ledger_model (model_id, claimed_at)``
    The theatres whose evidence the database holds, each claimed on its first
    use (schema version 3; one model per ledger until version 5).
``reports (seq, model_id, as_of, as_recorded, model_sha256, evidence_sha256,
probabilities, items, created_at)``
    One row per report made: the probabilities it showed and the items behind
    them, so the next report can say what changed since (schema version 4).

Schema versions are explicit: :data:`MIGRATIONS` maps each version to the
function that brings a database from the version before to it. A new ledger
runs them all, an older one runs the missing ones, and a newer one is refused
with a :class:`LedgerError`.
"""

from __future__ import annotations

from allegiance.ledger.connection import default_url
from allegiance.ledger.history import ForecastHistory
from allegiance.ledger.imports import FileImports, Imported
from allegiance.ledger.reports import ReportLog, ReportRecord
from allegiance.ledger.schema import (
    FORECASTS,
    ITEMS,
    MIGRATIONS,
    OWNER,
    REPORTS,
    SCHEMA,
    SCHEMA_VERSION,
)


class Ledger(FileImports, ForecastHistory, ReportLog):
    """An append-only record of one model's evidence items, forecasts and reports.

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


__all__ = [
    "FORECASTS",
    "ITEMS",
    "MIGRATIONS",
    "OWNER",
    "REPORTS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "Imported",
    "Ledger",
    "ReportRecord",
    "default_url",
]
