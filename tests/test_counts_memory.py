"""Counts far above a series' usual level: bounded memory, and the sums still right."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from allegiance.evidence import EvidenceSet, model_data
from allegiance.forecast import counts
from allegiance.forecast.questions import compute
from allegiance.model import Quantities
from allegiance.model.quantities import quantities
from allegiance.model.structure import NEVER, structure
from allegiance.model.switches import switch_months
from allegiance.spec import ModelSpec, load_spec
from conftest import FIXTURES
from helpers import item, prior_draws

N_SIM = 20_000
QUESTION = "clashes_50_9m"  # January to September 2020, on clashes moved by two switches


def _switched(
    tmp_path: Path, threshold: int, typical: int, draws: int
) -> tuple[ModelSpec, Quantities]:
    """The switches model, its count question asking ``threshold`` clashes at ``typical`` a month.

    The rival's leader is alive through February: the switch his death sets off is
    pending, so the count is summed over every month it may come in.
    """
    text = (FIXTURES / "models" / "switches.yaml").read_text()
    text = text.replace("threshold: 50\n", f"threshold: {threshold}\n")
    text = text.replace("{typical: 6, range: [2, 20]}", f"{{typical: {typical}, "
                        f"range: [{typical // 3}, {typical * 3}]}}")  # fmt: skip
    path = tmp_path / "switches.yaml"
    path.write_text(text)
    spec = load_spec(path)
    alive = item("alive", "no_event", "2020-03-01", hazard="leader_killed", actor="",
                 through="2020-03-01")  # fmt: skip
    return spec, quantities(
        spec, model_data(spec, EvidenceSet.of([alive])), prior_draws(spec, draws, 13)
    )


def test_a_threshold_of_50000_on_a_switched_series_runs_in_bounded_memory(tmp_path: Path) -> None:
    spec, q = _switched(tmp_path, 50_000, 6, draws=40)
    st = structure(spec)
    when = switch_months(st, q.data.slot_events, q.data.slot_nonevents)
    assert np.any((when == NEVER) & (st.switch_trigger >= 0))  # a switch still pending
    tracemalloc.start()
    p = compute(q, spec.questions[QUESTION])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    cells = q.n_draws * q.n_configurations * 8  # bytes of one (draw, configuration) array
    # The exact sum holds a few arrays of at most EXACT counts per cell, whatever the threshold
    # (the grid as long as the threshold took 324 MB here, and 16.5 GB at 4,000 draws).
    assert peak < min(16 * cells * counts.EXACT, cells * 50_000)
    assert np.all((p >= 0) & (p <= 1e-9))  # six clashes a month never reach 50,000 in nine


def _simulated(
    spec: ModelSpec, q: Quantities, s: int, z: int, rng: np.random.Generator
) -> np.ndarray:
    """Totals of the question's months simulated one by one, the pending switch's month drawn."""
    question = spec.questions[QUESTION]
    channel = q.channel(question.fields["series"], question.fields["category"])
    st = structure(spec)
    r = st.n_slots + channel
    when = switch_months(st, q.data.slot_events, q.data.slot_nonevents)
    mine = st.row_switches[r][st.row_switches[r] >= 0]
    trigger = [c for c in mine if when[c] == NEVER and st.switch_trigger[c] >= 0]
    (c,) = trigger
    a = int(st.switch_trigger[c])
    event = q.exposure_months(a) + rng.geometric(q.slot_p(a)[s, z], N_SIM) - 1
    months = np.arange(question.horizon_months)
    starts = np.broadcast_to(when[mine], (N_SIM, len(mine))).copy()
    starts[:, list(mine).index(c)] = event + 1  # in effect from the month after the event
    on = months[None, :, None] >= starts[:, None, :]  # (sim, month, switch)
    pattern = (on * (1 << np.arange(len(mine)))).sum(axis=-1)
    rates = np.exp(q.sub_log_rate_post_pattern[s, channel, q.sub_index[r, z]])
    size = 1.0 / q.overdispersion[s, channel]
    mu = rates[pattern]
    return rng.negative_binomial(size, size / (size + mu)).sum(axis=1)


@pytest.mark.parametrize(("threshold", "typical"), [(50, 6), (50_000, 5_000)])
def test_a_switched_count_agrees_with_simulating_its_months(
    tmp_path: Path, threshold: int, typical: int
) -> None:
    spec, q = _switched(tmp_path, threshold, typical, draws=4)
    exact = compute(q, spec.questions[QUESTION])
    rng = np.random.default_rng(17)
    inside = 0
    for s, z in ((0, 0), (1, q.n_configurations - 1), (2, 0), (3, q.n_configurations - 1)):
        sim = np.mean(_simulated(spec, q, s, z, rng) >= threshold)
        se = np.sqrt(max(exact[s, z] * (1 - exact[s, z]), 1e-4) / N_SIM)
        assert abs(sim - exact[s, z]) < 5 * se, (s, z, sim, exact[s, z])
        inside += 0.05 < exact[s, z] < 0.95
    assert inside  # at least one case where the threshold is in the bulk of the sum


def _brute(blocks: list[tuple[int, float]], size: float, needed: int) -> float:
    """P(sum >= needed) by convolving the blocks' pmfs out to ``needed`` in plain numpy."""
    pmf = np.array([1.0])
    for n, mu in blocks:
        block = stats.nbinom.pmf(np.arange(needed), n * size, size / (size + mu))
        pmf = np.convolve(pmf, block)[:needed]
    return float(1.0 - pmf.sum())


@pytest.mark.parametrize("overdispersion", [0.05, 0.3, 1.0])
@pytest.mark.parametrize("rates", [(6.0, 12.0), (6.0, 48.0), (150.0, 450.0)])
def test_the_sum_is_exact_on_its_grid_and_matched_beyond_it(
    overdispersion: float, rates: tuple[float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counts, "EXACT", 10**5)  # every case here on the exact grid
    size = 1.0 / overdispersion
    blocks = [(4, np.array([[rates[0]]])), (5, np.array([[rates[1]]]))]
    per_month = np.array([[size]])
    mean = 4 * rates[0] + 5 * rates[1]
    for ratio in (0.5, 0.8, 1.0, 1.25, 1.6):
        needed = int(ratio * mean)
        want = _brute([(n, float(mu[0, 0])) for n, mu in blocks], size, needed)
        got = float(counts._sum_tail(blocks, per_month, np.asarray(float(needed)))[0, 0])
        assert got == pytest.approx(want, rel=1e-6, abs=1e-12)  # the grid's cut loses nothing
        if 0.02 < want < 0.98:
            # Moment matching (used past EXACT) is within a tenth of the smaller tail.
            matched = float(
                counts._matched_tail(blocks, per_month, np.asarray(float(needed)))[0, 0]
            )
            assert abs(matched - want) < 0.1 * min(want, 1 - want), (needed, matched, want)
