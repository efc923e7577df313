"""Evidence on a stock: ``strength``, an estimate of a group's fighters.

``strength``
    An estimate of a ``stock`` (a group's fighters) on the item's date, as a
    ``range`` ``[low, high]`` ("1,000-2,200 fighters"), weighed by its grade.
    It is read once every count and departure is in
    (:meth:`allegiance.evidence.arrays.Arrays.finish`), since the counts and
    merges up to its month enter its likelihood.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allegiance.evidence.kinds.base import MAX_COUNT, EvidenceKind
from allegiance.reading import KeyReader, short
from allegiance.spec import ModelSpec

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item


def strength_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read an estimate of a stock on the item's date: a range of fighters, ``[low, high]``."""
    sid = r.member(body["stock"], f"{key}.stock", spec.stocks, "stock")
    bounds = body["range"]
    if not (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        and all(0 < b <= MAX_COUNT for b in bounds)
    ):
        raise r.fail(
            f"{key}.range",
            f"expected [low, high], positive numbers of fighters, got {short(bounds)}.",
            "write e.g. range: [1000, 2200].",
        )
    low, high = bounds
    if not low < high:
        raise r.fail(
            f"{key}.range",
            f"low {low} is not below high {high}.",
            "an estimate is a range: give a single figure's uncertainty as [low, high].",
        )
    return {"stock": sid, "range": [low, high]}


def fill_strength(arrays: Arrays, item: Item) -> None:
    """Keep the estimate for the end, once the counts and departures are all in."""
    arrays.strengths.append(item)


STRENGTH = EvidenceKind("strength", ("stock", "range"), (), strength_fields, fill_strength)
