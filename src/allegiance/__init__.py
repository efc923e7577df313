"""allegiance: Bayesian forecasts of defection and alliance formation among armed groups.

The data flow follows the modules: :mod:`~allegiance.spec` loads a model file,
:mod:`~allegiance.model` builds the PyMC model, :mod:`~allegiance.evidence`
turns observations into data, :mod:`~allegiance.posterior` fits and checks it,
:mod:`~allegiance.forecast` turns draws into dated probabilities, and
:mod:`~allegiance.update` carries a fit over to new evidence.
"""

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

__all__ = [
    "AllegianceError",
    "EvidenceError",
    "EvidenceSet",
    "FitSettings",
    "LedgerError",
    "Forecast",
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
]
__version__ = "0.1.0"
