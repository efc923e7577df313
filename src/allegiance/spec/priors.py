"""Priors stated in an analyst's words, turned into distributions.

Three kinds of statement are understood:

* a **probability**: ``{probability: 0.3, range: [0.1, 0.6]}`` (about 30 %,
  90 % sure it lies between 10 % and 60 %) or an ICD 203 word such as
  ``very likely``. It becomes the Beta with that mean and exactly 90 % of its
  mass in the range.
* a **ratio**: how strongly a condition multiplies odds or a rate,
  ``{ratio: 3, range: [1.5, 8]}`` or a word (``weak`` … ``very strong``). Its
  logarithm gets the Gamma with that median and 90 % of its mass in the
  range, so the
  direction of an effect is fixed by the model file and only its size is
  uncertain.
* a **magnitude**: a positive quantity such as a monthly count,
  ``{typical: 150, range: [40, 500]}``. It becomes a LogNormal with that
  median whose 90 % interval covers the range.

Every :class:`Prior` keeps the statement it came from and can describe the
distribution it chose, so the analyst sees what the package made of the words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allegiance.errors import SpecError
from allegiance.reading import short
from allegiance.spec.matching import MASS, beta_params, gamma_params, lognormal_params, matching
from allegiance.words import (
    estimative_band,
    known_estimative_words,
    known_strength_words,
    strength_band,
)


@dataclass(frozen=True)
class Family:
    """How a prior family is built in scipy and read back on the scale the analyst stated.

    Parameters
    ----------
    label : str
        How :meth:`Prior.describe` names the variable and its distribution.
    frozen : callable
        ``frozen(params)``: the scipy distribution of the prior's variable.
    stated : callable
        Maps the variable to the stated scale (``exp`` for a log-ratio).
    centre : {"mean", "median"}
        Which centre the analyst stated.
    pymc : str
        The PyMC distribution of the variable, which takes the parameters by name.
    """

    label: str
    frozen: Callable[[Mapping[str, float]], Any]
    stated: Callable[[float], float]
    centre: str
    pymc: str


def _scipy_stats() -> Any:
    # scipy.stats costs most of a second to import: only describing a prior needs it.
    from scipy import stats

    return stats


def _gamma(p: Mapping[str, float]) -> Any:
    return _scipy_stats().gamma(p["alpha"], scale=1.0 / p["beta"])


FAMILIES: dict[str, Family] = {
    "beta": Family(
        "Beta(alpha={alpha:.3g}, beta={beta:.3g}): mean",
        lambda p: _scipy_stats().beta(p["alpha"], p["beta"]),
        float,
        "mean",
        "Beta",
    ),
    "gamma": Family(
        "log-ratio ~ Gamma(alpha={alpha:.3g}, beta={beta:.3g}): ratio median",
        _gamma,
        math.exp,
        "median",
        "Gamma",
    ),
    "weight": Family(
        "Gamma(alpha={alpha:.3g}, beta={beta:.3g}) Dirichlet weight: mean",
        _gamma,
        float,
        "mean",
        "Gamma",
    ),
    "lognormal": Family(
        "LogNormal(mu={mu:.3g}, sigma={sigma:.3g}): median",
        lambda p: _scipy_stats().lognorm(p["sigma"], scale=math.exp(p["mu"])),
        float,
        "median",
        "LogNormal",
    ),
}


@dataclass(frozen=True)
class Prior:
    """A validated prior distribution with the statement it came from.

    Parameters
    ----------
    family : {"beta", "gamma", "lognormal"}
        Distribution family (:data:`FAMILIES`); ``gamma`` is placed on the log of a ratio.
    params : dict
        Parameters of the family: ``alpha, beta`` (Beta, Gamma rate ``beta``)
        or ``mu, sigma`` (LogNormal).
    statement : dict
        The analyst's statement, as written in the model file.
    """

    family: str
    params: Mapping[str, float]
    statement: Mapping[str, Any] = field(default_factory=dict)

    def frozen(self) -> Any:
        """Return the scipy distribution of the prior's variable."""
        return FAMILIES[self.family].frozen(self.params)

    def interval(self, mass: float = MASS) -> tuple[float, float]:
        """Return the central interval holding ``mass`` of the prior, on the stated scale."""
        lo, hi = self.frozen().interval(mass)
        stated = FAMILIES[self.family].stated
        return stated(float(lo)), stated(float(hi))

    def centre(self) -> float:
        """Return the stated-scale centre: mean for probabilities, median otherwise."""
        family = FAMILIES[self.family]
        dist = self.frozen()
        return family.stated(float(dist.mean() if family.centre == "mean" else dist.median()))

    def describe(self) -> str:
        """Describe the chosen distribution in one line.

        Examples
        --------
        >>> Prior("beta", {"alpha": 2.0, "beta": 6.0}).describe()
        'Beta(alpha=2, beta=6): mean 0.25, 90% in [0.053, 0.52]'
        """
        lo, hi = self.interval()
        digits = 2 if self.family == "beta" else 3
        head = FAMILIES[self.family].label.format(**self.params)
        return f"{head} {self.centre():.{digits}g}, 90% in [{lo:.{digits}g}, {hi:.{digits}g}]"


def _range(node: Mapping[str, Any], path: Path, key: str) -> tuple[float, float]:
    rng = node.get("range")
    if (
        not isinstance(rng, list | tuple)
        or len(rng) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)
    ):
        raise SpecError(
            path,
            f"{key}.range",
            f"expected a list of two numbers, got {short(rng)}.",
            "write the 90 % range as [lower, upper].",
        )
    try:
        lo, hi = float(rng[0]), float(rng[1])
    except OverflowError:
        lo, hi = math.inf, math.inf
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise SpecError(
            path,
            f"{key}.range",
            "the range's bounds must be finite numbers.",
            "write [lower, upper].",
        )
    if not lo < hi:
        raise SpecError(
            path,
            f"{key}.range",
            f"lower {lo} is not below upper {hi}.",
            "write the range as [lower, upper] with lower < upper.",
        )
    return lo, hi


def _number(node: Mapping[str, Any], name: str, path: Path, key: str) -> float:
    value = node.get(name)
    try:
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if isinstance(value, bool) or not math.isfinite(number):
        raise SpecError(
            path,
            f"{key}.{name}",
            f"expected a number, got {short(value)}.",
            "write a number such as 3 or 0.25, without quotes.",
        )
    return number


def _statement(
    node: Any, path: Path, key: str, forms: tuple[tuple[str, ...], ...]
) -> Mapping[str, Any]:
    """Return the statement as a mapping in one of ``forms``: unknown keys and mixes refused.

    ``{word: likely, probability: 0.05}`` states the prior twice; reading either
    would silently drop the other.
    """
    if isinstance(node, str) and ("word",) in forms:
        return {"word": node}
    if not isinstance(node, Mapping):
        raise SpecError(
            path,
            key,
            f"expected a mapping or a word, got {short(node)}.",
            "write e.g. {probability: 0.3, range: [0.1, 0.6]} or a word.",
        )
    written = " or ".join("{" + ", ".join(form) + "}" for form in forms)
    allowed = {name for form in forms for name in form}
    for name in node:
        if name not in allowed:
            shown = name if isinstance(name, str) and len(name) <= 60 else short(name)
            raise SpecError(
                path,
                f"{key}.{shown}",
                "unknown key.",
                "allowed keys here: " + ", ".join(sorted(allowed)) + f"; write {written}.",
            )
    used = [form for form in forms if any(name in node for name in form)]
    if len(used) > 1:
        both = ", ".join(repr(n) for form in used for n in form if n in node)
        raise SpecError(
            path,
            key,
            f"the prior is stated twice, by {both}.",
            f"keep one statement: {written}.",
        )
    return node


def _word_band(
    node: Mapping[str, Any],
    path: Path,
    key: str,
    lookup: Callable[[str], tuple[float, float] | None],
    known: list[str],
) -> tuple[float, float]:
    band = lookup(str(node["word"]))
    if band is None:
        kind = "estimative" if lookup is estimative_band else "strength"
        raise SpecError(
            path,
            f"{key}.word",
            f"unknown {kind} word {short(node['word'])}.",
            "use one of: " + ", ".join(known) + ".",
        )
    return band


def probability_prior(node: Any, path: Path, key: str) -> Prior:
    """Turn a probability statement into a Beta prior.

    Parameters
    ----------
    node : dict or str
        ``{probability: p, range: [lo, hi]}``, ``{word: w}`` or a bare ICD 203 word.
    path : Path
        The file the statement comes from (for errors).
    key : str
        The statement's key path (for errors).

    Returns
    -------
    Prior
        A Beta prior with mean ``p`` and 90 % of its mass in ``[lo, hi]``.
    """
    node = _statement(node, path, key, (("word",), ("probability", "range")))
    if "word" in node:
        lo, hi = _word_band(node, path, key, estimative_band, known_estimative_words())
        p = (lo + hi) / 2
    elif "probability" in node:
        p = _number(node, "probability", path, key)
        if not 0.0 < p < 1.0:
            raise SpecError(
                path,
                f"{key}.probability",
                f"probability {p:g} is outside (0, 1).",
                "give a probability strictly between 0 and 1.",
            )
        lo, hi = _range(node, path, key)
        if not 0.0 < lo < p < hi < 1.0:
            raise SpecError(
                path,
                f"{key}.range",
                f"range [{lo:g}, {hi:g}] must lie inside (0, 1) around {p:g}.",
                "write 0 < lower < probability < upper < 1.",
            )
    else:
        raise SpecError(
            path,
            key,
            "a probability prior needs 'probability' and 'range', or 'word'.",
            "write e.g. {probability: 0.3, range: [0.1, 0.6]} or {word: likely}.",
        )
    with matching(path, key, lo, hi, f"Beta has mean {p:g}"):
        alpha, beta = beta_params(p, lo, hi)
    return Prior("beta", {"alpha": alpha, "beta": beta}, dict(node))


def ratio_prior(node: Any, path: Path, key: str) -> Prior:
    """Turn a strength statement (a factor on odds or on a rate) into a prior on its log.

    Parameters
    ----------
    node : dict or str
        ``{ratio: r, range: [lo, hi]}`` with ``1 < lo < r < hi``, or a strength word.
    path, key
        Where the statement is, for errors.

    Returns
    -------
    Prior
        A Gamma prior on ``log(ratio)`` with median ``log(r)``.
    """
    node = _statement(node, path, key, (("word",), ("ratio", "range")))
    if "word" in node:
        lo, hi = _word_band(node, path, key, strength_band, known_strength_words())
        r = math.sqrt(lo * hi)
    elif "ratio" in node:
        r = _number(node, "ratio", path, key)
        lo, hi = _range(node, path, key)
        if not 1.0 < lo < r < hi:
            raise SpecError(
                path,
                f"{key}.{'ratio' if r <= 1.0 else 'range'}",  # a ratio at or below 1 is wrong alone
                f"need 1 < lower < ratio < upper, got [{lo:g}, {hi:g}] around {r:g}.",
                "state the size of the effect as a factor above 1; "
                "its sign comes from 'direction'.",
            )
    else:
        raise SpecError(
            path,
            key,
            "a strength needs 'ratio' and 'range', or a word.",
            "write e.g. {ratio: 3, range: [1.5, 8]} or {word: strong}.",
        )
    with matching(path, key, lo, hi, f"prior has median ratio {r:g}"):
        alpha, beta = gamma_params(math.log(r), math.log(lo), math.log(hi))
    return Prior("gamma", {"alpha": alpha, "beta": beta}, dict(node))


def magnitude_prior(node: Any, path: Path, key: str) -> Prior:
    """Turn ``{typical: m, range: [lo, hi]}`` into a LogNormal prior.

    The median is ``m``; sigma is chosen so the 90 % interval covers the range
    on the wider side of ``m``.
    """
    node = _statement(node, path, key, (("typical", "range"),))
    m = _number(node, "typical", path, key)
    lo, hi = _range(node, path, key)
    if not 0.0 < lo < m < hi:
        raise SpecError(
            path,
            f"{key}.{'typical' if m <= 0.0 else 'range'}",  # a typical value <= 0 is wrong alone
            f"need 0 < lower < typical < upper, got [{lo:g}, {hi:g}] around {m:g}.",
            "give a positive typical value inside a positive range.",
        )
    with matching(path, key, lo, hi, f"LogNormal has median {m:g}"):
        mu, sigma = lognormal_params(m, lo, hi)
    return Prior("lognormal", {"mu": mu, "sigma": sigma}, dict(node))
