"""Evidence on a hazard's event: ``no_event`` (time passing) and ``event``.

``no_event``
    The event of a ``hazard`` did not happen for ``actor`` (none for a hazard
    of no one actor) from the analysis date ``through`` a date.
``event``
    It happened in ``month`` (YYYY-MM), and, for a hazard with destinations,
    it went to ``destination`` (optional).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allegiance.evidence.kinds.base import EvidenceKind
from allegiance.reading import KeyReader, iso_date, short
from allegiance.spec import ModelSpec, months_between
from allegiance.words import grade_weight

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item


def hazard_slot(r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec) -> str:
    """Check the item's hazard and actor; return the actor ("" for a hazard of no one actor)."""
    node = r.ident(body["hazard"], f"{key}.hazard")
    if node not in spec.propensities or spec.propensities[node].kind != "hazard":
        known = [p.id for p in spec.propensities.values() if p.kind == "hazard"]
        raise r.fail(
            f"{key}.hazard",
            f"{short(node)} is not a hazard of the model.",
            "use one of: " + ", ".join(known) + ".",
        )
    members = spec.propensities[node].actors
    if not members:
        if body.get("actor"):
            raise r.fail(
                f"{key}.actor", f"{short(node)} is a hazard of no one actor.", "leave it out."
            )
        return ""
    if "actor" not in body:
        raise r.fail(f"{key}.actor", "missing required key.", "add 'actor'.")
    actor = r.ident(body["actor"], f"{key}.actor")
    if actor not in members:
        raise r.fail(
            f"{key}.actor",
            f"{short(actor)} is not at risk under {short(node)}.",
            "use one of: " + ", ".join(members) + ".",
        )
    return actor


def _forward_month(r: KeyReader, value: Any, key: str, spec: ModelSpec, *, day: bool) -> int:
    """Months from the analysis date to a date (``day``) or a YYYY-MM month, inside the window."""
    if day:
        when = r.date(value, key)
    else:
        try:
            when = iso_date(f"{value}-01")
        except ValueError:
            raise r.fail(key, f"{short(value)} is not a month.", "write YYYY-MM.") from None
    months = months_between(spec.analysis_date, when)
    if not 0 <= months <= spec.forward_months:
        raise r.fail(
            key,
            f"{value} is outside the forecast window ({spec.analysis_date} "
            f"plus {spec.forward_months} months).",
            "check the date.",
        )
    return months


def no_event_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read a ``no_event`` item's fields."""
    actor = hazard_slot(r, body, key, spec)
    _forward_month(r, body["through"], f"{key}.through", spec, day=True)
    return {
        "hazard": body["hazard"],
        "actor": actor,
        "through": r.date(body["through"], f"{key}.through").isoformat(),
    }


def event_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read an ``event`` item's fields, its destination checked against the hazard's."""
    actor = hazard_slot(r, body, key, spec)
    _forward_month(r, body["month"], f"{key}.month", spec, day=False)
    out = {"hazard": body["hazard"], "actor": actor, "month": str(body["month"])}
    if body.get("destination"):
        known = spec.propensities[body["hazard"]].destinations
        if r.ident(body["destination"], f"{key}.destination") not in known:
            raise r.fail(
                f"{key}.destination",
                f"{short(body['destination'])} is not a destination of {short(body['hazard'])}.",
                "use one of: " + (", ".join(known) or "(none declared)") + ".",
            )
        out["destination"] = body["destination"]
    return out


def fill_no_event(arrays: Arrays, item: Item) -> None:
    """Keep the latest date a slot's event had not happened by (applied when all are in)."""
    f = item.fields
    k = arrays.spec.slots.index((f["hazard"], f["actor"]))
    months = months_between(arrays.spec.analysis_date, dt.date.fromisoformat(f["through"]))
    if months > arrays.survived.get(k, (-1, item))[0]:
        arrays.survived[k] = (months, item)


def fill_event(arrays: Arrays, item: Item) -> None:
    """Record a slot's event, once: its month and, weighed by its grade, where it went."""
    f, spec, data = item.fields, arrays.spec, arrays.data
    k = spec.slots.index((f["hazard"], f["actor"]))
    about = "the event of " + ".".join(filter(None, (f["hazard"], f["actor"])))
    if not arrays.first(("event", k), item, about):
        return
    first = dt.date.fromisoformat(f"{f['month']}-01")
    data.slot_events[k] = 1.0
    data.slot_nonevents[k] = months_between(spec.analysis_date, first)
    if f.get("destination"):  # where it went, weighed by the grade of the report
        x = spec.exits.index((f["hazard"], f["actor"], f["destination"]))
        data.exit_observed[x] = grade_weight(item.grade)


NO_EVENT = EvidenceKind(
    "no_event", ("hazard", "through"), ("actor",), no_event_fields, fill_no_event
)
EVENT = EvidenceKind(
    "event", ("hazard", "month"), ("actor", "destination"), event_fields, fill_event
)
