"""Figures of scores: calibration, discrimination, score over time, probability paths.

Matplotlib with the Agg backend, PNG at 150 dpi; lines are told apart by style
as well as colour, so they stay readable printed in black and white.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from allegiance.spec.types import GRID
from allegiance.workflow.scoring import MODEL, Scores

if TYPE_CHECKING:
    from allegiance.workflow.backtest import Backtest

STYLES = ("o-", "s--", "^:", "d-.", "v-", "x--")  # marker and dash: lines that overlap stay visible


R = TypeVar("R")


def drawn(calls: Sequence[Callable[[], R]]) -> list[R]:
    """Make each call (each draws and saves figures), in parallel processes where cores allow.

    Figures do not depend on one another, and drawing them is most of a
    report's time: worker processes forked from this one (no import, nothing
    pickled but the calls and their results) share them out. Where forking is
    not available, or there is one core, they are made here, in order.

    Parameters
    ----------
    calls : sequence of callables
        Functions without arguments (``functools.partial`` of a module-level
        function), each returning what the figure's caller needs.

    Returns
    -------
    list
        Each call's result, in order, once every file is written.
    """
    with drawing(calls) as results:
        return results


@contextmanager
def drawing(calls: Sequence[Callable[[], R]]) -> Iterator[list[R]]:
    """As :func:`drawn`, but the body runs while the workers still save the SVGs.

    A report needs the PNGs (its HTML and PDF embed them), not the SVGs: the
    workers save each figure's PNG, the body gets the calls' results, and the
    SVGs (:func:`save_png_svg`) are saved meanwhile on the other cores. Every
    file is written when the block ends.

    Parameters
    ----------
    calls : sequence of callables
        As for :func:`drawn`.

    Yields
    ------
    list
        Each call's result, in order: its PNGs written, its SVGs perhaps not yet.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(len(calls), cores or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield [call() for call in calls]
        return
    fork = multiprocessing.get_context("fork")
    # Each worker takes one task of saving its SVGs: a worker waits at the barrier until
    # all have one, so none can take two.
    barrier = fork.Barrier(workers)
    with ProcessPoolExecutor(
        workers, mp_context=fork, initializer=_defer_svgs, initargs=(barrier,)
    ) as pool:
        results = list(pool.map(_call, calls))
        saving = [pool.submit(_save_svgs) for _ in range(workers)]
        yield results
        for done in saving:
            done.result()


_DEFERRED: list[tuple[Any, Path]] | None = None  # in a worker of drawing(): SVGs to save
_BARRIER: Any = None  # ... and where the workers meet to save them (inherited when forked)


def _defer_svgs(barrier: Any) -> None:
    global _DEFERRED, _BARRIER
    _DEFERRED, _BARRIER = [], barrier


def _save_svgs() -> None:
    _BARRIER.wait(timeout=600)
    for fig, svg in _DEFERRED or []:
        _svg(fig, svg)
    (_DEFERRED or []).clear()


def _call(call: Callable[[], R]) -> R:
    return call()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def score_figures(result: Scores, out: Path) -> list[Path]:
    """Draw the model's reliability diagram and its discrimination; return the files."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    bins = result.calibration()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    ax.plot([b.mean_forecast for b in bins], [b.frequency for b in bins], "ko-", label=MODEL)
    for b in bins:
        ax.annotate(str(b.count), (b.mean_forecast, b.frequency), textcoords="offset points",
                    xytext=(4, -10), fontsize=8)  # fmt: skip
    ax.set(xlabel="forecast probability", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
    ax.set_title("Reliability (numbers: forecasts per band)")
    ax.legend(loc="upper left")
    paths.append(_save(fig, out / "calibration.png"))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    yes = [p.forecasts[MODEL] for p in result.of(MODEL) if p.outcome]
    no = [p.forecasts[MODEL] for p in result.of(MODEL) if not p.outcome]
    edges = np.linspace(0, 1, 11)
    ax.hist([yes, no], bins=edges, label=["resolved yes", "resolved no"], color=["0.2", "0.75"],
            hatch="//", edgecolor="k")  # fmt: skip
    ax.set(xlabel="forecast probability", ylabel="forecasts")
    ax.set_title("Discrimination: forecasts of yes against no questions")
    ax.legend()
    paths.append(_save(fig, out / "discrimination.png"))
    return paths


def backtest_figures(result: Backtest, out: Path) -> list[Path]:
    """Draw the score over time, the reliability by origin and each hand-picked question's path.

    Return the files.
    """
    plt = _pyplot()
    s = result.scores
    dates = sorted({p.date for p in s.pairs})
    fig, ax = plt.subplots(figsize=(7, 4))
    for who, style in zip(s.forecasters, STYLES, strict=False):
        by_date = [
            np.mean([(p.forecasts[who] - p.outcome) ** 2 for p in s.pairs if p.date == d])
            for d in dates
        ]
        ax.plot(dates, by_date, style, color="k", label=who, mfc="none")
    ax.set(ylabel="Brier (0–1), mean over questions", ylim=(0, 1))
    ax.set_title("Score over time: lower is better")
    ax.legend()
    fig.autofmt_xdate()
    paths = [_save(fig, out / "score_over_time.png")]
    paths += [reliability_figure(s, origin, out) for origin in s.origins()]
    for qid, outcome in s.resolved.items():  # a grid's many paths are read in its tables
        mine = [p for p in s.pairs if p.question == qid and p.origin != GRID]
        if not mine:
            continue
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for who, style in zip(s.forecasters, STYLES, strict=False):
            ax.plot([p.date for p in mine], [p.forecasts[who] for p in mine], style, color="k",
                    label=who, mfc="none")  # fmt: skip
        ax.axhline(1.0 if outcome.outcome else 0.0, color="0.5", lw=3, alpha=0.5,
                   label=f"outcome: {outcome.word} ({outcome.date})")  # fmt: skip
        ax.set(ylabel="probability", ylim=(-0.02, 1.02))
        ax.set_title(qid)
        ax.legend(fontsize=8)
        fig.autofmt_xdate()
        paths.append(_save(fig, out / f"path_{qid}.png"))
    return paths


def reliability_figure(result: Scores, origin: str | None, out: Path) -> Path:
    """Draw every forecaster's reliability over the questions of one origin; return the file.

    A forecaster of one constant value (0.5, a climatology) is a single point.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, label="perfect calibration")
    for who, style in zip(result.forecasters, STYLES, strict=False):
        bins = result.calibration(who, origin=origin)
        ax.plot([b.mean_forecast for b in bins], [b.frequency for b in bins], style, color="k",
                mfc="none", label=f"{who} ({sum(b.count for b in bins)})")  # fmt: skip
    ax.set(xlabel="forecast probability", ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(f"Reliability, {origin or 'all'} questions (ten bands)")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, out / f"reliability_{origin or 'all'}.png")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    _pyplot().close(fig)
    return path


DPI = 150


def save_png_svg(fig: Any, png: Path) -> Path:
    """Save a figure as an opaque PNG at :data:`DPI` and an SVG beside it; close it.

    The PNG holds RGB without an alpha channel (the figures are opaque):
    a PDF embeds it as it is, where an RGBA one is split in two and encoded
    again. The figure is laid out once, for the PNG, and the SVG keeps that
    layout. In a worker of :func:`drawing` the SVG is saved (and the figure
    closed) after every call's PNG.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, opaque (a solid face colour).
    png : Path
        The PNG's path; the SVG's has the suffix ``.svg``.

    Returns
    -------
    Path
        The PNG.
    """
    from PIL import Image

    dpi = fig.get_dpi()
    fig.set_dpi(DPI)
    fig.canvas.draw()
    Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]).save(png, dpi=(DPI, DPI))
    fig.set_dpi(dpi)
    fig.set_layout_engine("none")
    if _DEFERRED is not None:  # saved once every PNG is (see drawing)
        _DEFERRED.append((fig, png.with_suffix(".svg")))
    else:
        _svg(fig, png.with_suffix(".svg"))
    return png


def _svg(fig: Any, path: Path) -> None:
    fig.savefig(path)
    _pyplot().close(fig)
