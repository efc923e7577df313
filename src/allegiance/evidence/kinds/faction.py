"""``faction_event``: something an actor did, mapped onto the basic kind it amounts to.

``faction_event``
    Something an actor did, given as ``event``: ``public_split`` (it left:
    ``actor``, ``month``; an ``event``), ``appointment`` (how well it fared
    in a share-out: a level ``condition`` and its ``value``; a ``condition``),
    ``partial_defection`` or ``clash`` (``series``, ``category``, ``month``
    and ``count``, added to that month's count).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allegiance.evidence.kinds.base import COMMON_OPTIONAL, COMMON_REQUIRED, EvidenceKind
from allegiance.evidence.kinds.conditions import condition_fields, fill_condition
from allegiance.evidence.kinds.counts import count_fields, fill_added_count
from allegiance.evidence.kinds.hazards import event_fields, fill_event
from allegiance.reading import KeyReader, short
from allegiance.spec import ModelSpec

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item

FACTION_EVENTS: dict[str, tuple[str, ...]] = {
    "public_split": ("actor", "month"),
    "appointment": ("actor", "condition", "value"),
    "partial_defection": ("actor", "series", "category", "month", "count"),
    "clash": ("actor", "series", "category", "month", "count"),
}


def faction_event_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read a faction event's fields: those of the basic kind it amounts to, and its actor."""
    event = r.choice(body["event"], f"{key}.event", tuple(FACTION_EVENTS))
    needed = FACTION_EVENTS[event]
    optional = ("hazard", *COMMON_OPTIONAL) if event == "public_split" else COMMON_OPTIONAL
    r.keys(body, key, (*COMMON_REQUIRED, "event", *needed), optional)
    actor = r.ident(body["actor"], f"{key}.actor")
    if actor not in spec.actors:
        raise r.fail(
            f"{key}.actor", f"unknown actor {short(actor)}.", "name an actor of the model."
        )
    if event == "public_split":
        hazards = [
            p.id for p in spec.propensities.values() if p.kind == "hazard" and actor in p.actors
        ]
        if not hazards:
            fix = "name an actor that a hazard of the model lists."
            raise r.fail(f"{key}.actor", f"{short(actor)} is not at risk of leaving.", fix)
        fields = event_fields(r, {"hazard": hazards[0], **body}, key, spec)  # default hazard
    elif event == "appointment":
        fields = condition_fields(r, body, key, spec)
        if spec.conditions[fields["condition"]].kind != "level":
            raise r.fail(
                f"{key}.condition",
                "an appointment reports a level (a share of the spoils).",
                "name a level condition.",
            )
    else:
        fields = count_fields(r, body, key, spec)
    return {"event": event, "actor": actor, **fields}


def fill_faction_event(arrays: Arrays, item: Item) -> None:
    """Fill as the basic kind the event amounts to: an event, a level, or added events."""
    f = dict(item.fields)
    event = f.pop("event")
    if event == "public_split":
        fill_event(arrays, dataclasses.replace(item, kind="event", fields=f))
        return
    del f["actor"]
    if event == "appointment":
        fill_condition(arrays, dataclasses.replace(item, kind="condition", fields=f))
    else:
        fill_added_count(arrays, dataclasses.replace(item, fields=f))


FACTION_EVENT = EvidenceKind(
    "faction_event",
    ("event",),
    ("actor", "month", "hazard", "condition", "value", "series", "category", "count"),
    faction_event_fields,
    fill_faction_event,
)
