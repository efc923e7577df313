"""Small builders shared by tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from allegiance.evidence import EvidenceSet, Item
from allegiance.model import (
    BASELINE,
    CONDITION_PROBABILITY,
    DESTINATION_WEIGHT,
    LEAK,
    LEVEL,
    LOG_RATE,
    LOG_RATIO,
    OVERDISPERSION,
    STOCK_GROWTH,
    STOCK_START,
)
from allegiance.spec import ModelSpec


def with_items(
    evidence: EvidenceSet, *items: Item, drop: Callable[[Item], bool] | None = None
) -> EvidenceSet:
    """Return an evidence set with some items dropped and others added."""
    kept = [i for i in evidence.items if drop is None or not drop(i)]
    return EvidenceSet.of([*kept, *items])


def item(item_id: str, kind: str, when: str, **fields: object) -> Item:
    """Build a valid-looking item for tests (grade B2, a test source)."""
    return Item(item_id, kind, dt.date.fromisoformat(when), "test", "B2", dict(fields))


def departure(item_id: str, when: str, destination: str, grade: str = "B2") -> Item:
    """The splinter's departure under ``leave`` in ``when``'s month, gone to ``destination``."""
    return dataclasses.replace(
        item(item_id, "event", when, hazard="leave", actor="splinter", month=when[:7],
             destination=destination),
        grade=grade,
    )  # fmt: skip


def prior_draws(spec: ModelSpec, n: int, seed: int) -> dict[str, np.ndarray]:
    """Draw every free variable from its prior with scipy, independently of PyMC."""
    rng = np.random.default_rng(seed)

    def draw(beliefs: list, log: bool = False) -> np.ndarray:
        cols = [b.prior.frozen().rvs(size=n, random_state=rng) for b in beliefs]
        out = np.column_stack(cols) if cols else np.zeros((n, 0))
        return np.log(out) if log else out

    def draw_weights(exits: list) -> np.ndarray:
        cols = [
            spec.propensities[h].destinations[d].weight.frozen().rvs(size=n, random_state=rng)
            for h, _, d in exits
        ]
        return np.column_stack(cols) if cols else np.zeros((n, 0))

    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]
    return {
        CONDITION_PROBABILITY: draw([spec.conditions[c].belief for c in spec.binary_conditions]),
        LEVEL: draw([spec.conditions[c].belief for c in spec.level_conditions]),
        BASELINE: draw([spec.propensities[p].baselines[a] for p, a in spec.slots]),
        LOG_RATIO: draw([e.belief for e in shifts]),
        LEAK: draw([e.belief for e in necessary]),
        LOG_RATE: draw([spec.series[s].baselines[c] for s, c in spec.channels], log=True),
        OVERDISPERSION: draw([s.overdispersion for s in spec.series.values()]),
        DESTINATION_WEIGHT: draw_weights(spec.exits),
        STOCK_START: draw([s.start for s in spec.stocks.values()]),
        STOCK_GROWTH: draw([s.growth for s in spec.stocks.values()]),
    }


def hits(effect: Any, node: str, member: str) -> bool:
    """Whether an effect reaches a propensity or series member."""
    return any(t.node == node and t.member in (None, member) for t in effect.targets)


def condition_value(spec: ModelSpec, p: dict[str, np.ndarray], condition: str, z: Any) -> float:
    """x_e(z): a binary condition's 0/1 in configuration z, or a level's draw minus 1/2."""
    if condition in spec.binary_conditions:
        return float(z[spec.binary_conditions.index(condition)])
    return float(p[LEVEL][spec.level_conditions.index(condition)]) - 0.5


def brute_share(spec: ModelSpec, p: dict[str, np.ndarray], x: int, z: Any) -> float:
    """Exit x's share of its actor's departures in configuration z, in plain Python."""
    hazard, actor, _ = spec.exits[x]
    shifts = [e for e in spec.effects if e.kind == "shift"]

    def weight(y: int) -> float:
        node = f"{spec.exits[y][0]}:{spec.exits[y][2]}"
        log_w = math.log(p[DESTINATION_WEIGHT][y])
        for i, e in enumerate(shifts):
            if hits(e, node, actor):
                log_w += e.direction * p[LOG_RATIO][i] * condition_value(spec, p, e.condition, z)
        return math.exp(log_w)

    group = [y for y, (h, a, _) in enumerate(spec.exits) if (h, a) == (hazard, actor)]
    return weight(x) / sum(weight(y) for y in group)


def brute_slot_probability(spec: ModelSpec, p: dict[str, np.ndarray], k: int, z: Any) -> float:
    """Slot k's probability per period in configuration z, written out in plain Python."""
    node, actor = spec.slots[k]
    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]
    window = spec.propensities[node].within_months
    h0 = 1 - (1 - p[BASELINE][k]) ** (1 / window)
    eta = math.log(h0 / (1 - h0))
    for i, e in enumerate(shifts):
        if hits(e, node, actor):
            eta += e.direction * p[LOG_RATIO][i] * condition_value(spec, p, e.condition, z)
    prob = 1 / (1 + math.exp(-eta))
    for i, e in enumerate(necessary):
        if hits(e, node, actor) and not z[spec.binary_conditions.index(e.condition)]:
            prob *= p[LEAK][i]
    return prob


def engine_and_graph(
    spec: ModelSpec, data: Any, draws: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The numpy terms of the draws, and the log-likelihood per draw by them and by the PyMC graph.

    Returns ``(terms, engine, graph)``: the graph's potential evaluated at each draw.
    """
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace
    from scipy import special

    from allegiance.model import build_model, numpy_ops
    from allegiance.model.structure import structure
    from allegiance.model.terms import terms

    t = terms(draws, data.arrays(), structure(spec), numpy_ops())
    engine = special.logsumexp(t["log_joint"], axis=-1) + t["constant"]
    model = build_model(spec, data)
    (potential,) = model.potentials
    free = {v.name: v for v in model.free_RVs}
    n = next(iter(draws.values())).shape[0]
    graph = np.array([
        graph_replace(potential, {free[k]: pt.constant(v[s]) for k, v in draws.items()
                                  if k in free}).eval(mode="FAST_COMPILE")
        for s in range(n)
    ])  # fmt: skip
    return t, engine, graph


def assert_patch_reaches(
    spec: ModelSpec, draws: dict[str, np.ndarray], before: Any, after: Any, t: dict
) -> None:
    """The fast patch from ``before``'s data to ``after``'s equals ``after``'s terms ``t``."""
    from allegiance.model import numpy_ops, patch_terms
    from allegiance.model.structure import structure
    from allegiance.model.terms import terms

    st, d0 = structure(spec), before.arrays()
    patched = patch_terms(draws, terms(draws, d0, st, numpy_ops()), d0, after.arrays(), st)
    np.testing.assert_allclose(patched["log_joint"], t["log_joint"], rtol=1e-10)
