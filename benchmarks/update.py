"""Benchmark: fast updates (reweighting, replay) against refits on the reference model.

Usage::

    /work/venv/bin/python benchmarks/update.py            # full run (about 5 minutes on 2 cores)
    /work/venv/bin/python benchmarks/update.py --quick    # smoke run (about 3 minutes)

Model: models/afghanistan_2020.yaml with its shipped evidence file. Fits use
``FitSettings()`` (4 chains x 500 tune + 1000 draws, cores=2; ``--quick``: 300 + 500).
Everything in-process runs in this one process, after the model has been compiled
once (``allegiance.posterior.prepare``): compile time is excluded from in-process
times and printed separately. PyTensor's own cache is whatever this machine has (warm
after the first run on it).

(a) Latency of one weak item
    50 weak items (``--quick``: 10), added one at a time and cumulatively to the
    shipped evidence: reports with strength ``weakly`` on binary conditions and
    chance slots, alternating with monthly counts near each channel's historical
    rate for the months from the analysis date on. Timed per item, two ways:

    ``EvidenceSet.of`` + ``Updater.forecast`` on one ``Updater`` of the
    shipped-evidence fit. When the weights fail, ``Updater.forecast`` refits, and
    the refit is the base from then on (as in ``replay`` and on the command line).

    Baselines: a full refit in the same
    process (``fit`` + ``forecast``, compile cached; median of 3), and a refit in a
    fresh process (this script with the hidden ``--worker`` argument: imports,
    compile, ``fit``, ``forecast``; spawn to exit).
    The command line as a user runs it: in a temporary copy of the models folder
    (the model file and its evidence file only), a first ``allegiance forecast``
    fills the ledger and stores a posterior (setup, shown); then, per item,
    ``allegiance evidence add ...`` and ``allegiance forecast ...`` in fresh
    processes; against ``allegiance forecast --refit`` in a fresh process.

(b) As-of replay
    A synthetic, dated evidence stream for Dec 2019 - Nov 2021 (monthly clash
    counts and TTP, IMU and Taliban defector counts, monthly ``no_event`` items for
    each faction's ``leave`` hazard, the deal observed signed in 2020-02, a few weak
    reports), each item recorded a few days after its event; the shipped items are
    taken as recorded on the analysis date. 24 monthly forecasts (``--quick``: 6),
    as of the 10th of each month from Jan 2020, as recorded then, with
    ``allegiance.update.timeline`` (no base: it fits at the first date), against 24
    independent refits (``fit`` + ``forecast`` at each date, same process, compile
    cached, seed + 1 so that they are independent of the replay's fits). Agreement:
    per question, the largest absolute difference between the two forecasts over
    the dates, and the largest difference divided by its Monte Carlo standard error
    ``sd * sqrt(1/ESS_refit + 1/ESS_replay)``: ``sd`` and ``ESS_refit`` (the mean ESS)
    from the refit's per-draw probabilities, ``ESS_replay`` for a reweighted step the
    smallest ESS of any forecast quantity under its weights (``importance_ess``, see
    ``allegiance.update.weighted_ess``; conservative for the other questions), or the
    minimum ESS of the fit for a refitted step (as in tests/test_update.py).

The machine's busy CPU not spent by this benchmark is measured during each timed
section (from /proc/stat) and printed: near 0 means a quiet machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from _machine import busy_cpu_s  # noqa: E402  (a sibling script module)

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "afghanistan_2020.yaml"
# A synthetic workload of the reference model's shape (the shipped evidence has no counts).
EVIDENCE = ROOT / "tests" / "fixtures" / "evidence" / "afghanistan_2020_synthetic.yaml"
MARK = "@@BENCH@@"
FULL = {"items": 50, "cli_items": 5, "months": 24, "refits": 3, "fresh": 2, "cli_refits": 2}
QUICK = {"items": 10, "cli_items": 2, "months": 6, "refits": 1, "fresh": 1, "cli_refits": 1}
QUICK_FIT = {"draws": 500, "tune": 300}
Z = 4.0  # the tests' safety factor on Monte Carlo standard errors
TARGET_ITEM_S = 0.100
TARGET_ITEM_RATIO = 50.0
TARGET_REPLAY_RATIO = 5.0
UTC = dt.UTC

warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
warnings.filterwarnings("ignore", category=FutureWarning)


# --------------------------------------------------------------------------- evidence


def _load() -> tuple[Any, Any]:
    from allegiance import load_spec
    from allegiance.workflow import evidence_in_force

    spec = load_spec(MODEL)
    # As of the analysis date: no survival through today from the public hazard.
    chosen = evidence_in_force(spec, evidence_file=EVIDENCE, as_of=spec.analysis_date)
    return spec, chosen.evidence


def _month(start: dt.date, offset: int) -> dt.date:
    """First day of the month ``offset`` months after ``start``'s month."""
    m = start.month - 1 + offset
    return dt.date(start.year + m // 12, m % 12 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    return _month(first, 1) - dt.timedelta(days=1)


def _historical_rates(evidence: Any) -> dict[tuple[str, str], float]:
    """Mean monthly count of each channel in the shipped evidence."""
    seen: dict[tuple[str, str], list[int]] = {}
    for i in evidence.items:
        if i.kind == "count":
            seen.setdefault((i.fields["series"], i.fields["category"]), []).append(
                i.fields["count"]
            )
    return {k: float(np.mean(v)) for k, v in seen.items()}


REPORT_TARGETS = (
    "isk_capacity",
    "lobby.haqqani",
    "us_presence",
    "aligns_with_isk.north_shura",
    "funding_haqqani",
    "friction.eastern_fronts",
    "ceasefire_kabul",
    "joins_isk.haqqani",
    "appointment_friction",
    "lobby.north_shura",
    "funding_north_shura",
    "aligns_with_isk.eastern_fronts",
    "funding_eastern_fronts",
    "friction.haqqani",
    "deal_signed",
    "joins_isk.north_shura",
)


def weak_items(spec: Any, evidence: Any, n: int) -> list[Any]:
    """``n`` weak items: reports (strength 'weakly') alternating with counts near the rate.

    Counts cycle over the channels, one month after another from the analysis month;
    each is the channel's historical mean times a factor in [0.85, 1.15].
    """
    from allegiance.evidence import Item

    rng = np.random.default_rng(7)
    rates = _historical_rates(evidence)
    channels = list(spec.channels)
    out = []
    n_reports = n_counts = 0
    for i in range(n):
        if i % 2 == 0:
            target = REPORT_TARGETS[n_reports % len(REPORT_TARGETS)]
            when = spec.analysis_date + dt.timedelta(days=5 + 7 * n_reports)
            fields: dict[str, Any] = {
                "target": target,
                "favours": bool(n_reports % 3 != 2),
                "strength": "weakly",
            }
            out.append(
                Item(
                    f"weak_report_{n_reports:02d}",
                    "report",
                    when,
                    "benchmark: synthetic weak report",
                    "C3",
                    fields,
                )
            )
            n_reports += 1
        else:
            series, category = channels[n_counts % len(channels)]
            first = _month(spec.analysis_date, n_counts // len(channels))
            count = int(round(rates[(series, category)] * rng.uniform(0.85, 1.15)))
            fields = {
                "series": series,
                "category": category,
                "month": first.strftime("%Y-%m"),
                "count": count,
            }
            out.append(
                Item(
                    f"weak_count_{n_counts:02d}",
                    "count",
                    _month_end(first),
                    "benchmark: synthetic monthly count",
                    "C3",
                    fields,
                )
            )
            n_counts += 1
    return out


def stream(spec: Any, evidence: Any, months: int) -> list[Any]:
    """A plausible dated evidence stream from the analysis month on, with recording times.

    The shipped items are taken as recorded on the analysis date; every new item is
    recorded a few days after its event.
    """
    from dataclasses import replace

    from allegiance.evidence import Item

    rng = np.random.default_rng(2020)
    start = spec.analysis_date
    shipped = [
        replace(i, recorded_at=dt.datetime(start.year, start.month, start.day, tzinfo=UTC))
        for i in evidence.items
    ]
    deal = dt.date(2020, 2, 29)
    rates = _historical_rates(evidence)
    # Monthly rate multipliers once the deal is signed: more clashes, more Taliban defectors.
    after_deal = {("clashes", "taliban_isk"): 1.4, ("defectors_to_isk", "taliban"): 1.8}

    def stamp(when: dt.date, days: int) -> dt.datetime:
        d = when + dt.timedelta(days=days)
        return dt.datetime(d.year, d.month, d.day, 9, 0, tzinfo=UTC)

    new: list[Any] = []
    for m in range(months):
        first = _month(start, m)
        end = _month_end(first)
        for series, category in spec.channels:
            mean = rates[(series, category)]
            if end > deal:
                mean *= after_deal.get((series, category), 1.0)
            count = int(rng.negative_binomial(20, 20 / (20 + mean)))  # overdispersed around mean
            new.append(
                Item(
                    f"{category}_{first:%Y_%m}",
                    "count",
                    end,
                    "benchmark: synthetic monthly count",
                    "C3",
                    {
                        "series": series,
                        "category": category,
                        "month": f"{first:%Y-%m}",
                        "count": count,
                    },
                    recorded_at=stamp(end, 3 + int(rng.integers(0, 4))),
                )
            )
        through = _month(start, m + 1)
        for actor in spec.propensities["leave"].actors:
            new.append(
                Item(
                    f"no_leave_{actor}_{through:%Y_%m}",
                    "no_event",
                    through,
                    "benchmark: synthetic monitoring",
                    "B2",
                    {"hazard": "leave", "actor": actor, "through": through.isoformat()},
                    recorded_at=stamp(through, 2 + int(rng.integers(0, 4))),
                )
            )
    reports = [
        (dt.date(2020, 4, 14), "us_presence", False, "Withdrawal timetable reported on track."),
        (dt.date(2020, 7, 20), "isk_capacity", False, "IS-K reported short of funds."),
        (dt.date(2020, 10, 9), "lobby.haqqani", True, "Haqqani commanders shelter foreigners."),
        (dt.date(2021, 3, 5), "ceasefire_kabul", False, "Intra-Afghan talks stall."),
        (dt.date(2021, 6, 18), "aligns_with_isk.north_shura", False, "North Shura rebuffs IS-K."),
    ]
    for when, target, favours, note in reports:
        if when < _month(start, months):
            new.append(
                Item(
                    f"report_{target.replace('.', '_')}_{when:%Y_%m}",
                    "report",
                    when,
                    "benchmark: synthetic open reporting",
                    "C3",
                    {"target": target, "favours": favours, "strength": "weakly"},
                    note=note,
                    recorded_at=stamp(when, 4),
                )
            )
    if deal < _month(start, months):
        new.append(
            Item(
                "deal_signed_2020_02",
                "condition",
                deal,
                "benchmark: agreement text",
                "A1",
                {"condition": "deal_signed", "value": True},
                note="Signed in Doha.",
                recorded_at=stamp(deal, 2),
            )
        )
    return shipped + sorted(new, key=lambda i: (i.date, i.id))


def replay_dates(spec: Any, months: int) -> list[dt.date]:
    """The 10th of each month, from the month after the analysis date."""
    return [_month(spec.analysis_date, m + 1) + dt.timedelta(days=9) for m in range(months)]


# --------------------------------------------------------------------------- measuring


def _own_cpu_s() -> float:
    """CPU seconds of this process (all its threads) and its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


class Section:
    """Context manager: wall time of a section and the CPU other processes used meanwhile."""

    log: dict[str, float] = {}

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> Section:
        print(f"  {self.name} ...", end="", file=sys.stderr, flush=True)
        self.busy, self.own, self.t0 = busy_cpu_s(), _own_cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        other = (busy_cpu_s() - self.busy) - (_own_cpu_s() - self.own)
        Section.log[self.name] = max(0.0, other)
        print(
            f" {self.seconds:.1f} s (other processes' CPU {max(0.0, other):.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def _fit_settings(quick: bool, seed_offset: int = 0) -> Any:
    from dataclasses import replace

    from allegiance.posterior import FitSettings

    base = FitSettings(**(QUICK_FIT if quick else {}))
    return replace(base, seed=base.seed + seed_offset)


def _refit(spec: Any, evidence: Any, settings: Any) -> tuple[float, Any, Any]:
    """Fit + forecast; return the wall time, the posterior and the forecast."""
    from allegiance.forecast import forecast
    from allegiance.posterior import fit

    t0 = time.perf_counter()
    posterior = fit(spec, evidence, settings)
    result = forecast(posterior)
    return time.perf_counter() - t0, posterior, result


# --------------------------------------------------------------------------- worker


def worker(n_items: int, quick: bool) -> None:
    """Fresh-process refit: imports, compile, fit, forecast on shipped + weak items."""
    t_start = time.monotonic()
    from allegiance.evidence import EvidenceSet
    from allegiance.forecast import forecast
    from allegiance.posterior import fit, prepare

    spec, evidence = _load()
    evidence = EvidenceSet.of([*evidence.items, *weak_items(spec, evidence, n_items)])
    t_ready = time.monotonic()
    prepare(spec)
    t_compiled = time.monotonic()
    posterior = fit(spec, evidence, _fit_settings(quick))
    t_fit = time.monotonic()
    result = forecast(posterior)
    t_end = time.monotonic()
    out = {
        "t_start": t_start,
        "ready_s": t_ready - t_start,
        "compile_s": t_compiled - t_ready,
        "fit_s": t_fit - t_compiled,
        "forecast_s": t_end - t_fit,
        "t_forecast_done": t_end,
        "trustworthy": result.trustworthy,
    }
    sys.stdout.write(MARK + json.dumps(out) + "\n")
    sys.stdout.flush()


def run_worker(n_items: int, quick: bool) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--items",
        str(n_items),
        *(["--quick"] if quick else []),
    ]
    spawn = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    exit_ = time.monotonic()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not lines:
        sys.stderr.write(f"\nworker failed (rc={proc.returncode})\n{proc.stderr[-4000:]}\n")
        raise SystemExit(1)
    res = json.loads(lines[-1][len(MARK) :])
    res["wall_s"] = exit_ - spawn
    res["to_forecast_s"] = res.pop("t_forecast_done") - spawn
    res["spawn_to_start_s"] = res.pop("t_start") - spawn
    return res


# --------------------------------------------------------------------------- (a)


def _item_row(it: Any, seconds: float, result: Any) -> dict[str, Any]:
    return {
        "id": it.id,
        "kind": it.kind,
        "seconds": seconds,
        "method": result.method,
        "pareto_k": result.provenance.get("pareto_k", math.nan),
        "importance_ess": result.provenance.get("importance_ess", math.nan),
        "trustworthy": result.trustworthy,
    }


def part_a(spec: Any, evidence: Any, n: dict[str, int], quick: bool) -> dict[str, Any]:
    from allegiance.evidence import EvidenceSet
    from allegiance.posterior import fit, prepare
    from allegiance.update import Updater

    out: dict[str, Any] = {}
    settings = _fit_settings(quick)
    with Section("compile (once per process; excluded below)") as s:
        prepare(spec)
    out["compile_s"] = s.seconds
    with Section("base fit on the shipped evidence") as s:
        base = fit(spec, evidence, settings)
    with Section("Updater of the base fit (once)") as s:
        updater = Updater(base, settings)
    out["updater_setup_s"] = s.seconds
    items = weak_items(spec, evidence, n["items"])

    rows = []
    with Section(f"{len(items)} weak items, one Updater, Updater.forecast"):
        for i, it in enumerate(items):
            t0 = time.perf_counter()
            ev = EvidenceSet.of([*evidence.items, *items[: i + 1]])
            result = updater.forecast(ev)
            rows.append(_item_row(it, time.perf_counter() - t0, result))
    out["items"] = rows
    del updater

    refits = []
    with Section(f"{n['refits']} in-process refits (fit + forecast)"):
        for j in range(n["refits"]):
            upto = len(items) * (j + 1) // n["refits"]
            ev = EvidenceSet.of([*evidence.items, *items[:upto]])
            refits.append(_refit(spec, ev, settings)[0])
    out["refit_s"] = refits
    fresh = []
    with Section(f"{n['fresh']} refits in a fresh process"):
        for _ in range(n["fresh"]):
            fresh.append(run_worker(n["items"], quick))
    out["fresh"] = fresh
    return out


def _cli(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    exe = Path(sys.executable).with_name("allegiance")
    cmd = [str(exe) if exe.exists() else (shutil.which("allegiance") or "allegiance"), *args]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - t0
    if proc.returncode not in (0, 3):
        sys.stderr.write(
            f"\n{' '.join(cmd)} failed (rc={proc.returncode})\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}\n"
        )
        raise SystemExit(1)
    return seconds, proc


def _method_line(proc: subprocess.CompletedProcess[str]) -> str:
    return next((ln for ln in proc.stdout.splitlines() if ln.startswith("method:")), "?")


def part_a_cli(spec: Any, evidence: Any, n: dict[str, int], quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"items": [], "refit": []}
    env = {**os.environ, "COLUMNS": "200"}
    fit_args = (
        [] if not quick else ["--draws", str(QUICK_FIT["draws"]), "--tune", str(QUICK_FIT["tune"])]
    )
    items = weak_items(spec, evidence, n["cli_items"] * 2)[: n["cli_items"]]
    with tempfile.TemporaryDirectory(prefix="allegiance-bench-") as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        model = models / MODEL.name
        shutil.copy(MODEL, model)
        shutil.copy(EVIDENCE, models / f"{MODEL.stem}.evidence.yaml")  # imported on first use
        with Section("CLI setup: first forecast (imports ledger, fits, stores)"):
            seconds, proc = _cli(["forecast", str(model), *fit_args], env)
        out["setup_s"], out["setup_method"] = seconds, _method_line(proc)
        with Section(f"CLI: {len(items)} x (evidence add + forecast), fresh processes"):
            for it in items:
                fields = [
                    x
                    for k, v in it.fields.items()
                    for x in ("-f", f"{k}={str(v).lower() if isinstance(v, bool) else v}")
                ]
                add_s, _ = _cli(
                    [
                        "evidence",
                        "add",
                        str(model),
                        "--id",
                        it.id,
                        "--kind",
                        it.kind,
                        "--date",
                        it.date.isoformat(),
                        "--source",
                        it.source,
                        "--grade",
                        it.grade,
                        *fields,
                    ],
                    env,
                )
                fc_s, proc = _cli(["forecast", str(model), *fit_args], env)
                out["items"].append(
                    {
                        "id": it.id,
                        "add_s": add_s,
                        "forecast_s": fc_s,
                        "method": _method_line(proc),
                        "rc": proc.returncode,
                    }
                )
        with Section(f"CLI: {n['cli_refits']} x forecast --refit, fresh process"):
            for _ in range(n["cli_refits"]):
                seconds, proc = _cli(["forecast", str(model), "--refit", *fit_args], env)
                out["refit"].append(
                    {"seconds": seconds, "method": _method_line(proc), "rc": proc.returncode}
                )
    return out


# --------------------------------------------------------------------------- (b)


def part_b(spec: Any, evidence: Any, n: dict[str, int], quick: bool) -> dict[str, Any]:
    import arviz as az

    from allegiance.evidence import EvidenceSet, in_force
    from allegiance.evidence.outcomes import with_time_passing
    from allegiance.forecast import question_draws
    from allegiance.update import replay

    items = stream(spec, evidence, n["months"])
    dates = replay_dates(spec, n["months"])
    settings = _fit_settings(quick)
    with Section(f"replay, {len(dates)} monthly dates") as s:
        steps = replay(spec, items, dates, settings, as_recorded=True)
    replay_s = s.seconds
    independent = []
    with Section(f"{len(dates)} independent refits (fit + forecast)") as s:
        for when in dates:
            record = in_force(items, when, as_recorded=True)
            ev = EvidenceSet.of(
                with_time_passing(spec, record, when), as_of=when, as_recorded=True
            )  # what replay forecasts from: the record as of that day, time passing included
            seconds, posterior, result = _refit(spec, ev, _fit_settings(quick, seed_offset=1))
            independent.append((seconds, posterior, result))
    refits_s = s.seconds

    questions = list(spec.questions)
    per_question = {q: {"max_abs_diff": 0.0, "max_z": 0.0, "at": ""} for q in questions}
    per_date = []
    for step, (_, posterior, result) in zip(steps, independent, strict=True):
        assert step.forecast.provenance["evidence_sha256"] == posterior.evidence.sha256
        draws = question_draws(posterior)
        d = step.forecast.diagnostics
        ess_replay = (
            step.forecast.provenance["importance_ess"]
            if step.method == "reweighted"
            else min(d.min_ess_bulk, d.min_ess_tail)
        )
        zs = {}
        for a, b in zip(step.forecast.questions, result.questions, strict=True):
            if a.probability is None or b.probability is None:  # past its horizon
                assert a.probability is b.probability, a.id
                continue
            if a.resolved:  # shown as its outcome by both
                assert (a.resolved, a.probability) == (b.resolved, b.probability), a.id
                continue
            x = draws[a.id]
            ess_ref = float(az.ess(x, method="mean")) if np.ptp(x) > 0 else math.inf
            se = float(np.std(x)) * math.sqrt(1.0 / ess_ref + 1.0 / ess_replay)
            diff = abs(a.probability - b.probability)
            z = diff / se if se > 0 else (0.0 if diff < 1e-12 else math.inf)
            zs[a.id] = z
            pq = per_question[a.id]
            if diff > pq["max_abs_diff"]:
                pq["max_abs_diff"] = diff
            if z > pq["max_z"]:
                pq["max_z"], pq["at"] = z, step.date.isoformat()
        per_date.append(
            {
                "date": step.date.isoformat(),
                "method": step.method,
                "pareto_k": step.pareto_k,
                "replay_s": step.seconds,
                "refit_s": independent[len(per_date)][0],
                "items_in_force": step.forecast.provenance["evidence_items"],
                "ess_replay": ess_replay,
                "trustworthy": step.forecast.trustworthy,
                "trustworthy_refit": result.trustworthy,
                "max_z": max(zs.values(), default=0.0),
            }
        )
    return {
        "replay_s": replay_s,
        "refits_s": refits_s,
        "per_question": per_question,
        "per_date": per_date,
        "n_items_new": len(items) - len(evidence.items),
        "dates": [d.isoformat() for d in dates],
    }


# --------------------------------------------------------------------------- table


def _t(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1.0 else f"{x:.1f} s"


def _x(x: float | None) -> str:
    if x is None or math.isnan(x) or math.isinf(x):
        return "-"
    return f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


Row = tuple[str, str, str, str, str, str]


def build_rows(
    a: dict[str, Any], cli: dict[str, Any], b: dict[str, Any], n: dict[str, int]
) -> tuple[list[Row | str], dict[str, Any]]:
    rows: list[Row | str] = []
    verdicts: dict[str, Any] = {}
    refit = float(np.median(a["refit_s"]))
    fresh = float(np.median([f["wall_s"] for f in a["fresh"]]))
    rows.append(
        f"(a) ONE WEAK ITEM, in process: {len(a['items'])} items absorbed one at a time, "
        "cumulatively, vs refit (fit + forecast, median of "
        f"{len(a['refit_s'])})"
    )
    lat = np.array([r["seconds"] for r in a["items"]])
    med, p90, mx = float(np.median(lat)), float(np.quantile(lat, 0.9)), float(lat.max())
    ok_med, ok_ratio = med <= TARGET_ITEM_S, refit / med >= TARGET_ITEM_RATIO
    verdicts["item_median_le_100ms"] = ok_med
    verdicts["item_ratio_ge_50x"] = ok_ratio
    rows.append(" one Updater of the shipped fit, Updater.forecast (a refit becomes the base)")
    rows.append(
        (
            "  per item, median",
            _t(med),
            _t(refit),
            _x(refit / med),
            f"<= {TARGET_ITEM_S * 1000:.0f} ms",
            _verdict(ok_med),
        )
    )
    rows.append(
        (
            "  refit / median item",
            "",
            "",
            _x(refit / med),
            f">= {TARGET_ITEM_RATIO:.0f}x",
            _verdict(ok_ratio),
        )
    )
    rows.append(("  per item, p90", _t(p90), _t(refit), _x(refit / p90), "", ""))
    rows.append(("  per item, max", _t(mx), _t(refit), _x(refit / mx), "", ""))
    rows.append(
        (
            "  per item, mean",
            _t(float(lat.mean())),
            _t(refit),
            _x(refit / float(lat.mean())),
            "",
            "",
        )
    )
    n_rw = sum(r["method"] == "reweighted" for r in a["items"])
    first_refit = next(
        (i + 1 for i, r in enumerate(a["items"]) if r["method"] != "reweighted"), None
    )
    rows.append(("  items reweighted / refitted", f"{n_rw} / {len(lat) - n_rw}", "", "", "", ""))
    rows.append(("  first refit at item", str(first_refit or "-"), "", "", "", ""))
    for kind in ("report", "count"):
        sub = np.array(
            [r["seconds"] for r in a["items"] if r["kind"] == kind and r["method"] == "reweighted"]
        )
        if sub.size:
            rows.append(
                (
                    f"  reweighted {kind}s (n={sub.size}): median / max",
                    f"{_t(float(np.median(sub)))} / {_t(float(sub.max()))}",
                    "",
                    "",
                    "",
                    "",
                )
            )
    ks = [r["pareto_k"] for r in a["items"] if r["method"] == "reweighted"]
    ess = [r["importance_ess"] for r in a["items"] if r["method"] == "reweighted"]
    rows.append(
        (
            "  reweighted: max Pareto k / min importance ESS",
            f"{max(ks):.2f} / {min(ess):.0f}" if ks else "-",
            "",
            "",
            "",
            "",
        )
    )
    rows.append(" baselines")
    rows.append(
        (
            "  in-process refits, min / max",
            "",
            f"{_t(min(a['refit_s']))} / {_t(max(a['refit_s']))}",
            "",
            "",
            "",
        )
    )
    rows.append(("  compile, once per process (excluded)", "", _t(a["compile_s"]), "", "", ""))
    rows.append(("  Updater of a fit, once (excluded)", _t(a["updater_setup_s"]), "", "", "", ""))
    rows.append(
        (
            "  fresh-process refit, spawn -> exit (vs median item)",
            _t(med),
            _t(fresh),
            _x(fresh / med),
            "",
            "",
        )
    )
    f0 = a["fresh"][0]
    rows.append(
        (
            "    start + load / import pymc + compile / fit / forecast",
            "",
            f"{_t(f0['ready_s'] + f0['spawn_to_start_s'])} / {_t(f0['compile_s'])} / "
            f"{_t(f0['fit_s'])} / {_t(f0['forecast_s'])}",
            "",
            "",
            "",
        )
    )

    adds = np.array([r["add_s"] for r in cli["items"]])
    fcs = np.array([r["forecast_s"] for r in cli["items"]])
    both = adds + fcs
    cli_refit = float(np.median([r["seconds"] for r in cli["refit"]]))
    rows.append(
        f"(a) COMMAND LINE, fresh processes: {len(adds)} items x (allegiance evidence "
        "add + allegiance forecast) vs allegiance forecast --refit"
    )
    rows.append(("  evidence add, median", _t(float(np.median(adds))), "", "", "", ""))
    rows.append(
        (
            "  forecast (reweighted), median",
            _t(float(np.median(fcs))),
            _t(cli_refit),
            _x(cli_refit / float(np.median(fcs))),
            "",
            "",
        )
    )
    rows.append(
        (
            "  add + forecast, median",
            _t(float(np.median(both))),
            _t(cli_refit),
            _x(cli_refit / float(np.median(both))),
            "",
            "",
        )
    )
    rows.append(
        (
            "  add + forecast, max",
            _t(float(both.max())),
            _t(cli_refit),
            _x(cli_refit / float(both.max())),
            "",
            "",
        )
    )
    n_cli_rw = sum("reweighted" in r["method"] for r in cli["items"])
    rows.append(("  forecasts reweighted", f"{n_cli_rw} / {len(fcs)}", "", "", "", ""))
    rows.append(("  setup: first forecast (fit + store)", "", _t(cli["setup_s"]), "", "", ""))

    steps = b["per_date"]
    fits = sum(s["method"] == "mcmc" for s in steps)
    ratio = b["refits_s"] / b["replay_s"]
    ok_replay = ratio >= TARGET_REPLAY_RATIO
    verdicts["replay_ratio_ge_5x"] = ok_replay
    rows.append(
        f"(b) AS-OF REPLAY: {len(steps)} monthly forecasts as recorded "
        f"({b['dates'][0]} .. {b['dates'][-1]}), replay() vs independent refits"
    )
    rows.append(
        (
            "  total",
            _t(b["replay_s"]),
            _t(b["refits_s"]),
            _x(ratio),
            f">= {TARGET_REPLAY_RATIO:.0f}x",
            _verdict(ok_replay),
        )
    )
    rows.append(
        (
            "  fits (replay: 1 initial + refits)",
            f"{fits} (1 + {fits - 1})",
            f"{len(steps)}",
            "",
            "",
            "",
        )
    )
    rw_s = [s["replay_s"] for s in steps if s["method"] == "reweighted"]
    fit_s = [s["replay_s"] for s in steps if s["method"] == "mcmc"]
    rows.append(
        (
            "  per reweighted date, median",
            _t(float(np.median(rw_s))) if rw_s else "-",
            _t(float(np.median([s["refit_s"] for s in steps]))),
            "",
            "",
            "",
        )
    )
    rows.append(
        (
            "  per refitted date, median",
            _t(float(np.median(fit_s))) if fit_s else "-",
            "",
            "",
            "",
            "",
        )
    )
    ks = [s["pareto_k"] for s in steps if s["method"] == "reweighted"]
    rows.append(
        ("  max Pareto k (reweighted dates)", f"{max(ks):.2f}" if ks else "-", "", "", "", "")
    )
    refused = [f"{s['pareto_k']:.2f}" for s in steps[1:] if s["method"] == "mcmc"]
    rows.append(("  Pareto k that forced each refit", ", ".join(refused) or "-", "", "", "", ""))
    rows.append(
        (
            "  dates untrustworthy (replay / refits)",
            f"{sum(not s['trustworthy'] for s in steps)}",
            f"{sum(not s['trustworthy_refit'] for s in steps)}",
            "",
            "",
            "",
        )
    )
    rows.append(
        "(b) AGREEMENT per question over all dates: max |replay - refit| (probability) "
        "and max |difference| / Monte Carlo SE"
    )
    zmax = 0.0
    for q, pq in b["per_question"].items():
        zmax = max(zmax, pq["max_z"])
        rows.append(
            (
                f"  {q}",
                f"{pq['max_abs_diff']:.4f}",
                "",
                f"{pq['max_z']:.2f} SE",
                f"< {Z:.0f} SE",
                "ok" if pq["max_z"] < Z else "OVER",
            )
        )
    verdicts["max_z"] = zmax
    return rows, verdicts


def render(rows: list[Row | str], header: str) -> str:
    cols = ("fast path", "refit", "ratio", "target", "result")
    cells = [r for r in rows if not isinstance(r, str)]
    w0 = max(len(r[0]) for r in cells) + 1
    widths = [max([len(r[i + 1]) for r in cells] + [len(cols[i])]) + 2 for i in range(5)]
    out = [header, "", " " * w0 + "".join(f"{c:>{w}s}" for c, w in zip(cols, widths, strict=True))]
    out.append("-" * (w0 + sum(widths)))
    for r in rows:
        if isinstance(r, str):
            out.append(r)
        else:
            out.append(
                f"{r[0]:{w0}s}" + "".join(f"{c:>{w}s}" for c, w in zip(r[1:], widths, strict=True))
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; run the benchmark, or a fresh-process refit worker."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: fewer items, months and draws")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--items", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.items, args.quick)
        return
    n = QUICK if args.quick else FULL
    started = time.monotonic()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    settings = _fit_settings(args.quick)
    print(
        f"benchmark: {MODEL.name} + {EVIDENCE.name}, {settings.chains} chains x "
        f"{settings.tune} tune + {settings.draws} draws, cores={settings.cores}; "
        f"load average at start {' '.join(load)}",
        file=sys.stderr,
    )
    spec, evidence = _load()
    a = part_a(spec, evidence, n, args.quick)
    b = part_b(spec, evidence, n, args.quick)
    cli = part_a_cli(spec, evidence, n, args.quick)
    total = time.monotonic() - started

    header = (
        f"{MODEL.name} + {EVIDENCE.name} ({len(evidence.items)} items): fast updates "
        f"vs refits. Fits: {settings.chains} chains x {settings.tune} tune + "
        f"{settings.draws} draws, cores={settings.cores}"
        f"{', QUICK' if args.quick else ''}; {os.cpu_count()} CPUs.\n"
        "In-process times exclude the one-off compile (cached per process); fresh-process "
        "and command-line times include everything, spawn to exit.\n"
        "ratio = refit time / fast-path time."
    )
    from dataclasses import asdict

    rows, verdicts = build_rows(a, cli, b, n)
    print(render(rows, header))
    print(
        f"\nwhole benchmark: {total:.0f} s. CPU seconds used by other processes during each "
        "section (near 0 = quiet machine): "
        + ", ".join(f"{k.split(' (')[0]} {v:.0f}" for k, v in Section.log.items())
    )
    print(
        "targets: "
        + ", ".join(
            f"{k} {_verdict(v) if isinstance(v, bool) else f'{v:.2f}'}" for k, v in verdicts.items()
        )
    )
    payload = {
        "model": MODEL.name,
        "evidence": EVIDENCE.name,
        "quick": args.quick,
        "settings": asdict(settings),
        "sizes": n,
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "benchmark_s": total,
        "other_cpu_s": Section.log,
        "verdicts": verdicts,
        "a_in_process": a,
        "a_command_line": cli,
        "b_replay": b,
        "table": [list(r) for r in rows if not isinstance(r, str)],
    }
    print("\nJSON:")
    print(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
