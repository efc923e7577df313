"""Priors from statements: each checked against scipy directly, not through the package."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from allegiance.errors import SpecError
from allegiance.spec.priors import (
    Prior,
    magnitude_prior,
    probability_prior,
    ratio_prior,
)

PATH = Path("model.yaml")
KEY = "conditions.c.prior"
TOL = 1e-6


def beta_of(prior: Prior) -> stats.rv_continuous:
    assert prior.family == "beta"
    return stats.beta(prior.params["alpha"], prior.params["beta"])


def log_ratio_of(prior: Prior) -> stats.rv_continuous:
    assert prior.family == "gamma"
    return stats.gamma(prior.params["alpha"], scale=1.0 / prior.params["beta"])


def mass(dist: stats.rv_continuous, lo: float, hi: float) -> float:
    return float(dist.cdf(hi) - dist.cdf(lo))


# --- probabilities ---------------------------------------------------------------------

STATEMENTS = [
    (0.3, 0.1, 0.6),
    (0.04, 0.01, 0.12),
    (0.75, 0.5, 0.92),
    (0.5, 0.2, 0.8),
    (0.9, 0.6, 0.99),
    (0.15, 0.04, 0.35),
]


@pytest.mark.parametrize(("p", "lo", "hi"), STATEMENTS)
def test_probability_statement_gives_beta_with_that_mean_and_90_percent_in_range(
    p: float, lo: float, hi: float
) -> None:
    prior = probability_prior({"probability": p, "range": [lo, hi]}, PATH, KEY)
    dist = beta_of(prior)
    assert abs(dist.mean() - p) < TOL
    assert abs(mass(dist, lo, hi) - 0.90) < TOL
    assert prior.statement == {"probability": p, "range": [lo, hi]}


ICD_203 = [
    ("almost no chance", 0.01, 0.05),
    ("very unlikely", 0.05, 0.20),
    ("unlikely", 0.20, 0.45),
    ("roughly even chance", 0.45, 0.55),
    ("likely", 0.55, 0.80),
    ("very likely", 0.80, 0.95),
    ("almost certain", 0.95, 0.99),
]


@pytest.mark.parametrize(("word", "lo", "hi"), ICD_203)
def test_estimative_word_gives_beta_centred_in_its_icd203_band(
    word: str, lo: float, hi: float
) -> None:
    for node in (word, {"word": word}):
        dist = beta_of(probability_prior(node, PATH, KEY))
        assert abs(dist.mean() - (lo + hi) / 2) < TOL
        assert abs(mass(dist, lo, hi) - 0.90) < TOL


@st.composite
def probability_statements(draw: st.DrawFn) -> tuple[float, float, float]:
    p = draw(st.floats(0.02, 0.98))
    lo = p * draw(st.floats(0.05, 0.9))
    hi = p + (1.0 - p) * draw(st.floats(0.1, 0.95))
    return p, lo, hi


@settings(max_examples=40, deadline=None, database=None)
@given(probability_statements())
def test_any_valid_probability_statement_is_honoured(stmt: tuple[float, float, float]) -> None:
    p, lo, hi = stmt
    dist = beta_of(probability_prior({"probability": p, "range": [lo, hi]}, PATH, KEY))
    assert abs(dist.mean() - p) < TOL
    assert abs(mass(dist, lo, hi) - 0.90) < TOL


# --- ratios -----------------------------------------------------------------------------

RATIOS = [(3.0, 1.5, 8.0), (5.0, 2.0, 15.0), (1.8, 1.2, 3.0), (1.6, 1.1, 2.5), (4.0, 1.5, 12.0)]


@pytest.mark.parametrize(("r", "lo", "hi"), RATIOS)
def test_ratio_statement_gives_log_ratio_with_that_median_and_90_percent_in_range(
    r: float, lo: float, hi: float
) -> None:
    prior = ratio_prior({"ratio": r, "range": [lo, hi]}, PATH, KEY)
    dist = log_ratio_of(prior)
    assert abs(dist.median() - math.log(r)) < TOL
    assert abs(mass(dist, math.log(lo), math.log(hi)) - 0.90) < TOL
    assert prior.centre() == pytest.approx(r, rel=TOL)
    assert dist.cdf(0.0) == 0.0  # the size is positive: direction comes from the file


@pytest.mark.parametrize(
    ("word", "lo", "hi"),
    [
        ("weak", 1.1, 1.8),
        ("moderate", 1.5, 4.0),
        ("strong", 3.0, 10.0),
        ("very strong", 6.0, 30.0),
    ],
)
def test_strength_word_gives_log_ratio_with_geometric_midpoint_median(
    word: str, lo: float, hi: float
) -> None:
    dist = log_ratio_of(ratio_prior(word, PATH, KEY))
    assert abs(dist.median() - math.log(math.sqrt(lo * hi))) < TOL
    assert abs(mass(dist, math.log(lo), math.log(hi)) - 0.90) < TOL


@st.composite
def ratio_statements(draw: st.DrawFn) -> tuple[float, float, float]:
    r = draw(st.floats(1.1, 20.0))
    lo = 1.0 + (r - 1.0) * draw(st.floats(0.05, 0.9))
    hi = r * draw(st.floats(1.1, 5.0))
    return r, lo, hi


@settings(max_examples=25, deadline=None, database=None)
@given(ratio_statements())
def test_any_valid_ratio_statement_is_honoured(stmt: tuple[float, float, float]) -> None:
    r, lo, hi = stmt
    dist = log_ratio_of(ratio_prior({"ratio": r, "range": [lo, hi]}, PATH, KEY))
    assert abs(dist.median() - math.log(r)) < TOL
    assert abs(mass(dist, math.log(lo), math.log(hi)) - 0.90) < TOL


# --- magnitudes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "lo", "hi"), [(20, 5, 80), (80, 15, 400), (12, 3, 45), (0.3, 0.05, 1.5)]
)
def test_magnitude_statement_gives_lognormal_with_that_median_covering_the_range(
    m: float, lo: float, hi: float
) -> None:
    prior = magnitude_prior({"typical": m, "range": [lo, hi]}, PATH, KEY)
    assert prior.family == "lognormal"
    dist = stats.lognorm(prior.params["sigma"], scale=math.exp(prior.params["mu"]))
    assert dist.median() == pytest.approx(m, rel=TOL)
    q05, q95 = dist.ppf(0.05), dist.ppf(0.95)
    assert q05 <= lo * (1 + TOL) and q95 >= hi * (1 - TOL)
    # The wider side of the range (on the log scale) is matched exactly.
    wide_low = math.log(m / lo) >= math.log(hi / m)
    assert (q05 if wide_low else q95) == pytest.approx(lo if wide_low else hi, rel=TOL)


def test_symmetric_magnitude_range_is_the_90_percent_interval() -> None:
    prior = magnitude_prior({"typical": 20, "range": [5, 80]}, PATH, KEY)
    lo, hi = prior.interval()
    assert lo == pytest.approx(5, rel=TOL)
    assert hi == pytest.approx(80, rel=TOL)


# --- serialisation and description ------------------------------------------------------


def test_describe_reads_back_the_distribution() -> None:
    prior = Prior("beta", {"alpha": 2.0, "beta": 6.0})
    q05, q95 = stats.beta(2.0, 6.0).ppf([0.05, 0.95])
    assert (round(q05, 3), round(q95, 2)) == (0.053, 0.52)
    assert prior.describe() == "Beta(alpha=2, beta=6): mean 0.25, 90% in [0.053, 0.52]"
    ratio = ratio_prior({"ratio": 3, "range": [1.5, 8]}, PATH, KEY).describe()
    assert ratio.startswith("log-ratio ~ Gamma(") and "ratio median 3," in ratio


# --- malformed statements ---------------------------------------------------------------

BAD_PROBABILITIES = [
    (0.3, KEY, "expected a mapping or a word"),
    ({"range": [0.1, 0.6]}, KEY, "needs 'probability' and 'range', or 'word'"),
    ({"probability": "0.3", "range": [0.1, 0.6]}, f"{KEY}.probability", "expected a number"),
    ({"probability": True, "range": [0.1, 0.6]}, f"{KEY}.probability", "expected a number"),
    ({"probability": math.nan, "range": [0.1, 0.6]}, f"{KEY}.probability", "expected a number"),
    ({"probability": 0.0, "range": [0.1, 0.6]}, f"{KEY}.probability", "outside (0, 1)"),
    ({"probability": 1.3, "range": [0.1, 0.6]}, f"{KEY}.probability", "outside (0, 1)"),
    ({"probability": 0.3}, f"{KEY}.range", "expected a list of two numbers"),
    ({"probability": 0.3, "range": [0.1]}, f"{KEY}.range", "expected a list of two numbers"),
    (
        {"probability": 0.3, "range": [0.1, "1e-3"]},
        f"{KEY}.range",
        "expected a list of two numbers",
    ),
    ({"probability": 0.3, "range": [0.6, 0.1]}, f"{KEY}.range", "not below upper"),
    ({"probability": 0.3, "range": [0.0, 0.6]}, f"{KEY}.range", "must lie inside (0, 1)"),
    ({"probability": 0.3, "range": [0.4, 0.6]}, f"{KEY}.range", "around 0.3"),
    ({"probability": 0.3, "range": [0.2999, 0.3001]}, f"{KEY}.range", "no Beta has mean 0.3"),
    ({"word": "fairly likely"}, f"{KEY}.word", "unknown estimative word 'fairly likely'"),
    ({"probability": 0.3, "rnage": [0.1, 0.6]}, f"{KEY}.rnage", "unknown key"),
    ({"word": "likely", "probability": 0.05, "range": [0.1, 0.6]}, KEY, "stated twice"),
    ({"word": "likely", "range": [math.nan, math.inf]}, KEY, "stated twice"),
    ({"probability": 0.3, "range": [0.1, math.inf]}, f"{KEY}.range", "must be finite"),
    ({"probability": 0.3, "range": [math.nan, 0.6]}, f"{KEY}.range", "must be finite"),
]


@pytest.mark.parametrize(("node", "key", "fragment"), BAD_PROBABILITIES)
def test_malformed_probability_statement_is_a_spec_error(
    node: object, key: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as info:
        probability_prior(node, PATH, KEY)
    assert info.value.key == key
    assert fragment in info.value.problem
    assert str(PATH) in str(info.value)


BAD_RATIOS = [
    ({"ratio": 3, "range": [0.5, 8]}, f"{KEY}.range", "need 1 < lower < ratio < upper"),
    ({"ratio": 0.5, "range": [0.2, 0.8]}, f"{KEY}.ratio", "need 1 < lower < ratio < upper"),
    ({"ratio": 3, "range": [4, 8]}, f"{KEY}.range", "need 1 < lower < ratio < upper"),
    ({"ratio": 3, "range": [2.9999, 3.0001]}, f"{KEY}.range", "no prior has median ratio 3"),
    ({"probability": 0.3, "range": [0.1, 0.6]}, f"{KEY}.probability", "unknown key"),
    ({"range": [1.5, 8]}, KEY, "a strength needs 'ratio' and 'range'"),
    ({"word": "weak", "ratio": 3, "range": [1.5, 8]}, KEY, "stated twice"),
    ({"ratio": math.inf, "range": [1.5, 8]}, f"{KEY}.ratio", "expected a number"),
    ("huge", f"{KEY}.word", "unknown strength word 'huge'"),
]


@pytest.mark.parametrize(("node", "key", "fragment"), BAD_RATIOS)
def test_malformed_ratio_statement_is_a_spec_error(node: object, key: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        ratio_prior(node, PATH, KEY)
    assert info.value.key == key
    assert fragment in info.value.problem


BAD_MAGNITUDES = [
    ({"typical": 20, "range": [25, 80]}, f"{KEY}.range", "need 0 < lower < typical < upper"),
    ({"typical": 20, "range": [0, 80]}, f"{KEY}.range", "need 0 < lower < typical < upper"),
    ({"typical": -20, "range": [5, 80]}, f"{KEY}.typical", "need 0 < lower < typical < upper"),
    ({"range": [5, 80]}, f"{KEY}.typical", "expected a number"),
    ("many", KEY, "expected a mapping"),
    ({"typical": 20, "range": [5, 80], "median": 20}, f"{KEY}.median", "unknown key"),
    ({"word": "many"}, f"{KEY}.word", "unknown key"),
    ({"typical": 20, "range": [5, math.inf]}, f"{KEY}.range", "must be finite"),
    ({"typical": math.nan, "range": [5, 80]}, f"{KEY}.typical", "expected a number"),
]


@pytest.mark.parametrize(("node", "key", "fragment"), BAD_MAGNITUDES)
def test_malformed_magnitude_statement_is_a_spec_error(
    node: object, key: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as info:
        magnitude_prior(node, PATH, KEY)
    assert info.value.key == key
    assert fragment in info.value.problem
