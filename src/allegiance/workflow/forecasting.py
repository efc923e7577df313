"""The forecasting workflow: the evidence in force, and forecasts with as little sampling as can be.

The policy: a stored fit of exactly this evidence is reused; otherwise the
most recent stored fit of the model is reweighted to this evidence (PSIS) and
kept if its checks pass; otherwise the model is fitted and the fit stored. A
stored fit from another format or engine version is never reused. A damaged
stored fit (unreadable, not a regular file, or draws that do not match their
hash or their basic facts, or a probability that is not a number) is never
served: it is set aside as ``<name>.damaged`` and the search goes on. No
forecast with a probability that is not a finite number is returned. Nothing
here prints: each step says what it did in its result (:class:`Opened`, :class:`InForce`,
:class:`Forecasted`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from allegiance.errors import DamagedFitError, LedgerError, ProvenanceError
from allegiance.evidence import EvidenceSet, Item, in_force, read_items, shipped_evidence
from allegiance.evidence.outcomes import with_time_passing
from allegiance.forecast import Forecast
from allegiance.ledger import Imported, Ledger, default_url
from allegiance.posterior import FitSettings, Posterior
from allegiance.spec import ModelSpec
from allegiance.workflow.store import FitStore

if TYPE_CHECKING:
    from allegiance.update import Attribution, Updater


@dataclass
class Opened:
    """A model's ledger, open, and what opening it did (a first import, in words)."""

    ledger: Ledger
    notes: list[str] = field(default_factory=list)


@dataclass
class InForce:
    """The evidence in force, the ledger it came from (None for a file or for none), notes."""

    evidence: EvidenceSet
    ledger: Ledger | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Forecasted:
    """A forecast, the stored fit it comes from (reused, reweighted or new), and what was done.

    ``notes`` says it in words: fits made, stale or damaged stored fits skipped,
    a forecast a read-only ledger could not record. ``posterior`` is the fit in
    memory when it is one of exactly this evidence (None when reweighted), and
    ``updater`` the one that evaluated it for a stored fit's forecast: what
    follows the forecast reads neither the file nor the draws again.
    """

    forecast: Forecast
    fit_path: Path
    notes: list[str] = field(default_factory=list)
    posterior: Posterior | None = None
    updater: Updater | None = None


def open_ledger(spec: ModelSpec, url: str | None = None) -> Opened:
    """Open the model's ledger; on first use, fill it from the evidence file shipped beside it.

    Parameters
    ----------
    spec : ModelSpec
    url : str, optional
        SQLAlchemy URL; by default the SQLite file beside the model.

    Returns
    -------
    Opened
        The ledger, and a note when shipped items were imported.
    """
    ledger = Ledger(url or default_url(spec), spec)
    shipped = shipped_evidence(spec)
    out = Opened(ledger)
    if shipped.exists() and not ledger.items():
        # seed, not append: another process may be filling the new ledger at this moment.
        stored = ledger.seed(read_items(shipped, spec))
        if stored:
            out.notes.append(f"ledger {ledger.name}: imported {len(stored)} items from {shipped}")
    return out


def import_evidence(
    spec: ModelSpec, path: Path, url: str | None = None, *, author: str = ""
) -> tuple[Ledger, Imported]:
    """Import an evidence file into the model's ledger: what the ledger lacks.

    A new ledger starts with the shipped evidence and the file's items in one
    transaction (:meth:`allegiance.ledger.Ledger.import_file`), not with the
    shipped evidence first: an export of a ledger then imports back as it was.

    Parameters
    ----------
    spec : ModelSpec
    path : Path
        The YAML or CSV file.
    url : str, optional
        SQLAlchemy URL; by default the SQLite file beside the model.
    author : str
        Who imports: the author of the file's new items that name none and
        are stamped now.

    Returns
    -------
    tuple of (Ledger, Imported)
        The ledger, and what the import recorded.
    """
    ledger = Ledger(url or default_url(spec), spec)
    shipped = shipped_evidence(spec)
    start = read_items(shipped, spec) if shipped.exists() and not ledger.items() else []
    return ledger, ledger.import_file(path, start_with=start, author=author)


def evidence_in_force(
    spec: ModelSpec,
    *,
    evidence_file: Path | None = None,
    ledger_url: str | None = None,
    as_of: dt.date | None = None,
    as_recorded: bool = False,
    none: bool = False,
) -> InForce:
    """Return the evidence in force: from a file, from the model's ledger, or none.

    Parameters
    ----------
    spec : ModelSpec
    evidence_file : Path, optional
        Read items from this YAML or CSV file instead of the ledger.
    ledger_url : str, optional
        The ledger to read (default: beside the model).
    as_of : date, optional
        Keep items whose event date is on or before it.
    as_recorded : bool
        Also leave out what was recorded after ``as_of``.
    none : bool
        No evidence at all: prior forecasts.

    Returns
    -------
    InForce
        The evidence, and the ledger when it came from one.
    """
    if none:
        return InForce(EvidenceSet.of([], as_of=as_of, as_recorded=as_recorded))
    if evidence_file is not None:
        items = in_force(read_items(evidence_file, spec), as_of, as_recorded)
        items = with_time_passing(spec, items, as_of)
        return InForce(EvidenceSet.of(items, evidence_file, as_of=as_of, as_recorded=as_recorded))
    opened = open_ledger(spec, ledger_url)
    evidence = opened.ledger.evidence(as_of=as_of, as_recorded=as_recorded)
    return InForce(evidence, opened.ledger, opened.notes)


def fit_and_store(
    spec: ModelSpec,
    evidence: EvidenceSet,
    settings: FitSettings,
    *,
    progress: bool = False,
    reason: str = "fitted by MCMC",
) -> tuple[Posterior, Path, Forecast]:
    """Fit, forecast (which checks the fit), and store the fit with its diagnostics."""
    from allegiance.forecast import forecast
    from allegiance.posterior import fit

    posterior = fit(spec, evidence, settings, progress=progress)
    result = forecast(posterior, reason=reason, evidence=evidence)
    if bad := not_finite(result):
        raise DamagedFitError(
            f"the fit made now gives {bad} a probability that is not a number; "
            "it was not stored or shown. Fix: refit with another --seed, and check the model's "
            "priors for extreme ranges."
        )
    return posterior, posterior.save(FitStore(spec).path(evidence, settings)), result


def not_finite(result: Forecast) -> str:
    """Name the questions whose probability or interval is not a finite number ("" if none)."""
    return ", ".join(
        q.id
        for q in result.questions
        if any(v is not None and not math.isfinite(v) for v in (q.probability, q.lower, q.upper))
    )


def run_forecast(
    spec: ModelSpec,
    evidence: EvidenceSet,
    settings: FitSettings,
    *,
    refit: bool = False,
    exact: bool = False,
    progress: bool = False,
) -> Forecasted:
    """Forecast with as little sampling as the evidence allows (see the module's policy).

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
        The evidence in force (its as-of date goes into the forecast's provenance).
    settings : FitSettings
        Settings of a fit, and which stored fits may serve.
    refit : bool
        Fit by MCMC even if a stored fit could serve.
    exact : bool
        Use a fit of exactly this evidence (stored, or made now), never
        another fit reweighted: the numbers then depend on the model, the
        evidence and the settings only, not on which fits are stored.
    progress : bool
        Show the sampler's progress bar.

    Returns
    -------
    Forecasted
        The forecast, its fit and what was done.

    Raises
    ------
    FitStoreError
        Before any sampling, when a fit is needed and the store's folder
        cannot be written: a fit that could not be kept is not made (the
        command line exits with status 2 and says so).
    """
    from allegiance.forecast import forecast
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater

    store, notes = FitStore(spec), []
    here = store.path(evidence, settings)
    others = [] if exact else [p for p in store.fits(settings) if p != here]
    candidates = [] if refit else [here, *others]
    for path in candidates:
        if not os.path.lexists(path):
            continue
        try:
            base = load_posterior(path, spec, evidence if path == here else None)
        except DamagedFitError as exc:
            moved = store.set_aside(path)
            where = f"set aside as {moved.name}" if moved else "could not be set aside"
            notes.append(f"skipped stored fit {path.name}, damaged ({where}): {exc}")
            continue
        except ProvenanceError as exc:
            notes.append(f"skipped stored fit {path.name}: {exc}")
            continue
        if path == here:
            reason = f"stored MCMC fit of exactly this evidence ({path.name})"
            kept = Updater(base, settings, origin=path.name)  # its terms serve what follows
            result = forecast(base, kept.question_draws(), reason=reason, evidence=evidence)
            if bad := not_finite(result):  # never shown: the fit is damaged, whatever its checks
                moved = store.set_aside(path)
                where = f"set aside as {moved.name}" if moved else "could not be set aside"
                notes.append(
                    f"skipped stored fit {path.name}, damaged ({where}): it gives "
                    f"{bad} a probability that is not a number"
                )
                continue
            return Forecasted(result, path, notes, base, kept)
        updater = Updater(base, settings, origin=path.name)
        rw = updater.reweight(evidence)
        failed = rw.reason
        if rw.accepted:
            result = updater.forecast(evidence, allow_refit=False)
            if not (bad := not_finite(result)):
                return Forecasted(result, path, notes)
            failed = f"it gives {bad} a probability that is not a number"
        reason = f"refitted: reweighting {path.name} failed ({failed})"
        break
    else:
        elsewhere = store.other_settings(settings) if not refit else []
        if elsewhere and not others:
            notes.append(
                "no stored fit with these settings; stored fits exist with "
                + ", ".join(elsewhere)
                + " (seed, chains x draws, tuning, target acceptance): pass --seed, --chains,"
                " --draws, --tune, --target-accept to use them"
            )
        reason = (
            "fitted by MCMC (--refit)"
            if refit
            else "fitted by MCMC: no stored fit" + (" of exactly this evidence" if exact else "")
        )
    store.check_writable()
    posterior, path, result = fit_and_store(
        spec, evidence, settings, progress=progress, reason=reason
    )
    notes.append(f"sampled in {posterior.fit_seconds:.1f} s; posterior saved to {path}")
    return Forecasted(result, path, notes, posterior)


def forecast_and_record(
    spec: ModelSpec,
    evidence: EvidenceSet,
    settings: FitSettings,
    book: Ledger | None,
    *,
    as_of: dt.date | None = None,
    as_recorded: bool = False,
    report: bool = False,
    refit: bool = False,
    exact: bool = False,
    progress: bool = False,
) -> Forecasted:
    """Forecast (:func:`run_forecast`) and record the forecast in the ledger's history.

    With ``report``, the report made from it is recorded too (what the next
    report's "since the last report" compares with). A ledger that cannot be
    written (read-only) still gives its forecast: a note says it was not
    recorded, and nothing else changes.
    """
    out = run_forecast(spec, evidence, settings, refit=refit, exact=exact, progress=progress)
    result = out.forecast
    if book is None:
        return out
    try:
        book.record_forecast(result, as_of=as_of, as_recorded=as_recorded, fit_method=result.method)
        if report:
            book.record_report(result, evidence)
    except LedgerError as exc:
        what = "report" if report else "forecast"
        out.notes.append(f"warning: this {what} was not recorded in the ledger's history: {exc}")
    return out


def explain(
    spec: ModelSpec,
    evidence: EvidenceSet,
    question: str,
    settings: FitSettings,
    *,
    allow_refit: bool = False,
) -> tuple[list[Attribution], Forecasted]:
    """Return what moved one forecast most (each item left out, reweighted), strongest first.

    The base is the fit a forecast of this evidence with these settings uses
    (:func:`run_forecast`); the outcome says which, and how it was reached.
    """
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater

    used = run_forecast(spec, evidence, settings)
    base = load_posterior(used.fit_path, spec)
    updater = Updater(base, settings, origin=used.fit_path.name)
    return updater.explain(evidence, question, allow_refit=allow_refit), used


def record_of(spec: ModelSpec, files: list[Path]) -> list[Item]:
    """Return the items of several evidence files, checked together as one ledger would.

    Each file is read and validated on its own, then all are appended, in
    order, to a scratch ledger: ids repeated across files, retractions of
    unknown items and resolutions that disagree are refused as
    :meth:`Ledger.append` refuses them. No ledger of the model is touched.

    Parameters
    ----------
    spec : ModelSpec
    files : list of Path
        YAML or CSV evidence files, e.g. the shipped evidence and a later record.

    Returns
    -------
    list of Item
        Every item of every file, as recorded (retractions included).
    """
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        scratch = Ledger(f"sqlite:///{Path(folder) / 'record.sqlite'}", spec)
        try:
            for path in files:
                scratch.append(read_items(path, spec))
            return scratch.items()
        finally:
            scratch.close()
