"""Backtests: as-of, as-recorded forecasts through time, scored against what happened.

The model is replayed (:func:`allegiance.update.replay`) as of each date, with
only what was on record that day. Every forecast of a question whose outcome
came after that date is scored beside the baselines (0.5, prior only, time
only) on exactly the same question–date pairs, as :mod:`~allegiance.workflow.scoring`
scores recorded forecasts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from allegiance.errors import ScoreError
from allegiance.evidence import Item, in_force
from allegiance.evidence.outcomes import resolutions
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec
from allegiance.update import ReplayStep, replay
from allegiance.workflow.scoring import BASELINES, MODEL, Pair, Scores, add_baselines


@dataclass
class Backtest:
    """A replay through time and its scores."""

    steps: list[ReplayStep]
    scores: Scores


def dates_between(start: dt.date, end: dt.date, every: str = "month") -> list[dt.date]:
    """Return the as-of dates from ``start`` to ``end``: every ``month`` or ``week``."""
    if every not in ("month", "week"):
        raise ScoreError(f"--every {every!r}: use month or week.")
    out, when, k = [], start, 0
    while when <= end:
        out.append(when)
        k += 1
        if every == "week":
            when = start + dt.timedelta(weeks=k)
        else:
            total = start.month - 1 + k
            when = dt.date(start.year + total // 12, total % 12 + 1, min(start.day, 28))
    return out


def backtest(
    spec: ModelSpec,
    items: Sequence[Item],
    dates: Sequence[dt.date],
    settings: FitSettings | None = None,
    *,
    on_step: Callable[[ReplayStep], None] | None = None,
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
        Settings of every fit.
    on_step : callable, optional
        Called after each date (a progress bar).

    Raises
    ------
    ScoreError
        When no question is resolved after one of the dates.
    """
    settings = settings or FitSettings()
    outcomes = resolutions(spec, in_force(items))
    if not outcomes:
        raise ScoreError(f"no question of {spec.id!r} is resolved on record: nothing to score.")
    steps = replay(spec, items, dates, settings, as_recorded=True, on_step=on_step)
    pairs = [
        Pair(q.id, step.date, outcomes[q.id].outcome, {MODEL: q.probability})
        for step in steps
        for q in step.forecast.questions
        if q.id in outcomes and step.date < outcomes[q.id].date and q.probability is not None
    ]
    if not pairs:
        raise ScoreError(
            "every resolved question resolved before the first date: nothing to score."
        )
    add_baselines(spec, list(items), pairs, settings)
    return Backtest(steps, Scores(pairs, [MODEL, *BASELINES], outcomes))
