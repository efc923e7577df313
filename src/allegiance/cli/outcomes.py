"""Commands: ``allegiance resolve | resolutions``: what happened, on record."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.cli.evidence import open_model
from allegiance.cli.output import score_table
from allegiance.cli.shared import (
    FIT,
    AuthorOpt,
    ChainsOpt,
    DrawsOpt,
    LedgerOpt,
    ModelArg,
    SchedulerOpt,
    SeedOpt,
    TargetAcceptOpt,
    TuneOpt,
    WorkersOpt,
    add_row,
    app,
    check_out_folder,
    fit_settings,
    parse_date,
    plain,
    shown,
    user_errors,
)

if TYPE_CHECKING:
    from allegiance.update import ReplayStep


@app.command()
def resolve(
    model: ModelArg,
    question: str,
    outcome: Annotated[str, typer.Argument(help="yes or no.")],
    date: Annotated[str, typer.Option(help="When it resolved (YYYY-MM-DD).")],
    source: Annotated[str, typer.Option(help="Where the outcome is on record.")],
    grade: Annotated[str, typer.Option(help="Admiralty grade of the source.")] = "B2",
    note: Annotated[str, typer.Option(help="Free-text note.")] = "",
    author: AuthorOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Record how a question resolved (append-only; retract it like any evidence item)."""
    from allegiance.evidence import Item
    from allegiance.ledger.authors import author_of

    when = parse_date(date, "--date")
    assert when is not None
    with user_errors():
        _, book = open_model(model, ledger)
        item = Item(
            id=f"resolve_{question}_{secrets.token_hex(4)}",
            kind="resolution",
            date=when,
            source=source,
            grade=grade,
            fields={"question": question, "outcome": outcome},
            note=note,
            author=author_of(author),
        )
        (stored,) = book.append([item])
    word = "yes" if stored.fields["outcome"] else "no"
    typer.echo(f"resolved {plain(question)}: {word} on {when} ({stored.id})")


@app.command()
def resolutions(
    model: ModelArg,
    as_of: Annotated[str | None, typer.Option(help="As the record stood on this date.")] = None,
    ledger: LedgerOpt = None,
) -> None:
    """List the questions the record resolves: outcome, date and the item that says so."""
    from allegiance.evidence import in_force
    from allegiance.evidence.outcomes import resolutions as resolved

    when = parse_date(as_of, "--as-of")
    with user_errors():
        spec, book = open_model(model, ledger)
    found = resolved(spec, in_force(book.items(), when))
    table = Table(title=f"Resolutions: {shown(spec.id)}" + (f" as of {when}" if when else ""))
    for name in ("question", "horizon", "outcome", "on", "source", "item"):
        table.add_column(name)
    for qid, question in spec.questions.items():
        r = found.get(qid)
        open_ = "open" if question.horizon >= (when or dt.date.today()) else "unresolved"
        if r is None:
            add_row(table, qid, question.horizon.isoformat(), open_, "", "", "")
        else:
            add_row(
                table,
                qid,
                question.horizon.isoformat(),
                r.word,
                r.date.isoformat(),
                r.source,
                r.item_id,
            )
    Console().print(table)


@app.command()
def score(
    model: ModelArg,
    plots: Annotated[
        Path | None, typer.Option(help="Write calibration.png and discrimination.png here.")
    ] = None,
    ledger: LedgerOpt = None,
) -> None:
    """Score every recorded forecast of every resolved question, beside the baselines."""
    from allegiance.workflow.scoring import MODEL
    from allegiance.workflow.scoring import score as scored

    with user_errors():
        spec, book = open_model(model, ledger)
        result = scored(spec, book)
    questions = len({p.question for p in result.pairs})
    table = Table(
        title=f"Scores: {spec.id}, {len(result.pairs)} forecasts of {questions} resolved "
        "questions, each made before its outcome was on record"
    )
    score_table(table, result)
    out = Console()
    out.print(table)
    if MODEL not in result.forecasters:
        typer.echo(
            "no forecast of the model was recorded before an outcome: no calibration to show"
        )
        return
    bins = Table(title="Calibration of the model (forecasts per band of probability)")
    for name in ("band", "forecasts", "mean forecast", "observed frequency"):
        bins.add_column(name)
    for b in result.calibration():
        add_row(bins,
            f"{b.lower:.0%}–{b.upper:.0%}", str(b.count), f"{b.mean_forecast:.0%}",
            f"{b.frequency:.0%}",
        )  # fmt: skip
    out.print(bins)
    if plots is not None:
        from allegiance.report import score_figures

        for path in score_figures(result, plots):
            typer.echo(f"wrote {plain(path)}")


@app.command()
def backtest(
    model: ModelArg,
    start: Annotated[str, typer.Option("--from", help="First as-of date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last as-of date (YYYY-MM-DD).")],
    every: Annotated[str, typer.Option(help="month or week.")] = "month",
    out: Annotated[Path, typer.Option(help="Folder for backtest.csv, .json and figures.")] = Path(
        "backtest"
    ),
    ledger: LedgerOpt = None,
    evidence: Annotated[
        list[Path] | None,
        typer.Option(
            help="Replay the items of these files (repeat the option) instead of the ledger, "
            "e.g. the shipped evidence and a record of what happened."
        ),
    ] = None,
    questions: Annotated[
        list[str] | None,
        typer.Option(help="Score only these questions: a,b (or repeat the option)."),
    ] = None,
    seed: SeedOpt = FIT.seed,
    draws: DrawsOpt = FIT.draws,
    tune: TuneOpt = FIT.tune,
    chains: ChainsOpt = FIT.chains,
    target_accept: TargetAcceptOpt = FIT.target_accept,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Replay as-of, as-recorded forecasts and score them against the outcomes, with baselines.

    Each date's line (its method, Pareto k and time) goes to stderr; the scores to stdout.
    With --workers or --scheduler the replay and the baselines run side by side on Dask
    workers, and the dates' lines come when the replay is done.
    """
    from allegiance.cli.output import Steps
    from allegiance.report import write_backtest
    from allegiance.spec import load_spec
    from allegiance.workflow import record_of
    from allegiance.workflow.backtest import backtest as run
    from allegiance.workflow.backtest import chosen_questions, dates_between
    from allegiance.workflow.fanout import Fanout

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    assert first is not None and last is not None
    named = [q.strip() for given in questions or () for q in given.split(",")]
    settings = fit_settings(seed, draws, tune, chains, target_accept)
    with user_errors():  # everything refusable is refused before the ledger opens
        fanout = Fanout(workers, scheduler)
        dates = dates_between(first, last, every)
        check_out_folder(out)
        spec = load_spec(model)
        chosen_questions(spec, named)
        if evidence:
            items = record_of(spec, evidence)
        else:
            spec, book = open_model(model, ledger)
            items = book.items()
        with Steps(len(dates)) as step:

            def done(s: ReplayStep) -> None:
                k = "k=–" if math.isnan(s.pareto_k) else f"k={s.pareto_k:.2f}"
                step(f"{s.date}  {s.method:<10}  {k:<6}  {s.seconds:.1f} s")
                if s.date == dates[-1]:
                    step("scoring against the baselines", counts=False)

            result = run(spec, items, dates, settings, questions=named, on_step=done, fanout=fanout)
    table = Table(
        title=f"Backtest: {shown(spec.id)}, {len(dates)} dates from {first} to {last}, "
        f"{len(result.scores.pairs)} scored forecasts of {len(result.scores.resolved)} "
        f"question{'' if len(result.scores.resolved) == 1 else 's'}, "
        f"{sum(s.method == 'mcmc' for s in result.steps)} fits"
    )
    score_table(table, result.scores)
    Console().print(table)
    for path in write_backtest(result, out):
        typer.echo(f"wrote {plain(path)}")


@app.command()
def judge(
    model: ModelArg,
    question: str,
    probability: Annotated[float, typer.Argument(help="Your probability of yes, 0 to 1.")],
    date: Annotated[
        str | None, typer.Option(help="The day the judgment is as of (default: today).")
    ] = None,
    author: AuthorOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Record your own probability of a question; scores show it beside the model, pooled."""
    from allegiance.ledger.authors import author_of

    when = parse_date(date, "--date") or dt.date.today()
    who = author_of(author)
    with user_errors():
        _, book = open_model(model, ledger)
        book.record_judgment(question, probability, as_of=when, author=who)
    typer.echo(f"recorded {plain(who)}'s {probability:.0%} for {plain(question)} as of {when}")
