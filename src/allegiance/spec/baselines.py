"""A propensity's baseline: a prior the analyst states, or a reference class's pooled rate.

A hazard's baseline may be ``{reference_class: <id>}`` instead of a stated
prior: the class's pooled rate (:mod:`allegiance.spec.reference`) becomes the
chance of the event within the hazard's ``within_months``. The analyst may
adjust it in words, ``adjust: {ratio: 2, range: [1.2, 4]}`` (the rate is about
twice the class's, 90 % sure between 1.2 and 4 times), with the ``rationale``
and ``provenance`` of the adjustment. A hazard may also name its class,
``reference_class: <id>``, beside a stated prior: the outside view it is
compared with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.beliefs import justified, provenance
from allegiance.spec.matching import lognormal_params, matching
from allegiance.spec.priors import Prior, probability_prior
from allegiance.spec.reference import class_prior, reference_classes
from allegiance.spec.types import Justified

CLASS = "reference_class"


def baseline_reader(
    r: KeyReader, analysis_date: dt.date, kind: str, within_months: int
) -> Callable[[Any, str], Justified]:
    """Return the reader of one baseline block of a propensity: stated, or from a class."""

    def read(node: Any, key: str) -> Justified:
        node = r.mapping(node, key)
        if CLASS not in node:
            return justified(r, node, key, probability_prior)
        if kind != "hazard":
            raise r.fail(
                f"{key}.{CLASS}",
                "only a hazard's baseline can come from a reference class "
                "(a class counts events over the months groups were at risk).",
                "state the chance as 'prior' with its rationale and provenance.",
            )
        adjusted = "adjust" in node
        r.keys(node, key, (CLASS, *(("rationale", "provenance") if adjusted else ())),
               ("adjust", "rationale", "provenance"))  # fmt: skip
        ident = class_id(r, node[CLASS], f"{key}.{CLASS}", analysis_date)
        row = reference_classes()[ident]
        adjust = adjust_prior(r, node["adjust"], f"{key}.adjust") if adjusted else None
        prior = class_prior(ident, within_months, analysis_date, adjust, where=(r.name, key))
        why = (
            r.text(node["rationale"], f"{key}.rationale")
            if "rationale" in node
            else f"outside view: {row.counts()} in the class ({row.bound})"
        )
        source = (
            provenance(r, node["provenance"], f"{key}.provenance")
            if "provenance" in node
            else f"source: {row.citation}"
        )
        return Justified(prior, why, source)

    return read


def class_id(r: KeyReader, node: Any, key: str, analysis_date: dt.date) -> str:
    """Return a reference class's id, if the table has it and its period ended in time."""
    classes = reference_classes()
    usable = [c for c in classes.values() if c.usable(analysis_date)]
    ident = r.ident(node, key)
    if ident not in classes:
        raise r.fail(
            key,
            f"unknown reference class {short(ident)}.",
            "use one of the table's classes: " + ", ".join(classes) + ".",
        )
    row = classes[ident]
    if not row.usable(analysis_date):
        raise r.fail(
            key,
            f"reference class {ident} counts events of {row.period_start}-{row.period_end}, a "
            f"period that ends after the analysis date {analysis_date}: it was not all known then.",
            "use a class whose period ended before the analysis date: "
            + (", ".join(c.id for c in usable) or "(none)")
            + ".",
        )
    return ident


def adjust_prior(r: KeyReader, node: Any, key: str) -> Prior:
    """Read ``{ratio: r, range: [lo, hi]}``: a factor on the class's rate, as a LogNormal."""
    node = r.mapping(node, key)
    r.keys(node, key, ("ratio", "range"))
    ratio = r.number(node["ratio"], f"{key}.ratio", 0.0)
    rng = node["range"]
    if not isinstance(rng, list) or len(rng) != 2:
        raise r.fail(f"{key}.range", f"expected a list of two numbers, got {short(rng)}.",
                     "write the 90 % range of the factor as [lower, upper].")  # fmt: skip
    lo, hi = (r.number(v, f"{key}.range", 0.0) for v in rng)
    if not 0.0 < lo < ratio < hi:
        raise r.fail(
            f"{key}.range",
            f"need 0 < lower < ratio < upper, got [{lo:g}, {hi:g}] around {ratio:g}.",
            "give the factor on the class's rate (above 1 for a higher rate, below 1 for a "
            "lower one) inside a range around it.",
        )
    with matching(r.path, key, lo, hi, f"LogNormal has median {ratio:g}"):
        mu, sigma = lognormal_params(ratio, lo, hi)
    return Prior("lognormal", {"mu": mu, "sigma": sigma}, {"ratio": ratio, "range": [lo, hi]})


def hazard_class(
    r: KeyReader,
    body: Mapping[str, Any],
    key: str,
    kind: str,
    baselines: Mapping[str, Justified],
    analysis_date: dt.date,
) -> str:
    """Return the reference class of a propensity ('' if none): its own key, or its baseline's."""
    drawn = {b.prior.statement.get(CLASS) for b in baselines.values()} - {None}
    if CLASS not in body:
        return str(drawn.pop()) if len(drawn) == 1 else ""
    if kind != "hazard":
        raise r.fail(f"{key}.{CLASS}", "only a hazard's event has a reference class.",
                     "remove it.")  # fmt: skip
    ident = class_id(r, body[CLASS], f"{key}.{CLASS}", analysis_date)
    if drawn - {ident}:
        raise r.fail(
            f"{key}.{CLASS}",
            f"the hazard names class {ident} but its baseline draws on "
            + ", ".join(sorted(map(str, drawn)))
            + ".",
            "name the same class in both places, or remove the hazard's 'reference_class'.",
        )
    return ident
