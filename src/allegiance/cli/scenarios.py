"""Command: ``allegiance scenario``: the forecasts if some conditions were otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.cli.shared import (
    LedgerOpt,
    ModelArg,
    add_row,
    app,
    note,
    parse_date,
    refuse,
    shown,
    user_errors,
)


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
    from allegiance.workflow.reporting import run_scenario

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
                f"{(b.probability - a.probability) * 100:+.0f} pp")  # fmt: skip
    Console().print(table)
    if not result.trustworthy:
        note(["FAILED checks: " + "; ".join(result.diagnostics.problems)])
        raise typer.Exit(3)
