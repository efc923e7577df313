"""Backtests: as-of, as-recorded forecasts through time, scored against what happened.

The model is replayed (:func:`allegiance.update.replay`) as of each date, with
only what was on record that day. Every forecast of a question whose outcome
came after that date is scored beside the baselines (0.5, prior only, time
only) on exactly the same question–date pairs, as :mod:`~allegiance.workflow.scoring`
scores recorded forecasts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from allegiance.errors import ScoreError
from allegiance.evidence import Item, in_force
from allegiance.evidence.outcomes import resolutions
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec
from allegiance.spec.reference import Extra
from allegiance.update import ReplayStep, replay
from allegiance.workflow.scoring import (
    BASELINES,
    MODEL,
    Climatology,
    Pair,
    Scores,
    add_baselines,
    forecasters,
)

MAX_DATES = 600  # a date takes seconds to minutes; a longer replay is a mistake more than a plan


@dataclass
class Backtest:
    """A replay through time and its scores."""

    steps: list[ReplayStep]
    scores: Scores
    settings: FitSettings = field(default_factory=FitSettings)


def dates_between(start: dt.date, end: dt.date, every: str = "month") -> list[dt.date]:
    """Return the as-of dates from ``start`` to ``end``: every ``month`` or ``week``.

    Raises
    ------
    ScoreError
        When ``every`` is neither, ``end`` is before ``start``, or there would be
        more than :data:`MAX_DATES` dates (counted before any is made).
    """
    if every not in ("month", "week"):
        raise ScoreError(f"--every {every!r}: use month or week.")
    if end < start:
        raise ScoreError(f"--from {start} is after --to {end}: swap them.")
    if every == "week":
        last = (end - start).days // 7
    else:  # the k-th date falls on day min(start.day, 28) of its month
        last = (end.year - start.year) * 12 + end.month - start.month
        if last > 0 and min(start.day, 28) > end.day:
            last -= 1
    if last + 1 > MAX_DATES:
        raise ScoreError(
            f"from {start} to {end} every {every} is {last + 1} dates; a backtest replays at "
            f"most {MAX_DATES}: "
            + ("replay every month (--every month) or " if every == "week" else "")
            + "give a shorter range (--from, --to)."
        )
    if every == "week":
        return [start + dt.timedelta(weeks=k) for k in range(last + 1)]
    return [start] + [
        dt.date(start.year + k // 12, k % 12 + 1, min(start.day, 28))
        for k in range(start.month, start.month + last)
    ]


def chosen_questions(spec: ModelSpec, ids: Collection[str] | None = None) -> list[str]:
    """Return the questions a backtest scores: those named, in the model's order, or all.

    Raises
    ------
    ScoreError
        Naming an id the model does not have, and the ones it has.
    """
    for qid in ids or ():
        if qid not in spec.questions:
            raise ScoreError(
                f"unknown question {qid!r}: {spec.id} asks "
                + ", ".join(spec.questions)
                + "; name those (--questions a,b)."
            )
    return [q for q in spec.questions if not ids or q in ids]


def backtest(
    spec: ModelSpec,
    items: Sequence[Item],
    dates: Sequence[dt.date],
    settings: FitSettings | None = None,
    *,
    questions: Collection[str] | None = None,
    on_step: Callable[[ReplayStep], None] | None = None,
    climatology: Climatology | None = None,
    extra: Sequence[Extra] = (),
) -> Backtest:
    """Replay the model as of each date, as recorded then, and score it against the outcomes.

    Parameters
    ----------
    spec : ModelSpec
    items : sequence of Item
        Everything on record, resolutions and retractions included (a ledger's items).
    dates : sequence of date
        As-of dates, oldest first.
    settings : FitSettings, optional
        Settings of every fit, the baselines' included.
    questions : collection of str, optional
        Score only these questions (see :func:`chosen_questions`); by default all.
    on_step : callable, optional
        Called after each date (a progress bar).
    climatology : Climatology, optional
        Other theatres' grid outcomes, scored as a baseline beside the others.
    extra : sequence of Extra, optional
        Other records' counts, added to the reference classes of that baseline.

    Raises
    ------
    ScoreError
        When a question is unknown, or none is resolved after one of the dates.
    """
    settings = settings or FitSettings()
    chosen = chosen_questions(spec, questions)
    outcomes = {q: r for q, r in resolutions(spec, in_force(items)).items() if q in chosen}
    if not outcomes:
        which = ", ".join(chosen) if questions else f"of {spec.id!r}"
        raise ScoreError(f"no question {which} is resolved on record: nothing to score.")
    steps = replay(spec, items, dates, settings, as_recorded=True, on_step=on_step)
    pairs = [
        Pair(q.id, step.date, outcomes[q.id].outcome, {MODEL: q.probability}, q.origin)
        for step in steps
        for q in step.forecast.questions
        if q.id in outcomes and step.date < outcomes[q.id].date and q.probability is not None
    ]
    if not pairs:
        raise ScoreError(
            "every resolved question resolved before the first date: nothing to score."
        )
    add_baselines(spec, list(items), pairs, settings, climatology, extra)
    scored = Scores(pairs, forecasters(pairs, [MODEL, *BASELINES]), outcomes)
    return Backtest(steps, scored, settings)
