"""Benchmark: fitting big models, 8 to 12 binary conditions and 150+ evidence items.

Usage::

    .venv/bin/python benchmarks/scale.py            # B = 8, 10, 12 x target_accept 0.8, 0.9, 0.95
    .venv/bin/python benchmarks/scale.py --quick    # B = 8, 12 x 0.8, 0.95; 300 tune + 500 draws
    .venv/bin/python benchmarks/scale.py --b 12 --target-accept 0.8 --tune 1000

For each B a synthetic model file is written to a temporary folder: B binary
conditions (a quarter of them near-necessary for one faction's departure), 3
levels, a ``leave`` hazard and an ``aligns`` chance over 6 factions, two count
series with 6 categories in all, and effects that let each binary condition reach
2 to 4 targets (no row reached by more than 5 binary conditions). Its evidence is
simulated from the model itself (the true parameters are one draw of the priors,
the true configuration one draw of the condition probabilities, pushed through
``allegiance.model.terms``): monthly counts of every channel for 18 months of
history and 6 forward months, the factions' departures or quarterly ``no_event``
items, graded reports on conditions and chance outcomes, one observed condition
and one observed level, about 170 items in all.

Each B is fitted in a fresh worker process (this script with a hidden
``--worker``): compile once (``prepare``), then ``fit`` + ``forecast`` for each
target_accept, with ``FitSettings`` (4 chains, 2 cores) otherwise. The table gives
sampling seconds (``Posterior.fit_seconds``), compile seconds, divergences, R-hat
and ESS of the free variables and of the forecasts (``forecast().diagnostics``),
leapfrog steps per draw and the worker's peak RSS so far. Where divergences
occur, the free variables whose diverging draws sit furthest in one tail of the
posterior (mean percentile rank of the diverging draws, 0.5 = no pattern) are
printed. Last, the cost of enumerating the 2**B configurations in numpy
(``allegiance.model.quantities`` on 1000 prior draws) at B = 8 to 14, the limit
of ``MAX_BINARY_CONDITIONS`` lifted for 14 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import yaml

MARK = "SCALE-RESULT "
FACTIONS = [f"f{i}" for i in range(1, 7)]
SERIES = {"defectors": {"a": 80, "b": 30, "c": 15, "d": 8}, "clashes": {"north": 12, "south": 5}}
ANALYSIS, HISTORY, SEEN = dt.date(2021, 1, 1), 18, 6  # months of counts before / after it
MAX_WIDTH = 5  # binary conditions reaching one row at most: 2**5 sub-configurations
STRENGTHS = [
    {"ratio": 3, "range": [1.5, 8]},
    {"ratio": 1.8, "range": [1.2, 3]},
    "weak",
    "moderate",
    {"ratio": 1.6, "range": [1.1, 2.5]},
]
WHY = {"rationale": "synthetic benchmark model", "provenance": "analyst judgment"}


def month(offset: int) -> dt.date:
    """First day of the month ``offset`` months from the analysis month."""
    y, m = divmod(ANALYSIS.year * 12 + ANALYSIS.month - 1 + offset, 12)
    return dt.date(y, m + 1, 1)


def model_doc(b: int, seed: int) -> dict[str, Any]:
    """A model file with ``b`` binary conditions, as a YAML document."""
    rng = np.random.default_rng(seed)
    actors = {"leadership": {"name": "Leadership", "role": "parent"}}
    for i, f in enumerate(FACTIONS):
        actors[f] = {"name": f"Faction {f}", "role": "faction", "parent": "leadership"}
        actors[f]["fighters"] = int(500 * (i + 1))
    conditions, effects = {}, []
    rows = {("leave", f): set() for f in FACTIONS} | {("aligns", f): set() for f in FACTIONS}
    rows |= {(s, c): set() for s, cats in SERIES.items() for c in cats}
    targets = [(n, None) for n in ("leave", "aligns", *SERIES)] + list(rows)
    for i in range(b):
        cid = f"cond_{i:02d}"
        p = float(rng.uniform(0.15, 0.7))
        prior = {"probability": round(p, 2), "range": [round(p / 3, 3), round(p + 0.6 * (1 - p), 3)]}
        conditions[cid] = {"kind": "binary", "text": f"Condition {i}.", "prior": prior, **WHY}
        wanted, chosen = int(rng.integers(2, 5)), []
        if i % 4 == 1:  # near-necessary for one faction's departure, as funding is
            chosen.append(("leave", FACTIONS[i % 6]))
        for j in rng.permutation(len(targets)):
            node, member = targets[j]
            reach = [r for r in rows if r[0] == node and member in (None, r[1])]
            if len(chosen) < wanted and all(len(rows[r]) < MAX_WIDTH for r in reach):
                if not any(r in chosen or (r[0], None) in chosen for r in reach):
                    chosen.append((node, member))
        for k, (node, member) in enumerate(chosen):
            for r in rows:
                if r[0] == node and member in (None, r[1]):
                    rows[r].add(cid)
            target = f"{node}.{member}" if member else node
            e = {"id": f"e_{cid}_{k}", "condition": cid, "targets": [target]}
            if i % 4 == 1 and k == 0:
                leak = {"probability": 0.15, "range": [0.04, 0.35]}
                effects.append({**e, "kind": "necessary", "leak": leak, **WHY})
            else:
                direction = "raises" if rng.random() < 0.7 else "lowers"
                strength = STRENGTHS[int(rng.integers(len(STRENGTHS)))]
                effects.append({**e, "direction": direction, "strength": strength, **WHY})
    for i, f in enumerate(FACTIONS[:3]):
        prior = {"probability": 0.5, "range": [0.2, 0.8]}
        conditions[f"spoils_{f}"] = {"kind": "level", "text": "Share.", "prior": prior, **WHY}
        e = {"id": f"e_spoils_{f}", "condition": f"spoils_{f}", "targets": [f"leave.{f}"]}
        effects.append({**e, "direction": "lowers", "strength": STRENGTHS[i % 2], **WHY})
    baseline = {
        f: {"prior": {"probability": p, "range": [p / 4, 3 * p]}, **WHY}
        for f, p in zip(FACTIONS, (0.04, 0.05, 0.06, 0.05, 0.08, 0.1), strict=True)
    }
    align = {"prior": {"probability": 0.4, "range": [0.15, 0.7]}, **WHY}
    series = {
        s: {"text": f"{s} per month.", "categories": {}} for s in SERIES
    }  # fmt: skip
    for s, cats in SERIES.items():
        for c, typ in cats.items():
            series[s]["categories"][c] = {"prior": {"typical": typ, "range": [typ / 5, typ * 5]}}
            series[s]["categories"][c] |= WHY
    h12, h24 = month(12), month(24)
    q = {"text": "Question?", "resolution": "As stated."}
    return {
        "schema_version": 1,
        "id": f"scale_b{b}",
        "title": f"Synthetic model with {b} binary conditions",
        "analysis_date": ANALYSIS,
        "history_months": HISTORY,
        "actors": actors,
        "conditions": conditions,
        "propensities": {
            "leave": {"kind": "hazard", "text": "A faction leaves.", "actors": FACTIONS}
            | {"within_months": 12, "baseline": baseline},
            "aligns": {"kind": "chance", "text": "A leaver aligns.", "actors": FACTIONS}
            | {"baseline": align},
        },
        "series": series,
        "effects": effects,
        "questions": [
            {"id": "f1_leaves_12m", "kind": "leaves", **q, "horizon": h12}
            | {"actor": "f1", "hazard": "leave"},
            {"id": "f5_leaves_24m", "kind": "leaves", **q, "horizon": h24}
            | {"actor": "f5", "hazard": "leave"},
            {"id": "alliance_24m", "kind": "alliance", **q, "horizon": h24}
            | {"actors": FACTIONS[:3], "hazard": "leave", "aligns": "aligns"},
            {"id": "escalation_12m", "kind": "escalation", **q, "horizon": h12}
            | {"series": "defectors", "category": "a", "ratio": 1.5},
        ],
    }


def prior_draws(spec: Any, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` draws of every free variable from its prior, (n, dim) each."""
    from allegiance.model import LOG_RATE, variable_beliefs

    out = {}
    for name, (beliefs, _) in variable_beliefs(spec).items():
        x = np.stack([b.prior.frozen().rvs(n, random_state=rng) for b in beliefs], axis=-1)
        out[name] = np.log(x) if name == LOG_RATE else x
    return out


def evidence_doc(spec: Any, seed: int) -> dict[str, Any]:
    """Evidence simulated from the model: one prior draw, one configuration."""
    from allegiance.evidence import no_evidence
    from allegiance.model import numpy_ops, structure, terms

    rng = np.random.default_rng(seed)
    truth = prior_draws(spec, 1, rng)
    st, binary = structure(spec), spec.binary_conditions
    t = terms(truth, no_evidence(spec).arrays(), st, numpy_ops())
    z = (rng.random(len(binary)) < truth["condition_probability"][0]).astype(int)
    cfg = int(z @ 2 ** np.arange(len(z))[::-1])  # column of st.configurations
    items, src = [], {"source": "synthetic monitoring"}
    for j, (s, c) in enumerate(spec.channels):
        phi = truth["overdispersion"][0, list(spec.series).index(s)]
        post = t["log_rate_post"][0, j, st.sub_index[st.n_slots + j, cfg]]
        for m in range(-HISTORY, SEEN):
            mu = np.exp(post if m >= 0 else truth["log_rate"][0, j])
            y = int(rng.negative_binomial(1 / phi, 1 / (1 + phi * mu)))
            first = month(m)
            items.append({"id": f"n_{s}_{c}_{first:%Y_%m}", "kind": "count"} | src)
            items[-1] |= {"date": month(m + 1) - dt.timedelta(days=3), "grade": "B2"}
            items[-1] |= {"series": s, "category": c, "month": f"{first:%Y-%m}", "count": y}
    for k, (node, actor) in enumerate(spec.slots):
        p = float(np.exp(t["log_p"][0, k, st.sub_index[k, cfg]]))
        if node == "aligns":
            if k % 3 == 0:
                favours = bool(rng.random() < p)
                items.append({"id": f"r_{node}_{actor}", "kind": "report", "grade": "B3"} | src)
                items[-1] |= {"date": month(1), "target": f"{node}.{actor}", "favours": favours}
                items[-1]["strength"] = "moderately"
            continue
        left = next((m for m in range(SEEN) if rng.random() < p), None)
        if left is not None:
            items.append({"id": f"ev_{actor}", "kind": "event", "date": month(left + 1)} | src)
            items[-1] |= {"grade": "A1", "hazard": node, "actor": actor, "month": f"{month(left):%Y-%m}"}
        for m in range(3, SEEN + 1, 3):
            if left is None or m <= left:
                items.append({"id": f"ne_{actor}_{m}", "kind": "no_event", "date": month(m)} | src)
                items[-1] |= {"grade": "B2", "hazard": node, "actor": actor, "through": month(m)}
    for i, cid in enumerate(binary[:8]):
        favours = bool(z[i]) if rng.random() < 0.8 else not z[i]
        word = ("weakly", "moderately", "strongly")[i % 3]
        items.append({"id": f"r_{cid}", "kind": "report", "date": month(2), "target": cid} | src)
        items[-1] |= {"favours": favours, "strength": word, "grade": ("B2", "C3", "B3")[i % 3]}
    items.append({"id": "obs_c0", "kind": "condition", "date": month(3), "grade": "A1"} | src)
    items[-1] |= {"condition": binary[0], "value": bool(z[0])}
    level = float(np.clip(truth["level"][0, 0] + rng.normal(0, 0.05), 0, 1))
    items.append({"id": "obs_l0", "kind": "condition", "date": month(3), "grade": "B2"} | src)
    items[-1] |= {"condition": spec.level_conditions[0], "value": round(level, 3)}
    return {"schema_version": 1, "model": spec.id, "items": items}


def divergence_pattern(post: Any, top: int = 4) -> list[str]:
    """Free variables whose diverging draws sit furthest in one tail of the posterior."""
    from allegiance.model import coordinates

    div = post.idata.sample_stats["diverging"].values.reshape(-1).astype(bool)
    if not div.any():
        return []
    coords, dims = coordinates(post.spec), post.idata.posterior
    found = []
    for name, x in post.flat_draws().items():
        labels = coords[dims[name].dims[-1]]
        pct = np.argsort(np.argsort(x, axis=0), axis=0) / (len(x) - 1)
        for i, m in enumerate(pct[div].mean(axis=0)):
            z = (m - 0.5) / np.sqrt(1 / 12 / div.sum())
            med = (np.median(x[div, i]), np.median(x[:, i]))
            found.append((abs(z), f"{name}[{labels[i]}] rank {m:.2f} (z {z:+.1f}), "
                          f"median {med[0]:.3g} vs {med[1]:.3g}"))  # fmt: skip
    return [text for _, text in sorted(found, reverse=True)[:top]]


def worker(folder: Path, b: int, tas: list[float], tune: int, draws: int, seed: int) -> None:
    """Compile the model of ``b`` conditions, fit it at each target_accept; print JSON."""
    from allegiance.evidence import load_evidence
    from allegiance.forecast import forecast
    from allegiance.posterior import FitSettings, fit, prepare
    from allegiance.spec import load_spec

    spec = load_spec(folder / f"b{b}.yaml")
    evidence = load_evidence(folder / f"b{b}.evidence.yaml", spec)
    start = time.perf_counter()
    prepare(spec)
    res = {"b": b, "items": len(evidence.items), "compile_s": time.perf_counter() - start}
    res["fits"] = []
    for ta in tas:
        settings = FitSettings(tune=tune, draws=draws, seed=seed, target_accept=ta)
        post = fit(spec, evidence, settings)
        start = time.perf_counter()
        d = forecast(post).diagnostics
        steps = post.idata.sample_stats["n_steps"].values
        res["fits"].append(
            {"target_accept": ta, "fit_s": post.fit_seconds, "forecast_s": time.perf_counter() - start}
            | {"divergences": d.divergences, "max_rhat": d.max_rhat, "ess_bulk": d.min_ess_bulk}
            | {"ess_tail": d.min_ess_tail, "worst": d.worst, "steps": float(steps.mean())}
            | {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
            | {"pattern": divergence_pattern(post)}
        )
        print(f"  B={b} ta={ta}: {res['fits'][-1]}", file=sys.stderr, flush=True)
    print(MARK + json.dumps(res, default=float), flush=True)


def enumeration(folder: Path, seed: int, n: int = 1000) -> list[dict[str, Any]]:
    """Time and peak memory of ``quantities`` (2**B configurations) on ``n`` prior draws."""
    import allegiance.spec.load as load
    from allegiance.errors import SpecError
    from allegiance.evidence import load_evidence, model_data
    from allegiance.model import quantities, structure
    from allegiance.spec import load_spec

    out = []
    for b in (8, 10, 12, 13, 14):
        path = folder / f"b{b}.yaml"
        path.write_text(yaml.safe_dump(model_doc(b, seed), sort_keys=False))
        try:
            spec = load_spec(path)
        except SpecError as e:  # past the limit: say how it is refused, then lift it
            out.append({"b": b, "refused": str(e).splitlines()[0][:110]})
            load.MAX_BINARY_CONDITIONS, limit = 16, load.MAX_BINARY_CONDITIONS
            spec = load_spec(path)
            load.MAX_BINARY_CONDITIONS = limit
        ev_path = folder / f"b{b}.evidence.yaml"
        ev_path.write_text(yaml.safe_dump(evidence_doc(spec, seed), sort_keys=False))
        data = model_data(spec, load_evidence(ev_path, spec))
        draws = prior_draws(spec, n, np.random.default_rng(seed))
        start = time.perf_counter()
        quantities(spec, data, draws)
        seconds = time.perf_counter() - start
        tracemalloc.start()
        quantities(spec, data, draws)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        st = structure(spec)
        out.append({"b": b, "configurations": 2**b, "sub_configurations": st.shift_sub.shape[2]}
                   | {"us_per_draw": seconds / n * 1e6, "kb_per_draw": peak / n / 1024})  # fmt: skip
        print(f"  enumeration: {out[-1]}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; write the models, fit each B in a worker, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="B = 8, 12; 0.8, 0.95; 300 + 500")
    ap.add_argument("--b", type=int, nargs="+", help="binary conditions (default 8 10 12)")
    ap.add_argument("--target-accept", type=float, nargs="+", help="default 0.8 0.9 0.95")
    ap.add_argument("--tune", type=int, help="tuning steps per chain (default 500)")
    ap.add_argument("--draws", type=int, help="draws per chain (default 1000)")
    ap.add_argument("--seed", type=int, default=20200229)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    bs = args.b or ([8, 12] if args.quick else [8, 10, 12])
    tas = args.target_accept or ([0.8, 0.95] if args.quick else [0.8, 0.9, 0.95])
    tune, draws = args.tune or (300 if args.quick else 500), args.draws or (500 if args.quick else 1000)
    if args.worker:
        worker(args.worker, bs[0], tas, tune, draws, args.seed)
        return
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="allegiance-scale-") as tmp:
        folder = Path(tmp)
        enum = enumeration(folder, args.seed)
        for b in bs:
            cmd = [sys.executable, __file__, "--worker", tmp, "--b", str(b), "--seed", str(args.seed)]
            cmd += ["--tune", str(tune), "--draws", str(draws), "--target-accept", *map(str, tas)]
            print(f"B={b}: compile and {len(tas)} fits ...", file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
            if proc.returncode or not lines:
                sys.exit(f"worker B={b} failed:\n{proc.stderr[-4000:]}")
            results.append(json.loads(lines[-1][len(MARK) :]))
    head = ("B", "items", "t_acc", "tune", "fit s", "compile s", "fcst s", "div", "max R-hat")
    head += ("ESS bulk", "ESS tail", "steps/draw", "peak RSS MB")
    rows = [
        (r["b"], r["items"], f["target_accept"], tune, f"{f['fit_s']:.1f}", f"{r['compile_s']:.0f}")
        + (f"{f['forecast_s']:.1f}", f["divergences"], f"{f['max_rhat']:.4f}", f"{f['ess_bulk']:.0f}")
        + (f"{f['ess_tail']:.0f}", f"{f['steps']:.1f}", f"{f['rss_mb']:.0f}")
        for r in results
        for f in r["fits"]
    ]
    widths = [max(len(str(x)) for x in col) + 2 for col in zip(head, *rows, strict=True)]
    print(f"4 chains x {tune} tune + {draws} draws, cores=2, seed={args.seed}; fit s = sampling only")
    for row in (head, *rows):
        print("".join(f"{x!s:>{w}}" for x, w in zip(row, widths, strict=True)))
    for r in results:
        for f in r["fits"]:
            if f["pattern"]:
                print(f"\nB={r['b']} t_acc={f['target_accept']}: {f['divergences']} divergences at")
                print("\n".join(f"  {line}" for line in f["pattern"]))
    print("\nenumeration in numpy (quantities, 1000 prior draws):")
    for e in enum:
        if "refused" in e:
            print(f"  B={e['b']}: load_spec refuses it: {e['refused']}")
        else:
            print(f"  B={e['b']}: {e['configurations']} configurations, {e['sub_configurations']} "
                  f"sub-configurations per row, {e['us_per_draw']:.0f} us and {e['kb_per_draw']:.0f} "
                  "kB per draw")  # fmt: skip
    print(f"\nwhole benchmark: {time.monotonic() - started:.0f} s")
    print("JSON:\n" + json.dumps({"fits": results, "enumeration": enum}, default=float))


if __name__ == "__main__":
    main()
