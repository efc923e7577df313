"""Domain errors: each names the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

MAX_PROBLEM = 400  # a backstop: values in messages are already cut short where they are shown


def _message(where: str, problem: str, fix: str) -> str:
    """Return 'where: problem Fix: fix', the form every domain error takes."""
    if len(problem) > MAX_PROBLEM:
        problem = problem[: MAX_PROBLEM - 3] + "..."
    return f"{where}: {problem}" + (f" Fix: {fix}" if fix else "")


class AllegianceError(Exception):
    """Base class of every error the package raises on purpose."""


class SpecError(AllegianceError):
    """A model file is malformed or inconsistent.

    Parameters
    ----------
    path : str or Path
        The model file.
    key : str
        Dotted key path inside the file, e.g. ``conditions.deal_signed.prior``.
    problem : str
        What is wrong.
    fix : str
        What to do about it.
    """

    def __init__(self, path: str | Path, key: str, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(_message(f"{self.path}: at '{key}'", problem, fix))


class EvidenceError(SpecError):
    """An evidence file or item is malformed or refers to something unknown."""


class ProvenanceError(AllegianceError):
    """A stored posterior does not belong to the model or evidence at hand."""


class DamagedFitError(ProvenanceError):
    """A stored fit cannot be trusted: unreadable, not a regular file, or its draws changed."""


class FitStoreError(AllegianceError):
    """The folder of a model's fits cannot be written: a fit made now could not be kept."""


class FanoutError(AllegianceError):
    """Work cannot be fanned out: the Dask extra is missing, or its scheduler does not answer."""


class LedgerError(AllegianceError):
    """A ledger cannot be opened or used: wrong schema version, not a ledger, bad input.

    Parameters
    ----------
    where : str
        The ledger (file or URL, password hidden).
    problem : str
        What is wrong.
    fix : str
        What to do about it.
    """

    def __init__(self, where: str, problem: str, fix: str = "") -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(_message(where, problem, fix))


class ScoreError(AllegianceError):
    """Forecasts cannot be scored: nothing resolved or recorded, or a number that is not one."""


class TemplateError(AllegianceError):
    """A user's report template cannot be read, or stops or is refused while it renders.

    Parameters
    ----------
    path : str or Path
        The template file.
    line : int or None
        The line of the template where it went wrong, when known.
    problem : str
        What is wrong.
    fix : str
        What to do about it.
    """

    def __init__(self, path: str | Path, line: int | None, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(_message(where, problem, fix))
