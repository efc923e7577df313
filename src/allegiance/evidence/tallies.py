"""Running totals on record that settle a question: counts, escalations and absorptions.

A kind names its tally in its declaration (:func:`allegiance.spec.fields.tally`);
:data:`TALLIES` holds them by that name. Each returns the day the running total
on record reached the question's threshold, and the item that took it there
(a yes), or None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np

from allegiance.evidence.items import Item
from allegiance.spec import ModelSpec, Question, count_threshold, months_between

Crossing = tuple[dt.date, Item]  # the day a running total reached its threshold, and the item
TallyFunction = Callable[
    [ModelSpec, Question, dict[tuple[str, str], Item], Sequence[Item]], Crossing | None
]


def _seen_true(question: Question, items: Sequence[Item]) -> dict[str, Item]:
    """Chance outcomes observed true by the question's horizon, by target."""
    return {
        i.fields["target"]: i
        for i in items
        if i.kind == "outcome" and i.fields["value"] and i.date <= question.horizon
    }


def _absorption(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Crossing | None:
    """Yes once the counts on record and the factions seen merging reach the threshold.

    Counts of the question's channel in the months it covers count in full
    (their grade weighs their likelihood, not the number); a faction counts
    with its fighters once its departure, its alliance and its merger are all
    on record by the horizon. The day is the one the running total crossed.
    """
    f, seen = question.fields, _seen_true(question, items)
    gains = [
        (i.date, n, i)
        for month, n, i in _counted(spec, question, items)
        if 0 <= month < question.horizon_months
    ]
    for actor in f["actors"]:
        parts = [
            left.get((f["hazard"], actor)),
            seen.get(f"{f['aligns']}.{actor}"),
            seen.get(f"{f['joins']}.{actor}"),
        ]
        if all(p is not None and p.date <= question.horizon for p in parts):
            last = max((p for p in parts if p is not None), key=lambda p: p.date)
            gains.append((last.date, float(spec.actors[actor].fighters), last))
    return _crossed(question, gains, float(f["threshold"]))


def _escalation(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Crossing | None:
    """Yes once the counts since the analysis month reach the ratio of the past rate.

    The past rate is the mean of the exact monthly totals on record before the
    analysis month (none on record: no resolution from the record); the
    threshold is the ratio times the horizon's months at that rate.
    """
    counted = _counted(spec, question, items)
    past: dict[int, float] = {}
    for month, n, i in counted:
        if month < 0 and not isinstance(i.fields["count"], dict):
            past[month] = past.get(month, 0.0) + n
    if not past:
        return None
    needed = (
        float(question.fields["ratio"]) * question.horizon_months * float(np.mean([*past.values()]))
    )
    gains = [(i.date, n, i) for month, n, i in counted if 0 <= month < question.horizon_months]
    return _crossed(question, gains, needed)


def _count(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Crossing | None:
    """Yes once the counts on record in the question's window reach its threshold."""
    start = question.fields.get("start")
    first = 0 if start is None else months_between(spec.analysis_date, start)
    gains = [
        (i.date, n, i)
        for month, n, i in _counted(spec, question, items)
        if first <= month < question.horizon_months
    ]
    return _crossed(question, gains, count_threshold(spec, question))


def _counted(
    spec: ModelSpec, question: Question, items: Sequence[Item]
) -> list[tuple[int, float, Item]]:
    """Return the counts on record of the question's channel: (month, count, item).

    Months count from the analysis month (negative before it).
    A count counts in full whatever its grade (the grade weighs its likelihood,
    not the number); an estimate counts at its low end.
    """
    f, out = question.fields, []
    for i in items:
        g = i.fields
        counted = i.kind == "count" or (
            i.kind == "faction_event" and g["event"] in ("partial_defection", "clash")
        )
        if counted and (g["series"], g["category"]) == (f["series"], f["category"]):
            month = months_between(spec.analysis_date, dt.date.fromisoformat(f"{g['month']}-01"))
            n = g["count"]["range"][0] if isinstance(g["count"], dict) else g["count"]
            out.append((month, float(n), i))
    return out


def _crossed(
    question: Question, gains: list[tuple[dt.date, float, Item]], needed: float
) -> Crossing | None:
    """Yes on the day the running total of dated gains first reaches ``needed``."""
    total = 0.0
    for when, gain, item in sorted(gains, key=lambda x: x[0]):
        total += gain
        if total >= needed and when <= question.horizon:
            return when, item
    return None


TALLIES: dict[str, TallyFunction] = {
    "absorption": _absorption,
    "escalation": _escalation,
    "count": _count,
}
