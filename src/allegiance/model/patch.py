"""Fast re-evaluation: the terms under new evidence, recomputing only the rows it changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from allegiance.model.data import (
    CHANNEL_ROW,
    CONDITION,
    DATA_NAMES,
    ESTIMATE_OF,
    ESTIMATE_ROW,
    EXIT_ROW,
    LEVEL_ROLE,
    ROLES,
    SLOT_ROW,
    STOCK_ROLE,
    named,
)
from allegiance.model.ops import numpy_ops
from allegiance.model.stocks import stock_log_likelihood
from allegiance.model.structure import Structure
from allegiance.model.terms import level_log_likelihood, terms

# Every evidence array patch_terms accounts for, by its declared role (model/data.py): the
# rows' own (row_evidence), the evidence on the conditions (a shift over configurations),
# the levels and the stocks (recomputed whole).
SLOT_ARRAYS = named(role=SLOT_ROW)
CHANNEL_ARRAYS = named(role=CHANNEL_ROW)
ESTIMATE_ARRAYS = named(role=ESTIMATE_ROW)
(ESTIMATE_CHANNEL,) = named(role=ESTIMATE_OF)
EXIT_ARRAYS = named(role=EXIT_ROW)
CONDITION_ARRAYS = named(role=CONDITION)
LEVEL_ARRAYS = named(role=LEVEL_ROLE)
STOCK_ARRAYS = named(role=STOCK_ROLE)
PATCHED = frozenset(name for role in ROLES for name in named(role=role))
assert PATCHED == set(DATA_NAMES), "patch_terms must account for every evidence array"


def row_evidence(d: Mapping[str, np.ndarray], st: Structure, r: int) -> bytes:
    """Return the evidence row ``r`` (a slot, or a channel after the slots) reads, as bytes.

    A channel's whole series counts, before the analysis date and after, since
    both enter its terms (the constant or the per-configuration likelihood).
    """
    if r < st.n_slots:
        parts = [d[name][r] for name in SLOT_ARRAYS]
    elif r >= st.n_slots + st.n_channels:  # an exit
        parts = [d[name][r - st.n_slots - st.n_channels] for name in EXIT_ARRAYS]
    else:
        j = r - st.n_slots
        mine = d[ESTIMATE_CHANNEL][:, j] > 0  # the channel's estimated months
        parts = [d[name][j] for name in CHANNEL_ARRAYS]
        parts += [d[n][mine] for n in ESTIMATE_ARRAYS]
    return b"".join(np.ascontiguousarray(x).tobytes() for x in parts)


def changed_rows(
    d0: Mapping[str, np.ndarray], d1: Mapping[str, np.ndarray], st: Structure
) -> np.ndarray:
    """Rows (slots, then channels) whose evidence differs between two data sets: numpy only."""
    n_rows = st.sub_index.shape[0]
    return np.array([row_evidence(d0, st, r) != row_evidence(d1, st, r) for r in range(n_rows)])


def row_terms(
    p: Mapping[str, np.ndarray], d: Mapping[str, np.ndarray], st: Structure, rows: Sequence[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Each row's log-likelihood per sub-configuration (..., M) and its constant (...).

    The constant is the configuration-free part of a channel's likelihood; 0
    for a slot. A row's values do not depend on which rows are computed with
    it (every operation is per row), so they can be cached row by row.
    """
    active = np.zeros(st.sub_index.shape[0], dtype=bool)
    active[list(rows)] = True
    t = terms(p, d, st, numpy_ops(), active)
    out = {}
    j = 0
    for i, r in enumerate(np.flatnonzero(active)):
        ll = t["row_ll"][..., i, :]
        if st.n_slots <= r < st.n_slots + st.n_channels:
            out[int(r)] = (ll, t["channel_constant"][..., j])
            j += 1
        else:
            out[int(r)] = (ll, np.zeros(ll.shape[:-1]))
    return out


def patch_terms(
    p: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    d0: Mapping[str, np.ndarray],
    d1: Mapping[str, np.ndarray],
    st: Structure,
    rows: Callable[[list[int]], Mapping[int, tuple[np.ndarray, np.ndarray]]] | None = None,
) -> dict[str, np.ndarray]:
    """Numpy terms under evidence ``d1``, from those under ``d0``, recomputing what changed.

    Only the rows whose evidence differs (:func:`changed_rows`) are evaluated
    again; their change is added to the base log joint, summed first over the
    rows that share a sub-configuration index. This is what makes absorbing one
    more item cheap. The result depends only on the base and ``d1``.

    Parameters
    ----------
    p : mapping
        Free variables, each ``(draws, dim)``.
    base : mapping
        :func:`terms` of the same draws under ``d0``, all rows.
    d0, d1 : mapping
        Evidence arrays before and after.
    st : Structure
    rows : callable, optional
        ``rows(list)`` returns :func:`row_terms` of those rows under ``d1`` (a
        cache may serve them); computed directly by default.

    Returns
    -------
    dict
        ``log_joint``, ``constant``, ``config_prior``, ``channel_constant``
        and ``level_constant`` under ``d1``, equal to those of ``terms(p, d1,
        st, ...)`` up to round-off. Row terms are not assembled: patches
        always start from a full evaluation.
    """
    unknown = (set(d0) | set(d1)) - PATCHED
    if unknown:
        # A new evidence array must be patched here too, or updates would be stale.
        raise ValueError(f"patch_terms does not know the evidence arrays {sorted(unknown)}")
    rows = rows or (lambda which: row_terms(p, d1, st, which))
    config_prior, level_constant = base["config_prior"], base["level_constant"]
    log_joint = base["log_joint"]
    for name in CONDITION_ARRAYS:
        if np.array_equal(d0[name], d1[name]):
            continue
        # The evidence on the conditions enters the configuration prior additively and
        # does not depend on the draws: its change is one vector over configurations.
        delta = d1[name] - d0[name]
        zc = st.configurations
        shift = delta[:, 1] @ zc + delta[:, 0] @ (1.0 - zc)
        config_prior, log_joint = config_prior + shift, log_joint + shift
    if not (all(np.array_equal(d0[name], d1[name]) for name in LEVEL_ARRAYS)):
        level_constant = level_log_likelihood(p, d1, st, numpy_ops())
    if not all(np.array_equal(d0[name], d1[name]) for name in STOCK_ARRAYS):
        # Estimates of stocks read every flow channel's rate: recomputed whole, (draws, Z).
        stock_ll = stock_log_likelihood(p, d1, st, numpy_ops(), base.get("log_rate_post"))
        log_joint = log_joint + (stock_ll - base["stock_ll"])
    channel_constant = base["channel_constant"].copy()
    groups: dict[bytes, np.ndarray] = {}
    changed = [int(r) for r in np.flatnonzero(changed_rows(d0, d1, st))]
    new = rows(changed) if changed else {}
    for r in changed:
        ll, constant = new[r]
        key = st.sub_index[r].tobytes()
        groups[key] = groups.get(key, 0.0) + (ll - base["row_ll"][..., r, :])
        if st.n_slots <= r < st.n_slots + st.n_channels:
            channel_constant[..., r - st.n_slots] = constant
    if groups:
        # Gather every group's change to the configurations in one product with a one-hot
        # matrix: several times faster than indexing group by group.
        m, z = st.shift_sub.shape[2], st.n_configurations
        onehot = np.zeros((len(groups) * m, z))
        for g, key in enumerate(groups):
            onehot[g * m + np.frombuffer(key, dtype=st.sub_index.dtype), np.arange(z)] = 1.0
        log_joint = log_joint + np.concatenate(list(groups.values()), axis=-1) @ onehot
    return {
        "log_joint": log_joint,
        "constant": channel_constant.sum(axis=-1) + level_constant,
        "config_prior": config_prior,
        "channel_constant": channel_constant,
        "level_constant": level_constant,
    }
