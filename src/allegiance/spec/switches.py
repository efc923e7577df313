"""Switch conditions and gated hazards: hazards piecewise in time, set off by dates or events.

A switch turns true on a known date (``date: 2021-08-15``: the parent takes
the capital) or on a hazard's event (``after: leader_killed.isk``: the date is
uncertain, with the hazard's own chance each month, until the event is on
record), and may end (``until: 2022-03-01``: a truce that lapses). An event's
switch is in effect from the month after the event's month, or from the
event's own month with ``after: {hazard: h, actor: a, from: same_month}``.
Its effects move hazards from the first month the switch is in effect; it has
no prior of its own. A hazard moved by a switch may itself set one off (a
chain), but no chain may loop back. A hazard with ``at_risk_after: join`` (or
``{hazard: join, from: same_month}``) is at risk only once that hazard's event
for the same actor has happened (join, then quit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.types import (
    Condition,
    Effect,
    Gate,
    Propensity,
    Series,
    Stock,
    Switch,
    months_between,
)

SWITCH_KEYS = ("date", "after")
FROM_MONTH = {"next_month": 1, "same_month": 0}  # months from an event's month to its effect
MAX_SWITCHES_PER_HAZARD = 3  # the forecast follows 2**n histories of a hazard's switches
MAX_UPSTREAM = 4  # events upstream of one hazard: a forecast follows up to 3**n histories


def read_switch(r: KeyReader, cid: str, key: str, body: Mapping[str, Any]) -> Condition:
    """Read a ``kind: switch`` condition: its text, one of ``date`` and ``after``, ``until``."""
    r.keys(body, key, ("kind", "text"), (*SWITCH_KEYS, "until", "rationale", "provenance"))
    given = [k for k in SWITCH_KEYS if k in body]
    if len(given) != 1:
        raise r.fail(
            key,
            "a switch needs exactly one of 'date' and 'after' (a hazard's event).",
            "write 'date: YYYY-MM-DD' for a known date, or 'after: hazard' / "
            "'after: hazard.actor' for an uncertain one.",
        )
    text = r.text(body["text"], f"{key}.text")
    until = r.date(body["until"], f"{key}.until") if "until" in body else None
    if "date" in body:
        when = r.date(body["date"], f"{key}.date")
        if until is not None and until <= when:
            raise r.fail(
                f"{key}.until",
                f"the switch would end on {until}, not after it starts on {when}.",
                "give an 'until' date after 'date', or remove 'until'.",
            )
        return Condition(cid, "switch", text, None, Switch(date=when, until=until))
    hazard, actor, lag = _event(r, f"{key}.after", body["after"], per_actor=True)
    switch = Switch(after=(hazard, actor), lag=lag, until=until)
    return Condition(cid, "switch", text, None, switch)


def read_gate(r: KeyReader, key: str, node: Any) -> Gate:
    """Read a hazard's ``at_risk_after``: a hazard's id, or ``{hazard, from}``."""
    hazard, _, lag = _event(r, key, node, per_actor=False)
    return Gate(hazard, lag)


def _event(r: KeyReader, key: str, raw: Any, *, per_actor: bool) -> tuple[str, str, int]:
    """Read an event: ``hazard[.actor]`` or ``{hazard, actor, from}``; return its slot and lag."""
    form = "'hazard.actor' or {hazard: h, actor: a, from: same_month}" if per_actor else (
        "'hazard' or {hazard: h, from: same_month} (the actor is the hazard's own)"
    )  # fmt: skip
    if isinstance(raw, str):
        hazard, _, actor = raw.partition(".")
        lag = FROM_MONTH["next_month"]
    elif isinstance(raw, Mapping):
        r.keys(raw, key, ("hazard",), ("actor", "from") if per_actor else ("from",))
        hazard = r.ident(raw["hazard"], f"{key}.hazard")
        actor = r.ident(raw["actor"], f"{key}.actor") if "actor" in raw else ""
        lag = FROM_MONTH[r.choice(raw.get("from", "next_month"), f"{key}.from", tuple(FROM_MONTH))]
    else:
        raise r.fail(key, f"expected {form}, got {short(raw)}.", "name a hazard of the model.")
    if actor and not per_actor:
        raise r.fail(
            key,
            f"{short(raw)} names an actor: the hazard is at risk after its own actor's event.",
            f"write {form}.",
        )
    return hazard, actor, lag


def check_switches(
    r: KeyReader,
    conditions: Mapping[str, Condition],
    propensities: Mapping[str, Propensity],
    effects: tuple[Effect, ...],
    series: Mapping[str, Series],
    stocks: Mapping[str, Stock],
    analysis_date: dt.date | None = None,
) -> None:
    """Check each switch's hazard, end and effects, and each gate, once the file is read.

    A switch's event must be a hazard's, for one of its actors (or a hazard of
    no one actor); one that ends must end after the analysis date. Its effects
    shift hazards and count series: no chance propensity, destination or
    necessary condition. A hazard gated by another's event must share its
    actors. No chain of switches and gates may loop back to where it started;
    at most :data:`MAX_UPSTREAM` events lie upstream of one hazard. A hazard or
    series is moved by at most :data:`MAX_SWITCHES_PER_HAZARD` switches, and a
    series by at most one set off by an event (a count's forecast sums over the
    months that event may come in). A stock's flows are not moved by switches.
    """
    switches = {c.id: c.switch for c in conditions.values() if c.switch is not None}
    for cid, switch in switches.items():
        if switch.until is not None and analysis_date is not None:
            if switch.until <= analysis_date:
                raise r.fail(
                    f"conditions.{cid}.until",
                    f"the switch ends on {switch.until}, on or before the analysis date "
                    f"{analysis_date}: it is never in effect.",
                    "remove the switch, or give an end after the analysis date.",
                )
        if switch.after is not None:
            _check_slot(r, f"conditions.{cid}.after", switch.after, propensities)
    for pid, p in propensities.items():
        if p.at_risk_after is not None:
            _check_gate(r, f"propensities.{pid}.at_risk_after", p, propensities)
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
    _check_loops(r, switches, propensities, effects)
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


def _check_slot(
    r: KeyReader, key: str, slot: tuple[str, str], propensities: Mapping[str, Propensity]
) -> None:
    hazard, actor = slot
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


def _check_gate(
    r: KeyReader, key: str, p: Propensity, propensities: Mapping[str, Propensity]
) -> None:
    """Refuse a gate on a chance, by no other hazard, or by one that lacks some of its actors."""
    assert p.at_risk_after is not None
    gate = propensities.get(p.at_risk_after.hazard)
    if p.kind != "hazard":
        raise r.fail(key, "only a hazard can be at risk after an event.", "remove it.")
    if gate is None or gate.kind != "hazard" or gate.id == p.id:
        known = [h.id for h in propensities.values() if h.kind == "hazard" and h.id != p.id]
        raise r.fail(
            key,
            f"{short(p.at_risk_after.hazard)} is not another hazard of the model.",
            "name one of: " + (", ".join(known) or "(none)") + ".",
        )
    missing = [a for a in p.actors if a not in gate.actors]
    if missing or bool(p.actors) != bool(gate.actors):
        raise r.fail(
            key,
            f"{p.id} is at risk after {gate.id}'s event for the same actor, but {gate.id} lists "
            f"actors [{', '.join(gate.actors)}] and {p.id} [{', '.join(p.actors)}].",
            f"list each actor of {p.id} under {gate.id} too (or give both no actor), or "
            "use a switch for an event of another actor.",
        )


def _check_loops(
    r: KeyReader,
    switches: Mapping[str, Switch],
    propensities: Mapping[str, Propensity],
    effects: tuple[Effect, ...],
) -> None:
    """Refuse a chain of switches and gates that loops back, and one with too many events."""
    edges = reaction_edges(switches, propensities, effects)
    done: set[tuple[str, str]] = set()
    path: list[tuple[tuple[str, str], str, str]] = []  # (slot, how it moves the next, key)

    def visit(slot: tuple[str, str]) -> None:
        for to, how, key in edges.get(slot, []):
            on_path = [s for s, _, _ in path] + [slot]
            if to in on_path:
                loop = [*path, (slot, how, key)][on_path.index(to) :]
                shown = " → ".join(f"{_name(s)} ({h})" for s, h, _ in loop) + f" → {_name(to)}"
                raise r.fail(
                    loop[0][2],
                    f"the events loop back: {shown}; a hazard cannot be moved by its own event.",
                    "break the loop: let one of these hazards be moved by binary conditions, "
                    "levels or dated switches only.",
                )
            if to not in done:
                path.append((slot, how, key))
                visit(to)
                path.pop()
        done.add(slot)

    for slot in list(edges):
        if slot not in done:
            visit(slot)
    for slot in {to for outs in edges.values() for to, _, _ in outs}:
        ahead = upstream_slots(edges, slot)
        if len(ahead) > MAX_UPSTREAM:
            raise r.fail(
                "conditions",
                f"{len(ahead)} events lie upstream of {_name(slot)}: "
                f"{', '.join(sorted(map(_name, ahead)))}.",
                f"use at most {MAX_UPSTREAM}: a forecast follows up to 3**n histories of them.",
            )


def _name(slot: tuple[str, str]) -> str:
    return ".".join(filter(None, slot))


Edges = dict[tuple[str, str], list[tuple[tuple[str, str], str, str]]]


def reaction_edges(
    switches: Mapping[str, Switch],
    propensities: Mapping[str, Propensity],
    effects: tuple[Effect, ...],
) -> Edges:
    """Which hazard slots each slot's event moves: ``slot -> [(moved slot, how, key)]``."""
    edges: Edges = {}
    for e in effects:
        switch = switches.get(e.condition)
        if switch is None or switch.after is None:
            continue
        for t in e.targets:
            p = propensities.get(t.node)
            if p is None or p.kind != "hazard":
                continue
            for a in p.actors or ("",):
                if t.member in (None, a):
                    edges.setdefault(switch.after, []).append(
                        ((p.id, a), f"switch {e.condition}", f"conditions.{e.condition}.after")
                    )
    for p in propensities.values():
        if p.at_risk_after is not None:
            for a in p.actors or ("",):
                edges.setdefault((p.at_risk_after.hazard, a), []).append(
                    ((p.id, a), "at_risk_after", f"propensities.{p.id}.at_risk_after")
                )
    return edges


def upstream_slots(edges: Edges, slot: tuple[str, str]) -> set[tuple[str, str]]:
    """Every slot whose event moves ``slot``, directly or through others."""
    into: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for source, outs in edges.items():
        for to, _, _ in outs:
            into.setdefault(to, set()).add(source)
    seen: set[tuple[str, str]] = set()
    todo = [slot]
    while todo:
        for source in into.get(todo.pop(), set()) - seen:
            seen.add(source)
            todo.append(source)
    return seen


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
    15 August from September. The same month rule gives the first month a
    switch ending on ``date`` is no longer in effect.
    """
    return months_between(analysis_date, date) + (date.day != 1)
