"""Items that record rather than measure: ``retraction``, ``outcome`` and ``resolution``.

``retraction``
    Withdraws the item named in ``retracts``; nothing is edited in place. What
    is in force (:func:`allegiance.evidence.items.in_force`) leaves out both.

``outcome``
    A chance outcome observed: ``target`` (``propensity.actor`` of a chance
    propensity, e.g. ``aligns_with_isk.haqqani``: the faction that left allied
    with IS-K) and ``value`` (true/false). Weighed by its grade as an observed
    condition is (:func:`allegiance.evidence.kinds.base.observed_log_likelihood`).
    With a departure on record, an observed alliance resolves the ``alliance``
    questions of that actor (:func:`allegiance.evidence.outcomes.resolutions`).
``resolution``
    How a ``question`` resolved: ``outcome`` yes or no (a yes dated on or
    before the horizon, a no on or after it). An outcome, not evidence: it
    moves no probability, and later forecasts show it instead of one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allegiance.evidence.kinds.base import EvidenceKind, observed_log_likelihood
from allegiance.reading import KeyReader, short
from allegiance.spec import ModelSpec
from allegiance.spec.types import GRID

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item

OUTCOMES = {"yes": True, "no": False, "true": True, "false": False}


def retraction_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read the id of the item a retraction withdraws."""
    return {"retracts": r.ident(body["retracts"], f"{key}.retracts")}


def fill_retraction(arrays: Arrays, item: Item) -> None:
    """Fill nothing: a retraction and the item it withdraws are not in force."""


def outcome_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Validate an observed chance outcome."""
    node, _, actor = r.text(body["target"], f"{key}.target").partition(".")
    chances = [f"{n}.{a}" for n, a in spec.slots if spec.propensities[n].kind == "chance"]
    if f"{node}.{actor}" not in chances:
        raise r.fail(
            f"{key}.target",
            f"{short(body['target'])} is not a chance outcome of this model.",
            "use one of: " + ", ".join(chances) + ".",
        )
    return {"target": f"{node}.{actor}", "value": r.boolean(body["value"], f"{key}.value")}


def resolution_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Validate how a question resolved, against its horizon."""
    qid = r.member(body["question"], f"{key}.question", spec.questions, "question")
    if spec.questions[qid].origin == GRID:
        raise r.fail(
            f"{key}.question",
            f"{qid} is a question of the model's grid: it resolves by the record's rules only "
            "(a dated event, a no_event, or a public hazard's silence), never by a call.",
            "record the event itself (kind: event) or a no_event, not a resolution.",
        )
    outcome = (
        OUTCOMES.get(str(body["outcome"]).lower())
        if not isinstance(body["outcome"], bool)
        else body["outcome"]
    )
    if outcome is None:
        raise r.fail(
            f"{key}.outcome",
            f"expected yes or no, got {short(body['outcome'])}.",
            "write yes or no.",
        )
    horizon, when = spec.questions[qid].horizon, r.date(body["date"], f"{key}.date")
    if outcome and when > horizon:
        raise r.fail(
            f"{key}.date",
            f"the event on {when} came after the question's horizon {horizon}: it resolves no.",
            "record outcome: no, dated on or after the horizon.",
        )
    if not outcome and when < horizon:
        raise r.fail(
            f"{key}.date",
            f"a question resolves no only once its horizon ({horizon}) has passed.",
            "date the resolution on or after the horizon.",
        )
    return {"question": qid, "outcome": outcome}


def fill_outcome(arrays: Arrays, item: Item) -> None:
    """Record an observed chance outcome, once: a report with the ratio its grade allows."""
    f = item.fields
    node, _, actor = f["target"].partition(".")
    k = arrays.spec.slots.index((node, actor))
    if not arrays.first(("outcome", k), item, f["target"]):
        return
    seen, other = observed_log_likelihood(item.grade)
    arrays.data.slot_log_lr[k] += (seen - other) if f["value"] else (other - seen)


def fill_resolution(arrays: Arrays, item: Item) -> None:
    """Check a resolution against the others of its question: an outcome, not evidence."""
    f, where = item.fields, ("resolution", item.fields["question"])
    if where in arrays.observed and arrays.observed[where].fields != f:
        raise arrays.r.fail(
            f"items.{item.id}",
            f"resolves {f['question']!r} otherwise than item {arrays.observed[where].id!r}.",
            "keep one; a correction retracts the other.",
        )
    arrays.observed[where] = item


RETRACTION = EvidenceKind("retraction", ("retracts",), (), retraction_fields, fill_retraction)
OUTCOME = EvidenceKind("outcome", ("target", "value"), (), outcome_fields, fill_outcome)
RESOLUTION = EvidenceKind(
    "resolution", ("question", "outcome"), (), resolution_fields, fill_resolution
)
