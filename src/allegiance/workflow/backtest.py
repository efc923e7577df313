"""Backtests: as-of, as-recorded forecasts through time, scored against what happened.

The model is replayed (:func:`allegiance.update.replay`) as of each date, with
only what was on record that day. Every forecast of a question whose outcome
came after that date is scored beside the baselines (0.5, prior only, time
only) on exactly the same question–date pairs, as :mod:`~allegiance.workflow.scoring`
scores recorded forecasts.

The replay and the baselines do not depend on each other: :func:`backtests`
runs them in this process, or as tasks on Dask workers (a
:class:`~allegiance.workflow.fanout.Fanout`), with the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from allegiance.errors import ScoreError
from allegiance.evidence import Item, in_force
from allegiance.evidence.outcomes import Resolution, resolutions
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec
from allegiance.spec.reference import Extra
from allegiance.update import ReplayStep, replay
from allegiance.workflow.fanout import Fanout
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


@dataclass(frozen=True)
class Part:
    """What one theatre's backtest depends on: a task, sent to a worker as it is.

    A backtest has two parts: the replay of its dates (:data:`REPLAY`, one
    after another, since each date starts from the fits before it) and the
    baselines of its scored dates (:data:`BASELINES_PART`: the prior-only fit
    and the time-only forecasts). Neither depends on the other, and each
    result depends on these fields only (the seed is the settings').
    """

    spec: ModelSpec
    items: tuple[Item, ...]
    dates: tuple[dt.date, ...]
    settings: FitSettings
    questions: tuple[str, ...]
    climatology: Climatology | None = None
    extra: tuple[Extra, ...] = ()

    def outcomes(self) -> dict[str, Resolution]:
        """Return the resolved questions the backtest scores."""
        chosen = chosen_questions(self.spec, self.questions)
        resolved = resolutions(self.spec, in_force(self.items)).items()
        return {q: r for q, r in resolved if q in chosen}


REPLAY = "replay"
BASELINES_PART = "baselines"
WHOLE = (REPLAY, BASELINES_PART)
Baselined = dict[tuple[str, dt.date], dict[str, float]]


def run_part(task: tuple[Part, tuple[str, ...]]) -> list[Any]:
    """Run a task of a backtest: the parts it names (see :class:`Part`), their results in order."""
    part, which = task
    return [_replayed(part) if w == REPLAY else baselines(part) for w in which]


def _replayed(part: Part, on_step: Callable[[ReplayStep], None] | None = None) -> list[ReplayStep]:
    return replay(
        part.spec, part.items, part.dates, part.settings, as_recorded=True, on_step=on_step
    )


def baselines(part: Part) -> Baselined:
    """Return every baseline's forecast of each resolved question at each date before it resolved.

    These are the dates the replay scores: a date at which the question's
    horizon has passed unresolved has no model forecast, and no baselines
    either (the time-only forecasts go on from the fits before them, so a
    date more would move them).
    """
    outcomes = part.outcomes()
    candidates = [
        Pair(q, when, r.outcome, {}, part.spec.questions[q].origin)
        for when in part.dates
        for q, r in outcomes.items()
        if when < r.date and not part.spec.questions[q].horizon < when
    ]
    if candidates:
        add_baselines(
            part.spec, list(part.items), candidates, part.settings, part.climatology, part.extra
        )
    return {(p.question, p.date): p.forecasts for p in candidates}


def backtests(
    parts: Sequence[Part],
    fanout: Fanout | None = None,
    on_step: Callable[[str, ReplayStep], None] | None = None,
) -> list[Backtest]:
    """Backtest each part: in this process, or its tasks fanned out (the same numbers).

    Parameters
    ----------
    parts : sequence of Part
    fanout : Fanout, optional
        Where the tasks run; by default here, one after another.
    on_step : callable, optional
        Called with the model's id and each step: as it is done when serial,
        after its replay returns when fanned out.

    Raises
    ------
    ScoreError
        When a part has no resolved question after one of its dates.
    """
    for part in parts:
        if not part.outcomes():
            which = ", ".join(part.questions) if part.questions else f"of {part.spec.id!r}"
            raise ScoreError(f"no question {which} is resolved on record: nothing to score.")
    if fanout is None or fanout.serial:
        results: list[Any] = []
        for part in parts:
            step = None if on_step is None else _named(part.spec.id, on_step)
            results += [_replayed(part, step), baselines(part)]
    else:
        # One backtest: its replay and its baselines on two workers. Several: a task per
        # theatre, so that a theatre's model is compiled by one worker only.
        split = [(part, (w,)) for part in parts for w in WHOLE]
        tasks = split if len(parts) == 1 else [(part, WHOLE) for part in parts]
        results = [r for out in fanout.run(run_part, tasks) for r in out]
        if on_step is not None:
            for part, steps in zip(parts, results[::2], strict=True):
                for s in steps:
                    on_step(part.spec.id, s)
    return [
        _scored(part, steps, baselined)
        for part, steps, baselined in zip(parts, results[::2], results[1::2], strict=True)
    ]


def _scored(part: Part, steps: list[ReplayStep], baselined: Baselined) -> Backtest:
    outcomes = part.outcomes()
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
    for pair in pairs:
        pair.forecasts.update(baselined[(pair.question, pair.date)])
    scored = Scores(pairs, forecasters(pairs, [MODEL, *BASELINES]), outcomes)
    return Backtest(steps, scored, part.settings)


def _named(name: str, on_step: Callable[[str, ReplayStep], None]) -> Callable[[ReplayStep], None]:
    return lambda step: on_step(name, step)


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
    fanout: Fanout | None = None,
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
    fanout : Fanout, optional
        Run the replay and the baselines side by side on Dask workers (the
        same numbers as in this process).

    Raises
    ------
    ScoreError
        When a question is unknown, or none is resolved after one of the dates.
    """
    settings = settings or FitSettings()
    chosen = chosen_questions(spec, questions)
    part = Part(
        spec, tuple(items), tuple(dates), settings,
        tuple(chosen) if questions else (), climatology, tuple(extra),
    )  # fmt: skip
    return backtests([part], fanout, None if on_step is None else _unnamed(on_step))[0]


def _unnamed(on_step: Callable[[ReplayStep], None]) -> Callable[[str, ReplayStep], None]:
    return lambda _, step: on_step(step)
