"""Registry of question kinds: which fields each needs and how it is computed.

A question asks for the probability of a dated event. Its *kind* names a
function here that turns the model's per-draw, per-configuration quantities
into that probability. A new kind of outcome is a new entry in
:data:`QUESTION_KINDS`; model files name kinds, never code.

Every compute function receives a :class:`~allegiance.model.Quantities`
(arrays with a leading draw axis and a trailing configuration axis), the
question and the number of months from the as-of date to the horizon, and
returns the event probability per draw and configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from allegiance.model import Quantities
    from allegiance.spec import Question

# Field types a question kind can ask for; the spec loader checks each reference.
ACTOR = "actor"
ACTORS = "actors"
HAZARD = "hazard"
CHANCE = "chance"
SERIES = "series"
CATEGORY = "category"
NUMBER = "number"

Compute = Callable[["Quantities", "Question"], np.ndarray]


@dataclass(frozen=True)
class QuestionKind:
    """A kind of forecast question.

    Parameters
    ----------
    fields : dict
        Field name → field type (one of the module's type constants).
    compute : callable
        ``compute(quantities, question) -> array (draw, configuration)``.
    summary : str
        One line on what the kind resolves.
    """

    fields: Mapping[str, str]
    compute: Compute
    summary: str


def _leave_by(q: Quantities, hazard: str, actor: str, horizon: int) -> np.ndarray:
    """P(actor has left by the horizon | draw, configuration)."""
    k = q.slot(hazard, actor)
    if q.events[k] > 0:
        return np.ones(q.log_p.shape[:1] + q.log_p.shape[-1:])
    remaining = max(horizon - q.exposure_months(k), 0)
    return -np.expm1(remaining * q.log1m_p[:, k, :])


def _chance(q: Quantities, node: str, actor: str) -> np.ndarray:
    return np.exp(q.log_p[:, q.slot(node, actor), :])


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


def _count_at_least(q: Quantities, channel: int, months: int, needed: np.ndarray) -> np.ndarray:
    """P(sum of the channel's counts over ``months`` future months >= needed)."""
    if months <= 0:
        return (needed <= 0).astype(float)
    mean = months * np.exp(q.log_rate_post[:, channel, :])
    size = months / q.overdispersion[:, channel][:, None]
    # Sum of iid NB(mu, r) is NB(n mu, n r); survival at needed - 1 is P(X >= needed).
    p = size / (size + mean)
    return np.where(needed <= 0, 1.0, stats.nbinom.sf(np.maximum(needed, 1) - 1, size, p))


def _absorption(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    horizon = question.horizon_months
    channel = q.channel(f["series"], f["category"])
    seen, months_seen = q.post_counts(channel, horizon)
    remaining = horizon - months_seen
    actors = list(f["actors"])
    merge = [
        _leave_by(q, f["hazard"], a, horizon)
        * _chance(q, f["aligns"], a)
        * _chance(q, f["joins"], a)
        for a in actors
    ]
    sizes = [q.fighters[a] for a in actors]
    total = np.zeros_like(merge[0])
    # Enumerate which factions merge into the receiving group: 2**len(actors) subsets.
    for mask in range(2 ** len(actors)):
        weight = np.ones_like(total)
        bulk = 0.0
        for i, m in enumerate(merge):
            if mask >> i & 1:
                weight = weight * m
                bulk += sizes[i]
            else:
                weight = weight * (1.0 - m)
        needed = np.full(total.shape, float(f["threshold"]) - seen - bulk)
        total = total + weight * _count_at_least(q, channel, remaining, needed)
    return total


def _escalation(q: Quantities, question: Question) -> np.ndarray:
    f = question.fields
    horizon = question.horizon_months
    channel = q.channel(f["series"], f["category"])
    seen, months_seen = q.post_counts(channel, horizon)
    baseline = np.exp(q.log_rate_pre[:, channel])[:, None]
    needed = np.ceil(float(f["ratio"]) * horizon * baseline - seen)
    needed = np.broadcast_to(needed, q.log_rate_post[:, channel, :].shape)
    return _count_at_least(q, channel, horizon - months_seen, needed)


QUESTION_KINDS: dict[str, QuestionKind] = {
    "leaves": QuestionKind(
        {"actor": ACTOR, "hazard": HAZARD},
        _leaves,
        "the actor leaves its parent by the horizon (hazard of leaving per month).",
    ),
    "stays_as_lobby": QuestionKind(
        {"actor": ACTOR, "hazard": HAZARD, "lobby": CHANCE},
        _stays_as_lobby,
        "the actor is still inside at the horizon and acts as a lobby for outsiders.",
    ),
    "alliance": QuestionKind(
        {"actors": ACTORS, "hazard": HAZARD, "aligns": CHANCE},
        _alliance,
        "at least one listed actor has left and aligned with the partner by the horizon.",
    ),
    "absorption": QuestionKind(
        {
            "actors": ACTORS,
            "hazard": HAZARD,
            "aligns": CHANCE,
            "joins": CHANCE,
            "series": SERIES,
            "category": CATEGORY,
            "threshold": NUMBER,
        },
        _absorption,
        "the receiving group takes in at least `threshold` people from the category "
        "(steady flow plus whole factions that merge) by the horizon.",
    ),
    "escalation": QuestionKind(
        {"series": SERIES, "category": CATEGORY, "ratio": NUMBER},
        _escalation,
        "counts from the analysis date to the horizon reach `ratio` times the "
        "pre-analysis monthly rate.",
    ),
    "friction": QuestionKind(
        {"actors": ACTORS, "hazard": HAZARD, "lobby": CHANCE, "friction": CHANCE},
        _friction,
        "open friction breaks out between the parent and at least one listed actor "
        "that stayed as a lobby, by the horizon.",
    ),
}


def field_names(kind: str) -> list[str]:
    """Return the field names a question kind needs (for error messages)."""
    return list(QUESTION_KINDS[kind].fields)


def question_kinds() -> list[str]:
    """Return the registered question kinds."""
    return list(QUESTION_KINDS)
