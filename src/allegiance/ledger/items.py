"""The ledger's evidence items: appended in one validated transaction, never edited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from allegiance.errors import EvidenceError
from allegiance.evidence import (
    EvidenceSet,
    Item,
    check_retractions,
    in_force,
    model_data,
    parse_item,
)
from allegiance.evidence.outcomes import with_time_passing
from allegiance.ledger.connection import LedgerConnection, _now
from allegiance.ledger.schema import ITEMS
from allegiance.reading import KeyReader


class ItemStore(LedgerConnection):
    """A theatre's evidence items: read, appended (validated, in one transaction), retracted.

    Every read and every check (duplicate ids, retractions, contradictions)
    sees only the items of this ledger's model: theatres sharing a database
    never see each other's items.
    """

    def _row(self, item: Item) -> dict[str, Any]:
        return {
            "model_id": self.spec.id,
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

    def _item(self, row: Any) -> Item:
        return Item(
            id=row.id,
            kind=row.kind,
            date=row.date,
            source=row.source,
            grade=row.grade,
            fields=self.stored_json("items", row.seq, "fields", row.fields),
            note=row.note,
            author=row.author,
            recorded_at=row.recorded_at,
        )

    def _items(self, conn: Connection) -> list[Item]:
        query = select(ITEMS).where(ITEMS.c.model_id == self.spec.id).order_by(ITEMS.c.seq)
        rows = self._rows(conn, query, ITEMS)
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
            query = select(ITEMS).where(ITEMS.c.model_id == self.spec.id, ITEMS.c.id == item_id)
            rows = self._rows(conn, query, ITEMS)
        return self._item(rows[0]) if rows else None

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
        items = with_time_passing(self.spec, in_force(self.items(), as_of, as_recorded), as_of)
        self._check_stored(items)
        return EvidenceSet.of(items, as_of=as_of, as_recorded=as_recorded)

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
        return self._record(list(items), now, only_if_empty=False)

    def seed(self, items: Sequence[Item], *, now: dt.datetime | None = None) -> list[Item]:
        """Record items only if the ledger holds none yet: a first use's import, done once.

        The emptiness check and the insert are one write transaction under the
        ledger's write lock, so of several processes seeding a new ledger at
        once, one records the items and the others find them there.

        Parameters
        ----------
        items : sequence of Item
            The items to start the ledger with, e.g. the model's shipped evidence.
        now : datetime, optional
            As in :meth:`append`.

        Returns
        -------
        list of Item
            The items as recorded, or an empty list if the ledger already held items.

        Raises
        ------
        EvidenceError
            As :meth:`append`.
        """
        return self._record(list(items), now, only_if_empty=True)

    def _record(
        self, batch: list[Item], now: dt.datetime | None, *, only_if_empty: bool
    ) -> list[Item]:
        if not batch:
            return []
        with self._writing() as conn:
            # Stamped inside the write lock: recorded order and recording times agree.
            stamp = _now(now)
            stored = self._items(conn)
            if only_if_empty and stored:
                return []
            checked = self._validate(batch, stored, stamp)
            self._insert(conn, checked)
        return checked

    def _insert(self, conn: Connection, items: list[Item]) -> None:
        if not items:  # an insert of no rows would try one of defaults
            return
        try:
            conn.execute(insert(ITEMS), [self._row(i) for i in items])
        except IntegrityError:  # a backend without a write lock lost a race
            raise self._reader.fail(
                "items",
                "an item id of this batch was recorded by another writer meanwhile.",
                "read the ledger again and give every item its own id.",
            ) from None

    def _validate(
        self,
        batch: list[Item],
        stored: list[Item],
        stamp: dt.datetime,
        r: KeyReader | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[Item]:
        """Check a batch against the model and the record; ``r`` and ``keys`` name a file's."""
        r = r or self._reader
        keys = keys or [f"items[{i}]" for i in range(len(batch))]
        known = {i.id: i for i in stored}
        checked: list[Item] = []
        first: dict[str, int] = {}
        for i, item in enumerate(batch):
            key = keys[i]
            if not isinstance(item, Item):
                raise r.fail(
                    key,
                    f"expected an evidence Item, got {type(item).__name__}.",
                    "build each item with allegiance.evidence.Item.",
                )
            parsed = self._reparse(item, key, stamp, r)
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
                    f"duplicate id {parsed.id!r} (first at {keys[first[parsed.id]]} "
                    "of this batch).",
                    "give every item its own id.",
                )
            first[parsed.id] = i
            checked.append(parsed)
        check_retractions(r, checked, stored)
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

    def _reparse(self, item: Item, key: str, stamp: dt.datetime, r: KeyReader) -> Item:
        """Validate an item as if read from a file: items built in code are checked too."""
        if item.recorded_at is None:
            item = dataclasses.replace(item, recorded_at=stamp)  # stamp first: dates check
        try:
            body = item.to_dict()
        except (AttributeError, TypeError, ValueError) as exc:
            raise r.fail(key, f"malformed item ({exc}).", "build it with valid types.") from None
        return parse_item(r, body, key, self.spec)

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
