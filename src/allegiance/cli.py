"""Command line: ``allegiance forecast|priors|check``.

Errors in user files print the file, the key and the fix, and exit with
status 2. A forecast whose fit failed its sampling diagnostics is printed
under a warning banner and exits with status 3, so scripts notice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.errors import AllegianceError
from allegiance.evidence import EvidenceSet
from allegiance.spec import ModelSpec, load_spec

if TYPE_CHECKING:
    from allegiance.forecast import Forecast
    from allegiance.ledger import Ledger
    from allegiance.posterior import FitSettings, Posterior

# PyTensor's C backend is not used for sampling (nutpie compiles with numba): its BLAS
# notice would only alarm users.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Bayesian forecasts of defection and alliance formation.",
)
err = Console(stderr=True)
EXIT_BAD_INPUT = 2
EXIT_UNTRUSTWORTHY = 3


def _arviz_without_numba() -> None:
    # ArviZ compiles a numba variance on first use in every process (0.3-0.5 s of a 4 s
    # command) for arrays of a few thousand draws, where numpy's takes microseconds.
    import arviz as az

    az.Numba.disable_numba()


class Format(StrEnum):
    """Output formats of ``forecast``."""

    table = "table"
    json = "json"
    csv = "csv"


def _fail(exc: AllegianceError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def default_evidence_path(model: Path) -> Path:
    """Return the evidence file shipped beside a model: ``<stem>.evidence.yaml``."""
    return model.with_name(f"{model.stem}.evidence.yaml")


def _parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write YYYY-MM-DD.", param_hint=option
        ) from None


def _ledger(spec: ModelSpec, url: str | None) -> Ledger:
    """Open the model's ledger; on first use, fill it from the evidence file shipped beside it."""
    from allegiance.evidence import read_items
    from allegiance.ledger import Ledger, default_url

    ledger = Ledger(url or default_url(spec), spec)
    shipped = default_evidence_path(spec.path)
    if not ledger.items() and shipped.exists():
        stored = ledger.append(read_items(shipped, spec))
        err.print(
            f"ledger {ledger.name}: imported {len(stored)} items from {shipped}", highlight=False
        )
    return ledger


def _evidence(
    spec: ModelSpec,
    evidence: Path | None,
    no_evidence: bool,
    ledger_url: str | None,
    as_of: dt.date | None,
    as_recorded: bool,
) -> tuple[EvidenceSet, Ledger | None]:
    from allegiance.evidence import in_force, read_items

    if no_evidence:
        return EvidenceSet.of([]), None
    if evidence is not None:
        items = read_items(evidence, spec)
        return EvidenceSet.of(in_force(items, as_of, as_recorded), evidence), None
    ledger = _ledger(spec, ledger_url)
    return ledger.evidence(as_of=as_of, as_recorded=as_recorded), ledger


def store_dir(spec: ModelSpec) -> Path:
    """Return where posteriors of a model are kept, beside the model file."""
    return spec.path.parent / ".allegiance" / spec.id


def store_path(spec: ModelSpec, evidence: EvidenceSet, settings: FitSettings) -> Path:
    """Return where the posterior for exactly these inputs is kept."""
    s = settings
    name = f"{spec.sha256[:12]}-{evidence.sha256[:12]}-s{s.seed}-{s.chains}x{s.draws}-t{s.tune}.nc"
    return store_dir(spec) / name


def _stored_fits(spec: ModelSpec, settings: FitSettings) -> list[Path]:
    s = settings
    pattern = f"{spec.sha256[:12]}-*-s{s.seed}-{s.chains}x{s.draws}-t{s.tune}.nc"
    return sorted(store_dir(spec).glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)


def _fit_and_store(
    spec: ModelSpec, evidence: EvidenceSet, settings: FitSettings
) -> tuple[Posterior, Forecast]:
    """Fit, forecast (which checks the fit), and store the fit with its diagnostics."""
    from allegiance.forecast import forecast
    from allegiance.posterior import fit, prepare

    with err.status("compiling the model (once per process)"):
        prepare(spec)
    posterior = fit(spec, evidence, settings, progress=sys.stderr.isatty())
    result = forecast(posterior)
    path = posterior.save(store_path(spec, evidence, settings))
    err.print(
        f"sampled in {posterior.fit_seconds:.1f} s; posterior saved to {path}", highlight=False
    )
    return posterior, result


def run_forecast(
    spec: ModelSpec, evidence: EvidenceSet, settings: FitSettings, *, refit: bool = False
) -> Forecast:
    """Forecast with as little sampling as the evidence allows.

    A stored fit of exactly this evidence is reused; otherwise the most recent
    stored fit of the model is reweighted to this evidence (PSIS) and kept if
    its checks pass; otherwise the model is fitted and the fit stored.
    """
    from allegiance.forecast import forecast
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater

    _arviz_without_numba()
    exact = store_path(spec, evidence, settings)
    if exact.exists() and not refit:
        result = forecast(load_posterior(exact, spec, evidence))
        result.method_reason = f"stored MCMC fit of exactly this evidence ({exact.name})"
        return result
    stored = [] if refit else _stored_fits(spec, settings)
    if stored:
        base = load_posterior(stored[0], spec)
        updater = Updater(base, settings)
        rw = updater.reweight(evidence)
        if rw.accepted:
            result = updater.forecast(evidence, allow_refit=False)
            result.method_reason = f"{rw.reason}; reweighted from {stored[0].name}"
            return result
        reason = f"refitted: reweighting {stored[0].name} failed ({rw.reason})"
    else:
        reason = "fitted by MCMC: no stored fit" if not refit else "fitted by MCMC (--refit)"
    _, result = _fit_and_store(spec, evidence, settings)
    result.method_reason = reason
    return result


@app.command()
def forecast(
    model: Annotated[Path, typer.Argument(help="Model file (YAML).")],
    evidence: Annotated[
        Path | None,
        typer.Option(help="Read evidence from this file (YAML or CSV) instead of the ledger."),
    ] = None,
    no_evidence: Annotated[
        bool, typer.Option(help="Ignore all evidence: prior forecasts.")
    ] = False,
    ledger: Annotated[
        str | None,
        typer.Option(help="Ledger database URL; default: <model>.ledger.sqlite beside the model."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Use only evidence whose event date is on or before this date (YYYY-MM-DD)."
        ),
    ] = None,
    as_recorded: Annotated[
        bool, typer.Option(help="With --as-of, also leave out what was recorded after that date.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the sampler.")] = 20200229,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    draws: Annotated[int, typer.Option(help="Draws per chain after tuning.")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option(help="Number of chains.")] = 4,
    refit: Annotated[
        bool, typer.Option(help="Fit by MCMC even if a stored fit could serve.")
    ] = False,
) -> None:
    """Print MODEL's forecasts given its evidence, fitting only when it must."""
    from allegiance.posterior import FitSettings

    when = _parse_date(as_of, "--as-of")
    if as_recorded and when is None:
        raise typer.BadParameter("--as-recorded needs --as-of.", param_hint="--as-recorded")
    warnings.simplefilter("ignore", FutureWarning)
    try:
        spec = load_spec(model)
        ev, book = _evidence(spec, evidence, no_evidence, ledger, when, as_recorded)
        err.print(
            f"model {spec.id} ({spec.sha256[:12]}), evidence "
            f"{ev.path or (book.name if book else 'none')}: {len(ev.items)} items in force "
            f"({ev.sha256[:12]})"
            + (f", as of {when}" if when else "")
            + (" as recorded then" if as_recorded else ""),
            highlight=False,
        )
        settings = FitSettings(draws=draws, tune=tune, chains=chains, seed=seed)
        result = run_forecast(spec, ev, settings, refit=refit)
        if book is not None:
            book.record_forecast(
                result, as_of=when, as_recorded=as_recorded, fit_method=result.method
            )
    except AllegianceError as exc:
        raise _fail(exc) from None
    if fmt is Format.json:
        typer.echo(result.to_json())
    elif fmt is Format.csv:
        typer.echo(_csv(result), nl=False)
    else:
        _table(result)
    if not result.trustworthy:
        err.print(
            "[bold red]WARNING: the fit FAILED its sampling diagnostics ("
            + "; ".join(result.diagnostics.problems)
            + "). Do not use these numbers; refit with more draws or tuning.[/]"
        )
        raise typer.Exit(EXIT_UNTRUSTWORTHY)


def _csv(result: object) -> str:
    from allegiance.forecast import Forecast

    assert isinstance(result, Forecast)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=os.linesep)
    d = result.diagnostics
    writer.writerow(
        [
            "question",
            "horizon",
            "probability",
            "lower90",
            "upper90",
            "word",
            "trustworthy",
            "max_rhat",
            "min_ess",
            "divergences",
            "model_sha256",
            "evidence_sha256",
        ]
    )
    for q in result.questions:
        writer.writerow(
            [
                q.id,
                q.horizon,
                f"{q.probability:.4f}",
                f"{q.lower:.4f}",
                f"{q.upper:.4f}",
                q.word,
                result.trustworthy,
                f"{d.max_rhat:.4f}",
                f"{min(d.min_ess_bulk, d.min_ess_tail):.0f}",
                d.divergences,
                result.provenance["model_sha256"],
                result.provenance["evidence_sha256"],
            ]
        )
    return out.getvalue()


def _table(result: object) -> None:
    from allegiance.forecast import Forecast

    assert isinstance(result, Forecast)
    out = Console()
    flag = "" if result.trustworthy else " [bold red](DIAGNOSTICS FAILED)[/]"
    table = Table(title=f"Forecasts: {result.model_id}{flag}")
    for name, justify in (
        ("question", "left"),
        ("horizon", "left"),
        ("P", "right"),
        ("90% interval", "right"),
        ("in words", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for q in result.questions:
        table.add_row(
            q.id, q.horizon, f"{q.probability:.0%}", f"{q.lower:.0%} – {q.upper:.0%}", q.word
        )
    out.print(table)
    out.print(f"method: {result.method} ({result.method_reason})", highlight=False)
    d = result.diagnostics
    verdict = "[green]passed[/]" if d.ok else "[bold red]FAILED: " + "; ".join(d.problems) + "[/]"
    out.print(
        f"diagnostics {verdict}: max R-hat {d.max_rhat:.3f}, min ESS "
        f"{min(d.min_ess_bulk, d.min_ess_tail):.0f}, divergences {d.divergences}"
    )
    p = result.provenance
    out.print(
        f"model {p['model_sha256'][:12]}, evidence {p['evidence_sha256'][:12]} "
        f"({p['evidence_items']} items), seed {p['fit_settings'].get('seed')}",
        highlight=False,
    )


@app.command()
def priors(model: Annotated[Path, typer.Argument(help="Model file (YAML).")]) -> None:
    """Show each prior as the analyst stated it and the distribution chosen for it."""
    try:
        spec = load_spec(model)
    except AllegianceError as exc:
        raise _fail(exc) from None
    table = Table(title=f"Priors: {spec.id}")
    for name in ("what", "stated", "chosen", "provenance"):
        table.add_column(name)
    rows = [(f"condition {c.id}", c.belief) for c in spec.conditions.values()]
    rows += [
        (f"baseline {p.id}.{a}" if a else f"baseline {p.id}", b)
        for p in spec.propensities.values()
        for a, b in p.baselines.items()
    ]
    rows += [(f"rate {s.id}.{c}", b) for s in spec.series.values() for c, b in s.baselines.items()]
    rows += [(f"effect {e.id}", e.belief) for e in spec.effects]
    for what, belief in rows:
        stated = ", ".join(f"{k}: {v}" for k, v in belief.prior.statement.items())
        table.add_row(what, stated, belief.prior.describe(), belief.provenance)
    Console().print(table)


@app.command()
def check(
    model: Annotated[Path, typer.Argument(help="Model file (YAML).")],
    evidence: Annotated[Path | None, typer.Option(help="Evidence file to check too.")] = None,
) -> None:
    """Validate a model file (and an evidence file) without fitting anything."""
    from allegiance.evidence import read_items

    try:
        spec = load_spec(model)
        path = evidence or default_evidence_path(model)
        items = read_items(path, spec) if path.exists() else []
    except AllegianceError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"{model}: valid ({len(spec.conditions)} conditions, {len(spec.effects)} effects, "
        f"{len(spec.questions)} questions); evidence: {len(items)} items"
    )


evidence_app = typer.Typer(
    no_args_is_help=True, help="Add to, read and export the evidence ledger."
)
app.add_typer(evidence_app, name="evidence")

ModelArg = Annotated[Path, typer.Argument(help="Model file (YAML).")]
LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger", help="Ledger database URL; default: <model>.ledger.sqlite beside the model."
    ),
]


def _open(model: Path, ledger: str | None) -> tuple[ModelSpec, Ledger]:
    spec = load_spec(model)
    return spec, _ledger(spec, ledger)


def _check_question(spec: ModelSpec, question: str) -> None:
    if question not in spec.questions:
        err.print(
            f"[bold red]error:[/] unknown question {question!r}; questions: "
            + ", ".join(spec.questions),
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)


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
    note: Annotated[str, typer.Option(help="Free-text note.")] = "",
    author: Annotated[str, typer.Option(help="Who records it.")] = "",
    ledger: LedgerOpt = None,
) -> None:
    """Append one item to the ledger (validated; nothing is written if it is refused)."""
    from allegiance.errors import EvidenceError
    from allegiance.evidence import parse_item
    from allegiance.spec import _Reader, safe_load

    body: dict[str, object] = {
        "id": item_id,
        "kind": kind,
        "date": date,
        "source": source,
        "grade": grade,
        "note": note,
        "author": author,
    }
    for pair in field or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value.", param_hint="--field")
        body[key.strip()] = safe_load(value) if value.strip() else ""
    try:
        spec, book = _open(model, ledger)
        item = parse_item(_Reader(Path("command line"), EvidenceError), body, "item", spec)
        (stored,) = book.append([item])
    except AllegianceError as exc:
        raise _fail(exc) from None
    typer.echo(f"added {stored.id} ({stored.kind}), recorded at {stored.recorded_at}")


@evidence_app.command("list")
def evidence_list(
    model: ModelArg,
    as_of: Annotated[str | None, typer.Option(help="Only items in force on this date.")] = None,
    ledger: LedgerOpt = None,
) -> None:
    """List the ledger's items (all of them, or those in force as of a date)."""
    from allegiance.evidence import in_force

    when = _parse_date(as_of, "--as-of")
    try:
        _, book = _open(model, ledger)
    except AllegianceError as exc:
        raise _fail(exc) from None
    everything = book.items()
    shown = everything if when is None else in_force(everything, when)
    live = {i.id for i in in_force(everything)}
    table = Table(title=f"Evidence: {book.name}")
    for name in ("id", "kind", "date", "grade", "fields", "in force"):
        table.add_column(name)
    for i in shown:
        state = "yes" if i.id in live else ("-" if i.kind == "retraction" else "retracted")
        table.add_row(i.id, i.kind, i.date.isoformat(), i.grade, _summary(dict(i.fields)), state)
    Console().print(table)


@evidence_app.command("show")
def evidence_show(model: ModelArg, item_id: str, ledger: LedgerOpt = None) -> None:
    """Show one item in full."""
    import yaml

    try:
        _, book = _open(model, ledger)
    except AllegianceError as exc:
        raise _fail(exc) from None
    found = book.get(item_id)
    if found is None:
        err.print(f"[bold red]error:[/] no item {item_id!r} in {book.name}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    by = [i.id for i in book.items() if i.kind == "retraction" and i.fields["retracts"] == item_id]
    typer.echo(yaml.safe_dump(found.to_dict(), sort_keys=False, allow_unicode=True), nl=False)
    typer.echo(f"retracted by: {', '.join(by)}" if by else "in force (not retracted)")


@evidence_app.command("retract")
def evidence_retract(
    model: ModelArg,
    item_id: str,
    source: Annotated[str, typer.Option(help="Why we know the item was wrong.")],
    grade: Annotated[str, typer.Option(help="Admiralty grade of the correction.")],
    note: Annotated[str, typer.Option(help="Free-text reason.")] = "",
    author: Annotated[str, typer.Option(help="Who retracts it.")] = "",
    ledger: LedgerOpt = None,
) -> None:
    """Withdraw an item by appending a retraction (the item itself stays on record)."""
    try:
        _, book = _open(model, ledger)
        made = book.retract(item_id, source=source, grade=grade, note=note, author=author)
    except AllegianceError as exc:
        raise _fail(exc) from None
    typer.echo(f"retracted {item_id} with {made.id}")


@evidence_app.command("import")
def evidence_import(model: ModelArg, file: Path, ledger: LedgerOpt = None) -> None:
    """Append every item of a YAML or CSV file, in one transaction."""
    from allegiance.evidence import read_items

    try:
        spec, book = _open(model, ledger)
        stored = book.append(read_items(file, spec))
    except AllegianceError as exc:
        raise _fail(exc) from None
    typer.echo(f"imported {len(stored)} items into {book.name}")


@evidence_app.command("export")
def evidence_export(model: ModelArg, file: Path, ledger: LedgerOpt = None) -> None:
    """Write every item, retractions included, to a YAML or CSV file (by its suffix)."""
    from allegiance.evidence import dump_csv, dump_yaml

    try:
        spec, book = _open(model, ledger)
    except AllegianceError as exc:
        raise _fail(exc) from None
    items = book.items()
    text = dump_csv(items) if file.suffix.lower() == ".csv" else dump_yaml(items, spec.id)
    file.write_text(text, encoding="utf-8")
    typer.echo(f"exported {len(items)} items to {file}")


@app.command()
def history(
    model: ModelArg,
    question: str,
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.table,
    ledger: LedgerOpt = None,
) -> None:
    """Show every recorded forecast of one question, oldest first."""
    try:
        spec, book = _open(model, ledger)
    except AllegianceError as exc:
        raise _fail(exc) from None
    _check_question(spec, question)
    rows = book.history(question)
    if fmt is not Format.table:
        plain = [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in rows
        ]
        if fmt is Format.json:
            typer.echo(json.dumps(plain, indent=2, default=str))
        else:
            out = io.StringIO()
            writer = csv.DictWriter(
                out,
                fieldnames=list(plain[0]) if plain else ["question_id"],
                lineterminator=os.linesep,
            )
            writer.writeheader()
            writer.writerows(plain)
            typer.echo(out.getvalue(), nl=False)
        return
    table = Table(title=f"History: {question}")
    for name in ("created", "as of", "P", "90% interval", "method", "model", "evidence", "ok"):
        table.add_column(name)
    for row in rows:
        as_of = str(row["as_of"] or "-") + (" (as recorded)" if row["as_recorded"] else "")
        table.add_row(
            str(row["created_at"])[:19],
            as_of,
            f"{row['probability']:.0%}",
            f"{row['lower']:.0%} – {row['upper']:.0%}",
            str(row["fit_method"]),
            str(row["model_sha256"])[:12],
            str(row["evidence_sha256"])[:12],
            "yes" if row["trustworthy"] else "NO",
        )
    Console().print(table)


@app.command()
def explain(
    model: ModelArg,
    question: str,
    as_of: Annotated[str | None, typer.Option(help="Evidence as of this date.")] = None,
    as_recorded: Annotated[bool, typer.Option(help="With --as-of: as recorded then.")] = False,
    top: Annotated[int, typer.Option(help="How many items to show.")] = 10,
    allow_refit: Annotated[
        bool, typer.Option(help="Refit when leaving an item out cannot be reweighted (slow).")
    ] = False,
    ledger: LedgerOpt = None,
) -> None:
    """List the evidence items that moved one forecast most (leave one out, reweighted)."""
    from allegiance.posterior import FitSettings, load_posterior
    from allegiance.update import Updater

    when = _parse_date(as_of, "--as-of")
    warnings.simplefilter("ignore", FutureWarning)
    try:
        spec, book = _open(model, ledger)
        _check_question(spec, question)
        ev = book.evidence(as_of=when, as_recorded=as_recorded)
        settings = FitSettings()
        stored = _stored_fits(spec, settings)
        _arviz_without_numba()
        base = load_posterior(stored[0], spec) if stored else _fit_and_store(spec, ev, settings)[0]
        rows = Updater(base, settings).explain(ev, question, allow_refit=allow_refit)
    except AllegianceError as exc:
        raise _fail(exc) from None
    p = rows[0].with_item if rows else float("nan")
    table = Table(title=f"What moved {question} (now {p:.1%})")
    for name in ("item", "kind", "without it", "change", "log-odds", "method", "note"):
        table.add_column(name)
    for r in rows[:top]:
        table.add_row(
            r.item_id,
            r.kind,
            f"{r.without_item:.1%}",
            f"{r.delta:+.1%}",
            f"{r.delta_log_odds:+.3f}",
            r.method,
            r.note[:60],
        )
    Console().print(table)
