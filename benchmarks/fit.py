"""Benchmark: plain ``pm.sample()`` against the package's fit path on the reference model.

Usage::

    /work/venv/bin/python benchmarks/fit.py            # full run (about 5 minutes on 2 cores)
    /work/venv/bin/python benchmarks/fit.py --quick    # smoke run, fewer draws
    /work/venv/bin/python benchmarks/fit.py --seed 7

Paths compared, on ``build_model(spec, data)`` of models/afghanistan_2020.yaml with its
evidence file (or no evidence when the file is missing):

plain
    ``pm.sample(draws=1000, tune=1000, chains=4, cores=2)`` with PyMC's own NUTS and its
    defaults otherwise (convergence checks included), progress bar off; the package's
    own tune and draws do not apply to it.
package
    ``allegiance.posterior.sampling(spec, evidence, FitSettings())``: nutpie, numba backend,
    low-rank mass matrix, the compiled model cached per process and fed new data with
    ``with_data``.

Every fit runs in a fresh subprocess (this script with the hidden ``--worker`` argument,
which prints one JSON line on stdout). Each path gets its own empty PyTensor cache:
``PYTENSOR_FLAGS=base_compiledir=<tmp>`` (``base_compiledir``, not just ``compiledir``,
because PyTensor 2.38 keeps its persistent numba cache in ``<base_compiledir>/numba``;
``NUMBA_CACHE_DIR`` is pointed at the same temporary directory too). Per path:

1. ``cold``: fit only, empty cache; whole subprocess wall time, spawn to exit.
2. ``warm``: fit only, fresh process, cache populated by the cold run.
3. ``analysis``: fresh process, warm cache; fits, then computes R-hat / ESS of every free
   variable and every forecast quantity (``allegiance.forecast.question_draws``), then
   fits again in the same process after one new evidence item (package: ``fit`` again,
   which must reuse the compiled model; plain: ``pm.set_data`` on the same model and
   ``pm.sample`` again, PyMC's own way to swap data without rebuilding).

Child timestamps are ``time.monotonic()`` (CLOCK_MONOTONIC, system-wide on Linux), so the
parent can subtract its own spawn stamp from them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import busy_cpu_s  # noqa: E402  (a sibling script module)

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "afghanistan_2020.yaml"
# A synthetic workload of the reference model's shape (the shipped evidence has no counts).
EVIDENCE = ROOT / "tests" / "fixtures" / "evidence" / "afghanistan_2020_synthetic.yaml"
MARK = "@@BENCH@@"
DEFAULT_SEED = 20200229  # FitSettings().seed; checked in the worker
FULL = {"draws": 1000, "tune": 1000}
QUICK = {"draws": 200, "tune": 200}
CHAINS, CORES = 4, 2


# --------------------------------------------------------------------------- worker


def _load() -> tuple[Any, Any]:
    from allegiance import load_spec
    from allegiance.evidence import EvidenceSet
    from allegiance.workflow import evidence_in_force

    spec = load_spec(MODEL)
    if not EVIDENCE.exists():
        return spec, EvidenceSet.of([])
    # As of the analysis date: no survival through today from the public hazard.
    chosen = evidence_in_force(spec, evidence_file=EVIDENCE, as_of=spec.analysis_date)
    return spec, chosen.evidence


def _new_evidence(spec: Any, evidence: Any) -> Any:
    """The evidence plus one new item: a count in the analysis month, or a condition."""
    from allegiance.evidence import EvidenceSet, Item, model_data

    month = spec.analysis_date.strftime("%Y-%m")
    if spec.channels:
        series, category = spec.channels[-1]
        seen = [
            i.fields["count"]
            for i in evidence.items
            if i.kind == "count"
            and (i.fields["series"], i.fields["category"]) == (series, category)
        ]
        count = int(round(sum(seen) / len(seen))) if seen else 10
        fields: dict[str, Any] = {
            "series": series,
            "category": category,
            "month": month,
            "count": count,
        }
        kind = "count"
    else:
        fields, kind = {"condition": spec.binary_conditions[0], "value": True}, "condition"
    item = Item(
        id="benchmark_new_item",
        kind=kind,
        date=spec.analysis_date + dt.timedelta(27),
        source="benchmark: synthetic new item",
        grade="C3",
        fields=fields,
    )
    new = EvidenceSet.of([*evidence.items, item])
    model_data(spec, new)  # validates: no contradiction
    return new


def _package_n(quick: bool) -> str:
    from allegiance.posterior import FitSettings

    if quick:
        return f"{QUICK['tune']} tune + {QUICK['draws']} draws"
    return f"{FitSettings().tune} tune + {FitSettings().draws} draws"


def _plain_fit(model: Any, settings: Any, quick: bool) -> tuple[Any, float]:
    """pm.sample on its own defaults (1000 tune + 1000 draws), whatever the package uses."""
    import pymc as pm

    n = QUICK if quick else FULL
    with model:
        idata = pm.sample(
            draws=n["draws"],
            tune=n["tune"],
            chains=CHAINS,
            cores=CORES,
            random_seed=settings.seed,
            progressbar=False,
        )
    return idata, float(idata.posterior.attrs["sampling_time"])


def _diagnostics(posterior: Any) -> dict[str, Any]:
    from allegiance.forecast import question_draws
    from allegiance.posterior import diagnose

    t0 = time.monotonic()
    free = diagnose(posterior.draws(), posterior.divergences)
    per_draw = question_draws(posterior)
    fc = diagnose(per_draw, posterior.divergences)
    return {
        "divergences": posterior.divergences,
        "max_rhat": max(free.max_rhat, fc.max_rhat),
        "free": {
            "max_rhat": free.max_rhat,
            "min_ess_bulk": free.min_ess_bulk,
            "min_ess_tail": free.min_ess_tail,
            "worst": free.worst,
        },
        "forecast": {
            "max_rhat": fc.max_rhat,
            "min_ess_bulk": fc.min_ess_bulk,
            "min_ess_tail": fc.min_ess_tail,
            "worst": fc.worst,
            "n_quantities": len(per_draw),
        },
        "diagnostics_s": time.monotonic() - t0,
    }


def worker(path: str, stage: str, quick: bool, seed: int) -> None:
    """Fit once in this process (and, for stage 'analysis', diagnose and refit); print JSON."""
    out: dict[str, Any] = {"path": path, "stage": stage, "t_start": time.monotonic()}
    import pymc as pm  # both paths import it up front; fit() would, lazily

    if path == "package":
        import nutpie

        import allegiance.posterior.sampling as post
    from allegiance.evidence import model_data
    from allegiance.model import build_model
    from allegiance.posterior import FitSettings, Posterior

    assert FitSettings().seed == DEFAULT_SEED
    settings = FitSettings(**(QUICK if quick else {}), seed=seed)
    assert (settings.chains, settings.cores) == (CHAINS, CORES)
    spec, evidence = _load()
    out["t_ready"] = time.monotonic()  # interpreter + imports + spec/evidence loaded

    if path == "package":
        compiles = []
        original = nutpie.compile_pymc_model

        def counting(*args: Any, **kwargs: Any) -> Any:
            compiles.append(1)
            return original(*args, **kwargs)

        nutpie.compile_pymc_model = counting  # count compiles; _compiled() looks it up per call
        t0 = time.monotonic()
        posterior = post.fit(spec, evidence, settings)
        sampling = posterior.fit_seconds
    else:
        t0 = time.monotonic()
        model = build_model(spec, model_data(spec, evidence))
        idata, sampling = _plain_fit(model, settings, quick)
        posterior = Posterior.from_inference_data(spec, evidence, idata, settings)
    out["t_fit_done"] = time.monotonic()
    out["fit_s"] = out["t_fit_done"] - t0
    out["sampling_s"] = sampling
    out["setup_s"] = out["fit_s"] - sampling
    out["divergences"] = posterior.divergences

    if stage == "analysis":
        out["first"] = _diagnostics(posterior)
        new = _new_evidence(spec, evidence)
        second: dict[str, Any] = {"new_items": len(new.items) - len(evidence.items)}
        if path == "package":
            before = dict(post._COMPILED)
            n_compiles = len(compiles)
            t0 = time.monotonic()
            posterior2 = post.fit(spec, new, settings)
            second["fit_s"] = time.monotonic() - t0
            second["sampling_s"] = posterior2.fit_seconds
            second["compiled_cache_before"] = len(before)
            second["compiled_cache_after"] = len(post._COMPILED)
            second["same_compiled_object"] = all(
                post._COMPILED.get(k) is v for k, v in before.items()
            )
            second["compile_calls"] = len(compiles) - n_compiles
        else:
            t0 = time.monotonic()
            with model:
                pm.set_data(model_data(spec, new).arrays())
            idata2, sampling2 = _plain_fit(model, settings, quick)
            second["fit_s"] = time.monotonic() - t0
            second["sampling_s"] = sampling2
            posterior2 = Posterior.from_inference_data(spec, new, idata2, settings)
        second["setup_s"] = second["fit_s"] - second["sampling_s"]
        second["evidence_sha256_differs"] = posterior2.evidence.sha256 != evidence.sha256
        second.update(_diagnostics(posterior2))
        out["second"] = second
    out["t_end"] = time.monotonic()
    sys.stdout.write(MARK + json.dumps(out) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- parent


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_worker(path: str, stage: str, cache: Path, quick: bool, seed: int) -> dict[str, Any]:
    """Run one worker subprocess with the given PyTensor cache; return its JSON plus wall times."""
    env = dict(os.environ)
    flags = [
        f
        for f in env.get("PYTENSOR_FLAGS", "").split(",")
        if f and not f.startswith(("base_compiledir=", "compiledir="))
    ]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={cache}"])
    env["NUMBA_CACHE_DIR"] = str(cache / "numba_cache_dir")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        path,
        "--stage",
        stage,
        "--seed",
        str(seed),
        *(["--quick"] if quick else []),
    ]
    print(f"  {path:8s} {stage:9s} ...", end="", file=sys.stderr, flush=True)
    busy0, own0 = busy_cpu_s(), _children_cpu_s()
    spawn = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    exit_ = time.monotonic()
    busy1, own1 = busy_cpu_s(), _children_cpu_s()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode or not lines:
        sys.stderr.write(
            f"\nworker failed (rc={proc.returncode})\n--- stdout\n{proc.stdout}"
            f"\n--- stderr\n{proc.stderr[-6000:]}\n"
        )
        raise SystemExit(1)
    res = json.loads(lines[-1][len(MARK) :])
    res["wall_s"] = exit_ - spawn  # spawn to exit
    res["to_posterior_s"] = res["t_fit_done"] - spawn
    res["ready_s"] = res["t_ready"] - spawn  # interpreter + imports + loading files
    res["after_fit_s"] = exit_ - res["t_fit_done"]
    res["worker_cpu_s"] = own1 - own0  # the worker and the sampler processes it waited for
    # Busy CPU of the machine not spent by the worker tree: other jobs (and this parent,
    # which sleeps). A few seconds is normal; tens of seconds mean the timings are disturbed.
    res["other_cpu_s"] = max(0.0, (busy1 - busy0) - res["worker_cpu_s"])
    for key in ("t_start", "t_ready", "t_fit_done", "t_end"):
        res.pop(key)
    print(
        f" {res['wall_s']:6.1f} s (its CPU {res['worker_cpu_s']:.0f} s, other processes' CPU "
        f"{res['other_cpu_s']:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return res


def _fmt(x: float | int | None, kind: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if kind == "s":
        return f"{x:.1f} s" if x >= 1.0 else f"{x:.2f} s"
    if kind == "int":
        return f"{int(x)}"
    if kind == "rhat":
        return f"{x:.4f}"
    if kind == "ratio":
        return f"{x:.2f}x" if x < 100 else ">100x"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}"


def _ratio(num: float, den: float) -> float | None:
    return num / den if den and not math.isnan(den) and not math.isnan(num) else None


def build_rows(r: dict[str, dict[str, Any]]) -> list[tuple[str, str, Any, Any, Any]]:
    """Table rows: (label, kind, plain, package, ratio)."""
    p, k = r["plain"], r["package"]
    rows: list[tuple[str, str, Any, Any, Any]] = []

    def times(label: str, a: float, b: float) -> None:
        rows.append((label, "s", a, b, _ratio(a, b)))  # plain / package

    def section(title: str) -> None:
        rows.append((title, "section", None, None, None))

    for stage, title in (
        ("cold", "COLD cache, fresh process (fit only)"),
        ("warm", "WARM cache, fresh process (fit only)"),
    ):
        a, b = p[stage], k[stage]
        section(title)
        times("  whole process, spawn -> exit", a["wall_s"], b["wall_s"])
        times("  whole process, spawn -> posterior", a["to_posterior_s"], b["to_posterior_s"])
        times("    python + imports + load files", a["ready_s"], b["ready_s"])
        times("    fit: build + compile + init", a["setup_s"], b["setup_s"])
        times("    fit: sampling (tune + draws)", a["sampling_s"], b["sampling_s"])
        times("  exit after fit", a["after_fit_s"], b["after_fit_s"])

    a2, b2 = p["analysis"]["second"], k["analysis"]["second"]
    section("Second fit in the same process, one new evidence item")
    times("  fit wall", a2["fit_s"], b2["fit_s"])
    times("    outside sampling (compile, init)", a2["setup_s"], b2["setup_s"])
    times("    sampling (tune + draws)", a2["sampling_s"], b2["sampling_s"])
    rows.append(("  nutpie compiles during the refit", "int", None, b2["compile_calls"], None))
    rows.append(
        (
            "  _COMPILED entries before -> after",
            "text",
            "-",
            f"{b2['compiled_cache_before']} -> {b2['compiled_cache_after']}",
            None,
        )
    )
    rows.append(("  divergences (refit)", "int", a2["divergences"], b2["divergences"], None))
    rows.append(("  max R-hat (refit)", "rhat", a2["max_rhat"], b2["max_rhat"], None))
    rows.append(
        (
            "  min ESS forecasts (refit)",
            "n",
            min(a2["forecast"]["min_ess_bulk"], a2["forecast"]["min_ess_tail"]),
            min(b2["forecast"]["min_ess_bulk"], b2["forecast"]["min_ess_tail"]),
            None,
        )
    )

    a1, b1 = p["analysis"]["first"], k["analysis"]["first"]
    section("Sampling quality (first fit; ratio package / plain)")
    for group, label in (("free", "free variables"), ("forecast", "forecast quantities")):
        for which in ("bulk", "tail"):
            x, y = a1[group][f"min_ess_{which}"], b1[group][f"min_ess_{which}"]
            rows.append((f"  min ESS {which}, {label}", "n", x, y, _ratio(y, x)))
    rows.append(("  divergences", "int", a1["divergences"], b1["divergences"], None))
    rows.append(("  max R-hat (free + forecasts)", "rhat", a1["max_rhat"], b1["max_rhat"], None))

    section("ESS/s of the slowest forecast quantity (ratio package / plain)")
    ess_p = min(a1["forecast"]["min_ess_bulk"], a1["forecast"]["min_ess_tail"])
    ess_k = min(b1["forecast"]["min_ess_bulk"], b1["forecast"]["min_ess_tail"])
    for label, sa, sb in (
        ("  / sampling s (analysis run)", p["analysis"]["sampling_s"], k["analysis"]["sampling_s"]),
        ("  / whole process s, cold", p["cold"]["wall_s"], k["cold"]["wall_s"]),
        ("  / whole process s, warm", p["warm"]["wall_s"], k["warm"]["wall_s"]),
        ("  / in-process refit s", a2["fit_s"], b2["fit_s"]),
    ):
        x, y = ess_p / sa, ess_k / sb
        rows.append((label, "n", x, y, _ratio(y, x)))
    return rows


def render(rows: list[tuple[str, str, Any, Any, Any]], header: str) -> str:
    """Format the rows as a fixed-width table."""
    cells: list[tuple[str, ...] | None] = []
    for _, kind, a, b, ratio in rows:
        if kind == "section":
            cells.append(None)
        elif kind == "text":
            cells.append(("-" if a is None else str(a), "-" if b is None else str(b), ""))
        else:
            cells.append((_fmt(a, kind), _fmt(b, kind), _fmt(ratio, "ratio") if ratio else ""))
    cols = ("plain pm.sample", "package fit", "ratio")
    widths = [max([len(c[i]) for c in cells if c] + [len(cols[i])]) + 2 for i in range(3)]
    w0 = max(len(r[0]) for r in rows if r[1] != "section") + 1
    out = [header, "", " " * w0 + "".join(f"{c:>{w}s}" for c, w in zip(cols, widths, strict=True))]
    out.append("-" * (w0 + sum(widths)))
    for (label, *_), row in zip(rows, cells, strict=True):
        if row is None:
            out.append(label)
        else:
            out.append(
                f"{label:{w0}s}" + "".join(f"{c:>{w}s}" for c, w in zip(row, widths, strict=True))
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; run as the orchestrating parent or as a worker."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['tune']} tune + {QUICK['draws']} draws per chain",
    )
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed for both paths")
    ap.add_argument("--worker", choices=("plain", "package"), help=argparse.SUPPRESS)
    ap.add_argument("--stage", choices=("cold", "warm", "analysis"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.stage, args.quick, args.seed)
        return

    started = time.monotonic()
    n = QUICK if args.quick else FULL
    print(
        f"benchmark: {MODEL.name}, evidence "
        f"{EVIDENCE.name if EVIDENCE.exists() else '(none)'}, {CHAINS} chains x "
        f"{n['tune']} tune + {n['draws']} draws, cores={CORES}, seed={args.seed}",
        file=sys.stderr,
    )
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="allegiance-bench-") as tmp:
        for path in ("plain", "package"):
            cache = Path(tmp) / path
            cache.mkdir()
            results[path] = {
                stage: run_worker(path, stage, cache, args.quick, args.seed)
                for stage in ("cold", "warm", "analysis")
            }
    total = time.monotonic() - started

    header = (
        f"{MODEL.name} + {EVIDENCE.name if EVIDENCE.exists() else 'no evidence'}: "
        f"plain pm.sample (PyMC NUTS) vs allegiance.posterior.sampling (nutpie)\n"
        f"{CHAINS} chains; plain: pm.sample defaults, {n['tune']} tune + {n['draws']} "
        f"draws; package: FitSettings() {_package_n(args.quick)}; cores={CORES}, "
        f"seed={args.seed}{', QUICK' if args.quick else ''}; "
        f"{os.cpu_count()} CPUs. Time ratios: plain / package."
    )
    rows = build_rows(results)
    print(render(rows, header))
    other = {f"{p}/{st}": results[p][st]["other_cpu_s"] for p in results for st in results[p]}
    print(
        f"\nwhole benchmark: {total:.0f} s. CPU seconds used by other processes during each "
        "worker (near 0 = quiet machine): " + ", ".join(f"{k} {v:.0f}" for k, v in other.items())
    )
    k2 = results["package"]["analysis"]["second"]
    verdict = (
        "no recompile"
        if k2["compile_calls"] == 0
        and k2["same_compiled_object"]
        and k2["compiled_cache_before"] == k2["compiled_cache_after"]
        else "RECOMPILED"
    )
    print(
        f"package refit after new evidence: {verdict} (nutpie.compile_pymc_model calls "
        f"{k2['compile_calls']}, _COMPILED {k2['compiled_cache_before']} -> "
        f"{k2['compiled_cache_after']}, same object {k2['same_compiled_object']})"
    )
    for path in ("plain", "package"):
        first = results[path]["analysis"]["first"]
        print(
            f"lowest ESS, {path}: free variable {first['free']['worst']}, forecast quantity "
            f"{first['forecast']['worst']} (of {first['forecast']['n_quantities']} "
            "forecast quantities: questions and condition probabilities)"
        )
    payload = {
        "model": MODEL.name,
        "evidence": EVIDENCE.name if EVIDENCE.exists() else None,
        "settings": {"chains": CHAINS, "cores": CORES, **n, "seed": args.seed, "quick": args.quick},
        "cpus": os.cpu_count(),
        "benchmark_s": total,
        "results": results,
        "table": [
            {"row": r[0].strip(), "plain": r[2], "package": r[3], "ratio": r[4]}
            for r in rows
            if r[1] != "section"
        ],
    }
    print("\nJSON:")
    print(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
