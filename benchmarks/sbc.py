"""Simulation-based calibration of the reference model (Talts et al. 2018).

Each simulation draws every free variable from the PyMC model's prior, draws a
configuration of the binary conditions, then evidence from the model: 12 months
of each faction's departure hazard (left in some month, or survived), each count
channel's history and 12 forward months (negative binomial), and a noisy reading
of each level. The model is fitted to those arrays, and the rank of the true value
of every scalar free variable among 99 thinned posterior draws is recorded. A
sampler that is right for this model gives uniform ranks.

Statistic: per variable, Pearson's chi-square of its ranks in 10 equal bins
(df 9); the check fails when the smallest p-value over the variables is below
0.001 / (number of variables) (Bonferroni, family-wise 0.1 %). Rank ECDF plots
(ECDF minus the uniform, with the pointwise 99 % band) go to ``--out``.

Simulations are spread over a local Dask cluster (``--workers``, default the
number of cores; 1 runs them in this process) or the cluster of ``--scheduler``
(whose workers need this file on their path), each worker compiling the model
once. A simulation's draws follow from its seed alone, so the ranks are the
same however the simulations are spread.

    .venv/bin/python benchmarks/sbc.py --sims 200 --out docs/figures   # ~4 min, 2 cores
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "afghanistan_2020.yaml"
MONTHS = 12
THIN = 99  # ranks 0..99


def _simulate(spec, theta, rng):  # type: ignore[no-untyped-def]
    """Evidence arrays drawn from the model given one draw of the free variables."""
    from allegiance.evidence import no_evidence
    from allegiance.model import numpy_ops
    from allegiance.model.structure import structure
    from allegiance.model.terms import terms

    st = structure(spec)
    data = no_evidence(spec)
    t = terms({k: v[None] for k, v in theta.items()}, data.arrays(), st, numpy_ops())
    b = len(spec.binary_conditions)
    z = (rng.random(b) < theta["condition_probability"]).astype(int) if b else np.zeros(0, int)
    config = int(z @ (2 ** np.arange(b)[::-1])) if b else 0
    for k, (node, _) in enumerate(spec.slots):
        if spec.propensities[node].kind != "hazard":
            continue
        p = float(np.exp(t["log_p"][0, k, st.sub_index[k, config]]))
        months = rng.random(MONTHS) < p
        if months.any():
            data.slot_events[k], data.slot_nonevents[k] = 1.0, float(np.argmax(months))
        else:
            data.slot_nonevents[k] = float(MONTHS)
    n_slots = st.n_slots
    for j in range(len(spec.channels)):
        alpha = 1.0 / float(t["overdispersion"][0, j])
        post = float(t["log_rate_post"][0, j, st.sub_index[n_slots + j, config]])
        for month in range(spec.history_months + MONTHS):
            mu = np.exp(float(t["log_rate_pre"][0, j]) if month < spec.history_months else post)
            data.counts[j, month] = rng.negative_binomial(alpha, alpha / (alpha + mu))
            data.count_mask[j, month] = 1.0
    if "level" in theta:
        data.level_value[:] = theta["level"] + rng.normal(0.0, st.level_sd, len(theta["level"]))
        data.level_mask[:] = 1.0
    return data


@functools.cache
def _model() -> tuple[Any, Any, list[str]]:
    """The spec, its PyMC model and free variables: built once per process."""
    warnings.filterwarnings("ignore")
    from allegiance.evidence import no_evidence
    from allegiance.model import FREE_VARIABLES, build_model
    from allegiance.spec import load_spec

    spec = load_spec(MODEL)
    model = build_model(spec, no_evidence(spec))
    return spec, model, [n for n in FREE_VARIABLES if n in model.named_vars]


def replicate(task: tuple[int, int, int]) -> dict[str, object]:
    """One simulation, fitted and ranked; everything it draws follows from its seed.

    A worker process builds the model once (:func:`_model`) and compiles the
    sampler once (``allegiance.posterior.prepare``), for every simulation it runs.
    """
    seed, draws, tune = task
    import pymc as pm

    from allegiance.evidence import EvidenceSet
    from allegiance.posterior import FitSettings, diagnose, fit

    spec, model, names = _model()
    rng = np.random.default_rng(seed)
    values = pm.draw([model[n] for n in names], random_seed=seed)
    theta = {
        n: np.atleast_1d(np.asarray(v, dtype=float)) for n, v in zip(names, values, strict=True)
    }
    data = _simulate(spec, theta, rng)
    settings = FitSettings(draws=draws, tune=tune, chains=2, cores=1, seed=seed)
    post = fit(spec, EvidenceSet.of([]), settings, data=data)
    flat = post.flat_draws()
    keep = np.linspace(0, len(next(iter(flat.values()))) - 1, THIN).astype(int)
    ranks = {
        f"{n}[{i}]": int(np.sum(flat[n][keep, i] < theta[n][i]))
        for n in names
        for i in range(theta[n].size)
    }
    checks = diagnose(post.draws(), post.divergences)
    return {"seed": seed, "ranks": ranks, "ok": checks.ok}


def run(
    sims: int, workers: int, draws: int = 300, tune: int = 400, scheduler: str | None = None
) -> dict[str, object]:
    """Run the simulations and test the ranks; return the result as plain data."""
    from scipy import stats

    import sbc  # by its module name, so that workers import it (and keep its model built)
    from allegiance.workflow.fanout import Fanout

    tasks = [(1000 + s, draws, tune) for s in range(sims)]
    start = time.perf_counter()
    fanout = Fanout(scheduler=scheduler) if scheduler else Fanout(workers=workers)
    results = fanout.run(sbc.replicate, tasks)
    ranks: dict[str, list[int]] = {}
    for r in results:
        for name, rank in r["ranks"].items():  # type: ignore[union-attr]
            ranks.setdefault(name, []).append(rank)
    p_values = {}
    for name, values in ranks.items():
        counts = np.bincount(np.minimum(np.asarray(values) * 10 // (THIN + 1), 9), minlength=10)
        p_values[name] = float(stats.chisquare(counts).pvalue)
    threshold = 0.001 / len(p_values)
    return {
        "simulations": len(results),
        "variables": len(p_values),
        "seconds": time.perf_counter() - start,
        "fits_passing_diagnostics": sum(bool(r["ok"]) for r in results),
        "min_p_value": min(p_values.values()),
        "worst": min(p_values, key=p_values.__getitem__),
        "threshold": threshold,
        "uniform": min(p_values.values()) >= threshold,
        "p_values": p_values,
        "ranks": ranks,
    }


def plot(result: dict[str, object], out: Path) -> Path:
    """Rank ECDFs minus the uniform for every variable, with the pointwise 99 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranks: dict[str, list[int]] = result["ranks"]  # type: ignore[assignment]
    n = int(result["simulations"])  # type: ignore[call-overload]
    grid = np.linspace(0, 1, 101)
    band = 2.576 * np.sqrt(grid * (1 - grid) / n)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.fill_between(grid, -band, band, color="0.85", label="99 % band (pointwise)")
    for values in ranks.values():
        u = (np.asarray(values) + 0.5) / (THIN + 1)
        ax.plot(grid, [np.mean(u <= g) - g for g in grid], color="k", lw=0.5, alpha=0.4)
    ax.set(xlabel="fractional rank", ylabel="ECDF − uniform")
    ax.set_title(f"SBC: {len(ranks)} variables, {n} simulations")
    ax.legend(loc="lower left")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sbc_rank_ecdf.png"
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--scheduler", help="address of a Dask scheduler (tcp://host:8786)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    args = ap.parse_args()
    result = run(args.sims, args.workers, scheduler=args.scheduler)
    figure = plot(result, args.out)
    summary = {k: v for k, v in result.items() if k not in ("ranks", "p_values")}
    (args.out / "sbc.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(summary, indent=1))
    print(f"figure: {figure}")
    print("ranks uniform: " + ("PASS" if result["uniform"] else "FAIL"))
    return 0 if result["uniform"] else 1


if __name__ == "__main__":
    sys.exit(main())
