r"""The equations of the model, written once for PyTensor and for numpy draws.

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

Switches. A switch condition :math:`c` is 0 before its first month
:math:`s_c` (a known date, or the month after its hazard's event on record)
and 1 from it on; its shifts add :math:`s_e \beta_e A_{ek} [t \ge s_c]` to
:math:`\eta_k(z)`, so a hazard moved by switches has one probability per
*pattern* (which switches are on). Its months survived, its departure and a
report's months ahead are split by pattern in the data, and
:math:`\ell_{\text{slots}}` sums over patterns; a count channel's months from
the analysis date on likewise, each at its pattern's rate. A switch may end
(:math:`[s_c \le t < e_c]`), may take effect in its event's own month, and
a hazard moved by one may set off another (a chain without loops). A
*gated* hazard (at risk only after another hazard's event for the same
actor) has :math:`p = 0` in the months before: its patterns with the gate
off are closed, their months carry no :math:`\log(1 - p)`, and an event in
them is refused as evidence. The month conventions are in
:mod:`allegiance.model.switches`.

Counts. Channel :math:`j` (a series category) has monthly counts
:math:`y_{jt} \sim \mathrm{NegBin}(\mu_{jt}, \alpha_j)` with
:math:`\log \mu_{jt} = \rho_j` before the analysis date and
:math:`\rho_j + \sum_e s_e \beta_e A_{ej} x_e(z)` from it on, so conditions,
which describe the world from the analysis date, move only forward counts
and history pins :math:`\rho_j \sim \mathrm{Normal}` linearly.
:math:`1/\alpha_j \sim \mathrm{LogNormal}` is the overdispersion.

Exits. A hazard with destinations gives each actor a Dirichlet over where
its departure goes: weights :math:`g_{kd} \sim \mathrm{Gamma}(\kappa m_d, 1)`
and shares :math:`s_{kd}(z) = g_{kd} e^{\sum_e s_e \beta_e A_{ed} x_e(z)} /
\sum_{d'} g_{kd'} e^{\ldots}`, a multinomial logit with a Dirichlet baseline.
A departure seen going to :math:`d` adds :math:`w \log s_{kd}(z)` (``w`` its
grade's weight).

All evidence enters through ``pm.Data`` containers of fixed shape, so new
evidence changes data, never the graph.

Examples
--------
>>> from allegiance.spec import load_spec
>>> from allegiance.model import build_model
>>> from allegiance.evidence import no_evidence
>>> spec = load_spec("models/afghanistan_2020.yaml")  # doctest: +SKIP
>>> pymc_model = build_model(spec, no_evidence(spec))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from allegiance.model.channels import LOG_RATE, OVERDISPERSION, channel_terms
from allegiance.model.stocks import STOCK_GROWTH, STOCK_START, stock_log_likelihood
from allegiance.model.structure import Structure

LEVEL_CENTRE = 0.5

# Free variables of the PyMC model, named once.
CONDITION_PROBABILITY = "condition_probability"
LEVEL = "level"
BASELINE = "baseline"
LOG_RATIO = "log_ratio"
LEAK = "leak"
DESTINATION_WEIGHT = "destination_weight"
FREE_VARIABLES = (
    CONDITION_PROBABILITY,
    LEVEL,
    BASELINE,
    LOG_RATIO,
    LEAK,
    LOG_RATE,
    OVERDISPERSION,
    DESTINATION_WEIGHT,
    STOCK_START,
    STOCK_GROWTH,
)


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
        Evidence arrays (see :data:`allegiance.model.data.DATA_NAMES`).
    st : Structure
        Constant wiring of the spec.
    ops : namespace
        Array functions of the backend (:func:`~allegiance.model.ops.numpy_ops`
        or :func:`~allegiance.model.ops.pytensor_ops`).
    active : array of bool, optional
        Numpy only: compute the terms of just these rows (slots, then
        channels), as an update does for the rows whose evidence changed
        (:func:`~allegiance.model.patch.changed_rows`). Only row terms are
        returned (``row_ll``, ``channel_constant``, ``log_p``,
        ``log_rate_post``, ...), for the active rows; nothing is assembled.

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
    rows = np.arange(st.sub_index.shape[0]) if active is None else np.flatnonzero(active)
    first_exit = st.n_slots + st.n_channels
    is_slot, is_exit = rows < st.n_slots, rows >= first_exit
    n_k, n_j = int(is_slot.sum()), int((~is_slot & ~is_exit).sum())
    # Basic slices when every row is kept: indexing tensors with arrays would put
    # advanced-indexing ops (slow under numba) into the sampled gradient.
    ks: Any = slice(None) if active is None else rows[is_slot]
    js: Any = slice(None) if active is None else rows[~is_slot & ~is_exit] - st.n_slots
    shift = _shifts(p, st, ops, rows)
    out = _slot_terms(
        p, d, st, ops, ks, shift[..., :n_k, :], _pattern_shifts(p, st, ops, rows[is_slot])
    )
    row_ll = [out.pop("row_ll")]
    channel_constant: Any = np.zeros((0,))
    if st.channel_series.size:
        channel_rows = rows[~is_slot & ~is_exit]
        channels = channel_terms(
            p,
            d,
            st,
            ops,
            js,
            shift[..., n_k : n_k + n_j, :],
            _pattern_shifts(p, st, ops, channel_rows),
            exact=active is None,
        )
        row_ll.append(channels.pop("row_ll"))
        channel_constant = channels.pop("channel_constant")
        out.update(channels)
    if st.exit_slot.size and (active is None or is_exit.any()):
        # An actor's shares are normalised over all its exits: compute every exit.
        every = np.arange(first_exit, first_exit + st.exit_slot.size)
        exit_shift = shift[..., n_k + n_j :, :] if active is None else _shifts(p, st, ops, every)
        exits = _exit_terms(p, d, st, ops, exit_shift)
        kept = slice(None) if active is None else rows[is_exit] - first_exit
        row_ll.append(exits["row_ll"][..., kept, :])
        out["log_share"] = exits["log_share"][..., kept, :]
    ll = row_ll[0] if len(row_ll) == 1 else ops.concatenate(row_ll, axis=-2)
    out.update(row_ll=ll, channel_constant=channel_constant)
    if active is None:
        config_prior = config_log_prior(p, d, st, ops)
        level_constant = level_log_likelihood(p, d, st, ops)
        stock_ll = stock_log_likelihood(p, d, st, ops, out.get("log_rate_post"))
        out.update(
            config_prior=config_prior,
            level_constant=level_constant,
            stock_ll=stock_ll,
            log_joint=config_prior + stock_ll + ops.gather_sum(ll, st.gather_matrix),
            constant=ops.sum(channel_constant, axis=-1) + level_constant,
        )
        if st.stock_flow.shape[0]:
            out.update(stock_start=p[STOCK_START], stock_growth=p[STOCK_GROWTH])
    return out


def _shifts(p: Mapping[str, Any], st: Structure, ops: Any, rows: np.ndarray) -> Any:
    """Shift of every row's log-odds or log-rate, per sub-configuration (..., R, M)."""
    if not st.shift_rows.shape[0]:
        return np.zeros((len(rows), st.shift_sub.shape[2]))
    coef = p[LOG_RATIO][..., :, None] * st.shift_rows[:, rows]  # (..., E, R), constant rows
    shift = ops.shift_sum(coef, st.shift_sub[:, rows, :])
    if st.shift_condition_level.shape[1]:
        centred = p[LEVEL] - LEVEL_CENTRE
        x_level = ops.tensordot(centred, st.shift_condition_level.T, axes=1)
        shift = shift + ops.sum(coef * x_level[..., :, None], axis=-2)[..., :, None]
    return shift


def _pattern_shifts(p: Mapping[str, Any], st: Structure, ops: Any, rows: np.ndarray) -> Any:
    """Shift of each row's log-odds or log-rate by the switches on in its patterns (..., R, P)."""
    if not st.row_switches.shape[1]:
        return np.zeros((len(rows), 1))
    coef = p[LOG_RATIO][..., :, None] * st.shift_rows[:, rows]
    return ops.shift_sum(coef, st.shift_pattern[:, rows, :])


def _slot_terms(
    p: Mapping[str, Any],
    d: Mapping[str, Any],
    st: Structure,
    ops: Any,
    ks: Any,
    shift: Any,
    switched: Any,
) -> dict[str, Any]:
    """Slot probabilities per sub-configuration and the slots' log-likelihood rows.

    A hazard moved by switch conditions has one probability per pattern of
    switches in effect (a trailing axis); its months survived, its departure
    and a report's months ahead are split by pattern in the data. Without
    switches there is one pattern.
    """
    q = p[BASELINE][..., ks]
    window = st.window[ks]
    log1m_h0 = ops.log1p(-q) / window
    log_h0 = ops.log(-ops.expm1(log1m_h0))
    eta = ((log_h0 - log1m_h0)[..., :, None] + shift)[..., None] + switched[..., :, None, :]
    log_p = -ops.softplus(-eta)  # (..., K, M, P)
    if st.necessary_absent.shape[0]:
        log_leak = ops.log(p[LEAK])
        absent = st.necessary_absent[:, ks, :]
        log_p = log_p + ops.tensordot(log_leak, absent, axes=1)[..., None]
    log1m_p = ops.log1mexp(log_p)
    survive = log1m_p
    if not st.pattern_open.all():  # a gated slot's closed patterns: no risk, survival certain
        survive = log1m_p * st.pattern_open[: st.n_slots][ks][:, None, :]
    # Reports on a chance outcome are virtual evidence: P(report) ∝ p * LR + (1 - p).
    lr = d["slot_log_lr"][ks, None]
    # A report that a hazard's event happened by the end of month m, with survival through
    # month t on record: P(report) ∝ S + LR (1 - S) = 1 + (LR - 1)(1 - S), S = (1 - p)^(m - t)
    # (a product over the months' patterns). Written with expm1 so that no report (LR 1, or
    # nothing ahead: m <= t, or an event on record) is exactly 0 with a finite gradient.
    ahead = ops.sum(d["slot_pattern_ahead"][ks][:, None, :] * survive, axis=-1)
    outcome = ops.log1p(ops.expm1(d["slot_outcome_log_lr"][ks, None]) * -ops.expm1(ahead))
    survival = d["slot_pattern_events"][ks][:, None, :] * log_p
    survival = survival + d["slot_pattern_nonevents"][ks][:, None, :] * survive
    row_ll = (
        ops.sum(survival, axis=-1) + ops.logaddexp(log_p[..., 0] + lr, log1m_p[..., 0]) + outcome
    )
    return {
        "log_p": log_p[..., 0],
        "log1m_p": log1m_p[..., 0],
        "log1m_p_pattern": survive,
        "row_ll": row_ll,
    }


def _exit_terms(
    p: Mapping[str, Any], d: Mapping[str, Any], st: Structure, ops: Any, shift: Any
) -> dict[str, Any]:
    """Each exit's log share of its actor's departures, and the departures seen going there.

    Shares are the destinations' Dirichlet weights times the exponentiated
    shifts of the conditions that hold, normalised over the actor's exits
    (a multinomial logit with a Dirichlet baseline); per sub-configuration.
    """
    log_w = ops.log(p[DESTINATION_WEIGHT])[..., :, None] + shift
    log_share = log_w - ops.log(ops.pick(st.exit_group, ops.exp(log_w)))
    return {"log_share": log_share, "row_ll": d["exit_observed"][:, None] * log_share}


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
    """Log-likelihood of the evidence on levels (shares of spoils), (...).

    An observed value is Gaussian around the level, its log-likelihood
    weighted by the grade; a report favouring a high level by a ratio ``R``
    adds ``log R * u`` (the ratio of its likelihood at the best level to the worst).
    """
    if not st.shift_condition_level.shape[1]:
        return 0.0
    resid = (d["level_value"] - p[LEVEL]) / st.level_sd
    reports = ops.sum(d["level_log_lr"] * p[LEVEL], axis=-1)
    return -0.5 * ops.sum(d["level_mask"] * resid**2, axis=-1) + reports
