"""Benchmark: fitting big models, 8 to 12 binary conditions and about 170 evidence items.

Usage::

    .venv/bin/python benchmarks/scale.py           # B = 8, 10, 12 x target_accept 0.8, 0.9, 0.95
    .venv/bin/python benchmarks/scale.py --quick   # B = 8, 12 x 0.8, 0.95; 200 tune + 200 draws
    .venv/bin/python benchmarks/scale.py --b 8 --target-accept 0.5 0.8 0.9 --tune 300 \
        --draws 500 --rates 4 --dispersion 0.02 --evidence-seed 7  # divergences at 0.5

Per B, a synthetic model file (B binary conditions, every fourth near-necessary for a
departure; 3 levels; a hazard and a chance over 6 factions; 2 count series, 6
categories; each binary condition reaches 2 to 4 targets, a row at most 5) and
evidence simulated from it through ``allegiance.model.terms`` (a prior draw, a
configuration): monthly counts of every channel (18 months of history, 6 forward),
departures or quarterly ``no_event`` items, graded reports, an observed condition and
level. ``--rates`` scales the true count rates, ``--dispersion`` fixes their
overdispersion. Each B is fitted in a fresh worker (hidden ``--worker``): ``prepare``,
then ``fit`` + ``forecast`` per target_accept. ms/grad is sampling s x 2 cores / all
leapfrog steps (tuning counted at the draws' rate); other CPU s is what other
processes used during the fit (0 = quiet machine). Fits with divergences list the
variables whose diverging draws sit furthest in one tail (mean percentile rank, 0.5
= no pattern). Last, ``quantities`` on 500 prior draws (one ``forecast`` block) at
B = 8 to 14, the limit lifted past 12.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from _machine import busy_cpu_s  # a sibling script module

MARK = "SCALE-RESULT "
ANALYSIS, HISTORY, SEEN = dt.date(2021, 1, 1), 18, 6  # as in BASE; months of counts seen from it
MAX_WIDTH = 5  # binary conditions reaching one row, at most
STRENGTHS = ({"ratio": 3, "range": [1.5, 8]}, {"ratio": 1.8, "range": [1.2, 3]}, "weak")
STRENGTHS += ("moderate", {"ratio": 1.6, "range": [1.1, 2.5]})
WHY = {"rationale": "synthetic benchmark model", "provenance": "analyst judgment"}
BASE = """
schema_version: 1
analysis_date: 2021-01-01
history_months: 18
actors:
  leadership: {name: Leadership, role: parent}
  f1: {name: Faction 1, role: faction, parent: leadership, fighters: 500}
  f2: {name: Faction 2, role: faction, parent: leadership, fighters: 1000}
  f3: {name: Faction 3, role: faction, parent: leadership, fighters: 1500}
  f4: {name: Faction 4, role: faction, parent: leadership, fighters: 2000}
  f5: {name: Faction 5, role: faction, parent: leadership, fighters: 2500}
  f6: {name: Faction 6, role: faction, parent: leadership, fighters: 3000}
propensities:
  leave:
    {kind: hazard, text: A faction leaves., actors: [f1, f2, f3, f4, f5, f6], within_months: 12,
     baseline: {prior: {probability: 0.06, range: [0.015, 0.18]}, R}}
  aligns:
    {kind: chance, text: A faction that leaves aligns., actors: [f1, f2, f3, f4, f5, f6],
     baseline: {prior: {probability: 0.4, range: [0.15, 0.7]}, R}}
series:
  defectors:
    text: Fighters defecting per month, by origin.
    categories: {a: {prior: {typical: 80, range: [16, 400]}, R},
                 b: {prior: {typical: 30, range: [6, 150]}, R},
                 c: {prior: {typical: 15, range: [3, 75]}, R},
                 d: {prior: {typical: 8, range: [1.6, 40]}, R}}
  clashes:
    text: Armed clashes per month, by region.
    categories: {north: {prior: {typical: 12, range: [2.4, 60]}, R},
                 south: {prior: {typical: 5, range: [1, 25]}, R}}
questions:
  - {id: f1_leaves_12m, kind: leaves, actor: f1, hazard: leave, horizon: 2022-01-01, Q}
  - {id: f5_leaves_24m, kind: leaves, actor: f5, hazard: leave, horizon: 2023-01-01, Q}
  - {id: alliance_24m, kind: alliance, actors: [f1, f2, f3], hazard: leave, aligns: aligns,
     horizon: 2023-01-01, Q}
  - {id: escalation_12m, kind: escalation, series: defectors, category: a, ratio: 1.5,
     horizon: 2022-01-01, Q}
"""
BASE = BASE.replace("R}", "rationale: synthetic, provenance: analyst judgment}")
BASE = BASE.replace("Q}", "text: 'Will it happen?', resolution: As stated.}")


def month(offset: int) -> dt.date:
    """First day of the month ``offset`` months from the analysis month."""
    y, m = divmod(ANALYSIS.year * 12 + ANALYSIS.month - 1 + offset, 12)
    return dt.date(y, m + 1, 1)


def model_doc(b: int, seed: int) -> dict[str, Any]:
    """A model file with ``b`` binary conditions, as a YAML document."""
    rng, doc = np.random.default_rng(seed), yaml.safe_load(BASE)
    factions, conditions, effects = doc["propensities"]["leave"]["actors"], {}, []
    rows = {(n, f): set() for n in ("leave", "aligns") for f in factions}
    rows |= {(s, c): set() for s, body in doc["series"].items() for c in body["categories"]}
    targets = [(n, None) for n in ("leave", "aligns", *doc["series"])] + list(rows)
    for i in range(b):
        cid, p = f"cond_{i:02d}", float(rng.uniform(0.15, 0.7))
        prior = {"probability": round(p, 2), "range": [round(p / 3, 3), round(0.6 + 0.4 * p, 3)]}
        conditions[cid] = {"kind": "binary", "text": f"Condition {i}.", "prior": prior} | WHY
        wanted, chosen = int(rng.integers(2, 5)), []
        if i % 4 == 1:  # near-necessary for one faction's departure, as funding is
            chosen.append(("leave", factions[i % 6]))
        for j in rng.permutation(len(targets)):
            reach = [r for r in rows if r[0] == targets[j][0] and targets[j][1] in (None, r[1])]
            free = all(len(rows[r]) < MAX_WIDTH and r not in chosen for r in reach)
            if len(chosen) < wanted and free and (targets[j][0], None) not in chosen:
                chosen.append(targets[j])
        for k, (node, member) in enumerate(chosen):
            for r in rows:
                if r[0] == node and member in (None, r[1]):
                    rows[r].add(cid)
            target = node if member is None else f"{node}.{member}"
            e = {"id": f"e_{cid}_{k}", "condition": cid, "targets": [target]}
            if i % 4 == 1 and k == 0:
                leak = {"probability": 0.15, "range": [0.04, 0.35]}
                effects.append(e | {"kind": "necessary", "leak": leak} | WHY)
            else:
                direction = "raises" if rng.random() < 0.7 else "lowers"
                strength = STRENGTHS[int(rng.integers(len(STRENGTHS)))]
                effects.append(e | {"direction": direction, "strength": strength} | WHY)
    for i, f in enumerate(factions[:3]):
        prior = {"probability": 0.5, "range": [0.2, 0.8]}
        conditions[f"spoils_{f}"] = {"kind": "level", "text": "Share.", "prior": prior} | WHY
        e = {"id": f"e_spoils_{f}", "condition": f"spoils_{f}", "targets": [f"leave.{f}"]}
        effects.append(e | {"direction": "lowers", "strength": STRENGTHS[i % 2]} | WHY)
    title = f"Synthetic model with {b} binary conditions"
    return (
        {"id": f"scale_b{b}", "title": title} | doc | {"conditions": conditions, "effects": effects}
    )


def prior_draws(spec: Any, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` draws of every free variable from its prior, (n, dim) each."""
    from allegiance.model import LOG_RATE, variable_beliefs

    out = {}
    for name, (beliefs, _) in variable_beliefs(spec).items():
        x = np.stack([b.prior.frozen().rvs(n, random_state=rng) for b in beliefs], axis=-1)
        out[name] = np.log(x) if name == LOG_RATE else x
    return out


def evidence_doc(
    spec: Any, seed: int, rates: float = 1.0, phi: float | None = None
) -> dict[str, Any]:
    """Evidence simulated from the model: one prior draw, one configuration."""
    from allegiance.evidence import no_evidence
    from allegiance.model import numpy_ops
    from allegiance.model.structure import structure
    from allegiance.model.terms import terms

    rng = np.random.default_rng(seed)
    truth, st, binary = prior_draws(spec, 1, rng), structure(spec), spec.binary_conditions
    t = terms(truth, no_evidence(spec).arrays(), st, numpy_ops())
    z = (rng.random(len(binary)) < truth["condition_probability"][0]).astype(int)
    cfg = int(z @ 2 ** np.arange(len(z))[::-1])  # its column of st.configurations
    items: list[dict[str, Any]] = []

    def add(kind: str, key: str, date: dt.date, grade: str, **fields: Any) -> None:
        items.append({"id": key, "kind": kind, "date": date, "source": "synthetic", "grade": grade})
        items[-1].update(fields)

    for j, (s, c) in enumerate(spec.channels):
        disp = phi or truth["overdispersion"][0, list(spec.series).index(s)]
        post = t["log_rate_post"][0, j, st.sub_index[st.n_slots + j, cfg]]
        for m in range(-HISTORY, SEEN):
            mu = rates * np.exp(post if m >= 0 else truth["log_rate"][0, j])
            y = int(rng.negative_binomial(1 / disp, 1 / (1 + disp * mu)))
            end, key = month(m + 1) - dt.timedelta(days=3), f"n_{s}_{c}_{month(m):%Y_%m}"
            add("count", key, end, "B2", series=s, category=c, month=f"{month(m):%Y-%m}", count=y)
    for k, (node, actor) in enumerate(spec.slots):
        p = float(np.exp(t["log_p"][0, k, st.sub_index[k, cfg]]))
        if node == "aligns" and k % 3 == 0:
            favours = bool(rng.random() < p)
            add("report", f"r_{node}_{actor}", month(1), "B3", target=f"{node}.{actor}")
            items[-1] |= {"favours": favours, "strength": "moderately"}
        elif node == "leave":
            left = next((m for m in range(SEEN) if rng.random() < p), SEEN)
            if left < SEEN:
                add("event", f"ev_{actor}", month(left + 1), "A1", hazard=node, actor=actor)
                items[-1]["month"] = f"{month(left):%Y-%m}"
            for m in range(3, min(left, SEEN) + 1, 3):
                add("no_event", f"ne_{actor}_{m}", month(m), "B2", hazard=node, actor=actor)
                items[-1]["through"] = month(m)
    for i, cid in enumerate(binary[:8]):
        favours = bool(z[i]) if rng.random() < 0.8 else not z[i]
        add("report", f"r_{cid}", month(2), ("B2", "C3", "B3")[i % 3], target=cid, favours=favours)
        items[-1]["strength"] = ("weakly", "moderately", "strongly")[i % 3]
    add("condition", "obs_c0", month(3), "A1", condition=binary[0], value=bool(z[0]))
    level = float(np.clip(truth["level"][0, 0] + rng.normal(0, 0.05), 0, 1))
    add("condition", "obs_l0", month(3), "B2", condition=spec.level_conditions[0], value=level)
    return {"schema_version": 1, "model": spec.id, "items": items}


def divergence_pattern(post: Any, top: int = 4) -> list[str]:
    """Free variables whose diverging draws sit furthest in one tail of the posterior."""
    from allegiance.model import coordinates

    div = post.idata.sample_stats["diverging"].values.reshape(-1).astype(bool)
    coords, found = coordinates(post.spec), []
    for name, x in post.flat_draws().items() if div.any() else ():
        labels = coords[post.idata.posterior[name].dims[-1]]
        rank = (np.argsort(np.argsort(x, axis=0), axis=0) / (len(x) - 1))[div].mean(axis=0)
        for i, m in enumerate(rank):
            z = (m - 0.5) / np.sqrt(1 / 12 / div.sum())
            at, usual = np.median(x[div, i]), np.median(x[:, i])
            text = f"{name}[{labels[i]}]: rank {m:.2f} (z {z:+.1f}), median {at:.3g} vs {usual:.3g}"
            found.append((abs(z), text))
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
    res: dict[str, Any] = {"b": b, "items": len(evidence.items), "fits": []}
    res["compile_s"] = time.perf_counter() - start
    for ta in tas:
        own, busy = sum(os.times()[:2]), busy_cpu_s()
        post = fit(spec, evidence, FitSettings(tune=tune, draws=draws, seed=seed, target_accept=ta))
        other, start = busy_cpu_s() - busy - (sum(os.times()[:2]) - own), time.perf_counter()
        d = forecast(post).diagnostics
        steps = float(post.idata.sample_stats["n_steps"].values.mean())
        f = {"target_accept": ta, "fit_s": post.fit_seconds, "steps": steps}
        f |= {"forecast_s": time.perf_counter() - start, "divergences": d.divergences}
        f |= {"max_rhat": d.max_rhat, "ess_bulk": d.min_ess_bulk, "ess_tail": d.min_ess_tail}
        f |= {"grad_ms": 1e3 * post.fit_seconds * 2 / (steps * (tune + draws) * 4)}
        status = Path("/proc/self/status").read_text().splitlines()  # VmHWM: not the parent's
        rss = next(int(x.split()[1]) for x in status if x.startswith("VmHWM")) / 1024
        f |= {"rss_mb": rss, "other_cpu_s": max(other, 0.0), "worst": d.worst}
        res["fits"].append(f | {"pattern": divergence_pattern(post)})
        print(f"  B={b}: {res['fits'][-1]}", file=sys.stderr, flush=True)
    print(MARK + json.dumps(res, default=float), flush=True)


def write_model(folder: Path, b: int, args: argparse.Namespace) -> dict[str, Any]:
    """Write the model and its evidence; time ``quantities`` on 500 prior draws."""
    import allegiance.spec.load as load
    from allegiance.errors import SpecError
    from allegiance.evidence import load_evidence, model_data
    from allegiance.model.quantities import quantities
    from allegiance.model.structure import structure
    from allegiance.spec import load_spec

    path, out = folder / f"b{b}.yaml", {"b": b, "configurations": 2**b}
    path.write_text(yaml.safe_dump(model_doc(b, args.seed), sort_keys=False))
    try:
        spec = load_spec(path)
    except SpecError as e:  # past the limit: say how it is refused, then lift it
        out["refused"] = str(e).split(": ", 2)[-1].split(".")[0]
        load.MAX_BINARY_CONDITIONS, limit = 16, load.MAX_BINARY_CONDITIONS
        spec = load_spec(path)
        load.MAX_BINARY_CONDITIONS = limit
    doc = evidence_doc(spec, args.evidence_seed or args.seed, args.rates, args.dispersion)
    (folder / f"b{b}.evidence.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    data = model_data(spec, load_evidence(folder / f"b{b}.evidence.yaml", spec))
    draws, seconds = prior_draws(spec, 500, np.random.default_rng(args.seed)), []
    for _ in range(2):
        start = time.perf_counter()
        quantities(spec, data, draws)
        seconds.append(time.perf_counter() - start)
    tracemalloc.start()
    quantities(spec, data, draws)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out |= {"sub_configurations": structure(spec).shift_sub.shape[2]}
    return out | {"ms_per_500": 1e3 * min(seconds), "mb_per_500": peak / 2**20}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; write the models, fit each B in a worker, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="B = 8, 12; 0.8, 0.95; 200 + 200")
    ap.add_argument("--b", type=int, nargs="+", help="binary conditions (default 8 10 12)")
    ap.add_argument("--target-accept", type=float, nargs="+", help="default 0.8 0.9 0.95")
    ap.add_argument("--tune", type=int, help="tuning steps per chain (default 500)")
    ap.add_argument("--draws", type=int, help="draws per chain (default 1000)")
    ap.add_argument("--rates", type=float, default=1.0, help="multiply the true count rates")
    ap.add_argument("--dispersion", type=float, help="true overdispersion (default: drawn)")
    ap.add_argument("--seed", type=int, default=20200229, help="model, evidence, sampler")
    ap.add_argument("--evidence-seed", type=int, help="simulate the evidence with another seed")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    bs = args.b or ([8, 12] if args.quick else [8, 10, 12])
    tas = args.target_accept or ([0.8, 0.95] if args.quick else [0.8, 0.9, 0.95])
    size = (200, 200) if args.quick else (500, 1000)
    tune, draws = args.tune or size[0], args.draws or size[1]
    if args.worker:
        return worker(args.worker, bs[0], tas, tune, draws, args.seed)
    started, results = time.monotonic(), []
    with tempfile.TemporaryDirectory(prefix="allegiance-scale-") as tmp:
        enum = [write_model(Path(tmp), b, args) for b in sorted({*bs, 8, 10, 12, 13, 14})]
        for b in bs:
            print(f"B={b}: compile, then {len(tas)} fits ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, __file__, "--worker", tmp, "--target-accept", *map(str, tas)]
            cmd += f"--b {b} --seed {args.seed} --tune {tune} --draws {draws}".split()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
            if proc.returncode or not lines:
                sys.exit(f"worker B={b} failed:\n{proc.stderr[-4000:]}")
            results.append(json.loads(lines[-1][len(MARK) :]))
    head = ("B", "items", "t_acc", "tune", "fit s", "compile s", "forecast s", "div", "max R-hat")
    head += ("ESS bulk", "ESS tail", "steps/draw", "ms/grad", "peak RSS MB", "other CPU s")
    rows = [
        (r["b"], r["items"], f["target_accept"], tune, f"{f['fit_s']:.1f}", f"{r['compile_s']:.0f}")
        + (f"{f['forecast_s']:.1f}", f["divergences"], f"{f['max_rhat']:.4f}")
        + tuple(f"{f[k]:.{n}f}" for k, n in (("ess_bulk", 0), ("ess_tail", 0), ("steps", 1)))
        + tuple(f"{f[k]:.{n}f}" for k, n in (("grad_ms", 2), ("rss_mb", 0), ("other_cpu_s", 0)))
        for r in results
        for f in r["fits"]
    ]
    widths = [max(len(str(x)) for x in col) + 2 for col in zip(head, *rows, strict=True)]
    print(
        f"4 chains x {tune} tune + {draws} draws, cores=2, seed {args.seed}, evidence seed "
        f"{args.evidence_seed or args.seed}, rates x{args.rates}, dispersion {args.dispersion}"
    )
    for row in (head, *rows):
        print("".join(f"{x!s:>{w}}" for x, w in zip(row, widths, strict=True)))
    for r in results:
        for f in (f for f in r["fits"] if f["pattern"]):
            print(f"\nB={r['b']}, t_acc {f['target_accept']}: {f['divergences']} divergences at")
            print("\n".join(f"  {line}" for line in f["pattern"]))
    print("\nEnumeration in numpy: quantities() on 500 prior draws (one forecast block)")
    for e in enum:
        print(
            f"  B={e['b']:2d}: {e['configurations']:5d} configurations x {e['sub_configurations']} "
            f"sub-configurations per row: {e['ms_per_500']:6.0f} ms, peak {e['mb_per_500']:5.0f} MB"
            + (f" (load_spec refuses it: {e['refused']})" if "refused" in e else "")
        )
    print(f"\nwhole benchmark: {time.monotonic() - started:.0f} s")
    print("JSON:\n" + json.dumps({"fits": results, "enumeration": enum}, default=float))


if __name__ == "__main__":
    main()
