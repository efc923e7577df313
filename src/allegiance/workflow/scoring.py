"""Scoring the recorded forecasts of resolved questions, beside the baselines they must beat.

A recorded forecast is scored when its question is resolved and it was made
before the outcome was on record: its as-of date (or, without one, the day it
was made) is before the resolution's date. On exactly those question–date
pairs, every baseline is scored too:

- ``0.5``: the constant;
- ``prior only``: the model with no evidence at all;
- ``time only``: the model given nothing but the passing of time: for each
  actor at risk, the departure on record by that date, or that it had not
  left by then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from allegiance.errors import ScoreError
from allegiance.evidence import EvidenceSet, Item, in_force
from allegiance.evidence.outcomes import Resolution, departures, resolutions, time_passing
from allegiance.forecast.scores import CalibrationBin, calibration, pooled, scores
from allegiance.ledger import Ledger
from allegiance.ledger.history import ANALYST
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec

MODEL = "model"
POOLED = "pooled"
BASELINES = ("0.5", "prior only", "time only")


@dataclass(frozen=True)
class Pair:
    """One scored question–date pair: what each forecaster said, and what happened."""

    question: str
    date: dt.date
    outcome: bool
    forecasts: dict[str, float]


@dataclass
class Scores:
    """Scored pairs, and the means of each forecaster over them."""

    pairs: list[Pair]
    forecasters: list[str]  # each forecast at least one pair
    resolved: dict[str, Resolution] = field(default_factory=dict)

    def mean(self, forecaster: str, by: str = "pair") -> dict[str, float]:
        """Mean scores of one forecaster: over pairs, or first per question or per date.

        Parameters
        ----------
        forecaster : str
        by : {"pair", "question", "date"}
            ``question`` and ``date`` average within each question (date)
            first, so that a question forecast often does not weigh more.
        """
        mine = self.of(forecaster)
        p = np.array([x.forecasts[forecaster] for x in mine])
        y = np.array([x.outcome for x in mine])
        each = scores(p, y)
        if by == "pair":
            return {k: float(v.mean()) for k, v in each.items()}
        groups = [x.question if by == "question" else x.date for x in mine]
        keys = sorted(set(groups), key=str)
        index = np.array([keys.index(g) for g in groups])
        return {
            k: float(np.mean([v[index == i].mean() for i in range(len(keys))]))
            for k, v in each.items()
        }

    def of(self, forecaster: str) -> list[Pair]:
        """Return the pairs a forecaster forecast (baselines: all of them)."""
        return [x for x in self.pairs if forecaster in x.forecasts]

    def calibration(self, forecaster: str = MODEL, bins: int = 10) -> list[CalibrationBin]:
        """Return the reliability table of one forecaster over the pairs it forecast."""
        mine = self.of(forecaster)
        p = np.array([x.forecasts[forecaster] for x in mine])
        return calibration(p, np.array([x.outcome for x in mine]), bins)


def score(spec: ModelSpec, ledger: Ledger, settings: FitSettings | None = None) -> Scores:
    """Score every recorded forecast of every resolved question, with the baselines.

    Parameters
    ----------
    spec : ModelSpec
    ledger : Ledger
        Holds the forecast history, the resolutions and the record of departures.
    settings : FitSettings, optional
        Settings of the prior-only fit the baselines come from (stored and reused).

    Raises
    ------
    ScoreError
        When no question is resolved, or no forecast of one was recorded
        before it resolved.
    """
    items = ledger.items()
    resolved = resolutions(spec, in_force(items))
    if not resolved:
        raise ScoreError(
            f"{ledger.name}: no question of {spec.id!r} is resolved. Record outcomes with "
            "`allegiance resolve` first."
        )
    by_pair: dict[tuple[str, dt.date], Pair] = {}
    for qid, outcome in resolved.items():
        for row in ledger.history(qid):  # oldest first: the latest of a day counts
            when = row["as_of"] or row["created_at"].date()
            late = when >= outcome.date or when > spec.questions[qid].horizon
            if late or str(row["word"]).startswith("resolved"):
                continue
            who = ANALYST if row["fit_method"] == ANALYST else MODEL
            pair = by_pair.setdefault((qid, when), Pair(qid, when, outcome.outcome, {}))
            pair.forecasts[who] = float(row["probability"])
    pairs = sorted(by_pair.values(), key=lambda p: (p.date, p.question))
    if not pairs:
        raise ScoreError(
            f"{ledger.name}: no forecast of a resolved question was recorded before it "
            "resolved. Forecast as of earlier dates (forecast --as-of D --as-recorded)."
        )
    add_baselines(spec, items, pairs, settings or FitSettings())
    add_pooled(pairs, resolved)
    # Only who forecast something: a judgment of a day the model was not forecast is
    # scored, and pooled with nothing.
    named = [MODEL, ANALYST, POOLED, *BASELINES]
    return Scores(pairs, [w for w in named if any(w in p.forecasts for p in pairs)], resolved)


def add_pooled(pairs: list[Pair], resolved: dict[str, Resolution]) -> None:
    """Pool the model and the analyst wherever both forecast, weighted by their track record.

    ``logit p = a (w_m logit p_m + w_a logit p_a) / (w_m + w_a)``, with the
    extremising factor ``a`` = :data:`~allegiance.forecast.scores.EXTREMISE`
    and each weight ``1 / (0.05 + mean Brier)`` over the pairs of *other*
    questions whose outcome was on record before this pair's date (1 with no
    such record): the pool never uses an outcome it could not have known.
    """
    for pair in pairs:
        if not {MODEL, ANALYST} <= set(pair.forecasts):
            continue
        known = [
            p
            for p in pairs
            if p.question != pair.question and resolved[p.question].date < pair.date
        ]
        weights = []
        for who in (MODEL, ANALYST):
            past = [(p.forecasts[who] - p.outcome) ** 2 for p in known if who in p.forecasts]
            weights.append(1.0 / (0.05 + float(np.mean(past))) if past else 1.0)
        pair.forecasts[POOLED] = pooled([pair.forecasts[MODEL], pair.forecasts[ANALYST]], weights)


def add_baselines(
    spec: ModelSpec, items: list[Item], pairs: list[Pair], settings: FitSettings
) -> None:
    """Add each baseline's forecast to every pair (the prior-only fit is stored and reused)."""
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater
    from allegiance.workflow.forecasting import run_forecast

    # A fit of exactly no evidence (never another fit reweighted), as of the analysis
    # date: nothing is resolved or has passed yet.
    nothing = EvidenceSet.of([], as_of=spec.analysis_date)
    prior = run_forecast(spec, nothing, settings, exact=True)
    assert prior.forecast is not None and prior.fit_path is not None
    updater = Updater(load_posterior(prior.fit_path, spec, nothing), settings)
    at: dict[dt.date, dict[str, float]] = {}
    for pair in pairs:
        if pair.date not in at:
            survival = time_only_evidence(spec, items, pair.date)
            result = updater.forecast(survival, allow_refit=True)
            at[pair.date] = {q.id: q.probability for q in result.questions}
        pair.forecasts["0.5"] = 0.5
        pair.forecasts["prior only"] = next(
            q.probability for q in prior.forecast.questions if q.id == pair.question
        )
        pair.forecasts["time only"] = at[pair.date][pair.question]


def time_only_evidence(spec: ModelSpec, items: list[Item], when: dt.date) -> EvidenceSet:
    """Return the passing of time by ``when``: who had left (on record) and who had not."""
    record = in_force(items, when)
    left = list(departures(record).values())
    return EvidenceSet.of([*left, *time_passing(spec, record, when, every_hazard=True)], as_of=when)
