r"""A group's strength: its size over time, and the likelihood of estimates of it.

A stock :math:`s` (an actor's fighters) at month :math:`t` (from the
analysis month) is

.. math::

   S_s(t, z) = S_{s0}\, g_s^{t/12} + \sum_j F_{sj} \big(Y_j(t) + U_j(t)\, \mu_j(z)\big)
       + M_s(t)

with :math:`S_{s0} \sim \mathrm{LogNormal}` its size on the analysis date,
:math:`g_s \sim \mathrm{LogNormal}` the yearly factor of its trend apart from
what is counted, :math:`F_{sj} = \pm 1` for a channel flowing in or out,
:math:`Y_j(t)` the counts on record in months :math:`[0, t)`, :math:`U_j(t)`
the months not on record there, :math:`\mu_j(z)` the channel's expected
monthly count from the analysis date on, and :math:`M_s(t)` the fighters of
factions whose departure to a destination joining the actor is on record
before :math:`t`. Months before the analysis date follow the trend alone.

An estimate "low to high" of :math:`S_s(t)` is read as a log-normal
measurement: the log of the range's geometric middle is Normal around
:math:`\log S_s(t, z)` with the sd that puts 90 % within the range, its
log-density weighed by the grade. Flows enter the forecast at their expected
values: their month-to-month noise is small beside a group's size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from allegiance.model.data import ModelData
from allegiance.model.structure import Structure
from allegiance.spec import ModelSpec

STOCK_START = "stock_start"
STOCK_GROWTH = "stock_growth"
Z90 = 1.6448536269514722  # the 95th percentile of the standard normal


def estimate_sd(low: float, high: float) -> float:
    """Sd of log size that puts 90 % of a log-normal within ``[low, high]``."""
    return (math.log(high) - math.log(low)) / (2 * Z90)


def expected_rates(st: Structure, ops: Any, log_rate_post: Any) -> list[Any]:
    """Each flow channel's expected monthly count per configuration, [(..., Z)] by channel."""
    return [
        ops.matmul(ops.exp(log_rate_post[..., j, :]), st.stock_gather[f])
        for f, j in enumerate(st.stock_channels)
    ]


def stock_size(
    p: Mapping[str, Any],
    st: Structure,
    ops: Any,
    rates: list[Any],
    onehot: Any,
    month: Any,
    seen: Any,
    unseen: Any,
    merged: Any,
) -> Any:
    """Size of the stock of each row of ``onehot`` (rows, N) at ``month``, (..., rows, Z).

    ``seen`` and ``unseen`` (rows, J) are each channel's counts on record and
    months not on record up to the month, ``merged`` (rows,) the fighters of
    departures on record joining the stock by then.
    """
    start = ops.tensordot(p[STOCK_START], onehot.T, axes=1)
    log_growth = ops.tensordot(ops.log(p[STOCK_GROWTH]), onehot.T, axes=1)
    trend = start * ops.exp(log_growth * month / 12.0)
    sign = ops.tensordot(onehot, st.stock_flow, axes=1)
    fixed = trend + ops.sum(sign * seen, axis=-1) + merged
    size = fixed[..., :, None]
    for f, j in enumerate(st.stock_channels):
        size = size + (sign[:, j] * unseen[:, j])[:, None] * rates[f][..., None, :]
    return size


def stock_log_likelihood(
    p: Mapping[str, Any], d: Mapping[str, Any], st: Structure, ops: Any, log_rate_post: Any
) -> Any:
    """Log-likelihood of the estimates of stocks per configuration, (..., Z), or 0."""
    if not st.stock_flow.shape[0]:
        return 0.0
    rates = expected_rates(st, ops, log_rate_post) if st.stock_channels.size else []
    size = stock_size(
        p,
        st,
        ops,
        rates,
        d["stock_estimate_stock"],
        d["stock_estimate_month"],
        d["stock_estimate_seen"],
        d["stock_estimate_unseen"],
        d["stock_estimate_merged"],
    )
    log_size = ops.log(ops.softplus(size))  # the size itself, kept positive and smooth
    sd = d["stock_estimate_sd"][:, None]
    z = (d["stock_estimate_log_mid"][:, None] - log_size) / sd
    density = -0.5 * z**2 - ops.log(sd) - 0.5 * math.log(2 * math.pi)
    return ops.sum(d["stock_estimate_weight"][:, None] * density, axis=-2)


def joining(spec: ModelSpec, stock: str) -> list[tuple[str, str, str]]:
    """Return the exits (hazard, actor, destination) whose departures join a stock's actor."""
    actor = spec.stocks[stock].actor
    return [x for x in spec.exits if spec.propensities[x[0]].destinations[x[2]].to == actor]


def merged_fighters(spec: ModelSpec, data: ModelData, stock: str, month: float) -> float:
    """Fighters of the departures on record, before ``month``, that joined a stock's actor."""
    total = 0.0
    for x in joining(spec, stock):
        k = spec.slots.index(x[:2])
        left = data.slot_events[k] > 0 and data.slot_nonevents[k] < month
        if left and data.exit_observed[spec.exits.index(x)] > 0:
            total += spec.actors[x[1]].fighters
    return total
