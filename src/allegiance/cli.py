"""Command line: ``allegiance forecast|priors|check``.

Errors in user files print the file, the key and the fix, and exit with
status 2. A forecast whose fit failed its sampling diagnostics is printed
under a warning banner and exits with status 3, so scripts notice.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from allegiance.errors import AllegianceError
from allegiance.evidence import EvidenceSet, load_evidence
from allegiance.spec import ModelSpec, load_spec

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


def _inputs(model: Path, evidence: Path | None, no_evidence: bool) -> tuple[ModelSpec, EvidenceSet]:
    spec = load_spec(model)
    if no_evidence:
        return spec, EvidenceSet.of([])
    if evidence is None and default_evidence_path(model).exists():
        evidence = default_evidence_path(model)
    if evidence is None:
        return spec, EvidenceSet.of([])
    return spec, load_evidence(evidence, spec)


def store_path(spec: ModelSpec, evidence: EvidenceSet, seed: int, draws: int, chains: int) -> Path:
    """Where a posterior for these exact inputs is kept, beside the model file."""
    name = f"{spec.sha256[:12]}-{evidence.sha256[:12]}-s{seed}-{chains}x{draws}.nc"
    return spec.path.parent / ".allegiance" / spec.id / name


@app.command()
def forecast(
    model: Annotated[Path, typer.Argument(help="Model file (YAML).")],
    evidence: Annotated[
        Path | None,
        typer.Option(
            help="Evidence file; default: <model>.evidence.yaml beside the model, if present."
        ),
    ] = None,
    no_evidence: Annotated[
        bool, typer.Option(help="Ignore any evidence: prior forecasts.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the sampler.")] = 20200229,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    draws: Annotated[int, typer.Option(help="Draws per chain after tuning.")] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option(help="Number of chains.")] = 4,
    refit: Annotated[bool, typer.Option(help="Fit even if a stored posterior matches.")] = False,
) -> None:
    """Fit (or reuse a stored fit of) MODEL given its evidence and print its forecasts."""
    from allegiance.forecast import forecast as make_forecast
    from allegiance.posterior import FitSettings, fit, load_posterior, prepare

    try:
        spec, ev = _inputs(model, evidence, no_evidence)
    except AllegianceError as exc:
        raise _fail(exc) from None
    source = ev.path or "none"
    err.print(
        f"model {spec.id} ({spec.sha256[:12]}), evidence {source}: "
        f"{len(ev.items)} items ({ev.sha256[:12]})",
        highlight=False,
    )
    settings = FitSettings(draws=draws, tune=tune, chains=chains, seed=seed)
    path = store_path(spec, ev, seed, draws, chains)
    warnings.simplefilter("ignore", FutureWarning)
    if path.exists() and not refit:
        posterior = load_posterior(path, spec, ev)
        err.print(f"reusing the stored posterior {path}", highlight=False)
    else:
        with err.status("compiling the model (once per process)"):
            prepare(spec)
        posterior = fit(spec, ev, settings, progress=sys.stderr.isatty())
        posterior.save(path)
        err.print(
            f"sampled in {posterior.fit_seconds:.1f} s; posterior saved to {path}", highlight=False
        )
    result = make_forecast(posterior)
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
    try:
        spec, ev = _inputs(model, evidence, no_evidence=False)
    except AllegianceError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"{model}: valid ({len(spec.conditions)} conditions, {len(spec.effects)} effects, "
        f"{len(spec.questions)} questions); evidence: {len(ev.items)} items"
    )
