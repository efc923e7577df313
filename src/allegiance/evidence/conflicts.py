"""Analysts' calls the rest of the record contradicts, and questions picked near known events."""

from __future__ import annotations

from collections.abc import Sequence

from allegiance.evidence.items import Item
from allegiance.evidence.outcomes import departures, resolutions
from allegiance.spec import ModelSpec
from allegiance.spec.types import GRID


def contradictions(spec: ModelSpec, items: Sequence[Item]) -> list[str]:
    """Return a line for each ``resolution`` the record without it resolves the other way.

    A yes whose departure is on record only after the question's horizon, or a
    no with a departure on record by it, for example.

    Parameters
    ----------
    spec : ModelSpec
    items : sequence of Item
        Items in force (:func:`allegiance.evidence.in_force`).
    """
    record = resolutions(spec, [i for i in items if i.kind != "resolution"])
    out = []
    for call in items:
        if call.kind != "resolution" or call.fields["question"] not in record:
            continue
        question, found = spec.questions[call.fields["question"]], record[call.fields["question"]]
        if found.outcome != bool(call.fields["outcome"]):
            said = "yes" if call.fields["outcome"] else "no"
            by = f"item {found.item_id!r}" if found.item_id else "the record"
            out.append(
                f"items.{call.id} resolves {question.id} {said}, but {by} ({found.source}, "
                f"{found.date}) makes it {found.word} by its horizon {question.horizon}: "
                "correct the date of one, or retract one."
            )
    return out


NEAR_DAYS = 30  # a horizon this close to a known event was likely chosen knowing it


def hindsight(spec: ModelSpec, items: Sequence[Item], days: int = NEAR_DAYS) -> list[str]:
    """Return a line for each hand-picked question whose horizon sits near an event on record.

    A horizon within ``days`` of a departure on record of the question's own
    hazard (any departure, for a question of no hazard) was likely chosen
    knowing the event: a window that ends days after it, or two horizons that
    straddle it. Grid questions are fixed in advance and never flagged.

    Parameters
    ----------
    spec : ModelSpec
    items : sequence of Item
        The model's own record (everything dated, in force or not).
    days : int
    """
    events = departures(items).values()
    out = []
    for q in spec.questions.values():
        hazard = q.fields.get("hazard")
        if q.origin == GRID:
            continue
        for event in events:
            gap = (q.horizon - event.date).days
            if abs(gap) <= days and hazard in (None, event.fields["hazard"]):
                out.append(
                    f"questions.{q.id}.horizon {q.horizon} is {abs(gap)} days "
                    f"{'after' if gap >= 0 else 'before'} {event.id} ({event.date}) on record: "
                    "a horizon this near a known event carries hindsight; its score is apart "
                    "from the grid's, and the grid asks the same question unpicked."
                )
    return out
