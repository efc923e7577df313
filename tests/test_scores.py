"""Scores against what happened: closed forms, calibration by simulation, loud failures."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from allegiance.errors import LedgerError, ScoreError
from allegiance.evidence import Item
from allegiance.forecast.scores import calibration, scores
from allegiance.ledger import Ledger, default_url
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec
from allegiance.workflow import evidence_in_force, run_forecast
from allegiance.workflow.scoring import score, time_only_evidence

SETTINGS = FitSettings(draws=500, tune=500)


def test_scores_have_their_closed_forms() -> None:
    half = scores(np.full(4, 0.5), np.array([1, 0, 1, 0]))
    assert np.allclose(half["brier"], 0.25) and np.allclose(half["brier2"], 0.5)
    assert np.allclose(half["log"], math.log(0.5))
    sure = scores(np.array([1.0, 0.0]), np.array([True, False]))
    assert np.all(sure["brier"] == 0) and np.all(sure["log"] == 0)
    wrong = scores(np.array([0.9]), np.array([False]))
    assert wrong["brier"][0] == pytest.approx(0.81) and wrong["log"][0] == pytest.approx(
        math.log(0.1)
    )


@pytest.mark.parametrize("bad", [[], [0.2, float("nan")], [1.2]])
def test_nothing_or_not_a_probability_is_refused(bad: list[float]) -> None:
    with pytest.raises(ScoreError):
        scores(np.array(bad), np.zeros(len(bad)))


def test_a_calibrated_forecaster_is_calibrated() -> None:
    """Outcomes drawn with the forecast probability: each band's frequency is its forecast."""
    rng = np.random.default_rng(4)
    p = rng.random(20000)
    y = rng.random(20000) < p
    table = calibration(p, y)
    assert sum(b.count for b in table) == p.size and len(table) == 10
    for b in table:
        se = math.sqrt(b.mean_forecast * (1 - b.mean_forecast) / b.count)
        assert abs(b.frequency - b.mean_forecast) < 4 * max(se, 1e-3), b
    overconfident = calibration(np.clip(2 * p - 0.5, 0, 1), y)
    assert overconfident[0].frequency > overconfident[0].mean_forecast + 0.05


def test_time_only_evidence_is_survival_or_the_departure_on_record(spec: ModelSpec) -> None:
    none = time_only_evidence(spec, [], dt.date(2020, 7, 15))
    (still,) = none.items
    assert still.kind == "no_event" and still.fields["through"] == "2020-07-15"
    assert time_only_evidence(spec, [], dt.date(2019, 12, 1)).items == ()
    left = Item(
        "left", "event", dt.date(2020, 3, 10), "press", "A1",
        {"hazard": "leave", "actor": "faction", "month": "2020-03"},
        recorded_at=dt.datetime(2020, 4, 2, 9, tzinfo=dt.UTC),
    )  # fmt: skip
    assert time_only_evidence(spec, [left], dt.date(2020, 7, 15)).items == (left,)
    assert time_only_evidence(spec, [left], dt.date(2020, 3, 1)).items[0].kind == "no_event"
    # As the record stood: the departure of 10 March was on record only from 2 April.
    (before,) = time_only_evidence(spec, [left], dt.date(2020, 3, 20)).items
    assert before.kind == "no_event" and before.fields["through"] == "2020-03-20"


def test_time_only_keeps_a_public_hazard_s_lag(spec: ModelSpec, tmp_path: Path) -> None:
    text = spec.path.read_text()
    lagged = tmp_path / "lagged" / spec.path.name
    lagged.parent.mkdir()
    lagged.write_text(
        text.replace(
            "    within_months: 1\n", "    within_months: 1\n    public_after_months: 2\n", 1
        )
    )
    from allegiance.spec import load_spec

    (still,) = time_only_evidence(load_spec(lagged), [], dt.date(2020, 7, 15)).items
    assert still.fields["through"] == "2020-05-15"


def test_score_recorded_forecasts_beside_the_baselines(spec: ModelSpec) -> None:
    ledger = Ledger(default_url(spec), spec)
    with pytest.raises(ScoreError, match="no question"):
        score(spec, ledger, SETTINGS)
    for day in ("2020-03-01", "2020-09-01"):
        when = dt.date.fromisoformat(day)
        chosen = evidence_in_force(spec, as_of=when, as_recorded=True)
        assert chosen.evidence is not None
        result = run_forecast(spec, chosen.evidence, SETTINGS).forecast
        assert result is not None
        ledger.record_forecast(result, as_of=when, as_recorded=True, fit_method=result.method)
    resolution = Item(
        "done", "resolution", dt.date(2022, 1, 5), "UN", "B2",
        {"question": "leaves_24m", "outcome": False},
    )  # fmt: skip
    ledger.append([resolution])
    result = score(spec, ledger, SETTINGS)
    assert [p.date for p in result.pairs] == [dt.date(2020, 3, 1), dt.date(2020, 9, 1)]
    assert result.forecasters == ["model", "0.5", "prior only", "time only", "reference class"]
    assert result.mean("0.5")["brier"] == pytest.approx(0.25)
    recorded = [r["probability"] for r in ledger.history("leaves_24m")]
    assert result.mean("model")["brier"] == pytest.approx(np.mean(np.square(recorded)))
    # With no evidence at all, the model is the prior; time only has survived months, and
    # (the event not having happened) forecasts lower, so it scores better than the prior.
    assert result.pairs[0].forecasts["model"] == pytest.approx(
        result.pairs[0].forecasts["prior only"]
    )
    assert result.pairs[1].forecasts["time only"] < result.pairs[1].forecasts["prior only"]
    assert result.mean("time only")["brier"] < result.mean("prior only")["brier"]
    # The analyst's own forecast, beside the model and pooled with it.
    with pytest.raises(LedgerError, match=r"not in \[0, 1\]"):
        ledger.record_judgment("leaves_24m", 1.5, as_of=dt.date(2020, 3, 1))
    with pytest.raises(LedgerError, match="unknown question"):
        ledger.record_judgment("nothing", 0.5, as_of=dt.date(2020, 3, 1))
    ledger.record_judgment("leaves_24m", 0.2, as_of=dt.date(2020, 3, 1), author="me")
    judged = score(spec, ledger, SETTINGS)
    assert judged.forecasters == [
        "model",
        "analyst",
        "pooled",
        "0.5",
        "prior only",
        "time only",
        "reference class",
    ]
    (both,) = judged.of("analyst")
    assert both.date == dt.date(2020, 3, 1) and both.forecasts["analyst"] == 0.2
    assert judged.of("pooled") == [both] and len(judged.of("model")) == 2
    assert judged.mean("analyst")["brier"] == pytest.approx(0.04)
    ledger.close()


def test_score_fails_loud_without_a_forecast_before_the_outcome(spec: ModelSpec) -> None:
    ledger = Ledger(default_url(spec), spec)
    ledger.append(
        [Item("won", "resolution", dt.date(2021, 5, 1), "UN", "B2",
              {"question": "leaves_24m", "outcome": True})]
    )  # fmt: skip
    with pytest.raises(ScoreError, match="no forecast of a resolved question"):
        score(spec, ledger, SETTINGS)
    ledger.close()


@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_the_interval_is_the_quantile_of_the_weighted_draws(q: float) -> None:
    """The headline interval's ends (weighted quantiles) against Beta(2, 5)'s closed form.

    Uniform draws weighted by Beta(2, 5)'s density stand for Beta(2, 5); equal weights on
    Beta(2, 5) draws too. The quantile's Monte Carlo error is sqrt(q (1 - q) / ESS) / f(x_q).
    """
    from scipy import stats

    from allegiance.forecast import weighted_quantiles

    truth = stats.beta(2, 5)
    rng = np.random.default_rng(11)
    n = 200_000
    x = rng.random(n)
    w = truth.pdf(x)
    w /= w.sum()
    ess = 1.0 / np.sum(w**2)
    se = math.sqrt(q * (1 - q) / ess) / truth.pdf(truth.ppf(q))
    (got,) = weighted_quantiles(x, w, [q])
    assert abs(got - truth.ppf(q)) < 4 * se
    draws = truth.rvs(size=n, random_state=rng)
    (plain,) = weighted_quantiles(draws, np.full(n, 1.0 / n), [q])
    assert abs(plain - truth.ppf(q)) < 4 * math.sqrt(q * (1 - q) / n) / truth.pdf(truth.ppf(q))


def test_pooling_extremises_the_weighted_log_odds() -> None:
    from scipy.special import expit, logit

    from allegiance.forecast.scores import EXTREMISE, pooled

    assert pooled([0.5, 0.5], [1, 1]) == pytest.approx(0.5)
    assert pooled([0.7, 0.7], [1, 1]) == pytest.approx(expit(EXTREMISE * logit(0.7)))
    assert pooled([0.9, 0.2], [3, 1]) == pytest.approx(
        expit(EXTREMISE * (3 * logit(0.9) + logit(0.2)) / 4)
    )


def test_the_pool_weighs_only_track_records_known_at_the_time() -> None:
    from scipy.special import expit, logit

    from allegiance.evidence.outcomes import Resolution
    from allegiance.forecast.scores import EXTREMISE
    from allegiance.workflow.scoring import Pair, add_pooled

    d = dt.date.fromisoformat
    resolved = {
        "a": Resolution("a", False, d("2020-06-01"), "s", "ra"),
        "b": Resolution("b", True, d("2021-01-01"), "s", "rb"),
    }
    early_a = Pair("a", d("2020-03-01"), False, {"model": 0.9, "analyst": 0.1})
    before = Pair("b", d("2020-05-01"), True, {"model": 0.6, "analyst": 0.4})
    after = Pair("b", d("2020-09-01"), True, {"model": 0.6, "analyst": 0.4})
    add_pooled([early_a, before, after], resolved)
    # Before a's outcome is known, no track record: equal weights.
    assert before.forecasts["pooled"] == pytest.approx(
        expit(EXTREMISE * (logit(0.6) + logit(0.4)) / 2)
    )
    # After it, the analyst (Brier 0.01 on a) outweighs the model (0.81).
    w_m, w_a = 1 / (0.05 + 0.81), 1 / (0.05 + 0.01)
    assert after.forecasts["pooled"] == pytest.approx(
        expit(EXTREMISE * (w_m * logit(0.6) + w_a * logit(0.4)) / (w_m + w_a))
    )
    assert after.forecasts["pooled"] < 0.5 < before.forecasts["pooled"] + 1e-12


def test_the_prior_baseline_is_a_fit_of_no_evidence_whatever_is_stored(spec: ModelSpec) -> None:
    """With only a fit of other evidence stored, the prior-only baseline is fitted, not borrowed."""
    ledger = Ledger(default_url(spec), spec)
    quiet = Item(
        "quiet", "no_event", dt.date(2020, 6, 1), "monitoring", "B2",
        {"hazard": "leave", "actor": "faction", "through": "2020-06-01"},
    )  # fmt: skip
    ledger.append([quiet])
    chosen = evidence_in_force(spec, as_of=dt.date(2020, 7, 1))
    assert chosen.evidence is not None and chosen.evidence.items
    result = run_forecast(spec, chosen.evidence, SETTINGS).forecast
    assert result is not None
    ledger.record_forecast(result, as_of=dt.date(2020, 7, 1), as_recorded=False, fit_method="mcmc")
    ledger.append(
        [Item("stayed", "resolution", dt.date(2022, 1, 5), "UN", "B2",
              {"question": "leaves_24m", "outcome": False})]
    )  # fmt: skip
    scored = score(spec, ledger, SETTINGS)
    (pair,) = scored.pairs
    assert pair.forecasts["prior only"] > pair.forecasts["model"]  # survival lowers the model
    ledger.close()


def test_scores_are_kept_by_question_origin() -> None:
    from allegiance.workflow.scoring import Pair, Scores

    rng = np.random.default_rng(9)
    pairs = [
        Pair(f"q{i % 7}", dt.date(2020, 1 + i % 12, 1), bool(rng.random() < 0.3),
             {"model": float(rng.random())}, "grid" if i % 3 else "hand")
        for i in range(60)
    ]  # fmt: skip
    s = Scores(pairs, ["model"])
    assert s.origins() == [None, "grid", "hand"]
    for origin in ("grid", "hand"):
        mine = [p for p in pairs if p.origin == origin]
        p = np.array([x.forecasts["model"] for x in mine])
        y = np.array([x.outcome for x in mine])
        assert s.mean("model", origin=origin)["brier"] == pytest.approx(np.mean((p - y) ** 2))
        assert sum(b.count for b in s.calibration("model", origin=origin)) == len(mine)
    assert Scores([p for p in pairs if p.origin == "hand"], ["model"]).origins() == [None]


@pytest.mark.parametrize(("a", "b"), [(-0.5, 0.7), (0.3, 1.4), (0.0, 1.0)])
def test_a_recalibration_recovers_the_logistic_map_that_made_the_outcomes(
    a: float, b: float
) -> None:
    from allegiance.forecast.scores import recalibration

    rng = np.random.default_rng(21)
    n = 100_000
    p = rng.beta(0.6, 1.5, n)
    z = np.log(np.clip(p, 1e-4, 1 - 1e-4) / (1 - np.clip(p, 1e-4, 1 - 1e-4)))
    truth = 1 / (1 + np.exp(-(a + b * z)))
    y = rng.random(n) < truth
    fit = recalibration(p, y)
    # Standard errors from the Fisher information at the truth, computed apart.
    x = np.column_stack([np.ones(n), z])
    se = np.sqrt(np.diag(np.linalg.inv((x * (truth * (1 - truth))[:, None]).T @ x)))
    assert abs(fit.a - a) < 5 * se[0] and abs(fit.b - b) < 5 * se[1], (fit, se)
    assert np.allclose(fit(p), 1 / (1 + np.exp(-(fit.a + fit.b * z))))
    with pytest.raises(ScoreError, match="both yes and no"):
        recalibration(p[:10], np.zeros(10, bool))
