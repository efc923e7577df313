"""Evidence kinds: the fields of each kind of item, validated against a model.

An evidence file is YAML with ``schema_version: 1``, the ``model`` id it
belongs to and a list of ``items``. Every item has an ``id``, a ``kind``, an
event ``date``, a ``source``, an Admiralty ``grade`` (source reliability A–F,
information credibility 1–6, e.g. ``B2``) and an optional ``note`` and
``author``. The kinds (:data:`EVIDENCE_KINDS`):

``condition``
    A condition observed: ``condition`` and ``value`` (true/false for a
    binary condition, a number in [0, 1] for a level), weighed by its grade.
``count``
    Counts in one month: ``series``, ``category``, ``month`` (YYYY-MM) and
    ``count``: a whole number, or an estimate ``{about: 20, range: [5, 50]}``
    that enters as the chance the month's total lies in the range.
``no_event``
    Time passing is evidence: the event of a ``hazard`` did not happen for
    ``actor`` from the analysis date ``through`` a date.
``event``
    The event of a ``hazard`` happened for ``actor`` (none for a hazard of no
    one actor) in ``month`` (YYYY-MM), and, for a hazard with destinations,
    where it went (``destination``, optional),
    e.g. a faction openly left.
``report``
    Soft evidence: a report that ``favours`` one state (true/false) of a
    ``target`` (a binary condition, a level: true for high, false for low, a
    chance outcome ``propensity.actor``, or a hazard's event ``hazard.actor``
    by the end of the report's month) by a ``likelihood_ratio``
    (> 0) or a ``strength`` word (weakly 2, moderately 4, strongly 10, very strongly 30). Its
    log-likelihood ratio is multiplied by the weight of its grade
    (:func:`allegiance.words.grade_weight`: A1 = 1, C3 = 0.36, ...).
``faction_event``
    Something an actor did, given as ``event``: ``public_split`` (it left:
    ``actor``, ``month``), ``appointment`` (how well it fared in a share-out:
    a level ``condition`` and its ``value``), ``partial_defection`` or
    ``clash`` (``series``, ``category``, ``month`` and ``count``, added to that
    month's count).
``strength``
    An estimate of a ``stock`` (a group's fighters) on the item's date, as a
    ``range`` ``[low, high]`` ("1,000-2,200 fighters"), weighed by its grade.
``retraction``
    Withdraws the item named in ``retracts``; nothing is edited in place.
``outcome``, ``resolution``
    An observed chance outcome, and how a question resolved
    (:mod:`allegiance.evidence.outcome_fields`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from allegiance.evidence.hazard_fields import event_fields, no_event_fields
from allegiance.evidence.items import Item
from allegiance.evidence.outcome_fields import outcome_fields, resolution_fields
from allegiance.reading import KeyReader, iso_date, short
from allegiance.spec import ModelSpec, months_between
from allegiance.words import known_report_words, report_ratio

GRADE = re.compile(r"[A-F][1-6]")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9:]+)?)?")


COMMON_REQUIRED = ("id", "kind", "date", "source", "grade")


MAX_COUNT = 10**9  # more people or events in a month than any group has: a typo, not a count
COMMON_OPTIONAL = ("note", "author", "recorded_at")


def _condition_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    cid = r.member(body["condition"], f"{key}.condition", spec.conditions, "condition")
    value = body["value"]
    switch = spec.conditions[cid].switch
    if switch is not None:
        raise r.fail(
            f"{key}.condition",
            f"{short(cid)} is a switch: "
            + (
                f"it turns true on {switch.date}, as the model file says."
                if switch.date
                else f"it turns true on the event of {'.'.join(filter(None, switch.after or ()))}."
            ),
            "record that event (kind: event) instead."
            if switch.after
            else "change the date in the model file, or make the condition binary.",
        )
    if spec.conditions[cid].kind == "binary":
        if not isinstance(value, bool):
            raise r.fail(
                f"{key}.value",
                f"{short(cid)} is yes/no; got {short(value)}.",
                "write true or false.",
            )
    elif not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise r.fail(
            f"{key}.value",
            f"{short(cid)} is a level in [0, 1]; got {short(value)}.",
            "give a number between 0 and 1.",
        )
    return {"condition": cid, "value": value}


def _count_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
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
        count = _estimate(r, count, f"{key}.count")
    elif not _whole(count):
        raise r.fail(
            f"{key}.count",
            f"expected a whole number >= 0, got {str(count)[:40]}.",
            "a monthly count is at most 10**9; a monthly total estimated by a source is "
            "{about: 20, range: [5, 50]} (about optional).",
        )
    return {"series": sid, "category": cat, "month": month, "count": count}


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_COUNT


def _estimate(r: KeyReader, body: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Validate an estimated monthly total: its range, and optionally a central figure."""
    r.keys(body, key, ("range",), ("about",))
    bounds = body["range"]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(_whole, bounds))):
        raise r.fail(
            f"{key}.range",
            f"expected [low, high], whole numbers, got {short(bounds)}.",
            f"write two whole numbers from 0 to {MAX_COUNT}, e.g. [5, 50].",
        )
    low, high = bounds
    if low > high:
        raise r.fail(f"{key}.range", f"low {low} is above high {high}.", "write [low, high].")
    about = body.get("about", low)
    if not _whole(about) or not low <= about <= high:
        raise r.fail(
            f"{key}.about",
            f"about {short(about)} is not a whole number in the range {bounds}.",
            "write the central figure as a whole number inside the range, or leave it out.",
        )
    return {"range": [low, high], **({"about": about} if "about" in body else {})}


def _report_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    target = r.text(body["target"], f"{key}.target")
    node, _, actor = target.partition(".")
    outcome = node in spec.propensities  # a chance outcome, or a hazard event by a date
    if outcome and spec.slots.count((node, actor)) == 0:
        raise r.fail(
            f"{key}.target",
            f"{short(target)} names no member of the propensity {short(node)}.",
            "write propensity.actor with an actor the propensity lists.",
        )
    if not (target in spec.binary_conditions or target in spec.level_conditions or outcome):
        chances = [f"{n}.{a}" for n, a in spec.slots]
        raise r.fail(
            f"{key}.target",
            f"unknown target {short(target)}: a report favours a state of a condition (a level: "
            "true for high, false for low) or an outcome (propensity.actor: a chance "
            "outcome, or a hazard's event by the report's date).",
            "use one of: "
            + ", ".join([*spec.binary_conditions, *spec.level_conditions, *chances])
            + ".",
        )
    favours = r.boolean(body["favours"], f"{key}.favours")
    out: dict[str, Any] = {"target": target, "favours": favours}
    if ("likelihood_ratio" in body) == ("strength" in body):
        raise r.fail(
            key,
            "give exactly one of 'likelihood_ratio' and 'strength'.",
            "e.g. likelihood_ratio: 3, or strength: moderately.",
        )
    if "likelihood_ratio" in body:
        ratio = body["likelihood_ratio"]
        try:
            ok = isinstance(ratio, int | float) and not isinstance(ratio, bool)
            ok = ok and math.isfinite(ratio) and ratio > 0
        except OverflowError:  # an integer too large for a float
            ok = False
        if not ok:
            raise r.fail(
                f"{key}.likelihood_ratio",
                f"a likelihood ratio must be a finite number > 0, got {str(ratio)[:40]}.",
                "a ratio of 1 means no evidence; below 1 favours the other state.",
            )
        out["likelihood_ratio"] = float(ratio)
    else:
        if not isinstance(body["strength"], str) or report_ratio(body["strength"]) is None:
            raise r.fail(
                f"{key}.strength",
                f"unknown report strength {short(body['strength'])}.",
                "use one of: " + ", ".join(known_report_words()) + ".",
            )
        out["strength"] = body["strength"]
    return out


FACTION_EVENTS: dict[str, tuple[str, ...]] = {
    "public_split": ("actor", "month"),
    "appointment": ("actor", "condition", "value"),
    "partial_defection": ("actor", "series", "category", "month", "count"),
    "clash": ("actor", "series", "category", "month", "count"),
}


def _faction_event_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
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
        fields = _condition_fields(r, body, key, spec)
        if spec.conditions[fields["condition"]].kind != "level":
            raise r.fail(
                f"{key}.condition",
                "an appointment reports a level (a share of the spoils).",
                "name a level condition.",
            )
    else:
        fields = _count_fields(r, body, key, spec)
    return {"event": event, "actor": actor, **fields}


def _strength_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read an estimate of a stock on the item's date: a range of fighters, ``[low, high]``."""
    sid = r.member(body["stock"], f"{key}.stock", spec.stocks, "stock")
    bounds = body["range"]
    if not (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        and all(0 < b <= MAX_COUNT for b in bounds)
    ):
        raise r.fail(
            f"{key}.range",
            f"expected [low, high], positive numbers of fighters, got {short(bounds)}.",
            "write e.g. range: [1000, 2200].",
        )
    low, high = bounds
    if not low < high:
        raise r.fail(
            f"{key}.range",
            f"low {low} is not below high {high}.",
            "an estimate is a range: give a single figure's uncertainty as [low, high].",
        )
    return {"stock": sid, "range": [low, high]}


def _retraction_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    return {"retracts": r.ident(body["retracts"], f"{key}.retracts")}


EvidenceKind = Callable[[KeyReader, Mapping[str, Any], str, ModelSpec], dict[str, Any]]


# kind -> (required fields, optional fields, parser)
EVIDENCE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], EvidenceKind]] = {
    "condition": (("condition", "value"), (), _condition_fields),
    "count": (("series", "category", "month", "count"), (), _count_fields),
    "no_event": (("hazard", "through"), ("actor",), no_event_fields),
    "event": (("hazard", "month"), ("actor", "destination"), event_fields),
    "report": (("target", "favours"), ("likelihood_ratio", "strength"), _report_fields),
    "faction_event": (
        ("event",),
        ("actor", "month", "hazard", "condition", "value", "series", "category", "count"),
        _faction_event_fields,
    ),
    "retraction": (("retracts",), (), _retraction_fields),
    "strength": (("stock", "range"), (), _strength_fields),
    "outcome": (("target", "value"), (), outcome_fields),
    "resolution": (("question", "outcome"), (), resolution_fields),
}


def parse_item(r: KeyReader, body: Any, key: str, spec: ModelSpec) -> Item:
    """Validate one raw item against the spec."""
    body = r.mapping(body, key)
    r.keys(body, key, ("kind",), tuple(body))  # 'kind' decides the other keys
    kind = r.choice(body["kind"], f"{key}.kind", EVIDENCE_KINDS)
    required, optional, parse = EVIDENCE_KINDS[kind]
    r.keys(body, key, (*COMMON_REQUIRED, *required), (*optional, *COMMON_OPTIONAL))
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
        fields=parse(r, body, key, spec),
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
