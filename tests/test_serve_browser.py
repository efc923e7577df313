"""The web page in headless Chromium: open it, add an item, see the forecast move, make a report."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from allegiance.posterior import FitSettings
from allegiance.serve import Secrets, create_app
from test_serve import SCRIPT, theatre_folder

SETTINGS = FitSettings(draws=300, tune=300, chains=2)
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome")
     if (found := shutil.which(name))),
    None,
)  # fmt: skip
LONG = 300_000  # ms: a first fit compiles the model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Secrets, Path]]:
    """A server on a free port of 127.0.0.1, in a thread, over one theatre."""
    uvicorn = pytest.importorskip("uvicorn")
    folder = theatre_folder(tmp_path / "models")
    secrets = Secrets()
    app = create_app(folder, secrets, settings=SETTINGS, author="desk")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 20
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", secrets, folder
    server.should_exit = True
    thread.join(timeout=30)


def _fill_item(page: Any, item_id: str, grade: str, fields: str, note: str = "") -> None:
    page.fill("input[name=id]", item_id)
    page.fill("input[name=kind]", "condition")
    page.fill("input[name=date]", "2020-01-10")
    page.fill("input[name=source]", "a defector's account")
    page.fill("input[name=grade]", grade)
    page.fill("textarea[name=fields]", fields)
    page.fill("input[name=note]", note)
    page.click("#add")


@pytest.mark.slow
def test_the_page_adds_an_item_moves_the_forecast_and_makes_a_report(served: Any) -> None:
    if CHROMIUM is None:
        pytest.skip("no Chromium found (install Debian's chromium to run the browser test)")
    sync_api = pytest.importorskip("playwright.sync_api")
    url, secrets, folder = served
    theatre = f"{url}/theatres/minimal"
    dialogs: list[str] = []
    with sync_api.sync_playwright() as p:
        flags = ["--no-sandbox", "--disable-gpu"]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page()

        def seen(dialog: Any) -> None:  # a script that ran would open one
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", seen)
        assert page.goto(url).status == 403  # no token, no page
        page.goto(f"{url}/?token={secrets.token}")
        assert page.url == f"{url}/"  # the token swapped for a cookie
        page.click("text=minimal")
        row = 'tr[data-question="splinter_leaves_12m"] td.p'
        assert page.inner_text(row) == "not forecast yet"

        page.click("#forecast")  # the first fit: progress shown, then back to the theatre
        page.wait_for_url(theatre, timeout=LONG)
        before = page.inner_text(row)
        assert before.endswith("%")

        _fill_item(page, "funded", "A1", "condition=funding\nvalue=true", note=SCRIPT)
        page.wait_for_url(theatre, timeout=LONG)
        after = page.inner_text(row)
        assert after.endswith("%") and after != before  # the forecast moved
        evidence = page.locator("#evidence tbody tr")
        assert SCRIPT in page.inner_text("#evidence") and not dialogs  # shown, never run
        count = evidence.count()

        _fill_item(page, "bad_grade", "Z9", "condition=funding\nvalue=true")
        refused = page.inner_text("#refused")
        assert "item.grade" in refused and "Fix:" in refused
        assert page.locator("#evidence tbody tr").count() == count  # nothing written

        page.click("#make-report")
        link = page.locator("#links a", has_text="report.html")
        link.wait_for(timeout=LONG)
        assert page.locator("#links a", has_text="report.pdf").count() == 1
        link.click()
        page.wait_for_url(f"{url}/files/minimal/report.html")
        reported = page.inner_text("#headline")
        page.goto(theatre)
        assert "the last report (" in page.inner_text("#headline")
        assert page.inner_text(row) in reported  # the page shows the forecast the report shows
        browser.close()
    assert (folder / "reports" / "minimal" / "report.pdf").is_file()
