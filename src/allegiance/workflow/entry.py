"""An item entered by hand: typed fields read as YAML values, checked, and made an item.

The command line (``allegiance evidence add``) and the local web page
(``allegiance serve``) enter items through these functions, so both read a
field, refuse a bad one and word the refusal the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from allegiance.evidence import Item, parse_item
from allegiance.reading import IDENT, KeyReader, short
from allegiance.spec import ModelSpec


def read_field(r: KeyReader, pair: str) -> tuple[str, object]:
    """Read one ``key=value``: the value as YAML (a number, true/false, a date, a list).

    Parameters
    ----------
    r : KeyReader
        Names where the field was given ("command line", "web form") in a refusal.
    pair : str
        ``key=value`` as typed.

    Returns
    -------
    (str, object)
        The key and its value ("" for an empty value).

    Raises
    ------
    EvidenceError
        For a pair that is no ``key=value`` or a value that cannot be read.
    """
    import yaml

    from allegiance.reading import safe_load

    key, sep, value = pair.partition("=")
    key = key.strip()
    if not sep or not key:
        raise r.fail(
            "item", f"{short(pair)} is not key=value.", "write -f key=value, e.g. -f target=deal."
        )
    if not value.strip():
        return key, ""
    try:
        return key, safe_load(value)
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: bad dates, integers too long
        problem = getattr(exc, "problem", None) or (str(exc) or type(exc).__name__).splitlines()[0]
        problem = problem if len(problem) <= 100 else problem[:97] + "..."
        raise r.fail(
            f"item.{key}" if IDENT.fullmatch(key) else "item",
            f"the value {short(value)} cannot be read: {problem}.",
            "quote text, or write a number, true/false, a date or a [list].",
        ) from None


def item_body(
    r: KeyReader, options: Mapping[str, object], pairs: Iterable[str]
) -> dict[str, object]:
    """Return an item's body: its options (id, kind, date, ...) and its typed fields.

    Parameters
    ----------
    r : KeyReader
    options : mapping
        ``id``, ``kind``, ``date``, ``source``, ``grade``, ``note``, ``author``.
    pairs : iterable of str
        The kind's fields, each ``key=value`` (:func:`read_field`).

    Raises
    ------
    EvidenceError
        For a field that cannot be read, the recording time (the ledger's to
        stamp), or a field that is one of the options.
    """
    body = dict(options)
    for pair in pairs:
        key, value = read_field(r, pair)
        if key == "recorded_at":
            raise r.fail(
                "item.recorded_at",
                "the recording time is the ledger's to stamp: it cannot be given.",
                "leave out -f recorded_at; give the event's own date with --date.",
            )
        if key in body:  # -f id=... would silently override --id
            raise r.fail(
                f"item.{key}",
                f"{key} is an option of its own, not a field.",
                f"write --{key.replace('_', '-')} instead of -f {key}=...",
            )
        body[key] = value
    return body


def typed_item(r: KeyReader, body: Mapping[str, object], spec: ModelSpec) -> Item:
    """Return the item a body (:func:`item_body`) describes, checked against the model.

    Raises
    ------
    EvidenceError
        Naming the key, what is wrong and the fix.
    """
    return parse_item(r, dict(body), "item", spec)
