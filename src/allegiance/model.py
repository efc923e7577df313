r"""The engine: one PyMC model built from a model file.

Equations
---------
Binary conditions :math:`c_b \in \{0, 1\}`, :math:`b = 1..B`, are never
sampled. The model enumerates all :math:`2^B` configurations :math:`z` and
marginalises them in the likelihood, so NUTS sees a continuous posterior:

.. math::

   \log p(y \mid \theta) = \operatorname{logsumexp}_z
       \Big[\sum_b z_b \log(\pi_b L_{b1}) + (1 - z_b) \log((1 - \pi_b) L_{b0})
       + \ell_{\text{slots}}(z, \theta) + \ell_{\text{post}}(z, \theta)\Big]
       + \ell_{\text{pre}}(\theta) + \ell_{\text{levels}}(\theta)

with :math:`\pi_b \sim \mathrm{Beta}` the prior probability of condition
:math:`b` and :math:`L_{b\cdot}` the likelihood of the evidence on it (1 when
there is none; hard evidence puts :math:`e^{-50}` on the other state).

Propensities. Each slot :math:`k` (a propensity for one actor) has a baseline
:math:`q_k \sim \mathrm{Beta}`: the chance of its event within :math:`W_k`
months (:math:`W_k = 1` for a one-off chance) when no shift applies. Its
per-period probability is

.. math::

   \eta_k(z) = \operatorname{logit}\big(1 - (1 - q_k)^{1/W_k}\big)
       + \sum_{e \in \text{shift}} s_e \beta_e A_{ek} x_e(z), \qquad
   p_k(z) = \sigma(\eta_k(z)) \prod_{n \in \text{necessary}}
       \lambda_n^{T_{nk}(1 - z_{b_n})}

where :math:`s_e = \pm 1` is the declared direction, :math:`\beta_e = \log`
(ratio) :math:`\sim \mathrm{Gamma}`, :math:`x_e` is :math:`z_b` for a binary
condition and :math:`u_l - 1/2` for a level :math:`u_l \sim \mathrm{Beta}`,
and :math:`\lambda_n \sim \mathrm{Beta}` is the leak of a near-necessary
condition (funding: a faction without it can still leave, rarely). A hazard's
evidence is :math:`m_k` months survived and :math:`d_k \in \{0, 1\}` departure:
:math:`\ell_{\text{slots}} = \sum_k d_k \log p_k + m_k \log(1 - p_k)
+ \log(p_k \Lambda_k + 1 - p_k)`, the last term being reports on a chance
outcome with tempered likelihood ratio :math:`\Lambda_k` (virtual evidence);
:math:`P(\text{leave within } H) = 1 - (1 - p_k)^H`.

Counts. Channel :math:`j` (a series category) has monthly counts
:math:`y_{jt} \sim \mathrm{NegBin}(\mu_{jt}, \alpha_j)` with
:math:`\log \mu_{jt} = \rho_j` before the analysis date and
:math:`\rho_j + \sum_e s_e \beta_e A_{ej} x_e(z)` from it on, so conditions,
which describe the world from the analysis date, move only forward counts
and history pins :math:`\rho_j \sim \mathrm{Normal}` linearly.
:math:`1/\alpha_j \sim \mathrm{LogNormal}` is the overdispersion.

All evidence enters through ``pm.Data`` containers of fixed shape, so new
evidence changes data, never the graph.

Examples
--------
>>> from allegiance.spec import load_spec
>>> from allegiance.evidence import no_evidence
>>> spec = load_spec("models/afghanistan_2020.yaml")  # doctest: +SKIP
>>> pymc_model = build_model(spec, no_evidence(spec))  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.special as sp

from allegiance import dims
from allegiance.spec import ModelSpec

if TYPE_CHECKING:
    import pymc as pm

    from allegiance.evidence import ModelData

LEVEL_CENTRE = 0.5
MEMO_SIZE = 24  # gathered slot probabilities a Quantities keeps, (draw, configuration) each

# Free variables of the PyMC model, named once.
CONDITION_PROBABILITY = "condition_probability"
LEVEL = "level"
BASELINE = "baseline"
LOG_RATIO = "log_ratio"
LEAK = "leak"
LOG_RATE = "log_rate"
OVERDISPERSION = "overdispersion"
FREE_VARIABLES = (CONDITION_PROBABILITY, LEVEL, BASELINE, LOG_RATIO, LEAK, LOG_RATE, OVERDISPERSION)
DATA_NAMES = (
    "condition_loglik",
    "slot_log_lr",
    "level_value",
    "level_mask",
    "slot_events",
    "slot_nonevents",
    "counts",
    "count_mask",
)


def _numpy_logaddexp(a: Any, b: Any) -> np.ndarray:
    # numpy's own logaddexp is scalar code; this form runs vectorised, about twice as fast.
    return np.maximum(a, b) + np.log1p(np.exp(-np.abs(a - b)))


def _numpy_ops() -> SimpleNamespace:
    return SimpleNamespace(
        log=np.log,
        exp=np.exp,
        expm1=np.expm1,
        log1p=np.log1p,
        sum=np.sum,
        concatenate=np.concatenate,
        gammaln=sp.gammaln,
        softplus=lambda x: _numpy_logaddexp(0.0, x),
        log1mexp=lambda x: np.log(-np.expm1(x)),
        logaddexp=_numpy_logaddexp,
        gather_sum=lambda x, g: x.reshape(*x.shape[:-2], -1) @ g,
        matmul=np.matmul,
        tensordot=np.tensordot,
        shift_sum=lambda coef, sub: np.einsum("...er,erm->...rm", coef, sub, optimize=True),
    )


def _pytensor_ops() -> SimpleNamespace:
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


@dataclass(frozen=True)
class Structure:
    """Constant arrays that wire a spec's conditions, effects, slots and channels together.

    *Rows* are the slots followed by the count channels. Each row depends on a
    few binary conditions only (those of the effects that reach it), so its
    quantities are computed once per *sub-configuration* of those conditions
    (at most M of them) and gathered to the 2**B configurations by index.
    """

    configurations: np.ndarray  # (B, Z) of 0/1
    window: np.ndarray  # (K,) months W of each slot's baseline statement
    shift_condition_level: np.ndarray  # (E, L) one-hot, zero row for binary effects
    shift_rows: np.ndarray  # (E, R) signed incidence
    shift_sub: np.ndarray  # (E, R, M): x_e of binary effect e in row r's sub-configuration m
    necessary_absent: np.ndarray  # (N, K, M): 1 where n reaches slot k and is false in m
    sub_index: np.ndarray  # (R, Z): each configuration's sub-configuration, per row
    gather_matrix: np.ndarray  # (R * M, Z) one-hot form of sub_index
    n_slots: int
    channel_series: np.ndarray  # (J,) index of each channel's series
    post: np.ndarray  # (T,) 1 for months from the analysis month on
    level_sd: float = 0.05

    @property
    def n_configurations(self) -> int:
        """Return the number of enumerated configurations, 2**B."""
        return int(self.configurations.shape[1])


def structure(spec: ModelSpec) -> Structure:
    """Derive the constant wiring arrays of a spec."""
    binary, levels = spec.binary_conditions, spec.level_conditions
    rows = [*spec.slots, *spec.channels]
    n_slots = len(spec.slots)
    configs = np.array(list(itertools.product((0, 1), repeat=len(binary))), dtype=float).T
    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]

    def incidence(effects: list[Any], signed: bool) -> np.ndarray:
        out = np.zeros((len(effects), len(rows)))
        for i, e in enumerate(effects):
            for t in e.targets:
                for r, (node, member) in enumerate(rows):
                    if node == t.node and (t.member is None or t.member == member):
                        out[i, r] = e.direction if signed else 1.0
        return out

    def one_hot(effects: list[Any], ids: list[str]) -> np.ndarray:
        out = np.zeros((len(effects), len(ids)))
        for i, e in enumerate(effects):
            if e.condition in ids:
                out[i, ids.index(e.condition)] = 1.0
        return out

    shift_rows = incidence(shifts, signed=True)
    necessary_rows = incidence(necessary, signed=False)
    shift_binary, necessary_binary = one_hot(shifts, binary), one_hot(necessary, binary)
    # The binary conditions each row depends on.
    reach = (np.abs(shift_rows).T @ shift_binary + necessary_rows.T @ necessary_binary) > 0
    width = max((int(r.sum()) for r in reach), default=0)
    m_sub = 2**width
    sub = np.zeros((len(rows), m_sub, len(binary)))  # sub-configurations as full 0/1 vectors
    sub_index = np.zeros((len(rows), configs.shape[1]), dtype=int)
    for r, depends in enumerate(reach):
        on = np.flatnonzero(depends)
        for m, bits in enumerate(itertools.product((0, 1), repeat=len(on))):
            sub[r, m, on] = bits
        weights = 2 ** np.arange(len(on))[::-1]
        sub_index[r] = weights @ configs[on].astype(int) if len(on) else 0
    gather = np.zeros((len(rows) * m_sub, configs.shape[1]))
    gather[np.arange(len(rows))[:, None] * m_sub + sub_index, np.arange(configs.shape[1])] = 1.0

    series_ids = list(spec.series)
    post = np.zeros(spec.window_months)
    post[spec.history_months :] = 1.0
    return Structure(
        configurations=configs,
        window=np.array([spec.propensities[p].within_months for p, _ in spec.slots], dtype=float),
        shift_condition_level=one_hot(shifts, levels),
        shift_rows=shift_rows,
        shift_sub=np.einsum("eb,rmb->erm", shift_binary, sub),
        necessary_absent=necessary_rows[:, :n_slots, None]
        * (1.0 - np.einsum("nb,kmb->nkm", necessary_binary, sub[:n_slots])),
        sub_index=sub_index,
        gather_matrix=gather,
        n_slots=n_slots,
        channel_series=np.array([series_ids.index(s) for s, _ in spec.channels], dtype=int),
        post=post,
    )


def row_evidence(d: Mapping[str, np.ndarray], st: Structure, r: int) -> bytes:
    """Return the evidence row ``r`` (a slot, or a channel after the slots) reads, as bytes.

    A channel's whole series counts, before the analysis date and after, since
    both enter its terms (the constant or the per-configuration likelihood).
    """
    if r < st.n_slots:
        parts = [d[name][r] for name in ("slot_events", "slot_nonevents", "slot_log_lr")]
    else:
        parts = [d["counts"][r - st.n_slots], d["count_mask"][r - st.n_slots]]
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
    t = terms(p, d, st, _numpy_ops(), active)
    out = {}
    n_slots = 0
    for i, r in enumerate(np.flatnonzero(active)):
        ll = t["row_ll"][..., i, :]
        if r < st.n_slots:
            n_slots += 1
            out[int(r)] = (ll, np.zeros(ll.shape[:-1]))
        else:
            out[int(r)] = (ll, t["channel_constant"][..., i - n_slots])
    return out


def terms(
    p: Mapping[str, Any],
    d: Mapping[str, Any],
    st: Structure,
    ops: SimpleNamespace,
    active: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per-configuration terms of the log joint, for PyMC tensors or numpy draws alike.

    Parameters
    ----------
    p : mapping
        Free variables by name; each has shape ``(..., dim)`` where ``...`` is
        empty in the PyMC graph and the draw axis in numpy.
    d : mapping
        Evidence arrays (see :data:`DATA_NAMES`).
    st : Structure
        Constant wiring of the spec.
    ops : namespace
        Array functions of the backend (:func:`_numpy_ops` or :func:`_pytensor_ops`).
    active : array of bool, optional
        Numpy only: compute the terms of just these rows (slots, then
        channels), as an update does for the rows whose evidence changed
        (:func:`changed_rows`). Only row terms are returned (``row_ll``,
        ``channel_constant``, ``log_p``, ``log_rate_post``, ...), for the
        active rows; nothing is assembled.

    Returns
    -------
    dict
        ``log_joint`` (..., Z): log prior of each configuration plus the
        configuration-dependent log-likelihood; ``constant`` (...): the rest
        of the log-likelihood. Their parts: ``config_prior`` (..., Z),
        ``row_ll`` (..., R, M) each row's log-likelihood per
        sub-configuration, ``channel_constant`` (..., J) and
        ``level_constant`` (...). Row quantities: ``log_p``, ``log1m_p``
        (..., K, M) slot probabilities per sub-configuration;
        ``log_rate_pre`` (..., J), ``log_rate_post`` (..., J, M),
        ``overdispersion`` (..., J).
    """
    k = st.n_slots
    rows = np.arange(st.sub_index.shape[0]) if active is None else np.flatnonzero(active)
    n_k = int((rows < k).sum())
    # Basic slices when every row is kept: indexing tensors with arrays would put
    # advanced-indexing ops (slow under numba) into the sampled gradient.
    ks: Any = slice(None) if active is None else rows[rows < k]
    js: Any = slice(None) if active is None else rows[rows >= k] - k
    # Shift of every row's log-odds or log-rate, per sub-configuration (..., R, M).
    shift: Any = np.zeros((len(rows), st.shift_sub.shape[2]))
    if st.shift_rows.shape[0]:
        coef = p[LOG_RATIO][..., :, None] * st.shift_rows[:, rows]  # (..., E, R), constant rows
        shift = ops.shift_sum(coef, st.shift_sub[:, rows, :])
        if st.shift_condition_level.shape[1]:
            centred = p[LEVEL] - LEVEL_CENTRE
            x_level = ops.tensordot(centred, st.shift_condition_level.T, axes=1)
            shift = shift + ops.sum(coef * x_level[..., :, None], axis=-2)[..., :, None]

    # Slots.
    q = p[BASELINE][..., ks]
    window = st.window[ks]
    log1m_h0 = ops.log1p(-q) / window
    log_h0 = ops.log(-ops.expm1(log1m_h0))
    eta = (log_h0 - log1m_h0)[..., :, None] + shift[..., :n_k, :]
    log_p = -ops.softplus(-eta)
    if st.necessary_absent.shape[0]:
        log_leak = ops.log(p[LEAK])
        absent = st.necessary_absent[:, ks, :]
        log_p = log_p + ops.tensordot(log_leak, absent, axes=1)
    log1m_p = ops.log1mexp(log_p)
    # Reports on a chance outcome are virtual evidence: P(report) ∝ p * LR + (1 - p).
    lr = d["slot_log_lr"][ks, None]
    row_ll = [
        d["slot_events"][ks, None] * log_p
        + d["slot_nonevents"][ks, None] * log1m_p
        + ops.logaddexp(log_p + lr, log1m_p)
    ]
    out: dict[str, Any] = {"log_p": log_p, "log1m_p": log1m_p}

    # Counts: negative binomial, configuration-free before the analysis date.
    channel_constant: Any = np.zeros((0,))
    if st.channel_series.size:
        # A one-hot product, not an index: indexing a parameter with an array puts
        # advanced-indexing ops, which numba runs in object mode, into the gradient.
        onehot = np.eye(st.channel_series.max() + 1)[st.channel_series]  # (J, n_series)
        phi = ops.tensordot(p[OVERDISPERSION], onehot.T, axes=1)
        rho, log_alpha, alpha = p[LOG_RATE], -ops.log(phi), 1.0 / phi
        y, mask = d["counts"], d["count_mask"]
        if active is not None:
            y, mask = y[js], mask[js]
            rho, log_alpha, alpha = rho[..., js], log_alpha[..., js], alpha[..., js]
        n_pre = ops.sum(mask * (1.0 - st.post), axis=-1)
        y_pre = ops.sum(mask * (1.0 - st.post) * y, axis=-1)
        n_post = ops.sum(mask * st.post, axis=-1)
        y_post = ops.sum(mask * st.post * y, axis=-1)

        def nb_kernel(n: Any, total: Any, log_mu: Any, a: Any, log_a: Any) -> Any:
            return -n * a * ops.softplus(log_mu - log_a) - total * ops.softplus(log_a - log_mu)

        if active is None:
            per_obs = mask * (
                ops.gammaln(y + alpha[..., None])
                - ops.gammaln(alpha[..., None])
                - ops.gammaln(y + 1.0)
            )
            observed = ops.sum(per_obs, axis=-1)
        else:  # numpy: the observed cells, once per distinct count, channel by channel
            # (a channel's value must not depend on which channels are computed with it:
            # rows are cached one by one).
            per_channel = []
            for i in range(len(js)):
                cells = np.flatnonzero(mask[i])
                values, which = np.unique(y[i, cells], return_inverse=True)
                m = mask[i, cells]  # a fractional mask tempers the cell
                a = alpha[..., i]
                per_channel.append(
                    ops.gammaln(values + a[..., None]) @ np.bincount(which, weights=m)
                    - m.sum() * ops.gammaln(a)
                    - m @ ops.gammaln(y[i, cells] + 1.0)
                )
            observed = np.stack(per_channel, -1) if per_channel else np.zeros_like(alpha)
        channel_constant = observed + nb_kernel(n_pre, y_pre, rho, alpha, log_alpha)
        log_rate_post = rho[..., None] + shift[..., n_k:, :]
        row_ll.append(
            nb_kernel(
                n_post[:, None],
                y_post[:, None],
                log_rate_post,
                alpha[..., None],
                log_alpha[..., None],
            )
        )
        out.update(log_rate_pre=p[LOG_RATE], log_rate_post=log_rate_post, overdispersion=phi)

    ll = row_ll[0] if len(row_ll) == 1 else ops.concatenate(row_ll, axis=-2)
    out.update(row_ll=ll, channel_constant=channel_constant)
    if active is None:
        config_prior = config_log_prior(p, d, st, ops)
        level_constant = level_log_likelihood(p, d, st, ops)
        out.update(
            config_prior=config_prior,
            level_constant=level_constant,
            log_joint=config_prior + ops.gather_sum(ll, st.gather_matrix),
            constant=ops.sum(channel_constant, axis=-1) + level_constant,
        )
    return out


def config_log_prior(p: Mapping[str, Any], d: Mapping[str, Any], st: Structure, ops: Any) -> Any:
    """Log prior of each configuration plus the evidence on the conditions, (..., Z)."""
    zc = st.configurations
    if not zc.shape[0]:
        return 0.0
    pi = p[CONDITION_PROBABILITY]
    on = ops.log(pi) + d["condition_loglik"][:, 1]
    off = ops.log1p(-pi) + d["condition_loglik"][:, 0]
    return ops.matmul(on, zc) + ops.matmul(off, 1.0 - zc)


def level_log_likelihood(
    p: Mapping[str, Any], d: Mapping[str, Any], st: Structure, ops: Any
) -> Any:
    """Log-likelihood of observed level values (shares of spoils), (...)."""
    if not st.shift_condition_level.shape[1]:
        return 0.0
    resid = (d["level_value"] - p[LEVEL]) / st.level_sd
    return -0.5 * ops.sum(d["level_mask"] * resid**2, axis=-1)


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
    rows = rows or (lambda which: row_terms(p, d1, st, which))
    config_prior, level_constant = base["config_prior"], base["level_constant"]
    log_joint = base["log_joint"]
    if not np.array_equal(d0["condition_loglik"], d1["condition_loglik"]):
        # The evidence on the conditions enters the configuration prior additively and
        # does not depend on the draws: its change is one vector over configurations.
        delta = d1["condition_loglik"] - d0["condition_loglik"]
        zc = st.configurations
        shift = delta[:, 1] @ zc + delta[:, 0] @ (1.0 - zc)
        config_prior, log_joint = config_prior + shift, log_joint + shift
    if not (
        np.array_equal(d0["level_value"], d1["level_value"])
        and np.array_equal(d0["level_mask"], d1["level_mask"])
    ):
        level_constant = level_log_likelihood(p, d1, st, _numpy_ops())
    channel_constant = base["channel_constant"].copy()
    groups: dict[bytes, np.ndarray] = {}
    changed = [int(r) for r in np.flatnonzero(changed_rows(d0, d1, st))]
    new = rows(changed) if changed else {}
    for r in changed:
        ll, constant = new[r]
        key = st.sub_index[r].tobytes()
        groups[key] = groups.get(key, 0.0) + (ll - base["row_ll"][..., r, :])
        if r >= st.n_slots:
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


def build_model(spec: ModelSpec, data: ModelData) -> pm.Model:
    """Build the PyMC model of a spec, with the evidence in ``pm.Data`` containers.

    Parameters
    ----------
    spec : ModelSpec
        A validated model file.
    data : ModelData
        Evidence arrays; swap new ones in with ``pm.set_data`` or nutpie's
        ``with_data`` without rebuilding.

    Returns
    -------
    pymc.Model
    """
    import pymc as pm
    import pytensor.tensor as pt

    st = structure(spec)
    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]
    coords = {
        dims.BINARY: spec.binary_conditions,
        dims.LEVEL: spec.level_conditions,
        dims.SLOT: [f"{n}.{a}" if a else n for n, a in spec.slots],
        dims.EFFECT: [e.id for e in shifts],
        "necessary_effect": [e.id for e in necessary],
        dims.CHANNEL: [f"{s}.{c}" for s, c in spec.channels],
        "series": list(spec.series),
        dims.MONTH: list(range(-spec.history_months, spec.forward_months)),
    }

    def params(beliefs: list[Any], *names: str) -> list[np.ndarray]:
        return [np.array([b.prior.params[n] for b in beliefs]) for n in names]

    with pm.Model(coords=coords) as model:
        d = {name: pm.Data(name, getattr(data, name)) for name in DATA_NAMES}
        p: dict[str, Any] = {}
        if spec.binary_conditions:
            a, b = params(
                [spec.conditions[c].belief for c in spec.binary_conditions], "alpha", "beta"
            )
            p[CONDITION_PROBABILITY] = pm.Beta(CONDITION_PROBABILITY, a, b, dims=dims.BINARY)
        if spec.level_conditions:
            a, b = params(
                [spec.conditions[c].belief for c in spec.level_conditions], "alpha", "beta"
            )
            p[LEVEL] = pm.Beta(LEVEL, a, b, dims=dims.LEVEL)
        a, b = params([spec.propensities[n].baselines[m] for n, m in spec.slots], "alpha", "beta")
        p[BASELINE] = pm.Beta(BASELINE, a, b, dims=dims.SLOT)
        if shifts:
            a, b = params([e.belief for e in shifts], "alpha", "beta")
            p[LOG_RATIO] = pm.Gamma(LOG_RATIO, alpha=a, beta=b, dims=dims.EFFECT)
        if necessary:
            a, b = params([e.belief for e in necessary], "alpha", "beta")
            p[LEAK] = pm.Beta(LEAK, a, b, dims="necessary_effect")
        if spec.series:
            mu, sigma = params(
                [spec.series[s].baselines[c] for s, c in spec.channels], "mu", "sigma"
            )
            p[LOG_RATE] = pm.Normal(LOG_RATE, mu, sigma, dims=dims.CHANNEL)
            mu, sigma = params([s.overdispersion for s in spec.series.values()], "mu", "sigma")
            p[OVERDISPERSION] = pm.LogNormal(OVERDISPERSION, mu, sigma, dims="series")
        t = terms(p, d, st, _pytensor_ops())
        pm.Potential("likelihood", pt.logsumexp(t["log_joint"], axis=-1) + t["constant"])
    return model


@dataclass
class Quantities:
    """Per-draw quantities of a posterior, for forecasts.

    Row quantities are kept per *sub-configuration* (the few conditions that
    reach the row, see :class:`Structure`) and gathered to the 2**B
    configurations on request, so that a question that reads one slot or one
    channel pays for that row only. ``log_weights`` (draw, configuration) is
    the normalised log posterior probability of each configuration within
    each draw under ``data``.
    """

    spec: ModelSpec
    data: ModelData
    sub_log_p: np.ndarray  # (S, K, M)
    sub_log1m_p: np.ndarray  # (S, K, M)
    log_rate_pre: np.ndarray  # (S, J)
    sub_log_rate_post: np.ndarray  # (S, J, M)
    overdispersion: np.ndarray  # (S, J)
    sub_index: np.ndarray  # (R, Z): each configuration's sub-configuration, per row
    log_weights: np.ndarray  # (S, Z)
    # Gathered slot probabilities, shared by every copy made with other data (they depend on
    # the draws and the number of periods only); bounded, as each is (S, Z).
    memo: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def _slot_index(self) -> dict[tuple[str, str], int]:
        return {s: i for i, s in enumerate(self.spec.slots)}

    @property
    def n_draws(self) -> int:
        """Return the number of draws."""
        return int(self.log_rate_pre.shape[0])

    @property
    def n_configurations(self) -> int:
        """Return the number of configurations, 2**B."""
        return int(self.sub_index.shape[1])

    def slot(self, node: str, actor: str) -> int:
        """Index of a propensity slot; a global node answers for every actor."""
        if (node, actor) in self._slot_index:
            return self._slot_index[(node, actor)]
        return self._slot_index[(node, "")]

    def channel(self, series: str, category: str) -> int:
        """Index of a count channel."""
        return self.spec.channels.index((series, category))

    def _gather(self, sub: np.ndarray, r: int) -> np.ndarray:
        return np.take(sub, self.sub_index[r], axis=-1)

    def slot_p(self, k: int) -> np.ndarray:
        """Probability of slot ``k``'s event per period, (draw, configuration)."""
        return self._memoised(k, 0, lambda: np.exp(self.sub_log_p[:, k, :]))

    def slot_within(self, k: int, periods: int) -> np.ndarray:
        """Probability of at least one event of slot ``k`` in ``periods`` periods."""
        return self._memoised(k, periods, lambda: -np.expm1(periods * self.sub_log1m_p[:, k, :]))

    def _memoised(self, k: int, periods: int, sub: Callable[[], np.ndarray]) -> np.ndarray:
        key = (k, periods)  # periods 0 stands for the per-period probability itself
        if key in self.memo:
            self.memo[key] = self.memo.pop(key)  # most recently used last
        else:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.pop(next(iter(self.memo)))
            self.memo[key] = self._gather(sub(), k)
        return self.memo[key]

    def channel_log_rate(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Channel ``j``'s forward log-rate per sub-configuration, and each configuration's one.

        Returns
        -------
        rates : array (draw, M)
        index : array (Z,)
            ``rates[:, index]`` is the log-rate per configuration.
        """
        return self.sub_log_rate_post[:, j, :], self.sub_index[self.sub_log_p.shape[1] + j]

    @property
    def events(self) -> np.ndarray:
        """Observed events per slot (departures for hazards)."""
        return self.data.slot_events

    def exposure_months(self, k: int) -> int:
        """Months already survived by slot ``k`` according to the evidence."""
        return int(self.data.slot_nonevents[k])

    @property
    def fighters(self) -> dict[str, float]:
        """Fighters each actor would bring if it merged into another group."""
        return {a.id: a.fighters for a in self.spec.actors.values()}

    def post_counts(self, channel: int, horizon: int) -> tuple[float, int]:
        """Return the counts seen, and months seen, from the analysis month to the horizon."""
        start = self.spec.history_months
        mask = self.data.count_mask[channel, start : start + horizon]
        y = self.data.counts[channel, start : start + horizon]
        return float((mask * y).sum()), int(mask.sum())


# The terms a Quantities is made of (each with a leading draw axis in numpy).
QUANTITY_TERMS = (
    "log_joint",
    "log_p",
    "log1m_p",
    "log_rate_pre",
    "log_rate_post",
    "overdispersion",
)


def quantities(
    spec: ModelSpec,
    data: ModelData,
    draws: Mapping[str, np.ndarray],
    t: Mapping[str, np.ndarray] | None = None,
) -> Quantities:
    """Evaluate :func:`terms` in numpy on posterior draws.

    Parameters
    ----------
    spec : ModelSpec
        The model the draws come from.
    data : ModelData
        The evidence arrays to condition on.
    draws : mapping
        Each free variable as an array of shape ``(draws, dim)``.
    t : mapping, optional
        :func:`terms` of these draws under ``data``, if already computed.
    """
    st = structure(spec)
    if t is None:
        t = terms(draws, data.arrays(), st, _numpy_ops())
    log_joint = t["log_joint"]
    n, m = log_joint.shape[0], st.shift_sub.shape[2]
    return Quantities(
        spec=spec,
        data=data,
        sub_log_p=t["log_p"],
        sub_log1m_p=t["log1m_p"],
        log_rate_pre=t.get("log_rate_pre", np.zeros((n, 0))),
        sub_log_rate_post=t.get("log_rate_post", np.zeros((n, 0, m))),
        overdispersion=t.get("overdispersion", np.zeros((n, 0))),
        sub_index=st.sub_index,
        log_weights=log_joint - sp.logsumexp(log_joint, axis=-1, keepdims=True),
    )
