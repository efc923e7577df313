"""Commands: ``allegiance scenario`` and ``sweep``: forecasts if some conditions were otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.cli.shared import (
    FIT,
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
    note,
    parse_date,
    plain,
    refuse,
    shown,
    user_errors,
)

if TYPE_CHECKING:
    from allegiance.workflow.sweep import Sweep


@app.command()
def scenario(
    model: ModelArg,
    name: Annotated[
        str | None, typer.Argument(help="A scenario named in the model file's 'scenarios'.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="condition=true|false (repeat for several)."),
    ] = None,
    observe: Annotated[
        bool,
        typer.Option(help="Condition on the setting as if observed, instead of setting it (do)."),
    ] = False,
    evidence: Annotated[
        Path | None, typer.Option(help="Read evidence from this file instead of the ledger.")
    ] = None,
    ledger: LedgerOpt = None,
    as_of: Annotated[str | None, typer.Option(help="As of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Print MODEL's forecasts as they stand and under a scenario, side by side.

    The scenario is NAME (declared in the model file), the --set conditions, or
    both (--set then changes the named setting).
    """
    from allegiance.spec import load_spec
    from allegiance.workflow import evidence_in_force
    from allegiance.workflow.scenarios import run_scenario

    with user_errors():
        spec = load_spec(model)
    setting: dict[str, bool] = {}
    mode = "observe" if observe else "do"
    if name is not None:
        if name not in spec.scenarios:
            known = ", ".join(spec.scenarios) or "none: add a 'scenarios' section"
            raise refuse(f"{model}: no scenario named {name!r} (the model's: {known}).")
        setting.update(spec.scenarios[name].setting)
        mode = "observe" if observe else spec.scenarios[name].mode
    elif not set_:
        raise refuse("name a scenario of the model file or give --set condition=true|false.")
    for pair in set_ or []:
        name, sep, value = pair.partition("=")
        if not sep or value.lower() not in ("true", "false"):
            raise refuse(f"--set {pair!r}: write condition=true or condition=false.")
        setting[name.strip()] = value.lower() == "true"
    when = parse_date(as_of, "--as-of")
    with user_errors():
        chosen = evidence_in_force(spec, evidence_file=evidence, ledger_url=ledger, as_of=when)
        note(chosen.notes)
        base, result = run_scenario(spec, chosen.evidence, setting, mode=mode)
    words = ", ".join(f"{c}={'true' if v else 'false'}" for c, v in setting.items())
    called = f"{name}: " if name else ""
    table = Table(title=shown(f"Scenario {called}{mode}({words}): {spec.id}"))
    for name in ("question", "as it stands", "scenario", "change"):
        table.add_column(name, justify="left" if name == "question" else "right")
    for a, b in zip(base.questions, result.questions, strict=True):
        if a.probability is None or b.probability is None:
            add_row(table, a.id, a.resolved or "–", b.resolved or "–", "")
            continue
        add_row(table, a.id, f"{a.probability:.0%}", f"{b.probability:.0%}",
                _points((b.probability - a.probability) * 100))  # fmt: skip
    Console().print(table)
    if not result.trustworthy:
        note(["FAILED checks: " + "; ".join(result.diagnostics.problems)])
        raise typer.Exit(3)


@app.command()
def sweep(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Model files, or folders of them.")
    ] = None,
    scenarios: Annotated[
        list[str] | None, typer.Option(help="Only these named scenarios: a,b.")
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option(
            help="One ledger database URL holding every theatre; default: each "
            "model's <model>.ledger.sqlite beside it."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Every theatre as of this date (YYYY-MM-DD).")
    ] = None,
    at_analysis: Annotated[
        bool, typer.Option(help="Each theatre as of its own analysis date.")
    ] = False,
    out: Annotated[Path, typer.Option(help="The table as CSV.")] = Path("sweep.csv"),
    seed: SeedOpt = FIT.seed,
    draws: DrawsOpt = FIT.draws,
    tune: TuneOpt = FIT.tune,
    chains: ChainsOpt = FIT.chains,
    target_accept: TargetAcceptOpt = FIT.target_accept,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Run every named scenario of every theatre in PATHS (default: models/), side by side.

    Each theatre is fitted once to the evidence in force and its scenarios
    reweight that fit. With --workers or --scheduler the theatres run on Dask
    workers, one task each (the same numbers).
    """
    from allegiance.report.sweep import write_sweep
    from allegiance.workflow.fanout import Fanout
    from allegiance.workflow.sweep import sweep as run

    if as_of is not None and at_analysis:
        raise refuse("give --as-of or --at-analysis, not both.")
    when = parse_date(as_of, "--as-of")
    named = [n.strip() for given in scenarios or () for n in given.split(",") if n.strip()]
    settings = fit_settings(seed, draws, tune, chains, target_accept)
    with user_errors():
        fanout = Fanout(workers, scheduler)
        check_out_folder(out.parent)
        result = run(paths or [Path("models")], settings, names=named, ledger_url=ledger,
                     as_of=when, at_analysis=at_analysis, fanout=fanout)  # fmt: skip
    _print_sweep(result)
    typer.echo(f"wrote {plain(write_sweep(result, out))}")
    if not result.trustworthy:
        failed = sorted({r.theatre for r in result.rows() if not r.trustworthy})
        note(["FAILED sampling checks: " + ", ".join(failed) + " (flagged in the CSV)"])
        raise typer.Exit(3)


def _print_sweep(result: Sweep) -> None:
    """Print what a sweep left out and each theatre's notes on stderr, its table on stdout."""
    note([f"left out {line}" for line in result.skipped])
    for theatre in result.theatres:
        fit_s, scenarios_s = theatre.seconds
        said = f"forecast {fit_s:.1f} s, {len(theatre.scenarios)} scenario(s) {scenarios_s:.2f} s"
        note([f"{theatre.theatre}: {line}" for line in [*theatre.notes, said]])
    table = Table(title="Scenario sweep: each theatre as it stands and under each scenario")
    for name in ("theatre", "scenario", "question", "as it stands", "under it", "change"):
        table.add_column(name, justify="left" if name != "change" else "right")
    for r in result.rows():
        moved = "" if r.change is None else _points(r.change)
        add_row(table, r.theatre, r.scenario, r.question, _percent(r.stands, r.resolved),
                _percent(r.under, r.resolved), moved)  # fmt: skip
    Console(width=None if Console().is_terminal else 160).print(table)


def _percent(p: float | None, resolved: str) -> str:
    return resolved or "–" if p is None else f"{p:.0%}"


def _points(change: float) -> str:
    """Return a change in whole percentage points, signed; one that rounds to none is +0."""
    return f"{round(change):+d} pp"
