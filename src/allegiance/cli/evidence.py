"""Commands: ``allegiance evidence add | list | show | retract | import | export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.cli.shared import (
    AuthorOpt,
    LedgerOpt,
    ModelArg,
    add_row,
    app,
    note,
    parse_date,
    plain,
    refuse,
    shown,
    user_errors,
)
from allegiance.spec import ModelSpec, load_spec

if TYPE_CHECKING:
    from allegiance.ledger import Ledger

evidence_app = typer.Typer(
    no_args_is_help=True, help="Add to, read and export the evidence ledger."
)
app.add_typer(evidence_app, name="evidence")


def open_model(model: Path, ledger: str | None) -> tuple[ModelSpec, Ledger]:
    """Load a model file and open its ledger (filled from the shipped evidence on first use)."""
    from allegiance.workflow import open_ledger

    spec = load_spec(model)
    opened = open_ledger(spec, ledger)
    note(opened.notes)
    return spec, opened.ledger


def _summary(fields: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in fields.items())


@evidence_app.command("add")
def evidence_add(
    model: ModelArg,
    item_id: Annotated[str, typer.Option("--id", help="A new, unique item id.")],
    kind: Annotated[
        str,
        typer.Option(
            help="condition, count, no_event, event, report, faction_event or retraction."
        ),
    ],
    date: Annotated[str, typer.Option(help="Event date, YYYY-MM-DD.")],
    source: Annotated[str, typer.Option(help="Where the information comes from.")],
    grade: Annotated[str, typer.Option(help="Admiralty grade: A-F then 1-6, e.g. B2.")],
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-f",
            help="A kind-specific field as key=value, e.g. -f target=isk_capacity (repeat).",
        ),
    ] = None,
    note_: Annotated[str, typer.Option("--note", help="Free-text note.")] = "",
    author: AuthorOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Append one item to the ledger (validated; nothing is written if it is refused)."""
    from allegiance.errors import EvidenceError
    from allegiance.ledger.authors import author_of
    from allegiance.reading import KeyReader
    from allegiance.workflow.entry import item_body, typed_item

    r = KeyReader(Path("command line"), EvidenceError)
    options: dict[str, object] = {
        "id": item_id,
        "kind": kind,
        "date": date,
        "source": source,
        "grade": grade,
        "note": note_,
        "author": author_of(author),
    }
    with user_errors():
        body = item_body(r, options, field or [])
        spec, book = open_model(model, ledger)
        item = typed_item(r, body, spec)
        (stored,) = book.append([item])
    typer.echo(f"added {stored.id} ({stored.kind}), recorded at {stored.recorded_at}")


@evidence_app.command("list")
def evidence_list(
    model: ModelArg,
    as_of: Annotated[
        str | None, typer.Option(help="Only items in force on this date (by their event date).")
    ] = None,
    as_recorded: Annotated[
        bool, typer.Option(help="With --as-of, also leave out what was recorded after that date.")
    ] = False,
    ledger: LedgerOpt = None,
) -> None:
    """List the ledger's items: all of them, or those a forecast as of a date uses."""
    from allegiance.evidence import in_force
    from allegiance.workflow.reporting import withdrawn_by

    when = parse_date(as_of, "--as-of")
    if as_recorded and when is None:
        raise typer.BadParameter("--as-recorded needs --as-of.", param_hint="--as-recorded")
    with user_errors():
        _, book = open_model(model, ledger)
    everything = book.items()
    listed = everything if when is None else in_force(everything, when, as_recorded)
    live = {i.id for i in in_force(everything)}
    title = f"Evidence: {shown(book.name)}"
    if when is not None:
        title += (
            f", the {len(listed)} item{'' if len(listed) == 1 else 's'} in force as of {when}"
            + (" as recorded then" if as_recorded else "")
            + f": those forecast --as-of {when}{' --as-recorded' if as_recorded else ''} reads"
        )
    # Narrow terminals fold long cells (one space between columns); kinds, dates, grades
    # and ids up to a third of what the fixed columns leave (at least 11 characters) stay whole.
    console = Console()
    longest = max((len(i.id) for i in listed), default=2)
    table = Table(title=title, padding=(0, 1, 0, 0))
    table.add_column("id", width=min(longest, max(11, (console.width - 40) // 3)), overflow="fold")
    for name in ("kind", "date", "grade"):
        table.add_column(name, no_wrap=True)
    table.add_column("author", overflow="fold", max_width=9)
    table.add_column("fields", overflow="fold")
    table.add_column("in force" if when is None else "in force now", overflow="fold", max_width=10)
    by = withdrawn_by(everything)
    for i in listed:
        state = "yes" if i.id in live else "-"
        if i.id in by:
            state = f"retracted by {by[i.id]}"
        add_row(table, i.id, i.kind, i.date.isoformat(), i.grade, i.author,
                _summary(dict(i.fields)), state)  # fmt: skip
    console.print(table)


@evidence_app.command("show")
def evidence_show(model: ModelArg, item_id: str, ledger: LedgerOpt = None) -> None:
    """Show one item in full."""
    import yaml

    with user_errors():
        _, book = open_model(model, ledger)
    found = book.get(item_id)
    if found is None:
        raise refuse(f"no item {item_id!r} in {book.name}")
    by = [
        f"{i.id} ({i.author})" if i.author else i.id
        for i in book.items()
        if i.kind == "retraction" and i.fields["retracts"] == item_id
    ]
    typer.echo(
        plain(yaml.safe_dump(found.to_dict(), sort_keys=False, allow_unicode=True)), nl=False
    )
    typer.echo(plain(f"retracted by: {', '.join(by)}") if by else "in force (not retracted)")


@evidence_app.command("retract")
def evidence_retract(
    model: ModelArg,
    item_id: str,
    source: Annotated[str, typer.Option(help="Why we know the item was wrong.")],
    grade: Annotated[str, typer.Option(help="Admiralty grade of the correction.")],
    note_: Annotated[str, typer.Option("--note", help="Free-text reason.")] = "",
    author: AuthorOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Withdraw an item by appending a retraction (the item itself stays on record)."""
    from allegiance.ledger.authors import author_of

    with user_errors():
        _, book = open_model(model, ledger)
        made = book.retract(
            item_id, source=source, grade=grade, note=note_, author=author_of(author)
        )
    typer.echo(f"retracted {plain(item_id)} with {made.id}")


@evidence_app.command("import")
def evidence_import(
    model: ModelArg,
    file: Path,
    author: AuthorOpt = None,
    ledger: LedgerOpt = None,
) -> None:
    """Append the items of a YAML or CSV file that the ledger lacks, in one transaction.

    Items the ledger already holds, the same, are left out, so an export
    imports back. A new ledger starts with the model's shipped evidence and
    the file's items, as they were recorded.
    """
    from allegiance.ledger.authors import author_of
    from allegiance.workflow import import_evidence

    with user_errors():
        book, done = import_evidence(load_spec(model), file, ledger, author=author_of(author))
    said = f"imported {len(done.recorded)} items into {plain(book.name)}"
    if done.already:
        said += f"; {done.already} the ledger already held, the same, left out"
    if done.started_with:
        said += f"; the new ledger started with {done.started_with} shipped items"
    typer.echo(said)


@evidence_app.command("export")
def evidence_export(model: ModelArg, file: Path, ledger: LedgerOpt = None) -> None:
    """Write every item, retractions included, to a YAML or CSV file (by its suffix)."""
    from allegiance.evidence import dump_csv, dump_yaml

    with user_errors():
        spec, book = open_model(model, ledger)
    items = book.items()
    text = dump_csv(items) if file.suffix.lower() == ".csv" else dump_yaml(items, spec.id)
    file.write_text(text, encoding="utf-8")
    typer.echo(f"exported {len(items)} items to {plain(file)}")
