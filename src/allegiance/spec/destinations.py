"""Where an actor that leaves goes: a hazard's competing destinations, shares summing to one.

A hazard may declare ``destinations``: each one's text and its share of
departures, stated as a probability (``{probability: 0.2, range: [0.05,
0.4]}`` or a word). The stated shares must add up to one. Together they
become one Dirichlet per actor: its mean is the stated shares and its
concentration ``k`` the geometric mean of the concentrations that give each
share's Beta exactly 90 % of its mass in its range (a Dirichlet's marginals
are Betas with a common concentration, so the ranges are honoured on
average). The model samples a Gamma(``k m_d``, 1) weight per destination and
actor; the shares are the weights normalised, moved by effects on
``hazard:destination`` as multinomial-logit shifts. A destination may name
the actor it joins (``to``): a departing actor's fighters then join that
actor's stocks.
"""

from __future__ import annotations

import math
from typing import Any

from allegiance.reading import KeyReader
from allegiance.spec.beliefs import justified
from allegiance.spec.priors import Prior, probability_prior
from allegiance.spec.types import Destination

SHARE_TOLERANCE = 0.02  # how far the stated shares may add up from one


def read_destinations(r: KeyReader, node: Any, key: str, kind: str) -> dict[str, Destination]:
    """Read a hazard's ``destinations``: each one's text and stated share."""
    if kind != "hazard":
        raise r.fail(key, "only a hazard's event goes somewhere.", "remove 'destinations'.")
    entries = r.mapping(node, key)
    if len(entries) < 2:
        raise r.fail(
            key,
            "a departure needs at least two destinations to choose from.",
            "add another destination, or remove 'destinations'.",
        )
    stated: dict[str, tuple[str, Any]] = {}
    receiving: dict[str, str] = {}
    for name, body in entries.items():
        where = f"{key}.{name}"
        r.ident(name, where)
        body = r.mapping(body, where)
        r.keys(body, where, ("text", "share"), ("to",))
        stated[name] = (r.text(body["text"], f"{where}.text"), justified(
            r, body["share"], f"{where}.share", probability_prior
        ))  # fmt: skip
        if "to" in body:
            receiving[name] = r.ident(body["to"], f"{where}.to")
    means = {name: belief.prior.centre() for name, (_, belief) in stated.items()}
    total = sum(means.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise r.fail(
            key,
            f"the shares add up to {total:.3f}, not 1: "
            + ", ".join(f"{n} {m:.3f}" for n, m in means.items())
            + ".",
            "state each destination's share of departures so that they add up to one.",
        )
    k = math.exp(
        sum(math.log(b.prior.params["alpha"] + b.prior.params["beta"]) for _, b in stated.values())
        / len(stated)
    )
    return {
        name: Destination(
            name,
            text,
            belief,
            Prior(
                "weight", {"alpha": k * means[name] / total, "beta": 1.0}, belief.prior.statement
            ),
            receiving.get(name),
        )
        for name, (text, belief) in stated.items()
    }
