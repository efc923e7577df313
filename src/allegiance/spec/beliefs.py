"""A prior as the analyst states it: the prior, its rationale and its provenance."""

from __future__ import annotations

from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.types import Justified, ModelSpec

ANALYST_JUDGMENT = "analyst judgment"


def provenance(r: KeyReader, node: Any, key: str) -> str:
    """Return a provenance: ``source: <claim>`` or ``analyst judgment``."""
    value = r.text(node, key)
    if value.lower() != ANALYST_JUDGMENT and not value.lower().startswith("source:"):
        raise r.fail(
            key,
            f"provenance {short(value)} is neither a source claim nor '{ANALYST_JUDGMENT}'.",
            "write 'source: <the claim it rests on>' or 'analyst judgment'.",
        )
    return value


def justified(r: KeyReader, node: Any, key: str, convert: Any) -> Justified:
    """Read a prior with its rationale and provenance."""
    node = r.mapping(node, key)
    r.keys(node, key, ("prior", "rationale", "provenance"))
    return Justified(
        convert(node["prior"], r.path, f"{key}.prior"),
        r.text(node["rationale"], f"{key}.rationale"),
        provenance(r, node["provenance"], f"{key}.provenance"),
    )


def stated_beliefs(spec: ModelSpec) -> list[tuple[str, Justified]]:
    """Return every prior of a model, named as the analyst would read it, in file order."""
    rows = [(f"condition {c.id}", c.belief) for c in spec.conditions.values() if c.belief]
    rows += [
        (f"baseline {p.id}.{a}" if a else f"baseline {p.id}", b)
        for p in spec.propensities.values()
        for a, b in p.baselines.items()
    ]
    rows += [
        (f"share {p.id}:{d.id}", d.share)
        for p in spec.propensities.values()
        for d in p.destinations.values()
    ]
    rows += [(f"rate {s.id}.{c}", b) for s in spec.series.values() for c, b in s.baselines.items()]
    rows += [(f"effect {e.id}", e.belief) for e in spec.effects]
    rows += [(f"stock {s.id} {part}", getattr(s, part))
             for s in spec.stocks.values() for part in ("start", "growth")]  # fmt: skip
    return rows


def stated(belief: Justified) -> str:
    """Return a prior's statement as written, e.g. ``probability: 0.3, range: [0.1, 0.6]``."""
    return ", ".join(f"{k}: {v}" for k, v in belief.prior.statement.items())
