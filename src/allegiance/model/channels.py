"""The count channels' terms: negative binomial monthly counts and estimated totals.

Part of :func:`allegiance.model.terms.terms`, for both backends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from allegiance.model.structure import Structure

LOG_RATE = "log_rate"
OVERDISPERSION = "overdispersion"


def channel_terms(
    p: Mapping[str, Any],
    d: Mapping[str, Any],
    st: Structure,
    ops: Any,
    js: Any,
    shift: Any,
    switched: Any,
    *,
    exact: bool,
) -> dict[str, Any]:
    """Return the count channels' terms: negative binomial, free of configurations before.

    Months before the analysis date do not depend on the conditions. A
    channel moved by switch conditions has one rate per pattern of switches
    (``switched``, (..., J, P)): its months from the analysis date on are
    split by pattern (``count_pattern``).

    ``exact`` (every channel, PyMC or numpy) sums the observed cells one by
    one; otherwise (numpy, some channels) once per distinct count.
    """
    # A one-hot product, not an index: indexing a parameter with an array puts
    # advanced-indexing ops, which numba runs in object mode, into the gradient.
    onehot = np.eye(st.channel_series.max() + 1)[st.channel_series]  # (J, n_series)
    phi = ops.tensordot(p[OVERDISPERSION], onehot.T, axes=1)
    rho, log_alpha, alpha = p[LOG_RATE], -ops.log(phi), 1.0 / phi
    y, mask, pattern = d["counts"], d["count_mask"], d["count_pattern"]
    if not exact:
        y, mask, pattern = y[js], mask[js], pattern[js]
        rho, log_alpha, alpha = rho[..., js], log_alpha[..., js], alpha[..., js]
    n_pre = ops.sum(mask * (1.0 - st.post), axis=-1)
    y_pre = ops.sum(mask * (1.0 - st.post) * y, axis=-1)
    n_post = ops.sum((mask * st.post)[:, :, None] * pattern, axis=-2)  # (J, P)
    y_post = ops.sum((mask * st.post * y)[:, :, None] * pattern, axis=-2)

    def nb_kernel(n: Any, total: Any, log_mu: Any, a: Any, log_a: Any) -> Any:
        return -n * a * ops.softplus(log_mu - log_a) - total * ops.softplus(log_a - log_mu)

    if exact:
        per_obs = mask * (
            ops.gammaln(y + alpha[..., None]) - ops.gammaln(alpha[..., None]) - ops.gammaln(y + 1.0)
        )
        observed = ops.sum(per_obs, axis=-1)
    else:
        observed = _observed_by_value(y, mask, alpha, ops)
    log_rate_post = (rho[..., None] + shift)[..., None] + switched[..., :, None, :]  # (.., J, M, P)
    post = nb_kernel(
        n_post[:, None, :],
        y_post[:, None, :],
        log_rate_post,
        alpha[..., None, None],
        log_alpha[..., None, None],
    )
    row_ll = ops.sum(post, axis=-1) + _estimates(
        d, ops, js, rho, log_alpha, alpha, log_rate_post, st.shift_pattern.shape[2], exact=exact
    )
    return {
        "row_ll": row_ll,
        "channel_constant": observed + nb_kernel(n_pre, y_pre, rho, alpha, log_alpha),
        "log_rate_pre": p[LOG_RATE],
        "log_rate_post": log_rate_post[..., 0],
        "log_rate_post_pattern": log_rate_post,
        "overdispersion": phi,
    }


def _estimates(
    d: Mapping[str, Any],
    ops: Any,
    js: Any,
    rho: Any,
    log_alpha: Any,
    alpha: Any,
    log_rate_post: Any,
    n_patterns: int,
    *,
    exact: bool,
) -> Any:
    """Estimated monthly totals: ``w log P(low <= y <= high)``, per channel row (..., J, M).

    ``P(y <= k) = I_p(alpha, k + 1)`` (the regularised incomplete beta) for a
    negative binomial with ``p = alpha / (alpha + mu)``. A month before the
    analysis date takes the channel's past rate, for every configuration.
    Numpy evaluates only the estimates in use; the PyMC graph has them all
    (unused slots weigh 0), so that its shape never changes.
    """
    if "estimate_weight" not in d:  # a graph built without estimate slots
        return 0.0
    onehot, w = d["estimate_channel"], d["estimate_weight"]
    low, high, post = d["estimate_low"], d["estimate_high"], d["estimate_post"]
    if not exact:
        onehot = onehot[:, js]
    if not isinstance(w, np.ndarray):  # PyTensor: every slot
        used: Any = slice(None)
    else:
        used = np.flatnonzero((w > 0) & (onehot.sum(axis=1) > 0))
        if not used.size:
            return 0.0
    pattern = d["estimate_pattern"]
    onehot, w, low, high, post = onehot[used], w[used], low[used], high[used], post[used]
    pattern = pattern[used]
    # The estimated month's own pattern of switches (pattern 0 without any).
    picked = sum(
        pattern[:, q][:, None] * ops.pick(onehot, log_rate_post[..., q]) for q in range(n_patterns)
    )
    log_mu = (
        post[:, None] * picked
        + (1.0 - post[:, None]) * (ops.tensordot(rho, onehot.T, axes=1)[..., None])
    )
    # An unused slot (no channel) gets alpha 1, not 0: finite values and gradients, weight 0.
    a = (ops.tensordot(alpha, onehot.T, axes=1) + 1.0 - onehot.sum(axis=1))[..., None]
    x = ops.exp(-ops.softplus(log_mu - ops.tensordot(log_alpha, onehot.T, axes=1)[..., None]))
    below = ops.minimum(low, 1.0)[:, None] * ops.betainc(a, ops.maximum(low, 1.0)[:, None], x)
    inside = ops.betainc(a, high[:, None] + 1.0, x) - below
    return ops.spread(onehot, w[:, None] * ops.log(ops.maximum(inside, 1e-300)))


def _observed_by_value(y: np.ndarray, mask: np.ndarray, alpha: np.ndarray, ops: Any) -> Any:
    """Numpy: the observed cells' gamma terms, once per distinct count, channel by channel.

    A channel's value must not depend on which channels are computed with it:
    rows are cached one by one.
    """
    per_channel = []
    for i in range(y.shape[0]):
        cells = np.flatnonzero(mask[i])
        values, which = np.unique(y[i, cells], return_inverse=True)
        m = mask[i, cells]  # a fractional mask tempers the cell
        a = alpha[..., i]
        per_channel.append(
            ops.gammaln(values + a[..., None]) @ np.bincount(which, weights=m)
            - m.sum() * ops.gammaln(a)
            - m @ ops.gammaln(y[i, cells] + 1.0)
        )
    return np.stack(per_channel, -1) if per_channel else np.zeros_like(alpha)
