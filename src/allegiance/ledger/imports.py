"""Evidence files imported into a ledger: what the record lacks, in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from allegiance.evidence import Item, parse_items
from allegiance.ledger.connection import _now
from allegiance.ledger.items import ItemStore
from allegiance.reading import KeyReader, short


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
    """Importing an evidence file: an export read back, or a batch prepared elsewhere."""

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
        with self._writing() as conn:
            stamp = _now(now)
            stored = self._items(conn)
            on_record = {i.id: i for i in stored}
            new, keys = [], []
            for n, item in enumerate(items):
                old = on_record.get(item.id)
                if old is not None and same_item(old, item):
                    continue
                if old is not None:
                    raise r.fail(
                        f"items[{n}].id",
                        f"the ledger already holds an item {short(item.id)} that says "
                        "something else.",
                        "give the new item its own id; correct an item by retracting it.",
                    )
                if author and not item.author and item.recorded_at is None:
                    item = dataclasses.replace(item, author=author)
                new.append(item)
                keys.append(f"items[{n}]")
            # An empty ledger starts as a first use would have; the file's own items,
            # with their recording times, take the place of any of the same id.
            taken = {i.id for i in new}
            start = [] if stored else [i for i in start_with if i.id not in taken]
            _not_backdated(r, new, keys, stored)
            checked = self._validate(
                [*start, *new],
                stored,
                stamp,
                r,
                [f"(start) items[{j}]" for j in range(len(start))] + keys,
            )
            self._insert(conn, checked)
        return Imported(checked[len(start) :], len(items) - len(new), len(start))


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
