"""Questions fixed before any outcome: a model's ``question_grid``, and dated provenance.

A grid asks the same questions of every hazard: for each hazard, actor and
horizon (months after the analysis date) whether the actor's event happens,
for each destination whether it goes there, and for a hazard of several
actors whether any of them does. Nobody picks which events are asked about,
so a grid's score measures the model and not the choice of questions. Grid
questions resolve by the record's rules only (:mod:`allegiance.evidence.outcomes`).

``known_from`` dates the public source that shows an actor existed, or a
hazard's event was in question, on the analysis date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.types import KnownFrom, Propensity, add_months

GRID_PREFIX = "grid_"
GRID_KEYS = ("horizons", "hazards", "destinations", "any_actor")


def known_from(r: KeyReader, node: Any, key: str, analysis_date: dt.date) -> KnownFrom:
    """Read ``known_from: {date, source}``: a public source dated on or before the analysis date."""
    node = r.mapping(node, key)
    r.keys(node, key, ("date", "source"))
    date = r.date(node["date"], f"{key}.date")
    if date > analysis_date:
        raise r.fail(
            f"{key}.date",
            f"{date} is after the analysis date {analysis_date}: a model may rest only on "
            "what was public by then.",
            "cite a source published on or before the analysis date, or leave the part out.",
        )
    return KnownFrom(date, r.text(node["source"], f"{key}.source"))


def grid_questions(
    r: KeyReader,
    node: Any,
    analysis_date: dt.date,
    names: Mapping[str, str],
    propensities: Mapping[str, Propensity],
) -> list[dict[str, Any]]:
    """Return the question bodies a ``question_grid`` generates, in hazard and horizon order.

    Parameters
    ----------
    r : KeyReader
    node : Any
        The ``question_grid`` mapping.
    analysis_date : date
    names : mapping
        Actor id → the actor's name, for the questions' text.
    propensities : mapping
        The model's propensities (hazards are asked about, chances are not).

    Raises
    ------
    SpecError
        Naming the key: a horizon that is not a whole number of months from 1 to
        600, repeated, or an unknown or non-hazard propensity.
    """
    node = r.mapping(node, "question_grid")
    r.keys(node, "question_grid", ("horizons",), GRID_KEYS[1:])
    horizons = _horizons(r, node["horizons"])
    hazards = [p for p, v in propensities.items() if v.kind == "hazard"]
    if "hazards" in node:
        chosen = node["hazards"]
        if not isinstance(chosen, list) or not chosen:
            raise r.fail(
                "question_grid.hazards",
                "expected a non-empty list of hazard ids.",
                "list hazards, e.g. [split], or leave the key out to ask of every hazard.",
            )
        for j, h in enumerate(chosen):
            if r.ident(h, f"question_grid.hazards[{j}]") not in hazards:
                raise r.fail(
                    f"question_grid.hazards[{j}]",
                    f"{short(h)} is not a hazard of the model.",
                    "use one of: " + ", ".join(hazards) + ".",
                )
        hazards = [h for h in hazards if h in chosen]
    each_way = r.boolean(node.get("destinations", True), "question_grid.destinations")
    any_actor = r.boolean(node.get("any_actor", True), "question_grid.any_actor")
    bodies = []
    for hid in hazards:
        hazard = propensities[hid]
        for months in horizons:
            horizon = add_months(analysis_date, months)
            bodies += _asked(hazard, horizon, months, names, each_way, any_actor)
    return bodies


def _horizons(r: KeyReader, node: Any) -> list[int]:
    key = "question_grid.horizons"
    if not isinstance(node, list) or not node:
        raise r.fail(key, "expected a non-empty list of months.", "write e.g. [6, 12, 24].")
    months = [r.integer(m, f"{key}[{j}]", 1) for j, m in enumerate(node)]
    for j, m in enumerate(months):
        if m > 600 or m in months[:j]:
            raise r.fail(
                f"{key}[{j}]",
                f"{m} months is " + ("more than 600." if m > 600 else "listed twice."),
                "give each horizon once, from 1 to 600 months after the analysis date.",
            )
    return sorted(months)


def _asked(
    hazard: Propensity,
    horizon: dt.date,
    months: int,
    names: Mapping[str, str],
    each_way: bool,
    any_actor: bool,
) -> list[dict[str, Any]]:
    """Return the grid's questions of one hazard at one horizon."""
    base = {"hazard": hazard.id, "horizon": horizon}
    rule = (
        "By the record's rules only: yes if the event is on record dated by the horizon; "
        "no once the horizon (plus the hazard's public lag) has passed with none on record, "
        "or a no_event covers it."
    )
    what = f"{hazard.id} ({hazard.text.rstrip('.')})"
    if not hazard.actors:
        text = f"Does the event of {what} happen by {horizon}?"
        return [{**base, "id": f"{GRID_PREFIX}{hazard.id}_{months}m", "kind": "event",
                 "text": text, "resolution": rule}]  # fmt: skip
    out = []
    for actor in hazard.actors:
        out.append(
            {**base, "id": f"{GRID_PREFIX}{hazard.id}_{actor}_{months}m", "kind": "event",
             "actor": actor, "text": f"{names[actor]}: does the event of {what} happen by "
             f"{horizon}?", "resolution": rule}
        )  # fmt: skip
        for dest in hazard.destinations.values() if each_way else ():
            out.append(
                {**base, "id": f"{GRID_PREFIX}{hazard.id}_{actor}_to_{dest.id}_{months}m",
                 "kind": "exits", "actors": [actor], "destinations": [dest.id],
                 "text": f"{names[actor]}: does the event of {what} happen by {horizon}, "
                 f"going to {dest.id} ({dest.text})?", "resolution": rule}
            )  # fmt: skip
    if any_actor and len(hazard.actors) > 1:
        who = ", ".join(names[a] for a in hazard.actors)
        out.append(
            {**base, "id": f"{GRID_PREFIX}{hazard.id}_any_{months}m", "kind": "any_event",
             "actors": list(hazard.actors), "text": f"Does the event of {what} happen by "
             f"{horizon} for any of {who}?", "resolution": rule}
        )  # fmt: skip
    return out
