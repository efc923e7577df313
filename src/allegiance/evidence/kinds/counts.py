"""Evidence on the count series: ``count``, a month's total, sourced or estimated.

``count``
    Counts in one month: ``series``, ``category``, ``month`` (YYYY-MM) and
    ``count``: a whole number, or an estimate ``{about: 20, range: [5, 50]}``
    that enters as the chance the month's total lies in the range.

Single events added to a month (a faction's ``clash``) enter through
:func:`fill_added_count`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allegiance.evidence.kinds.base import MAX_COUNT, EvidenceKind, whole
from allegiance.model.data import MAX_ESTIMATES
from allegiance.reading import KeyReader, iso_date, short
from allegiance.spec import ModelSpec, months_between
from allegiance.words import grade_weight

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item


def count_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read a month's count of a channel: a whole number, or an estimate for a ``count``."""
    sid = r.member(body["series"], f"{key}.series", spec.series, "series")
    cat = r.ident(body["category"], f"{key}.category")
    if cat not in spec.series[sid].categories:
        raise r.fail(
            f"{key}.category",
            f"{short(cat)} is not a category of {short(sid)}.",
            "use one of: " + ", ".join(spec.series[sid].categories) + ".",
        )
    month = str(body["month"])
    try:
        first = iso_date(f"{month}-01")
    except ValueError:
        raise r.fail(f"{key}.month", f"{short(month)} is not a month.", "write YYYY-MM.") from None
    offset = months_between(spec.analysis_date, first)
    if not -spec.history_months <= offset < spec.forward_months:
        raise r.fail(
            f"{key}.month",
            f"{month} is outside the model's count window "
            f"({spec.history_months} months before the analysis date to the last horizon).",
            "drop the item or widen 'history_months' in the model file.",
        )
    count = body["count"]
    if isinstance(count, Mapping) and body.get("kind") == "count":
        count = _estimate_fields(r, count, f"{key}.count")
    elif not whole(count):
        raise r.fail(
            f"{key}.count",
            f"expected a whole number >= 0, got {str(count)[:40]}.",
            "a monthly count is at most 10**9; a monthly total estimated by a source is "
            "{about: 20, range: [5, 50]} (about optional).",
        )
    return {"series": sid, "category": cat, "month": month, "count": count}


def _estimate_fields(r: KeyReader, body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Validate an estimated monthly total: its range, and optionally a central figure."""
    r.keys(body, key, ("range",), ("about",))
    bounds = body["range"]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(whole, bounds))):
        raise r.fail(
            f"{key}.range",
            f"expected [low, high], whole numbers, got {short(bounds)}.",
            f"write two whole numbers from 0 to {MAX_COUNT}, e.g. [5, 50].",
        )
    low, high = bounds
    if low > high:
        raise r.fail(f"{key}.range", f"low {low} is above high {high}.", "write [low, high].")
    about = body.get("about", low)
    if not whole(about) or not low <= about <= high:
        raise r.fail(
            f"{key}.about",
            f"about {short(about)} is not a whole number in the range {bounds}.",
            "write the central figure as a whole number inside the range, or leave it out.",
        )
    return {"range": [low, high], **({"about": about} if "about" in body else {})}


def fill_count(arrays: Arrays, item: Item) -> None:
    """Record a month's total, once: sourced (the cell and its grade) or estimated."""
    f, data = item.fields, arrays.data
    c, t = arrays.cell(f)
    if (c, t) in arrays.added:
        raise arrays.r.fail(
            f"items.{item.id}",
            f"gives a monthly total where event item {arrays.added[(c, t)].id!r} already adds.",
            "record either the monthly total or the single events, not both.",
        )
    about = f"the total of {f['series']}.{f['category']} in {f['month']}"
    if not arrays.first(("count", c, t), item, about):
        return
    if isinstance(f["count"], Mapping):
        _fill_estimate(arrays, item, c, t, f["count"])
    else:
        data.counts[c, t], data.count_mask[c, t] = f["count"], grade_weight(item.grade)


def _fill_estimate(arrays: Arrays, item: Item, c: int, t: int, count: Mapping[str, Any]) -> None:
    """Record an estimated monthly total: the chance it lies in its range, weighed."""
    e, data = arrays.estimates, arrays.data
    if e == MAX_ESTIMATES:
        raise arrays.r.fail(
            f"items.{item.id}",
            f"more than {MAX_ESTIMATES} estimated monthly totals are in force.",
            "give older months as sourced totals, or retract estimates they replace.",
        )
    data.estimate_low[e], data.estimate_high[e] = count["range"]
    data.estimate_weight[e] = grade_weight(item.grade)
    data.estimate_channel[e, c] = 1.0
    data.estimate_post[e] = float(t >= arrays.spec.history_months)
    arrays.estimate_cells.append((c, t))
    arrays.estimates += 1


def fill_added_count(arrays: Arrays, item: Item) -> None:
    """Add single events to a month's count, unless a total of that month is on record."""
    f, data = item.fields, arrays.data
    c, t = arrays.cell(f)
    total = ("count", c, t)
    if total in arrays.observed:
        raise arrays.r.fail(
            f"items.{item.id}",
            f"adds to a month whose total item {arrays.observed[total].id!r} already gives.",
            "record either the monthly total or the single events, not both.",
        )
    weight = grade_weight(item.grade)
    earlier = data.count_mask[c, t]
    arrays.added[(c, t)] = item
    data.counts[c, t] += f["count"]
    # A sum is only as sure as its least reliable part.
    data.count_mask[c, t] = min(earlier, weight) if earlier else weight


COUNT = EvidenceKind(
    "count", ("series", "category", "month", "count"), (), count_fields, fill_count
)
