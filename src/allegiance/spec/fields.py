"""The question kinds a model file may name: each kind's one declaration.

A kind declares its fields and their types, and how the record settles it. The
field types are what the kind reads: :mod:`allegiance.spec` checks each field
against the model by its type, and the forecast reads the evidence of exactly
the slots and channels the typed fields name
(:func:`allegiance.forecast.questions.reads`). The record's rule is data, an
expression the evidence stage interprets (:mod:`allegiance.evidence.outcomes`):

- :data:`LEFT`: the question's departure has happened by the horizon: its
  ``hazard`` field's event for the actor, or the event that sets off its
  ``condition`` field's switch;
- :func:`seen`: the chance outcome a ``chance`` field names is observed
  true for the actor by the horizon;
- :data:`WENT`: the actor's departure went to one of its ``destinations``;
- :func:`not_`, :func:`all_`: negation and conjunction;
- :func:`any_actor`: the rule holds for at least one of the ``actors`` field
  (elsewhere "the actor" is the ``actor`` field's, or no one actor's);
- :func:`tally`: a running total on record reaches the question's threshold
  (:data:`allegiance.evidence.tallies.TALLIES`, by name; a yes only).

How each kind is computed lives in :data:`allegiance.forecast.questions.COMPUTE`,
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


SHARE = "share"  # a fraction in (0, 1] of the fighters of the kind's actor


DATE = "date"


DESTINATIONS = "destinations"


CONDITION = "condition"


STOCK = "stock"


@dataclass(frozen=True)
class Left:
    """The question's departure has happened by the horizon."""


@dataclass(frozen=True)
class Seen:
    """The chance outcome the field names is observed true for the actor by the horizon."""

    field: str


@dataclass(frozen=True)
class Went:
    """The actor's departure went to one of the question's destinations."""


@dataclass(frozen=True)
class Not:
    """The part is false."""

    part: Rule


@dataclass(frozen=True)
class All:
    """Every part is true."""

    parts: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyActor:
    """The part is true for at least one of the question's actors."""

    part: Rule


@dataclass(frozen=True)
class Tally:
    """The running total on record the named tally keeps reaches the question's threshold."""

    name: str


Rule = Left | Seen | Went | Not | All | AnyActor | Tally
LEFT, WENT = Left(), Went()


def seen(field: str) -> Seen:
    """Return the rule: the chance outcome ``field`` names is observed true."""
    return Seen(field)


def not_(part: Rule) -> Not:
    """Return the rule: ``part`` is false."""
    return Not(part)


def all_(*parts: Rule) -> All:
    """Return the rule: every one of ``parts`` is true."""
    return All(parts)


def any_actor(part: Rule) -> AnyActor:
    """Return the rule: ``part`` is true for at least one of the question's actors."""
    return AnyActor(part)


def tally(name: str) -> Tally:
    """Return the rule: the tally ``name`` on record reaches the question's threshold."""
    return Tally(name)


def _check_rule(rule: Rule, fields: Mapping[str, str]) -> None:
    """Refuse a rule that reads a field the kind does not declare."""
    types = set(fields.values())
    needs = {
        Left: {HAZARD} if HAZARD in types else {CONDITION},
        Went: {HAZARD, DESTINATIONS},
        AnyActor: {ACTORS},
    }.get(type(rule), set())
    if isinstance(rule, Seen) and fields.get(rule.field) != CHANCE:
        raise ValueError(f"seen({rule.field!r}) names no chance field of the kind")
    if not needs <= types:
        raise ValueError(f"{rule} needs fields of type {sorted(needs - types)}")
    parts: tuple[Rule, ...] = ()
    if isinstance(rule, All):
        parts = rule.parts
    elif isinstance(rule, Not | AnyActor):
        parts = (rule.part,)
    for part in parts:
        _check_rule(part, fields)


@dataclass(frozen=True)
class QuestionFields:
    """A kind of forecast question: its fields, and how the record settles it.

    Parameters
    ----------
    fields : dict
        Field name → field type (one of the module's type constants). The types
        say what the kind reads: the slots of its ``hazard``, ``chance`` and
        ``condition`` fields for its actors, the channels of its ``series`` and
        ``category``, a ``stock``'s flows and the departures joining it.
    summary : str
        One line on what the kind resolves.
    optional : frozenset of str
        Fields a question may leave out (the kind says what their absence means).
    settled : Rule, optional
        How the record settles it (see the module's docstring); None: only an
        analyst's ``resolution`` does.
    parent : bool
        Whether its actors must have a parent (it asks about leaving one, or
        staying inside it).
    """

    fields: Mapping[str, str]
    summary: str
    optional: frozenset[str] = frozenset()
    settled: Rule | None = None
    parent: bool = False

    def __post_init__(self) -> None:
        if self.settled is not None:
            _check_rule(self.settled, self.fields)


QUESTION_FIELDS: dict[str, QuestionFields] = {
    "leaves": QuestionFields(
        {"actor": ACTOR, "hazard": HAZARD},
        "the actor leaves its parent by the horizon (hazard of leaving per month).",
        settled=LEFT,
        parent=True,
    ),
    "stays_as_lobby": QuestionFields(
        {"actor": ACTOR, "hazard": HAZARD, "lobby": CHANCE},
        "the actor is still inside at the horizon and acts as a lobby for outsiders.",
        settled=all_(not_(LEFT), seen("lobby")),
        parent=True,
    ),
    "alliance": QuestionFields(
        {"actors": ACTORS, "hazard": HAZARD, "aligns": CHANCE},
        "at least one listed actor has left and aligned with the partner by the horizon.",
        settled=any_actor(all_(LEFT, seen("aligns"))),
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
        settled=tally("absorption"),
    ),
    "escalation": QuestionFields(
        {"series": SERIES, "category": CATEGORY, "ratio": NUMBER},
        "counts from the analysis date to the horizon reach `ratio` times the "
        "pre-analysis monthly rate.",
        settled=tally("escalation"),
    ),
    "event": QuestionFields(
        {"hazard": HAZARD, "actor": ACTOR},
        "the hazard's event happens by the horizon: for the actor, or (no actor) for a "
        "hazard of no one actor.",
        frozenset({"actor"}),
        settled=LEFT,
    ),
    "any_event": QuestionFields(
        {"hazard": HAZARD, "actors": ACTORS},
        "the hazard's event happens by the horizon for at least one of the listed actors.",
        settled=any_actor(LEFT),
    ),
    "count": QuestionFields(
        {"series": SERIES, "category": CATEGORY, "threshold": NUMBER, "start": DATE},
        "the category's counts from `start` (default: the analysis date) to the horizon "
        "add up to at least `threshold`.",
        frozenset({"start"}),
        settled=tally("count"),
    ),
    "fighters_leave": QuestionFields(
        {"series": SERIES, "category": CATEGORY, "actor": ACTOR, "share": SHARE, "start": DATE},
        "the category's counts from `start` (default: the analysis date) to the horizon "
        "reach `share` of the actor's fighters (a partial defection).",
        frozenset({"start"}),
        settled=tally("count"),
    ),
    "exits": QuestionFields(
        {"actors": ACTORS, "hazard": HAZARD, "destinations": DESTINATIONS},
        "at least one listed actor has left for one of the listed destinations of the "
        "hazard by the horizon.",
        settled=any_actor(all_(LEFT, WENT)),
    ),
    "holds": QuestionFields(
        {"condition": CONDITION},
        "the condition holds by the horizon: a binary condition holds (it describes the "
        "whole window), a switch has switched on or before the horizon.",
        settled=LEFT,
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
        settled=any_actor(all_(not_(LEFT), seen("lobby"), seen("friction"))),
        parent=True,
    ),
}
