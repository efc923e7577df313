"""The engine: one PyMC model built from a model file, and its equations in numpy.

:mod:`~allegiance.model.structure` wires conditions, effects, slots and
channels; :mod:`~allegiance.model.terms` holds the equations, written once for
PyTensor (:mod:`~allegiance.model.build`) and numpy draws
(:mod:`~allegiance.model.quantities`, :mod:`~allegiance.model.patch`).

The functions named as their modules (``terms``, ``quantities``, ``structure``)
are imported from those modules, never from here: ``allegiance.model.terms`` is
the module, so ``mock.patch`` paths and documentation links resolve.
"""

from allegiance.model.build import build_model, coordinates, variable_beliefs
from allegiance.model.data import DATA_NAMES, ModelData
from allegiance.model.ops import numpy_ops, pytensor_ops
from allegiance.model.patch import changed_rows, patch_terms, row_evidence, row_terms
from allegiance.model.quantities import QUANTITY_TERMS, Quantities
from allegiance.model.stocks import STOCK_GROWTH, STOCK_START
from allegiance.model.structure import Structure
from allegiance.model.terms import (
    BASELINE,
    CONDITION_PROBABILITY,
    DESTINATION_WEIGHT,
    FREE_VARIABLES,
    LEAK,
    LEVEL,
    LOG_RATE,
    LOG_RATIO,
    OVERDISPERSION,
    config_log_prior,
    level_log_likelihood,
)

__all__ = [
    "BASELINE",
    "CONDITION_PROBABILITY",
    "DATA_NAMES",
    "DESTINATION_WEIGHT",
    "FREE_VARIABLES",
    "LEAK",
    "LEVEL",
    "LOG_RATE",
    "LOG_RATIO",
    "OVERDISPERSION",
    "QUANTITY_TERMS",
    "STOCK_GROWTH",
    "STOCK_START",
    "ModelData",
    "Quantities",
    "Structure",
    "build_model",
    "coordinates",
    "changed_rows",
    "config_log_prior",
    "level_log_likelihood",
    "numpy_ops",
    "patch_terms",
    "pytensor_ops",
    "row_evidence",
    "row_terms",
    "variable_beliefs",
]
