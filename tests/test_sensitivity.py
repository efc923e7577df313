"""Power-scaling sensitivity: the model's densities, ArviZ's psens, a closed form, a fit."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import integrate, special, stats

from allegiance.evidence import EvidenceSet, model_data
from allegiance.forecast import probabilities
from allegiance.model import build_model
from allegiance.posterior import FitSettings, Posterior
from allegiance.spec import ModelSpec, load_spec
from allegiance.update import Updater
from allegiance.update.sensitivity import (
    DELTA,
    THRESHOLD,
    Sensitivity,
    forecast_sensitivity,
    log_likelihood,
    log_prior,
    power_scaling,
)
from helpers import item, prior_draws

Z = 4.0  # standard errors allowed to a Monte Carlo estimate


def pymc_log_densities(
    spec: ModelSpec, evidence: EvidenceSet, draws: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The PyMC model's log prior (free variables) and log joint at each draw, no Jacobian."""
    from pymc.model.transform.conditioning import remove_value_transforms

    # Without its transforms the model's value variables take the draws as they are.
    model = remove_value_transforms(build_model(spec, model_data(spec, evidence)))
    prior = model.compile_logp(vars=model.free_RVs, jacobian=False)
    joint = model.compile_logp(jacobian=False)
    n = len(draws["baseline"])
    points = [
        {model.rvs_to_values[rv].name: draws[rv.name][i] for rv in model.free_RVs} for i in range(n)
    ]
    return np.array([prior(p) for p in points]), np.array([joint(p) for p in points])


def test_the_densities_are_the_pymc_model_s_for_the_one_hazard_model(spec: ModelSpec) -> None:
    evidence = EvidenceSet.of(
        [
            item("quiet", "no_event", "2021-06-01", hazard="leave", actor="faction",
                 through="2021-06-01"),
            item("said", "report", "2021-09-15", target="leave.faction", favours=True,
                 likelihood_ratio=3.0),
        ]
    )  # fmt: skip
    draws = prior_draws(spec, 20, seed=31)
    want_prior, want_joint = pymc_log_densities(spec, evidence, draws)
    lp = log_prior(spec, draws)
    ll = log_likelihood(spec, model_data(spec, evidence), draws)
    assert np.ptp(ll) > 1.0  # the evidence bears on the draws
    np.testing.assert_allclose(lp, want_prior, rtol=1e-8)
    np.testing.assert_allclose(lp + ll, want_joint, rtol=1e-8)


@pytest.mark.slow  # compiles the reference model's log density: 20-40 s on a cold cache
def test_the_densities_are_the_pymc_model_s_for_the_reference_model(
    reference_spec: ModelSpec, reference_evidence: EvidenceSet
) -> None:
    """Every kind of free variable (Beta, Gamma, Normal log-rates, LogNormal overdispersion),
    and evidence on conditions, levels, hazards and counts."""
    draws = prior_draws(reference_spec, 20, seed=32)
    want_prior, want_joint = pymc_log_densities(reference_spec, reference_evidence, draws)
    lp = log_prior(reference_spec, draws)
    ll = log_likelihood(reference_spec, model_data(reference_spec, reference_evidence), draws)
    np.testing.assert_allclose(lp, want_prior, rtol=1e-8)
    np.testing.assert_allclose(lp + ll, want_joint, rtol=1e-8)


@pytest.mark.parametrize("delta", [DELTA, 0.2])
def test_power_scaling_is_arviz_psens(delta: float) -> None:
    """A normal mean, prior N(0, 1), five observations; the quantity exp(theta), 4 chains."""
    import arviz as az

    rng = np.random.default_rng(33)
    y = rng.normal(1.0, 1.0, 5)
    theta = stats.norm(y.sum() / 6, 6**-0.5).rvs(size=(4, 500), random_state=rng)
    lp = stats.norm(0.0, 1.0).logpdf(theta)
    ll = stats.norm(theta[..., None], 1.0).logpdf(y)  # (chain, draw, observation)
    idata = az.from_dict(posterior={"q": np.exp(theta)}, log_likelihood={"y": ll})
    idata.add_groups({"log_prior": {"theta": lp}})
    for component, values in (("prior", lp), ("likelihood", ll.sum(axis=-1))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            want = float(az.psens(idata, component=component, delta=delta)["q"])
        assert want > 0.02
        got = power_scaling(np.exp(theta).ravel(), values.ravel(), delta)
        assert got == pytest.approx(want, rel=1e-9), component


def test_a_quantity_that_never_moves_has_no_sensitivity() -> None:
    """ArviZ gives nan (0 / 0) for a constant; rounding noise must not read as a signal."""
    rng = np.random.default_rng(34)
    component = rng.normal(size=1000)
    resolved = 1.0 - np.finfo(float).eps * rng.integers(0, 2, 1000)
    for values in (np.full(1000, 0.3), resolved):
        assert power_scaling(values, component) == 0.0
    assert power_scaling(rng.normal(size=1000) + component, component) > THRESHOLD


def test_diagnosis_follows_priorsense() -> None:
    assert Sensitivity(prior=0.2, likelihood=0.01).diagnosis == "prior-driven"
    assert Sensitivity(prior=0.2, likelihood=0.3).diagnosis == "prior-data conflict"
    assert Sensitivity(prior=0.01, likelihood=0.3).diagnosis == ""
    assert Sensitivity(prior=0.01, likelihood=0.01).diagnosis == ""


def cjs_distance(
    cdf_p: Callable[[Any], Any], cdf_q: Callable[[Any], Any], lo: float, hi: float
) -> float:
    """The cumulative Jensen-Shannon distance of two CDFs over [lo, hi], by quadrature."""

    def integral(f: Callable[[float], float]) -> float:
        return integrate.quad(f, lo, hi, limit=200, epsabs=1e-13, epsrel=1e-11)[0]

    def term(f: Callable[[Any], Any], g: Callable[[Any], Any]) -> Callable[[float], float]:
        return lambda x: special.xlogy(f(x), f(x) / (0.5 * (f(x) + g(x)))) / np.log(2)

    p_int, q_int = integral(cdf_p), integral(cdf_q)
    pq = integral(term(cdf_p, cdf_q)) + 0.5 / np.log(2) * (q_int - p_int)
    qp = integral(term(cdf_q, cdf_p)) + 0.5 / np.log(2) * (p_int - q_int)
    return float(np.sqrt((max(pq, 0.0) + max(qp, 0.0)) / (p_int + q_int)))


def reflected(dist: Any) -> Callable[[Any], Any]:
    """The CDF of -X: P(-X <= y) = P(X >= -y)."""
    return lambda y: dist.sf(-y)


def exact_power_scaling(base: Any, scaled: Callable[[float], Any], lo: float, hi: float) -> float:
    """psens's number for exact distributions: X and -X, alpha = 1 / (1 + delta) and 1 + delta."""
    total = 0.0
    for alpha in (1 / (1 + DELTA), 1 + DELTA):
        other = scaled(alpha)
        up = cjs_distance(base.cdf, other.cdf, lo, hi)
        down = cjs_distance(reflected(base), reflected(other), -hi, -lo)
        total += max(up, down)
    return total / (2 * np.log2(1 + DELTA))


@pytest.mark.parametrize("component", ["prior", "likelihood"])
def test_power_scaling_a_beta_binomial_matches_the_closed_form(component: str) -> None:
    """Prior Beta(a, b), k of n: the prior to the power alpha gives Beta(alpha (a - 1) + 1 + k,
    alpha (b - 1) + 1 + n - k), the likelihood Beta(a + alpha k, b + alpha (n - k)).

    psens integrates the CDFs over the range of the draws, which for a Beta reaches
    the ends of [0, 1] only slowly (over [0, 1] the exact value here is about 0.14 and
    0.16 against 0.17 and 0.19 at 4000 draws), so each seed's exact value is taken over
    its own draws' range; the estimates differ from it by Monte Carlo error only.
    """
    a, b, k, n = 8.0, 4.0, 3, 12
    base = stats.beta(a + k, b + n - k)

    def scaled(alpha: float) -> Any:
        if component == "prior":
            return stats.beta(alpha * (a - 1) + 1 + k, alpha * (b - 1) + 1 + n - k)
        return stats.beta(a + alpha * k, b + alpha * (n - k))

    diffs, exact = [], []
    for seed in range(10):
        x = base.rvs(size=4000, random_state=np.random.default_rng(seed))
        lc = stats.beta(a, b).logpdf(x) if component == "prior" else stats.binom(n, x).logpmf(k)
        exact.append(exact_power_scaling(base, scaled, float(x.min()), float(x.max())))
        diffs.append(power_scaling(x, lc) - exact[-1])
    assert min(exact) > 2 * THRESHOLD  # clearly sensitive
    se = np.std(diffs, ddof=1) / np.sqrt(len(diffs))
    assert abs(np.mean(diffs)) < Z * se, (np.mean(diffs), se)
    assert se < 0.02 * np.mean(exact)  # and the check is sharp


@pytest.fixture
def two_factions(spec: ModelSpec, tmp_path: Path) -> ModelSpec:
    """The one-hazard model with a second faction, under the same prior, and its question."""
    doc = yaml.safe_load(spec.path.read_text())
    doc["actors"]["other"] = {"name": "Another faction", "role": "faction", "parent": "parent"}
    doc["propensities"]["leave"]["actors"] = ["faction", "other"]
    doc["questions"].append({**doc["questions"][0], "id": "other_leaves_24m", "actor": "other"})
    path = tmp_path / "two_factions.yaml"
    # Model files refuse anchors and aliases: dump shared values (dates) in full.
    no_aliases = type("NoAliases", (yaml.SafeDumper,), {"ignore_aliases": lambda *_: True})
    path.write_text(yaml.dump(doc, Dumper=no_aliases, sort_keys=False))
    return load_spec(path)


@pytest.fixture
def survived(two_factions: ModelSpec) -> EvidenceSet:
    """The first faction stayed for 21 of the 24 months; nothing is known of the other."""
    return EvidenceSet.of(
        [item("quiet", "no_event", "2021-10-01", hazard="leave", actor="faction",
              through="2021-10-01")]
    )  # fmt: skip


def fit_of(
    fitted: Callable[[ModelSpec, EvidenceSet, FitSettings], Posterior],
    spec: ModelSpec,
    evidence: EvidenceSet,
) -> Posterior:
    return fitted(spec, evidence, FitSettings(draws=1000, tune=300))


def test_evidence_moves_sensitivity_from_the_prior_to_the_likelihood(
    two_factions: ModelSpec,
    survived: EvidenceSet,
    fitted: Callable[[ModelSpec, EvidenceSet, FitSettings], Posterior],
) -> None:
    """The other faction's forecast is its prior's: sensitive to it, not to the likelihood,
    although the likelihood varies across the draws. The first faction's is pinned by
    21 months of survival: the likelihood moves it more than the prior, and the prior,
    the same as the other's, moves it less than it moves the other's."""
    posterior = fit_of(fitted, two_factions, survived)
    updater = Updater(posterior)
    got = forecast_sensitivity(two_factions, posterior.flat_draws(), updater.per_draw(survived),
                               updater.log_likelihood(survived))  # fmt: skip
    pinned, free = got["leaves_24m"], got["other_leaves_24m"]
    assert free.diagnosis == "prior-driven", free
    assert pinned.likelihood > max(pinned.prior, THRESHOLD), pinned
    assert pinned.prior < free.prior, (pinned, free)


def test_the_fit_s_kept_terms_give_each_question_s_power_scaling(
    two_factions: ModelSpec,
    survived: EvidenceSet,
    fitted: Callable[[ModelSpec, EvidenceSet, FitSettings], Posterior],
) -> None:
    """The probabilities and log-likelihood an Updater keeps (whole arrays, 4000 draws) give
    the power-scaling computed from scratch, block by block."""
    posterior = fit_of(fitted, two_factions, survived)
    draws, updater = posterior.flat_draws(), Updater(posterior)
    got = forecast_sensitivity(two_factions, draws, updater.per_draw(survived),
                               updater.log_likelihood(survived))  # fmt: skip
    data = model_data(two_factions, survived)
    per_draw = probabilities(two_factions, data, draws)
    lp, ll = log_prior(two_factions, draws), log_likelihood(two_factions, data, draws)
    assert got.keys() == set(two_factions.questions)
    for qid, s in got.items():
        assert s.prior == pytest.approx(power_scaling(per_draw[qid], lp), rel=1e-9)
        assert s.likelihood == pytest.approx(power_scaling(per_draw[qid], ll), rel=1e-9)
