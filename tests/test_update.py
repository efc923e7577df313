"""Reweighting against full refits, the refit fallback, and attribution."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from allegiance.evidence import EvidenceSet
from allegiance.forecast import forecast, question_draws
from allegiance.posterior import FitSettings
from allegiance.update import K_MAX, Updater, weighted_ess
from helpers import departure, item, with_items

Z = 4.0


@pytest.fixture(scope="module")
def updater(reference_spec, reference_evidence, fitted):
    return Updater(fitted(reference_spec, reference_evidence, FitSettings()))


def weak_items():
    return (
        item(
            "r1", "report", "2019-11-20", target="isk_capacity", favours=True, strength="moderately"
        ),
        item(
            "r2",
            "report",
            "2019-11-21",
            target="aligns_with_isk.haqqani",
            favours=True,
            likelihood_ratio=3.0,
        ),
    )


@pytest.mark.slow
def test_weak_evidence_reweighted_matches_a_refit(
    reference_spec, reference_evidence, updater, fitted
):
    import arviz as az

    evidence = with_items(reference_evidence, *weak_items())
    rw = updater.reweight(evidence)
    assert rw.accepted and rw.pareto_k <= K_MAX
    fast = updater.forecast(evidence)
    assert fast.method == "reweighted" and fast.trustworthy
    refit = fitted(reference_spec, evidence, FitSettings(seed=11))
    slow = forecast(refit)
    per_draw = question_draws(refit)
    for a, b in zip(fast.questions, slow.questions, strict=True):
        x = per_draw[b.id]
        se_refit = np.std(x) / np.sqrt(float(az.ess(x, method="mean")))
        se_fast = np.std(x) / np.sqrt(rw.ess)
        assert abs(a.probability - b.probability) < Z * np.hypot(se_refit, se_fast), a.id
    # The report on IS-K capacity moved the condition the way it favours.
    assert (
        fast.condition_probability["isk_capacity"]
        > (updater.forecast(reference_evidence).condition_probability["isk_capacity"])
    )


@pytest.mark.slow
def test_cached_fast_path_equals_a_direct_evaluation(reference_spec, reference_evidence, updater):
    """Row, question and state caches give what evaluating from scratch gives, in any order."""
    from allegiance.evidence import model_data
    from allegiance.forecast import probabilities

    count = item(
        "tal_2020_01",
        "count",
        "2020-01-31",
        series="defectors_to_isk",
        category="taliban",
        month="2020-01",
        count=310,
    )
    recount = item(
        "tal_2020_01",
        "count",
        "2020-01-31",
        series="defectors_to_isk",
        category="taliban",
        month="2020-01",
        count=900,
    )
    quiet = item(
        "quiet", "no_event", "2020-03-01", hazard="leave", actor="haqqani", through="2020-03-01"
    )
    later = item(
        "quiet", "no_event", "2020-06-01", hazard="leave", actor="haqqani", through="2020-06-01"
    )
    r1, r2 = weak_items()
    sequence = [
        with_items(reference_evidence, r1),
        with_items(reference_evidence, r1, count),
        with_items(reference_evidence, r1, count, quiet),
        with_items(reference_evidence, count),
        with_items(reference_evidence, r1, r2, count, quiet),
        with_items(reference_evidence, r1, r2, recount, quiet),  # same cells, another count
        with_items(reference_evidence, r1, r2, recount, later),  # same slot, longer exposure
        with_items(reference_evidence, r1),
    ]
    draws = updater.posterior.flat_draws()
    for evidence in sequence:
        got = updater.per_draw(evidence)
        want = probabilities(reference_spec, model_data(reference_spec, evidence), draws)
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)


def taliban_counts(prefix: str, months: tuple[str, ...], count: int) -> list:
    """Monthly counts of Taliban defectors to IS-K, one item per month."""
    return [
        item(
            f"{prefix}_{m}",
            "count",
            f"{m}-28",
            series="defectors_to_isk",
            category="taliban",
            month=m,
            count=count,
        )  # fmt: skip
        for m in months
    ]


@pytest.mark.slow
def test_strong_evidence_triggers_a_refit_that_becomes_the_base(
    reference_spec, reference_evidence, fitted
):
    months = ("2019-06", "2019-07", "2019-08", "2019-09", "2019-10", "2019-11")
    flood = taliban_counts("flood", months, 2000)
    strong = with_items(
        reference_evidence,
        *flood,
        drop=lambda i: i.kind == "count" and i.fields["category"] == "taliban",
    )
    own = Updater(fitted(reference_spec, reference_evidence, FitSettings()))
    rw = own.reweight(strong)
    assert not rw.accepted and rw.pareto_k > K_MAX
    without_refit = own.forecast(strong, allow_refit=False)
    assert not without_refit.trustworthy and "Pareto k" in without_refit.method_reason
    assert without_refit.method == "reweighted"
    result = own.forecast(strong)
    assert result.method == "mcmc" and "refitted" in result.method_reason
    assert result.provenance["evidence_sha256"] == strong.sha256
    assert result.trustworthy
    # The refit is the base from now on: one more weak item is reweighted from it.
    assert own.posterior.evidence.sha256 == strong.sha256
    after = own.forecast(with_items(strong, weak_items()[0]))
    assert after.method == "reweighted" and after.trustworthy
    assert after.provenance["fitted_evidence_sha256"] == strong.sha256


@pytest.mark.slow
def test_too_few_effective_draws_refuse_weights_with_a_good_pareto_k(reference_evidence, updater):
    """Taliban defections of 45 a month for three months (B2): k about 0.28, ESS about 220."""
    months = ("2019-09", "2019-10", "2019-11")
    more = taliban_counts("more", months, 45)
    evidence = with_items(
        reference_evidence,
        *more,
        drop=lambda i: (
            i.kind == "count" and i.fields["category"] == "taliban" and i.fields["month"] in months
        ),
    )
    rw = updater.reweight(evidence)
    assert rw.pareto_k <= K_MAX and not rw.accepted
    assert "effective sample size" in rw.reason
    # The size checked is the smallest over every probability the forecast shows. Reference:
    # each one's importance ESS as if the draws were independent, var_w(f) / sum w^2 (f - m)^2.
    # The fit's forecasts have an ESS of 0.5 to 2 times the draws, so the chain-aware size
    # lies within a factor 2.5 of it.
    w = np.exp(rw.log_weights)
    iid = []
    for x in updater.per_draw(evidence).values():
        centred = x - w @ x
        if np.ptp(x) > 0:
            iid.append(float(w @ centred**2 / np.sum(w**2 * centred**2)))
    assert min(iid) / 2.5 < rw.ess < 2.5 * min(iid)
    result = updater.forecast(evidence, allow_refit=False)
    assert not result.trustworthy and "effective sample size" in result.method_reason


@pytest.mark.slow
def test_attribution_finds_the_item_that_moved_the_forecast(reference_evidence, updater):
    ties = item(
        "ties",
        "report",
        "2019-11-25",
        target="aligns_with_isk.haqqani",
        favours=True,
        likelihood_ratio=200.0,
    )
    ties = type(ties)(**{**ties.__dict__, "grade": "A1"})
    # Without the shipped reports, whose pull on the deal moves every faction at once; as of
    # the analysis date (as of today, every departure would be settled by the record's rules).
    kept = [i for i in reference_evidence.items if i.kind != "report"]
    counts_only = EvidenceSet.of(kept, as_of=reference_evidence.as_of)
    evidence = EvidenceSet.of([*kept, ties], as_of=reference_evidence.as_of)
    rows = updater.explain(evidence, "alliance_24m")
    assert {r.item_id for r in rows} == {i.id for i in evidence.items}
    top = rows[0]
    assert top.item_id == "ties" and top.delta > 0 and top.delta_log_odds > 0
    assert top.without_item == pytest.approx(
        next(
            q.probability for q in updater.forecast(counts_only).questions if q.id == "alliance_24m"
        ),
        abs=1e-12,
    )
    assert all(abs(r.delta_log_odds) <= abs(top.delta_log_odds) for r in rows)


def test_grade_tempers_a_report(reference_spec, reference_evidence):
    from allegiance.evidence import EvidenceSet, model_data, report_log_ratio

    strong = item(
        "a", "report", "2019-11-20", target="isk_capacity", favours=True, likelihood_ratio=10.0
    )
    weak = type(strong)(**{**strong.__dict__, "id": "b", "grade": "E5"})
    assert report_log_ratio(strong) == pytest.approx(0.8 * 0.8 * np.log(10.0))
    assert report_log_ratio(weak) == pytest.approx(0.2 * 0.2 * np.log(10.0))
    b = reference_spec.binary_conditions.index("isk_capacity")
    for it in (strong, weak):
        d = model_data(reference_spec, EvidenceSet.of([it]))
        assert d.condition_loglik[b, 1] == pytest.approx(report_log_ratio(it))
        assert d.condition_loglik[b, 0] == 0.0


def _ar1_chains(rng: np.random.Generator, rho: float, chains: int, draws: int) -> np.ndarray:
    """Stationary AR(1) chains with N(0, 1) margins."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    noise = rng.standard_normal((chains, draws)) * math.sqrt(1.0 - rho**2)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize(
    ("rho", "shift", "spread"), [(0.0, 0.0, 0.04), (0.8, 0.0, 0.11), (0.0, 0.5, 0.07)]
)
def test_weighted_ess_matches_its_closed_form(rho, shift, spread):
    """ESS of the weighted mean of x for N(0, 1) draws weighted to N(shift, 1).

    Equal weights on AR(1) chains: n (1 - rho) / (1 + rho). Independent draws
    weighted by exp(shift x - shift^2 / 2): n / (exp(shift^2) (1 + shift^2)),
    from E_q[w^2 (x - shift)^2]. ``spread`` is the estimate's relative
    standard deviation over 40 seeds (0.038, 0.109, 0.067); the mean of 5
    seeds must be within 4 standard errors.
    """
    chains, draws = 4, 1000
    n = chains * draws
    expected = n * (1 - rho) / (1 + rho) / (math.exp(shift**2) * (1 + shift**2))
    ratios = []
    for seed in range(5):
        x = _ar1_chains(np.random.default_rng(seed), rho, chains, draws).ravel()
        log_w = shift * x - shift**2 / 2
        log_w -= np.log(np.exp(log_w).sum())
        ratios.append(weighted_ess(x, log_w, (chains, draws)) / expected)
    assert abs(np.mean(ratios) - 1.0) < 4 * spread / math.sqrt(len(ratios))


def test_weighted_ess_of_a_constant_is_infinite():
    """A quantity equal at every draw has no Monte Carlo error."""
    log_w = np.full(400, -math.log(400))
    assert weighted_ess(np.full(400, 0.3), log_w, (4, 100)) == math.inf
    # The same constant as a weighted sum leaves rounding error, not Monte Carlo error;
    # uneven weights, as after reweighting.
    rng = np.random.default_rng(2)
    rounded = 0.3 * (1 + rng.uniform(-2, 2, 400) * np.finfo(float).eps)
    uneven = rng.normal(size=400)
    uneven -= np.log(np.exp(uneven).sum())
    assert weighted_ess(rounded, uneven, (4, 100)) == math.inf
    # A quantity that truly varies, however small its scale, keeps a finite size.
    tiny = 1e-9 * rng.normal(size=400)
    assert 100 < weighted_ess(tiny, log_w, (4, 100)) < 1000


@pytest.mark.parametrize("xi", [0.3, 0.6, 0.9])
def test_pareto_k_estimates_the_tail_of_the_weights(xi: float) -> None:
    """Weights exp(xi * E), E exponential, have a Pareto tail of shape xi: k must find it.

    The package's port of ArviZ 0.23's psislw must give ArviZ's weights and k exactly.
    """
    import arviz as az

    from allegiance.update.psis import psislw

    ks = []
    for seed in range(20):
        log_ratio = xi * np.random.default_rng(seed).exponential(size=4000)
        lw, k = psislw(log_ratio, reff=0.7)
        ks.append(k)
        lw_arviz, k_arviz = az.psislw(log_ratio, reff=0.7)
        assert k == pytest.approx(float(k_arviz), rel=1e-12)
        np.testing.assert_allclose(lw, lw_arviz, rtol=1e-12)
    # k's spread at n = 4000 is about 0.1 per estimate: the mean of 20 is within 0.1.
    assert np.mean(ks) == pytest.approx(xi, abs=0.1)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.95, -0.3])
def test_ess_of_a_mean_is_arviz_s(rho: float) -> None:
    """The port of ArviZ 0.23's ESS of a mean gives ArviZ's number, on AR(1) chains."""
    import arviz as az

    from allegiance.update.psis import ess_mean

    noise = np.random.default_rng(5).normal(size=(4, 1000))
    chains = np.zeros_like(noise)
    for t in range(1000):
        chains[:, t] = (rho * chains[:, t - 1] if t else 0.0) + noise[:, t]
    assert ess_mean(chains) == pytest.approx(float(az.ess(chains, method="mean")), rel=1e-12)


def test_diagnostics_agree_with_arviz_0_23() -> None:
    """R-hat, bulk and tail ESS (ArviZ 1.x functions) equal ArviZ 0.23's, element by element."""
    import arviz as az

    from allegiance.posterior import diagnose

    rng = np.random.default_rng(3)
    chains = rng.normal(size=(4, 500, 3)).cumsum(axis=1) * 0.05 + rng.normal(size=(4, 500, 3))
    chains[1] += 0.2  # one chain off: R-hat above 1
    d = diagnose({"x": chains}, 0)
    rhat = max(float(az.rhat(chains[:, :, i])) for i in range(3))
    bulk = min(float(az.ess(chains[:, :, i], method="bulk")) for i in range(3))
    tail = min(float(az.ess(chains[:, :, i], method="tail")) for i in range(3))
    assert d.max_rhat == pytest.approx(rhat, rel=1e-10) and d.max_rhat > 1.01
    assert d.min_ess_bulk == pytest.approx(bulk, rel=1e-10)
    assert d.min_ess_tail == pytest.approx(tail, rel=1e-10)


@pytest.mark.parametrize("scale", [50.0, 5000.0])
def test_weights_too_uneven_to_smooth_are_refused(scale: float) -> None:
    """Log ratios spread over thousands (a refuted fit) must never pass as usable weights."""
    from allegiance.update import reweighting

    rng = np.random.default_rng(1)
    shown = [rng.random(4000)]
    rw = reweighting(rng.normal(size=4000) * scale, lambda: shown, (4, 1000), 4000.0)
    assert not rw.accepted and not rw.pareto_k <= K_MAX
    mild = reweighting(rng.normal(size=4000) * 0.1, lambda: shown, (4, 1000), 4000.0)
    assert mild.accepted and mild.pareto_k < K_MAX and np.all(np.isfinite(mild.log_weights))


def test_an_item_that_cannot_reach_a_question_moves_it_by_exactly_zero(fitted):
    """In the minimal model the spoils level and the defector counts share nothing with the
    splinter's departure: explain shows exactly 0 for them, and a fit without them agrees
    with the full fit within Monte Carlo error (the independent check of the claim)."""
    import arviz as az

    from allegiance.evidence import EvidenceSet, in_force, read_items
    from allegiance.spec import load_spec
    from allegiance.update.attribution import CUT_OFF
    from helpers_spec import MINIMAL, MINIMAL_EVIDENCE

    spec = load_spec(MINIMAL)
    evidence = EvidenceSet.of(in_force(read_items(MINIMAL_EVIDENCE, spec)))
    settings = FitSettings(draws=500, tune=500, seed=3)
    full = fitted(spec, evidence, settings)
    rows = {r.item_id: r for r in Updater(full, settings).explain(evidence, "splinter_leaves_12m")}
    cut = {"spoils_reported", "defectors_2019_10", "defectors_2020_02"}
    assert {k for k, r in rows.items() if r.method == CUT_OFF} == cut
    assert all(rows[k].delta == 0.0 for k in cut)
    assert rows["deal_signed"].delta > 0  # the deal raises the hazard: it does reach

    without = EvidenceSet.of([i for i in evidence.items if i.id not in cut])
    refit = fitted(spec, without, FitSettings(draws=500, tune=500, seed=4))
    a, b = question_draws(full)["splinter_leaves_12m"], question_draws(refit)["splinter_leaves_12m"]
    se = [np.std(x) / np.sqrt(float(az.ess(x, method="mean"))) for x in (a, b)]
    assert abs(a.mean() - b.mean()) < Z * np.hypot(*se)


@pytest.mark.slow
def test_an_estimated_total_reweighted_matches_a_refit(
    reference_spec, reference_evidence, updater, fitted
):
    """An estimate ('about 40 Taliban defectors in January 2020, 20 to 70', B2) absorbed by
    reweighting (numpy incomplete beta) agrees with a refit (the PyMC graph's slots)."""
    import arviz as az

    count = {"about": 40, "range": [20, 70]}
    estimate = item("tal_jan", "count", "2020-01-31", series="defectors_to_isk",
                    category="taliban", month="2020-01", count=count)  # fmt: skip
    evidence = with_items(reference_evidence, estimate)
    fast = updater.forecast(evidence)
    assert fast.method == "reweighted"
    refit = fitted(reference_spec, evidence, FitSettings(seed=13))
    slow = forecast(refit)
    per_draw = question_draws(refit)
    ess = fast.provenance["importance_ess"]
    for a, b in zip(fast.questions, slow.questions, strict=True):
        x = per_draw[b.id]
        se = np.std(x) * np.sqrt(1 / float(az.ess(x, method="mean")) + 1 / ess)
        assert abs(a.probability - b.probability) < Z * se, a.id

    # Absorption needs about 83 a month: a January capped at 70 lowers it, one of 150 to
    # 300 raises it.
    def absorbs(rng: list[int]) -> float:
        est = dataclasses.replace(estimate, fields={**estimate.fields, "count": {"range": rng}})
        (q,) = [q for q in updater.forecast(with_items(reference_evidence, est)).questions
                if q.id == "isk_absorbs_1000_12m"]  # fmt: skip
        assert q.probability is not None
        return q.probability

    base = next(q.probability for q in updater.forecast(reference_evidence).questions
                if q.id == "isk_absorbs_1000_12m")  # fmt: skip
    assert absorbs([20, 70]) < base < absorbs([150, 300])


def test_a_departures_destination_changes_the_updated_forecast(fitted):
    """Where a departure went is read by the fast path too: a retraction that changes only
    the destination (same month) must not serve a cached value of the exits question."""
    from allegiance.evidence import EvidenceSet
    from allegiance.spec import load_spec
    from conftest import FIXTURES

    spec = load_spec(FIXTURES / "models" / "exits.yaml")
    went = departure("split", "2020-03-10", "rival", grade="A1")
    alone = dataclasses.replace(went, id="alone", fields={**went.fields, "destination": "alone"})
    settings = FitSettings(draws=300, tune=300)
    updater = Updater(fitted(spec, EvidenceSet.of([went]), settings), settings)
    first = updater.per_draw(EvidenceSet.of([went]))["joins_rival_12m"]
    second = updater.per_draw(EvidenceSet.of([alone]))["joins_rival_12m"]
    assert np.all(first == 1.0) and np.all(second == 0.0)
