"""Evidence: dated, graded observations, validated against a model.

An evidence file is YAML with ``schema_version: 1``, the ``model`` id it
belongs to and a list of ``items``. Every item has an ``id``, a ``kind``, an
event ``date``, a ``source``, an Admiralty ``grade`` (source reliability A–F,
information credibility 1–6, e.g. ``B2``) and an optional ``note`` and
``author``. The kinds (:data:`EVIDENCE_KINDS`):

``condition``
    A condition observed: ``condition`` and ``value`` (true/false for a
    binary condition, a number in [0, 1] for a level). Hard evidence.
``count``
    Counts in one month: ``series``, ``category``, ``month`` (YYYY-MM) and
    ``count``.
``no_event``
    Time passing is evidence: the event of a ``hazard`` did not happen for
    ``actor`` from the analysis date ``through`` a date.
``event``
    The event of a ``hazard`` happened for ``actor`` in ``month`` (YYYY-MM),
    e.g. a faction openly left.
``report``
    Soft evidence: a report that ``favours`` one state (true/false) of a
    ``target`` (a binary condition, or a chance propensity as
    ``propensity.actor``) by a ``likelihood_ratio`` (> 0) or a ``strength``
    word (weakly 2, moderately 4, strongly 10, very strongly 30). Its
    log-likelihood ratio is multiplied by the weight of its grade
    (:func:`allegiance.words.grade_weight`: A1 = 1, C3 = 0.36, ...).
``faction_event``
    Something an actor did, given as ``event``: ``public_split`` (it left:
    ``actor``, ``month``), ``appointment`` (how well it fared in a share-out:
    a level ``condition`` and its ``value``), ``partial_defection`` or
    ``clash`` (``series``, ``category``, ``month`` and ``count``, added to that
    month's count).
``retraction``
    Withdraws the item named in ``retracts``; nothing is edited in place.

Every item may carry ``recorded_at`` (when it entered the record; the ledger
stamps it). An item's event date may not be later than its recording time.

Items turn into fixed-shape arrays (:class:`ModelData`) that the PyMC model
reads from ``pm.Data``; adding evidence never changes the model's graph.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from allegiance.errors import EvidenceError
from allegiance.spec import ModelSpec, _Reader, months_between, safe_load
from allegiance.words import grade_weight, known_report_words, report_ratio

SCHEMA_VERSION = 1
HARD = -50.0  # log-likelihood of the state that hard evidence rules out
GRADE = re.compile(r"^[A-F][1-6]$")
COMMON_REQUIRED = ("id", "kind", "date", "source", "grade")
COMMON_OPTIONAL = ("note", "author", "recorded_at")


@dataclass(frozen=True)
class Item:
    """One validated evidence item; ``fields`` holds the kind-specific values."""

    id: str
    kind: str
    date: dt.date
    source: str
    grade: str
    fields: Mapping[str, Any]
    note: str = ""
    author: str = ""
    recorded_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-typed form, the inverse of reading an item from a file."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "date": self.date.isoformat(),
            "source": self.source,
            "grade": self.grade,
        }
        out.update(self.fields)
        if self.note:
            out["note"] = self.note
        if self.author:
            out["author"] = self.author
        if self.recorded_at is not None:
            out["recorded_at"] = self.recorded_at.isoformat()
        return out

    @property
    def recorded_date(self) -> dt.date | None:
        """Return the day the item was recorded, if known."""
        return None if self.recorded_at is None else self.recorded_at.date()


@dataclass
class ModelData:
    """Evidence as the fixed-shape arrays the model reads (see ``model.DATA_NAMES``)."""

    condition_loglik: np.ndarray  # (B, 2): log-likelihood of the evidence if false / true
    slot_log_lr: np.ndarray  # (K,): tempered log-likelihood ratio of reports on chance slots
    level_value: np.ndarray  # (L,)
    level_mask: np.ndarray  # (L,)
    slot_events: np.ndarray  # (K,)
    slot_nonevents: np.ndarray  # (K,)
    counts: np.ndarray  # (J, T)
    count_mask: np.ndarray  # (J, T)

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays by data-container name."""
        return dict(vars(self))


@dataclass(frozen=True)
class EvidenceSet:
    """The items in force, with the hash that identifies them."""

    items: tuple[Item, ...]
    path: Path | None = None
    sha256: str = field(default="")

    @classmethod
    def of(cls, items: Sequence[Item], path: Path | None = None) -> EvidenceSet:
        """Build a set and hash its items canonically (order-free)."""
        canon = json.dumps(
            sorted((i.to_dict() for i in items), key=lambda x: x["id"]), sort_keys=True, default=str
        )
        return cls(tuple(items), path, hashlib.sha256(canon.encode()).hexdigest())


def _condition_fields(
    r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    cid = body["condition"]
    if cid not in spec.conditions:
        raise r.fail(
            f"{key}.condition",
            f"unknown condition {cid!r}.",
            "use one of: " + ", ".join(spec.conditions) + ".",
        )
    value = body["value"]
    if spec.conditions[cid].kind == "binary":
        if not isinstance(value, bool):
            raise r.fail(
                f"{key}.value", f"{cid!r} is yes/no; got {value!r}.", "write true or false."
            )
    elif not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise r.fail(
            f"{key}.value",
            f"{cid!r} is a level in [0, 1]; got {value!r}.",
            "give a number between 0 and 1.",
        )
    return {"condition": cid, "value": value}


def _count_fields(r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec) -> dict[str, Any]:
    sid, cat = body["series"], body["category"]
    if sid not in spec.series:
        raise r.fail(
            f"{key}.series",
            f"unknown series {sid!r}.",
            "use one of: " + ", ".join(spec.series) + ".",
        )
    if cat not in spec.series[sid].categories:
        raise r.fail(
            f"{key}.category",
            f"{cat!r} is not a category of {sid!r}.",
            "use one of: " + ", ".join(spec.series[sid].categories) + ".",
        )
    month = str(body["month"])
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise r.fail(f"{key}.month", f"{month!r} is not a month.", "write YYYY-MM.") from None
    offset = months_between(spec.analysis_date, first)
    if not -spec.history_months <= offset < spec.forward_months:
        raise r.fail(
            f"{key}.month",
            f"{month} is outside the model's count window "
            f"({spec.history_months} months before the analysis date to the last horizon).",
            "drop the item or widen 'history_months' in the model file.",
        )
    count = body["count"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise r.fail(f"{key}.count", f"expected a whole number >= 0, got {count!r}.")
    return {"series": sid, "category": cat, "month": month, "count": count}


def _hazard_slot(r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec) -> None:
    node, actor = body["hazard"], body["actor"]
    if node not in spec.propensities or spec.propensities[node].kind != "hazard":
        known = [p.id for p in spec.propensities.values() if p.kind == "hazard"]
        raise r.fail(
            f"{key}.hazard",
            f"{node!r} is not a hazard of the model.",
            "use one of: " + ", ".join(known) + ".",
        )
    if actor not in spec.propensities[node].actors:
        raise r.fail(
            f"{key}.actor",
            f"{actor!r} is not at risk under {node!r}.",
            "use one of: " + ", ".join(spec.propensities[node].actors) + ".",
        )


def _forward_month(r: _Reader, value: Any, key: str, spec: ModelSpec, *, day: bool) -> int:
    """Months from the analysis date to a date (``day``) or a YYYY-MM month, inside the window."""
    if day:
        when = r.date(value, key)
    else:
        try:
            when = dt.date.fromisoformat(f"{value}-01")
        except ValueError:
            raise r.fail(key, f"{value!r} is not a month.", "write YYYY-MM.") from None
    months = months_between(spec.analysis_date, when)
    if not 0 <= months <= spec.forward_months:
        raise r.fail(
            key,
            f"{value} is outside the forecast window ({spec.analysis_date} "
            f"plus {spec.forward_months} months).",
            "check the date.",
        )
    return months


def _no_event_fields(
    r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    _hazard_slot(r, body, key, spec)
    _forward_month(r, body["through"], f"{key}.through", spec, day=True)
    return {
        "hazard": body["hazard"],
        "actor": body["actor"],
        "through": r.date(body["through"], f"{key}.through").isoformat(),
    }


def _event_fields(r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec) -> dict[str, Any]:
    _hazard_slot(r, body, key, spec)
    _forward_month(r, body["month"], f"{key}.month", spec, day=False)
    return {"hazard": body["hazard"], "actor": body["actor"], "month": str(body["month"])}


def _report_fields(
    r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    target = body["target"]
    node, _, actor = str(target).partition(".")
    chance = node in spec.propensities and spec.propensities[node].kind == "chance"
    if chance and spec.slots.count((node, actor)) == 0:
        raise r.fail(
            f"{key}.target",
            f"{target!r} names no member of the chance propensity {node!r}.",
            "write propensity.actor with an actor the propensity lists.",
        )
    if not (target in spec.binary_conditions or chance):
        raise r.fail(
            f"{key}.target",
            f"unknown target {target!r}: a report favours a state of a binary condition "
            "or of a chance propensity (propensity.actor).",
            "use one of: " + ", ".join(spec.binary_conditions) + ", or e.g. lobby.haqqani.",
        )
    if not isinstance(body["favours"], bool):
        raise r.fail(f"{key}.favours", f"expected true or false, got {body['favours']!r}.")
    out: dict[str, Any] = {"target": target, "favours": body["favours"]}
    if ("likelihood_ratio" in body) == ("strength" in body):
        raise r.fail(
            key,
            "give exactly one of 'likelihood_ratio' and 'strength'.",
            "e.g. likelihood_ratio: 3, or strength: moderately.",
        )
    if "likelihood_ratio" in body:
        ratio = body["likelihood_ratio"]
        if (
            not isinstance(ratio, int | float)
            or isinstance(ratio, bool)
            or not math.isfinite(ratio)
            or ratio <= 0
        ):
            raise r.fail(
                f"{key}.likelihood_ratio",
                f"a likelihood ratio must be a finite number > 0, got {ratio!r}.",
                "a ratio of 1 means no evidence; below 1 favours the other state.",
            )
        out["likelihood_ratio"] = float(ratio)
    else:
        if not isinstance(body["strength"], str) or report_ratio(body["strength"]) is None:
            raise r.fail(
                f"{key}.strength",
                f"unknown report strength {body['strength']!r}.",
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
    r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    event = r.choice(body["event"], f"{key}.event", tuple(FACTION_EVENTS))
    needed = FACTION_EVENTS[event]
    optional = ("hazard", *COMMON_OPTIONAL) if event == "public_split" else COMMON_OPTIONAL
    r.keys(body, key, (*COMMON_REQUIRED, "event", *needed), optional)
    actor = body["actor"]
    if actor not in spec.actors:
        raise r.fail(f"{key}.actor", f"unknown actor {actor!r}.", "name an actor of the model.")
    if event == "public_split":
        hazards = [
            p.id for p in spec.propensities.values() if p.kind == "hazard" and actor in p.actors
        ]
        if not hazards:
            raise r.fail(f"{key}.actor", f"{actor!r} is not at risk of leaving in this model.")
        fields = _event_fields(r, {"hazard": hazards[0], **body}, key, spec)  # default hazard
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


def _retraction_fields(
    r: _Reader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    return {"retracts": r.ident(body["retracts"], f"{key}.retracts")}


EvidenceKind = Callable[[_Reader, Mapping[str, Any], str, ModelSpec], dict[str, Any]]
# kind -> (required fields, optional fields, parser)
EVIDENCE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], EvidenceKind]] = {
    "condition": (("condition", "value"), (), _condition_fields),
    "count": (("series", "category", "month", "count"), (), _count_fields),
    "no_event": (("hazard", "actor", "through"), (), _no_event_fields),
    "event": (("hazard", "actor", "month"), (), _event_fields),
    "report": (("target", "favours"), ("likelihood_ratio", "strength"), _report_fields),
    "faction_event": (
        ("event",),
        ("actor", "month", "hazard", "condition", "value", "series", "category", "count"),
        _faction_event_fields,
    ),
    "retraction": (("retracts",), (), _retraction_fields),
}


def parse_item(r: _Reader, body: Any, key: str, spec: ModelSpec) -> Item:
    """Validate one raw item against the spec."""
    body = r.mapping(body, key)
    kind = r.choice(body.get("kind"), f"{key}.kind", EVIDENCE_KINDS)
    required, optional, parse = EVIDENCE_KINDS[kind]
    r.keys(body, key, (*COMMON_REQUIRED, *required), (*optional, *COMMON_OPTIONAL))
    item_id = r.ident(body["id"], f"{key}.id")
    grade = str(body["grade"]).upper()
    if not GRADE.match(grade):
        raise r.fail(
            f"{key}.grade",
            f"{body['grade']!r} is not an Admiralty grade.",
            "write reliability A-F then credibility 1-6, e.g. B2.",
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


def _timestamp(r: _Reader, value: Any, key: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            stamp = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise r.fail(
                key, f"{value!r} is not a timestamp.", "write YYYY-MM-DDTHH:MM:SS."
            ) from None
    # Stored in UTC; a naive timestamp is taken as UTC.
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def read_items(path: str | Path, spec: ModelSpec) -> list[Item]:
    """Read and validate every item of an evidence file, retractions included.

    YAML (``.yaml``/``.yml``, the format above) and CSV (``.csv``: one row per
    item, one column per field, as written by :func:`dump_csv`) are read.

    Raises
    ------
    EvidenceError
        Naming the file, the item and the field, for malformed items, unknown
        targets, bad dates, duplicate ids or retractions of unknown items.
    """
    path = Path(path)
    r = _Reader(path, EvidenceError)
    raw = _csv_rows(r, path) if path.suffix.lower() == ".csv" else _yaml_items(r, path, spec)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for i, body in enumerate(raw):
        item = parse_item(r, body, f"items[{i}]", spec)
        if item.id in seen:
            raise r.fail(
                f"items[{i}].id",
                f"duplicate id {item.id!r} (first at items[{seen[item.id]}]).",
                "give every item its own id; correct an item with a new one.",
            )
        seen[item.id] = i
        items.append(item)
    check_retractions(r, items)
    model_data(spec, EvidenceSet.of(in_force(items)), r)  # contradictions surface now
    return items


def _yaml_items(r: _Reader, path: Path, spec: ModelSpec) -> list[Any]:
    try:
        doc = safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise r.fail("", f"cannot read the file ({exc.strerror}).", "check the path.") from None
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: bad dates, bad UTF-8
        raise r.fail("", f"not valid YAML: {exc}", "fix the syntax at the line shown.") from None
    doc = r.mapping(doc, "(top level)")
    r.keys(doc, "", ("schema_version", "model", "items"))
    if type(doc["schema_version"]) is not int or doc["schema_version"] != SCHEMA_VERSION:
        raise r.fail(
            "schema_version",
            f"version {doc['schema_version']!r} is not supported.",
            f"this package reads schema_version {SCHEMA_VERSION}.",
        )
    if doc["model"] != spec.id:
        raise r.fail(
            "model",
            f"evidence is for model {doc['model']!r}, not {spec.id!r}.",
            "pass the evidence file that belongs to this model.",
        )
    raw = doc["items"] or []
    if not isinstance(raw, list):
        raise r.fail("items", "expected a list of items.", "start each item with '- id:'.")
    return raw


TEXT_COLUMNS = ("id", "kind", "date", "recorded_at", "source", "grade", "note", "author")
FIELD_COLUMNS = (
    "condition", "value", "series", "category", "month", "count", "hazard", "actor",
    "through", "target", "favours", "likelihood_ratio", "strength", "event", "retracts",
)  # fmt: skip


def _csv_rows(r: _Reader, path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise r.fail(
            "", f"cannot read the CSV file ({exc}).", "check the path and format."
        ) from None
    out = []
    for i, row in enumerate(rows):
        body: dict[str, Any] = {}
        for column, cell in row.items():
            if column is None or cell is None or cell == "":
                continue
            if column in TEXT_COLUMNS:
                body[column] = cell
                continue
            try:
                body[column] = safe_load(cell)
            except (ValueError, yaml.YAMLError):
                raise r.fail(f"items[{i}].{column}", f"cannot read the value {cell!r}.") from None
        out.append(body)
    return out


def dump_yaml(items: Sequence[Item], model_id: str) -> str:
    """Write items as an evidence YAML file that :func:`read_items` reads back unchanged."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "model": model_id,
        "items": [i.to_dict() for i in items],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def dump_csv(items: Sequence[Item]) -> str:
    """Write items as CSV, one row each, that :func:`read_items` reads back unchanged."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*TEXT_COLUMNS, *FIELD_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for item in items:
        row = {}
        for key, value in item.to_dict().items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            row[key] = value
        writer.writerow(row)
    return out.getvalue()


def load_evidence(path: str | Path, spec: ModelSpec) -> EvidenceSet:
    """Load an evidence file (YAML or CSV) and return the items in force.

    Raises
    ------
    EvidenceError
        As :func:`read_items`.
    """
    return EvidenceSet.of(in_force(read_items(path, spec)), Path(path))


def check_retractions(r: _Reader, items: Sequence[Item], known: set[str] | None = None) -> None:
    """Refuse a retraction of an id that is not in ``items`` (or ``known``) or is a retraction."""
    ids = {i.id: i for i in items}
    for item in items:
        if item.kind != "retraction":
            continue
        target = item.fields["retracts"]
        if target not in ids and (known is None or target not in known):
            raise r.fail(
                f"items.{item.id}.retracts",
                f"retracts unknown item {target!r}.",
                "name the id of an item already recorded.",
            )
        if target in ids and ids[target].kind == "retraction":
            raise r.fail(
                f"items.{item.id}.retracts",
                "a retraction cannot be retracted.",
                "record the item again under a new id instead.",
            )


def in_force(
    items: Sequence[Item], as_of: dt.date | None = None, as_recorded: bool = False
) -> list[Item]:
    """Return the items that count, as of a date.

    Parameters
    ----------
    items : sequence of Item
        Everything recorded, retractions included.
    as_of : date, optional
        Keep items whose event date is on or before it. Retractions apply
        whatever their date: the record is corrected for the past too.
    as_recorded : bool
        Also leave out what was recorded after ``as_of``, retractions
        included: the record as it stood on that day.
    """

    def recorded_by(item: Item) -> bool:
        return (
            not as_recorded
            or as_of is None
            or (item.recorded_date is not None and item.recorded_date <= as_of)
        )

    retracted = {i.fields["retracts"] for i in items if i.kind == "retraction" and recorded_by(i)}
    return [
        i
        for i in items
        if i.kind != "retraction"
        and i.id not in retracted
        and (as_of is None or i.date <= as_of)
        and recorded_by(i)
    ]


def no_evidence(spec: ModelSpec) -> ModelData:
    """Return the arrays of a model with no evidence at all."""
    return model_data(spec, EvidenceSet.of([]))


def model_data(spec: ModelSpec, evidence: EvidenceSet, r: _Reader | None = None) -> ModelData:
    """Turn evidence items into the model's data arrays.

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
    r : optional
        Reader to raise errors with (file name); defaults to the spec's file.
    """
    r = r or _Reader(evidence.path or spec.path, EvidenceError)
    binary, levels = spec.binary_conditions, spec.level_conditions
    n_slots, n_channels = len(spec.slots), len(spec.channels)
    data = ModelData(
        condition_loglik=np.zeros((len(binary), 2)),
        slot_log_lr=np.zeros(n_slots),
        level_value=np.full(len(levels), 0.5),
        level_mask=np.zeros(len(levels)),
        slot_events=np.zeros(n_slots),
        slot_nonevents=np.zeros(n_slots),
        counts=np.zeros((n_channels, spec.window_months)),
        count_mask=np.zeros((n_channels, spec.window_months)),
    )
    observed: dict[Any, Item] = {}
    survived: dict[int, tuple[int, Item]] = {}
    added: dict[tuple[int, int], Item] = {}
    for item in evidence.items:
        kind, f = _normalised(item)
        if kind == "report":
            _add_report(spec, data, item)
            continue
        if kind == "no_event":
            k = spec.slots.index((f["hazard"], f["actor"]))
            months = months_between(spec.analysis_date, dt.date.fromisoformat(f["through"]))
            if months > survived.get(k, (-1, item))[0]:
                survived[k] = (months, item)
            continue
        if kind in ("count", "added_count"):
            c = spec.channels.index((f["series"], f["category"]))
            first = dt.date.fromisoformat(f"{f['month']}-01")
            t = months_between(spec.analysis_date, first) + spec.history_months
            total = ("count", c, t)
            if kind == "added_count":
                if total in observed:
                    raise r.fail(
                        f"items.{item.id}",
                        f"adds to a month whose total item {observed[total].id!r} already gives.",
                        "record either the monthly total or the single events, not both.",
                    )
                added[(c, t)] = item
                data.counts[c, t] += f["count"]
                data.count_mask[c, t] = 1.0
                continue
            if (c, t) in added:
                raise r.fail(
                    f"items.{item.id}",
                    f"gives a monthly total where event item {added[(c, t)].id!r} already adds.",
                    "record either the monthly total or the single events, not both.",
                )
            where: Any = total
        elif kind == "event":
            k = spec.slots.index((f["hazard"], f["actor"]))
            where = ("event", k)
        else:
            where = f["condition"]
        if where in observed and _normalised(observed[where])[1] != f:
            raise r.fail(
                f"items.{item.id}",
                f"contradicts item {observed[where].id!r} on {where!r}.",
                "keep one; a correction retracts the other.",
            )
        observed[where] = item
        if kind == "event":
            first = dt.date.fromisoformat(f"{f['month']}-01")
            data.slot_events[k] = 1.0
            data.slot_nonevents[k] = months_between(spec.analysis_date, first)
        elif kind == "count":
            data.counts[c, t], data.count_mask[c, t] = f["count"], 1.0
        elif f["condition"] in binary:
            b = binary.index(f["condition"])
            data.condition_loglik[b] = [0.0, HARD] if not f["value"] else [HARD, 0.0]
        else:
            j = levels.index(f["condition"])
            data.level_value[j], data.level_mask[j] = float(f["value"]), 1.0
    for k, (months, item) in survived.items():
        if data.slot_events[k] and months > data.slot_nonevents[k]:
            raise r.fail(
                f"items.{item.id}",
                "says the event had not happened by a date after "
                "an item recording that it happened.",
                "keep one; a correction retracts the other.",
            )
        if not data.slot_events[k]:
            data.slot_nonevents[k] = months
    return data


def _normalised(item: Item) -> tuple[str, Mapping[str, Any]]:
    """Map a faction event onto the basic kind it amounts to."""
    if item.kind != "faction_event":
        return item.kind, item.fields
    f = dict(item.fields)
    event = f.pop("event")
    if event == "public_split":
        return "event", f
    del f["actor"]
    if event == "appointment":
        return "condition", f
    return "added_count", f


def report_log_ratio(item: Item) -> float:
    """Return the tempered log-likelihood ratio of a report, in favour of its state."""
    f = item.fields
    ratio = f["likelihood_ratio"] if "likelihood_ratio" in f else report_ratio(f["strength"])
    assert ratio is not None  # validated on parse
    return grade_weight(item.grade) * math.log(ratio)


def _add_report(spec: ModelSpec, data: ModelData, item: Item) -> None:
    f = item.fields
    log_lr = report_log_ratio(item)
    if f["target"] in spec.binary_conditions:
        b = spec.binary_conditions.index(f["target"])
        data.condition_loglik[b, int(f["favours"])] += log_lr
    else:
        node, _, actor = f["target"].partition(".")
        k = spec.slots.index((node, actor))
        data.slot_log_lr[k] += log_lr if f["favours"] else -log_lr
