"""The discrete part of the model against exact inference by pgmpy's variable elimination.

With the continuous parameters fixed at one prior draw, the conditions, the
exits (hazards over months, survival and departures), the chance outcomes
(alignment, lobby, friction) and the hard and soft evidence on them form a
discrete Bayesian network. pgmpy builds it from the file's numbers (slot
probabilities written out in plain Python, ``helpers.brute_slot_probability``)
and answers each question by variable elimination; the package's
marginalised forecasts must agree within 1e-6. Counts are left out: their
likelihood is continuous in the parameters.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from allegiance.evidence import EvidenceSet, model_data
from allegiance.forecast import probabilities
from allegiance.model import CONDITION_PROBABILITY
from allegiance.spec import ModelSpec
from helpers import brute_slot_probability, item, prior_draws

pgmpy = pytest.importorskip("pgmpy")


def _network(spec: ModelSpec, data: Any, p: dict[str, np.ndarray]) -> tuple[Any, dict[str, int]]:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    binary = spec.binary_conditions
    configs = list(itertools.product((0, 1), repeat=len(binary)))  # pgmpy's column order
    net, cpds, seen = DiscreteBayesianNetwork(), [], {}

    def node(name: str, yes: list[float], parents: list[str]) -> None:
        net.add_node(name)
        net.add_edges_from((parent, name) for parent in parents)
        values = [[1 - v for v in yes], list(yes)]
        cpds.append(TabularCPD(name, 2, values, evidence=parents or None,
                               evidence_card=[2] * len(parents) or None))  # fmt: skip

    def observed(name: str, likelihood: list[float], parents: list[str]) -> None:
        top = max(likelihood)  # a likelihood, scaled to a probability of what was seen
        node(name, [v / top for v in likelihood], parents)
        seen[name] = 1

    for b, c in enumerate(binary):
        node(c, [float(p[CONDITION_PROBABILITY][b])], [])
        ll = data.condition_loglik[b]
        if np.any(ll != 0):  # hard evidence (-50 on the other state) or reports
            observed(f"seen_{c}", [math.exp(ll[0] - ll.max()), math.exp(ll[1] - ll.max())], [c])
    prob = {
        k: [brute_slot_probability(spec, p, k, z) for z in configs] for k in range(len(spec.slots))
    }
    for k, (name, actor) in enumerate(spec.slots):
        slot = f"{name}_{actor}"
        if spec.propensities[name].kind == "chance":
            node(slot, prob[k], binary)
            lr = math.exp(data.slot_log_lr[k])
            if lr != 1.0:  # a report on the outcome: virtual evidence
                observed(f"report_{slot}", [1.0, lr], [slot])
            continue
        months, left = data.slot_nonevents[k], data.slot_events[k]
        if months or left:
            record = [q**left * (1 - q) ** months for q in prob[k]]
            observed(f"record_{slot}", record, binary)
    for qid, question in spec.questions.items():
        f = question.fields
        if question.kind in ("absorption", "escalation"):
            continue
        actors = list(f["actors"]) if "actors" in f else [f["actor"]]
        parents = []
        for actor in actors:  # has it left by the horizon?
            k = spec.slots.index((f["hazard"], actor))
            months, left = data.slot_nonevents[k], data.slot_events[k]
            rest = max(question.horizon_months - months, 0)
            node(f"{qid}_left_{actor}", [1.0 if left else 1 - (1 - q) ** rest for q in prob[k]],
                 binary)  # fmt: skip
            parents.append(f"{qid}_left_{actor}")
        chances = [f[c] for c in ("aligns", "lobby", "friction") if c in f]
        parents += [f"{c}_{a}" for a in actors for c in chances]
        node(qid, [_answer(question.kind, actors, chances, bits) for bits in
                   itertools.product((0, 1), repeat=len(parents))], parents)  # fmt: skip
    for cpd in cpds:
        net.add_cpds(cpd)
    assert net.check_model()
    return net, seen


def _answer(kind: str, actors: list[str], chances: list[str], bits: tuple[int, ...]) -> float:
    """A question's outcome given who left and the chance outcomes, by its resolution rule."""
    left = bits[: len(actors)]
    rest = np.reshape(bits[len(actors) :], (len(actors), len(chances)))
    if kind in ("leaves", "event"):
        return float(left[0])
    if kind == "any_event":
        return float(any(left))
    if kind == "stays_as_lobby":
        return float(not left[0] and rest[0][0])
    if kind == "alliance":
        return float(any(gone and row[0] for gone, row in zip(left, rest, strict=True)))
    assert kind == "friction"
    return float(any(not gone and row[0] and row[1] for gone, row in zip(left, rest, strict=True)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forecasts_equal_exact_inference(
    reference_spec: ModelSpec, reference_evidence: EvidenceSet, seed: int
) -> None:
    from pgmpy.inference import VariableElimination

    spec = reference_spec
    kept = [i for i in reference_evidence.items if "count" not in i.fields]
    evidence = EvidenceSet.of(
        [
            *kept,
            item("split", "event", "2020-04-15", hazard="leave", actor="north_shura",
                 month="2020-04"),
            item("quiet", "no_event", "2020-06-01", hazard="leave", actor="haqqani",
                 through="2020-06-01"),
            item("ties", "report", "2020-02-01", target="aligns_with_isk.haqqani",
                 favours=True, likelihood_ratio=6.0),
            item("lobbying", "report", "2020-02-01", target="lobby.eastern_fronts",
                 favours=False, strength="moderately"),
            item("capacity", "report", "2020-02-01", target="isk_capacity", favours=True,
                 strength="strongly"),
        ]
    )  # fmt: skip
    data = model_data(spec, evidence)
    draws = prior_draws(spec, 1, seed=seed)
    p = {k: v[0] for k, v in draws.items()}
    ours = probabilities(spec, data, draws)
    net, seen = _network(spec, data, p)
    exact = VariableElimination(net)
    checked = 0
    for qid, question in spec.questions.items():
        if question.kind in ("absorption", "escalation"):
            continue
        got = exact.query([qid], evidence=seen, show_progress=False).values[1]
        assert ours[qid][0] == pytest.approx(got, abs=1e-6), qid
        checked += 1
    for c in spec.binary_conditions:
        got = exact.query([c], evidence=seen, show_progress=False).values[1]
        assert ours[f"condition:{c}"][0] == pytest.approx(got, abs=1e-6), c
    assert checked == 22  # 10 hand-picked questions and the 12 of the grid
