"""The PyMC model of a spec, with its evidence in ``pm.Data`` containers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from allegiance import dims
from allegiance.model.data import ModelData, graph_names
from allegiance.model.ops import pytensor_ops
from allegiance.model.structure import structure
from allegiance.model.terms import (
    BASELINE,
    CONDITION_PROBABILITY,
    DESTINATION_WEIGHT,
    LEAK,
    LEVEL,
    LOG_RATE,
    LOG_RATIO,
    OVERDISPERSION,
    STOCK_GROWTH,
    STOCK_START,
    terms,
)
from allegiance.spec import Justified, ModelSpec
from allegiance.spec.priors import FAMILIES

NECESSARY = "necessary_effect"
EXIT = "exit"
STOCK = "stock"
SERIES = "series"

if TYPE_CHECKING:
    import pymc as pm


def variable_beliefs(spec: ModelSpec) -> dict[str, tuple[list[Justified], str]]:
    """Return each free variable's priors, one per element, and its dimension.

    Variables a model does not have (no levels, no series, ...) are left out.
    ``log_rate`` is the logarithm of a magnitude stated as ``typical``.
    """
    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]
    out = {
        CONDITION_PROBABILITY: (
            [spec.conditions[c].prior_belief for c in spec.binary_conditions],
            dims.BINARY,
        ),
        LEVEL: ([spec.conditions[c].prior_belief for c in spec.level_conditions], dims.LEVEL),
        BASELINE: ([spec.propensities[n].baselines[m] for n, m in spec.slots], dims.SLOT),
        LOG_RATIO: ([e.belief for e in shifts], dims.EFFECT),
        LEAK: ([e.belief for e in necessary], NECESSARY),
        LOG_RATE: ([spec.series[s].baselines[c] for s, c in spec.channels], dims.CHANNEL),
        OVERDISPERSION: ([s.overdispersion for s in spec.series.values()], SERIES),
        DESTINATION_WEIGHT: (
            [
                Justified(d.weight, d.share.rationale, d.share.provenance)
                for h, _, name in spec.exits
                for d in [spec.propensities[h].destinations[name]]
            ],
            EXIT,
        ),
        STOCK_START: ([s.start for s in spec.stocks.values()], STOCK),
        STOCK_GROWTH: ([s.growth for s in spec.stocks.values()], STOCK),
    }
    return {name: v for name, v in out.items() if v[0] or name == BASELINE}


def build_model(spec: ModelSpec, data: ModelData, estimates: bool | None = None) -> pm.Model:
    """Build the PyMC model of a spec, with the evidence in ``pm.Data`` containers.

    Parameters
    ----------
    spec : ModelSpec
        A validated model file.
    data : ModelData
        Evidence arrays; swap new ones in with ``pm.set_data`` or nutpie's
        ``with_data`` without rebuilding.
    estimates : bool, optional
        Give the graph its slots for estimated monthly totals (an incomplete
        beta per slot and configuration, which slows sampling about threefold);
        by default only when ``data`` holds an estimate.

    Returns
    -------
    pymc.Model
    """
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model(coords=coordinates(spec)) as model:
        if estimates is None:
            estimates = bool(np.any(data.estimate_weight))
        names = graph_names(estimates=estimates, stocks=bool(spec.stocks))
        d = {name: pm.Data(name, getattr(data, name)) for name in names}
        p = {
            name: _variable(pm, name, beliefs, dim)
            for name, (beliefs, dim) in variable_beliefs(spec).items()
        }
        t = terms(p, d, structure(spec), pytensor_ops())
        pm.Potential("likelihood", pt.logsumexp(t["log_joint"], axis=-1) + t["constant"])
    return model


def _variable(pm: Any, name: str, beliefs: list[Justified], dim: str) -> Any:
    """One free variable: its elements' priors, of one family, as a vector distribution."""
    family = beliefs[0].prior.family if beliefs else "beta"
    keys = beliefs[0].prior.params if beliefs else {"alpha": 1.0, "beta": 1.0}
    params = {k: np.array([b.prior.params[k] for b in beliefs]) for k in keys}
    # A count channel's log-rate is the log of its LogNormal magnitude: a Normal.
    distribution = "Normal" if name == LOG_RATE else FAMILIES[family].pymc
    return getattr(pm, distribution)(name, **params, dims=dim)


def coordinates(spec: ModelSpec) -> dict[str, list[Any]]:
    """Return the label of each element of each dimension, as the PyMC model's coords."""
    return {
        dims.BINARY: spec.binary_conditions,
        dims.LEVEL: spec.level_conditions,
        dims.SLOT: [f"{n}.{a}" if a else n for n, a in spec.slots],
        dims.EFFECT: [e.id for e in spec.effects if e.kind == "shift"],
        NECESSARY: [e.id for e in spec.effects if e.kind == "necessary"],
        dims.CHANNEL: [f"{s}.{c}" for s, c in spec.channels],
        SERIES: list(spec.series),
        EXIT: [f"{h}.{a}:{d}" if a else f"{h}:{d}" for h, a, d in spec.exits],
        STOCK: list(spec.stocks),
        dims.MONTH: list(range(-spec.history_months, spec.forward_months)),
    }
