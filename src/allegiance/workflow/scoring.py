"""Scoring the recorded forecasts of resolved questions, beside the baselines they must beat.

A recorded forecast is scored when its question is resolved and it was made
before the outcome was on record: its as-of date (or, without one, the day it
was made) is before the resolution's date. On exactly those question–date
pairs, every baseline is scored too:

- ``0.5``: the constant;
- ``prior only``: the model with no evidence at all;
- ``time only``: the model given nothing but the passing of time: for each
  actor at risk, the departure on record by that date, or that it had not
  left by then (less the hazard's public lag), as the record stood that day;
- ``reference class``: the outside view alone: the rate of the hazard's
  reference class (:mod:`allegiance.forecast.reference`), updated only for
  the months survived on record (less the public lag); for a question on no
  hazard with a class, the prior only;
- ``climatology`` (when given): the share of grid questions that resolved yes
  in other theatres, by horizon.

Scores are kept by question origin too (:data:`~allegiance.spec.types.GRID`
questions, fixed in advance, and hand-picked ones).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from allegiance.errors import ScoreError
from allegiance.evidence import EvidenceSet, Item, in_force
from allegiance.evidence.outcomes import Resolution, departures, resolutions, time_passing
from allegiance.forecast.reference import reference_forecast
from allegiance.forecast.scores import CalibrationBin, calibration, pooled, scores
from allegiance.ledger import Ledger
from allegiance.ledger.history import ANALYST
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec, months_between
from allegiance.spec.reference import Extra
from allegiance.spec.types import GRID, HAND

MODEL = "model"
POOLED = "pooled"
BASELINES = ("0.5", "prior only", "time only", "reference class", "climatology")
CLIMATOLOGY = "climatology"
REFERENCE = "reference class"
ORIGINS = (None, GRID, HAND)  # every question, then by origin


@dataclass(frozen=True)
class Pair:
    """One scored question–date pair: what each forecaster said, and what happened."""

    question: str
    date: dt.date
    outcome: bool
    forecasts: dict[str, float]
    origin: str = HAND


@dataclass
class Scores:
    """Scored pairs, and the means of each forecaster over them."""

    pairs: list[Pair]
    forecasters: list[str]  # each forecast at least one pair
    resolved: dict[str, Resolution] = field(default_factory=dict)

    def mean(
        self, forecaster: str, by: str = "pair", origin: str | None = None
    ) -> dict[str, float]:
        """Mean scores of one forecaster: over pairs, or first per question or per date.

        Parameters
        ----------
        forecaster : str
        by : {"pair", "question", "date"}
            ``question`` and ``date`` average within each question (date)
            first, so that a question forecast often does not weigh more.
        origin : {None, "grid", "hand"}
            Only the questions of this origin (None: all).
        """
        mine = self.of(forecaster, origin)
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

    def of(self, forecaster: str, origin: str | None = None) -> list[Pair]:
        """Return the pairs a forecaster forecast (baselines: all of them), of one origin."""
        return [x for x in self.pairs if forecaster in x.forecasts and origin in (None, x.origin)]

    def origins(self) -> list[str | None]:
        """Return None (every pair) and each origin the pairs have, in :data:`ORIGINS` order."""
        have = {x.origin for x in self.pairs}
        return [o for o in ORIGINS if o is None or (o in have and len(have) > 1)]

    def calibration(
        self, forecaster: str = MODEL, bins: int = 10, origin: str | None = None
    ) -> list[CalibrationBin]:
        """Return the reliability table of one forecaster over the pairs it forecast."""
        mine = self.of(forecaster, origin)
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
            pair = by_pair.setdefault(
                (qid, when), Pair(qid, when, outcome.outcome, {}, spec.questions[qid].origin)
            )
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
    return Scores(pairs, forecasters(pairs, [MODEL, ANALYST, POOLED, *BASELINES]), resolved)


def forecasters(pairs: list[Pair], named: list[str]) -> list[str]:
    """Return the named forecasters that forecast at least one pair, in order."""
    return [w for w in named if any(w in p.forecasts for p in pairs)]


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


@dataclass(frozen=True)
class Climatology:
    """How often grid questions resolved yes elsewhere: by horizon (months), and overall."""

    by_horizon: dict[int, float]
    overall: float

    def of(self, months: int) -> float:
        """Return the share for a horizon of ``months`` (the overall share for another)."""
        return self.by_horizon.get(months, self.overall)


def add_baselines(
    spec: ModelSpec,
    items: list[Item],
    pairs: list[Pair],
    settings: FitSettings,
    climatology: Climatology | None = None,
    extra: Sequence[Extra] = (),
) -> None:
    """Add each baseline's forecast to every pair (the prior-only fit is stored and reused).

    ``extra`` adds other records' counts to the reference classes (a validation's
    other theatres).
    """
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater
    from allegiance.workflow.forecasting import run_forecast

    # A fit of exactly no evidence (never another fit reweighted), as of the analysis
    # date: nothing is resolved or has passed yet.
    nothing = EvidenceSet.of([], as_of=spec.analysis_date)
    prior = run_forecast(spec, nothing, settings, exact=True)
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
        outside = _outside_view(spec, pair, extra)
        pair.forecasts[REFERENCE] = pair.forecasts["prior only"] if outside is None else outside
        if climatology is not None:
            pair.forecasts[CLIMATOLOGY] = climatology.of(
                spec.questions[pair.question].horizon_months
            )


def _outside_view(spec: ModelSpec, pair: Pair, extra: Sequence[Extra]) -> float | None:
    """Return the reference class's forecast of a pair, after the months survived (less lag)."""
    question = spec.questions[pair.question]
    hazard = spec.propensities.get(question.fields.get("hazard", ""))
    lag = (hazard.public_after_months if hazard else None) or 0
    survived = max(months_between(spec.analysis_date, pair.date) - lag, 0)
    return reference_forecast(spec, question, survived, extra)


def time_only_evidence(spec: ModelSpec, items: list[Item], when: dt.date) -> EvidenceSet:
    """Return the passing of time by ``when``: who had left and who had not, as then recorded.

    A departure counts once it was on record (recorded by ``when``); no record
    of one is survival through ``when`` less the hazard's declared public lag
    (no lag for a hazard the model does not call public).
    """
    record = in_force(items, when, as_recorded=True)
    left = list(departures(record).values())
    return EvidenceSet.of([*left, *time_passing(spec, record, when, every_hazard=True)], as_of=when)
