"""Evidence items, the record they form, and which of them are in force."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allegiance.reading import KeyReader, short


@dataclass(frozen=True)
class Item:
    """One validated evidence item; ``fields`` holds the kind-specific values."""

    id: str
    kind: str
    date: dt.date
    source: str
    grade: str
    fields: Mapping[str, Any]
    note: str = ""
    author: str = ""
    recorded_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-typed form, the inverse of reading an item from a file."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "date": self.date.isoformat(),
            "source": self.source,
            "grade": self.grade,
        }
        out.update(self.fields)
        if self.note:
            out["note"] = self.note
        if self.author:
            out["author"] = self.author
        if self.recorded_at is not None:
            out["recorded_at"] = self.recorded_at.isoformat()
        return out

    @property
    def recorded_date(self) -> dt.date | None:
        """Return the day the item was recorded, if known."""
        return None if self.recorded_at is None else self.recorded_at.date()


@dataclass(frozen=True)
class EvidenceSet:
    """The items in force, with the hash that identifies them and the date they were taken as of.

    ``as_of`` and ``as_recorded`` say how the items were chosen
    (:func:`in_force`); they go into a forecast's provenance, not into the hash.
    """

    items: tuple[Item, ...]
    path: Path | None = None
    sha256: str = field(default="")
    as_of: dt.date | None = None
    as_recorded: bool = False

    @classmethod
    def of(
        cls,
        items: Sequence[Item],
        path: Path | None = None,
        *,
        as_of: dt.date | None = None,
        as_recorded: bool = False,
    ) -> EvidenceSet:
        """Build a set and hash its items canonically (order-free).

        Who recorded an item is not part of the evidence: the same items
        recorded by two analysts hash alike (and share a stored fit).
        """
        bodies = [{k: v for k, v in i.to_dict().items() if k != "author"} for i in items]
        canon = json.dumps(sorted(bodies, key=lambda x: x["id"]), sort_keys=True, default=str)
        digest = hashlib.sha256(canon.encode()).hexdigest()
        return cls(tuple(items), path, digest, as_of, as_recorded)


def check_retractions(r: KeyReader, items: Sequence[Item], stored: Sequence[Item] = ()) -> None:
    """Refuse a retraction that names no recorded item, a retraction, or a retracted item.

    Parameters
    ----------
    r : KeyReader
        Names the file or ledger in the error.
    items : sequence of Item
        The new items (a file's, or a batch appended to a ledger).
    stored : sequence of Item
        What is already on record, retractions included.
    """
    known = {i.id: i for i in (*stored, *items)}
    retracted = {i.fields["retracts"]: i.id for i in stored if i.kind == "retraction"}
    for item in items:
        if item.kind != "retraction":
            continue
        target, key = item.fields["retracts"], f"items.{item.id}.retracts"
        if target not in known:
            raise r.fail(
                key,
                f"retracts unknown item {short(target)}.",
                "name the id of an item already recorded.",
            )
        if known[target].kind == "retraction":
            raise r.fail(
                key,
                f"{short(target)} is a retraction; a retraction cannot be retracted.",
                "record the retracted item again under a new id instead.",
            )
        if target in retracted:
            raise r.fail(
                key,
                f"{short(target)} is already retracted by {short(retracted[target])}.",
                "drop this retraction.",
            )
        retracted[target] = item.id


def in_force(
    items: Sequence[Item], as_of: dt.date | None = None, as_recorded: bool = False
) -> list[Item]:
    """Return the items that count, as of a date.

    Parameters
    ----------
    items : sequence of Item
        Everything recorded, retractions included.
    as_of : date, optional
        Keep items whose event date is on or before it. Retractions apply
        whatever their date: the record is corrected for the past too.
    as_recorded : bool
        Also leave out what was recorded after ``as_of``, retractions
        included: the record as it stood on that day.
    """

    def recorded_by(item: Item) -> bool:
        return (
            not as_recorded
            or as_of is None
            or (item.recorded_date is not None and item.recorded_date <= as_of)
        )

    retracted = {i.fields["retracts"] for i in items if i.kind == "retraction" and recorded_by(i)}
    return [
        i
        for i in items
        if i.kind != "retraction"
        and i.id not in retracted
        and (as_of is None or i.date <= as_of)
        and recorded_by(i)
    ]
