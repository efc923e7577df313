"""Per-draw quantities of a posterior, the inputs of every question's computation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.special as sp

from allegiance.cache import LRU
from allegiance.model.data import ModelData, seen_counts
from allegiance.model.ops import numpy_ops
from allegiance.model.reactions import event_between
from allegiance.model.stocks import STOCK_GROWTH, STOCK_START, merged_fighters, stock_size
from allegiance.model.structure import structure
from allegiance.model.terms import terms
from allegiance.spec import ModelSpec

MEMO_SIZE = 24  # gathered slot probabilities a Quantities keeps, (draw, configuration) each


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
    sub_log_share: np.ndarray  # (S, X, M): each exit's log share of its actor's departures
    # (S, K, M, P): log(1 - p) per pattern of the switches in effect; P = 1 without switches
    sub_log1m_p_pattern: np.ndarray
    sub_log_rate_post_pattern: np.ndarray  # (S, J, M, P): forward log-rate per pattern
    stock_start: np.ndarray  # (S, N): each stock's size on the analysis date
    stock_growth: np.ndarray  # (S, N): the yearly factor of its trend
    # Gathered slot probabilities, shared by every copy made with other data (they depend on
    # the draws and the number of periods only); bounded, as each is (S, Z).
    memo: LRU[tuple[int, int], np.ndarray] = field(
        default_factory=lambda: LRU(MEMO_SIZE), repr=False
    )

    @cached_property
    def _slot_index(self) -> dict[tuple[str, str], int]:
        return {s: i for i, s in enumerate(self.spec.slots)}

    @property
    def n_draws(self) -> int:
        """Return the number of draws."""
        return int(self.log_rate_pre.shape[0])

    @property
    def configurations(self) -> np.ndarray:
        """Each binary condition's value in each configuration, (B, Z) of 0/1."""
        return structure(self.spec).configurations

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

    def stock_at(self, stock: str, month: int) -> np.ndarray:
        """Return a stock's size at a month: merges on record, flows at their means, (S, Z).

        Departures not yet on record that would join it are left to the
        question (:mod:`allegiance.forecast.questions`), which weighs each.
        """
        st, spec = structure(self.spec), self.spec
        onehot = np.eye(len(spec.stocks))[[list(spec.stocks).index(stock)]]
        seen, unseen = np.zeros((1, len(spec.channels))), np.zeros((1, len(spec.channels)))
        for j in range(len(spec.channels)):
            seen[0, j], months_seen = self.post_counts(j, month)
            unseen[0, j] = max(month, 0) - months_seen
        rates = [
            np.take(np.exp(self.sub_log_rate_post[:, j, :]), self.sub_index[len(spec.slots) + j],
                    axis=1)
            for j in st.stock_channels
        ]  # fmt: skip
        draws = {STOCK_START: self.stock_start, STOCK_GROWTH: self.stock_growth}
        merged = merged_fighters(spec, self.data, stock, month)
        size = stock_size(draws, st, numpy_ops(), rates, onehot, month, seen, unseen, merged)
        return np.broadcast_to(size[:, 0, :], (self.n_draws, self.n_configurations))

    def event_between(self, k: int, start: int, end: int) -> np.ndarray:
        """Probability of slot ``k``'s event in months ``[start, end)``, (draw, configuration).

        A hazard moved by switches has the hazard of the switches in effect
        each month; while an event upstream of it (one that sets off a switch
        moving it, or opens it, directly or through other hazards) is not on
        record, the months are followed over the histories of those events
        (:func:`allegiance.model.reactions.event_between`).
        """
        return event_between(self, k, start, end)

    def _memoised(self, k: int, periods: int, sub: Callable[[], np.ndarray]) -> np.ndarray:
        # periods 0 stands for the per-period probability itself
        return self.memo.get_or_make((k, periods), lambda: self._gather(sub(), k))

    def channel_log_rate(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Channel ``j``'s forward log-rate per sub-configuration, and each configuration's one.

        Returns
        -------
        rates : array (draw, M)
        index : array (Z,)
            ``rates[:, index]`` is the log-rate per configuration.
        """
        return self.sub_log_rate_post[:, j, :], self.sub_index[self.sub_log_p.shape[1] + j]

    def share(self, hazard: str, actor: str, destination: str) -> np.ndarray:
        """Share of an actor's departures under a hazard that go to a destination, (S, Z)."""
        x = self.spec.exits.index((hazard, actor, destination))
        r = len(self.spec.slots) + len(self.spec.channels) + x
        return np.exp(self._gather(self.sub_log_share[:, x, :], r))

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

    def post_counts(self, channel: int, horizon: int, first: int = 0) -> tuple[float, int]:
        """Return the counts seen, and months seen, from month ``first`` to the horizon."""
        return seen_counts(self.data, self.spec.history_months, channel, first, horizon)


# The terms a Quantities is made of (each with a leading draw axis in numpy).
QUANTITY_TERMS = (
    "log_joint",
    "log_p",
    "log1m_p",
    "log1m_p_pattern",
    "log_rate_pre",
    "log_rate_post",
    "log_rate_post_pattern",
    "overdispersion",
    "log_share",
    "stock_start",
    "stock_growth",
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
        t = terms(draws, data.arrays(), st, numpy_ops())
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
        sub_log_share=t.get("log_share", np.zeros((n, 0, m))),
        sub_log1m_p_pattern=t["log1m_p_pattern"],
        sub_log_rate_post_pattern=t.get("log_rate_post_pattern", np.zeros((n, 0, m, 1))),
        stock_start=t.get("stock_start", np.zeros((n, 0))),
        stock_growth=t.get("stock_growth", np.zeros((n, 0))),
    )
