"""What happened: the questions the record resolves, and what time passing says.

A question is resolved by a ``resolution`` item (an analyst's call, with its
source), or, for a ``leaves`` or ``event`` question, by a departure on record: an
``event`` (or a ``public_split``) of its actor under its hazard dated on or
before the horizon; a ``count`` question once the counts on record in its
window reach its threshold; an ``alliance`` question by one of its actors' departure
and an observed ``outcome`` that it allied (its ``aligns`` outcome true),
both by the horizon; an ``absorption`` question once the counts on record
and the factions seen merging reach its threshold; an ``escalation`` question
once the counts since the analysis month reach its ratio of the past rate on
record. Retractions apply as to any item (:func:`in_force`).

A *public* hazard (``public: true`` in the model file, with an optional
``public_after_months`` lag) is one whose event would be news: no record of it
by a date is survival through that date, less the lag (:func:`time_passing`),
and a ``leaves`` or ``event`` question on it closes as no once its horizon, plus the lag,
has passed with no departure on record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from allegiance.evidence.items import Item
from allegiance.spec import ModelSpec, Question, count_threshold, months_between


@dataclass(frozen=True)
class Resolution:
    """How a question resolved, and the item on record that says so."""

    question: str
    outcome: bool
    date: dt.date
    source: str
    item_id: str

    @property
    def word(self) -> str:
        """Return ``yes`` or ``no``."""
        return "yes" if self.outcome else "no"


def resolutions(
    spec: ModelSpec, items: Sequence[Item], as_of: dt.date | None = None
) -> dict[str, Resolution]:
    """Return the resolved questions among items in force, by question id.

    Parameters
    ----------
    spec : ModelSpec
        The model whose questions are resolved.
    items : sequence of Item
        Items in force (:func:`allegiance.evidence.in_force`).
    as_of : date, optional
        The day of the record (today without one): a ``leaves`` question on a
        public hazard whose horizon (plus the lag) has passed by then with no
        departure on record resolves no.
    """
    as_of = as_of or dt.date.today()
    out: dict[str, Resolution] = {}
    for item in items:
        if item.kind == "resolution":
            f = item.fields
            out[f["question"]] = Resolution(
                f["question"], bool(f["outcome"]), item.date, item.source, item.id
            )
    left = departures(items)
    for qid, question in spec.questions.items():
        if qid not in out and question.kind in RESOLVED_BY_RECORD:
            found = RESOLVED_BY_RECORD[question.kind](spec, question, left, items)
            if found is not None:
                out[qid] = found
        if qid in out or question.kind not in ("leaves", "event"):
            continue
        actor = question.fields.get("actor", "")
        hazard = question.fields["hazard"]
        item = left.get((hazard, actor))
        if item is not None and item.date <= question.horizon:
            out[qid] = Resolution(qid, True, item.date, item.source, item.id)
            continue
        lag = spec.propensities[hazard].public_after_months
        closed = None if lag is None else add_months(question.horizon, lag)
        if closed is not None and as_of >= closed:
            source = f"no departure on record by the horizon ({hazard} is public)"
            out[qid] = Resolution(qid, False, closed, source, "")
    return out


def _seen_true(question: Question, items: Sequence[Item]) -> dict[str, Item]:
    """Chance outcomes observed true by the question's horizon, by target."""
    return {
        i.fields["target"]: i
        for i in items
        if i.kind == "outcome" and i.fields["value"] and i.date <= question.horizon
    }


def _alliance(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Resolution | None:
    """Yes when one of the question's actors left and was seen allied, both by the horizon."""
    f, seen = question.fields, _seen_true(question, items)
    for actor in f["actors"]:
        gone, allied = left.get((f["hazard"], actor)), seen.get(f"{f['aligns']}.{actor}")
        if gone is not None and allied is not None and gone.date <= question.horizon:
            when = max(gone.date, allied.date)
            return Resolution(question.id, True, when, allied.source, allied.id)
    return None


def _absorption(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Resolution | None:
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
) -> Resolution | None:
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


def _exits(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Resolution | None:
    """Yes when one of the question's actors left for one of its destinations by the horizon."""
    f = question.fields
    for actor in f["actors"]:
        gone = left.get((f["hazard"], actor))
        if (
            gone is not None
            and gone.date <= question.horizon
            and gone.fields.get("destination") in f["destinations"]
        ):
            return Resolution(question.id, True, gone.date, gone.source, gone.id)
    return None


def _count(
    spec: ModelSpec, question: Question, left: dict[tuple[str, str], Item], items: Sequence[Item]
) -> Resolution | None:
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
) -> Resolution | None:
    """Yes on the day the running total of dated gains first reaches ``needed``."""
    total = 0.0
    for when, gain, item in sorted(gains, key=lambda x: x[0]):
        total += gain
        if total >= needed and when <= question.horizon:
            return Resolution(question.id, True, when, item.source, item.id)
    return None


RESOLVED_BY_RECORD = {
    "alliance": _alliance,
    "absorption": _absorption,
    "escalation": _escalation,
    "count": _count,
    "exits": _exits,
    "fighters_leave": _count,
}


def departures(items: Sequence[Item]) -> dict[tuple[str, str], Item]:
    """Return the departures on record, by (hazard, actor): ``event`` and ``public_split`` items."""
    return {
        (i.fields["hazard"], i.fields["actor"]): i
        for i in items
        if i.kind == "event" or (i.kind == "faction_event" and i.fields["event"] == "public_split")
    }


def time_passing(
    spec: ModelSpec, items: Sequence[Item], as_of: dt.date | None, *, every_hazard: bool = False
) -> list[Item]:
    """Return the survival that no record of a public hazard's event implies, as items.

    For each actor at risk of a public hazard with no departure on record, a
    ``no_event`` through the as-of date (today without one) less the lag,
    within the forecast window. Explicit ``no_event`` items still count for
    hazards that are not public. With ``every_hazard``, every hazard counts
    as public with no lag (the time-only baseline).
    """
    when = as_of or dt.date.today()
    end = add_months(spec.analysis_date.replace(day=1), spec.forward_months)
    left = departures(items)
    out = []
    for node, actor in spec.slots:
        lag = spec.propensities[node].public_after_months
        if every_hazard and spec.propensities[node].kind == "hazard":
            lag = 0
        if lag is None or (node, actor) in left:
            continue
        through = min(add_months(when, -lag), end)
        if through <= spec.analysis_date:
            continue
        out.append(
            Item(
                f"time_passing_{node}_{actor}" if actor else f"time_passing_{node}",
                "no_event",
                through,
                f"time passing: no record of {node}{f' for {actor}' if actor else ''} "
                f"({node} is public)",
                "A1",
                {"hazard": node, "actor": actor, "through": through.isoformat()},
            )
        )
    return out


def with_time_passing(spec: ModelSpec, items: Sequence[Item], as_of: dt.date | None) -> list[Item]:
    """Return items in force with the survival that public hazards imply added."""
    return [*items, *time_passing(spec, items, as_of)]


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` calendar months later (earlier if negative), clamped."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31,
            30, 31, 31, 30, 31, 30, 31][month]  # fmt: skip
    return dt.date(year, month + 1, min(day.day, last))
