"""How a channel's counts over the months not on record are forecast: negative binomial sums.

A month's count is NB(mu, r) (``r = 1 / overdispersion``); a sum of ``n``
such months is NB(n mu, n r). A channel moved by switch conditions has one
``mu`` per pattern of switches, so its months form blocks with their own
means, summed exactly by convolving the blocks' distributions; a switch set
off by an event not yet on record is summed over the months it may come in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.special as sp

from allegiance.model.structure import NEVER, structure
from allegiance.model.switches import patterns, switch_months

if TYPE_CHECKING:
    from allegiance.model import Quantities


def unrecorded(q: Quantities, channel: int, first: int, horizon: int) -> np.ndarray:
    """Months in ``[first, horizon)`` (from the analysis month) with no count on record."""
    months = np.arange(max(first, 0), max(horizon, first, 0))
    cells = q.spec.history_months + months
    return months[q.data.count_mask[channel, cells] <= 0]


def at_least(
    q: Quantities, channel: int, first: int, horizon: int, needed: np.ndarray | float
) -> np.ndarray:
    """P(the counts of the months not on record in ``[first, horizon)`` >= needed), (S, Z).

    ``needed`` is a number or one per draw, shape (draw, 1).
    """
    needed = np.asarray(needed, dtype=float)
    months = unrecorded(q, channel, first, horizon)
    st = structure(q.spec)
    r = st.n_slots + channel
    mine = st.row_switches[r][st.row_switches[r] >= 0]
    if not mine.size:
        tail, index = count_tail(q, channel, len(months), needed)
        return tail[:, index]
    when = switch_months(st, q.data.slot_events, q.data.slot_nonevents)
    index = q.sub_index[r]
    pending = [c for c in mine if when[c] == NEVER and st.switch_trigger[c] >= 0]
    if not pending:
        return _blocks_tail(q, channel, patterns(st, r, when, months), needed)[:, index]
    # One switch set off by an event not on record (the spec allows one per series): in
    # effect from month s when the event comes in month s - 1, from its months survived on.
    (c,) = pending
    a = int(st.switch_trigger[c])
    fire, survived = q.slot_p(a), q.exposure_months(a)
    total = np.zeros((q.n_draws, q.n_configurations))
    quiet = np.ones_like(total)  # P(no event before month s - 1)
    for s in range(survived + 1, horizon):
        chance = quiet * fire
        quiet = quiet * (1.0 - fire)
        scenario = when.copy()
        scenario[c] = s
        tail = _blocks_tail(q, channel, patterns(st, r, scenario, months), needed)
        total += chance * tail[:, index]
    return total + quiet * _blocks_tail(q, channel, patterns(st, r, when, months), needed)[:, index]


def count_tail(
    q: Quantities, channel: int, months: int, needed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """P(a sum of ``months`` months >= needed) per sub-configuration (S, M), and the index.

    Without switches: one block, in closed form. ``index`` maps each
    configuration to its column.
    """
    needed = np.asarray(needed, dtype=float)
    log_rate, index = q.channel_log_rate(channel)
    used, index = np.unique(index, return_inverse=True)
    if months <= 0 or np.all(needed <= 0):
        shape = (q.n_draws, len(used))
        return np.broadcast_to((needed <= 0).astype(float), shape), index
    mean = months * np.exp(log_rate[:, used])
    size = months / q.overdispersion[:, channel][:, None]
    # A sum of iid NB(mu, r) is NB(n mu, n r), and P(X >= k) = I_{1-p}(k, r) for k >= 1
    # (the regularized incomplete beta), with 1 - p = mean / (size + mean).
    tail = sp.betainc(np.maximum(needed, 1.0), size, mean / (size + mean))
    return np.where(needed <= 0, 1.0, tail), index


def _blocks_tail(
    q: Quantities, channel: int, month_patterns: np.ndarray, needed: np.ndarray
) -> np.ndarray:
    """P(sum >= needed) per sub-configuration (S, M), months in blocks of one pattern each."""
    rates = np.exp(q.sub_log_rate_post_pattern[:, channel])  # (S, M, P)
    per_month = 1.0 / q.overdispersion[:, channel][:, None]  # (S, 1)
    counts = np.bincount(month_patterns, minlength=rates.shape[-1])
    blocks = [(n, rates[..., p]) for p, n in enumerate(counts) if n]
    shape = rates.shape[:2]
    if np.all(needed <= 0):
        return np.ones(shape)
    if not blocks:
        return np.broadcast_to((needed <= 0).astype(float), shape).copy()
    if len(blocks) == 1:
        n, mu = blocks[0]
        mean, size = n * mu, n * per_month
        tail = sp.betainc(np.maximum(needed, 1.0), size, mean / (size + mean))
        return np.where(needed <= 0, 1.0, tail)
    # P(sum <= N - 1) = sum over a < N of P(rest = a) P(last <= N - 1 - a), rest convolved.
    import scipy.stats as ss  # here: a second of imports that only switched counts need
    from scipy.signal import fftconvolve

    top = int(np.max(needed))
    grid = np.arange(top)
    pmf = None
    for n, mu in blocks[:-1]:
        size = n * per_month
        block = ss.nbinom.pmf(grid, size[..., None], (size / (size + n * mu))[..., None])
        pmf = block if pmf is None else np.clip(fftconvolve(pmf, block, axes=-1)[..., :top], 0, 1)
    n, mu = blocks[-1]
    size = n * per_month
    k = np.asarray(needed)[..., None] - 1.0 - grid  # (S or 1, 1, top)
    last = np.where(
        k >= 0, ss.nbinom.cdf(k, size[..., None], (size / (size + n * mu))[..., None]), 0
    )
    assert pmf is not None
    below = np.sum(pmf * last, axis=-1)
    return np.where(needed <= 0, 1.0, np.clip(1.0 - below, 0.0, 1.0))
