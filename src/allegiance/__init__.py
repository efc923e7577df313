"""allegiance: Bayesian forecasts of defection and alliance formation among armed groups.

The subpackages follow the data: :mod:`~allegiance.spec` loads a model file,
:mod:`~allegiance.model` builds the PyMC model, :mod:`~allegiance.evidence`
turns observations into data, :mod:`~allegiance.posterior` fits and checks it,
:mod:`~allegiance.forecast` turns draws into dated probabilities,
:mod:`~allegiance.update` carries a fit over to new evidence,
:mod:`~allegiance.ledger` keeps the record, and :mod:`~allegiance.workflow`
runs it all as an analyst does; :mod:`~allegiance.cli` is its command line.

Names are imported on first use, so that ``import allegiance`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from allegiance.errors import (
        AllegianceError,
        EvidenceError,
        LedgerError,
        ProvenanceError,
        SpecError,
    )
    from allegiance.evidence import EvidenceSet, load_evidence
    from allegiance.forecast import Forecast, forecast
    from allegiance.posterior import FitSettings, Posterior, fit, load_posterior
    from allegiance.spec import ModelSpec, load_spec
    from allegiance.update import Updater, replay
    from allegiance.workflow import run_forecast

# Public name -> the module that defines it.
_EXPORTS = {
    "AllegianceError": "allegiance.errors",
    "EvidenceError": "allegiance.errors",
    "LedgerError": "allegiance.errors",
    "ProvenanceError": "allegiance.errors",
    "SpecError": "allegiance.errors",
    "EvidenceSet": "allegiance.evidence",
    "load_evidence": "allegiance.evidence",
    "Forecast": "allegiance.forecast",
    "forecast": "allegiance.forecast",
    "FitSettings": "allegiance.posterior",
    "Posterior": "allegiance.posterior",
    "fit": "allegiance.posterior",
    "load_posterior": "allegiance.posterior",
    "ModelSpec": "allegiance.spec",
    "load_spec": "allegiance.spec",
    "Updater": "allegiance.update",
    "replay": "allegiance.update",
    "run_forecast": "allegiance.workflow",
}
__all__ = [
    "AllegianceError",
    "EvidenceError",
    "EvidenceSet",
    "FitSettings",
    "Forecast",
    "LedgerError",
    "ModelSpec",
    "Posterior",
    "ProvenanceError",
    "SpecError",
    "Updater",
    "fit",
    "forecast",
    "load_evidence",
    "load_posterior",
    "load_spec",
    "replay",
    "run_forecast",
]
assert sorted(__all__) == sorted(_EXPORTS)
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'allegiance' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
