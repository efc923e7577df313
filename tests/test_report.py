"""Reports: the files, escaped analyst text, one set of numbers in every format."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allegiance.cli import app
from allegiance.evidence import EvidenceSet, Item, read_items
from allegiance.ledger import Ledger, default_url
from allegiance.posterior import FitSettings
from allegiance.report import write_report
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow.reporting import ReportData, gather
from conftest import FIXTURES

SETTINGS = FitSettings(draws=500, tune=500)


def _minimal_in(folder: Path) -> tuple[ModelSpec, list[Item]]:
    """A copy of the minimal model in its own folder (its own ledger), and its evidence."""
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "models" / "minimal.yaml", folder / "minimal.yaml")
    spec = load_spec(folder / "minimal.yaml")
    return spec, read_items(FIXTURES / "evidence" / "minimal.yaml", spec)


SCRIPT = "<script>alert('x')</script> | *bold*"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    folder = tmp_path_factory.mktemp("model")
    shutil.copy(FIXTURES / "models" / "minimal.yaml", folder / "minimal.yaml")
    spec = load_spec(folder / "minimal.yaml")
    with Ledger(default_url(spec), spec) as book:
        items = read_items(FIXTURES / "evidence" / "minimal.yaml", spec)
        noted = [Item(i.id, i.kind, i.date, i.source, i.grade, i.fields, note=SCRIPT,
                      author="analystA")
                 if i.id == "deal_signed" else i for i in items]  # fmt: skip
        withdrawn = Item("withdraw_feb", "retraction", items[0].date, "editor", "A1",
                         {"retracts": "defectors_2020_02"}, author="m.editor")  # fmt: skip
        book.append([*noted, withdrawn])
    return gather(spec, settings=SETTINGS)


def test_a_report_writes_every_file_with_one_set_of_numbers(
    data: ReportData, tmp_path: Path
) -> None:
    files = write_report(data, tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in files}
    assert {"report.md", "report.html", "forecasts.csv", "forecasts.json"} <= names
    for q in data.spec.questions:
        assert {f"figures/trajectory_{q}.png", f"figures/trajectory_{q}.svg"} <= names
    doc = json.loads((tmp_path / "forecasts.json").read_text())
    lines = (tmp_path / "forecasts.csv").read_text().splitlines()
    rows = {r["question"]: r for r in csv.DictReader(lines)}
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    for q in doc["questions"]:
        p = q["probability"]
        assert float(rows[q["id"]]["probability"]) == pytest.approx(p, abs=5e-5)
        shown = f"{p:.0%}"
        assert re.search(rf"\| {q['id']} \| {q['horizon']} \| {shown} \|", md)
        assert re.search(
            rf"<td>{q['id']}</td><td>{q['horizon']}</td><td class=\"num\">{shown}<", html
        )


def test_analyst_text_is_shown_not_run(data: ReportData, tmp_path: Path) -> None:
    write_report(data, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    md = (tmp_path / "report.md").read_text()
    assert r"\<script\>alert\('x'\)\</script\> \| \*bold\*" in md  # a table cell, not markup
    # Self-contained: every figure embedded, each with its alt text.
    images = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]+)">', html)
    pngs = list((tmp_path / "figures").glob("*.png"))
    assert len(pngs) > len(data.spec.questions)  # trajectories and priors against posteriors
    assert len(images) == len(pngs) and all(images)


def test_a_users_templates_replace_the_packages(data: ReportData, tmp_path: Path) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "report.md.j2").write_text("{{ spec.id }}: {{ questions | length }} questions\n")
    write_report(data, tmp_path / "out", template_dir=mine)
    assert (tmp_path / "out" / "report.md").read_text() == "minimal: 2 questions\n"
    assert '<table id="headline">' in (tmp_path / "out" / "report.html").read_text()


def test_a_forecast_shows_itself_in_a_notebook(data: ReportData) -> None:
    shown = data.forecast._repr_html_()
    assert shown.count("<tr>") == len(data.forecast.questions) + 1
    q = data.forecast.questions[0]
    assert q.probability is not None and f"<td>{q.probability:.0%}</td>" in shown


def test_the_report_command_writes_the_report(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(FIXTURES / "models" / "minimal.yaml", model)
    shutil.copy(FIXTURES / "evidence" / "minimal.yaml", tmp_path / "minimal.evidence.yaml")
    out = tmp_path / "rep"
    done = CliRunner().invoke(
        app, ["report", str(model), "--out", str(out), "--as-of", "2020-06-01"]
    )
    assert done.exit_code == 0, done.output
    assert (out / "report.html").exists() and f"wrote {out / 'report.html'}" in done.stdout
    drawn = len(list((out / "figures").iterdir()))
    assert f"wrote {drawn} figures (PNG and SVG) in {out / 'figures'}" in done.stdout
    assert json.loads((out / "forecasts.json").read_text())["provenance"]["as_of"] == "2020-06-01"


def test_the_report_says_what_matters_and_what_to_learn(data: ReportData, tmp_path: Path) -> None:
    write_report(data, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Forecasts") < md.index("## Scenarios") < md.index("## What to learn next")
    conditions = list(data.spec.binary_conditions)
    assert set(data.effects) == set(conditions)
    for qid, values in data.information.items():
        best = max(values, key=lambda c: values[c])
        assert re.search(rf"\| {qid} \| {best} \({values[best] * 100:.1f} pp\)", md)
        cells = " | ".join(f"{data.effects[c][qid] * 100:+.0f} pp" for c in conditions)
        assert f"| {qid} | {cells} |" in md
    # Funding is necessary for the splinter to leave: setting it raises the departure.
    assert data.effects["funding"]["splinter_leaves_12m"] > 0


SECTIONS = ("Forecasts", "What moved each forecast", "Scenarios", "Named scenarios",
            "Prior sensitivity", "What to learn next", "Priors against posteriors",
            "Evidence in force", "Priors, in the analyst's words", "Diagnostics",
            "How it was computed")  # fmt: skip


def _text_of(pdf: Path) -> str:
    import subprocess

    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return " ".join(done.stdout.split())


def test_the_pdf_holds_every_section_and_shows_analyst_text(
    data: ReportData, tmp_path: Path
) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing: apt-get install poppler-utils")
    notes: list[str] = []
    write_report(data, tmp_path, notes=notes)
    if not (tmp_path / "report.pdf").exists():
        pytest.skip(notes[0])
    text = _text_of(tmp_path / "report.pdf")
    assert all(section in text for section in SECTIONS)
    assert "<script>alert('x')</script>" in text.replace(" ", "")  # as written (wrapped)
    q = data.forecast.questions[0]
    assert q.probability is not None and f"{q.id} {q.horizon} {q.probability:.0%}" in text


def test_the_html_renders_in_a_browser_with_every_image(data: ReportData, tmp_path: Path) -> None:
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or shutil.which("pdfimages") is None:
        pytest.skip("chromium or pdfimages missing: apt-get install chromium poppler-utils")
    write_report(data, tmp_path)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    printed, shot = tmp_path / "printed.pdf", tmp_path / "shot.png"
    html = (tmp_path / "report.html").as_uri()
    subprocess.run([browser, *flags, f"--print-to-pdf={printed}", html],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,1600", html],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 10_000
    listed = subprocess.run(["pdfimages", "-list", str(printed)], capture_output=True,
                            text=True, check=True).stdout.splitlines()[2:]  # fmt: skip
    figures = list((tmp_path / "figures").glob("*.png"))
    assert len(listed) == len(figures)  # every figure was loaded and drawn
    assert "Forecasts" in _text_of(printed) and "haqqani" not in _text_of(printed)


def test_the_matrix_shows_each_items_effect_and_what_was_retracted(
    data: ReportData, tmp_path: Path
) -> None:
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater
    from allegiance.workflow import FitStore

    assert set(data.matrix) == {i.id for i in data.evidence}
    assert all(v == 0.0 for v in data.matrix["spoils_reported"].values())  # reaches nothing
    assert data.matrix["deal_signed"]["splinter_leaves_12m"] > 0  # a deal raises the hazard
    # The same numbers as explain's leave-one-out, one question at a time.
    ev = EvidenceSet.of(data.evidence, as_of=None)
    fits = FitStore(data.spec).fits(SETTINGS)
    path = next(p for p in fits if load_posterior(p, data.spec).evidence.sha256 == ev.sha256)
    updater = Updater(load_posterior(path, data.spec, ev), SETTINGS)
    for row in updater.explain(ev, "splinter_leaves_12m"):
        assert data.matrix[row.item_id]["splinter_leaves_12m"] == pytest.approx(
            row.delta, abs=1e-12
        )
    write_report(data, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| ~~defectors_2020_02~~ (retracted) |" in md
    html = (tmp_path / "report.html").read_text()
    assert "<del>defectors_2020_02</del> (retracted by m.editor)" in html
    assert "~~defectors_2020_02~~ (retracted by m.editor)" in md
    # each item in force names who recorded it, in its own column
    listed = md.split("## Evidence in force")[1].splitlines()
    (row,) = [line for line in listed if line.startswith("| deal_signed |")]
    assert row.split(" | ")[5] == "analystA", row
    assert "<th>author</th>" in html and "<td>analystA</td>" in html


def test_the_report_s_numbers_are_those_of_the_draws_evaluated_afresh(data: ReportData) -> None:
    """The forecast, the value of learning each condition, the do() effects, each
    question's power-scaling and each named scenario, computed here from the stored fit's
    draws with the model's terms evaluated again, block by block: the report's, which
    evaluates them once and passes them along."""
    import numpy as np

    from allegiance.evidence import model_data
    from allegiance.forecast import probabilities
    from allegiance.posterior import load_posterior
    from allegiance.update.scenarios import draw_blocks, scenario_draws, what_matters
    from allegiance.update.sensitivity import log_likelihood, log_prior, power_scaling
    from allegiance.workflow import FitStore

    spec, ev = data.spec, EvidenceSet.of(data.evidence, as_of=None)
    fits = FitStore(spec).fits(SETTINGS)
    path = next(p for p in fits if load_posterior(p, spec).evidence.sha256 == ev.sha256)
    draws = load_posterior(path, spec, ev).flat_draws()
    arrays = model_data(spec, ev)
    per_draw, blocks = probabilities(spec, arrays, draws), draw_blocks(spec, arrays, draws)
    for q in data.forecast.questions:
        assert q.probability == pytest.approx(float(np.mean(per_draw[q.id])), rel=1e-12)
    information, effects = what_matters(spec, blocks)
    for qid, values in information.items():
        assert data.information[qid] == pytest.approx(values, rel=1e-9, abs=1e-15)
    for c, values in effects.items():
        assert data.effects[c] == pytest.approx(values, rel=1e-9, abs=1e-15)
    lp, ll = log_prior(spec, draws), log_likelihood(spec, arrays, draws)
    assert data.sensitivity.keys() == set(spec.questions)
    for qid, s in data.sensitivity.items():
        assert s.prior == pytest.approx(power_scaling(per_draw[qid], lp), rel=1e-9)
        assert s.likelihood == pytest.approx(power_scaling(per_draw[qid], ll), rel=1e-9)
    for name, scenario in spec.scenarios.items():
        under, log_w = scenario_draws(spec, blocks, scenario.setting, scenario.mode)
        for q in data.scenarios[name].questions:
            want = float(np.exp(log_w) @ under[q.id])
            assert q.probability == pytest.approx(want, rel=1e-9), (name, q.id)


def test_the_report_says_what_changed_since_a_day(tmp_path: Path) -> None:
    import dataclasses
    import datetime as dt

    spec, items = _minimal_in(tmp_path / "model")
    noon = dt.time(12, tzinfo=dt.UTC)
    stamped = [dataclasses.replace(i, recorded_at=dt.datetime.combine(i.date, noon)) for i in items]
    with Ledger(default_url(spec), spec) as book:
        book.append(stamped)
    since = dt.date(2020, 1, 15)
    data = gather(spec, settings=SETTINGS, since=since)
    assert data.before is not None
    assert set(data.new_items) == {i.id for i in items if i.date > since}
    write_report(data, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.index("## What changed since 2020-01-15") < md.index("## Forecasts")
    then = data.before
    assert data.since == "2020-01-15"
    for q in data.forecast.questions:
        a = then[q.id]
        assert a is not None and q.probability is not None
        assert (
            f"| {q.id} | {a:.0%} | {q.probability:.0%} | {(q.probability - a) * 100:+.0f} pp |"
            in md
        )
        # and the headline table's change column
        change = re.escape(f"{(q.probability - a) * 100:+.0f} pp")
        assert re.search(rf"\| {q.id} \| {q.horizon} \| [^|]+ \| [^|]+ \| [^|]+ \| {change} \|", md)


def test_named_scenarios_and_prior_sensitivity_are_in_the_report(
    data: ReportData, tmp_path: Path
) -> None:
    from allegiance.workflow.scenarios import run_scenario

    assert set(data.scenarios) == set(data.spec.scenarios) == {"no_deal", "funded"}
    ev = EvidenceSet.of(data.evidence, as_of=None)
    for name, s in data.spec.scenarios.items():
        _, alone = run_scenario(data.spec, ev, s.setting, mode=s.mode, settings=SETTINGS)
        for a, b in zip(alone.questions, data.scenarios[name].questions, strict=True):
            assert b.probability == pytest.approx(a.probability, rel=1e-12)
    write_report(data, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert (
        md.index("## Scenarios")
        < md.index("## Prior sensitivity")
        < md.index("## What to learn next")
    )
    for q in data.forecast.questions:
        p = q.probability
        assert p is not None
        cells = []
        for name in data.scenarios:
            under = next(x for x in data.scenarios[name].questions if x.id == q.id).probability
            assert under is not None
            cells.append(f"{under:.0%} ({(under - p) * 100:+.0f} pp)")
        assert f"| {q.id} | {p:.0%} | {' | '.join(cells)} |" in md
        s = data.sensitivity[q.id]
        assert f"| {q.id} | {s.prior:.3g} | {s.likelihood:.3g} |" in md
        # the headline table's "priors" column carries the diagnosis, then who asked it
        assert re.search(rf"\| {q.id} \| {q.horizon} \| .* \| {s.diagnosis} \| by hand \|\n", md)


def test_the_report_says_what_changed_since_the_last_report(tmp_path: Path) -> None:
    spec, items = _minimal_in(tmp_path / "model")
    with Ledger(default_url(spec), spec) as book:
        book.append(items[:-1])
    first = gather(spec, settings=SETTINGS, since_report=True)
    assert first.before is None and any("no earlier report" in n for n in first.notes)
    with Ledger(default_url(spec), spec) as book:
        book.append(items[-1:])
    second = gather(spec, settings=SETTINGS, since_report=True)
    assert second.before == {q.id: q.probability for q in first.forecast.questions}
    assert second.new_items == [items[-1].id]
    assert second.since.startswith("the last report (")
    again = gather(spec, settings=SETTINGS, since_report=True)
    assert again.new_items == [] and again.before == {
        q.id: q.probability for q in second.forecast.questions
    }
    write_report(second, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## What changed since the last report (" in md
    with pytest.raises(Exception, match="since"):
        gather(spec, settings=SETTINGS, since=items[0].date, since_report=True)


def test_the_report_command_shows_its_progress(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(FIXTURES / "models" / "minimal.yaml", model)
    out = tmp_path / "rep"
    args = ["report", str(model), "--out", str(out), "--as-of", "2019-12-01"]
    done = CliRunner().invoke(app, [*args, "--since-report"])
    assert done.exit_code == 0, done.output
    steps = [line for line in done.stderr.splitlines() if line.startswith("[")]
    order = ["reading the evidence", "fitting", "what each item did", "power-scaling",
             "named scenario", "writing the report"]  # fmt: skip
    found = [next(i for i, line in enumerate(steps) if words in line) for words in order]
    assert found == sorted(found)
    seconds = [float(line[1:].split(" s]")[0]) for line in steps]
    assert seconds == sorted(seconds)
    both = CliRunner().invoke(app, [*args, "--since", "2019-12-01", "--since-report"])
    assert both.exit_code == 2 and "not both" in both.output


def test_wide_tables_are_split_to_fit_the_page_and_ids_wrap_safely() -> None:
    from allegiance.report.layout import breakable, columns

    rows = [{"id": "a", "cells": list(range(10))}, {"id": "b", "cells": list(range(10, 20))}]
    parts = columns([f"q{i}" for i in range(10)], rows, 4)
    assert [p["header"] for p in parts] == [["q0", "q1", "q2", "q3"], ["q4", "q5", "q6", "q7"],
                                            ["q8", "q9"]]  # fmt: skip
    assert [r["cells"] for r in parts[2]["rows"]] == [[8, 9], [18, 19]]
    assert all(r["id"] in "ab" for p in parts for r in p["rows"])
    assert str(breakable("<b>_x")) == "&lt;b&gt;_<wbr>x"


def _model_with_evidence(folder: Path) -> tuple[ModelSpec, EvidenceSet]:
    """The minimal model with its evidence in its ledger, recorded at one fixed time."""
    from allegiance.workflow import evidence_in_force

    spec, items = _minimal_in(folder)
    stamp = dt.datetime(2020, 6, 1, tzinfo=dt.UTC)  # recorded at one time in every run
    with Ledger(default_url(spec), spec) as book:
        book.append([dataclasses.replace(i, recorded_at=stamp) for i in items])
    chosen = evidence_in_force(spec)
    assert chosen.evidence is not None
    return spec, chosen.evidence


def test_a_report_from_a_fake_posterior_needs_no_sampling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prior draws stored as the fit of exactly this evidence: the report reads them, fits
    nothing, and its numbers are theirs."""
    import numpy as np

    import allegiance.posterior as posterior_module
    from allegiance.evidence import model_data
    from allegiance.forecast import probabilities
    from allegiance.posterior import Posterior
    from allegiance.posterior.sampling import _identity
    from allegiance.workflow import FitStore
    from helpers import prior_draws

    spec, ev = _model_with_evidence(tmp_path / "model")
    settings = FitSettings(draws=500, chains=4)
    draws = prior_draws(spec, 2000, seed=9)
    samples = {k: v.reshape(4, 500, -1) for k, v in draws.items() if v.shape[1]}
    fake = Posterior(spec, ev, samples, settings, attrs=_identity(spec, ev, settings))
    fake.save(FitStore(spec).path(ev, settings))

    def no_sampling(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report sampled")

    monkeypatch.setattr(posterior_module, "fit", no_sampling)
    data = gather(spec, settings=settings)
    want = probabilities(spec, model_data(spec, ev), draws)
    for q in data.forecast.questions:
        assert q.probability == pytest.approx(float(np.mean(want[q.id])), rel=1e-9)
    files = write_report(data, tmp_path / "out")
    assert (tmp_path / "out" / "report.md") in files


def test_the_same_inputs_and_seed_give_the_same_report(tmp_path: Path) -> None:
    outs = []
    for run in ("a", "b"):
        spec, _ = _model_with_evidence(tmp_path / run / "model")
        data = gather(spec, settings=SETTINGS)
        write_report(data, tmp_path / run / "out")
        outs.append(tmp_path / run / "out")
    for name in ("forecasts.csv", "report.md"):
        assert (outs[0] / name).read_text() == (outs[1] / name).read_text(), name
    first, second = (json.loads((o / "forecasts.json").read_text()) for o in outs)
    assert first["questions"] == second["questions"]
    assert first["provenance"]["evidence_sha256"] == second["provenance"]["evidence_sha256"]


@pytest.mark.parametrize("model", ["switches", "stocks"])
def test_a_report_of_a_model_with_switches_or_stocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    """Every question kind and free variable of the newer features reaches the report, with
    the numbers of the (fake, prior-draw) fit."""
    import numpy as np

    import allegiance.posterior as posterior_module
    from allegiance.evidence import model_data
    from allegiance.forecast import probabilities
    from allegiance.posterior import Posterior
    from allegiance.posterior.sampling import _identity
    from allegiance.workflow import FitStore, evidence_in_force
    from helpers import prior_draws

    (tmp_path / "model").mkdir()
    shutil.copy(FIXTURES / "models" / f"{model}.yaml", tmp_path / "model" / f"{model}.yaml")
    spec = load_spec(tmp_path / "model" / f"{model}.yaml")
    chosen = evidence_in_force(spec, as_of=spec.analysis_date)
    assert chosen.evidence is not None
    ev, settings = chosen.evidence, FitSettings(draws=500, chains=4)
    draws = prior_draws(spec, 2000, seed=19)
    samples = {k: v.reshape(4, 500, -1) for k, v in draws.items() if v.shape[1]}
    Posterior(spec, ev, samples, settings, attrs=_identity(spec, ev, settings)).save(
        FitStore(spec).path(ev, settings)
    )
    monkeypatch.setattr(posterior_module, "fit", lambda *a, **k: pytest.fail("sampled"))
    data = gather(spec, as_of=spec.analysis_date, settings=settings)
    want = probabilities(spec, model_data(spec, ev), draws)
    assert {q.id for q in data.forecast.questions} == set(spec.questions)
    for q in data.forecast.questions:
        assert q.probability == pytest.approx(float(np.mean(want[q.id])), rel=1e-9)
    files = {p.name for p in write_report(data, tmp_path / "out")}
    text = (tmp_path / "out" / "report.md").read_text()
    assert all(qid in text for qid in spec.questions)
    if model == "stocks":
        assert {"prior_posterior_stock_start.png", "prior_posterior_stock_growth.png"} <= files
        assert "stock rival_fighters start" in text  # the priors in words
