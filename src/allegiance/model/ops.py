"""Array functions of the two backends :func:`~allegiance.model.terms.terms` runs on.

The equations are written once against this small namespace: PyTensor
tensors inside the PyMC model, numpy arrays with a leading draw axis for
forecasts and updates.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import scipy.special as sp


def _logaddexp(a: Any, b: Any) -> np.ndarray:
    # numpy's own logaddexp is scalar code; this form runs vectorised, about twice as fast.
    return np.maximum(a, b) + np.log1p(np.exp(-np.abs(a - b)))


def numpy_ops() -> SimpleNamespace:
    """Return the numpy backend: arrays with a leading draw axis."""
    return SimpleNamespace(
        log=np.log,
        exp=np.exp,
        expm1=np.expm1,
        log1p=np.log1p,
        maximum=np.maximum,
        minimum=np.minimum,
        betainc=sp.betainc,
        pick=lambda onehot, x: np.einsum("ej,...jm->...em", onehot, x),
        spread=lambda onehot, x: np.einsum("ej,...em->...jm", onehot, x),
        sum=np.sum,
        concatenate=np.concatenate,
        gammaln=sp.gammaln,
        softplus=lambda x: _logaddexp(0.0, x),
        log1mexp=lambda x: np.log(-np.expm1(x)),
        logaddexp=_logaddexp,
        gather_sum=lambda x, g: x.reshape(*x.shape[:-2], -1) @ g,
        matmul=np.matmul,
        tensordot=np.tensordot,
        shift_sum=lambda coef, sub: np.einsum("...er,erm->...rm", coef, sub, optimize=True),
    )


def pytensor_ops() -> SimpleNamespace:
    """Return the PyTensor backend, for the PyMC graph (no draw axis)."""
    import pytensor.tensor as pt

    def gather_sum(x: Any, gather: np.ndarray) -> Any:
        # The PyMC graph has no draw axis: a dot with a constant one-hot matrix
        # keeps the gradient a dense product instead of a scatter.
        return pt.dot(x.reshape((-1,)), gather)

    return SimpleNamespace(
        log=pt.log,
        exp=pt.exp,
        expm1=pt.expm1,
        log1p=pt.log1p,
        maximum=pt.maximum,
        minimum=pt.minimum,
        betainc=pt.betainc,
        pick=lambda onehot, x: pt.tensordot(onehot, x, axes=[[1], [0]]),
        spread=lambda onehot, x: pt.tensordot(onehot.T, x, axes=[[1], [0]]),
        sum=pt.sum,
        concatenate=pt.concatenate,
        gammaln=pt.gammaln,
        softplus=pt.softplus,
        log1mexp=pt.log1mexp,
        logaddexp=pt.logaddexp,
        gather_sum=gather_sum,
        matmul=pt.dot,
        tensordot=pt.tensordot,
        shift_sum=lambda coef, sub: pt.sum(coef[:, :, None] * sub, axis=0),
    )
