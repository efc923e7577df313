"""Switch conditions: false before a date, true from it on, so that hazards are piecewise in time.

A switch turns true on a known date (``date: 2021-08-15``: the parent takes the
capital) or on a hazard's event (``after: leader_killed.isk``: the date is
uncertain, with the hazard's own chance each month, until the event is on
record). Its effects move hazards from the first month the switch is in
effect; it has no prior of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.types import (
    Condition,
    Effect,
    Propensity,
    Series,
    Stock,
    Switch,
    months_between,
)

SWITCH_KEYS = ("date", "after")
MAX_SWITCHES_PER_HAZARD = 3  # the forecast follows 2**n histories of a hazard's switches


def read_switch(r: KeyReader, cid: str, key: str, body: Mapping[str, Any]) -> Condition:
    """Read a ``kind: switch`` condition: its text and exactly one of ``on`` and ``after``."""
    r.keys(body, key, ("kind", "text"), (*SWITCH_KEYS, "rationale", "provenance"))
    given = [k for k in SWITCH_KEYS if k in body]
    if len(given) != 1:
        raise r.fail(
            key,
            "a switch needs exactly one of 'date' and 'after' (a hazard's event).",
            "write 'date: YYYY-MM-DD' for a known date, or 'after: hazard' / "
            "'after: hazard.actor' for an uncertain one.",
        )
    text = r.text(body["text"], f"{key}.text")
    if "date" in body:
        when = r.date(body["date"], f"{key}.date")
        return Condition(cid, "switch", text, None, Switch(date=when))
    raw = body["after"]
    if not isinstance(raw, str):
        raise r.fail(
            f"{key}.after",
            f"expected 'hazard' or 'hazard.actor', got {short(raw)}.",
            "name a hazard of the model, with one of its actors if it lists any.",
        )
    hazard, _, actor = raw.partition(".")
    return Condition(cid, "switch", text, None, Switch(after=(hazard, actor)))


def check_switches(
    r: KeyReader,
    conditions: Mapping[str, Condition],
    propensities: Mapping[str, Propensity],
    effects: tuple[Effect, ...],
    series: Mapping[str, Series],
    stocks: Mapping[str, Stock],
) -> None:
    """Check each switch's hazard and effects, once the rest of the file is read.

    A switch's event must be a hazard's, for one of its actors (or a hazard of
    no one actor). Its effects shift hazards and count series: no chance
    propensity, destination or necessary condition. A hazard that sets off a
    switch may not itself be moved by one (a chain of switches); a hazard or
    series is moved by at most :data:`MAX_SWITCHES_PER_HAZARD` switches, and a
    series by at most one set off by an event (a count's forecast sums over the
    months that event may come in). A stock's flows are not moved by switches.
    """
    switches = {c.id: c.switch for c in conditions.values() if c.switch is not None}
    for cid, switch in switches.items():
        if switch.after is None:
            continue
        key = f"conditions.{cid}.after"
        hazard, actor = switch.after
        p = propensities.get(hazard)
        if p is None or p.kind != "hazard":
            known = [h.id for h in propensities.values() if h.kind == "hazard"]
            raise r.fail(
                key,
                f"{short(hazard)} is not a hazard of the model.",
                "name one of: " + (", ".join(known) or "(none)") + ".",
            )
        if (actor or p.actors) and actor not in p.actors:
            raise r.fail(
                key,
                f"{short(hazard)} needs one of its actors: {short(actor)} is not one.",
                "write 'after: " + hazard + ".<actor>' with one of: " + ", ".join(p.actors) + ".",
            )
    moved: dict[str, set[str]] = {}
    for e in effects:
        if e.condition not in switches:
            continue
        key = f"effects.{e.id}"  # a necessary effect was refused already: it needs a binary
        for i, t in enumerate(e.targets):
            p = propensities.get(t.node)
            if t.node in series:
                _check_series_target(r, f"{key}.targets[{i}]", t.node, t.member, stocks)
            elif p is None or p.kind != "hazard":
                raise r.fail(
                    f"{key}.targets[{i}]",
                    f"a switch moves hazards and count series only; {short(t.node)} is neither.",
                    "target a hazard (hazard or hazard.actor) or a series.",
                )
            moved.setdefault(t.node, set()).add(e.condition)
    for cid, switch in switches.items():
        if switch.after is not None and switch.after[0] in moved:
            raise r.fail(
                f"conditions.{cid}.after",
                f"hazard {short(switch.after[0])} sets off a switch and is moved by switch "
                f"{short(sorted(moved[switch.after[0]])[0])}: chains of switches are not modelled.",
                "let the switch's hazard be moved by binary conditions or levels only.",
            )
    for node, by in moved.items():
        if len(by) > MAX_SWITCHES_PER_HAZARD:
            raise r.fail(
                "effects",
                f"{short(node)} is moved by {len(by)} switches: {', '.join(sorted(by))}.",
                f"use at most {MAX_SWITCHES_PER_HAZARD} per hazard or series.",
            )
        pending = sorted(c for c in by if switches[c].after is not None)
        if node in series and len(pending) > 1:
            raise r.fail(
                "effects",
                f"series {short(node)} is moved by {len(pending)} switches set off by events: "
                f"{', '.join(pending)}.",
                "let at most one switch with 'after' move a series; give the others a date.",
            )


def _check_series_target(
    r: KeyReader, key: str, node: str, member: str | None, stocks: Mapping[str, Stock]
) -> None:
    for stock in stocks.values():
        for sid, cat in (*stock.inflows, *stock.outflows):
            if sid == node and member in (None, cat):
                raise r.fail(
                    key,
                    f"{sid}.{cat} flows into or out of stock {short(stock.id)}: a switch may not "
                    "move a stock's flows.",
                    "move another series, or leave the flow to binary conditions and levels.",
                )


def known_switch_month(analysis_date: dt.date, date: dt.date) -> int:
    """First month (from the analysis month, 0) a switch dated ``date`` is in effect.

    The first whole month on or after the date: 1 August counts from August,
    15 August from September.
    """
    return months_between(analysis_date, date) + (date.day != 1)
