"""Leave-one-theatre-out validation: each theatre backtested with what the others teach.

Every theatre of a folder that has a question grid is held out in turn. What
is learned across theatres is learned again without it: the climatology of
the others' grid questions (the share that resolved yes, by horizon), and the
reference classes pooled with what the others' records show of them (their
groups' months at risk and departures, counted only before the held-out
theatre's analysis date, so that no outside view uses what came later). Then
the held-out theatre is backtested (:func:`~allegiance.workflow.backtest.backtest`)
as of every month from its analysis date to its last horizon, as recorded,
beside every baseline, and its scores are kept by question origin. When every
theatre is held out, each one's model forecasts are also recalibrated
(:func:`~allegiance.forecast.scores.recalibration`, fitted to the *other*
theatres' grid forecasts and outcomes) and scored as one more forecaster. The
pooled scores put every theatre's pairs together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allegiance.errors import ScoreError
from allegiance.evidence import Item, in_force
from allegiance.evidence.outcomes import Resolution, departures, resolutions
from allegiance.forecast.scores import Recalibration, recalibration
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec, load_spec, months_between
from allegiance.spec.reference import Extra
from allegiance.spec.types import GRID, HAND
from allegiance.update import ReplayStep
from allegiance.workflow.backtest import Backtest, Part, backtests, dates_between
from allegiance.workflow.fanout import Fanout
from allegiance.workflow.forecasting import record_of
from allegiance.workflow.scoring import BASELINES, MODEL, Climatology, Scores, forecasters

RECORD_SUFFIXES = (".evidence.yaml", ".record.yaml")  # a theatre's files beside its model
RECALIBRATED = "model, recalibrated"
NAMED = [MODEL, RECALIBRATED, *BASELINES]


@dataclass(frozen=True)
class Theatre:
    """A model with a question grid, and the files of its record."""

    spec: ModelSpec
    records: tuple[Path, ...]


@dataclass(frozen=True)
class ScoreRow:
    """One forecaster's mean scores over one theatre's (or the pool's) questions of one origin."""

    theatre: str
    questions: str
    forecaster: str
    forecasts: int
    brier: float
    log: float


@dataclass
class Validation:
    """Each held-out theatre's backtest, and every pair pooled."""

    backtests: dict[str, Backtest]
    climatologies: dict[str, Climatology]
    pooled: Scores
    extras: dict[str, list[Extra]] = dataclasses.field(default_factory=dict)
    recalibrations: dict[str, Recalibration] = dataclasses.field(default_factory=dict)

    def rows(self) -> list[ScoreRow]:
        """Return the mean scores per theatre, then pooled; by question origin and forecaster.

        Origins with no scored pair are left out.
        """
        scored = [*((n, b.scores) for n, b in self.backtests.items()), ("pooled", self.pooled)]
        return [
            ScoreRow(name, origin, who, len(scores.of(who, origin)), m["brier"], m["log"])
            for name, scores in scored
            for origin in (GRID, HAND)
            if scores.of(MODEL, origin)
            for who in self.pooled.forecasters
            for m in [scores.mean(who, origin=origin)]
        ]


def theatres(folder: Path, only: Sequence[str] = ()) -> list[Theatre]:
    """Return the theatres of a folder: model files with a ``question_grid``, and their records.

    Raises
    ------
    ScoreError
        When fewer than two theatres have a grid, or ``only`` names one that is not there.
    """
    found = []
    for path in sorted(folder.glob("*.yaml")):
        if "." in path.stem:  # <id>.evidence.yaml and <id>.record.yaml are records
            continue
        spec = load_spec(path)
        if not any(q.origin == GRID for q in spec.questions.values()):
            continue
        records = [path.with_name(path.stem + s) for s in RECORD_SUFFIXES]
        found.append(Theatre(spec, tuple(p for p in records if p.exists())))
    names = [t.spec.id for t in found]
    for name in only:
        if name not in names:
            raise ScoreError(
                f"{name!r} is not a theatre with a question grid in {folder}: "
                + (", ".join(names) or "there is none")
                + "."
            )
    if len(found) < 2:
        raise ScoreError(
            f"{folder} has {len(found)} theatre(s) with a question_grid: leaving one out needs "
            "at least two. Add a question_grid to the model files."
        )
    return found


def grid_outcomes(spec: ModelSpec, items: Sequence[Item]) -> dict[str, Resolution]:
    """Return the resolved grid questions of a theatre's record."""
    return {
        q: r
        for q, r in resolutions(spec, in_force(items)).items()
        if spec.questions[q].origin == GRID
    }


def climatology(others: Sequence[tuple[Theatre, Sequence[Item]]]) -> Climatology:
    """Return the share of the others' resolved grid questions that resolved yes, by horizon.

    Raises
    ------
    ScoreError
        When none of the others has a resolved grid question.
    """
    yes: dict[int, int] = {}
    asked: dict[int, int] = {}
    for theatre, items in others:
        for qid, outcome in grid_outcomes(theatre.spec, items).items():
            months = theatre.spec.questions[qid].horizon_months
            asked[months] = asked.get(months, 0) + 1
            yes[months] = yes.get(months, 0) + outcome.outcome
    if not asked:
        raise ScoreError("no other theatre has a resolved grid question: no climatology.")
    return Climatology(
        {m: yes[m] / asked[m] for m in sorted(asked)}, sum(yes.values()) / sum(asked.values())
    )


def validate(
    folder: Path,
    settings: FitSettings | None = None,
    *,
    only: Sequence[str] = (),
    every: str = "month",
    on_step: Callable[[str, ReplayStep], None] | None = None,
    fanout: Fanout | None = None,
) -> Validation:
    """Hold out each theatre in turn, learn from the others, and backtest it.

    Parameters
    ----------
    folder : Path
        Model files and their records (``<id>.evidence.yaml``, ``<id>.record.yaml``).
    settings : FitSettings, optional
        Settings of every fit.
    only : sequence of str, optional
        Hold out only these theatres (the others still teach).
    every : {"month", "week"}
    on_step : callable, optional
        Called with the theatre's id after each of its dates.
    fanout : Fanout, optional
        Run the theatres' backtests (each its replay and its baselines) on Dask
        workers; the numbers are those of a run in this process.
    """
    settings = settings or FitSettings()
    loaded = [(t, record_of(t.spec, list(t.records))) for t in theatres(folder, only)]
    climates, extras, parts = {}, {}, []
    for theatre, items in loaded:
        spec = theatre.spec
        if only and spec.id not in only:
            continue
        others = [x for x in loaded if x[0] is not theatre]
        climates[spec.id] = climatology(others)
        extras[spec.id] = [
            e for t, i in others for e in class_counts(t.spec, i, spec.analysis_date)
        ]
        last = max(q.horizon for q in spec.questions.values())
        dates = dates_between(spec.analysis_date, last, every)
        parts.append(
            Part(spec, tuple(items), tuple(dates), settings, (), climates[spec.id],
                 tuple(extras[spec.id]))
        )  # fmt: skip
    done = backtests(parts, fanout, on_step)
    results = {part.spec.id: result for part, result in zip(parts, done, strict=True)}
    fitted = recalibrate(results) if not only else {}
    return Validation(results, climates, pooled(results), extras, fitted)


def recalibrate(backtests: dict[str, Backtest]) -> dict[str, Recalibration]:
    """Add to each theatre's pairs its model recalibrated on the other theatres' grids.

    Returns each theatre's recalibration (fitted without it).
    """
    out = {}
    for name, result in backtests.items():
        others = [
            p for n, b in backtests.items() if n != name for p in b.scores.pairs if p.origin == GRID
        ]
        fit = recalibration(
            np.array([p.forecasts[MODEL] for p in others]), np.array([p.outcome for p in others])
        )
        for pair in result.scores.pairs:
            pair.forecasts[RECALIBRATED] = float(fit(pair.forecasts[MODEL]))
        result.scores.forecasters = forecasters(result.scores.pairs, NAMED)
        out[name] = fit
    return out


def class_counts(spec: ModelSpec, items: Sequence[Item], until: dt.date) -> list[Extra]:
    """Return what a theatre's record shows of its hazards' reference classes before a date.

    Each actor at risk of a hazard with a class adds its months at risk from
    the analysis date to its departure on record, ``until``, or the theatre's
    last horizon, whichever comes first, and the departure if it came before
    ``until``.
    """
    record = in_force(items, until, as_recorded=True)
    gone = departures(record)
    end = min(until, max(q.horizon for q in spec.questions.values()))
    out = []
    for hazard in spec.propensities.values():
        if not hazard.reference_class:
            continue
        for actor in hazard.actors or ("",):
            left = gone.get((hazard.id, actor))
            event = left is not None and left.date <= end
            months = months_between(spec.analysis_date, left.date if event else end)
            if months > 0 or event:  # an event in the analysis month counts a month at risk
                out.append(Extra(hazard.reference_class, int(event), float(max(months, 1))))
    return out


def pooled(backtests: dict[str, Backtest]) -> Scores:
    """Return every theatre's pairs as one set, question ids prefixed with the theatre's."""
    pairs = [
        dataclasses.replace(p, question=f"{name}:{p.question}")
        for name, result in backtests.items()
        for p in result.scores.pairs
    ]
    resolved = {
        f"{name}:{q}": r
        for name, result in backtests.items()
        for q, r in result.scores.resolved.items()
    }
    return Scores(pairs, [w for w in NAMED if all(w in p.forecasts for p in pairs)], resolved)
