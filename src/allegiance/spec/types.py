"""The parts of a model file, as validated, immutable values."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allegiance.spec.priors import Prior


@dataclass(frozen=True)
class KnownFrom:
    """The public source, dated, that shows a part of a model was known on its analysis date."""

    date: dt.date
    source: str


@dataclass(frozen=True)
class Actor:
    """An armed group, faction or state."""

    id: str
    name: str
    role: str
    parent: str | None = None
    fighters: float = 0.0
    note: str = ""
    known_from: KnownFrom | None = None


@dataclass(frozen=True)
class Justified:
    """A prior with the reason and the provenance the analyst gave for it."""

    prior: Prior
    rationale: str
    provenance: str


@dataclass(frozen=True)
class Switch:
    """When a ``switch`` condition is true: from a known date or a hazard's event, to ``until``.

    Exactly one of ``date`` and ``after`` (a hazard's slot: hazard id,
    actor id or ``""``) is set. A switch is in effect from the first whole
    month on or after its date, or ``lag`` months after the event's month (1:
    the next month; 0: the event's own month), and no longer from the first
    whole month on or after ``until`` (a month is in effect when the switch
    holds on its first day).
    """

    date: dt.date | None = None
    after: tuple[str, str] | None = None
    lag: int = 1
    until: dt.date | None = None


@dataclass(frozen=True)
class Gate:
    """A hazard at risk only after another hazard's event for the same actor (join, then quit).

    The months before are no risk; from ``lag`` months after the event's
    month (1: the next month; 0: its own month) the hazard has its own chance.
    """

    hazard: str
    lag: int = 1


@dataclass(frozen=True)
class Condition:
    """A driver: a yes/no state (``binary``), a level in [0, 1] (``level``) or a ``switch``.

    A switch is false before its date and true from it on; it has no prior of
    its own (``belief`` is None), only the effects' strengths.
    """

    id: str
    kind: str
    text: str
    belief: Justified | None
    switch: Switch | None = None

    @property
    def prior_belief(self) -> Justified:
        """Return the prior of a binary or level condition (a switch has none)."""
        if self.belief is None:
            raise ValueError(f"condition {self.id!r} is a switch: it has no prior of its own")
        return self.belief


@dataclass(frozen=True)
class Destination:
    """Where an actor that leaves may go, and its share of departures.

    ``share`` is the analyst's statement (a Beta, as stated); ``weight`` is the
    Gamma component of the Dirichlet the model samples (shares are the
    weights normalised over the hazard's destinations, per actor).
    """

    id: str
    text: str
    share: Justified
    weight: Prior
    to: str | None = None  # the actor it joins: its fighters join that actor's stocks


@dataclass(frozen=True)
class Propensity:
    """A probability node: a monthly ``hazard`` or a one-off ``chance``, per actor or global.

    ``baselines`` maps each actor (``""`` for a global node) to the prior of the
    node's probability with every binary condition false and every level at 0.5.
    A hazard's baseline is stated as the chance of the event within
    ``within_months`` months. A *public* hazard's event would be public news
    within ``public_after_months`` months (``None``: not public), so no record
    of it by a date is survival through that date, less the lag. A hazard's
    ``reference_class`` (``""``: none) is the outside view its event belongs
    to: a row of ``data/reference_classes.csv``. A hazard with ``at_risk_after``
    is at risk only once another hazard's event for the same actor has happened
    (:class:`Gate`).
    """

    id: str
    kind: str
    text: str
    actors: tuple[str, ...]
    baselines: Mapping[str, Justified]
    within_months: int = 1
    public_after_months: int | None = None
    destinations: Mapping[str, Destination] = field(default_factory=dict)
    at_risk_after: Gate | None = None
    known_from: KnownFrom | None = None
    reference_class: str = ""


@dataclass(frozen=True)
class Series:
    """Counts per month by category (negative binomial), e.g. defectors by origin."""

    id: str
    text: str
    categories: tuple[str, ...]
    baselines: Mapping[str, Justified]
    overdispersion: Justified


@dataclass(frozen=True)
class Stock:
    """A group's strength (fighters) over time: a start, a trend, flows and merged factions.

    ``start`` is the size on the analysis date (a magnitude), ``growth`` the
    yearly factor of its trend apart from the flows; ``inflows`` and
    ``outflows`` are count channels ``(series, category)`` that add to it and
    take from it month by month.
    """

    id: str
    text: str
    actor: str
    start: Justified
    growth: Justified
    inflows: tuple[tuple[str, str], ...] = ()
    outflows: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Target:
    """What an effect acts on: a propensity or series, optionally one actor or category."""

    node: str
    member: str | None = None

    def __str__(self) -> str:
        node, _, destination = self.node.partition(":")
        base = node if self.member is None else f"{node}.{self.member}"
        return f"{base}:{destination}" if destination else base


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


GRID, HAND = "grid", "hand"  # where a question comes from: the model's grid, or picked by hand


@dataclass(frozen=True)
class Question:
    """A forecast question: a dated event with a resolution rule.

    ``origin`` is :data:`GRID` for a question the model's ``question_grid``
    generates (fixed before any outcome, resolved by the record's rules only)
    and :data:`HAND` for one written in ``questions``.
    """

    id: str
    kind: str
    text: str
    resolution: str
    horizon: dt.date
    horizon_months: int
    fields: Mapping[str, Any]
    covers: str = ""
    origin: str = HAND


@dataclass(frozen=True)
class Scenario:
    """A named setting of binary conditions, by intervention (``do``) or as if observed."""

    id: str
    text: str
    setting: Mapping[str, bool]
    mode: str = "do"


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
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    stocks: Mapping[str, Stock] = field(default_factory=dict)

    @property
    def binary_conditions(self) -> list[str]:
        """Binary condition ids, in file order."""
        return [c.id for c in self.conditions.values() if c.kind == "binary"]

    @property
    def level_conditions(self) -> list[str]:
        """Level condition ids, in file order."""
        return [c.id for c in self.conditions.values() if c.kind == "level"]

    @property
    def switch_conditions(self) -> list[str]:
        """Switch condition ids, in file order."""
        return [c.id for c in self.conditions.values() if c.kind == "switch"]

    @property
    def slots(self) -> list[tuple[str, str]]:
        """(propensity, actor) pairs, one parameter each; actor is '' for global nodes."""
        return [(p.id, a) for p in self.propensities.values() for a in p.actors or ("",)]

    @property
    def exits(self) -> list[tuple[str, str, str]]:
        """(hazard, actor, destination) triples: one Dirichlet weight each, per actor."""
        return [
            (p.id, a, d)
            for p in self.propensities.values()
            for a in p.actors or ("",)
            for d in p.destinations
        ]

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


MONTH_CONVENTION = (
    "time is counted in calendar months from the analysis date's month: a horizon, "
    "or a no_event's through date, covers the whole months before its own month "
    "(a horizon of 31 December counts to the end of November; date it 1 January "
    "to cover December)"
)


def count_threshold(spec: ModelSpec, question: Question) -> float:
    """Return what a window's counts must reach: a threshold, or a share of an actor's fighters."""
    f = question.fields
    if "share" in f:
        return float(f["share"]) * spec.actors[f["actor"]].fighters
    return float(f["threshold"])


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from ``start``'s month to ``end``'s (:data:`MONTH_CONVENTION`)."""
    return (end.year - start.year) * 12 + (end.month - start.month)


def months_covered(start: dt.date, end: dt.date) -> str:
    """Return the months a horizon ``end`` covers from ``start``.

    For example ``2020-01 to 2020-11 (11 months)`` from 1 January to 31 December 2020.
    """
    year, month = divmod(end.year * 12 + end.month - 2, 12)
    return f"{start:%Y-%m} to {year:04d}-{month + 1:02d} ({months_between(start, end)} months)"


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` calendar months later (earlier if negative), clamped.

    >>> add_months(dt.date(2020, 1, 31), 1)
    datetime.date(2020, 2, 29)
    """
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
