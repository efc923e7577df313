"""Scenarios: the forecasts if some conditions were otherwise, by intervention or observation.

Two questions an analyst asks, with different answers:

- **do** (``do(c = v)``, the default): *if the world were made so that c is v*.
  What the evidence says about everything else stands; only c is set. Per
  draw, each configuration's posterior weight moves onto the configuration
  that agrees with it except that c is v. Evidence that bore on c through
  other paths (a faction that stayed, say, suggesting no deal) no longer
  counts against the setting.
- **observe** (``c = v`` observed): *if we learned that c is v*. Everything
  is conditioned on it, as an A1 observation would: configurations with
  c ≠ v drop out within each draw, and each draw is reweighted by how
  likely c = v was in it, so what c = v implies for the other unknowns (the
  hazards that explained the evidence without it) moves too.

Both reuse the posterior draws; no refit. An observation of something the
posterior finds unlikely leaves few effective draws: the forecast's checks
then say so, as for any reweighting.

Every function here reads the draws as :data:`Block` s: the model's terms
evaluated once (by :func:`draw_blocks`, or kept by
:meth:`~allegiance.update.updater.Updater.blocks`) serve every scenario.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from allegiance.evidence import ModelData
from allegiance.forecast.summary import question_blocks
from allegiance.model.structure import structure
from allegiance.spec import ModelSpec

MODES = ("do", "observe")

Block = tuple[np.ndarray, dict[str, np.ndarray]]
"""A block of draws: each configuration's weight within each draw, (draws, configurations),
and question id -> the question's probability per draw and configuration, the same shape."""


def draw_blocks(spec: ModelSpec, data: ModelData, draws: Mapping[str, np.ndarray]) -> list[Block]:
    """Evaluate the model's terms on the draws, in blocks of :data:`~allegiance.forecast.CHUNK`.

    Parameters
    ----------
    spec : ModelSpec
    data : ModelData
        The evidence the draws are conditioned on.
    draws : mapping
        Free variables, each of shape ``(draws, dim)``.
    """
    return [(np.exp(log_w), per_config) for log_w, per_config in question_blocks(spec, data, draws)]


def _mask(spec: ModelSpec, setting: Mapping[str, bool]) -> tuple[np.ndarray, np.ndarray]:
    """Return the configurations that agree with the setting, and each one's counterpart."""
    configs = structure(spec).configurations  # (B, Z) of 0/1
    agree = np.ones(configs.shape[1], dtype=bool)
    moved = configs.copy()
    for condition, value in setting.items():
        b = spec.binary_conditions.index(condition)
        agree &= configs[b] == float(value)
        moved[b] = float(value)
    bits = 2 ** np.arange(configs.shape[0])[::-1]  # configurations enumerate as binary numbers
    return agree, (bits @ moved).astype(int)


def scenario_draws(
    spec: ModelSpec, blocks: Sequence[Block], setting: Mapping[str, bool], mode: str = "do"
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-draw probability of every question under a scenario, and each draw's log weight.

    Parameters
    ----------
    spec : ModelSpec
    blocks : sequence of Block
        The draws, evaluated under the evidence they were fitted to.
    setting : mapping
        Binary condition id -> the value it is set to (or observed at).
    mode : {"do", "observe"}

    Returns
    -------
    per_draw : dict
        Question id -> probability per draw.
    log_weights : array
        Normalised log weight of each draw: equal for ``do``; for ``observe``,
        proportional to the posterior probability of the setting in that draw.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: use do or observe")
    agree, counterpart = _mask(spec, setting)
    n = sum(w.shape[0] for w, _ in blocks)
    out: dict[str, list[np.ndarray]] = {qid: [] for qid in spec.questions}
    mass = []
    for w, per_config in blocks:
        if mode == "observe":
            kept = w * agree
            mass.append(kept.sum(axis=-1))
            w = kept / np.maximum(mass[-1][:, None], np.finfo(float).tiny)
        else:
            moved = np.zeros_like(w)
            np.add.at(moved.T, counterpart, w.T)  # each configuration's weight to its counterpart
            w = moved
        for qid, pc in per_config.items():
            out[qid].append(np.clip(np.sum(w * pc, axis=-1), 0.0, 1.0))
    per_draw = {k: np.concatenate(v) for k, v in out.items()}
    if mode == "do":
        return per_draw, np.full(n, -np.log(n))
    log_mass = np.log(np.concatenate(mass))
    return per_draw, log_mass - np.logaddexp.reduce(log_mass)


def information_value(spec: ModelSpec, blocks: Sequence[Block]) -> dict[str, dict[str, float]]:
    """Return the expected absolute change of each question once a condition is learned.

    For a binary condition ``c`` not yet certain, ``sum_v P(c = v | E) |P(q | E, c = v) -
    P(q | E)|``: what learning ``c`` would be worth to the forecast of ``q``, the
    conditioning being an observation (as ``observe`` scenarios). Draws are equally
    weighted (a fit of exactly this evidence).

    Returns
    -------
    dict
        Question id -> condition id -> expected absolute change in probability.
    """
    return what_matters(spec, blocks)[0]


def what_matters(
    spec: ModelSpec, blocks: Sequence[Block]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Return :func:`information_value` and each condition's do() effect, in one pass.

    The do() effect of ``c`` on ``q`` is ``P(q | do(c = true)) - P(q | do(c = false))``
    (as ``do`` scenarios of :func:`scenario_draws`). Each block's weights and
    per-configuration values serve every condition.

    Returns
    -------
    (dict, dict)
        Question id -> condition id -> value of information; condition id ->
        question id -> do() effect.
    """
    conditions = spec.binary_conditions
    if not conditions:  # nothing to learn or to set
        return {qid: {} for qid in spec.questions}, {}
    configs = structure(spec).configurations  # (B, Z)
    n = sum(w.shape[0] for w, _ in blocks)
    # Per condition and value, (B, 2, ...): which configurations agree with it, and each
    # configuration's counterpart with it set.
    agree = np.stack([configs == v for v in (0, 1)], axis=1).astype(float)
    counterparts = np.array([[_mask(spec, {c: bool(v)})[1] for v in (0, 1)] for c in conditions])
    columns = np.arange(configs.shape[1])
    mass = np.zeros((len(conditions), 2))
    joint = {qid: np.zeros_like(mass) for qid in spec.questions}
    done = {qid: np.zeros_like(mass) for qid in spec.questions}
    for w, per_config in blocks:
        mass += agree @ w.sum(axis=0)
        for qid, pc in per_config.items():
            joint[qid] += agree @ (w * pc).sum(axis=0)
            moved = w.T @ pc  # (Z, Z): the draws' weight of z times their value at z'
            done[qid] += moved[columns, counterparts].sum(axis=-1)
    information: dict[str, dict[str, float]] = {}
    for qid in spec.questions:
        p = joint[qid].sum(axis=1)[0] / n  # the same total whichever condition splits it
        given = np.divide(joint[qid], mass, out=np.full_like(mass, p), where=mass > 0)
        information[qid] = {
            c: float((mass[b] / n) @ np.abs(given[b] - p)) for b, c in enumerate(conditions)
        }
    effects = {
        c: {qid: float(done[qid][b, 1] - done[qid][b, 0]) / n for qid in spec.questions}
        for b, c in enumerate(conditions)
    }
    return information, effects
