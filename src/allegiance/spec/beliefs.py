"""A prior as the analyst states it: the prior, its rationale and its provenance."""

from __future__ import annotations

from typing import Any

from allegiance.reading import KeyReader
from allegiance.spec.types import Justified

ANALYST_JUDGMENT = "analyst judgment"


def provenance(r: KeyReader, node: Any, key: str) -> str:
    """Return a provenance: ``source: <claim>`` or ``analyst judgment``."""
    value = r.text(node, key)
    if value.lower() != ANALYST_JUDGMENT and not value.lower().startswith("source:"):
        raise r.fail(
            key,
            f"provenance {value!r} is neither a source claim nor '{ANALYST_JUDGMENT}'.",
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
