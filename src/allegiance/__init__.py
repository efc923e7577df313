"""allegiance: Bayesian forecasts of defection and alliance formation among armed groups.

The data flow follows the modules: :mod:`~allegiance.spec` loads a model file,
:mod:`~allegiance.model` builds the PyMC model, :mod:`~allegiance.evidence`
turns observations into data, :mod:`~allegiance.posterior` fits and checks it,
and :mod:`~allegiance.forecast` turns draws into dated probabilities.
"""

from allegiance.errors import AllegianceError, EvidenceError, ProvenanceError, SpecError
from allegiance.evidence import EvidenceSet, load_evidence
from allegiance.forecast import Forecast, forecast
from allegiance.posterior import FitSettings, Posterior, fit, load_posterior
from allegiance.spec import ModelSpec, load_spec

__all__ = [
    "AllegianceError",
    "EvidenceError",
    "EvidenceSet",
    "FitSettings",
    "Forecast",
    "ModelSpec",
    "Posterior",
    "ProvenanceError",
    "SpecError",
    "fit",
    "forecast",
    "load_evidence",
    "load_posterior",
    "load_spec",
]
__version__ = "0.1.0"
