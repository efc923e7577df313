"""The registry of evidence kinds, and an item read against it.

An evidence file is YAML with ``schema_version: 1``, the ``model`` id it
belongs to and a list of ``items``. Every item has an ``id``, a ``kind``, an
event ``date``, a ``source``, an Admiralty ``grade`` (source reliability A–F,
information credibility 1–6, e.g. ``B2``) and an optional ``note`` and
``author``. Each kind is one :class:`~allegiance.evidence.kinds.base.EvidenceKind`
(its fields, their parser, and how it fills the arrays), registered in
:data:`EVIDENCE_KINDS`: ``condition`` and ``report``
(:mod:`~allegiance.evidence.kinds.conditions`), ``count``
(:mod:`~allegiance.evidence.kinds.counts`), ``no_event`` and ``event``
(:mod:`~allegiance.evidence.kinds.hazards`), ``faction_event``
(:mod:`~allegiance.evidence.kinds.faction`), ``strength``
(:mod:`~allegiance.evidence.kinds.stocks`), and ``retraction``, ``outcome``
and ``resolution`` (:mod:`~allegiance.evidence.kinds.records`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from allegiance.evidence.items import Item
from allegiance.evidence.kinds.base import COMMON_OPTIONAL, COMMON_REQUIRED, EvidenceKind
from allegiance.evidence.kinds.conditions import CONDITION, REPORT
from allegiance.evidence.kinds.counts import COUNT
from allegiance.evidence.kinds.faction import FACTION_EVENT
from allegiance.evidence.kinds.hazards import EVENT, NO_EVENT
from allegiance.evidence.kinds.records import OUTCOME, RESOLUTION, RETRACTION
from allegiance.evidence.kinds.stocks import STRENGTH
from allegiance.reading import KeyReader, short
from allegiance.spec import ModelSpec

GRADE = re.compile(r"[A-F][1-6]")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?")

EVIDENCE_KINDS: dict[str, EvidenceKind] = {
    k.name: k
    for k in (
        CONDITION, COUNT, NO_EVENT, EVENT, REPORT, FACTION_EVENT, RETRACTION, STRENGTH, OUTCOME,
        RESOLUTION,
    )
}  # fmt: skip


def field_columns() -> tuple[str, ...]:
    """Return every field of every registered kind, once each: the CSV's field columns."""
    return tuple(dict.fromkeys(f for kind in EVIDENCE_KINDS.values() for f in kind.fields))


def parse_item(r: KeyReader, body: Any, key: str, spec: ModelSpec) -> Item:
    """Validate one raw item against the spec."""
    body = r.mapping(body, key)
    r.keys(body, key, ("kind",), tuple(body))  # 'kind' decides the other keys
    kind = r.choice(body["kind"], f"{key}.kind", EVIDENCE_KINDS)
    known = EVIDENCE_KINDS[kind]
    r.keys(body, key, (*COMMON_REQUIRED, *known.required), (*known.optional, *COMMON_OPTIONAL))
    item_id = r.ident(body["id"], f"{key}.id")
    grade = body["grade"].upper() if isinstance(body["grade"], str) else ""
    if not GRADE.fullmatch(grade):  # not GRADE.match: `$` would let "B2\n" in
        raise r.fail(
            f"{key}.grade",
            f"{short(body['grade'])} is not an Admiralty grade.",
            "write reliability A-F then credibility 1-6, e.g. B2: two characters, "
            "without spaces or line breaks.",
        )
    date = r.date(body["date"], f"{key}.date")
    recorded_at = None
    if body.get("recorded_at") is not None:
        recorded_at = _timestamp(r, body["recorded_at"], f"{key}.recorded_at")
        if date > recorded_at.date():
            raise r.fail(
                f"{key}.date",
                f"event date {date} is after the item was recorded ({recorded_at.date()}).",
                "an item cannot report what has not happened yet; check the date.",
            )
    return Item(
        id=item_id,
        kind=kind,
        date=date,
        source=r.text(body["source"], f"{key}.source"),
        grade=grade,
        fields=known.parse(r, body, key, spec),
        note=r.text(body.get("note", ""), f"{key}.note", empty=True),
        author=r.text(body.get("author", ""), f"{key}.author", empty=True),
        recorded_at=recorded_at,
    )


def _timestamp(r: KeyReader, value: Any, key: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            if not TIMESTAMP.fullmatch(str(value)):
                raise ValueError(value)
            stamp = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise r.fail(
                key, f"{short(value)} is not a timestamp.", "write YYYY-MM-DDTHH:MM:SS."
            ) from None
    # Stored in UTC; a naive timestamp is taken as UTC.
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)
