"""Caches serve only what they were made of: a stored fit its own evidence, a question's
values the evidence it reads (prior draws as the fit throughout)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from allegiance.errors import ProvenanceError
from allegiance.evidence import EvidenceSet, no_evidence
from allegiance.forecast.questions import (
    CHANNEL_FORWARD,
    EVIDENCE_READ,
    SLOT,
    WHOLE,
    compute,
    evidence_read,
    reads,
)
from allegiance.model import ModelData, Quantities
from allegiance.model.quantities import quantities
from allegiance.posterior import FitSettings, Posterior, load_posterior
from allegiance.spec import ModelSpec, load_spec
from allegiance.update import Updater
from conftest import FIXTURES, REFERENCE
from helpers import item, prior_draws


def test_a_stored_fit_of_other_evidence_is_refused(spec: ModelSpec, tmp_path: Path) -> None:
    fitted = EvidenceSet.of([])
    other = EvidenceSet.of(
        [item("quiet", "no_event", "2020-03-01", hazard="leave", actor="faction",
              through="2020-03-01")]
    )  # fmt: skip
    draws = prior_draws(spec, 100, seed=1)
    samples = {k: v.reshape(2, 50, -1) for k, v in draws.items() if v.shape[1]}  # the model's
    settings = FitSettings(draws=50, chains=2)
    attrs = {
        "model_sha256": spec.sha256,
        "evidence_sha256": fitted.sha256,
        "evidence_items": "[]",
        "fit_settings": json.dumps(asdict(settings)),
    }
    path = Posterior(spec, fitted, samples, settings, attrs).save(tmp_path / "fit.nc")
    assert load_posterior(path, spec, fitted).evidence.sha256 == fitted.sha256
    with pytest.raises(ProvenanceError, match="evidence_sha256"):
        load_posterior(path, spec, other)


# --- The question cache's key: what each question reads, declared and checked ---------------

MODELS = [
    REFERENCE,
    *(FIXTURES / "models" / f"{m}.yaml" for m in ("kinds", "switches", "reactions", "stocks")),
]


def _shifted(a: np.ndarray, rng: np.random.Generator, low: int) -> np.ndarray:
    """``a`` plus small whole numbers: counts, months, weights and log-ratios stay valid."""
    return (a + rng.integers(low, 3, a.shape)).astype(a.dtype)


def _unread_changed(spec: ModelSpec, data: ModelData, qid: str, seed: int) -> ModelData:
    """Return ``data`` with every part of every array the question does not declare changed."""
    rng = np.random.default_rng(seed)
    slots, channels = reads(spec, spec.questions[qid])
    h = spec.history_months
    out = {}
    for name, a in data.arrays().items():
        new = _shifted(a, rng, 1)
        axis = EVIDENCE_READ.get(name)
        if axis == WHOLE:
            new = a.copy()
        elif axis == SLOT:
            new[slots] = a[slots]
        elif axis == CHANNEL_FORWARD:
            new[channels, h:] = a[channels, h:]
        out[name] = new
    return ModelData(**out)


Busy = list[tuple[ModelSpec, Quantities, ModelData]]


@pytest.fixture(scope="module")
def busy() -> Busy:
    """Each model's quantities on prior draws, and evidence arrays with something everywhere."""
    out = []
    for k, path in enumerate(MODELS):
        spec = load_spec(path)
        empty = no_evidence(spec)
        q = quantities(spec, empty, prior_draws(spec, 8, seed=k))
        rng = np.random.default_rng(100 + k)
        data = ModelData(**{n: _shifted(a, rng, 0) for n, a in empty.arrays().items()})
        # reports of departures by a month after those survived, so that they can matter
        data.slot_outcome_months = data.slot_nonevents + rng.integers(1, 4, data.slot_events.shape)
        out.append((spec, q, data))
    return out


def test_a_question_moves_only_with_the_evidence_it_declares(busy: Busy) -> None:
    checked = 0
    for spec, q, data in busy:
        for k, (qid, question) in enumerate(spec.questions.items()):
            other = _unread_changed(spec, data, qid, seed=k)
            read = reads(spec, question)
            for a, b in zip(
                evidence_read(spec, read, data), evidence_read(spec, read, other), strict=True
            ):
                np.testing.assert_array_equal(a, b)  # the cache key is the same ...
            np.testing.assert_array_equal(  # ... and so is the value it stands for
                compute(replace(q, data=data), question),
                compute(replace(q, data=other), question),
                err_msg=f"{spec.id}: {qid} moved with evidence it does not declare",
            )
            checked += 1
    assert checked == sum(len(spec.questions) for spec, _, _ in busy)


def test_every_part_declared_moves_some_question(busy: Busy) -> None:
    """The check above has power: each declared array, changed, moves a question."""
    moved: dict[str, set[str]] = {name: set() for name in EVIDENCE_READ}
    for spec, q, data in busy:
        rng = np.random.default_rng(7)
        before = {qid: compute(replace(q, data=data), x) for qid, x in spec.questions.items()}
        for name in EVIDENCE_READ:
            a = getattr(data, name)  # what was on record is not, and what was not is
            changed = replace(data, **{name: np.where(a > 0, 0, _shifted(a, rng, 1))})
            for qid, question in spec.questions.items():
                if not np.array_equal(compute(replace(q, data=changed), question), before[qid]):
                    moved[name].add(f"{spec.id}.{qid}")
    assert all(moved.values()), {name: sorted(qs) for name, qs in moved.items()}


def test_a_warm_updater_gives_what_a_fresh_one_gives(tmp_path: Path) -> None:
    """A report on a chance outcome reaches its question through the cache (slot_log_lr)."""
    spec = load_spec(REFERENCE)
    chance = "haqqani_lobby_12m"  # stays as a lobby: reads the chance slot lobby.haqqani
    node, actor = (spec.questions[chance].fields[f] for f in ("lobby", "actor"))
    draws = prior_draws(spec, 60, seed=4)
    samples = {k: v.reshape(2, 30, -1) for k, v in draws.items() if v.shape[1]}
    settings = FitSettings(draws=30, chains=2)
    fitted = EvidenceSet.of([])
    posterior = Posterior(spec, fitted, samples, settings, {"evidence_sha256": fitted.sha256})
    report = item("r", "report", "2020-01-10", target=f"{node}.{actor}", favours=True,
                  strength="strongly")  # fmt: skip
    later = EvidenceSet.of([report])
    warm = Updater(posterior, settings)
    first = warm.per_draw(fitted)[chance]
    np.testing.assert_array_equal(
        warm.per_draw(later)[chance], Updater(posterior, settings).per_draw(later)[chance]
    )
    assert not np.allclose(warm.per_draw(later)[chance], first)  # the report moves it
