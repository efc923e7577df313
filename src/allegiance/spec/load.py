"""The model file: load, validate and describe a declared model.

A model file is YAML (read with ``yaml.safe_load``) with ``schema_version: 1``.
Its sections are ``actors``, ``conditions``, ``propensities``, ``series``,
``effects``, ``questions`` and ``scenarios``; the README documents each key. Every error
names the file, the key path and the fix. Kinds named in the file (condition,
propensity, effect and question kinds) map to engine parts through the
registries of :mod:`allegiance.spec`, never through imports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from allegiance.reading import KeyReader, read_document, short
from allegiance.spec.baselines import baseline_reader, hazard_class
from allegiance.spec.beliefs import ANALYST_JUDGMENT, justified
from allegiance.spec.destinations import read_destinations
from allegiance.spec.effects import read_effects
from allegiance.spec.grid import GRID_PREFIX, grid_questions, known_from
from allegiance.spec.priors import magnitude_prior, probability_prior
from allegiance.spec.questions import read_questions
from allegiance.spec.scenarios import read_scenarios
from allegiance.spec.stocks import check_receiving, read_stocks
from allegiance.spec.switches import check_switches, read_gate, read_switch
from allegiance.spec.types import (
    GRID,
    Actor,
    Condition,
    Justified,
    KnownFrom,
    ModelSpec,
    Propensity,
    Question,
    Series,
)

SCHEMA_VERSION = 1
REQUIRED = (
    "schema_version",
    "id",
    "title",
    "analysis_date",
    "actors",
    "conditions",
    "propensities",
    "questions",
)
OPTIONAL = (
    "history_months",
    "source",
    "series",
    "effects",
    "scenarios",
    "stocks",
    "question_grid",
)


CONDITION_KINDS = ("binary", "level", "switch")


PROPENSITY_KINDS = ("hazard", "chance")


ACTOR_ROLES = ("parent", "faction", "group", "state", "other")


MAX_BINARY_CONDITIONS = 12


DEFAULT_OVERDISPERSION = {"typical": 0.3, "range": [0.05, 1.5]}


def load_spec(path: str | Path) -> ModelSpec:
    """Load and validate a model file.

    Parameters
    ----------
    path : str or Path
        A YAML model file.

    Returns
    -------
    ModelSpec
        The validated declaration. Nothing is built or sampled.

    Raises
    ------
    SpecError
        Naming the file, the key path and the fix, for any malformed or
        inconsistent entry.

    Examples
    --------
    >>> spec = load_spec("models/afghanistan_2020.yaml")  # doctest: +SKIP
    >>> spec.binary_conditions[:2]  # doctest: +SKIP
    ['deal_signed', 'us_presence']
    """
    path = Path(path)
    r = KeyReader(path)
    doc, raw = read_document(r, REQUIRED, OPTIONAL, SCHEMA_VERSION)
    analysis_date = r.date(doc["analysis_date"], "analysis_date")
    actors = _actors(r, doc["actors"], analysis_date)
    conditions = _conditions(r, doc["conditions"])
    propensities = _propensities(r, doc["propensities"], actors, analysis_date)
    series = _series(r, doc.get("series") or {})
    stock_ids = r.mapping(doc.get("stocks") or {}, "stocks")
    _no_clashes(
        r, conditions=conditions, propensities=propensities, series=series, stocks=stock_ids
    )
    effects = read_effects(r, doc.get("effects") or [], conditions, propensities, series)
    check_receiving(r, propensities, actors)
    stocks = read_stocks(r, doc.get("stocks") or {}, actors, series)
    check_switches(r, conditions, propensities, effects, series, stocks, analysis_date)
    parts = (analysis_date, actors, propensities, series, conditions, stocks)
    return ModelSpec(
        id=_model_id(r, doc["id"]),
        title=r.text(doc["title"], "title"),
        analysis_date=analysis_date,
        history_months=_bounded(r, doc.get("history_months", 24), "history_months"),
        source=r.text(doc.get("source", ""), "source", empty=True),
        actors=actors,
        conditions=conditions,
        propensities=propensities,
        series=series,
        effects=effects,
        questions=_questions(r, doc, parts),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        text=raw.decode("utf-8"),
        scenarios=read_scenarios(r, doc.get("scenarios") or {}, conditions),
        stocks=stocks,
    )


def _questions(r: KeyReader, doc: Mapping[str, Any], parts: tuple[Any, ...]) -> dict[str, Question]:
    """Read the hand-picked questions, and those the model's grid asks."""
    questions = read_questions(r, doc["questions"], *parts)
    if "question_grid" not in doc:
        return questions
    analysis_date, actors, propensities = parts[:3]
    names = {a.id: a.name for a in actors.values()}
    grid = grid_questions(r, doc["question_grid"], analysis_date, names, propensities)
    for qid in questions:
        if qid.startswith(GRID_PREFIX):
            raise r.fail(
                f"questions.{qid}",
                f"ids starting {GRID_PREFIX!r} are the question grid's.",
                "rename the question.",
            )
    return questions | read_questions(r, grid, *parts, origin=GRID)


MAX_MONTHS = 600  # fifty years of months: the engine allocates arrays per month
MAX_ID = 64  # a model id names a folder of stored fits


def _model_id(r: KeyReader, node: Any) -> str:
    ident = r.ident(node, "id")
    if len(ident) > MAX_ID:
        raise r.fail("id", f"the id has {len(ident)} characters.", f"use at most {MAX_ID}.")
    return ident


def _bounded(r: KeyReader, node: Any, key: str) -> int:
    months = r.integer(node, key, 0)
    if months > MAX_MONTHS:
        raise r.fail(key, f"{months} months is more than {MAX_MONTHS}.", "count in months.")
    return months


def _entries(r: KeyReader, node: Any, section: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Yield each entry of a section: its id, its key path and its body, all checked."""
    for entry, body in r.mapping(node, section).items():
        key = f"{section}.{entry}"
        r.ident(entry, key)
        yield entry, key, r.mapping(body, key)


def _actors(r: KeyReader, node: Any, analysis_date: dt.date) -> dict[str, Actor]:
    actors: dict[str, Actor] = {}
    for aid, key, body in _entries(r, node, "actors"):
        r.keys(body, key, ("name", "role"), ("parent", "fighters", "note", "known_from"))
        actors[aid] = Actor(
            id=aid,
            name=r.text(body["name"], f"{key}.name"),
            role=r.choice(body["role"], f"{key}.role", ACTOR_ROLES),
            parent=None if body.get("parent") is None else r.ident(body["parent"], f"{key}.parent"),
            fighters=r.number(body.get("fighters", 0), f"{key}.fighters", 0),
            note=r.text(body.get("note", ""), f"{key}.note", empty=True),
            known_from=_known(r, body, key, analysis_date),
        )
    for actor in actors.values():
        if actor.parent is not None and actor.parent not in actors:
            raise r.fail(
                f"actors.{actor.id}.parent",
                f"unknown actor {short(actor.parent)}.",
                "name an actor declared under 'actors'.",
            )
        seen, up = {actor.id}, actor.parent
        while up is not None:
            if up in seen:
                raise r.fail(
                    f"actors.{actor.id}.parent",
                    f"the parent chain of {short(actor.id)} loops back on itself.",
                    "an actor cannot be its own ancestor.",
                )
            seen.add(up)
            up = actors[up].parent if up in actors else None
    return actors


def _conditions(r: KeyReader, node: Any) -> dict[str, Condition]:
    conditions: dict[str, Condition] = {}
    for cid, key, body in _entries(r, node, "conditions"):
        r.keys(body, key, ("kind",), tuple(body))  # 'kind' decides the other keys
        kind = r.choice(body["kind"], f"{key}.kind", CONDITION_KINDS)
        if kind == "switch":
            conditions[cid] = read_switch(r, cid, key, body)
            continue
        r.keys(body, key, ("kind", "text", "prior", "rationale", "provenance"))
        belief = justified(
            r, {k: body[k] for k in ("prior", "rationale", "provenance")}, key, probability_prior
        )
        conditions[cid] = Condition(cid, kind, r.text(body["text"], f"{key}.text"), belief)
    n_binary = sum(c.kind == "binary" for c in conditions.values())
    if n_binary > MAX_BINARY_CONDITIONS:
        raise r.fail(
            "conditions",
            f"{n_binary} binary conditions: the engine enumerates "
            f"2**n configurations and allows at most {MAX_BINARY_CONDITIONS}.",
            "merge conditions or turn some into levels.",
        )
    return conditions


def _per_member(
    r: KeyReader, node: Any, key: str, members: tuple[str, ...], read: Any
) -> dict[str, Justified]:
    """Read a baseline block shared by all members, or a mapping member → block."""
    node = r.mapping(node, key)
    if "prior" in node or "reference_class" in node or not members:
        block = read(node, key)
        return {m: block for m in members or ("",)}
    out = {}
    for m in members:
        if m not in node:
            raise r.fail(
                f"{key}.{m}",
                "missing baseline for this member.",
                "give one block per member, or one shared block with 'prior'.",
            )
        out[m] = read(node[m], f"{key}.{m}")
    for m in node:
        if m not in members:
            raise r.fail(
                f"{key}.{m}",
                "not a member of this node.",
                "members are: " + ", ".join(members) + ".",
            )
    return out


def _propensities(
    r: KeyReader, node: Any, actors: Mapping[str, Actor], analysis_date: dt.date
) -> dict[str, Propensity]:
    out: dict[str, Propensity] = {}
    for pid, key, body in _entries(r, node, "propensities"):
        optional = ("actors", "within_months", "public", "public_after_months", "destinations")
        r.keys(
            body,
            key,
            ("kind", "text", "baseline"),
            (*optional, "known_from", "reference_class", "at_risk_after"),
        )
        kind = r.choice(body["kind"], f"{key}.kind", PROPENSITY_KINDS)
        members = body.get("actors", [])
        if not isinstance(members, list):
            raise r.fail(
                f"{key}.actors", "expected a list of actor ids.", "write e.g. 'actors: [splinter]'."
            )
        for i, a in enumerate(members):
            if r.ident(a, f"{key}.actors[{i}]") not in actors:
                raise r.fail(
                    f"{key}.actors[{i}]",
                    f"unknown actor {short(a)}.",
                    "name an actor declared under 'actors'.",
                )
        within = r.integer(
            body.get("within_months", 12 if kind == "hazard" else 1), f"{key}.within_months", 1
        )
        read = baseline_reader(r, analysis_date, kind, within)
        baselines = _per_member(r, body["baseline"], f"{key}.baseline", tuple(members), read)
        out[pid] = Propensity(
            id=pid,
            kind=kind,
            text=r.text(body["text"], f"{key}.text"),
            actors=tuple(members),
            baselines=baselines,
            within_months=within,
            public_after_months=_public(r, body, key, kind),
            destinations=read_destinations(r, body["destinations"], f"{key}.destinations", kind)
            if "destinations" in body
            else {},
            at_risk_after=read_gate(r, f"{key}.at_risk_after", body["at_risk_after"])
            if "at_risk_after" in body
            else None,
            known_from=_known(r, body, key, analysis_date),
            reference_class=hazard_class(r, body, key, kind, baselines, analysis_date),
        )
    return out


def _known(
    r: KeyReader, body: Mapping[str, Any], key: str, analysis_date: dt.date
) -> KnownFrom | None:
    if "known_from" not in body:
        return None
    return known_from(r, body["known_from"], f"{key}.known_from", analysis_date)


def _public(r: KeyReader, body: Mapping[str, Any], key: str, kind: str) -> int | None:
    """Months after which a hazard's event would be on record (None: not public)."""
    if "public" not in body and "public_after_months" not in body:
        return None
    if kind != "hazard":
        raise r.fail(f"{key}.public", "only a hazard's event can be public.", "remove it.")
    public = r.boolean(body.get("public", True), f"{key}.public")
    lag = r.integer(body.get("public_after_months", 0), f"{key}.public_after_months", 0)
    return lag if public else None


def _series(r: KeyReader, node: Any) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for sid, key, body in _entries(r, node, "series"):
        r.keys(body, key, ("text", "categories"), ("overdispersion",))
        cats = r.mapping(body["categories"], f"{key}.categories")
        for c in cats:
            r.ident(c, f"{key}.categories.{c}")
        baselines = {
            c: justified(r, b, f"{key}.categories.{c}", magnitude_prior) for c, b in cats.items()
        }
        disp = body.get("overdispersion") or {
            "prior": DEFAULT_OVERDISPERSION,
            "rationale": "default: counts vary more than Poisson, by a modest factor",
            "provenance": ANALYST_JUDGMENT,
        }
        out[sid] = Series(
            sid,
            r.text(body["text"], f"{key}.text"),
            tuple(cats),
            baselines,
            justified(r, disp, f"{key}.overdispersion", magnitude_prior),
        )
    return out


def _no_clashes(r: KeyReader, **sections: Mapping[str, Any]) -> None:
    """Refuse an id used in two sections, naming it where it is used the second time."""
    seen: dict[str, str] = {}
    for section, group in sections.items():
        for name in group:
            if name in seen:
                raise r.fail(
                    f"{section}.{name}",
                    f"the same id names a condition, propensity, series or stock twice "
                    f"(also under '{seen[name]}').",
                    "give each its own id.",
                )
            seen[name] = section
