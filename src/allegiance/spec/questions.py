"""Questions of a model file: dated events, each field checked against the model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec import fields as qk
from allegiance.spec.types import (
    Actor,
    Condition,
    Propensity,
    Question,
    Series,
    Stock,
    months_between,
    months_covered,
)

LEAVING_A_PARENT = ("leaves", "stays_as_lobby", "friction")  # kinds whose actors have a parent


def read_questions(
    r: KeyReader,
    node: Any,
    analysis_date: dt.date,
    actors: Mapping[str, Actor],
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
    conditions: Mapping[str, Condition],
    stocks: Mapping[str, Stock],
) -> dict[str, Question]:
    """Read the ``questions`` list, checking each field against the model's parts."""
    if not isinstance(node, list) or not node:
        raise r.fail(
            "questions",
            "expected a non-empty list of questions.",
            "start each question with '- id:'.",
        )
    out: dict[str, Question] = {}
    for i, body in enumerate(node):
        key = f"questions[{i}]"
        body = r.mapping(body, key)
        kind = r.choice(body.get("kind"), f"{key}.kind", qk.QUESTION_FIELDS)
        schema = qk.QUESTION_FIELDS[kind]
        spec_fields = schema.fields
        required = [name for name in spec_fields if name not in schema.optional]
        r.keys(
            body,
            key,
            ("id", "kind", "text", "resolution", "horizon", *required),
            (*schema.optional,),
        )
        qid = r.ident(body["id"], f"{key}.id")
        key = f"questions.{qid}"
        if qid in out:
            raise r.fail(key, "duplicate question id.", "give each question its own id.")
        horizon = r.date(body["horizon"], f"{key}.horizon")
        months = months_between(analysis_date, horizon)
        if months > 600:  # the engine allocates arrays per month of the window
            raise r.fail(
                f"{key}.horizon",
                f"horizon {horizon} is {months} months after the analysis date.",
                "forecast at most 600 months (fifty years) ahead.",
            )
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
            if ftype not in (qk.CONDITION, qk.STOCK)
            else _named(r, body[name], f"{key}.{name}", ftype, conditions, stocks)
            for name, ftype in spec_fields.items()
            if name in body
        }
        _check_kind(r, key, kind, fields, analysis_date, horizon, actors, propensities)
        out[qid] = Question(
            qid,
            kind,
            r.text(body["text"], f"{key}.text"),
            r.text(body["resolution"], f"{key}.resolution"),
            horizon,
            months,
            fields,
            months_covered(fields.get("start", analysis_date), horizon),
        )
    return out


def _check_kind(
    r: KeyReader,
    key: str,
    kind: str,
    fields: Mapping[str, Any],
    analysis_date: dt.date,
    horizon: dt.date,
    actors: Mapping[str, Actor],
    propensities: Mapping[str, Propensity],
) -> None:
    """Check what a kind needs of its fields together: an event's actor, a count's window."""
    if kind == "event" and propensities[fields["hazard"]].actors and "actor" not in fields:
        members = propensities[fields["hazard"]].actors
        raise r.fail(
            f"{key}.actor",
            f"{short(fields['hazard'])} is a hazard per actor: say whose event.",
            "add 'actor:' (one of " + ", ".join(members) + ").",
        )
    if kind in LEAVING_A_PARENT:
        named = [("actor", fields["actor"])] if "actor" in fields else []
        named += [(f"actors[{j}]", a) for j, a in enumerate(fields.get("actors", ()))]
        for where, actor in named:
            if actors[actor].parent is None:
                raise r.fail(
                    f"{key}.{where}",
                    f"{short(actor)} has no parent: a {kind!r} question is about an actor "
                    "leaving its parent (or staying inside it).",
                    "give the actor a 'parent:' under 'actors', or ask an 'event' question.",
                )
    if kind == "fighters_leave":
        if not 0.0 < fields["share"] <= 1.0:
            raise r.fail(
                f"{key}.share",
                f"share {fields['share']:g} is not in (0, 1].",
                "give the share of the actor's fighters as a fraction, e.g. 0.33 for a third.",
            )
        if not actors[fields["actor"]].fighters > 0:
            raise r.fail(
                f"{key}.actor",
                f"{short(fields['actor'])} has no fighters declared.",
                "give the actor 'fighters:' (its strength on the analysis date).",
            )
    start = fields.get("start")
    if start is not None and not analysis_date <= start < horizon:
        raise r.fail(
            f"{key}.start",
            f"start {start} is not from the analysis date {analysis_date} to before the horizon.",
            "count from a date on or after the analysis date, before the horizon.",
        )


def _named(
    r: KeyReader,
    value: Any,
    key: str,
    ftype: str,
    conditions: Mapping[str, Condition],
    stocks: Mapping[str, Stock],
) -> str:
    """Read a condition (binary or switch, not a level) or a stock a question asks about."""
    value = r.ident(value, key)
    if ftype == qk.STOCK:
        known, what = list(stocks), "stock"
    else:
        known, what = [c for c, v in conditions.items() if v.kind != "level"], "binary or switch "
        what += "condition"
    if value not in known:
        raise r.fail(
            key,
            f"{short(value)} is not a {what} of the model.",
            "use one of: " + (", ".join(known) or "(none)") + ".",
        )
    return value


def _question_field(
    r: KeyReader,
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
    if ftype == qk.DATE:
        return r.date(value, key)
    if ftype == qk.DESTINATIONS:
        hazard = body.get("hazard")
        known = (
            propensities[hazard].destinations
            if isinstance(hazard, str) and hazard in propensities
            else {}
        )
        if not isinstance(value, list) or not value:
            raise r.fail(
                key,
                "expected a non-empty list of destinations.",
                "use some of: " + (", ".join(known) or "(none declared)") + ".",
            )
        for j, name in enumerate(value):
            if r.ident(name, f"{key}[{j}]") not in known:
                raise r.fail(
                    f"{key}[{j}]",
                    f"{short(name)} is not a destination of {short(body.get('hazard'))}.",
                    "use one of: " + (", ".join(known) or "(none declared)") + ".",
                )
        return tuple(value)
    if ftype in (qk.HAZARD, qk.CHANCE, qk.SERIES, qk.CATEGORY, qk.ACTOR):
        value = r.ident(value, key)
    if ftype in (qk.HAZARD, qk.CHANCE):
        if value not in propensities or propensities[value].kind != ftype:
            known = [p for p, v in propensities.items() if v.kind == ftype]
            raise r.fail(
                key,
                f"{short(value)} is not a {ftype} propensity.",
                "use one of: " + ", ".join(known) + ".",
            )
        node = propensities[value]
        who = body.get("actors", [body.get("actor")])
        # A chance of no one actor answers for every actor; a hazard of no one
        # actor is one event, not each actor's.
        if isinstance(who, list) and (node.actors or ftype == qk.HAZARD):
            for a in who:
                if a is not None and a not in node.actors:
                    raise r.fail(
                        key,
                        f"{short(value)} has no member {short(a)}.",
                        "add the actor to the propensity's 'actors'."
                        if node.actors
                        else f"{short(value)} is a hazard of no one actor: ask an 'event' question "
                        "without 'actor'.",
                    )
        return value
    if ftype == qk.SERIES:
        return r.member(value, key, series, "series")
    if ftype == qk.CATEGORY:
        cats = series.get(str(body.get("series")))
        if cats is None or value not in cats.categories:
            raise r.fail(
                key,
                f"{short(value)} is not a category of series {short(body.get('series'))}.",
                "use one of: " + (", ".join(cats.categories) if cats else "(unknown series)") + ".",
            )
        return value
    if ftype == qk.ACTOR:
        if value not in actors:
            raise r.fail(key, f"unknown actor {short(value)}.", "name an actor under 'actors'.")
        return value
    if not isinstance(value, list) or not value:
        raise r.fail(
            key, "expected a non-empty list of actor ids.", "write e.g. 'actors: [splinter]'."
        )
    for j, a in enumerate(value):
        if r.ident(a, f"{key}[{j}]") not in actors:
            raise r.fail(
                f"{key}[{j}]", f"unknown actor {short(a)}.", "name an actor under 'actors'."
            )
    return tuple(value)
