"""Reports: files and figures made from forecasts, scores and backtests (a face of the package).

Nothing in the core imports it. :func:`make_report` is the Python form of
``allegiance report``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from allegiance.report.backtest import write_backtest
from allegiance.report.document import write_pdf, write_report
from allegiance.report.figures import backtest_figures, score_figures

__all__ = [
    "backtest_figures",
    "make_report",
    "score_figures",
    "write_backtest",
    "write_pdf",
    "write_report",
]


def make_report(
    model: str | Path,
    out: str | Path,
    *,
    ledger_url: str | None = None,
    as_of: dt.date | None = None,
    as_recorded: bool = False,
    template_dir: str | Path | None = None,
    since: dt.date | None = None,
    since_report: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Forecast a model from its ledger as of a day and write its report into ``out``.

    Parameters
    ----------
    model : path
        The model file.
    out : path
        Folder for ``report.md``, ``report.html``, ``figures/``, ``forecasts.csv``
        and ``forecasts.json``.
    ledger_url : str, optional
        The ledger (default: beside the model, filled from its shipped evidence).
    as_of : date, optional
        The report's day.
    as_recorded : bool
        With ``as_of``, only what was on record that day.
    template_dir : path, optional
        The user's own Jinja2 templates.
    since : date, optional
        Say what changed since the forecast as of this day, as recorded then.
    since_report : bool
        Say what changed since the last report made from this ledger.
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    list of Path
        The files written.
    """
    from allegiance.spec import load_spec
    from allegiance.workflow.reporting import gather

    data = gather(
        load_spec(model),
        ledger_url=ledger_url,
        as_of=as_of,
        as_recorded=as_recorded,
        since=since,
        since_report=since_report,
        **({} if progress is None else {"progress": progress}),
    )
    folder = None if template_dir is None else Path(template_dir)
    return write_report(data, Path(out), template_dir=folder)
