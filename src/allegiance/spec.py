"""The model file: load, validate and describe a declared model.

A model file is YAML (read with ``yaml.safe_load``) with ``schema_version: 1``.
Its sections are ``actors``, ``conditions``, ``propensities``, ``series``,
``effects`` and ``questions``; the README documents each key. Every error
names the file, the key path and the fix. Kinds named in the file (condition,
propensity, effect and question kinds) map to engine parts through the
registries below and in :mod:`allegiance.questions`, never through imports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from allegiance import questions as qk
from allegiance.errors import SpecError
from allegiance.priors import Prior, magnitude_prior, probability_prior, ratio_prior

SCHEMA_VERSION = 1
IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
CONDITION_KINDS = ("binary", "level")
PROPENSITY_KINDS = ("hazard", "chance")
EFFECT_KINDS = ("shift", "necessary")
DIRECTIONS = {"raises": 1, "lowers": -1}
ACTOR_ROLES = ("parent", "faction", "group", "state", "other")
ANALYST_JUDGMENT = "analyst judgment"
MAX_BINARY_CONDITIONS = 12
DEFAULT_OVERDISPERSION = {"typical": 0.3, "range": [0.05, 1.5]}


@dataclass(frozen=True)
class Actor:
    """An armed group, faction or state."""

    id: str
    name: str
    role: str
    parent: str | None = None
    fighters: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class Justified:
    """A prior with the reason and the provenance the analyst gave for it."""

    prior: Prior
    rationale: str
    provenance: str


@dataclass(frozen=True)
class Condition:
    """A driver: a yes/no state (``binary``) or a level in [0, 1] (``level``)."""

    id: str
    kind: str
    text: str
    belief: Justified


@dataclass(frozen=True)
class Propensity:
    """A probability node: a monthly ``hazard`` or a one-off ``chance``, per actor or global.

    ``baselines`` maps each actor (``""`` for a global node) to the prior of the
    node's probability with every binary condition false and every level at 0.5.
    A hazard's baseline is stated as the chance of the event within
    ``within_months`` months.
    """

    id: str
    kind: str
    text: str
    actors: tuple[str, ...]
    baselines: Mapping[str, Justified]
    within_months: int = 1


@dataclass(frozen=True)
class Series:
    """Counts per month by category (negative binomial), e.g. defectors by origin."""

    id: str
    text: str
    categories: tuple[str, ...]
    baselines: Mapping[str, Justified]
    overdispersion: Justified


@dataclass(frozen=True)
class Target:
    """What an effect acts on: a propensity or series, optionally one actor or category."""

    node: str
    member: str | None = None

    def __str__(self) -> str:
        return self.node if self.member is None else f"{self.node}.{self.member}"


@dataclass(frozen=True)
class Effect:
    """How a condition moves its targets.

    A ``shift`` multiplies the targets' odds (or a series' rate) by a ratio,
    raised or lowered per ``direction``. A ``necessary`` effect multiplies a
    target's probability by a leak when the condition is false.
    """

    id: str
    condition: str
    kind: str
    targets: tuple[Target, ...]
    direction: int
    belief: Justified


@dataclass(frozen=True)
class Question:
    """A forecast question: a dated event with a resolution rule."""

    id: str
    kind: str
    text: str
    resolution: str
    horizon: dt.date
    horizon_months: int
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    """A validated model file. Creating it never builds or samples anything."""

    id: str
    title: str
    analysis_date: dt.date
    history_months: int
    source: str
    actors: Mapping[str, Actor]
    conditions: Mapping[str, Condition]
    propensities: Mapping[str, Propensity]
    series: Mapping[str, Series]
    effects: tuple[Effect, ...]
    questions: Mapping[str, Question]
    path: Path
    sha256: str
    text: str = field(repr=False, default="")

    @property
    def binary_conditions(self) -> list[str]:
        """Binary condition ids, in file order."""
        return [c.id for c in self.conditions.values() if c.kind == "binary"]

    @property
    def level_conditions(self) -> list[str]:
        """Level condition ids, in file order."""
        return [c.id for c in self.conditions.values() if c.kind == "level"]

    @property
    def slots(self) -> list[tuple[str, str]]:
        """(propensity, actor) pairs, one parameter each; actor is '' for global nodes."""
        return [(p.id, a) for p in self.propensities.values() for a in p.actors or ("",)]

    @property
    def channels(self) -> list[tuple[str, str]]:
        """(series, category) pairs, one count rate each."""
        return [(s.id, c) for s in self.series.values() for c in s.categories]

    @property
    def forward_months(self) -> int:
        """Months from the analysis date to the furthest horizon."""
        return max((q.horizon_months for q in self.questions.values()), default=12)

    @property
    def window_months(self) -> int:
        """Months in the count window: history before the analysis date plus forward months."""
        return self.history_months + self.forward_months


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from ``start``'s month to ``end``'s month."""
    return (end.year - start.year) * 12 + (end.month - start.month)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key repeated in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, Hashable) and key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def safe_load(text: str) -> Any:
    """Parse YAML safely (no object construction), refusing duplicate keys."""
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


class _Reader:
    """Walks the parsed YAML, raising :class:`SpecError` with the file and key path."""

    def __init__(self, path: Path, error: type[SpecError] = SpecError) -> None:
        self.path = path
        self.error = error

    def fail(self, key: str, problem: str, fix: str = "") -> SpecError:
        return self.error(self.path, key, problem, fix)

    def mapping(self, node: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.fail(
                key,
                f"expected a mapping, got {type(node).__name__}.",
                "indent the entries under this key as 'name: value' pairs.",
            )
        return node

    def keys(
        self,
        node: Mapping[str, Any],
        key: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        for name in required:
            if name not in node:
                raise self.fail(
                    f"{key}.{name}" if key else name, "missing required key.", f"add '{name}'."
                )
        allowed = set(required) | set(optional)
        for name in node:
            if name not in allowed:
                raise self.fail(
                    f"{key}.{name}" if key else str(name),
                    "unknown key.",
                    "allowed keys here: " + ", ".join(sorted(allowed)) + ".",
                )

    def text(self, node: Any, key: str, *, empty: bool = False) -> str:
        if not isinstance(node, str) or (not empty and not node.strip()):
            raise self.fail(key, f"expected non-empty text, got {node!r}.")
        return node.strip()

    def ident(self, node: Any, key: str) -> str:
        if not isinstance(node, str) or not IDENT.fullmatch(node):
            raise self.fail(
                key,
                f"{node!r} is not a valid id.",
                "use letters, digits and underscores, starting with a letter.",
            )
        return node

    def date(self, node: Any, key: str) -> dt.date:
        if isinstance(node, dt.datetime):
            return node.date()
        if isinstance(node, dt.date):
            return node
        try:
            return dt.date.fromisoformat(str(node))
        except ValueError:
            raise self.fail(key, f"{node!r} is not a date.", "write it as YYYY-MM-DD.") from None

    def integer(self, node: Any, key: str, minimum: int) -> int:
        if not isinstance(node, int) or isinstance(node, bool) or node < minimum:
            raise self.fail(key, f"expected a whole number >= {minimum}, got {node!r}.")
        return node

    def number(self, node: Any, key: str, minimum: float) -> float:
        if (
            not isinstance(node, int | float)
            or isinstance(node, bool)
            or not math.isfinite(node)
            or node < minimum
        ):
            raise self.fail(key, f"expected a number >= {minimum:g}, got {node!r}.")
        return float(node)

    def choice(self, node: Any, key: str, options: tuple[str, ...] | Mapping[str, Any]) -> str:
        if not isinstance(node, str) or node not in options:
            raise self.fail(
                key,
                f"{node!r} is not one of {', '.join(options)}.",
                f"use one of: {', '.join(options)}.",
            )
        return str(node)

    def provenance(self, node: Any, key: str) -> str:
        value = self.text(node, key)
        if value.lower() != ANALYST_JUDGMENT and not value.lower().startswith("source:"):
            raise self.fail(
                key,
                f"provenance {value!r} is neither a source claim nor '{ANALYST_JUDGMENT}'.",
                "write 'source: <the claim it rests on>' or 'analyst judgment'.",
            )
        return value

    def justified(self, node: Any, key: str, convert: Any) -> Justified:
        node = self.mapping(node, key)
        self.keys(node, key, ("prior", "rationale", "provenance"))
        return Justified(
            convert(node["prior"], self.path, f"{key}.prior"),
            self.text(node["rationale"], f"{key}.rationale"),
            self.provenance(node["provenance"], f"{key}.provenance"),
        )


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
    r = _Reader(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise r.fail("", f"cannot read the file ({exc.strerror}).", "check the path.") from None
    try:
        text = raw_bytes.decode("utf-8")
        doc = safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: bad dates, bad UTF-8
        raise r.fail("", f"not valid YAML: {exc}", "fix the syntax at the line shown.") from None
    doc = r.mapping(doc, "(top level)")
    r.keys(
        doc,
        "",
        (
            "schema_version",
            "id",
            "title",
            "analysis_date",
            "actors",
            "conditions",
            "propensities",
            "questions",
        ),
        ("history_months", "source", "series", "effects"),
    )
    if type(doc["schema_version"]) is not int or doc["schema_version"] != SCHEMA_VERSION:
        raise r.fail(
            "schema_version",
            f"version {doc['schema_version']!r} is not supported.",
            f"this package reads schema_version {SCHEMA_VERSION}.",
        )
    analysis_date = r.date(doc["analysis_date"], "analysis_date")
    actors = _actors(r, doc["actors"])
    conditions = _conditions(r, doc["conditions"])
    propensities = _propensities(r, doc["propensities"], actors)
    series = _series(r, doc.get("series") or {})
    _no_clashes(r, conditions, propensities, series)
    effects = _effects(r, doc.get("effects") or [], conditions, propensities, series)
    questions = _questions(r, doc["questions"], analysis_date, actors, propensities, series)
    return ModelSpec(
        id=r.ident(doc["id"], "id"),
        title=r.text(doc["title"], "title"),
        analysis_date=analysis_date,
        history_months=r.integer(doc.get("history_months", 24), "history_months", 0),
        source=r.text(doc.get("source", ""), "source", empty=True),
        actors=actors,
        conditions=conditions,
        propensities=propensities,
        series=series,
        effects=effects,
        questions=questions,
        path=path,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        text=text,
    )


def _actors(r: _Reader, node: Any) -> dict[str, Actor]:
    node = r.mapping(node, "actors")
    actors: dict[str, Actor] = {}
    for aid, body in node.items():
        key = f"actors.{aid}"
        r.ident(aid, key)
        body = r.mapping(body, key)
        r.keys(body, key, ("name", "role"), ("parent", "fighters", "note"))
        actors[aid] = Actor(
            id=aid,
            name=r.text(body["name"], f"{key}.name"),
            role=r.choice(body["role"], f"{key}.role", ACTOR_ROLES),
            parent=body.get("parent"),
            fighters=r.number(body.get("fighters", 0), f"{key}.fighters", 0),
            note=r.text(body.get("note", ""), f"{key}.note", empty=True),
        )
    for actor in actors.values():
        if actor.parent is not None and actor.parent not in actors:
            raise r.fail(
                f"actors.{actor.id}.parent",
                f"unknown actor {actor.parent!r}.",
                "name an actor declared under 'actors'.",
            )
        seen, up = {actor.id}, actor.parent
        while up is not None:
            if up in seen:
                raise r.fail(
                    f"actors.{actor.id}.parent",
                    f"the parent chain of {actor.id!r} loops back on itself.",
                    "an actor cannot be its own ancestor.",
                )
            seen.add(up)
            up = actors[up].parent if up in actors else None
    return actors


def _conditions(r: _Reader, node: Any) -> dict[str, Condition]:
    node = r.mapping(node, "conditions")
    conditions: dict[str, Condition] = {}
    for cid, body in node.items():
        key = f"conditions.{cid}"
        r.ident(cid, key)
        body = r.mapping(body, key)
        r.keys(body, key, ("kind", "text", "prior", "rationale", "provenance"))
        kind = r.choice(body["kind"], f"{key}.kind", CONDITION_KINDS)
        belief = r.justified(
            {k: body[k] for k in ("prior", "rationale", "provenance")}, key, probability_prior
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
    r: _Reader, node: Any, key: str, members: tuple[str, ...], convert: Any
) -> dict[str, Justified]:
    """Read a baseline block shared by all members, or a mapping member → block."""
    node = r.mapping(node, key)
    if "prior" in node or not members:
        block = r.justified(node, key, convert)
        return {m: block for m in members or ("",)}
    out = {}
    for m in members:
        if m not in node:
            raise r.fail(
                f"{key}.{m}",
                "missing baseline for this member.",
                "give one block per member, or one shared block with 'prior'.",
            )
        out[m] = r.justified(node[m], f"{key}.{m}", convert)
    for m in node:
        if m not in members:
            raise r.fail(
                f"{key}.{m}",
                "not a member of this node.",
                "members are: " + ", ".join(members) + ".",
            )
    return out


def _propensities(r: _Reader, node: Any, actors: Mapping[str, Actor]) -> dict[str, Propensity]:
    node = r.mapping(node, "propensities")
    out: dict[str, Propensity] = {}
    for pid, body in node.items():
        key = f"propensities.{pid}"
        r.ident(pid, key)
        body = r.mapping(body, key)
        r.keys(body, key, ("kind", "text", "baseline"), ("actors", "within_months"))
        kind = r.choice(body["kind"], f"{key}.kind", PROPENSITY_KINDS)
        members = body.get("actors", [])
        if not isinstance(members, list):
            raise r.fail(f"{key}.actors", "expected a list of actor ids.")
        for i, a in enumerate(members):
            if a not in actors:
                raise r.fail(
                    f"{key}.actors[{i}]",
                    f"unknown actor {a!r}.",
                    "name an actor declared under 'actors'.",
                )
        if kind == "hazard" and not members:
            raise r.fail(
                f"{key}.actors",
                "a hazard needs the actors at risk.",
                "list the actors whose departure this hazard times.",
            )
        within = r.integer(
            body.get("within_months", 12 if kind == "hazard" else 1), f"{key}.within_months", 1
        )
        out[pid] = Propensity(
            id=pid,
            kind=kind,
            text=r.text(body["text"], f"{key}.text"),
            actors=tuple(members),
            baselines=_per_member(
                r, body["baseline"], f"{key}.baseline", tuple(members), probability_prior
            ),
            within_months=within,
        )
    return out


def _series(r: _Reader, node: Any) -> dict[str, Series]:
    node = r.mapping(node, "series")
    out: dict[str, Series] = {}
    for sid, body in node.items():
        key = f"series.{sid}"
        r.ident(sid, key)
        body = r.mapping(body, key)
        r.keys(body, key, ("text", "categories"), ("overdispersion",))
        cats = r.mapping(body["categories"], f"{key}.categories")
        for c in cats:
            r.ident(c, f"{key}.categories.{c}")
        baselines = {
            c: r.justified(b, f"{key}.categories.{c}", magnitude_prior) for c, b in cats.items()
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
            r.justified(disp, f"{key}.overdispersion", magnitude_prior),
        )
    return out


def _no_clashes(r: _Reader, *groups: Mapping[str, Any]) -> None:
    seen: set[str] = set()
    for group in groups:
        for name in group:
            if name in seen:
                raise r.fail(
                    str(name),
                    "the same id names a condition, propensity or series twice.",
                    "give each its own id.",
                )
            seen.add(name)


def _target(
    r: _Reader,
    raw: Any,
    key: str,
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
) -> Target:
    if not isinstance(raw, str):
        raise r.fail(key, f"expected 'node' or 'node.member', got {raw!r}.")
    node, _, member = raw.partition(".")
    if node in propensities:
        members = propensities[node].actors
    elif node in series:
        members = series[node].categories
    else:
        raise r.fail(
            key,
            f"unknown target {node!r}.",
            "name a propensity or a series: " + ", ".join([*propensities, *series]) + ".",
        )
    if member and member not in members:
        raise r.fail(
            key,
            f"{member!r} is not a member of {node!r}.",
            "members are: " + (", ".join(members) or "(none: a global node)") + ".",
        )
    return Target(node, member or None)


def _effects(
    r: _Reader,
    node: Any,
    conditions: Mapping[str, Condition],
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
) -> tuple[Effect, ...]:
    if not isinstance(node, list):
        raise r.fail("effects", "expected a list of effects.", "start each effect with '- id:'.")
    out: list[Effect] = []
    ids: set[str] = set()
    for i, body in enumerate(node):
        key = f"effects[{i}]"
        body = r.mapping(body, key)
        kind = r.choice(body.get("kind", "shift"), f"{key}.kind", EFFECT_KINDS)
        strength_key = "strength" if kind == "shift" else "leak"
        r.keys(
            body,
            key,
            ("id", "condition", "targets", strength_key, "rationale", "provenance"),
            ("kind", "direction"),
        )
        eid = r.ident(body["id"], f"{key}.id")
        key = f"effects.{eid}"
        if eid in ids:
            raise r.fail(key, "duplicate effect id.", "give each effect its own id.")
        ids.add(eid)
        cid = body["condition"]
        if cid not in conditions:
            raise r.fail(
                f"{key}.condition",
                f"unknown condition {cid!r}.",
                "name a condition declared under 'conditions'.",
            )
        raw_targets = body["targets"]
        if not isinstance(raw_targets, list) or not raw_targets:
            raise r.fail(f"{key}.targets", "expected a non-empty list of targets.")
        targets = tuple(
            _target(r, t, f"{key}.targets[{j}]", propensities, series)
            for j, t in enumerate(raw_targets)
        )
        if kind == "necessary":
            if conditions[cid].kind != "binary":
                raise r.fail(
                    f"{key}.condition",
                    "a necessary condition must be binary.",
                    "use a 'shift' effect for a level.",
                )
            if any(t.node in series for t in targets):
                raise r.fail(f"{key}.targets", "a necessary condition acts on propensities only.")
            if "direction" in body:
                raise r.fail(
                    f"{key}.direction",
                    "a necessary condition has no direction: it always multiplies by its leak "
                    "when the condition is false.",
                    "remove 'direction'.",
                )
            direction = 1
            convert = probability_prior
        else:
            if "direction" not in body:
                raise r.fail(
                    f"{key}.direction",
                    "missing required key.",
                    "add 'direction: raises' or 'direction: lowers'.",
                )
            direction = DIRECTIONS[r.choice(body["direction"], f"{key}.direction", DIRECTIONS)]
            convert = ratio_prior
        belief = Justified(
            convert(body[strength_key], r.path, f"{key}.{strength_key}"),
            r.text(body["rationale"], f"{key}.rationale"),
            r.provenance(body["provenance"], f"{key}.provenance"),
        )
        out.append(Effect(eid, cid, kind, targets, direction, belief))
    return tuple(out)


def _questions(
    r: _Reader,
    node: Any,
    analysis_date: dt.date,
    actors: Mapping[str, Actor],
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
) -> dict[str, Question]:
    if not isinstance(node, list) or not node:
        raise r.fail("questions", "expected a non-empty list of questions.")
    out: dict[str, Question] = {}
    for i, body in enumerate(node):
        key = f"questions[{i}]"
        body = r.mapping(body, key)
        kind = r.choice(body.get("kind"), f"{key}.kind", qk.QUESTION_KINDS)
        spec_fields = qk.QUESTION_KINDS[kind].fields
        r.keys(body, key, ("id", "kind", "text", "resolution", "horizon", *spec_fields))
        qid = r.ident(body["id"], f"{key}.id")
        key = f"questions.{qid}"
        if qid in out:
            raise r.fail(key, "duplicate question id.", "give each question its own id.")
        horizon = r.date(body["horizon"], f"{key}.horizon")
        months = months_between(analysis_date, horizon)
        if months < 1:
            raise r.fail(
                f"{key}.horizon",
                f"horizon {horizon} is not at least a month after "
                f"the analysis date {analysis_date}.",
                "move the horizon later.",
            )
        fields = {
            name: _question_field(
                r, body[name], f"{key}.{name}", ftype, body, actors, propensities, series
            )
            for name, ftype in spec_fields.items()
        }
        out[qid] = Question(
            qid,
            kind,
            r.text(body["text"], f"{key}.text"),
            r.text(body["resolution"], f"{key}.resolution"),
            horizon,
            months,
            fields,
        )
    return out


def _question_field(
    r: _Reader,
    value: Any,
    key: str,
    ftype: str,
    body: Mapping[str, Any],
    actors: Mapping[str, Actor],
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
) -> Any:
    if ftype == qk.NUMBER:
        return r.number(value, key, 0)
    if ftype in (qk.HAZARD, qk.CHANCE):
        if value not in propensities or propensities[value].kind != ftype:
            known = [p for p, v in propensities.items() if v.kind == ftype]
            raise r.fail(
                key,
                f"{value!r} is not a {ftype} propensity.",
                "use one of: " + ", ".join(known) + ".",
            )
        node = propensities[value]
        who = body.get("actors", [body.get("actor")])
        if node.actors and isinstance(who, list):
            for a in who:
                if a not in node.actors:
                    raise r.fail(
                        key,
                        f"{value!r} has no member {a!r}.",
                        "add the actor to the propensity's 'actors'.",
                    )
        return value
    if ftype == qk.SERIES:
        if value not in series:
            raise r.fail(
                key, f"unknown series {value!r}.", "use one of: " + ", ".join(series) + "."
            )
        return value
    if ftype == qk.CATEGORY:
        cats = series.get(str(body.get("series")))
        if cats is None or value not in cats.categories:
            raise r.fail(key, f"{value!r} is not a category of series {body.get('series')!r}.")
        return value
    if ftype == qk.ACTOR:
        if value not in actors:
            raise r.fail(key, f"unknown actor {value!r}.", "name an actor under 'actors'.")
        return value
    if not isinstance(value, list) or not value:
        raise r.fail(key, "expected a non-empty list of actor ids.")
    for j, a in enumerate(value):
        if a not in actors:
            raise r.fail(f"{key}[{j}]", f"unknown actor {a!r}.", "name an actor under 'actors'.")
    return tuple(value)
