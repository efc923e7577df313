"""A report an analyst can hand on: Markdown, self-contained HTML, figures, CSV and JSON.

Jinja2 templates (``report.md.j2``, ``report.html.j2``) lay out a
:class:`~allegiance.workflow.reporting.ReportData`; a user's own template
folder may replace them. HTML is autoescaped, so analyst text (notes,
sources, rationales) shows as written and is never run; Markdown escapes the
characters that would break its tables or start markup. Every format takes
its numbers from the one :class:`~allegiance.forecast.Forecast`.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from allegiance.report.trajectories import trajectory
from allegiance.spec.beliefs import stated, stated_beliefs
from allegiance.workflow.reporting import ReportData

TEMPLATES = Path(__file__).with_name("templates")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def markdown_text(value: object) -> str:
    """Escape text for a Markdown table cell: markup characters, pipes and line breaks."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(value)).replace("\n", " ")


def percent(x: float | None) -> str:
    """Return a probability as a whole percentage, or an en dash when there is none."""
    return "–" if x is None else f"{x:.0%}"


def _questions(data: ReportData, figures: Path) -> list[dict[str, Any]]:
    evidence_dates = sorted({i.date for i in data.evidence})
    out = []
    for q in data.forecast.questions:
        png, alt = trajectory(
            q.id, data.history.get(q.id, []), evidence_dates, figures, outcome=q.resolved
        )
        interval = (
            "–"
            if q.lower is None or q.upper is None
            else f"{percent(q.lower)} – {percent(q.upper)}"
        )
        out.append(
            {
                "id": q.id,
                "text": q.text,
                "horizon": q.horizon,
                "p": q.resolved or percent(q.probability),
                "interval": f"on {q.resolved_on}" if q.resolved else interval,
                "word": q.word,
                "outcome": q.resolved,
                "figure": png.name,
                "image": base64.b64encode(png.read_bytes()).decode("ascii"),
                "alt": alt,
            }
        )
    return out


def write_report(
    data: ReportData, out: Path, *, template_dir: Path | None = None, title: str = ""
) -> list[Path]:
    """Write ``report.md``, ``report.html``, ``figures/``, ``forecasts.csv`` and ``.json``.

    Parameters
    ----------
    data : ReportData
        What :func:`allegiance.workflow.reporting.gather` collected.
    out : Path
        The folder to write into (made if missing).
    template_dir : Path, optional
        A folder with the user's own ``report.md.j2`` and/or ``report.html.j2``;
        a template it lacks comes from the package.
    title : str
        The report's title (the model's title by default).

    Returns
    -------
    list of Path
        The files written.
    """
    import jinja2

    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    folders = [str(template_dir)] if template_dir else []
    loader = jinja2.FileSystemLoader([*folders, str(TEMPLATES)])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_text
    forecast = data.forecast
    provenance = forecast.provenance
    context = {
        "title": title or data.spec.title,
        "spec": data.spec,
        "forecast": forecast,
        "as_of": provenance.get("as_of"),
        "as_recorded": provenance.get("as_recorded"),
        "questions": _questions(data, figures),
        "evidence": data.evidence,
        "retracted": data.retracted,
        "beliefs": [
            {
                "name": name,
                "stated": stated(b),
                "rationale": b.rationale,
                "provenance": b.provenance,
            }
            for name, b in stated_beliefs(data.spec)
        ],  # fmt: skip
    }
    written = []
    for name in ("report.md", "report.html"):
        path = out / name
        path.write_text(env.get_template(f"{name}.j2").render(context), encoding="utf-8")
        written.append(path)
    table = out / "forecasts.csv"
    table.write_text(forecast.to_csv(), encoding="utf-8")
    doc = out / "forecasts.json"
    doc.write_text(forecast.to_json(), encoding="utf-8")
    return [*written, table, doc, *sorted(figures.iterdir())]
