"""How a channel's counts over the months not on record are forecast: negative binomial sums.

A month's count is NB(mu, r) (``r = 1 / overdispersion``); a sum of ``n``
such months is NB(n mu, n r). A channel moved by switch conditions has one
``mu`` per pattern of switches, so its months form blocks with their own
means, summed exactly by convolving the blocks' distributions; a switch set
off by an event not yet on record is summed over the months it may come in
(each with its chance, moved by any events upstream of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import scipy.special as sp

from allegiance.model.reactions import event_by_month
from allegiance.model.structure import NEVER, structure
from allegiance.model.switches import patterns, switch_months
from allegiance.spec import ModelSpec, count_threshold

if TYPE_CHECKING:
    from allegiance.model import Quantities

EXACT = 4096  # longest grid a sum of differently switched months is convolved on, exactly
CELLS = 2**20  # (draw, sub-configuration, count) cells convolved at once
LOST = 1e-12  # the mass of the rest of a sum its grid may leave out


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
    # effect from month s + lag when the event comes in month s, from its months survived on
    # (its chance each month moved by the events upstream of it, if any).
    (c,) = pending
    a, lag = int(st.switch_trigger[c]), int(st.switch_lag[c])
    survived = q.exposure_months(a)
    total = np.zeros((q.n_draws, q.n_configurations))
    quiet = np.ones_like(total)  # P(no event by the end of the last month drawn)
    months_fired = range(survived, horizon - lag)
    for s, (chance, later) in zip(
        months_fired, _firing(q, a, survived, horizon - lag), strict=True
    ):
        scenario = when.copy()
        scenario[c] = s + lag
        tail = _blocks_tail(q, channel, patterns(st, r, scenario, months), needed)
        total += chance * tail[:, index]
        quiet = later
    return total + quiet * _blocks_tail(q, channel, patterns(st, r, when, months), needed)[:, index]


def _firing(q: Quantities, a: int, start: int, end: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield P(slot ``a``'s event in month ``s``) and P(none by its end), ``s`` in ``[start, end)``.

    Geometric when nothing moves its chance; otherwise from the histories of
    the events upstream of it (:func:`~allegiance.model.reactions.event_by_month`).
    """
    st = structure(q.spec)
    if not np.any(st.row_switches[a] >= 0):
        fire = q.slot_p(a)
        quiet = np.ones((q.n_draws, q.n_configurations))
        for _ in range(start, end):
            chance = quiet * fire
            quiet = quiet * (1.0 - fire)
            yield chance, quiet
        return
    before = np.zeros((q.n_draws, q.n_configurations))
    for by in event_by_month(q, a, start, end):
        yield by - before, 1.0 - by
        before = by


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
    tail = _matched_tail if len(blocks) == 1 else _sum_tail  # one block: NB(n mu, n r), exact
    return np.where(needed <= 0, 1.0, tail(blocks, per_month, needed))


def _sum_tail(
    blocks: list[tuple[int, np.ndarray]], per_month: np.ndarray, needed: np.ndarray
) -> np.ndarray:
    """P(a sum of negative binomial blocks >= needed), (S, M), in bounded memory.

    ``P(sum <= N - 1)`` is the sum over ``a`` of ``P(rest = a) P(last <= N - 1 - a)``,
    the rest's pmf convolved on a grid that stops at ``N`` or where the rest has all but
    :data:`LOST` of its mass, whichever is first (the widest block is the last, in closed
    form), a few draws at a time (:data:`CELLS`). A grid longer than :data:`EXACT` gives
    way to one negative binomial with the sum's mean and variance (exact when the
    blocks' means per unit of size agree; within a tenth of the smaller tail of the
    exact sum where that tail is above 2 %, ``tests/test_counts_memory.py``).
    """
    import scipy.stats as ss  # here: a second of imports that only switched counts need

    spread = [ss.nbinom.ppf(1.0 - LOST / len(blocks), *_odds(n, mu, per_month)) for n, mu in blocks]
    last = int(np.argmax([np.max(x) for x in spread]))
    # The rest exceeds the sum of its blocks' quantiles only if one block exceeds its own.
    top = int(min(np.max(needed), np.max(sum(x for i, x in enumerate(spread) if i != last)) + 1))
    if top > EXACT:
        return _matched_tail(blocks, per_month, needed)
    ordered = [*(b for i, b in enumerate(blocks) if i != last), blocks[last]]
    n_draws, width = blocks[0][1].shape
    step = max(1, CELLS // (width * top))
    return np.concatenate([
        _convolved(
            [(n, mu[i : i + step]) for n, mu in ordered],
            per_month[i : i + step],
            needed[i : i + step] if needed.ndim else needed,
            top,
        )
        for i in range(0, n_draws, step)
    ])  # fmt: skip


def _odds(n: int, mu: np.ndarray, per_month: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Size and success probability of ``n`` months of mean ``mu`` each (scipy's nbinom)."""
    size = n * per_month
    return size, size / (size + n * mu)


def _convolved(
    blocks: list[tuple[int, np.ndarray]], per_month: np.ndarray, needed: np.ndarray, top: int
) -> np.ndarray:
    """P(sum >= needed), the blocks but the last convolved on a grid of ``top`` counts."""
    import scipy.stats as ss
    from scipy.signal import fftconvolve

    grid = np.arange(top)
    pmf = None
    for n, mu in blocks[:-1]:
        size, p = _odds(n, mu, per_month)
        block = ss.nbinom.pmf(grid, size[..., None], p[..., None])
        pmf = block if pmf is None else np.clip(fftconvolve(pmf, block, axes=-1)[..., :top], 0, 1)
    assert pmf is not None
    size, p = _odds(*blocks[-1], per_month)
    k = needed[..., None] - 1.0 - grid  # (S or 1, 1, top)
    below = np.sum(pmf * np.where(k >= 0, ss.nbinom.cdf(k, size[..., None], p[..., None]), 0), -1)
    return np.clip(1.0 - below, 0.0, 1.0)


def _matched_tail(
    blocks: list[tuple[int, np.ndarray]], per_month: np.ndarray, needed: np.ndarray
) -> np.ndarray:
    """P(sum >= needed) of the negative binomial with the blocks' summed mean and variance.

    A month is NB(mu, r), of variance ``mu (1 + mu / r)``; the matched size is
    ``mean**2 / (variance - mean)``, and ``P(X >= k) = I_{1-p}(k, size)`` for k >= 1.
    """
    mean = sum(n * mu for n, mu in blocks)
    variance = sum(n * mu * (1.0 + mu / per_month) for n, mu in blocks)
    size = mean**2 / (variance - mean)
    return np.asarray(sp.betainc(np.maximum(needed, 1.0), size, mean / (size + mean)))


def costly(spec: ModelSpec, draws: int) -> list[str]:
    """Return a line for each count question whose sum is long: a threshold past :data:`EXACT`.

    On a series moved by switches such a sum is approximated past the bound
    (:func:`_sum_tail`); summed exactly it would hold ``draws x configurations x
    threshold`` numbers per month a pending switch may come in.
    """
    st, out = structure(spec), []
    for q in spec.questions.values():
        f = q.fields
        if q.kind not in ("count", "fighters_leave", "absorption"):
            continue
        r = st.n_slots + spec.channels.index((f["series"], f["category"]))
        needed = count_threshold(spec, q) if q.kind != "absorption" else float(f["threshold"])
        if needed <= EXACT or not np.any(st.row_switches[r] >= 0):
            continue
        size = draws * st.n_configurations * needed * 8
        out.append(
            f"questions.{q.id}: a sum of at least {needed:,.0f} on {f['series']}.{f['category']}, "
            f"a series moved by switches: an exact sum would hold {size / 1e9:,.1f} GB at "
            f"{draws:,} draws per month a pending switch may come in; past {EXACT:,} it is "
            "approximated (a negative binomial of the same mean and variance)."
        )
    return out
