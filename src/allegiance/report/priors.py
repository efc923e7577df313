"""Figures of each prior against its posterior: the conditions and every free variable.

Each variable is shown on the scale the analyst stated: a shift effect as its
ratio, a count channel as its typical monthly count. The prior is a dashed
black curve, the posterior a grey histogram with a solid outline, so the
figures stay readable printed in black and white.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from allegiance import model as m
from allegiance.model import coordinates
from allegiance.report.figures import _pyplot, drawn, save_png_svg
from allegiance.spec import ModelSpec
from allegiance.spec.priors import FAMILIES, Prior

TITLES = {
    m.CONDITION_PROBABILITY: "probability of each binary condition",
    m.LEVEL: "level of each graded condition (0 to 1)",
    m.BASELINE: "baseline chance of each slot within its window",
    m.LOG_RATIO: "ratio of each shift effect",
    m.LEAK: "leak of each near-necessary condition",
    m.LOG_RATE: "typical monthly count of each channel",
    m.OVERDISPERSION: "overdispersion of each series",
    m.DESTINATION_WEIGHT: "Dirichlet weight of each destination (shares are weights normalised)",
    m.STOCK_START: "size of each stock on the analysis date",
    m.STOCK_GROWTH: "yearly trend factor of each stock",
}
LOGGED = (m.LOG_RATIO, m.LOG_RATE)  # sampled as logarithms of what the analyst stated
BINS = 30
TAIL = 0.005  # the x range covers the prior's and the posterior's 0.5 %-99.5 % quantiles
COLUMNS = 4
MAX_HEIGHT = 16.0  # inches, however many panels


@dataclass(frozen=True)
class Panel:
    """One element's prior and posterior on the stated scale, as drawn.

    ``heights`` is the density of the posterior draws in each bin between
    ``edges``, relative to all draws (the few beyond the range are not drawn);
    ``density`` is the prior's density at ``x``. Both centres are the one the
    analyst stated: the mean of a probability, the median of a ratio or magnitude.
    """

    label: str
    edges: np.ndarray
    heights: np.ndarray
    x: np.ndarray
    density: np.ndarray
    prior_centre: float
    prior_interval: tuple[float, float]
    posterior_centre: float
    posterior_interval: tuple[float, float]


def _stated(prior: Prior) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[float], float]]:
    """Return the prior's density and quantile function on the scale the analyst stated."""
    dist = prior.frozen()
    if FAMILIES[prior.family].stated is math.exp:  # a prior on the log of a ratio
        return (lambda y: dist.pdf(np.log(y)) / y), (lambda q: math.exp(dist.ppf(q)))
    return dist.pdf, (lambda q: float(dist.ppf(q)))


def panel(label: str, prior: Prior, values: np.ndarray) -> Panel:
    """Summarise one element: its prior and its posterior draws, both on the stated scale."""
    pdf, ppf = _stated(prior)
    tails = np.quantile(values, [TAIL, 1.0 - TAIL])
    lo, hi = min(ppf(TAIL), float(tails[0])), max(ppf(1.0 - TAIL), float(tails[1]))
    edges = np.linspace(lo, hi, BINS + 1)
    counts, _ = np.histogram(values, edges)
    x = np.linspace(lo, hi, 200)
    q05, q95 = np.quantile(values, [0.05, 0.95])
    mean = FAMILIES[prior.family].centre == "mean"
    centre = float(values.mean() if mean else np.median(values))
    return Panel(label, edges, counts / (values.size * np.diff(edges)), x, pdf(x), prior.centre(),
                 prior.interval(), centre, (float(q05), float(q95)))  # fmt: skip


def variable_panels(spec: ModelSpec, name: str, draws: np.ndarray) -> list[Panel]:
    """Return one :class:`Panel` per element of a free variable, labelled from the coords.

    ``draws`` are the variable's posterior draws, shape (n, dim), on the
    sampled scale; logged variables are exponentiated to the stated scale.
    """
    beliefs, dim = m.variable_beliefs(spec)[name]
    values = np.exp(draws) if name in LOGGED else np.asarray(draws, dtype=float)
    labels = coordinates(spec)[dim]
    pairs = enumerate(zip(labels, beliefs, strict=True))
    return [panel(str(label), b.prior, values[:, i]) for i, (label, b) in pairs]


def variable_figure(name: str, panels: list[Panel]) -> Any:
    """Draw small multiples, one panel per element; return the open figure."""
    plt = _pyplot()
    cols = min(COLUMNS, len(panels))
    rows = math.ceil(len(panels) / cols)
    size = (max(2.6 * cols, 5.0), min(1.9 * rows + 0.9, MAX_HEIGHT))
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")
    for ax, p in zip(axes.flat, panels, strict=False):
        ax.stairs(p.heights, p.edges, fill=True, color="0.75", label="posterior")
        ax.stairs(p.heights, p.edges, color="k", lw=0.8)
        ax.plot(p.x, p.density, "k--", lw=1.2, label="prior")
        ax.set_title(p.label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes.flat[len(panels) :]:
        ax.remove()
    fig.suptitle(f"{name}, prior against posterior:\n{TITLES.get(name, name)}", fontsize=9)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
               fontsize=8)  # fmt: skip
    return fig


def _n(x: float) -> str:
    return f"{x:.3g}"


def variable_alt(name: str, centre: str, panels: list[Panel]) -> str:
    """Say what a variable's figure shows, with each element's prior and posterior in numbers."""
    items = "; ".join(
        f"{p.label} prior {_n(p.prior_centre)} ({_n(p.prior_interval[0])}–"
        f"{_n(p.prior_interval[1])}), posterior {_n(p.posterior_centre)} "
        f"({_n(p.posterior_interval[0])}–{_n(p.posterior_interval[1])})"
        for p in panels
    )
    return (
        f"{name}: {TITLES.get(name, name)}; prior (dashed curve) {centre} and 90 % interval "
        f"against posterior (grey histogram) {centre} and 90 % interval: {items}"
    )


def condition_rows(
    spec: ModelSpec, probability: Mapping[str, float]
) -> list[tuple[str, float, float]]:
    """Return (condition, prior probability true, posterior probability true), in file order.

    The prior probability is the mean of the condition's Beta prior;
    conditions without a posterior probability are left out.
    """
    return [
        (c, spec.conditions[c].prior_belief.prior.centre(), float(probability[c]))
        for c in spec.binary_conditions
        if c in probability
    ]


def conditions_figure(rows: list[tuple[str, float, float]]) -> Any:
    """Draw each condition's prior (open circle) and posterior (filled) chance of being true."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, min(0.35 * len(rows) + 1.3, MAX_HEIGHT)),
                           layout="constrained")  # fmt: skip
    y = np.arange(len(rows))[::-1]
    for yi, (_, prior, post) in zip(y, rows, strict=True):
        ax.plot([prior, post], [yi, yi], color="0.5", lw=1)
    ax.plot([r[1] for r in rows], y, "o", mfc="white", mec="k", label="prior (Beta mean)")
    ax.plot([r[2] for r in rows], y, "o", color="k", label="posterior")
    ax.set(xlim=(0, 1), ylim=(-0.7, len(rows) - 0.3), xlabel="probability the condition is true")
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    ax.grid(axis="x", color="0.85", lw=0.5)
    ax.set_title("Binary conditions: prior against posterior", fontsize=10)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    return fig


def prior_posterior_figures(
    spec: ModelSpec,
    draws: Mapping[str, np.ndarray],
    condition_probability: Mapping[str, float],
    out: Path,
) -> list[tuple[Path, str]]:
    """Draw each prior against its posterior; return each PNG with its alt text.

    Parameters
    ----------
    spec : ModelSpec
        The model whose priors are drawn.
    draws : mapping of str to numpy.ndarray
        Posterior draws per free variable, shape (n, dim), as
        ``Posterior.flat_draws()`` returns them.
    condition_probability : mapping of str to float
        Posterior probability that each binary condition is true.
    out : Path
        Folder for ``prior_posterior_conditions.png`` and
        ``prior_posterior_<variable>.png``, each with an SVG beside it.

    Returns
    -------
    list of (Path, str)
        Each PNG written and its alt text. Variables the model lacks, or the
        draws lack, get no figure; nor do conditions when there are none.
    """
    return drawn(prior_posterior_calls(spec, draws, condition_probability, out))


def prior_posterior_calls(
    spec: ModelSpec,
    draws: Mapping[str, np.ndarray],
    condition_probability: Mapping[str, float],
    out: Path,
) -> list[Callable[[], tuple[Path, str]]]:
    """Return the calls that draw :func:`prior_posterior_figures`.

    The numbers are summarised here; each call only draws and saves (for
    :func:`~allegiance.report.figures.drawn`), and returns its PNG with its alt text.
    """
    out.mkdir(parents=True, exist_ok=True)
    calls: list[Callable[[], tuple[Path, str]]] = []
    rows = condition_rows(spec, condition_probability)
    if rows:
        items = "; ".join(f"{c} prior {_n(p)}, posterior {_n(q)}" for c, p, q in rows)
        alt = (
            "Binary conditions, probability of being true: prior (open circle, mean of its "
            f"Beta prior) against posterior (filled circle): {items}"
        )
        png = out / "prior_posterior_conditions.png"
        calls.append(partial(_saved, conditions_figure, rows, png, alt))
    for name, (beliefs, _) in m.variable_beliefs(spec).items():
        if not beliefs or name not in draws or np.size(draws[name]) == 0:
            continue
        panels = variable_panels(spec, name, draws[name])
        centre = FAMILIES[beliefs[0].prior.family].centre
        png = out / f"prior_posterior_{name}.png"
        alt = variable_alt(name, centre, panels)
        calls.append(partial(_saved, partial(variable_figure, name), panels, png, alt))
    return calls


def _saved(figure: Callable[[Any], Any], what: Any, png: Path, alt: str) -> tuple[Path, str]:
    """Draw ``figure(what)``, save it as ``png`` and SVG; return the PNG and its alt text."""
    return save_png_svg(figure(what), png), alt
