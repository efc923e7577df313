"""Stocks (a group's strength): the likelihood of estimates and the threshold questions."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from allegiance.errors import EvidenceError
from allegiance.evidence import EvidenceSet, model_data, parse_item
from allegiance.forecast.questions import COMPUTE, reads
from allegiance.model import numpy_ops
from allegiance.model.quantities import quantities
from allegiance.model.structure import structure
from allegiance.model.terms import terms
from allegiance.reading import KeyReader
from allegiance.spec import ModelSpec, load_spec
from conftest import FIXTURES
from helpers import assert_patch_reaches, departure, engine_and_graph, item, prior_draws
from helpers_spec import edited_spec_error
from test_model import brute_log_likelihood, brute_stock_size

STOCKS = FIXTURES / "models" / "stocks.yaml"
N_SIM = 200_000


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(STOCKS)


def _count(series: str, category: str, month: str, count: int):
    return item(f"{series}_{month}", "count", f"{month}-28", series=series, category=category,
                month=month, count=count)  # fmt: skip


def _strength(item_id: str, when: str, low: int, high: int, grade: str = "B2"):
    found = item(item_id, "strength", when, stock="rival_fighters", range=[low, high])
    return dataclasses.replace(found, grade=grade)


FLOWS = [
    _count("defectors", "rank_and_file", "2020-01", 30),
    _count("defectors", "rank_and_file", "2020-03", 10),
    _count("losses", "rival_killed", "2020-02", 20),
]
ESTIMATES = [
    _strength("before", "2019-11-15", 700, 1300),  # before the analysis date: the trend alone
    _strength("spring", "2020-03-01", 900, 1500, "C3"),
    _strength("summer", "2020-06-10", 1100, 2000, "A2"),  # after the splinter joined
]
JOINED = departure("split", "2020-04-15", "join_rival")


def test_the_likelihood_of_estimates_matches_brute_force(spec: ModelSpec) -> None:
    """Numpy terms, the PyMC graph and the fast patch against plain Python, draw by draw."""
    with_estimates = EvidenceSet.of([*FLOWS, JOINED, *ESTIMATES])
    data = model_data(spec, with_estimates)
    assert data.stock_estimate_merged.tolist()[:3] == [0.0, 0.0, 300.0]
    draws = prior_draws(spec, 4, seed=51)
    t, engine, graph = engine_and_graph(spec, data, draws)
    for s in range(4):
        brute, _ = brute_log_likelihood(spec, with_estimates, {k: v[s] for k, v in draws.items()})
        assert engine[s] == pytest.approx(brute, rel=1e-9)
        assert graph[s] == pytest.approx(brute, rel=1e-9)
    assert_patch_reaches(spec, draws, model_data(spec, EvidenceSet.of([*FLOWS, JOINED])), data, t)


def test_an_estimate_pulls_the_start_towards_it(spec: ModelSpec) -> None:
    """Weighted by each draw's likelihood, the start moves into a narrow estimate's range."""
    draws = prior_draws(spec, 4000, seed=52)
    st = structure(spec)
    d = model_data(spec, EvidenceSet.of([_strength("now", "2020-01-10", 1500, 1700, "A1")]))
    t = terms(draws, d.arrays(), st, numpy_ops())
    log_w = special.logsumexp(t["log_joint"], axis=-1) + t["constant"]
    w = np.exp(log_w - log_w.max())
    start = draws["stock_start"][:, 0]
    assert np.median(start) < 1200 < np.average(start, weights=w) < 1700


def simulate(spec: ModelSpec, q, draws: dict, question, s: int, z: int, rng) -> np.ndarray:
    """The stock at the horizon: its expected path plus the splinter if it leaves to join it."""
    one = {k: v[s] for k, v in draws.items()}
    base = brute_stock_size(spec, q.evidence, one, (z,), "rival_fighters", question.horizon_months)
    k = q.slot("leave", "splinter")
    months = question.horizon_months - q.exposure_months(k)
    p = np.exp(q.sub_log_p[s, k, q.sub_index[k, z]])
    left = rng.random(N_SIM) < 1 - (1 - p) ** months
    share = q.share("leave", "splinter", "join_rival")[s, z]
    joined = left & (rng.random(N_SIM) < share)
    size = base + 300.0 * joined
    return size >= question.fields["threshold"]


@pytest.mark.parametrize("split", [False, True], ids=["pending", "on_record"])
def test_threshold_questions_match_a_simulation(spec: ModelSpec, split: bool) -> None:
    rng = np.random.default_rng(6)
    items = [*FLOWS, *([JOINED] if split else [])]
    evidence = EvidenceSet.of(items)
    draws = prior_draws(spec, 3, seed=53)
    q = quantities(spec, model_data(spec, evidence), draws)
    q.evidence = evidence  # type: ignore[attr-defined]  # for the simulation's plain Python
    above = spec.questions["rival_above_1500_12m"]
    for s in range(3):
        for z in range(2):
            one = {k: v[s] for k, v in draws.items()}
            base = brute_stock_size(spec, evidence, one, (z,), "rival_fighters", 12)
            # A threshold the splinter's 300 fighters decide, so that both outcomes happen.
            question = dataclasses.replace(above, fields={**above.fields, "threshold": base + 150})
            exact = COMPUTE["stock_above"](q, question)[s, z]
            below = COMPUTE["stock_below"](q, question)[s, z]
            assert below == pytest.approx(1 - exact, rel=1e-12)
            if split:  # on record before the horizon, and in the base: no chance left
                lower = dataclasses.replace(above, fields={**above.fields, "threshold": base - 1})
                assert exact == 0.0 and COMPUTE["stock_above"](q, lower)[s, z] == 1.0
                continue
            assert q.stock_at("rival_fighters", 12)[s, z] == pytest.approx(base, rel=1e-10)
            sim = simulate(spec, q, draws, question, s, z, rng).mean()
            se = math.sqrt(max(exact * (1 - exact), 1e-4) / N_SIM)
            assert abs(sim - exact) < 5 * se, (s, z, sim, exact)


def test_a_stock_question_reads_its_flows_and_who_may_join(spec: ModelSpec) -> None:
    slots, channels = reads(spec, spec.questions["rival_above_1500_12m"])
    assert [spec.slots[k] for k in slots] == [("leave", "splinter")]
    assert [spec.channels[j] for j in channels] == [
        ("defectors", "rank_and_file"), ("losses", "rival_killed")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ({"stock": "nobody", "range": [1, 2]}, "items[0].stock", "unknown stock"),
        ({"stock": "rival_fighters", "range": [1200, 1000]}, "items[0].range", "not below"),
        ({"stock": "rival_fighters", "range": [0, 1000]}, "items[0].range", "positive"),
        ({"stock": "rival_fighters", "range": 1000}, "items[0].range", "expected [low, high]"),
    ],
)
def test_bad_estimates_are_refused_with_their_key(
    spec: ModelSpec, body: dict, key: str, fragment: str
) -> None:
    raw = {"id": "x", "kind": "strength", "date": "2020-02-01", "source": "s", "grade": "B2",
           **body}  # fmt: skip
    with pytest.raises(EvidenceError) as info:
        parse_item(KeyReader(STOCKS, EvidenceError), raw, "items[0]", spec)
    assert info.value.key == key and fragment in info.value.problem


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        (
            "    actor: rival\n    start:",
            "    actor: nobody\n    start:",
            "stocks.rival_fighters.actor",
            "unknown actor",
        ),
        (
            "inflows: [defectors.rank_and_file]",
            "inflows: [defectors.officers]",
            "stocks.rival_fighters.inflows[0]",
            "not a count channel",
        ),
        (
            "outflows: [losses.rival_killed]",
            "outflows: [defectors.rank_and_file]",
            "stocks.rival_fighters.outflows",
            "both in and out",
        ),
        (
            "        to: rival\n",
            "        to: nobody\n",
            "propensities.leave.destinations.join_rival.to",
            "unknown actor",
        ),
        (
            "        to: rival\n",
            "        to: splinter\n",
            "propensities.leave.destinations.join_rival.to",
            "cannot join itself",
        ),
        (
            "    stock: rival_fighters\n    threshold: 800",
            "    stock: rivals\n    threshold: 800",
            "questions.rival_below_800_6m.stock",
            "not a stock",
        ),
        (
            "    inflows: [defectors.rank_and_file]\n",
            "    inflows: [defectors.rank_and_file, defectors.rank_and_file]\n",
            "stocks.rival_fighters.inflows[1]",
            "listed twice (first at stocks.rival_fighters.inflows[0])",
        ),
        (
            "    outflows: [losses.rival_killed]\n",
            "    outflows: [losses.rival_killed]\n  more_rivals:\n    text: More.\n"
            "    actor: rival\n"
            "    start: {prior: {typical: 9, range: [5, 20]}, rationale: R., provenance: analyst "
            "judgment}\n"
            "    growth: {prior: {typical: 1.0, range: [0.8, 1.25]}, rationale: R., provenance: "
            "analyst judgment}\n",
            "stocks.more_rivals.actor",
            "rival already has a stock, stocks.rival_fighters",
        ),
    ],
    ids=[
        "actor",
        "channel",
        "in_and_out",
        "to_unknown",
        "to_itself",
        "question",
        "inflow_twice",
        "two_stocks_one_actor",
    ],  # fmt: skip
)
def test_malformed_stocks_are_refused_with_their_key(
    tmp_path: Path, old: str, new: str, key: str, fragment: str
) -> None:
    err = edited_spec_error(STOCKS, old, new, tmp_path)
    assert err.key == key and fragment in err.problem, err


def test_an_estimate_round_trips_through_the_ledger_yaml_and_csv(
    spec: ModelSpec, tmp_path: Path
) -> None:
    from allegiance.evidence import read_items
    from allegiance.evidence.files import dump_csv, dump_yaml
    from allegiance.ledger import Ledger

    estimate = ESTIMATES[2]
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}", spec) as ledger:
        (written,) = ledger.append([estimate])
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}", spec) as fresh:
        (back,) = fresh.items()
    assert back == written and back.fields == {"stock": "rival_fighters", "range": [1100, 2000]}
    for name, text in (("e.yaml", dump_yaml([back], spec.id)), ("e.csv", dump_csv([back]))):
        (tmp_path / name).write_text(text)
        assert read_items(tmp_path / name, spec) == [back]


def test_a_switch_may_not_move_a_stock_flow(tmp_path: Path) -> None:
    from allegiance.errors import SpecError

    text = STOCKS.read_text().replace("conditions:\n", """conditions:
  truce:
    kind: switch
    text: A truce holds from March.
    date: 2020-03-01
""", 1).replace("effects:\n", """effects:
  - id: truce_slows_defection
    condition: truce
    targets: [defectors]
    direction: lowers
    strength: {ratio: 2, range: [1.2, 4]}
    rationale: Fewer reasons to leave.
    provenance: analyst judgment
""", 1)  # fmt: skip
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "m.yaml")
    assert info.value.key == "effects.truce_slows_defection.targets[0]"
    assert "may not move a stock's flows" in info.value.problem
