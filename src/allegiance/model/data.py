"""Evidence as the fixed-shape arrays the model reads from ``pm.Data`` containers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATA_NAMES = (
    "condition_loglik",
    "slot_log_lr",
    "level_value",
    "level_mask",
    "level_log_lr",
    "slot_events",
    "slot_nonevents",
    "slot_outcome_log_lr",
    "slot_outcome_months",
    "slot_pattern_events",
    "slot_pattern_nonevents",
    "slot_pattern_ahead",
    "counts",
    "count_mask",
    "estimate_low",
    "estimate_high",
    "estimate_weight",
    "estimate_channel",
    "estimate_post",
    "count_pattern",
    "estimate_pattern",
    "exit_observed",
    "stock_estimate_stock",
    "stock_estimate_month",
    "stock_estimate_log_mid",
    "stock_estimate_sd",
    "stock_estimate_weight",
    "stock_estimate_seen",
    "stock_estimate_unseen",
    "stock_estimate_merged",
)

# Estimated monthly totals in force at once: a fixed number of slots keeps the
# model's graph (and its compiled sampler) the same whatever the evidence.
MAX_ESTIMATES = 24
MAX_STOCK_ESTIMATES = 24  # estimates of stocks in force at once, for the same reason


@dataclass
class ModelData:
    """Evidence as the fixed-shape arrays the model reads (see ``model.DATA_NAMES``)."""

    condition_loglik: np.ndarray  # (B, 2): log-likelihood of the evidence if false / true
    slot_log_lr: np.ndarray  # (K,): tempered log-likelihood ratio of reports on chance slots
    level_value: np.ndarray  # (L,)
    level_mask: np.ndarray  # (L,): the grade weight of each observed level, 0 if unobserved
    level_log_lr: np.ndarray  # (L,): tempered log-likelihood ratio of reports, high vs low
    slot_events: np.ndarray  # (K,)
    slot_nonevents: np.ndarray  # (K,)
    slot_outcome_log_lr: np.ndarray  # (K,): tempered log-LR of reports that the event happened
    slot_outcome_months: np.ndarray  # (K,): ... by the end of this month (from the analysis month)
    # The same months split by the pattern of switches in effect (K, P); P = 1 without switches.
    slot_pattern_events: np.ndarray  # the departure's month's pattern
    slot_pattern_nonevents: np.ndarray  # months survived in each pattern
    slot_pattern_ahead: np.ndarray  # months from those survived to a report's month, no departure
    counts: np.ndarray  # (J, T)
    count_mask: np.ndarray  # (J, T): the grade weight of each observed cell, 0 if unobserved
    estimate_low: np.ndarray  # (E,): an estimated month's total lies in [low, high]
    estimate_high: np.ndarray  # (E,)
    estimate_weight: np.ndarray  # (E,): its grade weight; 0 for an unused slot
    estimate_channel: np.ndarray  # (E, J): one-hot channel of each estimate
    estimate_post: np.ndarray  # (E,): 1 for a month from the analysis month on
    count_pattern: np.ndarray  # (J, T, P): one-hot pattern of switches in each month (0 before)
    estimate_pattern: np.ndarray  # (E, P): one-hot pattern of switches in an estimated month
    exit_observed: np.ndarray  # (X,): grade weight of a departure seen going to this exit
    # Estimates of stocks (E2 slots): an estimate of stock s at month t lies in [low, high].
    stock_estimate_stock: np.ndarray  # (E2, N): one-hot stock of each estimate
    stock_estimate_month: np.ndarray  # (E2,): its month, from the analysis month
    stock_estimate_log_mid: np.ndarray  # (E2,): the log of its range's geometric middle
    stock_estimate_sd: np.ndarray  # (E2,): the sd of log size its range gives (90 % within it)
    stock_estimate_weight: np.ndarray  # (E2,): its grade weight; 0 for an unused slot
    stock_estimate_seen: np.ndarray  # (E2, J): counts on record of each channel to its month
    stock_estimate_unseen: np.ndarray  # (E2, J): months not on record of each channel to it
    stock_estimate_merged: np.ndarray  # (E2,): fighters merged into the stock on record by then

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays by data-container name."""
        return dict(vars(self))


def seen_counts(
    data: ModelData, history_months: int, channel: int, first: int, end: int
) -> tuple[float, int]:
    """Return a channel's counts on record, and how many months are, in months ``[first, end)``.

    Months count from the analysis month (0). A count on record is seen in
    full whatever its grade: the grade weighs its likelihood (the mask's
    value), not the number.
    """
    cells = slice(history_months + max(first, 0), history_months + max(end, first, 0))
    seen = data.count_mask[channel, cells] > 0
    return float(data.counts[channel, cells][seen].sum()), int(seen.sum())
