"""How each kind of question is computed from the model's per-draw quantities.

A question asks for the probability of a dated event. Its *kind* names a
function here that turns the model's per-draw, per-configuration quantities
into that probability. A new kind of outcome is its declaration in
:data:`allegiance.spec.fields.QUESTION_FIELDS` (its fields, which say what it
reads, and how the record settles it) and its entry in :data:`COMPUTE`;
model files name kinds, never code.

Every compute function receives a :class:`~allegiance.model.quantities.Quantities`
(arrays with a leading draw axis and a trailing configuration axis), the
question and the number of months from the as-of date to the horizon, and
returns the event probability per draw and configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from allegiance.forecast.counts import at_least
from allegiance.model.data import CHANNEL_FORWARD, SLOT, WHOLE, evidence_reads
from allegiance.model.stocks import joining
from allegiance.model.structure import structure
from allegiance.model.switches import upstream
from allegiance.spec import count_threshold, months_between
from allegiance.spec.fields import (
    ACTOR,
    ACTORS,
    CATEGORY,
    CHANCE,
    CONDITION,
    HAZARD,
    QUESTION_FIELDS,
    SERIES,
    STOCK,
)

if TYPE_CHECKING:
    from allegiance.model import ModelData, Quantities
    from allegiance.spec import ModelSpec, Question


Compute = Callable[["Quantities", "Question"], np.ndarray]


def _leave_by(q: Quantities, hazard: str, actor: str, horizon: int) -> np.ndarray:
    """P(actor has left by the horizon | draw, configuration).

    A departure on record answers it: yes if it came in a month before the
    horizon's, no if later (the actor was still in at the horizon). A report
    that it left by the end of month ``m`` (after the months survived ``t``),
    with tempered likelihood ratio ``L``, is virtual evidence on the departure
    month: with ``B = P(left by m)`` and ``W = P(left by the horizon)``,
    ``P = (L B + W - B) / (L B + 1 - B)`` for a horizon at or after ``m``, and
    ``L W / (L B + 1 - B)`` before it.
    """
    k = q.slot(hazard, actor)
    t = q.exposure_months(k)
    if q.events[k] > 0:
        left = float(t < horizon)
        return np.full((q.n_draws, q.n_configurations), left)
    within = q.event_between(k, t, horizon)
    log_lr, m = float(q.data.slot_outcome_log_lr[k]), int(q.data.slot_outcome_months[k])
    if log_lr == 0.0 or m <= t:
        return within
    lr, by_m = math.exp(log_lr), q.event_between(k, t, m)
    evidence = lr * by_m + 1.0 - by_m
    return (lr * by_m + within - by_m if horizon >= m else lr * within) / evidence


def _chance(q: Quantities, node: str, actor: str) -> np.ndarray:
    """P(the chance outcome | draw, configuration, the reports on it).

    A report on the outcome is virtual evidence with (tempered) likelihood
    ratio ``L``: it moves the outcome itself, ``p L / (p L + 1 - p)``, as well
    as the configurations through their likelihood.
    """
    k = q.slot(node, actor)
    p = q.slot_p(k)
    log_lr = float(q.data.slot_log_lr[k])
    if log_lr == 0.0:
        return p
    favoured = p * math.exp(log_lr)
    return favoured / (favoured + 1.0 - p)


def _leaves(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    return _leave_by(q, f["hazard"], f["actor"], question.horizon_months)


def _stays_as_lobby(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    stay = 1.0 - _leave_by(q, f["hazard"], f["actor"], question.horizon_months)
    return stay * _chance(q, f["lobby"], f["actor"])


def _alliance(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    none: np.ndarray | float = 1.0
    for actor in f["actors"]:
        leave = _leave_by(q, f["hazard"], actor, question.horizon_months)
        none = none * (1.0 - leave * _chance(q, f["aligns"], actor))
    return 1.0 - np.asarray(none)


def _friction(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    none: np.ndarray | float = 1.0
    for actor in f["actors"]:
        stay = 1.0 - _leave_by(q, f["hazard"], actor, question.horizon_months)
        lobby = _chance(q, f["lobby"], actor)
        none = none * (1.0 - stay * lobby * _chance(q, f["friction"], actor))
    return 1.0 - np.asarray(none)


def _absorption(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    horizon = question.horizon_months
    channel = q.channel(f["series"], f["category"])
    seen, _ = q.post_counts(channel, horizon)
    actors = list(f["actors"])
    merge = [
        _leave_by(q, f["hazard"], a, horizon)
        * _chance(q, f["aligns"], a)
        * _chance(q, f["joins"], a)
        for a in actors
    ]
    sizes = [q.fighters[a] for a in actors]
    stay = [1.0 - m for m in merge]
    # Enumerate which factions merge into the receiving group (2**len(actors) subsets):
    # P = 1 - sum over subsets of P(subset) * P(flow falls short of what it still needs),
    # and a subset that reaches the threshold by itself contributes nothing. Shortfalls
    # are taken per sub-configuration of the channel before they are gathered, and the
    # (draw, configuration) products run in place: the arrays are large, the arithmetic cheap.
    total = np.ones_like(merge[0])
    for mask in range(2 ** len(actors)):
        chosen = [bool(mask >> i & 1) for i in range(len(actors))]
        bulk = sum(size for size, c in zip(sizes, chosen, strict=True) if c)
        needed = float(f["threshold"]) - seen - bulk
        if needed <= 0:
            continue
        term = 1.0 - at_least(q, channel, 0, horizon, needed)
        for m, s, c in zip(merge, stay, chosen, strict=True):
            np.multiply(term, m if c else s, out=term)
        total -= term
    return total


def _event(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    return _leave_by(q, f["hazard"], f.get("actor", ""), question.horizon_months)


def _any_event(q: Quantities, question: Question) -> np.ndarray:
    return _any_left(q, question, lambda actor: 1.0)


def _exits(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    return _any_left(q, question, lambda actor: _went(q, f["hazard"], actor, f["destinations"]))


def _any_left(
    q: Quantities, question: Question, went: Callable[[str], np.ndarray | float]
) -> np.ndarray:
    """P(at least one listed actor left and went where asked), (draw, configuration).

    The actors' departures are independent given the draw and the configuration.
    """
    f = question.fields
    none: np.ndarray | float = 1.0
    for actor in f["actors"]:
        leave = _leave_by(q, f["hazard"], actor, question.horizon_months)
        none = none * (1.0 - leave * went(actor))
    return 1.0 - np.asarray(none)


def _went(q: Quantities, hazard: str, actor: str, destinations: tuple[str, ...]) -> np.ndarray:
    """Share of the actor's departure that goes to one of the destinations, (draw, config).

    A departure seen going somewhere answers it: 1 there, 0 elsewhere.
    """
    group = [x for x in q.spec.exits if x[:2] == (hazard, actor)]
    seen = [x[2] for x in group if q.data.exit_observed[q.spec.exits.index(x)] > 0]
    if seen:
        return np.full((q.n_draws, q.n_configurations), float(seen[0] in destinations))
    return sum((q.share(hazard, actor, d) for d in destinations), np.zeros(1))


def _holds(q: Quantities, question: Question) -> np.ndarray:
    """Return whether a binary condition holds (per configuration) or a switch has switched.

    A switch has switched by the horizon when its date, or its hazard's event,
    comes before it, whether the switch takes effect in the event's month or
    the next and whether or not it has ended since (``until``).
    """
    cid = question.fields["condition"]
    switch = q.spec.conditions[cid].switch
    if switch is None:
        row = q.configurations[q.spec.binary_conditions.index(cid)]
        return np.broadcast_to(row, (q.n_draws, q.n_configurations))
    if switch.after is None:
        assert switch.date is not None
        return np.full((q.n_draws, q.n_configurations), float(switch.date <= question.horizon))
    hazard, actor = switch.after
    return _leave_by(q, hazard, actor, question.horizon_months)


def _stock_above(q: Quantities, question: Question) -> np.ndarray:
    """P(the stock is at or above the threshold at the horizon | draw, configuration).

    Its size with the merges on record (:meth:`Quantities.stock_at`), plus the
    fighters of each faction whose departure would join it and is not yet on
    record with where it went: over every subset of them that joins (each
    with ``L_a`` times its share of departures going there).
    """
    f, horizon = question.fields, question.horizon_months
    base = q.stock_at(f["stock"], horizon)
    groups: dict[tuple[str, str], list[str]] = {}
    for hazard, actor, destination in joining(q.spec, f["stock"]):
        groups.setdefault((hazard, actor), []).append(destination)
    open_ = []
    for (hazard, actor), destinations in groups.items():
        k = q.slot(hazard, actor)
        seen = [x for x in q.spec.exits if x[:2] == (hazard, actor)
                and q.data.exit_observed[q.spec.exits.index(x)] > 0]  # fmt: skip
        if q.events[k] > 0 and seen:
            continue  # on record with where it went: counted in the base
        chance = _leave_by(q, hazard, actor, horizon) * _went(q, hazard, actor, tuple(destinations))
        open_.append((chance, q.fighters[actor]))
    total = np.zeros_like(base)
    for mask in range(2 ** len(open_)):
        chosen = [bool(mask >> i & 1) for i in range(len(open_))]
        weight: np.ndarray | float = 1.0
        for (chance, _), c in zip(open_, chosen, strict=True):
            weight = weight * (chance if c else 1.0 - chance)
        bulk = sum(size for (_, size), c in zip(open_, chosen, strict=True) if c)
        total = total + weight * (base + bulk >= float(f["threshold"]))
    return total


def _stock_below(q: Quantities, question: Question) -> np.ndarray:
    return 1.0 - _stock_above(q, question)


def _count(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    horizon = question.horizon_months
    first = months_between(q.spec.analysis_date, f["start"]) if "start" in f else 0
    channel = q.channel(f["series"], f["category"])
    seen, _ = q.post_counts(channel, horizon, first)
    needed = np.asarray(math.ceil(count_threshold(q.spec, question) - seen))
    return at_least(q, channel, first, horizon, needed)


def _escalation(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    horizon = question.horizon_months
    channel = q.channel(f["series"], f["category"])
    seen, _ = q.post_counts(channel, horizon)
    baseline = np.exp(q.log_rate_pre[:, channel])[:, None]
    needed = np.ceil(float(f["ratio"]) * horizon * baseline - seen)
    return at_least(q, channel, 0, horizon, needed)


COMPUTE: dict[str, Compute] = {
    "leaves": _leaves,
    "stays_as_lobby": _stays_as_lobby,
    "alliance": _alliance,
    "absorption": _absorption,
    "escalation": _escalation,
    "friction": _friction,
    "event": _event,
    "any_event": _any_event,
    "count": _count,
    "exits": _exits,
    "fighters_leave": _count,
    "holds": _holds,
    "stock_above": _stock_above,
    "stock_below": _stock_below,
}
assert set(COMPUTE) == set(QUESTION_FIELDS), "every question kind needs its fields and its function"


def compute(q: Quantities, question: Question) -> np.ndarray:
    """Return a question's probability per draw and configuration, (draw, configuration)."""
    return COMPUTE[question.kind](q, question)


# What of the evidence arrays a compute function reads, and along which axis: by a slot
# the question reads (first axis), by a channel it reads from the analysis month on
# (first axis, months after the history), or whole: each array's declared read
# (model/data.py). The fast update path caches each question on exactly these parts
# (:func:`evidence_read`); tests/test_cache_keys.py changes every other part of every
# array and checks that no question moves.
EVIDENCE_READ: dict[str, str] = evidence_reads()


def evidence_read(
    spec: ModelSpec, read: tuple[list[int], list[int]], data: ModelData
) -> list[np.ndarray]:
    """Return the parts of the evidence arrays a question reads (:data:`EVIDENCE_READ`).

    Parameters
    ----------
    spec : ModelSpec
    read : (list of int, list of int)
        The question's slots and channels, from :func:`reads`.
    data : ModelData

    Returns
    -------
    list of numpy.ndarray
        One part per array, in the declaration's order: equal parts give equal values.
    """
    slots, channels = read
    arrays = data.arrays()
    take = {
        SLOT: lambda a: a[slots],
        CHANNEL_FORWARD: lambda a: a[channels, spec.history_months :],
        WHOLE: lambda a: a,
    }
    return [take[axis](arrays[name]) for name, axis in EVIDENCE_READ.items()]


def reads(spec: ModelSpec, question: Question) -> tuple[list[int], list[int]]:
    """Return the slots and channels whose evidence a question's value can depend on.

    A compute function reads the evidence only through the quantities of the
    slots and channels its fields name by their types (months survived,
    departures, reports on chance outcomes, counts seen), so a question's value
    changes only when these change. The fast update path caches each question's
    values on exactly this evidence.
    """
    kind = QUESTION_FIELDS[question.kind].fields
    f = question.fields
    typed = {t: f[name] for name, t in kind.items() if name in f}
    actors = [f[name] for name, t in kind.items() if t == ACTOR and name in f]
    actors += [a for name, t in kind.items() if t == ACTORS for a in f[name]]
    index = {s: i for i, s in enumerate(spec.slots)}
    slots = sorted(
        {
            index.get((f[name], actor), index.get((f[name], ""), -1))
            for name, t in kind.items()
            if t in (HAZARD, CHANCE)
            for actor in actors or [""]
        }
        - {-1}
    )
    switches = spec.conditions[typed[CONDITION]].switch if CONDITION in typed else None
    if switches is not None and switches.after is not None:
        slots = [index[switches.after]]
    flows: list[int] = []
    if STOCK in typed:  # the departures that would join it, and the channels flowing in and out
        stock = spec.stocks[typed[STOCK]]
        slots = sorted({index[x[:2]] for x in joining(spec, typed[STOCK])})
        flows = [spec.channels.index(c) for c in (*stock.inflows, *stock.outflows)]
    channels = [
        spec.channels.index((f[s], f[c]))
        for s, ts in kind.items()
        if ts == SERIES
        for c, tc in kind.items()
        if tc == CATEGORY
    ]
    # A hazard or channel moved by a switch set off by another hazard's event (or at risk
    # only after one) reads that hazard too, and those upstream of it in a chain.
    st = structure(spec)
    slots = sorted({*slots, *upstream(st, [*slots, *(st.n_slots + j for j in channels)])})
    return slots, sorted({*channels, *flows})
