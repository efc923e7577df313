"""What happened: the questions the record resolves, and what time passing says.

A question is resolved by a ``resolution`` item (an analyst's call, with its
source), or by the rule its kind declares (:mod:`allegiance.spec.fields`),
read here for any kind: a tally (:data:`~allegiance.evidence.tallies.TALLIES`)
once a running total on record reaches the question's threshold (a ``count``
question's counts in its window, an ``absorption`` question's counts and the
factions seen merging, an ``escalation`` question's counts since the analysis
month against its ratio of the past rate on record).

Questions on departures resolve by the same rule for every kind: a departure
by the horizon is settled by the actor's departure on record (``event`` or
``public_split``, dated by the horizon or after it), by an analyst's call on
another question of that departure, by a ``no_event`` through the horizon's
month (a no from the item's date), or, for a *public* hazard (``public: true``,
with an optional ``public_after_months`` lag: its event would be news), by no
record of it once the horizon plus the lag has passed. A ``leaves``, ``event``
or switch ``holds`` question is that departure; ``alliance`` and ``exits`` need
one actor to leave (and be seen allied, or go to a listed destination);
``stays_as_lobby`` and ``friction`` need one to stay (and be seen a lobby, and
in friction). Each resolves once its rule's parts are settled, yes on the day
the first way to yes is, no on the day the last way to yes closes. Retractions
apply as to any item (:func:`in_force`); no record of a public hazard's event
is also survival through the as-of date less the lag (:func:`time_passing`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from allegiance.evidence.items import Item
from allegiance.evidence.tallies import TALLIES
from allegiance.reading import iso_date
from allegiance.spec import ModelSpec, Question, add_months, months_between
from allegiance.spec.fields import (
    ACTOR,
    ACTORS,
    CONDITION,
    DESTINATIONS,
    HAZARD,
    LEFT,
    QUESTION_FIELDS,
    All,
    AnyActor,
    Left,
    Not,
    Rule,
    Seen,
    Tally,
    Went,
)
from allegiance.spec.types import GRID, HAND

IMPLIED = "time_passing_"  # the id of an item time passing implies, before its slot


@dataclass(frozen=True)
class Resolution:
    """How a question resolved, and the item on record that says so."""

    question: str
    outcome: bool
    date: dt.date
    source: str
    item_id: str

    @property
    def word(self) -> str:
        """Return ``yes`` or ``no``."""
        return "yes" if self.outcome else "no"


def resolutions(
    spec: ModelSpec, items: Sequence[Item], as_of: dt.date | None = None
) -> dict[str, Resolution]:
    """Return the resolved questions among items in force, by question id.

    Parameters
    ----------
    spec : ModelSpec
        The model whose questions are resolved.
    items : sequence of Item
        Items in force (:func:`allegiance.evidence.in_force`).
    as_of : date, optional
        The day of the record (today without one): a departure on a public
        hazard whose horizon (plus the lag) has passed by then with no
        departure on record counts as no.
    """
    as_of = as_of or dt.date.today()
    out: dict[str, Resolution] = {}
    for item in items:
        if item.kind == "resolution":
            f = item.fields
            out[f["question"]] = Resolution(
                f["question"], bool(f["outcome"]), item.date, item.source, item.id
            )
    # A grid question resolves by the record's rules only, never by an analyst's call.
    records = {HAND: _Record(spec, items, as_of, dict(out)), GRID: _Record(spec, items, as_of, {})}
    for qid, question in spec.questions.items():
        if qid in out:
            continue
        if (fact := records[question.origin].answer(question)) is not None:
            out[qid] = Resolution(qid, fact.value, fact.date, fact.source, fact.item_id)
    return out


@dataclass(frozen=True)
class _Fact:
    """A part of a question the record settles: its value, from when, and on what."""

    value: bool
    date: dt.date
    source: str
    item_id: str


def _all(parts: Sequence[_Fact | None]) -> _Fact | None:
    """All parts true (known once the last is), or one false (known once the first is)."""
    false = [p for p in parts if p is not None and not p.value]
    if false:
        return min(false, key=lambda p: p.date)
    known = [p for p in parts if p is not None]
    return max(known, key=lambda p: p.date) if len(known) == len(parts) else None


def _any(parts: Sequence[_Fact | None]) -> _Fact | None:
    """One part true (known once the first is), or all false (known once the last is)."""
    return _not(_all([_not(p) for p in parts]))


def _not(part: _Fact | None) -> _Fact | None:
    return None if part is None else _Fact(not part.value, part.date, part.source, part.item_id)


class _Record:
    """What the items in force settle of each departure and chance outcome by a horizon."""

    def __init__(
        self, spec: ModelSpec, items: Sequence[Item], as_of: dt.date, called: dict[str, Resolution]
    ) -> None:
        self.spec, self.items, self.as_of, self.called = spec, items, as_of, called
        self.left = departures(items)
        self.quiet = [i for i in items if i.kind == "no_event" and not implied(i)]
        self.outcomes = sorted((i for i in items if i.kind == "outcome"), key=lambda i: i.date)

    def answer(self, question: Question) -> _Fact | None:
        """Return the question's outcome by its kind's rule on the record, if settled."""
        rule = QUESTION_FIELDS[question.kind].settled
        return None if rule is None else self.settle(question, rule, _field(question, ACTOR) or "")

    def settle(self, question: Question, rule: Rule, actor: str) -> _Fact | None:
        """Return what the record settles of a rule (:mod:`allegiance.spec.fields`) for an actor."""
        h = question.horizon
        match rule:
            case Left():
                slot = _departure(self.spec, question, actor)
                return None if slot is None else self.left_by(*slot, h)
            case Seen(field):
                return self.seen(question.fields[field], actor, h)
            case Went():
                return self.went(_field(question, HAZARD), actor, _field(question, DESTINATIONS))
            case Not(part):
                return _not(self.settle(question, part, actor))
            case All(parts):
                return _all([self.settle(question, p, actor) for p in parts])
            case AnyActor(part):
                return _any([self.settle(question, part, a) for a in _field(question, ACTORS)])
            case Tally(name):
                if found := TALLIES[name](self.spec, question, self.left, self.items):
                    when, item = found  # a tally settles only a yes
                    return _Fact(True, when, item.source, item.id)
        return None

    def left_by(self, hazard: str, actor: str, horizon: dt.date) -> _Fact | None:
        """Return whether the actor left by the horizon, if the record settles it.

        Its departure on record settles it (dated before the horizon or after
        it); so does an analyst's call on another question of the same
        departure, a ``no_event`` through the horizon's month, or a public
        hazard's silence past the horizon and its lag.
        """
        gone = self.left.get((hazard, actor))
        lag = self.spec.propensities[hazard].public_after_months
        if gone is not None:
            when = gone.date
            if gone.date > horizon and lag is not None:  # its silence closed it first
                when = min(when, add_months(horizon, lag))
            return _Fact(gone.date <= horizon, when, gone.source, gone.id)
        facts = []
        for qid, call in self.called.items():
            other = self.spec.questions[qid]
            if departure_of(self.spec, other) == (hazard, actor) and (
                other.horizon <= horizon if call.outcome else other.horizon >= horizon
            ):
                facts.append(_Fact(call.outcome, call.date, call.source, call.item_id))
        needed = months_between(self.spec.analysis_date, horizon)
        for i in self.quiet:
            through = months_between(self.spec.analysis_date, iso_date(i.fields["through"]))
            if (i.fields["hazard"], i.fields["actor"]) == (hazard, actor) and through >= needed:
                facts.append(_Fact(False, max(i.date, horizon), i.source, i.id))
        if lag is not None and self.as_of >= (closed := add_months(horizon, lag)):
            source = f"no departure on record by the horizon ({hazard} is public)"
            facts.append(_Fact(False, closed, source, ""))
        yes = [f for f in facts if f.value]
        return min(yes or facts, key=lambda f: f.date) if facts else None

    def seen(self, node: str, actor: str, horizon: dt.date) -> _Fact | None:
        """Return a chance outcome observed by the horizon (the actor's, or no one actor's)."""
        for i in self.outcomes:
            if i.fields["target"] in (f"{node}.{actor}", f"{node}.") and i.date <= horizon:
                return _Fact(bool(i.fields["value"]), i.date, i.source, i.id)
        return None

    def went(self, hazard: str, actor: str, destinations: Sequence[str]) -> _Fact | None:
        """Return whether the actor's departure on record went to one of the destinations.

        A departure on record without its destination leaves it open.
        """
        gone = self.left.get((hazard, actor))
        if gone is None or not gone.fields.get("destination"):
            return None
        return _Fact(gone.fields["destination"] in destinations, gone.date, gone.source, gone.id)


def departure_of(spec: ModelSpec, question: Question) -> tuple[str, str] | None:
    """Return the departure a question is about, when its kind's rule is that departure.

    Such a question (its rule :data:`~allegiance.spec.fields.LEFT`, as ``leaves``,
    ``event`` and ``holds``) settles the departure for every other question on it.
    """
    if QUESTION_FIELDS[question.kind].settled != LEFT:
        return None
    return _departure(spec, question, _field(question, ACTOR) or "")


def _departure(spec: ModelSpec, question: Question, actor: str) -> tuple[str, str] | None:
    """Return the actor's departure by the question's hazard, or the one its switch awaits."""
    hazard = _field(question, HAZARD)
    if hazard is not None:
        return hazard, actor
    switch = spec.conditions[_field(question, CONDITION)].switch
    return None if switch is None else switch.after


def _field(question: Question, ftype: str) -> Any:
    """Return the question's field of a type (None: its kind has none, or it is left out)."""
    kind = QUESTION_FIELDS[question.kind].fields
    return next((question.fields.get(n) for n, t in kind.items() if t == ftype), None)


def implied(item: Item) -> bool:
    """Return whether an item is the survival time passing implies (:func:`time_passing`)."""
    return item.kind == "no_event" and item.id.startswith(IMPLIED) and item.recorded_at is None


def departures(items: Sequence[Item]) -> dict[tuple[str, str], Item]:
    """Return the departures on record, by (hazard, actor): ``event`` and ``public_split`` items."""
    return {
        (i.fields["hazard"], i.fields["actor"]): i
        for i in items
        if i.kind == "event" or (i.kind == "faction_event" and i.fields["event"] == "public_split")
    }


def time_passing(
    spec: ModelSpec, items: Sequence[Item], as_of: dt.date | None, *, every_hazard: bool = False
) -> list[Item]:
    """Return the survival that no record of a public hazard's event implies, as items.

    For each actor at risk of a public hazard with no departure on record, a
    ``no_event`` through the as-of date (today without one) less the lag,
    within the forecast window. Explicit ``no_event`` items still count for
    hazards that are not public. With ``every_hazard``, every hazard counts
    as public, with its declared lag or none (the time-only baseline).
    """
    when = as_of or dt.date.today()
    end = add_months(spec.analysis_date.replace(day=1), spec.forward_months)
    left = departures(items)
    out = []
    for node, actor in spec.slots:
        lag = spec.propensities[node].public_after_months
        if every_hazard and spec.propensities[node].kind == "hazard" and lag is None:
            lag = 0
        if lag is None or (node, actor) in left:
            continue
        through = min(add_months(when, -lag), end)
        if through <= spec.analysis_date:
            continue
        out.append(
            Item(
                f"{IMPLIED}{node}_{actor}" if actor else f"{IMPLIED}{node}",
                "no_event",
                through,
                f"time passing: no record of {node}{f' for {actor}' if actor else ''} "
                f"({node} is public)",
                "A1",
                {"hazard": node, "actor": actor, "through": through.isoformat()},
            )
        )
    return out


def with_time_passing(spec: ModelSpec, items: Sequence[Item], as_of: dt.date | None) -> list[Item]:
    """Return items in force with the survival that public hazards imply added."""
    return [*items, *time_passing(spec, items, as_of)]
