"""Items recorded elsewhere appended as recorded: what the record lacks, in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from allegiance.errors import EvidenceError
from allegiance.evidence import Item, parse_items
from allegiance.ledger.connection import _now
from allegiance.ledger.items import ItemStore
from allegiance.reading import KeyReader, short

Conflict = Callable[[int, Item, Item], EvidenceError]
"""``conflict(i, held, item)``: the refusal of ``item``, the i-th, held as ``held`` but other."""


@dataclass(frozen=True)
class Imported:
    """What an import did.

    Attributes
    ----------
    recorded : list of Item
        The file's items recorded now, as recorded.
    already : int
        The file's items the record already held, the same (left out).
    started_with : int
        Items the new ledger was started with besides the file's (the model's
        shipped evidence), recorded in the same transaction.
    """

    recorded: list[Item]
    already: int
    started_with: int


def same_item(a: Item, b: Item) -> bool:
    """Return whether two items say the same thing, whenever and by whomever each was recorded.

    Parameters
    ----------
    a, b : Item

    Returns
    -------
    bool
        True when every field but ``recorded_at`` and ``author`` is equal.
    """

    def canon(item: Item) -> str:
        return json.dumps(
            dataclasses.replace(item, recorded_at=None, author="").to_dict(),
            sort_keys=True,
            default=str,
        )

    return canon(a) == canon(b)


class FileImports(ItemStore):
    """Items recorded elsewhere: an evidence file, or another ledger's (a move, see migrate)."""

    def import_file(
        self,
        path: str | Path,
        *,
        start_with: Sequence[Item] = (),
        now: dt.datetime | None = None,
        author: str = "",
    ) -> Imported:
        """Record the items of a YAML or CSV evidence file that the ledger does not hold yet.

        A file item the ledger already holds, the same in every field but its
        recording time, is left out: an export imports back, and a file
        imported twice records nothing the second time. A retraction in the
        file may name an item of the ledger. Into an empty ledger, the file
        comes with ``start_with`` (the model's shipped evidence, as a first
        use would have recorded it) and keeps its own recording times; into a
        ledger that holds items, a file item recorded before the latest of
        them is refused, because it would rewrite the record as it stood.

        Parameters
        ----------
        path : str or Path
            The file.
        start_with : sequence of Item
            Items an empty ledger starts with.
        now : datetime, optional
            The recording time of items without their own.
        author : str
            Who imports: the author of the file's items that the ledger stamps
            now and that name none. Items with their own recording time (an
            export) keep theirs as it was.

        Returns
        -------
        Imported

        Raises
        ------
        EvidenceError
            Naming the file and the item's key, for a malformed item, an id the
            ledger holds with other content, a backdated item, a retraction of
            an unknown item, or a contradiction with what is in force. Nothing
            is then recorded.
        """
        r, items = parse_items(path, self.spec)
        items = [_by(author, i) for i in items]
        return self.append_recorded(items, start_with=start_with, now=now, reader=r)

    def append_recorded(
        self,
        items: Sequence[Item],
        *,
        start_with: Sequence[Item] = (),
        now: dt.datetime | None = None,
        reader: KeyReader | None = None,
        backdated: bool = False,
        conflict: Conflict | None = None,
        then: Callable[[Connection], object] | None = None,
    ) -> Imported:
        """Record items as recorded elsewhere, keeping their recording times, order and authors.

        One transaction under the write lock: an item the ledger holds, the same
        but for its recording time and author, is left out (a second run records
        nothing); the rest are checked as by :meth:`append` (ids, retractions,
        contradictions) and recorded in order, those without ``recorded_at``
        stamped ``now``. A refusal records nothing.

        Parameters
        ----------
        items : sequence of Item
            Oldest first, e.g. a file's or another ledger's.
        start_with : sequence of Item
            Items an empty ledger starts with, before ``items`` (less their ids).
        now : datetime, optional
            The recording time of items without their own (default: now).
        reader : KeyReader, optional
            Names the source in refusals (default: the ledger); ``items[i]`` the i-th item.
        backdated : bool
            Take items recorded before the ledger's latest, which an import refuses.
        conflict : Conflict, optional
            The refusal of an id the ledger holds with other content (default: an import's).
        then : callable, optional
            Given the connection after the items are written: other rows, same transaction.

        Returns
        -------
        Imported

        Raises
        ------
        EvidenceError
            Naming the item's key: malformed, an id held with other content,
            backdated, retracting an unknown item, or contradicting what is in force.
        """
        r = reader or self._reader
        with self._writing() as conn:
            stamp = _now(now)
            stored = self._items(conn)
            new, keys = _lacking(items, stored, conflict or _conflict(r))
            start = _started(start_with, stored, new)
            if not backdated:
                _not_backdated(r, new, keys, stored)
            batch, keys = [*start, *new], [f"(start) items[{j}]" for j in range(len(start))] + keys
            checked = self._validate(batch, stored, stamp, r, keys) if batch else []
            self._insert(conn, checked)
            if then is not None:
                then(conn)
        return Imported(checked[len(start) :], len(items) - len(new), len(start))


def _started(start_with: Sequence[Item], stored: Sequence[Item], new: Sequence[Item]) -> list[Item]:
    """Return what an empty ledger starts with, as a first use would have recorded it.

    The new items, with their recording times, take the place of any of the same id.
    """
    taken = {i.id for i in new}
    return [] if stored else [i for i in start_with if i.id not in taken]


def _by(author: str, item: Item) -> Item:
    """Give an item that names no author and is stamped now the importer's name."""
    if not author or item.author or item.recorded_at is not None:
        return item
    return dataclasses.replace(item, author=author)


def _conflict(r: KeyReader) -> Conflict:
    def refusal(n: int, held: Item, item: Item) -> EvidenceError:
        return r.fail(
            f"items[{n}].id",
            f"the ledger already holds an item {short(item.id)} that says something else.",
            "give the new item its own id; correct an item by retracting it.",
        )

    return refusal


def _lacking(
    items: Sequence[Item], stored: Sequence[Item], conflict: Conflict
) -> tuple[list[Item], list[str]]:
    """Return the items the ledger lacks, and their keys; refuse an id held with other content."""
    held = {i.id: i for i in stored}
    new, keys = [], []
    for n, item in enumerate(items):
        old = held.get(item.id)
        if old is not None and not same_item(old, item):
            raise conflict(n, old, item)
        if old is None:
            new.append(item)
            keys.append(f"items[{n}]")
    return new, keys


def _not_backdated(
    r: KeyReader, batch: Sequence[Item], keys: Sequence[str], stored: Sequence[Item]
) -> None:
    """Refuse an imported item recorded before the latest item already in the ledger."""
    stamps = [i.recorded_at for i in stored if i.recorded_at is not None]
    if not stamps:  # an empty ledger takes a file's own history
        return
    latest = max(stamps)
    for key, item in zip(keys, batch, strict=True):
        own = item.recorded_at
        if own is not None and own.astimezone(dt.UTC) < latest:
            raise r.fail(
                f"{key}.recorded_at",
                f"{item.id!r} says it was recorded at {own.isoformat()}, before the latest "
                f"item already in the ledger ({latest.isoformat()}): importing it would "
                "rewrite the record as it stood then.",
                "remove recorded_at to have the ledger stamp the item now.",
            )
