"""Each question's forecast over time, from the forecast history, as a figure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from allegiance.report.figures import _pyplot, save_png_svg


def when(row: dict[str, Any]) -> dt.date:
    """Return the day a recorded forecast speaks for: its as-of date, else the day made."""
    as_of = row["as_of"]
    return as_of if as_of is not None else row["created_at"].date()


MIN_SPAN = dt.timedelta(days=60)


def _at_least_two_months(ax: Any, dates: list[dt.date]) -> None:
    """Widen the axis around dates closer together than :data:`MIN_SPAN` (never hour ticks)."""
    if dates and max(dates) - min(dates) < MIN_SPAN:
        middle = min(dates) + (max(dates) - min(dates)) / 2
        ax.set_xlim(middle - MIN_SPAN / 2, middle + MIN_SPAN / 2)


def trajectory(
    question: str,
    rows: list[dict[str, Any]],
    evidence_dates: list[dt.date],
    out: Path,
    *,
    outcome: str = "",
) -> tuple[Path, str]:
    """Draw one question's probability and 90 % interval over the days forecast.

    Evidence dates are ticks along the bottom; a resolved outcome is a
    horizontal line at 1 or 0. Saved as PNG and SVG; returns the PNG and its
    alt text.
    """
    plt = _pyplot()
    latest: dict[dt.date, dict[str, Any]] = {}
    for row in rows:  # oldest first: the last forecast of a day counts
        latest[when(row)] = row
    days = sorted(latest)
    fig, ax = plt.subplots(figsize=(7, 2.8))
    if days:
        p = [latest[d]["probability"] for d in days]
        ax.fill_between(days, [latest[d]["lower"] for d in days],
                        [latest[d]["upper"] for d in days], color="0.85", hatch="//",
                        edgecolor="0.5", lw=0, label="90 % interval")  # fmt: skip
        ax.plot(days, p, "ko-", ms=4, label="probability")
        # A probability the same in every draw has its interval at it, up to round-off.
        below = [max(p[i] - latest[d]["lower"], 0.0) for i, d in enumerate(days)]
        above = [max(latest[d]["upper"] - p[i], 0.0) for i, d in enumerate(days)]
        ax.errorbar(days, p, yerr=[below, above], fmt="none", ecolor="k", capsize=3, lw=1)
    if evidence_dates:  # one artist for all the ticks, drawn at the axes' foot
        ax.vlines(evidence_dates, 0, 0.04, transform=ax.get_xaxis_transform(), color="0.3", lw=1)
    _at_least_two_months(ax, [*days, *evidence_dates])
    if outcome:
        ax.axhline(1.0 if outcome == "yes" else 0.0, color="0.4", lw=3, alpha=0.5,
                   label=f"resolved {outcome}")  # fmt: skip
    ax.set(ylim=(-0.02, 1.02), ylabel="probability")
    ax.set_title(question, y=1.0)  # placed: no search for tick labels above the axes
    if days or outcome:  # a legend of nothing warns, and says nothing
        ax.legend(loc="upper left", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no recorded forecast", transform=ax.transAxes, ha="center")
    fig.autofmt_xdate()
    # The figure's size is fixed, so its margins can be: no layout pass per figure.
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.24)
    png = out / f"trajectory_{question}.png"
    save_png_svg(fig, png)
    if not days:
        return png, f"{question}: no recorded forecast"
    first, last = latest[days[0]]["probability"], latest[days[-1]]["probability"]
    alt = (
        f"{question}: {len(days)} forecast(s) from {days[0]} to {days[-1]}, "
        f"from {first:.0%} to {last:.0%}" + (f"; resolved {outcome}" if outcome else "")
    )
    return png, alt
