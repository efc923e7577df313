"""The marginalised likelihood against brute-force enumeration, one configuration at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math

import numpy as np
import pytest
from scipy import special, stats

from allegiance.evidence import EvidenceSet, model_data
from allegiance.model import (
    CONDITION_PROBABILITY,
    LEVEL,
    LOG_RATE,
    LOG_RATIO,
    OVERDISPERSION,
    STOCK_GROWTH,
    STOCK_START,
)
from allegiance.model.quantities import quantities
from allegiance.model.structure import structure
from allegiance.spec import ModelSpec, months_between
from allegiance.words import grade_weight
from helpers import (
    brute_share,
    brute_slot_probability,
    condition_value,
    departure,
    hits,
    item,
    prior_draws,
    with_items,
)


def brute_log_likelihood(
    spec: ModelSpec, evidence: EvidenceSet, p: dict[str, np.ndarray]
) -> tuple[float, list[float]]:
    """Log-likelihood of the evidence for one draw, summing configurations one by one."""
    data = model_data(spec, evidence)
    binary, levels = spec.binary_conditions, spec.level_conditions
    shifts = [e for e in spec.effects if e.kind == "shift"]
    series_ids = list(spec.series)

    def x_of(condition: str, z: tuple[int, ...]) -> float:
        return condition_value(spec, p, condition, z)

    per_config = []
    for z in itertools.product((0, 1), repeat=len(binary)):
        total = 0.0
        for b, zb in enumerate(z):
            pi = p[CONDITION_PROBABILITY][b]
            total += math.log(pi if zb else 1 - pi) + data.condition_loglik[b, zb]
        for k in range(len(spec.slots)):
            prob = brute_slot_probability(spec, p, k, z)
            total += data.slot_events[k] * math.log(prob)
            total += data.slot_nonevents[k] * math.log1p(-prob)
            total += math.log(prob * math.exp(data.slot_log_lr[k]) + 1 - prob)
            # A report that the event came by month m: sum over the months it could come in.
            lr, m = math.exp(data.slot_outcome_log_lr[k]), int(data.slot_outcome_months[k])
            t = int(data.slot_nonevents[k])
            if not data.slot_events[k] and m > t:
                before = sum(prob * (1 - prob) ** (j - t) for j in range(t, m))
                total += math.log(lr * before + (1 - before))
        for j, (sid, cat) in enumerate(spec.channels):
            alpha = 1 / p[OVERDISPERSION][series_ids.index(sid)]
            for t in range(spec.window_months):
                if not data.count_mask[j, t]:
                    continue
                log_mu = p[LOG_RATE][j]
                if t >= spec.history_months:
                    for i, e in enumerate(shifts):
                        if hits(e, sid, cat):
                            log_mu += e.direction * p[LOG_RATIO][i] * x_of(e.condition, z)
                mu = math.exp(log_mu)
                ll = stats.nbinom.logpmf(data.counts[j, t], alpha, alpha / (alpha + mu))
                total += data.count_mask[j, t] * ll  # the grade's weight
        for e in np.flatnonzero(data.estimate_weight):  # estimated totals: P(low <= y <= high)
            j = int(np.argmax(data.estimate_channel[e]))
            sid, cat = spec.channels[j]
            alpha = 1 / p[OVERDISPERSION][series_ids.index(sid)]
            log_mu = p[LOG_RATE][j]
            if data.estimate_post[e]:
                for i, eff in enumerate(shifts):
                    if hits(eff, sid, cat):
                        log_mu += eff.direction * p[LOG_RATIO][i] * x_of(eff.condition, z)
            nb = stats.nbinom(alpha, alpha / (alpha + math.exp(log_mu)))
            inside = nb.cdf(data.estimate_high[e]) - nb.cdf(data.estimate_low[e] - 1)
            total += data.estimate_weight[e] * math.log(inside)
        for x in range(len(spec.exits)):  # departures seen going somewhere
            if data.exit_observed[x]:
                total += data.exit_observed[x] * math.log(brute_share(spec, p, x, z))
        total += brute_stock_log_likelihood(spec, evidence, p, z)
        per_config.append(total)
    level_term = -0.5 * sum(
        data.level_mask[i] * ((data.level_value[i] - p[LEVEL][i]) / 0.05) ** 2
        for i in range(len(levels))
    ) + sum(data.level_log_lr[i] * p[LEVEL][i] for i in range(len(levels)))
    return float(special.logsumexp(per_config) + level_term), per_config


def brute_stock_size(spec: ModelSpec, evidence: EvidenceSet, p: dict, z: tuple, stock: str,
                     month: int) -> float:  # fmt: skip
    """A stock's size at a month in configuration z: trend, flows and merges, item by item."""
    data = model_data(spec, evidence)
    i = list(spec.stocks).index(stock)
    s = spec.stocks[stock]
    size = p[STOCK_START][i] * p[STOCK_GROWTH][i] ** (month / 12)
    shifts = [e for e in spec.effects if e.kind == "shift"]
    for sign, channels in ((1, s.inflows), (-1, s.outflows)):
        for sid, cat in channels:
            j = spec.channels.index((sid, cat))
            log_mu = p[LOG_RATE][j] + sum(
                e.direction * p[LOG_RATIO][n] * condition_value(spec, p, e.condition, z)
                for n, e in enumerate(shifts)
                if hits(e, sid, cat)
            )
            for t in range(max(month, 0)):
                cell = spec.history_months + t
                seen = data.count_mask[j, cell] > 0
                size += sign * (data.counts[j, cell] if seen else math.exp(log_mu))
    for i_ in evidence.items:  # departures on record joining the stock's actor before the month
        f = i_.fields
        if i_.kind == "event" and f.get("destination"):
            to = spec.propensities[f["hazard"]].destinations[f["destination"]].to
            first = dt.date.fromisoformat(f"{f['month']}-01")
            if to == s.actor and months_between(spec.analysis_date, first) < month:
                size += spec.actors[f["actor"]].fighters
    return size


def brute_stock_log_likelihood(spec: ModelSpec, evidence: EvidenceSet, p: dict, z: tuple) -> float:
    """The estimates of stocks: log-normal around the size, weighed by grade, one by one."""
    total = 0.0
    for i_ in evidence.items:
        if i_.kind != "strength":
            continue
        low, high = i_.fields["range"]
        month = months_between(spec.analysis_date, i_.date)
        size = brute_stock_size(spec, evidence, p, z, i_.fields["stock"], month)
        sd = (math.log(high) - math.log(low)) / (2 * stats.norm.ppf(0.95))
        mid = (math.log(low) + math.log(high)) / 2
        log_size = math.log(math.log1p(math.exp(size)) if size < 30 else size)
        total += grade_weight(i_.grade) * stats.norm.logpdf(mid, log_size, sd)
    return total


@pytest.fixture(scope="module")
def rich_evidence(reference_spec, reference_evidence):
    """Shipped evidence plus one item of every kind, forward counts included."""
    return with_items(
        reference_evidence,
        dataclasses.replace(
            item("presence", "condition", "2020-03-01", condition="us_presence", value=True),
            grade="A1",
        ),
        item("spoils", "condition", "2020-06-01", condition="spoils_haqqani", value=0.3),
        item(
            "clash_2020_03",
            "count",
            "2020-03-31",
            series="clashes",
            category="taliban_isk",
            month="2020-03",
            count=20,
        ),
        item(
            "quiet", "no_event", "2020-06-01", hazard="leave", actor="haqqani", through="2020-06-01"
        ),
        item("split", "event", "2020-04-15", hazard="leave", actor="north_shura", month="2020-04"),
        item(
            "rumour",
            "report",
            "2020-02-01",
            target="isk_capacity",
            favours=True,
            likelihood_ratio=3.0,
        ),
        item(
            "denial",
            "report",
            "2020-02-02",
            target="ceasefire_kabul",
            favours=False,
            strength="moderately",
        ),
        item(
            "ties",
            "report",
            "2020-02-03",
            target="aligns_with_isk.haqqani",
            favours=True,
            strength="strongly",
        ),
        item(
            "broke_off",
            "report",
            "2020-05-10",
            target="leave.eastern_fronts",
            favours=True,
            likelihood_ratio=8.0,
        ),
        item(
            "ttp_about_100",
            "count",
            "2020-04-30",
            series="defectors_to_isk",
            category="ttp",
            month="2020-04",
            count={"about": 100, "range": [60, 180]},
        ),
        item(
            "imu_at_most_40",
            "count",
            "2019-03-31",
            series="defectors_to_isk",
            category="imu",
            month="2019-03",
            count={"range": [0, 40]},
        ),
        item(
            "short_changed",
            "report",
            "2020-02-04",
            target="spoils_north_shura",
            favours=False,
            likelihood_ratio=5.0,
        ),
        item(
            "posts",
            "faction_event",
            "2020-05-01",
            event="appointment",
            actor="eastern_fronts",
            condition="spoils_eastern_fronts",
            value=0.2,
        ),
        item(
            "raid",
            "faction_event",
            "2020-05-02",
            event="clash",
            actor="eastern_fronts",
            series="clashes",
            category="taliban_isk",
            month="2020-05",
            count=1,
        ),
        item(
            "raid2",
            "faction_event",
            "2020-05-09",
            event="clash",
            actor="eastern_fronts",
            series="clashes",
            category="taliban_isk",
            month="2020-05",
            count=1,
        ),
    )


def test_marginal_likelihood_matches_enumeration(reference_spec, rich_evidence):
    draws = prior_draws(reference_spec, 3, seed=1)
    data = model_data(reference_spec, rich_evidence)
    q = quantities(reference_spec, data, draws)
    from allegiance.model import numpy_ops
    from allegiance.model.terms import terms

    assert np.count_nonzero(data.estimate_weight) == 2  # the two estimated totals are in
    t = terms(draws, data.arrays(), structure(reference_spec), numpy_ops())
    engine = special.logsumexp(t["log_joint"], axis=-1) + t["constant"]
    for s in range(3):
        one = {k: v[s] for k, v in draws.items()}
        brute, per_config = brute_log_likelihood(reference_spec, rich_evidence, one)
        assert engine[s] == pytest.approx(brute, rel=1e-9, abs=1e-6)
        weights = np.exp(np.array(per_config) - special.logsumexp(per_config))
        np.testing.assert_allclose(np.exp(q.log_weights[s]), weights, atol=1e-10)


def test_hard_evidence_fixes_the_condition(reference_spec, rich_evidence):
    draws = prior_draws(reference_spec, 50, seed=2)
    q = quantities(reference_spec, model_data(reference_spec, rich_evidence), draws)
    b = reference_spec.binary_conditions.index("us_presence")
    configs = structure(reference_spec).configurations
    weight_true = np.exp(q.log_weights) @ configs[b]
    assert weight_true.min() > 1 - 1e-12


def test_configuration_weights_are_normalised(reference_spec, reference_evidence):
    draws = prior_draws(reference_spec, 20, seed=3)
    q = quantities(reference_spec, model_data(reference_spec, reference_evidence), draws)
    np.testing.assert_allclose(np.exp(q.log_weights).sum(axis=-1), 1.0, atol=1e-12)
    assert q.log_weights.shape == (20, 2 ** len(reference_spec.binary_conditions))


def test_survival_months_come_from_dates(reference_spec, rich_evidence):
    data = model_data(reference_spec, rich_evidence)
    haqqani = reference_spec.slots.index(("leave", "haqqani"))
    north = reference_spec.slots.index(("leave", "north_shura"))
    assert data.slot_nonevents[haqqani] == months_between(
        reference_spec.analysis_date, np.datetime64("2020-06-01").item()
    )
    assert (data.slot_events[north], data.slot_nonevents[north]) == (1.0, 4.0)


def test_patched_terms_equal_a_full_evaluation(reference_spec, reference_evidence, rich_evidence):
    """Recomputing only the rows whose evidence changed must give the full terms."""
    from allegiance.model import changed_rows, numpy_ops, patch_terms
    from allegiance.model.terms import terms

    st = structure(reference_spec)
    draws = prior_draws(reference_spec, 20, seed=4)
    d0 = model_data(reference_spec, reference_evidence).arrays()
    d1 = model_data(reference_spec, rich_evidence).arrays()
    changed = changed_rows(d0, d1, st)
    assert 0 < changed.sum() < changed.size
    for a, b in ((d0, d1), (d1, d0)):
        patched = patch_terms(draws, terms(draws, a, st, numpy_ops()), a, b, st)
        full = terms(draws, b, st, numpy_ops())
        for key in ("log_joint", "constant", "channel_constant", "config_prior"):
            np.testing.assert_allclose(patched[key], full[key], rtol=1e-10, atol=1e-8)


def test_a_rows_terms_do_not_depend_on_the_rows_computed_with_it(reference_spec, rich_evidence):
    """The fast path caches rows one by one: batching must not change a single bit."""
    from allegiance.model import row_terms

    st = structure(reference_spec)
    draws = prior_draws(reference_spec, 50, seed=6)
    d = model_data(reference_spec, rich_evidence).arrays()
    every = range(st.sub_index.shape[0])
    together = row_terms(draws, d, st, every)
    for r in every:
        ((ll, constant),) = row_terms(draws, d, st, [r]).values()
        np.testing.assert_array_equal(ll, together[r][0])
        np.testing.assert_array_equal(constant, together[r][1])
    assert any(np.any(c != 0) for r, (_, c) in together.items() if r >= st.n_slots)


def test_patching_refuses_an_evidence_array_it_does_not_know(reference_spec, reference_evidence):
    """A new array patch_terms ignored would make every fast update stale: it is refused."""
    from allegiance.model import numpy_ops, patch_terms
    from allegiance.model.terms import terms

    st = structure(reference_spec)
    draws = prior_draws(reference_spec, 5, seed=8)
    d0 = model_data(reference_spec, reference_evidence).arrays()
    d1 = {**d0, "new_array": np.ones(3)}
    with pytest.raises(ValueError, match="new_array"):
        patch_terms(draws, terms(draws, d0, st, numpy_ops()), d0, d1, st)


def test_the_pymc_graph_computes_the_numpy_terms(reference_spec, rich_evidence):
    """The sampled log joint (PyTensor) equals the numpy terms the forecasts use, draw by draw."""
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace

    from allegiance.model import build_model, numpy_ops
    from allegiance.model.terms import terms

    data = model_data(reference_spec, rich_evidence)
    model = build_model(reference_spec, data)
    draws = prior_draws(reference_spec, 3, seed=9)
    full = terms(draws, data.arrays(), structure(reference_spec), numpy_ops())
    expected = special.logsumexp(full["log_joint"], axis=-1) + full["constant"]
    (potential,) = model.potentials
    free = {v.name: v for v in model.free_RVs}
    for s in range(3):
        values = {free[k]: pt.constant(v[s]) for k, v in draws.items() if k in free}
        got = graph_replace(potential, values).eval(mode="FAST_COMPILE")
        assert got == pytest.approx(expected[s], rel=1e-9)
        # and against the brute-force loop over configurations, directly
        brute, _ = brute_log_likelihood(
            reference_spec, rich_evidence, {k: v[s] for k, v in draws.items()}
        )
        assert got == pytest.approx(brute, rel=1e-9)


@pytest.mark.parametrize("month", ["2019-08", "2020-05"])
def test_an_estimate_of_one_value_is_that_count(reference_spec, reference_evidence, month):
    """A range [k, k] is the exact count k: the incomplete-beta path equals the NB kernel."""
    from allegiance.model import numpy_ops
    from allegiance.model.terms import terms

    def likelihood(count: object) -> np.ndarray:
        obs = item("tal", "count", f"{month}-28", series="defectors_to_isk", category="taliban",
                   month=month, count=count)  # fmt: skip
        evidence = with_items(
            reference_evidence, obs, drop=lambda i: i.kind == "count" and i.fields["month"] == month
        )
        t = terms(draws, model_data(reference_spec, evidence).arrays(), st, numpy_ops())
        return special.logsumexp(t["log_joint"], axis=-1) + t["constant"]

    st, draws = structure(reference_spec), prior_draws(reference_spec, 6, seed=12)
    np.testing.assert_allclose(likelihood({"range": [37, 37]}), likelihood(37), rtol=1e-9)
    assert np.all(likelihood({"range": [20, 60]}) > likelihood(37))  # a range holds more mass


@pytest.fixture(scope="module")
def exits_setting():
    """The kinds model: a hazard with three destinations, one departure seen going to one."""
    from allegiance.spec import load_spec
    from conftest import FIXTURES

    spec = load_spec(FIXTURES / "models" / "kinds.yaml")
    gone = departure("split", "2020-04-15", "ally_rival")
    deal = item("deal_report", "condition", "2020-02-01", condition="deal", value=True)
    return spec, EvidenceSet.of([deal]), EvidenceSet.of([deal, gone])


def test_exit_shares_and_their_likelihood_match_enumeration(exits_setting):
    """Shares per configuration, the likelihood of a departure's destination, the PyMC graph
    and the fast patch, each against plain Python over the configurations."""
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace

    from allegiance.model import build_model, numpy_ops, patch_terms
    from allegiance.model.terms import terms

    spec, before, after = exits_setting
    draws = prior_draws(spec, 4, seed=31)
    data = model_data(spec, after)
    assert data.exit_observed.tolist() == [0.0, pytest.approx(0.8, rel=0.3), 0.0]
    q = quantities(spec, data, draws)
    st = structure(spec)
    t = terms(draws, data.arrays(), st, numpy_ops())
    engine = special.logsumexp(t["log_joint"], axis=-1) + t["constant"]
    model = build_model(spec, data)
    (potential,) = model.potentials
    free = {v.name: v for v in model.free_RVs}
    for s in range(4):
        one = {k: v[s] for k, v in draws.items()}
        brute, _ = brute_log_likelihood(spec, after, one)
        assert engine[s] == pytest.approx(brute, rel=1e-9)
        values = {free[k]: pt.constant(v[s]) for k, v in draws.items() if k in free}
        assert graph_replace(potential, values).eval(mode="FAST_COMPILE") == pytest.approx(
            brute, rel=1e-9
        )
        for z_index, z in enumerate(itertools.product((0, 1), repeat=len(spec.binary_conditions))):
            shares = [q.share(*x)[s, z_index] for x in spec.exits]
            assert sum(shares) == pytest.approx(1.0, rel=1e-12)
            for x, got in enumerate(shares):
                assert got == pytest.approx(brute_share(spec, one, x, z), rel=1e-10)
    d0, d1 = model_data(spec, before).arrays(), data.arrays()
    patched = patch_terms(draws, terms(draws, d0, st, numpy_ops()), d0, d1, st)
    np.testing.assert_allclose(patched["log_joint"], t["log_joint"], rtol=1e-10, atol=1e-8)
