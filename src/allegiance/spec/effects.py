"""Effects: how each condition moves the propensities and series it targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.beliefs import provenance
from allegiance.spec.priors import probability_prior, ratio_prior
from allegiance.spec.types import (
    Condition,
    Effect,
    Justified,
    ModelSpec,
    Propensity,
    Series,
    Target,
)

EFFECT_KINDS = ("shift", "necessary")


DIRECTIONS = {"raises": 1, "lowers": -1}


def _target(
    r: KeyReader,
    raw: Any,
    key: str,
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
) -> Target:
    if not isinstance(raw, str):
        raise r.fail(
            key,
            f"expected 'node' or 'node.member', got {short(raw)}.",
            "write a propensity or series id, e.g. leave or leave.splinter.",
        )
    raw, _, destination = raw.partition(":")
    node, _, member = raw.partition(".")
    if destination:
        where = propensities.get(node)
        if where is None or destination not in where.destinations:
            known = [f"{p.id}:{d}" for p in propensities.values() for d in p.destinations] or [
                "(none: no hazard declares destinations)"
            ]
            raise r.fail(
                key,
                f"{node}:{destination} is not a destination of the model.",
                "name one of: " + ", ".join(known) + ".",
            )
    if node in propensities:
        members = propensities[node].actors
    elif node in series:
        members = series[node].categories
    else:
        raise r.fail(
            key,
            f"unknown target {short(node)}.",
            "name a propensity or a series: " + ", ".join([*propensities, *series]) + ".",
        )
    if member and member not in members:
        raise r.fail(
            key,
            f"{short(member)} is not a member of {short(node)}.",
            "members are: " + (", ".join(members) or "(none: a global node)") + ".",
        )
    return Target(f"{node}:{destination}" if destination else node, member or None)


def read_effects(
    r: KeyReader,
    node: Any,
    conditions: Mapping[str, Condition],
    propensities: Mapping[str, Propensity],
    series: Mapping[str, Series],
) -> tuple[Effect, ...]:
    """Read the ``effects`` list: each effect's condition, targets, direction and strength."""
    if not isinstance(node, list):
        raise r.fail("effects", "expected a list of effects.", "start each effect with '- id:'.")
    out: list[Effect] = []
    ids: set[str] = set()
    for i, body in enumerate(node):
        key = f"effects[{i}]"
        body = r.mapping(body, key)
        kind = r.choice(body.get("kind", "shift"), f"{key}.kind", EFFECT_KINDS)
        strength_key = "strength" if kind == "shift" else "leak"
        r.keys(
            body,
            key,
            ("id", "condition", "targets", strength_key, "rationale", "provenance"),
            ("kind", "direction"),
        )
        eid = r.ident(body["id"], f"{key}.id")
        key = f"effects.{eid}"
        if eid in ids:
            raise r.fail(key, "duplicate effect id.", "give each effect its own id.")
        ids.add(eid)
        cid = r.ident(body["condition"], f"{key}.condition")
        if cid not in conditions:
            raise r.fail(
                f"{key}.condition",
                f"unknown condition {short(cid)}.",
                "name a condition declared under 'conditions'.",
            )
        raw_targets = body["targets"]
        if not isinstance(raw_targets, list) or not raw_targets:
            raise r.fail(
                f"{key}.targets",
                "expected a non-empty list of targets.",
                "write e.g. 'targets: [leave]'.",
            )
        targets = tuple(
            _target(r, t, f"{key}.targets[{j}]", propensities, series)
            for j, t in enumerate(raw_targets)
        )
        direction, convert = _direction(r, body, key, kind, conditions[cid], targets, series)
        belief = Justified(
            convert(body[strength_key], r.path, f"{key}.{strength_key}"),
            r.text(body["rationale"], f"{key}.rationale"),
            provenance(r, body["provenance"], f"{key}.provenance"),
        )
        out.append(Effect(eid, cid, kind, targets, direction, belief))
    return tuple(out)


def _direction(
    r: KeyReader,
    body: Mapping[str, Any],
    key: str,
    kind: str,
    condition: Condition,
    targets: tuple[Target, ...],
    series: Mapping[str, Series],
) -> tuple[int, Any]:
    """Return an effect's sign and the reader of its strength (a ratio, or a leak)."""
    if kind == "shift":
        if "direction" not in body:
            raise r.fail(
                f"{key}.direction",
                "missing required key.",
                "add 'direction: raises' or 'direction: lowers'.",
            )
        return DIRECTIONS[r.choice(body["direction"], f"{key}.direction", DIRECTIONS)], ratio_prior
    if condition.kind != "binary":
        raise r.fail(
            f"{key}.condition",
            "a necessary condition must be binary.",
            "use a 'shift' effect for a level.",
        )
    if any(t.node in series or ":" in t.node for t in targets):
        raise r.fail(
            f"{key}.targets",
            "a necessary condition acts on propensities only, not series or destinations.",
            "target propensities, or make the effect a 'shift'.",
        )
    if "direction" in body:
        raise r.fail(
            f"{key}.direction",
            "a necessary condition has no direction: it always multiplies by its leak "
            "when the condition is false.",
            "remove 'direction'.",
        )
    return 1, probability_prior


def shared_channels(spec: ModelSpec) -> dict[str, list[str]]:
    """Return the count channels that shift effects of two or more binary conditions move.

    Counts on such a channel pin the sum of those effects, not each one: the
    posterior of their ratios splits into thin bands (both conditions hold, or
    one alone), which only evidence on the conditions separates, and which a
    sampler crosses slowly (``benchmarks/scale.py``).

    Returns
    -------
    dict
        ``series.category`` -> the binary conditions whose effects move it, in file order.
    """
    out: dict[str, list[str]] = {}
    for series, category in spec.channels:
        moving = [
            e.condition
            for e in spec.effects
            if e.kind == "shift"
            and e.condition in spec.binary_conditions
            and any(t.node == series and t.member in (None, category) for t in e.targets)
        ]
        distinct = list(dict.fromkeys(moving))
        if len(distinct) > 1:
            out[f"{series}.{category}"] = distinct
    return out
