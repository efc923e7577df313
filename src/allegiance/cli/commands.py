"""Commands: ``allegiance forecast | priors | check | history | explain``."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.cli.shared import (
    EXIT_UNTRUSTWORTHY,
    FIT,
    ChainsOpt,
    DrawsOpt,
    Format,
    FormatOpt,
    LedgerOpt,
    ModelArg,
    SeedOpt,
    TargetAcceptOpt,
    TuneOpt,
    add_row,
    app,
    err,
    fit_settings,
    note,
    parse_date,
    plain,
    refuse,
    shown,
    user_errors,
)
from allegiance.spec import MONTH_CONVENTION, ModelSpec, add_months, load_spec
from allegiance.spec.beliefs import stated, stated_beliefs


def _check_question(spec: ModelSpec, question: str) -> None:
    if question not in spec.questions:
        raise refuse(f"unknown question {question!r}; questions: " + ", ".join(spec.questions))


@app.command()
def forecast(
    model: ModelArg,
    evidence: Annotated[
        Path | None,
        typer.Option(help="Read evidence from this file (YAML or CSV) instead of the ledger."),
    ] = None,
    no_evidence: Annotated[
        bool, typer.Option(help="Ignore all evidence: prior forecasts.")
    ] = False,
    ledger: LedgerOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Use only evidence whose event date is on or before this date (YYYY-MM-DD)."
        ),
    ] = None,
    as_recorded: Annotated[
        bool, typer.Option(help="With --as-of, also leave out what was recorded after that date.")
    ] = False,
    seed: SeedOpt = FIT.seed,
    fmt: FormatOpt = Format.table,
    draws: DrawsOpt = FIT.draws,
    tune: TuneOpt = FIT.tune,
    chains: ChainsOpt = FIT.chains,
    target_accept: TargetAcceptOpt = FIT.target_accept,
    refit: Annotated[
        bool, typer.Option(help="Fit by MCMC even if a stored fit could serve.")
    ] = False,
    exact: Annotated[
        bool,
        typer.Option(
            help="Use a fit of exactly this evidence (stored or new), never a reweighted one."
        ),
    ] = False,
) -> None:
    """Print MODEL's forecasts given its evidence, fitting only when it must."""
    import sys

    from allegiance.cli.output import forecast_table
    from allegiance.workflow import evidence_in_force, forecast_and_record

    when = parse_date(as_of, "--as-of")
    if as_recorded and when is None:
        raise typer.BadParameter("--as-recorded needs --as-of.", param_hint="--as-recorded")
    warnings.simplefilter("ignore", FutureWarning)
    with user_errors():
        spec = load_spec(model)
        chosen = evidence_in_force(
            spec,
            evidence_file=evidence,
            ledger_url=ledger,
            as_of=when,
            as_recorded=as_recorded,
            none=no_evidence,
        )
        note(chosen.notes)
        ev, book = chosen.evidence, chosen.ledger
        if as_recorded and not ev.items and book is not None and book.items():
            first = min(i.recorded_at for i in book.items() if i.recorded_at is not None)
            err.print(
                f"[bold yellow]note:[/] no item was on record by {when}: this is the prior "
                f"forecast. The ledger's first item was recorded on {first.date()}.",
                highlight=False,
            )
        source = ev.path or (book.name if book else "none")
        err.print(
            f"model {spec.id} ({spec.sha256[:12]}), evidence {shown(source)}: "
            f"{len(ev.items)} items in force ({ev.sha256[:12]})"
            + (f", as of {when}" if when else "")
            + (" as recorded then" if as_recorded else ""),
            highlight=False,
        )
        past = [q.id for q in spec.questions.values() if q.horizon < dt.date.today()]
        if when is None and past:
            note(
                [
                    f"no --as-of: {len(past)} question(s) whose horizon is before today "
                    f"({', '.join(past[:3])}{', ...' if len(past) > 3 else ''}) are forecast "
                    "on the whole record; give --as-of DATE to forecast as of a day "
                    "(a question then past its horizon gets no probability)."
                ]
            )
        settings = fit_settings(seed, draws, tune, chains, target_accept)
        outcome = forecast_and_record(
            spec, ev, settings, book, as_of=when, as_recorded=as_recorded, refit=refit,
            exact=exact, progress=sys.stderr.isatty(),
        )  # fmt: skip
        note(outcome.notes)
        result = outcome.forecast
    if fmt is Format.json:
        typer.echo(result.to_json())
    elif fmt is Format.csv:
        typer.echo(result.to_csv(), nl=False)
    else:
        forecast_table(result)
    if not result.trustworthy:
        err.print(
            "[bold red]WARNING: the fit FAILED its sampling diagnostics ("
            + "; ".join(result.diagnostics.problems)
            + "). Do not use these numbers; refit with more draws or tuning.[/]"
        )
        raise typer.Exit(EXIT_UNTRUSTWORTHY)


@app.command()
def priors(model: ModelArg) -> None:
    """Show each prior as the analyst stated it and the distribution chosen for it."""
    with user_errors():
        spec = load_spec(model)
    table = Table(title=f"Priors: {shown(spec.id)}")
    for name in ("what", "stated", "chosen", "provenance"):
        table.add_column(name)
    for what, belief in stated_beliefs(spec):
        add_row(table, what, stated(belief), belief.prior.describe(), belief.provenance)
    Console().print(table)


@app.command()
def check(
    model: ModelArg,
    evidence: Annotated[Path | None, typer.Option(help="Evidence file to check too.")] = None,
) -> None:
    """Validate a model file (and an evidence file) without fitting anything."""
    from allegiance.evidence import read_items, shipped_evidence

    with user_errors():
        spec = load_spec(model)
        path = evidence or shipped_evidence(spec)
        items = read_items(path, spec) if path.exists() else []
        # What happened after the analysis date, beside the model: its own record.
        record = spec.path.with_name(f"{spec.path.stem}.record.yaml")
        known = read_items(record, spec) if record.exists() and record != path else []
    typer.echo(
        f"{plain(model)}: valid ({len(spec.conditions)} conditions, {len(spec.effects)} effects, "
        f"{len(spec.questions)} questions); evidence: {len(items)} items"
    )
    typer.echo(f"months: {MONTH_CONVENTION}.")
    for q in spec.questions.values():
        typer.echo(f"  {q.id}: {q.covers}")
    late = [q for q in spec.questions.values() if q.horizon.day != 1]
    note(
        [
            f"questions.{q.id}.horizon {q.horizon} does not cover {q.horizon:%B %Y}: "
            f"date it {add_months(q.horizon.replace(day=1), 1)} to include that month."
            for q in late
        ]
    )
    from allegiance.evidence import in_force
    from allegiance.evidence.conflicts import contradictions, hindsight
    from allegiance.forecast.counts import costly
    from allegiance.posterior import FitSettings
    from allegiance.spec.effects import shared_channels

    settings = FitSettings()
    note([*costly(spec, settings.draws * settings.chains), *contradictions(spec, in_force(items))])
    note(hindsight(spec, [*items, *known]))

    note(
        [
            f"{channel} is moved by effects of {' and '.join(conditions)}: its counts pin "
            "down their combined effect, not each one; only evidence on the conditions tells "
            "them apart (a fit that mixes poorly there: --target-accept 0.9)."
            for channel, conditions in shared_channels(spec).items()
        ]
    )


@app.command()
def history(
    model: ModelArg,
    question: str,
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.table,
    ledger: LedgerOpt = None,
) -> None:
    """Show every recorded forecast of one question, oldest first."""
    from allegiance.cli.output import history_table, history_text
    from allegiance.workflow import open_ledger

    with user_errors():
        spec = load_spec(model)
        opened = open_ledger(spec, ledger)
    note(opened.notes)
    _check_question(spec, question)
    rows = opened.ledger.history(question)
    if fmt is Format.table:
        history_table(question, rows)
    else:
        typer.echo(history_text(rows, fmt.value), nl=False)


@app.command()
def explain(
    model: ModelArg,
    question: str,
    evidence: Annotated[
        Path | None,
        typer.Option(help="Read evidence from this file (YAML or CSV) instead of the ledger."),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Evidence as of this date.")] = None,
    as_recorded: Annotated[bool, typer.Option(help="With --as-of: as recorded then.")] = False,
    top: Annotated[int, typer.Option(help="How many items to show.")] = 10,
    allow_refit: Annotated[
        bool, typer.Option(help="Refit when leaving an item out cannot be reweighted (slow).")
    ] = False,
    ledger: LedgerOpt = None,
    seed: SeedOpt = FIT.seed,
    draws: DrawsOpt = FIT.draws,
    tune: TuneOpt = FIT.tune,
    chains: ChainsOpt = FIT.chains,
    target_accept: TargetAcceptOpt = FIT.target_accept,
) -> None:
    """List the evidence items that moved one forecast most (leave one out, reweighted).

    The base is the fit a forecast of this evidence with these settings uses (a stored
    fit of exactly this evidence, else the latest stored fit if the weights pass, else a
    new fit, stored).
    """
    from allegiance.workflow import evidence_in_force
    from allegiance.workflow import explain as explained

    when = parse_date(as_of, "--as-of")
    settings = fit_settings(seed, draws, tune, chains, target_accept)
    warnings.simplefilter("ignore", FutureWarning)
    with user_errors():
        spec = load_spec(model)
        _check_question(spec, question)
        chosen = evidence_in_force(
            spec, evidence_file=evidence, ledger_url=ledger, as_of=when, as_recorded=as_recorded
        )
        note(chosen.notes)
        rows, used = explained(spec, chosen.evidence, question, settings, allow_refit=allow_refit)
        note(used.notes)
        method, why = used.forecast.method, used.forecast.method_reason
        note([f"base: {used.fit_path} ({method}: {why})"])
    from allegiance.cli.output import attribution_table

    Console().print(attribution_table(question, rows[:top], rows[0].with_item if rows else None))
