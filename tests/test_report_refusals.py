"""Reports of hostile text and templates: shown as written, refused with file and line, never run.

The model's fit is prior draws stored as the fit of exactly its evidence
(nothing is sampled), under the settings the ``report`` command uses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from html import escape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from allegiance.evidence import read_items
from allegiance.ledger import Ledger, default_url
from allegiance.posterior import FitSettings, Posterior
from allegiance.posterior.sampling import _identity
from allegiance.report import write_report
from allegiance.spec import ModelSpec, load_spec
from allegiance.workflow import FitStore, evidence_in_force
from allegiance.workflow.reporting import gather
from conftest import FIXTURES
from helpers import prior_draws

runner = CliRunner()
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"


def _hostile(text: str) -> str:
    """The minimal model with hostile text in its title, a question, a rationale, a scenario."""
    quoted = f'"{HOSTILE}"'
    for old in ("title: A splinter faction and its parent",
                "text: Will the splinter leave its parent by 1 January 2021?",
                "rationale: Talks are advanced but stalled.",
                "text: The talks fail and no deal is signed."):  # fmt: skip
        assert old in text, old
        text = text.replace(old, old.split(":")[0] + ": " + quoted, 1)
    return text


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ModelSpec:
    """The hostile model, its evidence (hostile notes and sources) in its ledger, its fake fit."""
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "minimal.yaml"
    path.write_text(_hostile((FIXTURES / "models" / "minimal.yaml").read_text()))
    spec = load_spec(path)
    stamp = dt.datetime(2020, 6, 1, tzinfo=dt.UTC)
    items = read_items(FIXTURES / "evidence" / "minimal.yaml", spec)
    with Ledger(default_url(spec), spec) as book:
        book.append([dataclasses.replace(i, note=HOSTILE, source=HOSTILE, recorded_at=stamp)
                     for i in items])  # fmt: skip
    chosen = evidence_in_force(spec)
    assert chosen.evidence is not None
    ev, settings = chosen.evidence, FitSettings()
    draws = prior_draws(spec, settings.chains * settings.draws, seed=29)
    shape = (settings.chains, settings.draws, -1)
    samples = {k: v.reshape(shape) for k, v in draws.items() if v.shape[1]}
    Posterior(spec, ev, samples, settings, attrs=_identity(spec, ev, settings)).save(
        FitStore(spec).path(ev, settings)
    )
    return spec


@pytest.mark.slow
def test_hostile_analyst_text_renders_from_markdown_as_text(
    model: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CommonMark, raw HTML allowed and every link kept: no tag and no link comes from the
    analyst's text (title, question, rationale, scenario, notes, sources)."""
    from markdown_it import MarkdownIt

    import allegiance.posterior as posterior_module

    monkeypatch.setattr(posterior_module, "fit", lambda *a, **k: pytest.fail("sampled"))
    write_report(gather(model), tmp_path)
    text = (tmp_path / "report.md").read_text()
    renderer = MarkdownIt("commonmark", {"html": True})
    renderer.validateLink = lambda url: True  # type: ignore[method-assign]  # every link shown
    tokens = renderer.parse(text)
    inline = [t for block in tokens for t in [block, *(block.children or [])]]
    assert not [t for t in inline if t.type in ("html_block", "html_inline")]
    links = [
        t.attrGet("href") or t.attrGet("src") for t in inline if t.type in ("link_open", "image")
    ]
    assert all(str(link).startswith("figures/") for link in links), links
    html = renderer.render(text)
    shown = escape(HOSTILE, quote=False)
    assert html.startswith(f"<h1>{shown}</h1>")  # the title, as written
    assert (
        html.count(shown) >= 2 + len(read_items(FIXTURES / "evidence" / "minimal.yaml", model)) * 2
    )


ESCAPES = {
    "globals": "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_a_template_reaching_for_python_is_refused_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from allegiance.errors import TemplateError
    from allegiance.report.layout import rendered, report_templates

    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "report.md.j2").write_text(f"# {{{{ title }}}}\n\n{ESCAPES[name]}\n")
    template = report_templates(mine)["report.md"]
    with pytest.raises(TemplateError, match="refused by the sandbox") as info:
        rendered(template, {"title": "t"}, mine)
    assert info.value.path == str(mine / "report.md.j2") and info.value.line == 3
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.slow
def test_the_report_command_refuses_a_sandbox_escape_with_exit_2(
    model: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "report.md.j2").write_text(ESCAPES["globals"] + "\n")
    done = runner.invoke(app, ["report", str(model.path), "--out", "out", "--templates", str(mine)])
    assert done.exit_code == EXIT_BAD_INPUT, (done.output, done.exception)
    said = " ".join(done.stderr.split())
    assert f"{mine / 'report.md.j2'}, line 1: refused by the sandbox" in said, said
    assert not (tmp_path / "MARKER").exists() and not (tmp_path / "out" / "report.md").exists()


def _refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *options: str) -> str:
    """Run ``report`` on the minimal model, which must refuse before any work; return stderr."""
    import allegiance.workflow.reporting as reporting

    monkeypatch.setattr(reporting, "gather", lambda *a, **k: pytest.fail("worked"))
    model = tmp_path / "minimal.yaml"
    shutil.copy(FIXTURES / "models" / "minimal.yaml", model)
    done = runner.invoke(app, ["report", str(model), *options])
    assert done.exit_code == EXIT_BAD_INPUT, (done.output, done.exception)
    assert "Fix:" in done.stderr and "Traceback" not in done.output
    return " ".join(done.stderr.split())


def test_a_missing_templates_folder_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere"
    out = ("--out", str(tmp_path / "out"))
    said = _refused(tmp_path, monkeypatch, *out, "--templates", str(missing))
    assert f"{missing}: no such folder of templates. Fix:" in said, said
    assert not (tmp_path / "out").exists()


def test_a_template_syntax_error_is_refused_with_its_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "report.html.j2").write_text("<h1>{{ title }}</h1>\n\n{% for q in questions %}\n")
    out = ("--out", str(tmp_path / "out"))
    said = _refused(tmp_path, monkeypatch, *out, "--templates", str(mine))
    assert f"{mine / 'report.html.j2'}, line 3: not a valid Jinja2 template" in said, said


def test_report_out_an_existing_file_is_refused_and_the_file_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    for out in (taken, taken / "sub"):
        said = _refused(tmp_path, monkeypatch, "--out", str(out))
        assert f"{taken} is a file, not a folder" in said, said
    assert taken.read_text() == "mine\n"
