"""The question kinds a model file may name, and the fields each needs.

This is the schema only: :mod:`allegiance.spec` validates a question's fields
from it. How each kind is computed lives in :mod:`allegiance.forecast.questions`,
keyed by the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Field types a question kind can ask for; the spec loader checks each reference.
ACTOR = "actor"


ACTORS = "actors"


HAZARD = "hazard"


CHANCE = "chance"


SERIES = "series"


CATEGORY = "category"


NUMBER = "number"


DATE = "date"


DESTINATIONS = "destinations"


CONDITION = "condition"


STOCK = "stock"


@dataclass(frozen=True)
class QuestionFields:
    """The fields of a kind of forecast question.

    Parameters
    ----------
    fields : dict
        Field name → field type (one of the module's type constants).
    summary : str
        One line on what the kind resolves.
    optional : frozenset of str
        Fields a question may leave out (the kind says what their absence means).
    """

    fields: Mapping[str, str]
    summary: str
    optional: frozenset[str] = frozenset()


QUESTION_FIELDS: dict[str, QuestionFields] = {
    "leaves": QuestionFields(
        {"actor": ACTOR, "hazard": HAZARD},
        "the actor leaves its parent by the horizon (hazard of leaving per month).",
    ),
    "stays_as_lobby": QuestionFields(
        {"actor": ACTOR, "hazard": HAZARD, "lobby": CHANCE},
        "the actor is still inside at the horizon and acts as a lobby for outsiders.",
    ),
    "alliance": QuestionFields(
        {"actors": ACTORS, "hazard": HAZARD, "aligns": CHANCE},
        "at least one listed actor has left and aligned with the partner by the horizon.",
    ),
    "absorption": QuestionFields(
        {
            "actors": ACTORS,
            "hazard": HAZARD,
            "aligns": CHANCE,
            "joins": CHANCE,
            "series": SERIES,
            "category": CATEGORY,
            "threshold": NUMBER,
        },
        "the receiving group takes in at least `threshold` people from the category "
        "(steady flow plus whole factions that merge) by the horizon.",
    ),
    "escalation": QuestionFields(
        {"series": SERIES, "category": CATEGORY, "ratio": NUMBER},
        "counts from the analysis date to the horizon reach `ratio` times the "
        "pre-analysis monthly rate.",
    ),
    "event": QuestionFields(
        {"hazard": HAZARD, "actor": ACTOR},
        "the hazard's event happens by the horizon: for the actor, or (no actor) for a "
        "hazard of no one actor.",
        frozenset({"actor"}),
    ),
    "any_event": QuestionFields(
        {"hazard": HAZARD, "actors": ACTORS},
        "the hazard's event happens by the horizon for at least one of the listed actors.",
    ),
    "count": QuestionFields(
        {"series": SERIES, "category": CATEGORY, "threshold": NUMBER, "start": DATE},
        "the category's counts from `start` (default: the analysis date) to the horizon "
        "add up to at least `threshold`.",
        frozenset({"start"}),
    ),
    "fighters_leave": QuestionFields(
        {"series": SERIES, "category": CATEGORY, "actor": ACTOR, "share": NUMBER, "start": DATE},
        "the category's counts from `start` (default: the analysis date) to the horizon "
        "reach `share` of the actor's fighters (a partial defection).",
        frozenset({"start"}),
    ),
    "exits": QuestionFields(
        {"actors": ACTORS, "hazard": HAZARD, "destinations": DESTINATIONS},
        "at least one listed actor has left for one of the listed destinations of the "
        "hazard by the horizon.",
    ),
    "holds": QuestionFields(
        {"condition": CONDITION},
        "the condition holds by the horizon: a binary condition holds (it describes the "
        "whole window), a switch has switched on or before the horizon.",
    ),
    "stock_above": QuestionFields(
        {"stock": STOCK, "threshold": NUMBER},
        "the stock (a group's fighters) is at or above `threshold` at the horizon.",
    ),
    "stock_below": QuestionFields(
        {"stock": STOCK, "threshold": NUMBER},
        "the stock (a group's fighters) is below `threshold` at the horizon.",
    ),
    "friction": QuestionFields(
        {"actors": ACTORS, "hazard": HAZARD, "lobby": CHANCE, "friction": CHANCE},
        "open friction breaks out between the parent and at least one listed actor "
        "that stayed as a lobby, by the horizon.",
    ),
}
