"""Hazards that react to events: same-month switches, chains, ends and join-then-quit.

The truth is the discrete-time process itself, written out in plain Python from
the model file's words: the likelihood month by month, and a month-by-month
simulation of every event (upstream events first within a month) for forecasts.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from allegiance.errors import EvidenceError, SpecError
from allegiance.evidence import EvidenceSet, model_data
from allegiance.forecast.questions import COMPUTE, reads
from allegiance.model import BASELINE, CONDITION_PROBABILITY, LOG_RATE, LOG_RATIO, OVERDISPERSION
from allegiance.model.quantities import quantities
from allegiance.spec import ModelSpec, load_spec
from conftest import FIXTURES
from helpers import assert_patch_reaches, engine_and_graph, item, prior_draws
from helpers_spec import edited_spec_error

REACTIONS = FIXTURES / "models" / "reactions.yaml"
N_SIM = 100_000
OFFENSIVE_ENDS = 6  # until 2020-07-01: no longer in effect from July, month 6
TRUCE = (2, 6)  # 1 March to 15 June: in effect March to June (June holds on its first day)
SAME_MONTH = "after: {hazard: leader_killed, from: same_month}"
ORDER = ["offensive", "leader_killed", "pledge", "join", "quit"]  # upstream first


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(REACTIONS)


@pytest.fixture(scope="module")
def next_month(tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    """The same model with the offensive and the leader's death in effect from the next month."""
    path = tmp_path_factory.mktemp("next") / "reactions.yaml"
    text = REACTIONS.read_text().replace(SAME_MONTH, "after: leader_killed")
    path.write_text(text.replace("{hazard: offensive, from: same_month}", "offensive"))
    return load_spec(path)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    """The truce from the month after the leader's death (to mid-June): his death now sets
    off a switch in its own month and another from the next."""
    path = tmp_path_factory.mktemp("mixed") / "reactions.yaml"
    path.write_text(REACTIONS.read_text().replace("date: 2020-03-01", "after: leader_killed"))
    return load_spec(path)


@pytest.fixture(scope="module")
def variants(spec, next_month, mixed) -> dict:
    """Each variant: the model, its offensive's and death's lag, whether the truce follows."""
    return {"same_month": (spec, 0, False), "next_month": (next_month, 1, False),
            "mixed": (mixed, 0, True)}  # fmt: skip


def _quiet(hazard: str, actor: str, through: str):
    return item(f"quiet_{hazard}_{actor}", "no_event", through, hazard=hazard, actor=actor,
                through=through)  # fmt: skip


def _event(hazard: str, actor: str, month: str):
    return item(f"{hazard}_{actor}", "event", f"{month}-10", hazard=hazard, actor=actor,
                month=month)  # fmt: skip


def _clashes(month: str, count: int):
    return item(f"clashes_{month}", "count", f"{month}-28", series="clashes", category="all",
                month=month, count=count)  # fmt: skip


COUNTS = [_clashes("2019-12", 6), _clashes("2020-01", 4), _clashes("2020-05", 9)]
# The offensive in February (in effect February to June), the leader killed in August and
# the militia pledging in that same month (months before, after and in the truce); the
# tribe joins in February (at risk of quitting from March) and quits in September; the
# militia has not joined by May.
FIRED = EvidenceSet.of([
    _event("offensive", "", "2020-02"), _event("leader_killed", "", "2020-08"),
    _event("pledge", "militia", "2020-08"), _quiet("pledge", "tribe", "2020-09-01"),
    _event("join", "tribe", "2020-02"), _event("quit", "tribe", "2020-09"),
    _quiet("join", "militia", "2020-05-01"), _quiet("quit", "militia", "2020-08-01"),
    *COUNTS,
])  # fmt: skip
# Nothing upstream on record: no offensive through February, the leader alive through
# January; the tribe joined in March, the militia not through January.
PENDING = EvidenceSet.of([
    _quiet("offensive", "", "2020-03-01"), _quiet("leader_killed", "", "2020-02-01"),
    _quiet("pledge", "militia", "2020-03-01"), _quiet("pledge", "tribe", "2020-02-01"),
    _event("join", "tribe", "2020-03"), _quiet("quit", "tribe", "2020-05-01"),
    _quiet("join", "militia", "2020-02-01"),
    *COUNTS,
])  # fmt: skip


def switches_on(t, when: dict, lag: int, truce_after: bool = False) -> dict:
    """The model file's switches in month t, given each event's month (inf: none)."""
    return {
        "pressure": None,  # binary: set by the configuration
        "offensive_on": (when["offensive"] + lag <= t) & (t < OFFENSIVE_ENDS),
        "leader_dead": when["leader_killed"] + lag <= t,
        "truce": (when["leader_killed"] + 1 <= t) & (t < TRUCE[1])
        if truce_after
        else TRUCE[0] <= t < TRUCE[1],
    }


def hazard(spec: ModelSpec, p: dict, slot: tuple, pressure: int, on: dict, joined=True):
    """A slot's monthly probability with the switches as given, in plain Python."""
    node, actor = slot
    q = p[BASELINE][spec.slots.index(slot)]
    h0 = 1 - (1 - q) ** (1 / spec.propensities[node].within_months)
    eta = math.log(h0 / (1 - h0))
    shifts = [e for e in spec.effects if e.kind == "shift"]
    for i, e in enumerate(shifts):
        if any(t.node == node and t.member in (None, actor) for t in e.targets):
            x = pressure if e.condition == "pressure" else on[e.condition]
            eta = eta + e.direction * p[LOG_RATIO][i] * x
    return (
        np.where(joined, 1 / (1 + np.exp(-eta)), 0.0) if node == "quit" else 1 / (1 + np.exp(-eta))
    )


def recorded(spec: ModelSpec, evidence: EvidenceSet) -> tuple[dict, dict]:
    """Each slot's event month on record (inf: none) and months survived."""
    data = model_data(spec, evidence)
    when = {s: (data.slot_nonevents[k] if data.slot_events[k] else math.inf)
            for k, s in enumerate(spec.slots)}  # fmt: skip
    return when, {s: int(data.slot_nonevents[k]) for k, s in enumerate(spec.slots)}


def brute_log_likelihood(
    spec: ModelSpec, evidence: EvidenceSet, p: dict, lag: int, truce_after: bool
) -> float:
    """Log-likelihood of the evidence, month by month with the switches the record sets."""
    when, survived = recorded(spec, evidence)
    data = model_data(spec, evidence)
    per_config = []
    for pressure in (0, 1):
        pi = p[CONDITION_PROBABILITY][0]
        total = math.log(pi if pressure else 1 - pi)
        for slot in spec.slots:
            by_node = {
                "offensive": when[("offensive", "")],
                "leader_killed": when[("leader_killed", "")],
            }

            def h(t: int, slot=slot, by_node=by_node, pressure=pressure) -> float:
                joined = slot[0] != "quit" or when[("join", slot[1])] + 1 <= t
                return float(
                    hazard(
                        spec, p, slot, pressure, switches_on(t, by_node, lag, truce_after), joined
                    )
                )

            total += sum(math.log1p(-h(t)) for t in range(survived[slot]))
            if when[slot] < math.inf:
                total += math.log(h(survived[slot]))
        alpha, log_rate = 1 / p[OVERDISPERSION][0], p[LOG_RATE][0]
        beta = p[LOG_RATIO][[e.id for e in spec.effects].index("death_brings_clashes")]
        for cell in np.flatnonzero(data.count_mask[0]):
            t = int(cell) - spec.history_months
            mu = math.exp(log_rate + beta * (t >= 0 and when[("leader_killed", "")] + lag <= t))
            weight = data.count_mask[0, cell]  # a count is tempered by its grade
            total += weight * stats.nbinom.logpmf(data.counts[0, cell], alpha, alpha / (alpha + mu))
        per_config.append(total)
    return float(special.logsumexp(per_config))


@pytest.mark.parametrize("evidence", [PENDING, FIRED], ids=["pending", "fired"])
def test_the_likelihood_follows_reactions_month_by_month(variants, evidence):
    """Numpy terms, the PyMC graph and the fast patch against plain Python, every variant."""
    for model, lag, truce_after in variants.values():
        data = model_data(model, evidence)
        draws = prior_draws(model, 3, seed=61)
        t, engine, graph = engine_and_graph(model, data, draws)
        for s in range(3):
            one = {k: v[s] for k, v in draws.items()}
            brute = brute_log_likelihood(model, evidence, one, lag, truce_after)
            assert engine[s] == pytest.approx(brute, rel=1e-10)
            assert graph[s] == pytest.approx(brute, rel=1e-9)
        other = FIRED if evidence is PENDING else PENDING
        assert_patch_reaches(model, draws, model_data(model, other), data, t)


def simulate(spec, p, evidence, pressure, lag, truce_after, horizon, rng):
    """Every slot's event month over N_SIM paths, upstream first within a month; the counts."""
    when, survived = recorded(spec, evidence)
    data = model_data(spec, evidence)
    months = {s: np.full(N_SIM, when[s]) for s in spec.slots}
    ordered = sorted(spec.slots, key=lambda s: ORDER.index(s[0]))
    alpha, log_rate = 1 / p[OVERDISPERSION][0], p[LOG_RATE][0]
    beta = p[LOG_RATIO][[e.id for e in spec.effects].index("death_brings_clashes")]
    total = np.full(
        N_SIM,
        data.counts[0, spec.history_months :][data.count_mask[0, spec.history_months :] > 0].sum(),
    )
    for t in range(horizon):
        for slot in ordered:
            if when[slot] < math.inf or t < survived[slot]:
                continue
            by_node = {
                "offensive": months[("offensive", "")],
                "leader_killed": months[("leader_killed", "")],
            }
            joined = slot[0] != "quit" or months.get(("join", slot[1]), 0) + 1 <= t
            h = hazard(spec, p, slot, pressure, switches_on(t, by_node, lag, truce_after), joined)
            now = np.isinf(months[slot]) & (rng.random(N_SIM) < h)
            months[slot][now] = t
        if not data.count_mask[0, spec.history_months + t]:
            mu = np.exp(log_rate + beta * (months[("leader_killed", "")] + lag <= t))
            total += rng.negative_binomial(alpha, alpha / (alpha + mu))
    return months, total


def simulated(spec, question, months, total) -> np.ndarray:
    f, horizon = question.fields, question.horizon_months
    if question.kind == "holds":
        return months[("leader_killed", "")] < horizon
    if question.kind == "count":
        return total >= f["threshold"]
    return months[(f["hazard"], f.get("actor", ""))] < horizon


@pytest.mark.parametrize("evidence", [PENDING, FIRED], ids=["pending", "fired"])
@pytest.mark.parametrize("variant", ["same_month", "next_month", "mixed"])
def test_forecasts_match_a_simulation_of_the_reactions(variants, evidence, variant):
    """Every question, per draw and configuration, within 5 Monte Carlo SEs."""
    model, lag, truce_after = variants[variant]
    rng = np.random.default_rng(7)
    draws = prior_draws(model, 2, seed=62)
    q = quantities(model, model_data(model, evidence), draws)
    horizon = max(x.horizon_months for x in model.questions.values())
    exact = {x.id: COMPUTE[x.kind](q, x) for x in model.questions.values()}
    for s, pressure in itertools.product(range(2), (0, 1)):
        one = {k: v[s] for k, v in draws.items()}
        months, total = simulate(model, one, evidence, pressure, lag, truce_after, horizon, rng)
        for question in model.questions.values():
            sim = simulated(model, question, months, total).mean()
            want = exact[question.id][s, pressure]
            se = math.sqrt(max(want * (1 - want), 1e-4) / N_SIM)
            assert abs(sim - want) < 5 * se, (question.id, s, pressure, sim, want)


UPSTREAM = {  # the events each hazard's chance depends on, upstream first (from the file)
    ("pledge", "militia"): [("offensive", ""), ("leader_killed", "")],
    ("pledge", "tribe"): [("offensive", ""), ("leader_killed", "")],
    ("quit", "tribe"): [("offensive", ""), ("leader_killed", ""), ("join", "tribe")],
    ("quit", "militia"): [("join", "militia")],
    ("leader_killed", ""): [("offensive", "")],
}


def enumerated(spec, p, evidence, pressure, variant, target, horizon) -> float:
    """P(target's event before the horizon), summed exactly over the months of the events
    upstream of it not on record (each in a month from its months survived, or none)."""
    _, lag, truce_after = variant
    when, survived = recorded(spec, evidence)
    pending = [s for s in UPSTREAM[target] if when[s] == math.inf]

    def h(slot: tuple, t: int, at: dict) -> float:
        by_node = {"offensive": at[("offensive", "")], "leader_killed": at[("leader_killed", "")]}
        joined = slot[0] != "quit" or at[("join", slot[1])] + 1 <= t
        on = switches_on(t, by_node, lag, truce_after)
        return float(hazard(spec, p, slot, pressure, on, joined))

    total = 0.0
    for months in itertools.product(*[[*range(survived[s], horizon), math.inf] for s in pending]):
        at = {**when, **dict(zip(pending, months, strict=True))}
        chance = 1.0
        for slot, e in zip(pending, months, strict=True):
            chance *= math.prod(1 - h(slot, t, at) for t in range(survived[slot], min(e, horizon)))
            chance *= h(slot, int(e), at) if e < math.inf else 1.0
        stays = math.prod(1 - h(target, t, at) for t in range(survived[target], horizon))
        total += chance * (1 - stays)
    return total


@pytest.mark.parametrize("evidence", [PENDING, FIRED], ids=["pending", "fired"])
@pytest.mark.parametrize("variant", ["same_month", "next_month", "mixed"])
def test_forecasts_equal_an_exact_enumeration_of_the_events_upstream(variants, evidence, variant):
    """Each hazard's event by its horizon, against a sum over the months of those upstream."""
    model = variants[variant][0]
    draws = prior_draws(model, 2, seed=65)
    q = quantities(model, model_data(model, evidence), draws)
    when, _ = recorded(model, evidence)
    checked = 0
    for question in model.questions.values():
        f = question.fields
        target = ("leader_killed", "") if question.kind == "holds" else None
        target = target or (f.get("hazard"), f.get("actor", ""))
        if target not in UPSTREAM or when[target] < math.inf:
            continue
        exact = COMPUTE[question.kind](q, question)
        for s, pressure in itertools.product(range(2), (0, 1)):
            one = {k: v[s] for k, v in draws.items()}
            want = enumerated(model, one, evidence, pressure, variants[variant], target,
                              question.horizon_months)  # fmt: skip
            assert exact[s, pressure] == pytest.approx(want, rel=1e-9), (question.id, s)
        checked += 1
    assert checked == (5 if evidence is PENDING else 2)  # the questions not settled on record


def test_same_month_reaction_raises_the_forecast(spec, next_month):
    """A death in effect from its own month moves more months: pledges are likelier."""
    draws = prior_draws(spec, 20, seed=63)
    question = spec.questions["tribe_pledges_9m"]
    same = COMPUTE["event"](quantities(spec, model_data(spec, PENDING), draws), question)
    later = COMPUTE["event"](
        quantities(next_month, model_data(next_month, PENDING), draws), question
    )
    assert np.all(same > later)


def test_a_question_reads_every_event_upstream(spec):
    def read(qid: str) -> list:
        return [spec.slots[k] for k in reads(spec, spec.questions[qid])[0]]

    assert read("militia_pledges_9m") == [("offensive", ""), ("leader_killed", ""),
                                          ("pledge", "militia")]  # fmt: skip
    assert read("tribe_quits_9m") == [("offensive", ""), ("leader_killed", ""),
                                      ("join", "tribe"), ("quit", "tribe")]  # fmt: skip
    assert read("militia_quits_9m") == [("join", "militia"), ("quit", "militia")]
    assert read("clashes_40_9m") == [("offensive", ""), ("leader_killed", "")]


def test_a_quit_before_its_join_is_refused(spec):
    evidence = EvidenceSet.of(
        [_event("join", "tribe", "2020-03"), _event("quit", "tribe", "2020-03")]
    )
    with pytest.raises(EvidenceError) as info:
        model_data(spec, evidence)
    assert info.value.key == "items.quit_tribe" and "before it is at risk" in info.value.problem
    assert "join.tribe" in info.value.problem
    model_data(spec, EvidenceSet.of([_event("join", "tribe", "2020-03"),
                                     _event("quit", "tribe", "2020-04")]))  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        (
            "    condition: leader_dead\n    targets: [clashes]",
            "    condition: leader_dead\n    targets: [offensive]",
            "conditions.offensive_on.after",
            "offensive (switch offensive_on) → leader_killed (switch leader_dead) → offensive",
        ),
        ("    until: 2020-06-15", "    until: 2020-03-01", "conditions.truce.until", "not after"),
        (
            "    until: 2020-07-01",
            "    until: 2019-12-01",
            "conditions.offensive_on.until",
            "on or before the analysis date",
        ),
        (
            "from: same_month}\n    until",
            "from: at_once}\n    until",
            "conditions.offensive_on.after.from",
            "not one of next_month, same_month",
        ),
        (
            "at_risk_after: join",
            "at_risk_after: join.tribe",
            "propensities.quit.at_risk_after",
            "names an actor",
        ),
        (
            "at_risk_after: join",
            "at_risk_after: quit",
            "propensities.quit.at_risk_after",
            "not another hazard",
        ),
        (
            "at_risk_after: join",
            "at_risk_after: offensive",
            "propensities.quit.at_risk_after",
            "for the same actor",
        ),
        (
            "joins the coalition.\n    actors: [militia, tribe]",
            "joins the coalition.\n    actors: [militia]",
            "propensities.quit.at_risk_after",
            "lists actors [militia] and quit [militia, tribe]",
        ),
    ],
    ids=[
        "loop",
        "until_before_date",
        "until_before_analysis",
        "unknown_from",
        "gate_actor",
        "gate_itself",
        "gate_other_actors",
        "gate_fewer_actors",
    ],
)
def test_malformed_reactions_are_refused_with_their_key(tmp_path: Path, old, new, key, fragment):
    err = edited_spec_error(REACTIONS, old, new, tmp_path)
    assert err.key == key and fragment in err.problem, err


def test_a_loop_through_a_gate_is_refused(tmp_path: Path) -> None:
    """The tribe's quit sets off a switch that moves its own join, which opens its quit."""
    text = REACTIONS.read_text().replace("after: {hazard: offensive, from: same_month}",
                                         "after: quit.tribe")  # fmt: skip
    path = tmp_path / "loop.yaml"
    path.write_text(text.replace("targets: [leader_killed]", "targets: [join.tribe]"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.key == "conditions.offensive_on.after"
    loop = "quit.tribe (switch offensive_on) → join.tribe (at_risk_after) → quit.tribe"
    assert loop in info.value.problem


def test_too_many_events_upstream_are_refused(tmp_path: Path, monkeypatch) -> None:
    """The tribe's quit has three events upstream: the offensive, the death and its join."""
    monkeypatch.setattr("allegiance.spec.switches.MAX_UPSTREAM", 2)
    path = tmp_path / "reactions.yaml"
    path.write_text(REACTIONS.read_text())
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.key == "conditions"
    assert "3 events lie upstream of quit.tribe" in info.value.problem


def test_the_histories_give_the_same_forecast_a_few_draws_at_a_time(spec, monkeypatch) -> None:
    draws = prior_draws(spec, 6, seed=64)
    q = quantities(spec, model_data(spec, PENDING), draws)
    whole = {x.id: COMPUTE[x.kind](q, x) for x in spec.questions.values()}
    monkeypatch.setattr("allegiance.model.reactions.CELLS", 1)  # one draw at a time
    q = quantities(spec, model_data(spec, PENDING), draws)
    for question in spec.questions.values():
        np.testing.assert_allclose(COMPUTE[question.kind](q, question), whole[question.id],
                                   rtol=1e-12)  # fmt: skip


def test_a_gate_from_the_same_month_admits_a_quit_in_the_join_month(tmp_path: Path) -> None:
    path = tmp_path / "reactions.yaml"
    path.write_text(REACTIONS.read_text().replace(
        "at_risk_after: join", "at_risk_after: {hazard: join, from: same_month}"))  # fmt: skip
    same = load_spec(path)
    both = EvidenceSet.of([_event("join", "tribe", "2020-03"), _event("quit", "tribe", "2020-03")])
    data = model_data(same, both)
    k = same.slots.index(("quit", "tribe"))
    assert data.slot_pattern_events[k].sum() == 1 and data.slot_pattern_nonevents[k].sum() == 2
    with pytest.raises(EvidenceError):
        model_data(same, EvidenceSet.of([_event("join", "tribe", "2020-03"),
                                         _event("quit", "tribe", "2020-02")]))  # fmt: skip
