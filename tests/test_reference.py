"""Reference classes: the packaged table, the pooled rates, their priors and the baseline.

The pooling is checked against independent truths: with the hyperparameters
fixed, a class's rate is the conjugate Gamma in closed form; on the grid, the
integration over hyperparameters agrees with a Monte Carlo of the same model
within its error; and the survival baseline agrees with draws from the rate's
mixture.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from typer.testing import CliRunner

from allegiance.cli import app
from allegiance.errors import SpecError
from allegiance.forecast.reference import reference_forecast
from allegiance.spec import ModelSpec, Question, load_spec
from allegiance.spec.rates import RatePosterior
from allegiance.spec.reference import (
    ALPHA_RANGE,
    BOUND_FACTOR,
    BOUNDS,
    COLUMNS,
    MU_RANGE,
    Extra,
    Grid,
    ReferenceClass,
    class_prior,
    class_rate,
    fit,
    read_classes,
    reference_classes,
)
from helpers_spec import MODELS, ROOT, expect_error

CONTRACT = {
    "splinter_ucdp_all", "splinter_ucdp_2000_2015", "splinter_ucdp_islamist",
    "split_mmo_all", "merger_mmo_all", "alliance_mmo_all", "pledge_is_mmo",
    "split_mmo_syria", "merger_mmo_syria", "split_mmo_somalia", "merger_mmo_somalia",
    "end_rand_all", "end_rand_religious",
}  # fmt: skip
LATE = dt.date(2020, 1, 1)  # every class's period has ended
STATED = """    baseline:
      prior: {probability: 0.1, range: [0.03, 0.25]}
      rationale: Open splits are rare without a trigger.
      provenance: analyst judgment
  lobby:"""


def _row(ident: str, kind: str, bound: str, events: int, months: float) -> ReferenceClass:
    return ReferenceClass(ident, kind, "test", "any", 2000, 2010, events, months, bound, "c", "n")


def _model(tmp_path: Path, baseline: str, name: str = "minimal.yaml", date: str = "") -> Path:
    text = (MODELS / "minimal.yaml").read_text()
    assert STATED in text
    text = text.replace(STATED, "    baseline:\n" + baseline + "\n  lobby:")
    if date:
        text = text.replace("analysis_date: 2020-01-01", f"analysis_date: {date}")
    path = tmp_path / name
    path.write_text(text)
    return path


# -- the table ------------------------------------------------------------------------------


def test_the_packaged_table_is_found_and_every_row_is_cited_and_graded() -> None:
    text = resources.files("allegiance").joinpath("data/reference_classes.csv").read_text()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    classes = reference_classes()
    assert set(classes) == CONTRACT
    for row in classes.values():
        assert row.bound in BOUNDS and len(row.citation) > 40 and len(row.note) > 40
        assert 0 < row.events and 0 < row.group_months
        assert row.rate_per_year == pytest.approx(12 * row.events / row.group_months, rel=1e-12)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda t: t.replace("event_kind", "kind", 1), "(header)"),
        (lambda t: t.replace(",floor,", ",bottom,", 1), "rows[0].bound"),
        (lambda t: t.replace(",26,31884,", ",lots,31884,", 1), "rows[0].events"),
        (lambda t: t.replace("splinter_ucdp_2000_2015", "splinter_ucdp_all", 1), "rows[1].id"),
        (lambda t: t.replace(",1946,2015,26,", ",2015,1946,26,", 1), "rows[0].period_end"),
    ],
)
def test_a_bad_table_is_refused_naming_its_row(
    tmp_path: Path, change: Callable[[str], str], key: str
) -> None:
    text = resources.files("allegiance").joinpath("data/reference_classes.csv").read_text()
    path = tmp_path / "classes.csv"
    path.write_text(change(text))
    with pytest.raises(SpecError) as info:
        read_classes(path)
    assert info.value.key == key and info.value.fix and str(path) in str(info.value)


# -- the pooling against independent truths -------------------------------------------------


def test_with_fixed_hyperparameters_a_class_rate_is_the_conjugate_gamma() -> None:
    mu, alpha, u = 0.004, 3.0, 0.7
    grid = Grid((u,), (mu,), (alpha,))
    rows = (_row("a", "split", "estimate", 5, 900.0), _row("b", "split", "floor", 2, 400.0))
    pool = fit(rows, (), grid)
    for row, exposure in ((rows[0], 900.0), (rows[1], 400.0 * math.exp(-u))):
        truth = stats.gamma(alpha + row.events, scale=1.0 / (alpha / mu + exposure))
        rate = pool.rate(row.id)
        assert rate.mean() == pytest.approx(truth.mean(), rel=1e-12)
        for p in (0.05, 0.5, 0.95):
            assert rate.quantile(p) == pytest.approx(truth.ppf(p), rel=1e-8)
        chance = integrate.quad(lambda t, d=truth: (1 - math.exp(-12 * t)) * d.pdf(t), 0, np.inf)[0]
        assert rate.p_event(12) == pytest.approx(chance, rel=1e-7)


def _monte_carlo(
    rows: tuple[ReferenceClass, ...], target: str, n: int, seed: int
) -> dict[str, tuple[float, float]]:
    """The hierarchical model by brute force: hyperparameters drawn from their prior,
    each class's rate integrated in closed form (scipy's negative binomial)."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(0, math.log(BOUND_FACTOR), (2, n))
    offset = {"floor": -u[0], "ceiling": u[1], "estimate": np.zeros(n)}
    hyper = {
        k: (
            np.exp(rng.uniform(math.log(MU_RANGE[0]), math.log(MU_RANGE[1]), n)),
            np.exp(rng.uniform(math.log(ALPHA_RANGE[0]), math.log(ALPHA_RANGE[1]), n)),
        )
        for k in sorted({r.event_kind for r in rows})
    }
    log_w = np.zeros(n)
    for r in rows:
        mu, alpha = hyper[r.event_kind]
        exposure = r.group_months * np.exp(offset[r.bound])
        log_w += stats.nbinom.logpmf(r.events, alpha, alpha / (alpha + mu * exposure))
        if r.id == target:
            shape, rate = alpha + r.events, alpha / mu + exposure
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    values = {"mean": shape / rate, "p12": 1 - (rate / (rate + 12)) ** shape}
    out = {}
    for name, x in values.items():
        m = float(np.sum(w * x))
        out[name] = (m, float(np.sqrt(np.sum(w**2 * (x - m) ** 2))))
    return out


def test_the_grid_integration_agrees_with_a_monte_carlo_of_the_same_model() -> None:
    rows = (
        _row("a", "split", "estimate", 3, 300.0),
        _row("b", "split", "floor", 1, 200.0),
        _row("c", "split", "ceiling", 6, 150.0),
        _row("d", "merger", "ceiling", 4, 80.0),
        _row("e", "merger", "estimate", 2, 100.0),
    )
    pool = fit(rows)
    for seed, target in enumerate(("a", "b", "c", "d")):
        mc = _monte_carlo(rows, target, 400_000, seed)
        rate = pool.rate(target)
        for name, got in (("mean", rate.mean()), ("p12", rate.p_event(12))):
            m, se = mc[name]
            assert abs(got - m) < 4 * se, (target, name, got, m, se)


def test_a_class_with_little_exposure_is_pulled_further_to_its_kind() -> None:
    rows = (
        _row("few", "split", "estimate", 1, 100.0),  # 0.01 a month, from few group-months
        _row("many", "split", "estimate", 100, 10_000.0),  # 0.01 a month, from many
        *(_row(f"low{i}", "split", "estimate", 1, 1_000.0) for i in range(3)),  # 0.001
    )
    pool = fit(rows)
    kind = pool.kind_mean("split")
    few, many = pool.rate("few").mean(), pool.rate("many").mean()
    assert kind < many < 0.01 and few < many
    assert abs(few - kind) < abs(many - kind)


def test_floors_rise_and_ceilings_fall_within_their_bound() -> None:
    rows = (_row("lo", "split", "floor", 40, 4000.0), _row("hi", "split", "ceiling", 40, 4000.0))
    pool = fit(rows)
    raw = 40 / 4000.0
    floor, ceiling = pool.rate("lo"), pool.rate("hi")
    assert raw < floor.quantile(0.5) < BOUND_FACTOR * raw
    assert raw / BOUND_FACTOR < ceiling.quantile(0.5) < raw


def test_the_pool_uses_only_rows_ended_before_the_date_and_is_fitted_once() -> None:
    early, late = dt.date(2015, 6, 1), dt.date(2016, 6, 1)  # Bowden and Syria end in 2015
    before = class_rate("split_mmo_somalia", early)
    hits = fit.cache_info().hits
    again = class_rate("split_mmo_somalia", early)
    assert fit.cache_info().hits == hits + 1
    np.testing.assert_array_equal(before.weights, again.weights)
    assert class_rate("split_mmo_somalia", late).mean() != pytest.approx(before.mean(), rel=1e-3)
    with pytest.raises(KeyError):
        class_rate("split_mmo_syria", early)
    # a record's counts move the class, unless the class was not yet known
    record = Extra("split_mmo_syria", 30, 1_000.0)
    assert (
        class_rate("split_mmo_syria", late, [record]).mean()
        > class_rate("split_mmo_syria", late).mean() * 2
    )
    assert class_rate("split_mmo_somalia", early, [record]).mean() == before.mean()
    with pytest.raises(KeyError, match="unknown reference class 'split_elsewhere'"):
        class_rate("split_mmo_syria", late, [Extra("split_elsewhere", 1, 10.0)])


# -- the prior -------------------------------------------------------------------------------


def _mixture_draws(rate: RatePosterior, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i = rng.choice(rate.weights.size, n, p=rate.weights)
    return rng.gamma(rate.shapes[i], 1.0 / rate.rates[i])


def test_a_class_prior_is_the_beta_of_its_chance_within_the_window() -> None:
    date, within = dt.date(2016, 6, 1), 12
    prior = class_prior("split_mmo_syria", within, date)
    rate = class_rate("split_mmo_syria", date)
    chance = 1 - np.exp(-within * _mixture_draws(rate, 200_000, 1))
    lo, hi = np.quantile(chance, [0.05, 0.95])
    # the Beta has the chance's mean and 90 % of its mass between its 5 % and 95 % quantiles
    assert prior.family == "beta" and prior.centre() == pytest.approx(chance.mean(), rel=0.01)
    assert prior.frozen().cdf(hi) - prior.frozen().cdf(lo) == pytest.approx(0.9, rel=0.01)
    row = reference_classes()["split_mmo_syria"]
    assert prior.statement["counts"] == "8 events / 828 group-months"
    assert prior.statement["bound"] == row.bound and prior.statement["citation"] == row.citation


def test_an_adjustment_multiplies_the_rate(tmp_path: Path) -> None:
    block = (
        "      reference_class: split_mmo_all\n      adjust: {ratio: 3, range: [2.99, 3.01]}\n"
        "      rationale: Estranged.\n      provenance: analyst judgment"
    )
    spec = load_spec(_model(tmp_path, block))
    belief = spec.propensities["leave"].baselines["splinter"]
    rate = class_rate("split_mmo_all", spec.analysis_date)
    tripled = RatePosterior(rate.weights, rate.shapes, rate.rates / 3.0)
    assert belief.prior.centre() == pytest.approx(tripled.p_event(12), rel=1e-3)
    assert belief.rationale == "Estranged." and belief.provenance == "analyst judgment"
    assert belief.prior.statement["adjust"] == "ratio 3, range [2.99, 3.01]"


def test_priors_shows_the_class_counts_bound_and_citation(tmp_path: Path) -> None:
    model = _model(tmp_path, "      reference_class: split_mmo_syria", date="2016-06-01")
    result = CliRunner().invoke(app, ["priors", str(model)], env={"COLUMNS": "600"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "reference_class: split_mmo_syria" in said
    assert "counts: 8 events / 828 group-months" in said and "bound: ceiling" in said
    assert "Mapping Militant Organizations, Stanford University" in said
    assert "source: Martha Crenshaw et al." in said  # the provenance, when none is given


def test_per_actor_baselines_may_each_come_from_a_class(tmp_path: Path) -> None:
    text = (
        (MODELS / "minimal.yaml")
        .read_text()
        .replace(
            "    actors: [splinter]\n    within_months: 12\n" + STATED.split("  lobby:")[0],
            "    actors: [splinter, parent_group]\n    within_months: 12\n    baseline:\n"
            "      splinter: {reference_class: split_mmo_all}\n"
            "      parent_group: {reference_class: split_mmo_all}\n",
        )
    )
    path = tmp_path / "two.yaml"
    path.write_text(text)
    hazard = load_spec(path).propensities["leave"]
    assert hazard.reference_class == "split_mmo_all"
    assert set(hazard.baselines) == {"splinter", "parent_group"}


# -- the refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "key", "fragment"),
    [
        ("      reference_class: nowhere", "baseline.reference_class", "unknown reference class"),
        (
            "      reference_class: split_mmo_all\n      adjust: {ratio: 2, range: [1.2, 4]}",
            "baseline.rationale",
            "missing required key",
        ),
        (
            "      reference_class: split_mmo_all\n      adjust: {ratio: -2, range: [1.2, 4]}\n"
            "      rationale: r\n      provenance: analyst judgment",
            "baseline.adjust.ratio",
            "expected a number >= 0",
        ),
    ],
)
def test_a_bad_reference_baseline_is_refused(
    tmp_path: Path, block: str, key: str, fragment: str
) -> None:
    path = _model(tmp_path, block)
    expect_error(lambda: load_spec(path), SpecError, path, f"propensities.leave.{key}", fragment)


def test_a_class_not_yet_known_on_the_analysis_date_is_refused(tmp_path: Path) -> None:
    path = _model(tmp_path, "      reference_class: split_mmo_syria", date="2015-06-01")
    err = expect_error(
        lambda: load_spec(path),
        SpecError,
        path,
        "propensities.leave.baseline.reference_class",
        "ends after the analysis date 2015-06-01",
    )
    assert "split_mmo_somalia" in err.fix and "split_mmo_syria" not in err.fix


def test_a_hazard_naming_another_class_than_its_baseline_is_refused(tmp_path: Path) -> None:
    path = _model(tmp_path, "      reference_class: split_mmo_all")
    text = path.read_text().replace(
        "    within_months: 12\n", "    within_months: 12\n    reference_class: merger_mmo_all\n"
    )
    path.write_text(text)
    expect_error(
        lambda: load_spec(path),
        SpecError,
        path,
        "propensities.leave.reference_class",
        "its baseline draws on split_mmo_all",
    )


# -- the baseline forecaster -----------------------------------------------------------------


@pytest.fixture
def exits_spec(tmp_path: Path) -> ModelSpec:
    path = tmp_path / "exits.yaml"
    shutil.copy(MODELS / "exits.yaml", path)
    text = path.read_text().replace(
        "    actors: [splinter]\n    baseline:",
        "    actors: [splinter]\n    reference_class: split_mmo_all\n    baseline:",
    )
    path.write_text(text)
    return load_spec(path)


def test_the_single_gamma_survival_and_chance_match_quadrature() -> None:
    a, b, t, horizon, share = 4.0, 500.0, 7.0, 24.0, 0.3
    rate = RatePosterior(np.array([1.0]), np.array([a]), np.array([b]))
    prior = stats.gamma(a, scale=1 / b)
    survived = rate.survived(2 * t)

    def joint(f: Callable[[float], float]) -> float:
        return integrate.quad(lambda x: f(x) * math.exp(-2 * t * x) * prior.pdf(x), 0, np.inf)[0]

    def miss(x: float) -> float:
        return 1 - (1 - share + share * math.exp(-x * (horizon - t))) ** 2

    assert survived.p_event(horizon - t, 2, share) == pytest.approx(
        joint(miss) / joint(lambda x: 1.0), rel=1e-7
    )


def test_the_baseline_agrees_with_draws_and_falls_as_months_pass(exits_spec: ModelSpec) -> None:
    question = exits_spec.questions["joins_rival_12m"]
    rate = class_rate("split_mmo_all", exits_spec.analysis_date)
    draws = _mixture_draws(rate, 400_000, 7)
    share = 0.2  # the rival's stated share, of shares adding up to one
    two = Question("any", "any_event", "", "", question.horizon, question.horizon_months,
                   {"hazard": "leave", "actors": ("splinter", "splinter")})  # fmt: skip
    pair = dataclasses.replace(question, fields={**question.fields, "actors": ("a", "b")})
    for t in (0, 5):
        keep = np.exp(-2 * t * draws)  # survival of two groups weighs each draw
        left = question.horizon_months - t
        for q, miss in (
            (two, np.exp(-2 * draws * left)),
            (pair, (1 - share + share * np.exp(-draws * left)) ** 2),
        ):
            truth = np.sum(keep * (1 - miss)) / np.sum(keep)
            assert reference_forecast(exits_spec, q, t) == pytest.approx(truth, rel=0.01)
    chances = [reference_forecast(exits_spec, question, t) for t in range(13)]
    assert all(x > y for x, y in zip(chances[:-1], chances[1:], strict=False))
    assert chances[-1] == 0.0


def test_the_baseline_says_nothing_where_it_cannot(tmp_path: Path) -> None:
    spec = load_spec(MODELS / "minimal.yaml")
    assert spec.propensities["leave"].reference_class == ""
    assert reference_forecast(spec, spec.questions["splinter_leaves_12m"], 0) is None
    spec = load_spec(_model(tmp_path, "      reference_class: split_mmo_all"))
    assert reference_forecast(spec, spec.questions["defections_double_6m"], 0) is None
    assert reference_forecast(spec, spec.questions["splinter_leaves_12m"], 0) is not None


def test_a_theatres_grid_questions_get_the_baseline(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "models" / "syria_nusra_2016.yaml")
    assert spec.propensities["quits_nusra"].reference_class == "splinter_ucdp_islamist"
    assert spec.propensities["nusra_ahrar_fighting"].reference_class == ""

    def chance(name: str) -> float:
        p = reference_forecast(spec, spec.questions[name], 0)
        assert p is not None and 0.0 < p < 1.0
        return p

    for h in (6, 12, 24):
        one, every = chance(f"grid_quits_nusra_zenki_{h}m"), chance(f"grid_quits_nusra_any_{h}m")
        # three groups share one rate: more than one alone, less than three independent
        # (Jensen: E[X^3] >= E[X]^3 for X = exp(-rate x months))
        assert one < every <= 1 - (1 - one) ** 3
    assert chance("grid_quits_nusra_zenki_6m") < chance("grid_quits_nusra_zenki_24m")
    assert reference_forecast(spec, spec.questions["grid_nusra_ahrar_fighting_12m"], 0) is None
