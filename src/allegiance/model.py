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
:math:`\ell_{\text{slots}} = \sum_k d_k \log p_k + m_k \log(1 - p_k)`;
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
from collections.abc import Mapping
from dataclasses import dataclass
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
    "level_value",
    "level_mask",
    "slot_events",
    "slot_nonevents",
    "counts",
    "count_mask",
)


def _numpy_ops() -> SimpleNamespace:
    return SimpleNamespace(
        log=np.log,
        exp=np.exp,
        expm1=np.expm1,
        log1p=np.log1p,
        sum=np.sum,
        matmul=np.matmul,
        gammaln=sp.gammaln,
        logsumexp=sp.logsumexp,
        softplus=lambda x: np.logaddexp(0.0, x),
        log1mexp=lambda x: np.log(-np.expm1(x)),
    )


def _pytensor_ops() -> SimpleNamespace:
    import pytensor.tensor as pt

    return SimpleNamespace(
        log=pt.log,
        exp=pt.exp,
        expm1=pt.expm1,
        log1p=pt.log1p,
        sum=pt.sum,
        matmul=pt.matmul,
        gammaln=pt.gammaln,
        logsumexp=pt.logsumexp,
        softplus=pt.softplus,
        log1mexp=pt.log1mexp,
    )


@dataclass(frozen=True)
class Structure:
    """Constant arrays that wire a spec's conditions, effects, slots and channels together."""

    configurations: np.ndarray  # (B, Z) of 0/1
    window: np.ndarray  # (K,) months W of each slot's baseline statement
    shift_condition_binary: np.ndarray  # (E, B) one-hot, zero row for level effects
    shift_condition_level: np.ndarray  # (E, L) one-hot, zero row for binary effects
    shift_slots: np.ndarray  # (E, K) signed incidence
    shift_channels: np.ndarray  # (E, J) signed incidence
    necessary_binary: np.ndarray  # (N, B) one-hot
    necessary_slots: np.ndarray  # (N, K) incidence
    channel_series: np.ndarray  # (J,) index of each channel's series
    post: np.ndarray  # (T,) 1 for months from the analysis month on
    level_sd: float = 0.05

    @property
    def n_configurations(self) -> int:
        """Number of enumerated configurations, 2**B."""
        return int(self.configurations.shape[1])


def structure(spec: ModelSpec) -> Structure:
    """Derive the constant wiring arrays of a spec."""
    binary, levels = spec.binary_conditions, spec.level_conditions
    slots, channels = spec.slots, spec.channels
    configs = np.array(list(itertools.product((0, 1), repeat=len(binary))), dtype=float).T
    shifts = [e for e in spec.effects if e.kind == "shift"]
    necessary = [e for e in spec.effects if e.kind == "necessary"]

    def incidence(effects: list[Any], members: list[tuple[str, str]], signed: bool) -> np.ndarray:
        out = np.zeros((len(effects), len(members)))
        for i, e in enumerate(effects):
            for t in e.targets:
                for k, (node, member) in enumerate(members):
                    if node == t.node and (t.member is None or t.member == member):
                        out[i, k] = e.direction if signed else 1.0
        return out

    def one_hot(effects: list[Any], ids: list[str]) -> np.ndarray:
        out = np.zeros((len(effects), len(ids)))
        for i, e in enumerate(effects):
            if e.condition in ids:
                out[i, ids.index(e.condition)] = 1.0
        return out

    series_ids = list(spec.series)
    post = np.zeros(spec.window_months)
    post[spec.history_months :] = 1.0
    return Structure(
        configurations=configs,
        window=np.array([spec.propensities[p].within_months for p, _ in slots], dtype=float),
        shift_condition_binary=one_hot(shifts, binary),
        shift_condition_level=one_hot(shifts, levels),
        shift_slots=incidence(shifts, slots, signed=True),
        shift_channels=incidence(shifts, channels, signed=True),
        necessary_binary=one_hot(necessary, binary),
        necessary_slots=incidence(necessary, slots, signed=False),
        channel_series=np.array([series_ids.index(s) for s, _ in channels], dtype=int),
        post=post,
    )


def terms(
    p: Mapping[str, Any], d: Mapping[str, Any], st: Structure, ops: SimpleNamespace
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

    Returns
    -------
    dict
        ``log_joint`` (..., Z): log prior of each configuration plus the
        configuration-dependent log-likelihood; ``constant`` (...): the rest
        of the log-likelihood; ``log_p``, ``log1m_p`` (..., K, Z): slot
        probabilities; ``log_rate_pre`` (..., J), ``log_rate_post`` (..., J, Z),
        ``overdispersion`` (..., J).
    """
    zc = st.configurations
    # Configuration prior and evidence on conditions.
    config_prior: Any = 0.0
    if zc.shape[0]:
        pi = p[CONDITION_PROBABILITY]
        on = ops.log(pi) + d["condition_loglik"][:, 1]
        off = ops.log1p(-pi) + d["condition_loglik"][:, 0]
        config_prior = ops.sum(on[..., :, None] * zc + off[..., :, None] * (1.0 - zc), axis=-2)

    # Shift effects: x (..., E, Z) for binary and level conditions.
    x = st.shift_condition_binary @ zc
    if st.shift_condition_level.shape[1]:
        centred = p[LEVEL] - LEVEL_CENTRE
        x = x + ops.sum(centred[..., None, :] * st.shift_condition_level, axis=-1)[..., None]
    beta = p[LOG_RATIO] if st.shift_slots.shape[0] else None

    def shifted(incidence: np.ndarray) -> Any:
        if beta is None:
            return 0.0
        return ops.matmul(beta[..., None, :] * incidence.T, x)

    # Slots.
    q = p[BASELINE]
    log_h0 = ops.log(-ops.expm1(ops.log1p(-q) / st.window))
    log1m_h0 = ops.log1p(-q) / st.window
    eta = (log_h0 - log1m_h0)[..., :, None] + shifted(st.shift_slots)
    log_p = -ops.softplus(-eta)
    if st.necessary_slots.shape[0]:
        log_leak = ops.log(p[LEAK])
        absent = 1.0 - st.necessary_binary @ zc  # (N, Z)
        log_p = log_p + ops.matmul(log_leak[..., None, :] * st.necessary_slots.T, absent)
    log1m_p = ops.log1mexp(log_p)
    slot_ll = ops.sum(
        d["slot_events"][:, None] * log_p + d["slot_nonevents"][:, None] * log1m_p, axis=-2
    )

    # Counts: negative binomial, configuration-free before the analysis date.
    rho = p[LOG_RATE] if st.channel_series.size else None
    out: dict[str, Any] = {"log_p": log_p, "log1m_p": log1m_p}
    post_ll: Any = 0.0
    constant: Any = 0.0
    if rho is not None:
        phi = p[OVERDISPERSION][..., st.channel_series]
        log_alpha = -ops.log(phi)
        alpha = 1.0 / phi
        y, mask = d["counts"], d["count_mask"]
        n_pre = ops.sum(mask * (1.0 - st.post), axis=-1)
        y_pre = ops.sum(mask * (1.0 - st.post) * y, axis=-1)
        n_post = ops.sum(mask * st.post, axis=-1)
        y_post = ops.sum(mask * st.post * y, axis=-1)

        def nb_kernel(n: Any, total: Any, log_mu: Any, a: Any, log_a: Any) -> Any:
            return -n * a * ops.softplus(log_mu - log_a) - total * ops.softplus(log_a - log_mu)

        per_obs = mask * (
            ops.gammaln(y + alpha[..., None]) - ops.gammaln(alpha[..., None]) - ops.gammaln(y + 1.0)
        )
        constant = ops.sum(per_obs, axis=(-2, -1)) + ops.sum(
            nb_kernel(n_pre, y_pre, rho, alpha, log_alpha), axis=-1
        )
        log_rate_post = rho[..., :, None] + shifted(st.shift_channels)
        post_ll = ops.sum(
            nb_kernel(
                n_post[:, None],
                y_post[:, None],
                log_rate_post,
                alpha[..., :, None],
                log_alpha[..., :, None],
            ),
            axis=-2,
        )
        out.update(log_rate_pre=rho, log_rate_post=log_rate_post, overdispersion=phi)

    if st.shift_condition_level.shape[1]:
        resid = (d["level_value"] - p[LEVEL]) / st.level_sd
        constant = constant - 0.5 * ops.sum(d["level_mask"] * resid**2, axis=-1)

    out["log_joint"] = config_prior + slot_ll + post_ll
    out["constant"] = constant
    return out


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
    """Per-draw, per-configuration quantities of a posterior, for forecasts.

    Arrays have a leading draw axis and, where configurations matter, a
    trailing configuration axis. ``log_weights`` is the normalised log
    posterior probability of each configuration within each draw.
    """

    spec: ModelSpec
    data: ModelData
    log_weights: np.ndarray
    log_p: np.ndarray
    log1m_p: np.ndarray
    log_rate_pre: np.ndarray
    log_rate_post: np.ndarray
    overdispersion: np.ndarray

    @cached_property
    def _slot_index(self) -> dict[tuple[str, str], int]:
        return {s: i for i, s in enumerate(self.spec.slots)}

    def slot(self, node: str, actor: str) -> int:
        """Index of a propensity slot; a global node answers for every actor."""
        if (node, actor) in self._slot_index:
            return self._slot_index[(node, actor)]
        return self._slot_index[(node, "")]

    def channel(self, series: str, category: str) -> int:
        """Index of a count channel."""
        return self.spec.channels.index((series, category))

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


def quantities(spec: ModelSpec, data: ModelData, draws: Mapping[str, np.ndarray]) -> Quantities:
    """Evaluate :func:`terms` in numpy on posterior draws.

    Parameters
    ----------
    spec : ModelSpec
    data : ModelData
    draws : mapping
        Each free variable as an array of shape ``(draws, dim)``.
    """
    st = structure(spec)
    d = {name: getattr(data, name) for name in DATA_NAMES}
    t = terms(draws, d, st, _numpy_ops())
    log_joint = t["log_joint"]
    n = log_joint.shape[0]
    empty = np.zeros((n, 0, st.n_configurations))
    return Quantities(
        spec=spec,
        data=data,
        log_weights=log_joint - sp.logsumexp(log_joint, axis=-1, keepdims=True),
        log_p=t["log_p"],
        log1m_p=t["log1m_p"],
        log_rate_pre=t.get("log_rate_pre", np.zeros((n, 0))),
        log_rate_post=t.get("log_rate_post", empty),
        overdispersion=t.get("overdispersion", np.zeros((n, 0))),
    )
