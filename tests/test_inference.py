"""Fits against independent truths: closed forms, the prior, directions, diagnostics.

Tolerances come from Monte Carlo error: the posterior standard deviation over
the square root of the effective sample size, times a safety factor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from allegiance.errors import ProvenanceError
from allegiance.evidence import EvidenceSet, load_evidence, model_data, no_evidence
from allegiance.forecast import forecast, probabilities, question_draws
from allegiance.posterior import FitSettings, diagnose, load_posterior
from allegiance.spec import load_spec
from helpers import departure, item, prior_draws, with_items

SMALL = FitSettings(draws=500, tune=500)
Z = 4.0  # safety factor on Monte Carlo standard errors


def mc_se(x: np.ndarray) -> float:
    """Monte Carlo standard error of the mean of an array (chain, draw)."""
    import arviz as az

    return float(np.std(x) / np.sqrt(az.ess(x, method="mean")))


@pytest.fixture(scope="module")
def bb_spec(request):
    from conftest import FIXTURES

    return load_spec(FIXTURES / "models" / "beta_binomial.yaml")


@pytest.mark.slow
@pytest.mark.parametrize(("events", "months"), [(0, 18), (1, 10)])
def test_beta_binomial_closed_form(bb_spec, fitted, events, months):
    """Months survived m and departures d turn Beta(a, b) into Beta(a + d, b + m)."""
    prior = bb_spec.propensities["leave"].baselines["faction"].prior
    a, b = prior.params["alpha"], prior.params["beta"]
    if events:
        obs = item(
            "left",
            "event",
            "2020-11-15",
            hazard="leave",
            actor="faction",
            month=f"2020-{months + 1:02d}",
        )
        months_exposed = months
    else:
        obs = item(
            "quiet", "no_event", "2021-07-01", hazard="leave", actor="faction", through="2021-07-01"
        )
        months_exposed = months
    posterior = fitted(bb_spec, EvidenceSet.of([obs]), FitSettings(draws=1000, tune=1000))
    h = posterior.draws()["baseline"][..., 0]
    exact = stats.beta(a + events, b + months_exposed)
    assert abs(h.mean() - exact.mean()) < Z * mc_se(h)
    assert np.std(h) == pytest.approx(exact.std(), rel=0.08)
    # P(leave within 24 months) given survival so far: 1 - E[(1 - h)^(24 - m)].
    per_draw = question_draws(posterior)["leaves_24m"]
    if events:
        want = 1.0
    else:
        a2, b2 = a, b + months_exposed
        want = 1 - np.exp(special.betaln(a2, b2 + 24 - months_exposed) - special.betaln(a2, b2))
    assert abs(per_draw.mean() - want) < Z * mc_se(per_draw) + 1e-12


@pytest.mark.slow
def test_no_evidence_posterior_is_the_prior(reference_spec, fitted):
    """With no evidence NUTS must reproduce forecasts from direct prior simulation."""
    posterior = fitted(reference_spec, EvidenceSet.of([]), SMALL)
    nuts = question_draws(posterior)
    direct = probabilities(
        reference_spec, no_evidence(reference_spec), prior_draws(reference_spec, 20_000, seed=3)
    )
    for qid in reference_spec.questions:
        se = np.hypot(mc_se(nuts[qid]), direct[qid].std() / np.sqrt(20_000))
        assert abs(nuts[qid].mean() - direct[qid].mean()) < Z * se, qid


def _leave_means(posterior):
    draws = question_draws(posterior)
    return {
        q: draws[q]
        for q in ("haqqani_leaves_12m", "north_shura_leaves_12m", "eastern_fronts_leave_12m")
    }


@pytest.mark.slow
def test_us_presence_raises_every_faction_leaving(reference_spec, reference_evidence, fitted):
    runs = {}
    for value in (True, False):
        ev = with_items(
            reference_evidence,
            item("presence", "condition", "2020-03-01", condition="us_presence", value=value),
        )
        runs[value] = _leave_means(fitted(reference_spec, ev, SMALL))
    for qid in runs[True]:
        hi, lo = runs[True][qid], runs[False][qid]
        assert hi.mean() - lo.mean() > Z * np.hypot(mc_se(hi), mc_se(lo)), qid


@pytest.mark.slow
def test_more_defectors_raise_absorption(reference_spec, reference_evidence, fitted):
    def taliban_counts(count):
        months = ("2019-06", "2019-07", "2019-08", "2019-09", "2019-10", "2019-11")
        return [
            item(
                f"tal_{m}",
                "count",
                f"{m}-28",
                series="defectors_to_isk",
                category="taliban",
                month=m,
                count=count,
            )
            for m in months
        ]

    def is_taliban(i):
        return i.kind == "count" and i.fields["category"] == "taliban"

    runs = {}
    for count in (10, 60):
        ev = with_items(reference_evidence, *taliban_counts(count), drop=is_taliban)
        runs[count] = question_draws(fitted(reference_spec, ev, SMALL))["isk_absorbs_1000_12m"]
    assert runs[60].mean() - runs[10].mean() > Z * np.hypot(mc_se(runs[60]), mc_se(runs[10]))


@pytest.mark.slow
def test_reference_fit_passes_diagnostics(reference_spec, reference_evidence, fitted):
    posterior = fitted(reference_spec, reference_evidence, FitSettings())
    result = forecast(posterior)
    d = result.diagnostics
    assert d.ok, d.problems
    assert d.max_rhat <= 1.01
    assert d.divergences == 0
    per_draw = question_draws(posterior)
    import arviz as az

    for qid in reference_spec.questions:
        assert float(az.ess(per_draw[qid], method="bulk")) >= 400, qid
        assert float(az.ess(per_draw[qid], method="tail")) >= 400, qid


@pytest.mark.slow
def test_saved_posterior_keeps_its_identity(
    reference_spec, reference_evidence, fitted, tmp_path, monkeypatch
):
    posterior = fitted(reference_spec, reference_evidence, FitSettings())
    before = forecast(posterior)
    path = posterior.save(tmp_path / "post.nc")
    again = load_posterior(path, reference_spec, reference_evidence)
    assert again.attrs["model_sha256"] == reference_spec.sha256
    assert "pymc" in again.attrs["versions"]
    # The checks travel with the draws: a stored fit is not diagnosed again on loading.
    assert again.diagnostics == before.diagnostics
    import importlib

    def refuse(*args, **kwargs):
        raise AssertionError("a stored fit was diagnosed again")

    monkeypatch.setattr(importlib.import_module("allegiance.forecast.summary"), "diagnose", refuse)
    after = forecast(again)
    assert [q.probability for q in before.questions] == [q.probability for q in after.questions]
    assert after.diagnostics == before.diagnostics
    from allegiance.update import Updater

    own = Updater(again).forecast(reference_evidence)
    np.testing.assert_allclose(
        [q.probability for q in own.questions],
        [q.probability for q in before.questions],
        rtol=1e-12,
    )
    other = with_items(
        reference_evidence,
        item("x", "condition", "2020-03-01", condition="ceasefire_kabul", value=True),
    )
    with pytest.raises(ProvenanceError, match="evidence_sha256"):
        load_posterior(path, reference_spec, other)


def test_same_seed_same_numbers(bb_spec, fitted):
    ev = EvidenceSet.of([])
    settings = FitSettings(draws=100, tune=100, seed=5)
    from allegiance.posterior import fit

    first = fitted(bb_spec, ev, settings).draws()["baseline"]
    second = fit(bb_spec, ev, settings).draws()["baseline"]
    np.testing.assert_array_equal(first, second)
    third = fit(bb_spec, ev, FitSettings(draws=100, tune=100, seed=6)).draws()["baseline"]
    assert not np.array_equal(first, third)


def test_every_setting_is_passed_to_the_sampler(bb_spec, monkeypatch) -> None:
    import nutpie

    from allegiance.posterior import fit

    class Stop(Exception):
        pass

    seen: dict[str, object] = {}

    def sample(compiled: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(nutpie, "sample", sample)
    settings = FitSettings(draws=123, tune=45, chains=3, seed=17, target_accept=0.93)
    with pytest.raises(Stop):
        fit(bb_spec, EvidenceSet.of([]), settings)
    assert (seen["draws"], seen["tune"], seen["chains"], seen["seed"]) == (123, 45, 3, 17)
    assert seen["target_accept"] == 0.93
    assert seen["low_rank_modified_mass_matrix"] == settings.low_rank_mass_matrix


@pytest.mark.slow
def test_the_target_acceptance_rate_reaches_the_sampler(reference_spec, reference_evidence):
    """A higher target makes the adaptation take smaller steps, accepted more often."""
    from allegiance.posterior import fit

    stats_of = {}
    for target in (0.6, 0.95):
        settings = FitSettings(draws=200, tune=300, seed=3, target_accept=target)
        posterior = fit(reference_spec, reference_evidence, settings)
        s = posterior.idata.sample_stats
        stats_of[target] = (float(s["mean_tree_accept"].mean()), float(s["step_size"].mean()))
        assert posterior.attrs["fit_settings"].count(f'"target_accept": {target}') == 1
    (low_accept, low_step), (high_accept, high_step) = stats_of[0.6], stats_of[0.95]
    assert high_accept > low_accept and high_step < low_step
    assert abs(high_accept - 0.95) < abs(low_accept - 0.95)
    with pytest.raises(ValueError, match="target_accept"):
        FitSettings(target_accept=1.0)


def test_short_fit_is_flagged(bb_spec, fitted):
    posterior = fitted(bb_spec, EvidenceSet.of([]), FitSettings(draws=30, tune=30, chains=2))
    result = forecast(posterior)
    assert not result.trustworthy
    assert any("ESS" in p for p in result.diagnostics.problems)


def test_diagnose_catches_stuck_chains():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 1000))
    stuck = good + np.array([0, 0, 0, 3.0])[:, None]
    assert diagnose({"x": good}, 0).ok
    bad = diagnose({"x": stuck}, 0)
    assert not bad.ok and bad.max_rhat > 1.01
    assert not diagnose({"x": good}, 2).ok


def test_evidence_arrays_go_into_the_data_containers(reference_spec, reference_evidence):
    from allegiance.model import DATA_NAMES, build_model

    model = build_model(reference_spec, no_evidence(reference_spec), estimates=True)
    data = model_data(reference_spec, load_evidence(reference_evidence.path, reference_spec))
    import pymc as pm

    # Every evidence array has its container, but a model without stocks has none for them.
    names = [n for n in DATA_NAMES if reference_spec.stocks or not n.startswith("stock_")]
    assert set(names) < set(DATA_NAMES) and all(n in model.named_vars for n in names)
    with model:
        pm.set_data({n: getattr(data, n) for n in names})
    for name in names:
        np.testing.assert_array_equal(model[name].get_value(), getattr(data, name))


def test_prior_predictive_is_sane(reference_spec):
    """Forecasts implied by the priors alone are proper, ordered and not degenerate."""
    draws = prior_draws(reference_spec, 4000, seed=9)
    got = probabilities(reference_spec, no_evidence(reference_spec), draws)
    deal = got["condition:deal_signed"]
    stated = reference_spec.conditions["deal_signed"].belief.prior.centre()
    assert abs(deal.mean() - stated) < 4 * deal.std() / np.sqrt(deal.size)
    for qid in reference_spec.questions:
        assert 0.01 < got[qid].mean() < 0.99, qid
        lo, hi = np.quantile(got[qid], [0.05, 0.95])
        assert hi - lo > 0.05, f"{qid}: the priors leave no uncertainty"
    # Monthly counts implied by the priors sit around the analyst's typical values.
    for j, (sid, cat) in enumerate(reference_spec.channels):
        typical = reference_spec.series[sid].baselines[cat].prior.statement["typical"]
        median = float(np.median(np.exp(draws["log_rate"][:, j])))
        assert median == pytest.approx(typical, rel=0.1), (sid, cat)


@pytest.mark.slow
def test_pymc_priors_match_the_stated_priors(reference_spec):
    """The PyMC model's free variables, drawn forward, follow the priors the file states."""
    import pymc as pm

    from allegiance.model import FREE_VARIABLES, build_model

    model = build_model(reference_spec, no_evidence(reference_spec), estimates=True)
    names = [n for n in FREE_VARIABLES if n in model.named_vars]
    forward = pm.draw([model[n] for n in names], draws=4000, random_seed=1)
    direct = prior_draws(reference_spec, 4000, seed=2)
    for name, values in zip(names, forward, strict=True):
        for i in range(values.shape[1]):
            result = stats.ks_2samp(values[:, i], direct[name][:, i])
            assert result.pvalue > 1e-4, (name, i, result)


@pytest.mark.slow
def test_a_report_on_a_level_tilts_it_as_the_closed_form_says(fitted):
    """A report favouring a low share by R, graded B2, multiplies the Beta(a, b) prior of the
    level by R**(-0.64 u): its posterior mean is a ratio of two integrals (quadrature)."""
    from scipy import integrate

    from helpers_spec import MINIMAL

    spec = load_spec(MINIMAL)
    low = item("low", "report", "2020-01-10", target="spoils", favours=False, likelihood_ratio=20.0)
    posterior = fitted(spec, EvidenceSet.of([low]), FitSettings(draws=1000, tune=1000))
    u = posterior.draws()["level"][..., spec.level_conditions.index("spoils")]
    prior = spec.conditions["spoils"].belief.prior.frozen()
    c = -0.64 * np.log(20.0)
    mass = integrate.quad(lambda x: prior.pdf(x) * np.exp(c * x), 0, 1)[0]
    mean = integrate.quad(lambda x: x * prior.pdf(x) * np.exp(c * x), 0, 1)[0] / mass
    assert abs(u.mean() - mean) < Z * mc_se(u)
    assert mean < prior.mean() - 5 * mc_se(u)  # the report did move it


@pytest.mark.slow
@pytest.mark.parametrize("favours", [True, False])
def test_a_report_of_an_outcome_moves_the_question_as_quadrature_says(bb_spec, fitted, favours):
    """A report (A1, ratio 30) that the faction had left by the end of June 2020 (month 6):
    the hazard's posterior is Beta(a, b) times S + L (1 - S), S = (1 - h)^6, and the
    24-month question is E[L (1 - S) + S - S_24] / E[L (1 - S) + S] under the prior."""
    from scipy import integrate

    said = item("said", "report", "2020-06-20", target="leave.faction", favours=favours,
                likelihood_ratio=30.0)  # fmt: skip
    said = type(said)(**{**said.__dict__, "grade": "A1"})
    posterior = fitted(bb_spec, EvidenceSet.of([said]), FitSettings(draws=1000, tune=1000))
    prior = bb_spec.propensities["leave"].baselines["faction"].prior.frozen()
    lr = 30.0 if favours else 1 / 30.0

    def expect(f):
        return integrate.quad(lambda h: prior.pdf(h) * f(h), 0, 1, limit=200)[0]

    norm = expect(lambda h: lr * (1 - (1 - h) ** 6) + (1 - h) ** 6)
    want = expect(lambda h: lr * (1 - (1 - h) ** 6) + (1 - h) ** 6 - (1 - h) ** 24) / norm
    per_draw = question_draws(posterior)["leaves_24m"]
    assert abs(per_draw.mean() - want) < Z * mc_se(per_draw)
    before = 1 - expect(lambda h: (1 - h) ** 24)  # 0.80 under the prior alone
    assert (want > before + 0.15) if favours else (want < before - 0.1)


def test_a_departures_destination_updates_the_shares_as_a_dirichlet(fitted):
    """No effects: the shares are Dirichlet(a) a priori; one departure seen going to a
    destination (grade A1) makes them Dirichlet(a + e_d), whose means are closed form."""

    from conftest import FIXTURES

    model = FIXTURES / "models" / "exits.yaml"
    spec = load_spec(model)
    gone = departure("split", "2020-03-10", "rival", grade="A1")
    posterior = fitted(spec, EvidenceSet.of([gone]), FitSettings(draws=1000, tune=500))
    w = posterior.draws()["destination_weight"]  # (chain, draw, exit)
    share = w[..., 0] / w.sum(axis=-1)
    a = np.array(
        [d.weight.params["alpha"] for d in spec.propensities["leave"].destinations.values()]
    )
    want = (a[0] + 1) / (a.sum() + 1)
    import arviz as az

    se = float(share.std() / np.sqrt(az.ess(share)))
    assert abs(share.mean() - want) < 4 * se, (share.mean(), want, se)
    assert want > a[0] / a.sum() + 8 * se  # the update is large enough to be seen


def test_pytensors_known_rewrite_failure_is_filtered_and_others_are_not() -> None:
    """pytensor#2145 logs an ERROR with a traceback while compiling the minimal model."""
    import logging

    from allegiance.posterior.sampling import REWRITE_LOG, KnownRewriteFailure

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord(REWRITE_LOG, logging.ERROR, __file__, 1, message, None, None)

    known = KnownRewriteFailure()
    assert not known.filter(record("SequentialGraphRewriter apply <...FusionOptimizer at 0x1>"))
    assert not known.filter(record("Traceback:"))
    assert not known.filter(record("Traceback ...\n  in elemwise_to_scalar\nKeyError: x"))
    assert known.filter(record("SequentialGraphRewriter apply <...OtherRewriter at 0x1>"))


@pytest.mark.slow
def test_pytensors_known_rewrite_failure_is_not_shown_while_compiling(tmp_path: Path) -> None:
    """A fresh compile of the minimal model shows none of it; the filter is gone after."""
    import logging
    import shutil

    from allegiance.posterior.sampling import REWRITE_LOG, prepare
    from helpers_spec import MINIMAL

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            seen.append(rec.getMessage())

    path = tmp_path / "minimal.yaml"  # a new file hash: compiled afresh in this process
    shutil.copy(MINIMAL, path)
    path.write_text(path.read_text() + "\n# compiled for the log test\n")
    log = logging.getLogger(REWRITE_LOG)
    keep = Keep()
    log.addHandler(keep)
    try:
        prepare(load_spec(path))
        log.error("a rewrite failure of another kind")  # the filter is gone after compiling
    finally:
        log.removeHandler(keep)
    assert not any("FusionOptimizer" in m or "elemwise_to_scalar" in m for m in seen), seen
    assert seen[-1] == "a rewrite failure of another kind"
