"""Stocks: a group's strength over time, and where merged fighters go.

A stock is an actor's fighters: its size on the analysis date (a magnitude
with a range), a yearly trend factor apart from what is counted, count
channels that flow in (recruits, defectors, releases) and out (losses,
surrenders), and the fighters of factions whose departure goes to a
destination naming the actor (``to:``). Estimates of it ("1,000–2,200
fighters", graded) are evidence; questions ask whether it is above or below
a threshold at a date.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.beliefs import justified
from allegiance.spec.priors import magnitude_prior
from allegiance.spec.types import Actor, Propensity, Series, Stock


def read_stocks(
    r: KeyReader, node: Any, actors: Mapping[str, Actor], series: Mapping[str, Series]
) -> dict[str, Stock]:
    """Read the ``stocks`` section: each stock's actor, start, trend and flows."""
    out: dict[str, Stock] = {}
    for sid, body in r.mapping(node, "stocks").items():
        key = f"stocks.{sid}"
        r.ident(sid, key)
        body = r.mapping(body, key)
        r.keys(body, key, ("text", "actor", "start", "growth"), ("inflows", "outflows"))
        actor = r.ident(body["actor"], f"{key}.actor")
        if actor not in actors:
            raise r.fail(
                f"{key}.actor", f"unknown actor {short(actor)}.", "name an actor of the model."
            )
        other = next((s.id for s in out.values() if s.actor == actor), None)
        if other is not None:
            raise r.fail(
                f"{key}.actor",
                f"{actor} already has a stock, stocks.{other}: an actor's fighters are one number.",
                f"keep one stock for {actor}: merge the two, or name another actor.",
            )
        flows = {name: _flows(r, body.get(name, []), f"{key}.{name}", series)
                 for name in ("inflows", "outflows")}  # fmt: skip
        both = set(flows["inflows"]) & set(flows["outflows"])
        if both:
            raise r.fail(
                f"{key}.outflows",
                f"{'.'.join(sorted(both)[0])} flows both in and out.",
                "list a channel once.",
            )
        out[sid] = Stock(
            sid,
            r.text(body["text"], f"{key}.text"),
            actor,
            justified(r, body["start"], f"{key}.start", magnitude_prior),
            justified(r, body["growth"], f"{key}.growth", magnitude_prior),
            flows["inflows"],
            flows["outflows"],
        )
    return out


def _flows(
    r: KeyReader, node: Any, key: str, series: Mapping[str, Series]
) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, list):
        raise r.fail(
            key,
            "expected a list of count channels, series.category.",
            "write e.g. '[defectors.rank_and_file]', or [] for none.",
        )
    out: list[tuple[str, str]] = []
    for i, raw in enumerate(node):
        where = f"{key}[{i}]"
        if not isinstance(raw, str) or raw.count(".") != 1:
            raise r.fail(
                where,
                f"expected 'series.category', got {short(raw)}.",
                "name a series and one of its categories, joined by a dot.",
            )
        sid, cat = raw.split(".")
        if sid not in series or cat not in series[sid].categories:
            known = [f"{s.id}.{c}" for s in series.values() for c in s.categories]
            raise r.fail(
                where,
                f"{short(raw)} is not a count channel of the model.",
                "name one of: " + (", ".join(known) or "(none: declare a series)") + ".",
            )
        if (sid, cat) in out:
            raise r.fail(
                where,
                f"{raw} is listed twice (first at {key}[{out.index((sid, cat))}]): "
                "its fighters would count twice.",
                "list a channel once.",
            )
        out.append((sid, cat))
    return tuple(out)


def check_receiving(
    r: KeyReader, propensities: Mapping[str, Propensity], actors: Mapping[str, Actor]
) -> None:
    """Check each destination's receiving actor (``to``) and that it is not the one leaving."""
    for p in propensities.values():
        for d in p.destinations.values():
            key = f"propensities.{p.id}.destinations.{d.id}.to"
            if d.to is None:
                continue
            if d.to not in actors:
                raise r.fail(key, f"unknown actor {short(d.to)}.", "name an actor of the model.")
            if d.to in p.actors:
                raise r.fail(
                    key,
                    f"{short(d.to)} leaves under this hazard: it cannot join itself.",
                    "name another actor, or leave 'to' out.",
                )
