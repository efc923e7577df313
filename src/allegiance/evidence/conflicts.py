"""Analysts' calls the rest of the record contradicts."""

from __future__ import annotations

from collections.abc import Sequence

from allegiance.evidence.items import Item
from allegiance.evidence.outcomes import resolutions
from allegiance.spec import ModelSpec


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
