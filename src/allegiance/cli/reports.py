"""Command: ``allegiance report``: a report an analyst can hand on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from allegiance.cli.output import Steps
from allegiance.cli.shared import (
    LedgerOpt,
    ModelArg,
    app,
    check_out_folder,
    note,
    parse_date,
    plain,
    user_errors,
)


@app.command()
def report(
    model: ModelArg,
    out: Annotated[Path, typer.Option(help="Folder for the report's files.")] = Path("report"),
    ledger: LedgerOpt = None,
    as_of: Annotated[str | None, typer.Option(help="The report's day (YYYY-MM-DD).")] = None,
    as_recorded: Annotated[
        bool, typer.Option(help="With --as-of, only what was on record that day.")
    ] = False,
    templates: Annotated[
        Path | None, typer.Option(help="A folder with your own report.md.j2 / report.html.j2.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Say what changed since the forecast as of this day, as recorded then."),
    ] = None,
    since_report: Annotated[
        bool, typer.Option(help="Say what changed since the last report of this ledger.")
    ] = False,
) -> None:
    """Write MODEL's report: Markdown, self-contained HTML, PDF, figures, CSV and JSON."""
    from allegiance.report import write_report
    from allegiance.report.layout import report_templates
    from allegiance.spec import load_spec
    from allegiance.workflow.reporting import gather

    when = parse_date(as_of, "--as-of")
    if as_recorded and when is None:
        raise typer.BadParameter("--as-recorded needs --as-of.", param_hint="--as-recorded")
    if since is not None and since_report:
        raise typer.BadParameter("give --since or --since-report, not both.", param_hint="--since")
    # Before any work: where the report goes, and the templates it is written with.
    check_out_folder(out)
    with user_errors():
        report_templates(templates)
    with user_errors(), Steps() as step:
        data = gather(
            load_spec(model),
            ledger_url=ledger,
            as_of=when,
            as_recorded=as_recorded,
            since=parse_date(since, "--since"),
            since_report=since_report,
            progress=step,
        )
        step("writing the report (Markdown, HTML, PDF, figures)")
        skipped: list[str] = []
        files = write_report(data, out, template_dir=templates, notes=skipped)
    note([*data.notes, *skipped])
    figures = [p for p in files if p.parent.name == "figures"]
    for path in files:
        if path not in figures:
            typer.echo(f"wrote {plain(path)}")
    if figures:
        typer.echo(f"wrote {len(figures)} figures (PNG and SVG) in {plain(figures[0].parent)}")
    if not data.forecast.trustworthy:
        note(["the fit FAILED its sampling diagnostics: the report says so on its first lines."])
