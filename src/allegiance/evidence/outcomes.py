"""What happened: the questions the record resolves, and how.

A question is resolved by a ``resolution`` item (an analyst's call, with its
source), or, for a ``leaves`` question, by a departure on record: an
``event`` (or a ``public_split``) of its actor under its hazard dated on or
before the horizon. Retractions apply as to any item (:func:`in_force`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from allegiance.evidence.items import Item
from allegiance.spec import ModelSpec


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


def resolutions(spec: ModelSpec, items: Sequence[Item]) -> dict[str, Resolution]:
    """Return the resolved questions among items in force, by question id.

    Parameters
    ----------
    spec : ModelSpec
        The model whose questions are resolved.
    items : sequence of Item
        Items in force (:func:`allegiance.evidence.in_force`).
    """
    out: dict[str, Resolution] = {}
    for item in items:
        if item.kind == "resolution":
            f = item.fields
            out[f["question"]] = Resolution(
                f["question"], bool(f["outcome"]), item.date, item.source, item.id
            )
    departures = {
        (f["hazard"], f["actor"]): item
        for item in items
        for f in [item.fields]
        if item.kind == "event" or (item.kind == "faction_event" and f["event"] == "public_split")
    }
    for qid, question in spec.questions.items():
        if qid in out or question.kind != "leaves":
            continue
        actor = question.fields["actor"]
        hazard = question.fields["hazard"]
        item = departures.get((hazard, actor))
        if item is not None and item.date <= question.horizon:
            out[qid] = Resolution(qid, True, item.date, item.source, item.id)
    return out
