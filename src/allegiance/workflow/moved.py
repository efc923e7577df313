"""What moved the forecasts: each item's effect on each question, read from a stored fit.

For a reader that must neither write nor wait for a fit (the web page):
the fit is the one a forecast would use (the stored fit of exactly this
evidence, else the newest stored fit reweighted to it, see
:func:`~allegiance.workflow.forecasting.run_forecast`), nothing is fitted
and nothing is set aside. Each item is left out in turn, as the report
does (:func:`~allegiance.update.attribution.effect_matrix`). The result is
kept in memory, per model, evidence and fit.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from allegiance.cache import LRU
from allegiance.errors import DamagedFitError, ProvenanceError
from allegiance.evidence import EvidenceSet
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec
from allegiance.workflow.store import FitStore


@dataclass(frozen=True)
class Moved:
    """Each item's effect on each question's probability, and the stored fit it comes from.

    Attributes
    ----------
    effects : dict
        Item id -> question id -> the probability with the item minus without
        it, for the open questions with a probability; None where the weights
        leaving the item out fail their checks (the report refits there).
    fit : str
        The stored fit's file name.
    exact : bool
        Whether the fit is of exactly this evidence: then the numbers are the
        ones the report computes; otherwise it is reweighted to it.
    """

    effects: dict[str, dict[str, float | None]]
    fit: str
    exact: bool


_KEPT: LRU[tuple[str, ...], Moved | None] = LRU(32)
_LOCK = threading.Lock()  # one computation at a time; a second asker finds it kept


def moved_by(
    spec: ModelSpec, evidence: EvidenceSet, items: Sequence[str], settings: FitSettings
) -> Moved | None:
    """Return what each of some items did to each question's probability, from a stored fit.

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
        The evidence in force; ``items`` are among its items.
    items : sequence of str
        The ids of the items measured.
    settings : FitSettings
        Which stored fits serve (their settings).

    Returns
    -------
    Moved or None
        None when no stored fit serves: none is stored for this model and
        these settings, it does not load, or its weights fail for the
        evidence in force (a forecast then fits anew, and stores the fit).
    """
    store = FitStore(spec)
    here = store.path(evidence, settings)
    path = here if os.path.lexists(here) else next(iter(store.fits(settings)), None)
    if path is None:
        return None
    try:
        stamp = str(path.stat().st_mtime_ns)  # a fit made again under the same name is another
    except OSError:
        return None
    key = (spec.sha256, evidence.sha256, path.name, stamp, *items)
    with _LOCK:
        if key not in _KEPT:
            _KEPT.put(key, _measured(spec, evidence, items, settings, path, path == here))
        return _KEPT.get(key)


def _measured(
    spec: ModelSpec,
    evidence: EvidenceSet,
    items: Sequence[str],
    settings: FitSettings,
    path: Path,
    exact: bool,
) -> Moved | None:
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater
    from allegiance.update.attribution import effect_matrix

    try:
        base = load_posterior(path, spec, evidence if exact else None)
    except (DamagedFitError, ProvenanceError):
        return None
    updater = Updater(base, settings, origin=path.name)
    if not updater.reweight(evidence).accepted:
        return None
    full = updater.forecast(evidence, allow_refit=False)
    shown = [q.id for q in full.questions if q.probability is not None and not q.resolved]
    matrix = effect_matrix(updater, evidence, items, allow_refit=False)
    effects = {i: {qid: row[qid] for qid in shown} for i, row in matrix.items()}
    return Moved(effects, path.name, exact)
