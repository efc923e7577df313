"""Long work in the background: a forecast, a report or a scenario, its progress polled.

One worker thread runs the jobs in turn (one fit at a time, as one command
line would), each saying what it is doing as it starts a step; the page
polls the job and shows its lines and the time it has run.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allegiance.errors import AllegianceError
from allegiance.posterior import FitSettings
from allegiance.spec import ModelSpec

Say = Callable[[str], None]


@dataclass
class Job:
    """A job's state: its lines of progress, whether it is done, and what it made."""

    id: str
    theatre: str
    title: str
    lines: list[str] = field(default_factory=list)
    done: bool = False
    error: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def say(self, line: str) -> None:
        """Add a line of progress."""
        self.lines.append(line)

    def state(self) -> dict[str, Any]:
        """Return the job as JSON for the page's poll."""
        end = self.ended if self.ended is not None else time.monotonic()
        return {
            "id": self.id,
            "title": self.title,
            "lines": list(self.lines),
            "done": self.done,
            "error": self.error,
            "links": [{"label": label, "href": href} for label, href in self.links],
            "rows": list(self.rows),
            "seconds": round(end - self.started, 1),
        }


class Jobs:
    """The server's jobs, run one after another on a worker thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="allegiance-job")
        self._jobs: dict[str, Job] = {}
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, theatre: str, title: str, work: Callable[[Job], None]) -> Job:
        """Queue ``work`` (which fills the job) and return the job at once."""
        with self._lock:
            waiting = any(not j.done for j in self._jobs.values())
            job = Job(str(next(self._count)), theatre, title)
            self._jobs[job.id] = job
        job.say("waiting for the jobs before it" if waiting else "started")
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        """Return a job by id, if there is one."""
        return self._jobs.get(job_id)

    def latest(self, theatre: str) -> Job | None:
        """Return the theatre's latest job, if any."""
        found = [j for j in self._jobs.values() if j.theatre == theatre]
        return found[-1] if found else None

    @staticmethod
    def _run(job: Job, work: Callable[[Job], None]) -> None:
        try:
            work(job)
        except AllegianceError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug: shown on the page, the server goes on
            job.error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            job.ended = time.monotonic()
            job.done = True

    def close(self) -> None:
        """Let the running job end; start no other."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def forecast_work(
    spec: ModelSpec, settings: FitSettings, ledger: str | None = None
) -> Callable[[Job], None]:
    """Return the work of a forecast recorded in the ledger (a stored fit reweighted if it can)."""
    from allegiance.serve.pages import headline
    from allegiance.workflow import evidence_in_force, forecast_and_record

    def work(job: Job) -> None:
        job.say("reading the evidence in force")
        chosen = evidence_in_force(spec, ledger_url=ledger)
        for line in chosen.notes:
            job.say(line)
        job.say("forecasting: a stored fit reweighted, or a new fit (a minute or more)")
        try:
            out = forecast_and_record(spec, chosen.evidence, settings, chosen.ledger)
        finally:
            if chosen.ledger is not None:
                chosen.ledger.close()
        for line in out.notes:
            job.say(line)
        job.say("what each item new since the last report did to each forecast")
        headline(spec, ledger, settings)  # kept in memory: the theatre's page, next, reads it
        job.say(f"done: {out.forecast.method}")

    return work


def report_work(
    spec: ModelSpec, settings: FitSettings, out: Path, href: str, ledger: str | None = None
) -> Callable[[Job], None]:
    """Return the work of a report written to ``out`` (served under ``href``)."""
    from allegiance.report import write_report
    from allegiance.workflow.reporting import gather

    def work(job: Job) -> None:
        data = gather(
            spec, ledger_url=ledger, settings=settings, since_report=True, progress=job.say
        )
        job.say("writing the report (Markdown, HTML, PDF, figures)")
        skipped: list[str] = []
        files = write_report(data, out, notes=skipped)
        for line in [*data.notes, *skipped]:
            job.say(line)
        names = {p.name for p in files}
        job.links = [(name, f"{href}/{name}") for name in ("report.html", "report.pdf",
                     "report.md", "forecasts.csv", "forecasts.json") if name in names]  # fmt: skip
        job.say("done")

    return work


def scenario_work(
    spec: ModelSpec,
    settings: FitSettings,
    setting: dict[str, bool],
    mode: str,
    ledger: str | None = None,
) -> Callable[[Job], None]:
    """Return the work of a scenario: each forecast as it stands and under it."""
    from allegiance.workflow import evidence_in_force
    from allegiance.workflow.scenarios import run_scenario

    def work(job: Job) -> None:
        job.say("reading the evidence in force")
        chosen = evidence_in_force(spec, ledger_url=ledger)
        if chosen.ledger is not None:
            chosen.ledger.close()
        job.say("forecasting from a fit of exactly this evidence (a new fit takes a minute)")
        base, under = run_scenario(spec, chosen.evidence, setting, mode=mode, settings=settings)
        for a, b in zip(base.questions, under.questions, strict=True):
            change = (
                ""
                if a.probability is None or b.probability is None
                else f"{(b.probability - a.probability) * 100:+.0f} pp"
            )
            now, then = _p(a.probability, a.resolved), _p(b.probability, b.resolved)
            job.rows.append({"question": a.id, "now": now, "scenario": then, "change": change})
        job.say("done")

    return work


def _p(p: float | None, resolved: str) -> str:
    return resolved or ("–" if p is None else f"{p:.0%}")
