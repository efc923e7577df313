"""Switch conditions: hazards piecewise in time, against plain Python and simulation."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from allegiance.errors import EvidenceError
from allegiance.evidence import EvidenceSet, model_data, parse_item
from allegiance.forecast.questions import COMPUTE, reads
from allegiance.model import BASELINE, CONDITION_PROBABILITY, LOG_RATE, LOG_RATIO, OVERDISPERSION
from allegiance.model.quantities import quantities
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec, load_spec, months_between
from conftest import FIXTURES
from helpers import assert_patch_reaches, engine_and_graph, item, prior_draws
from helpers_spec import edited_spec_error

SWITCHES = FIXTURES / "models" / "switches.yaml"
CAPITAL_MONTH = 5  # taken on 15 May 2020: in effect from June, month 5 from January
N_SIM = 200_000


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(SWITCHES)


def _quiet(hazard: str, through: str, actor: str = "splinter"):
    return item(f"quiet_{hazard}", "no_event", through, hazard=hazard, actor=actor, through=through)


def _clashes(month: str, count: int):
    return item(f"clashes_{month}", "count", f"{month}-28", series="clashes",
                category="parent_rival", month=month, count=count)  # fmt: skip


# Counts before the analysis date, before both switches, and after the capital's fall.
COUNTS = [_clashes("2019-11", 5), _clashes("2020-02", 8), _clashes("2020-03", 4),
          _clashes("2020-07", 3)]  # fmt: skip
# The leader alive through February, the splinter in through July (across the capital's
# fall), absorbed in April; no leader's death on record: it may come any month from March.
PENDING = EvidenceSet.of([
    item("alive", "no_event", "2020-03-01", hazard="leader_killed", actor="", through="2020-03-01"),
    _quiet("leave", "2020-08-01"),
    item("absorbed", "event", "2020-04-20", hazard="absorbed", actor="splinter", month="2020-04"),
    *COUNTS,
])  # fmt: skip
# The leader killed in February (in effect from March), the splinter in through March, a
# report that it left by the end of July, not absorbed through May.
FIRED = EvidenceSet.of([
    item("killed", "event", "2020-02-20", hazard="leader_killed", actor="", month="2020-02"),
    _quiet("leave", "2020-04-01"),
    item("left_rumour", "report", "2020-07-10", target="leave.splinter", favours=True,
         likelihood_ratio=3.0),
    _quiet("absorbed", "2020-06-01"),
    *COUNTS,
])  # fmt: skip


def hazard(spec: ModelSpec, p: dict, k: int, deal: int, capital: bool, leader: bool) -> float:
    """Slot k's monthly probability with the switches as given, in plain Python."""
    node, actor = spec.slots[k]
    h0 = 1 - (1 - p[BASELINE][k]) ** (1 / spec.propensities[node].within_months)
    eta = math.log(h0 / (1 - h0))
    x = {"deal": deal, "capital_taken": capital, "leader_dead": leader}
    shifts = [e for e in spec.effects if e.kind == "shift"]
    for i, e in enumerate(shifts):
        if any(t.node == node and t.member in (None, actor) for t in e.targets):
            eta += e.direction * p[LOG_RATIO][i] * x[e.condition]
    return 1 / (1 + math.exp(-eta))


def leader_month(spec: ModelSpec, evidence: EvidenceSet) -> float:
    """First month the leader's death is in effect: the month after it, or never."""
    for i in evidence.items:
        if i.kind == "event" and i.fields["hazard"] == "leader_killed":
            first = spec.analysis_date
            y, m = map(int, i.fields["month"].split("-"))
            return (y - first.year) * 12 + m - first.month + 1
    return math.inf


def brute_log_likelihood(spec: ModelSpec, evidence: EvidenceSet, p: dict) -> float:
    """Log-likelihood of the evidence, month by month with the switches in effect."""
    data = model_data(spec, evidence)
    leader = leader_month(spec, evidence)
    per_config = []
    for (deal,) in itertools.product((0, 1), repeat=1):
        pi = p[CONDITION_PROBABILITY][0]
        total = math.log(pi if deal else 1 - pi)
        for k, (node, _) in enumerate(spec.slots):
            if spec.propensities[node].kind != "hazard":
                continue

            def h(t: int, k: int = k, deal: int = deal) -> float:
                return hazard(spec, p, k, deal, t >= CAPITAL_MONTH, t >= leader)

            survived = int(data.slot_nonevents[k])
            total += sum(math.log1p(-h(t)) for t in range(survived))
            if data.slot_events[k]:
                total += math.log(h(survived))
            elif data.slot_outcome_log_lr[k]:
                lr, m = math.exp(data.slot_outcome_log_lr[k]), int(data.slot_outcome_months[k])
                before = 1 - math.prod(1 - h(t) for t in range(survived, m))
                total += math.log(lr * before + 1 - before)
        total += brute_counts_log_likelihood(spec, data, p, leader)
        per_config.append(total)
    return float(special.logsumexp(per_config))


def monthly_rate(spec: ModelSpec, p: dict, t: int, leader: float) -> float:
    """The clashes' expected count in month t (from the analysis month), in plain Python."""
    log_mu = p[LOG_RATE][0]
    if t >= 0:  # conditions, switches included, move only months from the analysis date on
        x = {"capital_taken": t >= CAPITAL_MONTH, "leader_dead": t >= leader}
        shifts = [e for e in spec.effects if e.kind == "shift"]
        for i, e in enumerate(shifts):
            if e.condition in x and any(t_.node == "clashes" for t_ in e.targets):
                log_mu += e.direction * p[LOG_RATIO][i] * x[e.condition]
    return math.exp(log_mu)


def brute_counts_log_likelihood(spec: ModelSpec, data, p: dict, leader: float) -> float:
    alpha = 1 / p[OVERDISPERSION][0]
    total = 0.0
    for cell in np.flatnonzero(data.count_mask[0]):
        mu = monthly_rate(spec, p, int(cell) - spec.history_months, leader)
        total += data.count_mask[0, cell] * stats.nbinom.logpmf(
            data.counts[0, cell], alpha, alpha / (alpha + mu)
        )
    return total


@pytest.mark.parametrize("evidence", [PENDING, FIRED], ids=["pending", "fired"])
def test_the_likelihood_follows_the_switches_month_by_month(spec, evidence):
    """Numpy terms, the PyMC graph and the fast patch against plain Python."""
    data = model_data(spec, evidence)
    draws = prior_draws(spec, 4, seed=41)
    t, engine, graph = engine_and_graph(spec, data, draws)
    for s in range(4):
        brute = brute_log_likelihood(spec, evidence, {k: v[s] for k, v in draws.items()})
        assert engine[s] == pytest.approx(brute, rel=1e-10)
        assert graph[s] == pytest.approx(brute, rel=1e-9)
    other = FIRED if evidence is PENDING else PENDING
    assert_patch_reaches(spec, draws, model_data(spec, other), data, t)


def simulate(spec, p, question, evidence, deal, rng) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a question's event month by month; return events and importance weights."""
    data = model_data(spec, evidence)
    f, horizon = question.fields, question.horizon_months
    k_leader = spec.slots.index(("leader_killed", ""))
    leader = np.full(N_SIM, leader_month(spec, evidence))
    if math.isinf(leader[0]):  # each month from the months survived, then in effect after
        first = int(data.slot_nonevents[k_leader])
        fire = hazard(spec, p, k_leader, deal, False, False)
        leader = first + rng.geometric(fire, N_SIM).astype(float)
    if question.kind == "holds":
        if f["condition"] == "deal":
            return np.full(N_SIM, bool(deal)), np.ones(N_SIM)
        if f["condition"] == "capital_taken":
            return np.full(N_SIM, CAPITAL_MONTH <= horizon), np.ones(N_SIM)
        return leader - 1 < horizon, np.ones(N_SIM)  # the death's own month before the horizon
    if question.kind == "count":
        first = months_between(spec.analysis_date, f["start"]) if "start" in f else 0
        cells = spec.history_months + np.arange(first, horizon)
        seen = data.count_mask[0, cells] > 0
        total = np.full(N_SIM, data.counts[0, cells][seen].sum())
        alpha = 1 / p[OVERDISPERSION][0]
        for t in np.arange(first, horizon)[~seen]:
            on, off = monthly_rate(spec, p, t, 0), monthly_rate(spec, p, t, np.inf)
            mu = np.where(t >= leader, on, off)
            total += rng.negative_binomial(alpha, alpha / (alpha + mu))
        return total >= f["threshold"], np.ones(N_SIM)
    k = spec.slots.index((f["hazard"], f["actor"]))
    survived = int(data.slot_nonevents[k])
    if data.slot_events[k]:
        return np.full(N_SIM, survived < horizon), np.ones(N_SIM)
    month = np.full(N_SIM, np.inf)  # the event's month
    report_by = int(data.slot_outcome_months[k]) if data.slot_outcome_log_lr[k] else survived
    for t in range(survived, max(horizon, report_by)):
        h = np.where(
            t >= leader,
            hazard(spec, p, k, deal, t >= CAPITAL_MONTH, True),
            hazard(spec, p, k, deal, t >= CAPITAL_MONTH, False),
        )
        now = np.isinf(month) & (rng.random(N_SIM) < h)
        month[now] = t
    weight = np.where(month < report_by, math.exp(data.slot_outcome_log_lr[k]), 1.0)
    return month < horizon, weight


@pytest.mark.parametrize("evidence", [PENDING, FIRED], ids=["pending", "fired"])
def test_forecasts_match_a_simulation_of_the_switches(spec, evidence):
    """Every question of the model, per draw and configuration, within 5 Monte Carlo SEs."""
    rng = np.random.default_rng(5)
    draws = prior_draws(spec, 3, seed=43)
    q = quantities(spec, model_data(spec, evidence), draws)
    for question in spec.questions.values():
        exact = COMPUTE[question.kind](q, question)
        for s, deal in itertools.product(range(3), (0, 1)):
            one = {k: v[s] for k, v in draws.items()}
            events, weight = simulate(spec, one, question, evidence, deal, rng)
            sim = np.sum(weight * events) / np.sum(weight)
            ess = np.sum(weight) ** 2 / np.sum(weight**2)
            se = math.sqrt(max(exact[s, deal] * (1 - exact[s, deal]), 1e-4) / ess)
            assert abs(sim - exact[s, deal]) < 5 * se, (question.id, s, deal, sim, exact[s, deal])


def test_a_switch_set_off_by_an_event_moves_forecasts_only_from_then(spec):
    """Before the death is possible nothing changes; a death on record raises absorption."""
    draws = prior_draws(spec, 50, seed=44)
    question = spec.questions["splinter_absorbed_9m"]
    base = [_quiet("absorbed", "2020-02-01")]
    alive = item("alive", "no_event", "2020-09-01", hazard="leader_killed", actor="",
                 through="2020-09-01")  # fmt: skip
    dead = item("killed", "event", "2020-02-20", hazard="leader_killed", actor="", month="2020-02")

    def p(*extra):
        q = quantities(spec, model_data(spec, EvidenceSet.of([*base, *extra])), draws)
        return COMPUTE[question.kind](q, question)

    never, pending, fired = p(alive), p(), p(dead)
    assert np.all(never < pending) and np.all(pending < fired)


def test_a_question_on_a_moved_hazard_reads_the_switch_hazard_too(spec):
    slots = [spec.slots[k] for k in reads(spec, spec.questions["splinter_absorbed_9m"])[0]]
    assert slots == [("absorbed", "splinter"), ("leader_killed", "")]
    slots = [spec.slots[k] for k in reads(spec, spec.questions["leader_dead_by_july"])[0]]
    assert slots == [("leader_killed", "")]
    slots, channels = reads(spec, spec.questions["clashes_50_9m"])
    assert [spec.slots[k] for k in slots] == [("leader_killed", "")] and channels == [0]


def test_evidence_on_a_switch_is_its_event_not_the_condition(spec: ModelSpec) -> None:
    for cid, fix in (("leader_dead", "record that event"), ("capital_taken", "model file")):
        body = {"id": "x", "kind": "condition", "date": "2020-02-01", "source": "s",
                "grade": "B2", "condition": cid, "value": True}  # fmt: skip
        with pytest.raises(EvidenceError) as info:
            parse_item(KeyReader(SWITCHES, EvidenceError), body, "items[0]", spec)
        assert info.value.key == "items[0].condition" and fix in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        ("    date: 2020-05-15\n", "", "conditions.capital_taken", "exactly one of 'date'"),
        (
            "    date: 2020-05-15\n",
            "    date: 2020-05-15\n    after: leader_killed\n",
            "conditions.capital_taken",
            "exactly one of",
        ),
        (
            "after: leader_killed\n",
            "after: lobby\n",
            "conditions.leader_dead.after",
            "not a hazard",
        ),
        (
            "after: leader_killed\n",
            "after: leave\n",
            "conditions.leader_dead.after",
            "needs one of its actors",
        ),
        (
            "    targets: [absorbed, leave.splinter]",
            "    targets: [absorbed, lobby]",
            "effects.leaderless_rival_absorbs.targets[1]",
            "hazards and count series only",
        ),
        (
            "    condition: leader_dead\n    targets: [absorbed, leave.splinter]",
            "    condition: leader_dead\n    targets: [absorbed, leader_killed]",
            "conditions.leader_dead.after",
            "leader_killed (switch leader_dead) → leader_killed",
        ),
        (
            "    date: 2020-05-15\n",
            "    after: leader_killed\n",
            "effects",
            "2 switches set off by events",
        ),
    ],
    ids=[
        "no_date",
        "date_and_after",
        "chance",
        "no_actor",
        "chance_target",
        "own_event",
        "two_pending_on_a_series",
    ],
)
def test_malformed_switches_are_refused_with_their_key(
    tmp_path: Path, old: str, new: str, key: str, fragment: str
) -> None:
    err = edited_spec_error(SWITCHES, old, new, tmp_path)
    assert err.key == key and fragment in err.problem, err
