"""The local web page: its guards (token, CSRF, confined files, bind), forms and jobs."""

from __future__ import annotations

import html
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from allegiance.cli import app as cli
from allegiance.ledger import Ledger, default_url
from allegiance.posterior import FitSettings
from allegiance.serve import RefusedError, Secrets, check_bind, confined, create_app
from allegiance.serve.jobs import Job
from allegiance.spec import load_spec
from conftest import FIXTURES

SETTINGS = FitSettings(draws=300, tune=300, chains=2)
SCRIPT = "<script>alert('x')</script>"


def theatre_folder(folder: Path) -> Path:
    """A folder of one theatre (the minimal model and its shipped evidence)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "models" / "minimal.yaml", folder / "minimal.yaml")
    shutil.copy(FIXTURES / "evidence" / "minimal.yaml", folder / "minimal.evidence.yaml")
    return folder


def files_in(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


class Started:
    """Stands in for the server's jobs: records what would have run."""

    def __init__(self) -> None:
        self.titles: list[str] = []

    def start(self, theatre: str, title: str, work: Any) -> Job:
        self.titles.append(title)
        return Job(str(len(self.titles)), theatre, title)

    def get(self, job_id: str) -> None:
        return None


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return theatre_folder(tmp_path / "models")


@pytest.fixture
def site(folder: Path) -> Iterator[tuple[TestClient, Secrets, Started]]:
    secrets = Secrets()
    app = create_app(folder, secrets, settings=SETTINGS, author="desk")
    started = Started()
    app.state.site.jobs = started
    with TestClient(app) as client:
        client.get(f"/?token={secrets.token}")
        yield client, secrets, started


def item_form(csrf: str, **changes: str) -> dict[str, str]:
    fields = "series=defectors\ncategory=rank_and_file\nmonth=2019-11\ncount=7"
    form = {"csrf": csrf, "id": "defectors_2019_11", "kind": "count", "date": "2019-11-30",
            "source": "local reporting", "grade": "C3", "note": "", "fields": fields}  # fmt: skip
    return form | changes


def test_the_token_is_exchanged_once_for_a_strict_cookie(folder: Path) -> None:
    secrets = Secrets()
    client = TestClient(create_app(folder, secrets), follow_redirects=False)
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    client.cookies.set("allegiance_token", "wrong")
    assert client.get("/theatres/minimal").status_code == 403
    client.cookies.clear()
    given = client.get(f"/theatres/minimal?token={secrets.token}")
    assert given.status_code == 303 and given.headers["location"] == "/theatres/minimal"
    cookie = given.headers["set-cookie"]
    assert secrets.token in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and 'href="/theatres/minimal"' in page.text
    elsewhere = client.get(f"http://testserver//example.org/?token={secrets.token}")
    assert elsewhere.headers["location"] == "/example.org/"  # on this server, not another
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_two_servers_have_different_tokens() -> None:
    a, b = Secrets(), Secrets()
    assert a.token != b.token and a.csrf != b.csrf and len(a.token) >= 40
    assert not a.knows(b.token) and not a.knows("") and not a.knows(None)


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    site: Any, folder: Path
) -> None:
    client, secrets, started = site
    before = files_in(folder)
    for form in (item_form(""), item_form("forged"), {k: v for k, v in item_form("").items()
                                                      if k != "csrf"}):  # fmt: skip
        done = client.post("/theatres/minimal/items", data=form)
        assert done.status_code == 400 and "CSRF" in done.text
    for action in ("forecast", "report"):
        assert client.post(f"/theatres/minimal/{action}", data={"csrf": "x"}).status_code == 400
    assert files_in(folder) == before and started.titles == []


def test_pages_read_without_writing_a_file(site: Any, folder: Path) -> None:
    client, secrets, _ = site
    before = files_in(folder)
    for path in ("/", "/theatres/minimal", "/theatres/minimal/scenarios",
                 "/theatres/minimal/questions/splinter_leaves_12m"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
    assert "No ledger yet" in client.get("/theatres/minimal").text
    asked = client.get("/theatres/minimal/questions/splinter_leaves_12m").text
    assert "no forecast of this question recorded yet" in asked
    assert "no_deal" in client.get("/theatres/minimal/scenarios").text
    assert files_in(folder) == before


def test_an_item_added_is_recorded_escaped_and_forecast(site: Any, folder: Path) -> None:
    client, secrets, started = site
    done = client.post(
        "/theatres/minimal/items", data=item_form(secrets.csrf, note=SCRIPT), follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/jobs/1"
    assert started.titles == ["Forecast of minimal"]
    spec = load_spec(folder / "minimal.yaml")
    with Ledger(default_url(spec), spec) as book:
        added = book.get("defectors_2019_11")
    assert added is not None and added.fields["count"] == 7 and added.author == "desk"
    assert added.note == SCRIPT
    page = client.get("/theatres/minimal").text
    assert SCRIPT not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_an_item_added_without_an_author_is_the_login_name_s(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from allegiance.serve.pages import add_item

    monkeypatch.setenv("LOGNAME", "field.analyst")
    spec = load_spec(folder / "minimal.yaml")
    form = item_form("")
    assert add_item(spec, form, "").author == "field.analyst"
    second = add_item(spec, form | {"id": "named", "author": " Hana "}, "desk")
    assert second.author == "Hana"


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"grade": "Z9"}, "item.grade"),
        ({"fields": "series=defectors\ncategory=rank_and_file\nmonth=2019-11\ncount=-3"},
         "item.count"),
        ({"fields": "series=nope\ncategory=rank_and_file\nmonth=2019-11\ncount=3"}, "item.series"),
        ({"fields": "recorded_at=2020-01-01"}, "item.recorded_at"),
        ({"id": "deal_signed"}, "deal_signed"),
    ],
)  # fmt: skip
def test_a_refused_item_names_the_key_and_fix_like_the_command_line(
    site: Any, folder: Path, changes: dict[str, str], key: str
) -> None:
    client, secrets, started = site
    spec = load_spec(folder / "minimal.yaml")
    client.post("/theatres/minimal/items", data=item_form(secrets.csrf, id="first"))
    with Ledger(default_url(spec), spec) as book:
        before = book.items()
    form = item_form(secrets.csrf, **changes)
    page = client.post("/theatres/minimal/items", data=form)
    assert page.status_code == 400
    shown = re.search(r'<p class="refused" id="refused">(.*?)</p>', page.text, re.S)
    assert shown is not None and key in shown.group(1) and "Fix:" in shown.group(1)
    assert f'value="{form["id"]}"' in page.text  # the form keeps what was typed
    with Ledger(default_url(spec), spec) as book:
        assert book.items() == before
    assert started.titles == ["Forecast of minimal"]  # the first item's only
    args = ["evidence", "add", str(folder / "minimal.yaml")]
    for name in ("id", "kind", "date", "source", "grade"):
        args += [f"--{name}", form[name]]
    for line in form["fields"].splitlines():
        args += ["-f", line]
    said = CliRunner().invoke(cli, args)
    assert said.exit_code == 2
    from_cli = " ".join(said.stderr.split()).removeprefix("error: ")
    from_page = " ".join(shown.group(1).split()).removeprefix("Refused, nothing was written: ")
    assert html.unescape(from_page) == from_cli.replace("command line", "web form")


def test_report_files_only_are_served_and_nothing_outside(site: Any, folder: Path) -> None:
    client, _, _ = site
    reports = folder / "reports" / "minimal"
    reports.mkdir(parents=True)
    (reports / "report.html").write_text("<p>report</p>")
    (folder / "secret.txt").write_text("SECRET-CONTENT")
    (reports / "escape.html").symlink_to(folder / "secret.txt")
    assert client.get("/files/minimal/report.html").text == "<p>report</p>"
    for path in ("/files/minimal/%2E%2E/%2E%2E/minimal.yaml", "/files/minimal/..%2Fsecret.txt",
                 "/files/minimal/escape.html", "/files/minimal/%2Fetc%2Fpasswd",
                 "/files/nope/report.html", "/files/minimal/missing.html"):  # fmt: skip
        refused = client.get(path)
        assert refused.status_code in (400, 404), path
        assert "SECRET-CONTENT" not in refused.text and "schema_version" not in refused.text


def test_confined_refuses_dot_dot_absolute_and_symlinks_out(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.html").write_text("a")
    (tmp_path / "outside.txt").write_text("x")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    (root / "inner.html").symlink_to(root / "sub" / "a.html")
    assert confined(root, "sub/a.html") == (root / "sub" / "a.html").resolve()
    assert confined(root, "inner.html") == (root / "sub" / "a.html").resolve()
    outside = str(tmp_path / "outside.txt")
    for bad in ("../outside.txt", "sub/../../outside.txt", "link.txt", outside, "", "sub", "x"):
        with pytest.raises(RefusedError):
            confined(root, bad)


def test_a_public_address_needs_host_and_a_token() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        check_bind(host, "", host_given=False)  # this machine only: no refusal
    with pytest.raises(RefusedError, match="only when given with --host"):
        check_bind("0.0.0.0", "t" * 40, host_given=False)
    with pytest.raises(RefusedError, match="needs a token"):
        check_bind("192.168.1.5", "", host_given=True)
    check_bind("0.0.0.0", "t" * 40, host_given=True)


def test_the_serve_command_refuses_a_missing_folder(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["serve", str(tmp_path / "nope")])
    assert done.exit_code == 2 and "no such folder" in done.stderr


def test_the_serve_command_prints_the_url_with_its_token(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    bound: list[tuple[str, int]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **_: bound.append((host, port)))
    done = CliRunner().invoke(cli, ["serve", str(folder), "--port", "8123"])
    assert done.exit_code == 0, done.output
    token = re.search(r"open: http://127\.0\.0\.1:8123/\?token=([\w-]{40,})$", done.stdout, re.M)
    assert token is not None and bound == [("127.0.0.1", 8123)]
    again = CliRunner().invoke(cli, ["serve", str(folder), "--host", "::1"])
    assert "http://[::1]:8765/?token=" in again.stdout and token.group(1) not in again.stdout


def test_scenarios_are_run_by_name_and_unknown_names_refused(site: Any) -> None:
    client, secrets, started = site
    ran = client.post(
        "/theatres/minimal/scenarios",
        data={"csrf": secrets.csrf, "name": "no_deal"},
        follow_redirects=False,
    )
    assert ran.status_code == 303 and started.titles == ["Scenario no_deal of minimal"]
    unknown = client.post("/theatres/minimal/scenarios", data={"csrf": secrets.csrf, "name": "x"})
    assert unknown.status_code == 404 and "no_deal, funded" in unknown.text
    assert client.get("/theatres/elsewhere").status_code == 404
    assert client.get("/theatres/minimal/questions/nope").status_code == 404
    assert started.titles == ["Scenario no_deal of minimal"]


@pytest.mark.slow
def test_a_report_job_writes_the_report_and_links_it(tmp_path: Path) -> None:
    folder = theatre_folder(tmp_path / "models")
    secrets = Secrets()
    with TestClient(create_app(folder, secrets, settings=SETTINGS)) as client:
        client.get(f"/?token={secrets.token}")
        made = client.post("/theatres/minimal/report", data={"csrf": secrets.csrf})
        assert made.status_code == 200 and "Report of minimal" in made.text
        job_id = made.url.path.rsplit("/", 1)[-1]
        state = wait(client, job_id)
        assert state["error"] == "" and "writing the report" in " ".join(state["lines"])
        hrefs = {link["label"]: link["href"] for link in state["links"]}
        assert hrefs["report.html"] == "/files/minimal/report.html"
        html = client.get(hrefs["report.html"])
        assert html.status_code == 200 and '<table id="headline">' in html.text
        page = client.get("/theatres/minimal").text
        assert "the last report (" in page and 'href="/files/minimal/report.html"' in page
        assert not re.search(r'class="num p">not forecast yet', page)
        ran = client.post(
            "/theatres/minimal/scenarios", data={"csrf": secrets.csrf, "name": "no_deal"}
        )
        state = wait(client, ran.url.path.rsplit("/", 1)[-1])
        rows = {row["question"]: row for row in state["rows"]}
        assert state["error"] == "" and set(rows) == {"splinter_leaves_12m", "defections_double_6m"}
        assert re.fullmatch(r"[+-]\d+ pp", rows["splinter_leaves_12m"]["change"])
    assert (folder / "reports" / "minimal" / "report.html").is_file()
    assert os.path.exists(folder / "minimal.ledger.sqlite")


def wait(client: TestClient, job_id: str, seconds: float = 300) -> dict[str, Any]:
    """Poll a job until it is done."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state: dict[str, Any] = client.get(f"/jobs/{job_id}.json").json()
        if state["done"]:
            return state
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} not done in {seconds} s")


def test_a_model_file_that_does_not_load_is_listed_with_its_error(site: Any, folder: Path) -> None:
    client, _, _ = site
    shutil.copy(FIXTURES / "models" / "wrong_range_reversed.yaml", folder / "broken.yaml")
    index = client.get("/")
    assert index.status_code == 200 and 'href="/theatres/minimal"' in index.text
    row = re.search(r"<td>broken</td><td colspan=\"3\" class=\"refused\">(.*?)</td>", index.text)
    assert row is not None and "broken.yaml" in row.group(1) and "Fix:" in row.group(1)
    page = client.get("/theatres/broken")
    assert page.status_code == 400 and "broken.yaml" in page.text


def test_only_the_serve_command_imports_the_web_page_and_only_when_run() -> None:
    import ast
    import subprocess
    import sys

    package = Path(__file__).resolve().parents[1] / "src" / "allegiance"
    importers = set()
    for path in package.rglob("*.py"):
        if "serve" in path.relative_to(package).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            )  # fmt: skip
            if any(n == "allegiance.serve" or n.startswith("allegiance.serve.") for n in names):
                importers.add(str(path.relative_to(package)))
    assert importers == {"cli/serve.py"}
    code = "import sys, allegiance.cli; print(sorted({'starlette', 'uvicorn'} & set(sys.modules)))"
    run = [sys.executable, "-c", code]
    loaded = subprocess.run(run, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"  # the other commands start without the web stack


def other_theatre(folder: Path) -> None:
    """A second theatre in the folder: the minimal model under another id, no evidence shipped."""
    minimal = (folder / "minimal.yaml").read_text()
    (folder / "other.yaml").write_text(minimal.replace("id: minimal", "id: other", 1))


def test_with_a_ledger_url_every_theatre_reads_and_writes_that_one_database(
    tmp_path: Path,
) -> None:
    folder = theatre_folder(tmp_path / "models")
    other_theatre(folder)
    (tmp_path / "team").mkdir()
    shared = tmp_path / "team" / "ledger.sqlite"
    url = f"sqlite:///{shared}"
    secrets = Secrets()
    app = create_app(folder, secrets, settings=SETTINGS, author="desk", ledger=url)
    app.state.site.jobs = started = Started()
    with TestClient(app) as client:
        client.get(f"/?token={secrets.token}")
        for key in ("minimal", "other"):
            page = client.get(f"/theatres/{key}")
            assert page.status_code == 200 and "No ledger yet" in page.text
        assert not shared.exists()  # reading made no database
        form = item_form(secrets.csrf, note="east")
        done = client.post("/theatres/minimal/items", data=form, follow_redirects=False)
        assert done.status_code == 303 and started.titles == ["Forecast of minimal"]
        before = shared.read_bytes()
        assert "No ledger yet" in client.get("/theatres/other").text
        assert shared.read_bytes() == before  # nor claimed the other theatre in it
        form = item_form(secrets.csrf, note="west")
        assert client.post("/theatres/other/items", data=form, follow_redirects=False).is_redirect
        minimal, other = client.get("/theatres/minimal").text, client.get("/theatres/other").text
    for key, note in (("minimal", "east"), ("other", "west")):
        spec = load_spec(folder / f"{key}.yaml")
        with Ledger(url, spec) as book:
            added = book.get("defectors_2019_11")
            assert added is not None and added.note == note and added.author == "desk"
            assert book.theatres() == ["minimal", "other"]
            held = {i.id for i in book.items()}
        assert ("spoils_reported" in held) == (key == "minimal")  # shipped evidence, if any
    assert "<td>east</td>" in minimal and "<td>spoils_reported</td>" in minimal
    assert "<td>west</td>" in other and "spoils_reported" not in other
    assert not list(folder.glob("*.ledger.sqlite"))


def test_a_ledger_is_opened_for_reading_only_where_it_holds_the_theatre(tmp_path: Path) -> None:
    folder = theatre_folder(tmp_path / "models")
    other_theatre(folder)
    minimal, other = load_spec(folder / "minimal.yaml"), load_spec(folder / "other.yaml")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert Ledger.kept(url, minimal) is None and not (tmp_path / "ledger.sqlite").exists()
    with Ledger(url, minimal):
        pass
    book = Ledger.kept(url, minimal)
    assert book is not None
    with book:
        assert book.theatres() == ["minimal"]
    assert Ledger.kept(url, other) is None
    with Ledger(url, minimal) as book:
        assert book.theatres() == ["minimal"]  # the other theatre was not claimed


def test_the_serve_command_gives_its_ledger_to_every_page(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    done = CliRunner().invoke(cli, ["serve", str(folder), "--ledger", url])
    assert done.exit_code == 0, done.output
    assert served[0].state.site.ledger == url


def effects_shown(page: str) -> tuple[str, dict[str, dict[str, str]], dict[str, str]]:
    """The effects' table: its caption, item -> question -> cell, and item -> title (its note)."""
    table = re.search(r'<table id="effects">(.*?)</table>', page, re.S)
    assert table is not None, page
    caption = re.search(r"<caption>(.*?)</caption>", table.group(1), re.S)
    heads = re.findall(r"<th>(.*?)</th>", table.group(1))[1:]
    rows = re.findall(
        r'<tr data-item="([^"]*)"><td title="([^"]*)">.*?</td>(.*?)</tr>', table.group(1)
    )
    cells = {i: dict(zip(heads, re.findall(r'<td class="num">(.*?)</td>', c), strict=True))
             for i, _, c in rows}  # fmt: skip
    assert caption is not None and heads
    return caption.group(1), cells, {i: title for i, title, _ in rows}


def same_points(cell: str, change: float | None) -> bool:
    """Whether a cell shows a change of probability, to its 0.1 pp."""
    if change is None or change == 0.0:
        return cell == ("–" if change is None else "0")
    return abs(float(cell.replace("±", "")) - change * 100) <= 0.05 + 1e-9


@pytest.mark.slow
def test_each_new_item_s_effect_is_shown_as_the_report_computes_it(
    tmp_path: Path, fitted: Any
) -> None:
    from allegiance.evidence import EvidenceSet
    from allegiance.posterior import load_posterior
    from allegiance.update import Updater
    from allegiance.update.attribution import effect_matrix
    from allegiance.workflow import FitStore, evidence_in_force, forecast_and_record, run_forecast
    from allegiance.workflow.scenarios import updater_of

    folder = theatre_folder(tmp_path / "models")
    url = f"sqlite:///{tmp_path / 'team.sqlite'}"
    spec, store = load_spec(folder / "minimal.yaml"), FitStore(load_spec(folder / "minimal.yaml"))
    chosen = evidence_in_force(spec, ledger_url=url)
    then, book = chosen.evidence, chosen.ledger
    fitted(spec, then, SETTINGS).save(store.path(then, SETTINGS))
    assert book is not None
    with book:  # the last report, from a stored fit of the evidence then
        forecast_and_record(spec, then, SETTINGS, book, report=True, exact=True)
    secrets = Secrets()
    app = create_app(folder, secrets, settings=SETTINGS, ledger=url)
    app.state.site.jobs = Started()
    with TestClient(app) as client:
        client.get(f"/?token={secrets.token}")
        assert "nothing new since the last report" in client.get("/theatres/minimal").text
        funding = "condition=funding\nvalue=true"
        for form in (item_form(secrets.csrf, note=SCRIPT),
                     item_form(secrets.csrf, id="funding_found", kind="condition", fields=funding,
                               date="2019-12-28", note='"quoted" & <b>bold</b>')):  # fmt: skip
            assert client.post("/theatres/minimal/items", data=form, follow_redirects=False)
        with Ledger(url, spec) as book:
            now = book.evidence()
        new = ["defectors_2019_11", "funding_found"]
        before = files_in(tmp_path)
        page = client.get("/theatres/minimal").text
        caption, shown, titles = effects_shown(page)
        # Reweighted from the report's fit: as the Updater gives it, with and without each item.
        assert "reweighted to this evidence" in caption and list(shown) == new
        assert files_in(tmp_path) == before  # nothing written, the ledger included
        updater = Updater(load_posterior(store.path(then, SETTINGS), spec), SETTINGS)
        forecast = updater.forecast(now, allow_refit=False).questions
        full, compared = {q.id: q.probability for q in forecast}, 0
        for iid in new:
            kept = [i for i in now.items if i.id != iid]
            left = EvidenceSet.of(kept, as_of=now.as_of, as_recorded=now.as_recorded)
            without = updater.forecast(left, allow_refit=False)
            for q in without.questions:
                if q.id in shown[iid] and shown[iid][q.id] != "0":  # "0": cannot reach it
                    assert same_points(shown[iid][q.id], full[q.id] - q.probability), (iid, q.id)
                    compared += 1
        assert compared >= 2 and set(shown[new[0]]) == {
            q.id for q in forecast if q.probability is not None and not q.resolved
        }
        assert (
            SCRIPT not in page
            and titles[new[0]] == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        )
        assert titles["funding_found"] == "&#34;quoted&#34; &amp; &lt;b&gt;bold&lt;/b&gt;"
        # A fit of exactly this evidence: the report's own numbers.
        fitted(spec, now, SETTINGS).save(store.path(now, SETTINGS))
        before = files_in(tmp_path)
        caption, shown, _ = effects_shown(client.get("/theatres/minimal").text)
        assert files_in(tmp_path) == before
        assert "from the stored fit of exactly this evidence" in caption
        report = effect_matrix(updater_of(run_forecast(spec, now, SETTINGS, exact=True)), now)
        for iid in new:
            for qid, cell in shown[iid].items():
                assert same_points(cell, report[iid][qid]), (iid, qid, cell, report[iid][qid])
    other = create_app(folder, secrets, settings=FitSettings(draws=300, tune=300, chains=2, seed=7),
                       ledger=url)  # fmt: skip
    with TestClient(other) as client:
        client.get(f"/?token={secrets.token}")
        page = client.get("/theatres/minimal").text
    assert 'id="effects"' not in page and 'id="effects-later"' in page
    assert "appears after <em>Forecast now</em>" in page
