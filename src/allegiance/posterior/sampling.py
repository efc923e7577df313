"""Fitting: NUTS over the continuous posterior, compiled once per process.

The compiled sampler is kept per model (keyed by the model file's hash) for
the life of the process, and new evidence goes in through nutpie's
``with_data``: a second fit after new evidence does not recompile.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import warnings
from dataclasses import asdict
from typing import Any

from allegiance.evidence import EvidenceSet, ModelData, model_data, no_evidence
from allegiance.model import build_model
from allegiance.posterior.draws import Posterior
from allegiance.posterior.settings import FitSettings
from allegiance.provenance import versions
from allegiance.spec import ModelSpec

_COMPILED: dict[str, Any] = {}


class KnownRewriteFailure(logging.Filter):
    """Drop PyTensor's log of a known rewrite failure that changes no number.

    PyTensor 2.38's FusionOptimizer fails on some graphs with a ``KeyError``
    in ``elemwise_to_scalar`` and logs it as an ERROR with its traceback
    (pytensor#2145); the fusion is skipped and the compiled functions are
    right, only less fused. The fix (pytensor#2150) is in PyTensor 3, which
    PyMC 5.28 does not take. Any other record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for the known failure's records."""
        text = record.getMessage()
        return not (
            "FusionOptimizer" in text or "elemwise_to_scalar" in text or text == "Traceback:"
        )


REWRITE_LOG = "pytensor.graph.rewriting.basic"


def prepare(spec: ModelSpec, estimates: bool = False) -> Any:
    """Compile the sampler of a spec, once per process; later fits reuse it.

    Parameters
    ----------
    spec : ModelSpec
    estimates : bool
        The variant with slots for estimated monthly totals (compiled apart:
        it samples more slowly, so evidence without estimates does not pay for it).

    Returns
    -------
    nutpie.CompiledModel
        Compiled with no evidence; :func:`fit` swaps evidence in with ``with_data``.
    """
    import nutpie
    import pytensor

    key = f"{spec.sha256}+estimates" if estimates else spec.sha256
    if key not in _COMPILED:
        log = logging.getLogger(REWRITE_LOG)
        known = KnownRewriteFailure()
        log.addFilter(known)
        # Without fast-math: with it, LLVM reassociates sums differently in a function
        # compiled now than in one loaded from PyTensor's on-disk cache, so the draws of
        # the same seed differed between a process with a cold cache and a later one.
        try:
            with pytensor.config.change_flags(numba__fastmath=False):
                _COMPILED[key] = nutpie.compile_pymc_model(
                    build_model(spec, no_evidence(spec), estimates), backend="numba"
                )
        finally:
            log.removeFilter(known)
    return _COMPILED[key]


def fit(
    spec: ModelSpec,
    evidence: EvidenceSet,
    settings: FitSettings | None = None,
    *,
    progress: bool = False,
    data: ModelData | None = None,
) -> Posterior:
    """Sample the posterior of a model given evidence.

    Parameters
    ----------
    spec : ModelSpec
    evidence : EvidenceSet
    settings : FitSettings, optional
    progress : bool
        Show nutpie's progress bar.
    data : ModelData, optional
        Fit these arrays instead of those of ``evidence``: a proposal
        distribution for importance sampling. The posterior keeps them in
        ``data`` and says so in ``idata.attrs["proposal"]``.

    Returns
    -------
    Posterior
        With the model hash, evidence hash, seed, settings and package
        versions in ``idata.attrs``.
    """
    import time

    settings = settings or FitSettings()
    # Containers a model never reads (no levels, say) are pruned by the compiler.
    arrays = (model_data(spec, evidence) if data is None else data).arrays()
    compiled = prepare(spec, bool(arrays["estimate_weight"].any()))
    compiled = compiled.with_data(**{k: v for k, v in arrays.items() if k in compiled.shared_data})
    start = time.perf_counter()
    idata = _sample(compiled, settings, progress)
    seconds = time.perf_counter() - start
    for group in ("warmup_posterior", "warmup_sample_stats"):
        if group in idata.groups():
            del idata[group]
    idata.attrs.update(_identity(spec, evidence, settings))
    if data is not None:
        idata.attrs["proposal"] = "fitted to other arrays than the evidence's"
    return Posterior.from_inference_data(
        spec, evidence, idata, settings, fit_seconds=seconds, data=data
    )


def _identity(spec: ModelSpec, evidence: EvidenceSet, settings: FitSettings) -> dict[str, str]:
    return {
        "model_id": spec.id,
        "model_sha256": spec.sha256,
        "evidence_sha256": evidence.sha256,
        "evidence_items": json.dumps([i.to_dict() for i in evidence.items], default=str),
        "fit_settings": json.dumps(asdict(settings)),
        "versions": json.dumps(versions()),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _sample(compiled: Any, settings: FitSettings, progress: bool) -> Any:
    """Run nutpie's sampler with the settings (its FutureWarnings about itself hushed)."""
    import nutpie

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.cores,
            seed=settings.seed,
            progress_bar=progress,
            low_rank_modified_mass_matrix=settings.low_rank_mass_matrix,
            target_accept=settings.target_accept,
        )
