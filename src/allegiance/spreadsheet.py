"""Text cells of CSV files a spreadsheet opens: shown as written, never run as formulas."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so


def spreadsheet_text(text: str) -> str:
    """Return text for a CSV cell that a spreadsheet shows and never runs as a formula.

    A cell starting with ``= + - @``, a tab or a carriage return gets a leading
    ``'``; so does one already starting with ``'``, so that
    :func:`from_spreadsheet_text` undoes exactly what was added.

    Parameters
    ----------
    text : str
        A text cell (never a number: ``-3`` in a numeric column is harmless).

    Returns
    -------
    str
        The cell to write.
    """
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def from_spreadsheet_text(cell: str) -> str:
    """Return the text :func:`spreadsheet_text` was given, from the cell it wrote.

    Parameters
    ----------
    cell : str
        A text cell read from CSV.

    Returns
    -------
    str
        The cell without the ``'`` added before a formula character or a ``'``.
    """
    return cell[1:] if cell.startswith("'") and cell[1:].startswith((*FORMULA_START, "'")) else cell
