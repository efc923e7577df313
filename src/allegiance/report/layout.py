"""The report's templates, and analyst text made safe for the formats they write.

Templates render in Jinja2's sandbox, whether the package's or a user's own
(``--templates``), so a template reads the report's data but cannot reach
Python (``__class__``, ``__globals__``). HTML is autoescaped; Markdown escapes
analyst text with the ``md`` filter, :func:`markdown_text`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from allegiance.errors import TemplateError

TEMPLATES = Path(__file__).with_name("templates")
NAMES = ("report.md", "report.html")
# Every character CommonMark reads as inline markup (code, emphasis, links and images, raw
# HTML, entities) or as a table cell's end; and, at the start of a line, as a list or a rule.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")
_BLOCK_START = re.compile(r"^([0-9]+(?=\.)|(?=[-=]))")


def markdown_text(value: object) -> str:
    r"""Escape text for Markdown: shown as written, on one line, never read as markup.

    Parameters
    ----------
    value : object
        Analyst text (a title, a question, a note, a source, a rationale).

    Returns
    -------
    str
        The text on one line (line breaks of every kind become spaces, the
        ends trimmed) with each markup character backslash-escaped, so that a
        CommonMark renderer shows it as text: no raw HTML, no link, no
        emphasis, and inside a table no new cell.

    Examples
    --------
    >>> print(markdown_text("[x](javascript:alert(1)) <b>"))
    \[x\]\(javascript:alert\(1\)\) \<b\>
    >>> print(markdown_text("1. not a list"))
    1\. not a list
    """
    one_line = " ".join(str(value).splitlines()).strip()
    return _BLOCK_START.sub(r"\1\\", _MARKDOWN_SPECIALS.sub(r"\\\1", one_line), count=1)


def columns(header: list[str], rows: list[dict[str, Any]], width: int) -> list[dict[str, Any]]:
    """Split a wide table into tables of at most ``width`` columns of cells, for the page.

    Each row keeps its other keys; its ``cells`` are cut like the ``header``.
    """
    return [
        {"header": header[i : i + width],
         "rows": [{**row, "cells": row["cells"][i : i + width]} for row in rows]}
        for i in range(0, max(len(header), 1), width)
    ]  # fmt: skip


def breakable(value: object) -> Any:
    """Escape an id for HTML and let it wrap after its underscores (narrow table headers)."""
    import markupsafe

    parts = [markupsafe.escape(p) for p in str(value).split("_")]
    return markupsafe.Markup("_<wbr>").join(parts)


def report_templates(template_dir: Path | None = None) -> dict[str, Any]:
    """Return the report's Jinja2 templates by file written, compiled in Jinja2's sandbox.

    Parameters
    ----------
    template_dir : Path, optional
        A folder with the user's own ``report.md.j2`` and/or ``report.html.j2``;
        a template it lacks comes from the package.

    Returns
    -------
    dict
        ``report.md`` and ``report.html``, each its compiled template.

    Raises
    ------
    TemplateError
        For a folder that is missing or holds neither template, or a template
        that cannot be read or is not valid Jinja2 (its file and line).
    """
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    folders = [] if template_dir is None else [str(_users_folder(template_dir))]
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([*folders, str(TEMPLATES)]),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_text
    env.globals["columns"] = columns
    env.filters["breakable"] = breakable
    found = {}
    for name in NAMES:
        try:
            found[name] = env.get_template(f"{name}.j2")
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                exc.filename or f"{name}.j2",
                exc.lineno,
                f"not a valid Jinja2 template: {exc.message}.",
                "correct the template's syntax at that line.",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            where = folders[0] if folders else TEMPLATES
            raise TemplateError(
                Path(where) / f"{name}.j2",
                None,
                f"cannot be read ({exc.__class__.__name__}: {exc}).",
                "save the template as a UTF-8 text file.",
            ) from None
    return found


def _users_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise TemplateError(
            folder,
            None,
            "no such folder of templates.",
            "give the folder that holds your report.md.j2 and/or report.html.j2.",
        )
    if not any((folder / f"{name}.j2").is_file() for name in NAMES):
        raise TemplateError(
            folder,
            None,
            "holds neither report.md.j2 nor report.html.j2.",
            "name your templates report.md.j2 and report.html.j2 (one you leave out comes "
            "from the package).",
        )
    return folder


def rendered(template: Any, context: dict[str, Any], template_dir: Path | None) -> str:
    """Render a template; a user's that stops, or reaches past its data, is refused.

    Raises
    ------
    TemplateError
        For a template of the user's folder, with its file and line.
    """
    from jinja2.sandbox import SecurityError

    try:
        return str(template.render(context))
    except Exception as exc:
        folder = Path(template.filename).resolve().parent
        users = template_dir is not None and folder == template_dir.resolve()
        if not users:
            raise
        line = None
        tb = exc.__traceback__
        while tb is not None:  # Jinja2 gives each template line a frame of the template's file
            if tb.tb_frame.f_code.co_filename == template.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        if isinstance(exc, SecurityError):
            problem = f"refused by the sandbox: {exc}."
            fix = "a template may read the report's data (forecast, questions, evidence, ...), "
            fix += "not Python's internals."
        else:
            problem = f"stopped while rendering: {exc.__class__.__name__}: {exc}."
            fix = "correct the template at that line."
        raise TemplateError(template.filename, line, problem, fix) from None
