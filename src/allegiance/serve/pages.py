"""What the web page shows, gathered from the workflow and the ledger (no logic of its own).

Reading a page never writes a file: a theatre whose ledger does not exist
yet is shown without one (the first item added, or a forecast asked for,
opens it), and a trajectory is drawn in a temporary folder and embedded.
"""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allegiance.errors import AllegianceError, EvidenceError
from allegiance.evidence import Item, in_force
from allegiance.ledger import Ledger, default_url
from allegiance.ledger.authors import author_of
from allegiance.posterior import FitSettings
from allegiance.reading import IDENT, KeyReader
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow import open_ledger
from allegiance.workflow.entry import item_body, typed_item
from allegiance.workflow.moved import Moved, moved_by
from allegiance.workflow.reporting import withdrawn_by

# Item files beside a model file, never listed as theatres.
NOT_MODELS = (".evidence", ".record")
OPTIONS = ("id", "kind", "date", "source", "grade", "note")
_FIGURES = threading.Lock()  # pyplot draws one figure at a time


@dataclass(frozen=True)
class Theatre:
    """A model file of the folder: its key (the file's stem), and its model or why not."""

    key: str
    path: Path
    spec: ModelSpec | None = None
    error: str = ""


def is_theatre(folder: Path, key: str) -> bool:
    """Return whether ``key`` names a model file of the folder (``<key>.yaml``)."""
    return (
        bool(IDENT.fullmatch(key))
        and not key.endswith(NOT_MODELS)
        and (folder / f"{key}.yaml").is_file()
    )


def theatre(folder: Path, key: str) -> Theatre:
    """Return one theatre of the folder by key, loaded (or the error that refused it)."""
    path = folder / f"{key}.yaml"
    try:
        return Theatre(key, path, load_spec(path))
    except AllegianceError as exc:
        return Theatre(key, path, error=str(exc))


def theatres(folder: Path) -> dict[str, Theatre]:
    """Return the folder's model files by key, each loaded (or the error that refused it)."""
    keys = sorted(p.stem for p in folder.glob("*.yaml"))
    return {key: theatre(folder, key) for key in keys if is_theatre(folder, key)}


def existing_ledger(spec: ModelSpec, ledger: str | None = None) -> Ledger | None:
    """Return the theatre's ledger if it holds the theatre (a page never makes one), else None.

    ``ledger`` is the server's ``--ledger`` URL; without one, the SQLite file
    beside the model.
    """
    return Ledger.kept(ledger or default_url(spec), spec)


def percent(x: float | None) -> str:
    """Return a probability as a whole percentage, or an en dash."""
    return "–" if x is None else f"{x:.0%}"


@dataclass
class Headline:
    """A theatre's headline table: the latest forecast of each question and its change."""

    rows: list[dict[str, str]] = field(default_factory=list)
    since: str = ""
    moved_by: list[str] = field(default_factory=list)
    has_ledger: bool = False
    items: list[Item] = field(default_factory=list)
    retracted: list[Item] = field(default_factory=list)
    moved: Moved | None = None
    effects: list[dict[str, Any]] = field(default_factory=list)
    effect_questions: list[str] = field(default_factory=list)
    needs_refit: bool = False


def headline(
    spec: ModelSpec, ledger: str | None = None, settings: FitSettings | None = None
) -> Headline:
    """Return each question's latest recorded forecast, its change since the last report.

    "What moved it" is the items in force now that the last report did not
    have (or had otherwise), and each one's effect on each open question,
    from the stored fit a forecast uses (:func:`allegiance.workflow.moved.moved_by`).
    """
    book = existing_ledger(spec, ledger)
    if book is None:
        return Headline(rows=[_row(spec, qid, None, None) for qid in spec.questions])
    with book:
        on_record = book.items()
        last = book.last_report()
        evidence = book.evidence()
        latest = {qid: (book.history(qid) or [None])[-1] for qid in spec.questions}
    before = last.probabilities if last is not None else None
    out = Headline(
        rows=[_row(spec, qid, latest[qid], before) for qid in spec.questions],
        has_ledger=True,
        items=in_force(on_record),
        retracted=_retracted(on_record),
    )
    if last is not None:
        out.since = "the last report (" + last.created_at.strftime("%Y-%m-%d %H:%M UTC") + ")"
        out.moved_by = last.new_items(evidence)
    if out.moved_by:
        out.moved = moved_by(spec, evidence, out.moved_by, settings or FitSettings())
        if out.moved is not None:
            out.effects = _effects(out.moved, out.items)
            out.effect_questions = list(next(iter(out.moved.effects.values()), {}))
            out.needs_refit = any("–" in row["cells"] for row in out.effects)
    return out


def _effects(moved: Moved, items: list[Item]) -> list[dict[str, Any]]:
    """Return the rows of the effects' table: an item, its note, its effect on each question."""
    notes = {i.id: i.note for i in items}
    return [
        {"id": iid, "note": notes.get(iid, ""), "cells": [_points(v) for v in row.values()]}
        for iid, row in moved.effects.items()
    ]


def _points(x: float | None) -> str:
    """Return a change of probability in percentage points: "0" where exactly none."""
    if x is None or x == 0.0:
        return "–" if x is None else "0"
    shown = f"{x * 100:+.1f}"
    return "±0.0" if shown in ("+0.0", "-0.0") else shown


def _retracted(on_record: list[Item]) -> list[Item]:
    withdrawn = withdrawn_by(on_record)
    return [i for i in on_record if i.id in withdrawn]


def _row(
    spec: ModelSpec,
    qid: str,
    latest: Mapping[str, Any] | None,
    before: Mapping[str, float | None] | None,
) -> dict[str, str]:
    """Return a question's row: text, probability, interval, word, change and when."""
    q = spec.questions[qid]
    if latest is None:
        return {"id": qid, "text": q.text, "p": "not forecast yet", "interval": "", "word": "",
                "change": "–", "when": ""}  # fmt: skip
    p, then = latest["probability"], None if before is None else before.get(qid)
    interval = "–" if latest["lower"] is None else (
        f"{percent(latest['lower'])} – {percent(latest['upper'])}"
    )  # fmt: skip
    made: dt.datetime = latest["created_at"]
    return {
        "id": qid,
        "text": q.text,
        "p": percent(p),
        "interval": interval,
        "word": str(latest["word"]),
        "change": "–" if p is None or then is None else f"{(p - then) * 100:+.0f} pp",
        "when": made.strftime("%Y-%m-%d %H:%M UTC"),
    }


def trajectory_figure(spec: ModelSpec, qid: str, ledger: str | None = None) -> tuple[str, str]:
    """Return a question's trajectory (the report's figure) as base64 PNG, and its alt text.

    Drawn in a temporary folder, read and removed: a page writes nothing.
    Without a recorded forecast there is nothing to draw: the image is "".
    """
    from allegiance.report.trajectories import trajectory

    book = existing_ledger(spec, ledger)
    rows, dates = [], []
    if book is not None:
        with book:
            rows = book.history(qid)
            dates = sorted({i.date for i in book.evidence().items})
    if not rows:
        return "", "no forecast of this question recorded yet"
    with _FIGURES, tempfile.TemporaryDirectory() as scratch:
        png, alt = trajectory(qid, rows, dates, Path(scratch))
        return base64.b64encode(png.read_bytes()).decode("ascii"), alt


def add_item(
    spec: ModelSpec, form: Mapping[str, str], author: str, ledger: str | None = None
) -> Item:
    """Append the item a web form describes, read and checked as ``evidence add`` reads one.

    Parameters
    ----------
    spec : ModelSpec
    form : mapping
        ``id``, ``kind``, ``date``, ``source``, ``grade``, ``note``, and
        ``fields``: one ``key=value`` a line.
    author : str
        Who records it (the server's ``--author``, unless the form names one;
        the login name when neither does).
    ledger : str, optional
        The ledger's URL (default: the SQLite file beside the model).

    Returns
    -------
    Item
        The item as recorded.

    Raises
    ------
    AllegianceError
        Naming the key, what is wrong and the fix; nothing is written.
    """
    r = KeyReader(Path("web form"), EvidenceError)
    options: dict[str, object] = {name: form.get(name, "").strip() for name in OPTIONS}
    options["author"] = author_of(form.get("author", "") or author)
    lines = [line.strip() for line in form.get("fields", "").splitlines()]
    body = item_body(r, options, [line for line in lines if line])
    item = typed_item(r, body, spec)
    opened = open_ledger(spec, ledger)
    with opened.ledger as book:
        (stored,) = book.append([item])
    return stored
