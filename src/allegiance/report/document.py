"""A report an analyst can hand on: Markdown, self-contained HTML, PDF, figures, CSV, JSON.

Jinja2 templates (``report.md.j2``, ``report.html.j2``) lay out a
:class:`~allegiance.workflow.reporting.ReportData`; a user's own template
folder may replace them. Templates render in Jinja2's sandbox, so a template
reads the report's data but cannot reach Python (``__class__``,
``__globals__``). HTML is autoescaped, so analyst text (title, notes,
sources, rationales) shows as written and is never run; Markdown escapes,
with the ``md`` filter, every character that would start markup (raw HTML, a
link, emphasis) or end a table cell. Every format takes its numbers from the
one :class:`~allegiance.forecast.Forecast`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from allegiance.posterior import ESS_MIN, RHAT_MAX
from allegiance.report.figures import drawing
from allegiance.report.layout import rendered, report_templates
from allegiance.report.priors import prior_posterior_calls
from allegiance.report.trajectories import trajectory
from allegiance.spec.beliefs import stated, stated_beliefs
from allegiance.spec.types import GRID
from allegiance.workflow.reporting import ReportData


def percent(x: float | None) -> str:
    """Return a probability as a whole percentage, or an en dash when there is none."""
    return "–" if x is None else f"{x:.0%}"


def _image(png: Path) -> str:
    return base64.b64encode(png.read_bytes()).decode("ascii")


def _trajectories(data: ReportData, figures: Path) -> list[Callable[[], tuple[Path, str]]]:
    """Return the calls that draw each question's trajectory (its PNG and alt text)."""
    evidence_dates = sorted({i.date for i in data.evidence})
    return [
        partial(trajectory, q.id, data.history.get(q.id, []), evidence_dates, figures,
                outcome=q.resolved)
        for q in data.forecast.questions
    ]  # fmt: skip


def _questions(data: ReportData, drawn: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    """Return each question's row of the forecasts' table, with its trajectory drawn."""
    out = []
    for q, (png, alt) in zip(data.forecast.questions, drawn, strict=True):
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
                "image": _image(png),
                "alt": alt,
                "flag": _flag(data, q.id) if q.probability is not None else "",
                "change": _change(data, q.id, q.probability),
                "asked": "grid" if q.origin == GRID else "by hand",
            }
        )
    return out


def _change(data: ReportData, qid: str, now: float | None) -> str:
    """Return the move since the report's comparison, or an en dash without one."""
    then = None if data.before is None else data.before.get(qid)
    return "–" if then is None or now is None else _pp(now - then)


def _flag(data: ReportData, qid: str) -> str:
    found = data.sensitivity.get(qid)
    return found.diagnosis if found is not None else ""


def _sensitivity(data: ReportData) -> list[dict[str, str]]:
    """Return each question's power-scaling sensitivity to the prior and to the likelihood."""
    shown = {q.id for q in data.forecast.questions if q.probability is not None}
    return [
        {"question": qid, "prior": f"{s.prior:.3g}", "likelihood": f"{s.likelihood:.3g}",
         "diagnosis": s.diagnosis or "–"}
        for qid, s in data.sensitivity.items()
        if qid in shown
    ]  # fmt: skip


def _named(data: ReportData) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Return the model's named scenarios, and per question the forecast under each."""
    named = [
        {"id": s.id, "text": s.text, "mode": s.mode,
         "setting": ", ".join(f"{c}={'true' if v else 'false'}" for c, v in s.setting.items())}
        for s in data.spec.scenarios.values()
    ]  # fmt: skip
    rows = []
    for i, q in enumerate(data.forecast.questions):
        cells = []
        for name in data.scenarios:
            p = data.scenarios[name].questions[i].probability
            moved = "" if p is None or q.probability is None else f" ({_pp(p - q.probability)})"
            cells.append(percent(p) + moved)
        rows.append({"question": q.id, "now": q.resolved or percent(q.probability), "cells": cells})
    return named, rows


def _pp(x: float) -> str:
    return f"{x * 100:+.0f} pp"


def _changes(data: ReportData) -> list[dict[str, Any]]:
    """Return what moved since the earlier forecast, most first, with the items that moved it.

    Items are those new since then that moved the question by at least a
    percentage point, strongest first.
    """
    if data.before is None:
        return []
    then = data.before
    rows = []
    for q in data.forecast.questions:
        a, b = then.get(q.id), q.probability
        if a is None or b is None:
            continue
        movers = sorted(
            ((iid, data.matrix.get(iid, {}).get(q.id)) for iid in data.new_items),
            key=lambda kv: -abs(kv[1] or 0.0),
        )
        why = [
            f"{iid} ({v * 100:+.0f} pp)" for iid, v in movers if v is not None and abs(v) >= 0.01
        ]
        rows.append(
            {"question": q.id, "then": percent(a), "now": percent(b), "change": _pp(b - a),
             "size": abs(b - a), "items": ", ".join(why) or "–"}
        )  # fmt: skip
    return sorted(rows, key=lambda r: -r["size"])


def _learn(data: ReportData) -> list[dict[str, str]]:
    """Per question, the unknown conditions whose learning would move it most, first."""
    out = []
    for qid, values in data.information.items():
        ranked = sorted(values.items(), key=lambda kv: -kv[1])[:3]
        out.append(
            {
                "question": qid,
                "best": ", ".join(f"{c} ({v * 100:.1f} pp)" for c, v in ranked if v > 0) or "–",
            }
        )
    return out


def _matrix(data: ReportData) -> list[dict[str, Any]]:
    """Items by their largest effect on any question, strongest first; retracted ones last."""

    def strongest(row: dict[str, float | None]) -> float:
        return max((abs(v) for v in row.values() if v is not None), default=0.0)

    notes = {i.id: i for i in data.evidence}
    rows = [
        {"id": iid, "kind": notes[iid].kind, "retracted": False,
         "cells": ["–" if v is None else _pp(v) for v in row.values()], "order": strongest(row)}
        for iid, row in data.matrix.items()
    ]  # fmt: skip
    rows.sort(key=lambda r: -r["order"])
    blank = ["" for _ in data.spec.questions]
    return rows + [
        {"id": i.id, "kind": i.kind, "retracted": True, "cells": blank, "order": 0.0}
        for i in data.retracted
    ]


def write_pdf(html: Path, out: Path) -> tuple[Path | None, str]:
    """Render the HTML report to ``report.pdf`` with WeasyPrint; say why when it cannot.

    Returns
    -------
    (Path or None, str)
        The PDF, or None and the reason (WeasyPrint or its Pango libraries missing).
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango is missing
        return None, (
            f"report.pdf skipped ({str(exc).splitlines()[0]}): install allegiance[pdf] and "
            "Debian's libpango-1.0-0 libpangoft2-1.0-0."
        )
    pdf = out / "report.pdf"
    weasyprint.HTML(filename=str(html)).write_pdf(pdf)
    return pdf, ""


def _context(
    data: ReportData, title: str, questions: list[dict[str, Any]], priors: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return what the templates lay out: the data, and each question's and prior's figure."""
    forecast = data.forecast
    named, under = _named(data)
    provenance = forecast.provenance
    return {
        "title": title or data.spec.title,
        "spec": data.spec,
        "forecast": forecast,
        "as_of": provenance.get("as_of"),
        "as_recorded": provenance.get("as_recorded"),
        "questions": questions,
        "evidence": data.evidence,
        "retracted": data.retracted,
        "retracted_by": data.retracted_by,
        "rhat_max": RHAT_MAX,
        "ess_min": ESS_MIN,
        "learn": _learn(data),
        "sensitivity": _sensitivity(data),
        "named": named,
        "under": under,
        "priors": priors,
        "since": data.since,
        "changes": _changes(data),
        "question_ids": list(data.spec.questions),
        "matrix": _matrix(data),
        "conditions": list(data.effects),
        "effects": [
            {"question": q, "cells": [_pp(data.effects[c][q]) for c in data.effects]}
            for q in data.spec.questions
        ],
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


def _shown(pngs: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    """Return each prior's figure as the templates show it: its name, image and alt text."""
    return [{"figure": png.name, "image": _image(png), "alt": alt} for png, alt in pngs]


def write_report(
    data: ReportData,
    out: Path,
    *,
    template_dir: Path | None = None,
    title: str = "",
    notes: list[str] | None = None,
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
    notes : list of str, optional
        Filled with what could not be written and why (a PDF without WeasyPrint).

    Returns
    -------
    list of Path
        The files written.
    """
    templates = report_templates(template_dir)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    trajectories = _trajectories(data, figures)
    priors = prior_posterior_calls(
        data.spec, data.draws, data.forecast.condition_probability, figures
    )
    # Every figure at once: drawing them is most of a report's time, and they share it out;
    # the documents are written while the workers save the SVGs.
    with drawing([*priors, *trajectories]) as pngs:  # the largest first
        context = _context(
            data, title, _questions(data, pngs[len(priors) :]), _shown(pngs[: len(priors)])
        )
        texts = {name: rendered(t, context, template_dir) for name, t in templates.items()}
        written = [out / name for name in texts]
        for path, text in zip(written, texts.values(), strict=True):
            path.write_text(text, encoding="utf-8")
        pdf, why = write_pdf(out / "report.html", out)
    if pdf is not None:
        written.append(pdf)
    elif notes is not None:
        notes.append(why)
    table = out / "forecasts.csv"
    table.write_text(data.forecast.to_csv(), encoding="utf-8")
    doc = out / "forecasts.json"
    doc.write_text(data.forecast.to_json(), encoding="utf-8")
    return [*written, table, doc, *sorted(figures.iterdir())]
