"""The web page's routes (Starlette): pages read, forms checked, long work started as jobs.

Every request needs the server's token (a cookie once the printed URL was
opened); every POST, the server's CSRF token. GET never writes a file. The
report's files are served from ``<folder>/reports/<theatre>/`` and nothing
else is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from allegiance.errors import AllegianceError
from allegiance.posterior import FitSettings
from allegiance.serve import pages
from allegiance.serve.jobs import Job, Jobs, forecast_work, report_work, scenario_work
from allegiance.serve.security import COOKIE, NotFoundError, RefusedError, Secrets, confined
from allegiance.spec import ModelSpec

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token never leaves in a Referer
    "Cache-Control": "no-store",
}
REPORT_FILES = ("report.html", "report.pdf", "report.md", "forecasts.csv", "forecasts.json")
STATIC = Path(__file__).resolve().parent / "static"


class Guard(BaseHTTPMiddleware):
    """The token: exchanged once for a cookie (then a redirect), checked on every request."""

    def __init__(self, app: Any, secrets: Secrets) -> None:
        super().__init__(app)
        self.secrets = secrets

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Let a request with the token through; refuse the rest."""
        given = request.query_params.get("token")
        if given is not None and self.secrets.knows(given):
            here = "/" + request.url.path.lstrip("/")  # never //host: another site
            out: Response = RedirectResponse(here, status_code=303)
            out.set_cookie(COOKIE, self.secrets.token, httponly=True, samesite="strict")
        elif self.secrets.knows(request.cookies.get(COOKIE)):
            out = await call_next(request)
        else:
            out = PlainTextResponse(
                "Forbidden: open the URL with the token that `allegiance serve` printed.",
                status_code=403,
            )
        out.headers.update(HEADERS)
        return out


class Site:
    """The pages of one folder of theatres, and the jobs started from them."""

    def __init__(
        self,
        folder: Path,
        secrets: Secrets,
        settings: FitSettings,
        author: str = "",
        ledger: str | None = None,
    ) -> None:
        self.folder = folder.resolve()
        self.reports = self.folder / "reports"
        self.secrets, self.settings, self.author = secrets, settings, author
        self.ledger = ledger  # every theatre's; None: each model's SQLite file beside it
        self.jobs = Jobs()
        self.env = Environment(loader=PackageLoader("allegiance.serve"), autoescape=True)

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a template (autoescaped: analyst text is shown, never run)."""
        text = self.env.get_template(name).render(csrf=self.secrets.csrf, **context)
        return HTMLResponse(text, status_code=status)

    def spec(self, key: str) -> ModelSpec:
        """Return a theatre's model by key (never a path from the request)."""
        if not pages.is_theatre(self.folder, key):
            raise NotFoundError(f"no theatre {key!r} in {self.folder}.")
        found = pages.theatre(self.folder, key)
        if found.spec is None:
            raise RefusedError(found.error)
        return found.spec

    async def form(self, request: Request) -> dict[str, str]:
        """Return a POST's form, refused unless it carries the server's CSRF token."""
        form = await request.form()
        if not self.secrets.form_made_here(form.get("csrf")):
            raise RefusedError("this form was not made by this server (CSRF token missing).")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def report_links(self, key: str) -> list[tuple[str, str]]:
        """Return the links to a theatre's last report's files, if one was made."""
        where = self.reports / key
        return [(n, f"/files/{key}/{n}") for n in REPORT_FILES if (where / n).is_file()]

    async def index(self, request: Request) -> Response:
        """Show the theatres of the folder."""
        found = await run_in_threadpool(pages.theatres, self.folder)
        return self.page("index.html", folder=self.folder, theatres=list(found.values()))

    async def theatre(
        self,
        request: Request,
        refused: str = "",
        form: dict[str, str] | None = None,
    ) -> Response:
        """Show a theatre: its headline table, the evidence in force, the form to add an item."""
        key = request.path_params["key"]
        spec = await run_in_threadpool(self.spec, key)
        head = await run_in_threadpool(pages.headline, spec, self.ledger, self.settings)
        blank = {name: "" for name in (*pages.OPTIONS, "fields", "author")}
        return self.page(
            "theatre.html",
            400 if refused else 200,
            key=key, spec=spec, head=head, refused=refused, report_links=self.report_links(key),
            form={**blank, "author": self.author, **(form or {})},
        )  # fmt: skip

    def started(self, key: str, title: str, work: Callable[[Job], None]) -> Response:
        """Start a job of a theatre and send the browser to its page."""
        job = self.jobs.start(key, title, work)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def add(self, request: Request) -> Response:
        """Append an item (refused as ``evidence add`` refuses it), then forecast."""
        key = request.path_params["key"]
        form = await self.form(request)
        spec = await run_in_threadpool(self.spec, key)
        try:
            await run_in_threadpool(pages.add_item, spec, form, self.author, self.ledger)
        except AllegianceError as exc:
            return await self.theatre(request, refused=str(exc), form=form)
        work = forecast_work(spec, self.settings, self.ledger)
        return self.started(key, f"Forecast of {key}", work)

    async def forecast(self, request: Request) -> Response:
        """Start a forecast of a theatre, recorded in its ledger."""
        key = request.path_params["key"]
        await self.form(request)
        spec = await run_in_threadpool(self.spec, key)
        work = forecast_work(spec, self.settings, self.ledger)
        return self.started(key, f"Forecast of {key}", work)

    async def report(self, request: Request) -> Response:
        """Start a theatre's report, written to ``reports/<theatre>/``."""
        key = request.path_params["key"]
        await self.form(request)
        spec = await run_in_threadpool(self.spec, key)
        work = report_work(spec, self.settings, self.reports / key, f"/files/{key}", self.ledger)
        return self.started(key, f"Report of {key}", work)

    async def question(self, request: Request) -> Response:
        """Show a question's trajectory: the report's own figure."""
        key, qid = request.path_params["key"], request.path_params["qid"]
        spec = await run_in_threadpool(self.spec, key)
        if qid not in spec.questions:
            raise NotFoundError(f"no question {qid!r} in {key}.")
        image, alt = await run_in_threadpool(pages.trajectory_figure, spec, qid, self.ledger)
        return self.page("question.html", key=key, qid=qid, question=spec.questions[qid],
                         image=image, alt=alt)  # fmt: skip

    async def scenarios(self, request: Request) -> Response:
        """Show a theatre's named scenarios, each with a button to run it."""
        key = request.path_params["key"]
        spec = await run_in_threadpool(self.spec, key)
        named = [
            {"id": s.id, "text": s.text, "mode": s.mode,
             "setting": ", ".join(f"{c}={'true' if v else 'false'}" for c, v in s.setting.items())}
            for s in spec.scenarios.values()
        ]  # fmt: skip
        return self.page("scenarios.html", key=key, spec=spec, scenarios=named)

    async def run_scenario(self, request: Request) -> Response:
        """Start a named scenario of a theatre."""
        key = request.path_params["key"]
        form = await self.form(request)
        spec = await run_in_threadpool(self.spec, key)
        chosen = spec.scenarios.get(form.get("name", ""))
        if chosen is None:
            known = ", ".join(spec.scenarios) or "none"
            raise NotFoundError(f"no scenario {form.get('name', '')!r} (the model's: {known}).")
        setting = dict(chosen.setting)
        work = scenario_work(spec, self.settings, setting, chosen.mode, self.ledger)
        return self.started(key, f"Scenario {chosen.id} of {key}", work)

    async def job(self, request: Request) -> Response:
        """Show a job's page: its progress, polled."""
        job = self.jobs.get(request.path_params["job"])
        if job is None:
            raise NotFoundError("no such job (jobs last as long as the server).")
        follow = "1" if job.title.startswith("Forecast") else "0"
        return self.page("job.html", job=job, follow=follow)

    async def job_state(self, request: Request) -> Response:
        """Return a job's state, as JSON."""
        job = self.jobs.get(request.path_params["job"])
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(job.state())

    async def file(self, request: Request) -> Response:
        """Return a report's file, from inside the reports' folder only."""
        key, name = request.path_params["key"], request.path_params["path"]
        if not pages.is_theatre(self.folder, key):
            raise NotFoundError(f"no theatre {key!r}.")
        return FileResponse(confined(self.reports / key, name))

    async def script(self, request: Request) -> Response:
        """Return the job page's script."""
        return FileResponse(STATIC / "job.js", media_type="text/javascript")


def _refusing(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Show a refusal (an unknown theatre, a bad form) as a page, status 400 or 404."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except RefusedError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 400
            return PlainTextResponse(f"Refused: {exc}", status_code=status)

    return endpoint


def _lifespan(jobs: Jobs) -> Callable[[Starlette], Any]:
    """Return the app's lifespan: at shutdown, the jobs stop (the running one ends)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        jobs.close()

    return lifespan


def create_app(
    folder: Path,
    secrets: Secrets | None = None,
    *,
    settings: FitSettings | None = None,
    author: str = "",
    ledger: str | None = None,
) -> Starlette:
    """Return the web app over a folder of theatres (model files).

    Parameters
    ----------
    folder : Path
        The model files' folder; reports are written to ``folder/reports/``.
    secrets : Secrets, optional
        The token and CSRF token (new random ones by default).
    settings : FitSettings, optional
        Settings of a fit, when one is needed.
    author : str
        Who records the items added (a form may name another).
    ledger : str, optional
        The ledger URL of every theatre (one database holds them all);
        default: each model's SQLite file beside it.
    """
    site = Site(folder, secrets or Secrets(), settings or FitSettings(), author, ledger)
    get, post = ["GET"], ["POST"]
    routes = [
        Route("/", _refusing(site.index), methods=get),
        Route("/theatres/{key}", _refusing(site.theatre), methods=get),
        Route("/theatres/{key}/items", _refusing(site.add), methods=post),
        Route("/theatres/{key}/forecast", _refusing(site.forecast), methods=post),
        Route("/theatres/{key}/report", _refusing(site.report), methods=post),
        Route("/theatres/{key}/questions/{qid}", _refusing(site.question), methods=get),
        Route("/theatres/{key}/scenarios", _refusing(site.scenarios), methods=get),
        Route("/theatres/{key}/scenarios", _refusing(site.run_scenario), methods=post),
        Route("/jobs/{job}.json", _refusing(site.job_state), methods=get),
        Route("/jobs/{job}", _refusing(site.job), methods=get),
        Route("/files/{key}/{path:path}", _refusing(site.file), methods=get),
        Route("/static/job.js", _refusing(site.script), methods=get),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, secrets=site.secrets)],
        lifespan=_lifespan(site.jobs),
    )
    app.state.site = site
    return app
