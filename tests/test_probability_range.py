"""Every question kind's probability lies in [0, 1], whatever the weights' round-off."""

from __future__ import annotations

import numpy as np
import pytest

from allegiance.evidence import EvidenceSet, model_data
from allegiance.forecast import probabilities, summarise
from allegiance.forecast.questions import COMPUTE
from allegiance.posterior import Diagnostics
from allegiance.spec import ModelSpec, load_spec
from conftest import FIXTURES, REFERENCE
from helpers import prior_draws

MODELS = [
    REFERENCE,
    *(FIXTURES / "models" / f"{m}.yaml" for m in ("kinds", "switches", "reactions", "stocks")),
]


def _weightings(n: int) -> list[np.ndarray]:
    """Importance weights as the updates make them: normalised, and some of them extreme."""
    rng = np.random.default_rng(5)
    out = []
    for spread in (0.0, *[3.0] * 10, *[30.0] * 10):
        log_w = rng.normal(0.0, spread, n)
        w = np.exp(log_w - log_w.max())
        out.append(w / w.sum())
    one = np.full(n, 1e-300)  # nearly all the weight on one draw
    one[0] = 1.0
    out.append(one / one.sum())
    return out


@pytest.fixture(scope="module")
def per_draw() -> list[tuple[ModelSpec, dict[str, np.ndarray]]]:
    out = []
    for path in MODELS:
        spec = load_spec(path)
        data = model_data(spec, EvidenceSet.of([]))
        out.append((spec, probabilities(spec, data, prior_draws(spec, 40, seed=3))))
    return out


def test_every_kind_is_a_probability_under_any_weights(
    per_draw: list[tuple[ModelSpec, dict[str, np.ndarray]]],
) -> None:
    kinds = {q.kind for spec, _ in per_draw for q in spec.questions.values()}
    assert kinds == set(COMPUTE)  # the models between them ask every kind
    diagnostics = Diagnostics(1.0, 1000.0, 1000.0, 0)
    weightings = _weightings(40)
    assert any(np.sum(w) > 1.0 for w in weightings)  # round-off that once gave 1.0000000000000004
    for spec, draws in per_draw:
        for w in weightings:
            result = summarise(spec, draws, diagnostics, {}, w, method="reweighted", reason="t")
            for q in result.questions:
                assert q.probability is not None and q.lower is not None and q.upper is not None
                shown = (q.probability, q.lower, q.upper)
                assert all(0.0 <= p <= 1.0 for p in shown), (q.id, shown, w.sum())
            assert all(0.0 <= p <= 1.0 for p in result.condition_probability.values())
