"""Messages for a file that cannot be read as YAML: where the problem is, and its likely fix."""

from __future__ import annotations


def line_column(text: str, position: int) -> tuple[int, int]:
    """Return the line and column of a character in ``text``.

    Parameters
    ----------
    text : str
        The file's text.
    position : int
        The character's offset from the start, from 0.

    Returns
    -------
    tuple of int
        Its line and column, both counted from 1 as editors show them.
    """
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def not_utf8(raw: bytes, start: int) -> str:
    """Say where a file stops being UTF-8 text.

    Parameters
    ----------
    raw : bytes
        The file's bytes.
    start : int
        The offset of the first byte that is not UTF-8.

    Returns
    -------
    str
        The problem in words: the byte, its line and its column, and whether
        the file starts as UTF-16 does (a byte-order mark).
    """
    line_start = raw.rfind(b"\n", 0, start) + 1
    line = raw.count(b"\n", 0, start) + 1
    where = f"line {line}, column {start - line_start + 1}"
    utf16 = " (it starts as UTF-16 does)" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else ""
    return f"the file is not UTF-8 text{utf16}: byte 0x{raw[start]:02x} at {where} is not UTF-8."


def yaml_fix(problem: str) -> str:
    """Return the likely fix of a YAML syntax error, in words.

    Parameters
    ----------
    problem : str
        PyYAML's message, which names the line.

    Returns
    -------
    str
        What to change at that line.
    """
    if "mapping values are not allowed" in problem:
        return "quote text that contains ': ' (write it in double quotes), at the line shown."
    if "'\\t'" in problem or "\t" in problem:
        return "indent with spaces, not tabs, at the line shown."
    if "could not find expected ':'" in problem or "expected <block end>" in problem:
        return "check the indentation and that every key ends with ':', at the line shown."
    return "fix the syntax at the line shown."
