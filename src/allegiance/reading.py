"""Reading user files: safe YAML, schema versions, and a key-path validator.

Every user file (model, evidence) is YAML read with a safe loader that refuses
repeated keys, and carries a ``schema_version``. :class:`KeyReader` walks the
parsed document and raises the caller's error class naming the file, the key
path and the fix.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import reprlib
from collections.abc import Collection, Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml

from allegiance.errors import SpecError
from allegiance.syntax import line_column, not_utf8, yaml_fix

IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_DEPTH = 64  # nesting no file of ours needs; deeper is refused before Python's recursion limit


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys, anchors and aliases, and deep nesting.

    A key repeated in one mapping is refused (YAML keeps the last). Anchors and
    aliases are refused outright: no file of ours needs them, and an alias bomb
    ("billion laughs") expands a small file into an exponentially large value.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (& and *) are not allowed in this file; "
                "write each value out in full",
                event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"values are nested more than {MAX_DEPTH} levels deep",
                event.start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, Hashable) and key in keys:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {short(key)} appears twice in one mapping",
                    key_node.start_mark,
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_day(self, node: yaml.ScalarNode) -> Any:
        """Construct a date or timestamp; one that is no day of the calendar stays text.

        ``2020-02-30`` looks like a date to YAML, whose own constructor then
        fails without naming a line. As text it reaches the check of its key,
        which refuses it by name.
        """
        try:
            return self.construct_yaml_timestamp(node)  # type: ignore[no-untyped-call]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[no-untyped-call]


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_day)


def safe_load(text: str) -> Any:
    """Parse YAML safely (no object construction).

    Refuses repeated keys, anchors and aliases, and nesting deeper than
    :data:`MAX_DEPTH`, raising :class:`yaml.YAMLError`.
    """
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:  # a backstop: the depth bound should make this unreachable
        raise yaml.YAMLError(f"values are nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


class KeyReader:
    """Walks parsed YAML, raising an error that names the file, the key path and the fix.

    Parameters
    ----------
    path : Path
        The file being read (or a stand-in such as ``command line``).
    error : type
        :class:`~allegiance.errors.SpecError` or a subclass, raised by every check.
    name : str, optional
        What to call the source in messages, when it is not a file path (a ledger URL).
    """

    def __init__(self, path: Path, error: type[SpecError] = SpecError, name: str = "") -> None:
        self.path = path
        self.error = error
        self.name = name or str(path)

    def fail(self, key: str, problem: str, fix: str = "") -> SpecError:
        """Return the error for ``key`` (raise it)."""
        return self.error(self.name, key, problem, fix)

    def mapping(self, node: Any, key: str) -> Mapping[str, Any]:
        """Return ``node`` if it is a mapping."""
        if not isinstance(node, Mapping):
            raise self.fail(
                key,
                f"expected a mapping, got {'nothing' if node is None else type(node).__name__}.",
                "indent the entries under this key as 'name: value' pairs.",
            )
        return node

    def keys(
        self,
        node: Mapping[str, Any],
        key: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        """Refuse a missing required key or a key that is neither required nor optional."""
        for name in required:
            if name not in node:
                raise self.fail(
                    f"{key}.{name}" if key else name, "missing required key.", f"add '{name}'."
                )
        allowed = set(required) | set(optional)
        for name in node:
            if name not in allowed:
                shown = name if isinstance(name, str) and len(name) <= 60 else short(name)
                raise self.fail(
                    f"{key}.{shown}" if key else shown,
                    "unknown key.",
                    "allowed keys here: " + ", ".join(sorted(allowed)) + ".",
                )

    def text(self, node: Any, key: str, *, empty: bool = False) -> str:
        """Return ``node`` stripped, if it is text (non-empty unless ``empty``)."""
        if not isinstance(node, str) or (not empty and not node.strip()):
            raise self.fail(
                key, f"expected non-empty text, got {short(node)}.", "write it as text, in quotes."
            )
        return node.strip()

    def ident(self, node: Any, key: str) -> str:
        """Return ``node`` if it is a valid id: letters, digits, underscores."""
        if not isinstance(node, str) or not IDENT.fullmatch(node):
            raise self.fail(
                key,
                f"{short(node)} is not a valid id.",
                "use letters, digits and underscores, starting with a letter.",
            )
        return node

    def member(self, node: Any, key: str, known: Collection[str], what: str) -> str:
        """Return ``node`` if it is the id of one of ``known`` (the model's ``what``s)."""
        ident = self.ident(node, key)
        if ident not in known:
            raise self.fail(
                key,
                f"unknown {what} {short(ident)}.",
                "use one of: " + (", ".join(known) or "(none in this model)") + ".",
            )
        return ident

    def boolean(self, node: Any, key: str) -> bool:
        """Return ``node`` if it is true or false (not text, not a number)."""
        if not isinstance(node, bool):
            raise self.fail(
                key, f"expected true or false, got {short(node)}.", "write true or false, unquoted."
            )
        return node

    def date(self, node: Any, key: str) -> dt.date:
        """Return ``node`` as a date (a YAML date or YYYY-MM-DD text)."""
        if isinstance(node, dt.datetime):
            return node.date()
        if isinstance(node, dt.date):
            return node
        try:
            return iso_date(str(node))
        except ValueError as exc:
            if ISO_DATE.fullmatch(str(node)):  # the form is right: the month or the day is not
                raise self.fail(
                    key, f"{short(node)} is not a day of the calendar ({exc}).", "check the date."
                ) from None
            raise self.fail(
                key, f"{short(node)} is not a date.", "write it as YYYY-MM-DD."
            ) from None

    def integer(self, node: Any, key: str, minimum: int) -> int:
        """Return ``node`` if it is a whole number of at least ``minimum``."""
        if not isinstance(node, int) or isinstance(node, bool) or node < minimum:
            raise self.fail(
                key,
                f"expected a whole number >= {minimum}, got {short(node)}.",
                f"write a whole number of at least {minimum}, without quotes.",
            )
        return node

    def number(self, node: Any, key: str, minimum: float) -> float:
        """Return ``node`` as a float if it is a finite number of at least ``minimum``."""
        try:
            ok = isinstance(node, int | float) and not isinstance(node, bool)
            ok = ok and math.isfinite(node) and node >= minimum
        except OverflowError:  # an integer too large for a float
            ok = False
        if not ok:
            raise self.fail(
                key,
                f"expected a number >= {minimum:g}, got {short(node)}.",
                f"write a finite number of at least {minimum:g}, without quotes.",
            )
        return float(node)

    def choice(self, node: Any, key: str, options: tuple[str, ...] | Mapping[str, Any]) -> str:
        """Return ``node`` if it is one of ``options``."""
        if not isinstance(node, str) or node not in options:
            raise self.fail(
                key,
                f"{short(node)} is not one of {', '.join(options)}.",
                f"use one of: {', '.join(options)}.",
            )
        return str(node)


def iso_date(text: str) -> dt.date:
    """Return the date written as ``YYYY-MM-DD``, and only so.

    :meth:`datetime.date.fromisoformat` also takes ``20200101`` and
    ``2020-W01-3``; a date in another form is more likely a typo than meant.

    Parameters
    ----------
    text : str
        The date as written.

    Returns
    -------
    datetime.date

    Raises
    ------
    ValueError
        If ``text`` is not ``YYYY-MM-DD`` or not a day of the calendar.
    """
    if not ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not YYYY-MM-DD")
    return dt.date.fromisoformat(text)


_REPR = reprlib.Repr()  # keyword arguments need Python 3.12
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 3, 50, 40, 40
_REPR.maxtuple = _REPR.maxlist = _REPR.maxdict = _REPR.maxset = 6


def short(node: Any, limit: int = 60) -> str:
    """Return the repr of a value for a message, cut to ``limit`` characters.

    Parameters
    ----------
    node : Any
        A value read from a user file, of any size or depth.
    limit : int, optional
        The longest text returned.

    Returns
    -------
    str
        The repr, or its first characters followed by ``...``.
    """
    try:
        text = _REPR.repr(node)  # bounded work: a few items of a few levels
    except ValueError:  # an integer too long to print
        text = f"a whole number of about {int(node.bit_length() * math.log10(2))} digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def file_text(r: KeyReader, encoding: str = "utf-8") -> tuple[str, bytes]:
    """Read a user's file as text, refusing bytes that are not UTF-8 with their line and column.

    Parameters
    ----------
    r : KeyReader
        Reader of the file (its path and error class).
    encoding : str
        ``utf-8``, or ``utf-8-sig`` to drop a byte-order mark (spreadsheets write one).

    Returns
    -------
    text : str
    raw : bytes
        The file's bytes, for hashing.
    """
    try:
        raw = r.path.read_bytes()
    except OSError as exc:
        raise r.fail("", f"cannot read the file ({exc.strerror}).", "check the path.") from None
    try:
        return raw.decode(encoding), raw
    except UnicodeDecodeError as exc:
        raise r.fail("", not_utf8(raw, exc.start), "save the file as UTF-8 text.") from None


def read_document(
    r: KeyReader,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    schema_version: int,
) -> tuple[Mapping[str, Any], bytes]:
    """Read a YAML file of ours: a mapping with the given keys and a supported schema version.

    Parameters
    ----------
    r : KeyReader
        Reader of the file (its path and error class).
    required, optional : tuple of str
        Top-level keys; ``schema_version`` must be among the required ones.
    schema_version : int
        The version this package reads.

    Returns
    -------
    doc : mapping
        The parsed document.
    raw : bytes
        The file's bytes, for hashing.
    """
    text, raw = file_text(r)
    try:
        doc = safe_load(text)
    except yaml.reader.ReaderError as exc:  # a control character: PyYAML gives its position only
        line, column = line_column(text, exc.position)
        raise r.fail(
            "",
            f"not valid YAML: the control character #x{exc.character:04x} "
            f"at line {line}, column {column}.",
            "remove it, at the line shown: control characters are not allowed in the file.",
        ) from None
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: integers too long to read
        raise r.fail("", f"not valid YAML: {exc}", yaml_fix(str(exc))) from None
    if doc is None:
        raise r.fail(
            "(top level)",
            "the file is empty (nothing but blank lines or comments).",
            "write the file's keys as 'name: value' lines, starting with 'schema_version'.",
        )
    doc = r.mapping(doc, "(top level)")
    r.keys(doc, "", required, optional)
    version = doc["schema_version"]
    if type(version) is not int or version != schema_version:
        raise r.fail(
            "schema_version",
            f"version {short(version)} is not supported.",
            f"this package reads schema_version {schema_version}.",
        )
    return doc, raw
