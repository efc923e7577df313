"""The shipped theatres: each model file and its record load, check and resolve its questions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from allegiance.evidence import in_force
from allegiance.evidence.outcomes import resolutions
from allegiance.spec import load_spec
from allegiance.workflow.forecasting import record_of

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
# Theatres other than the reference model, each with its record after the analysis date.
THEATRES = (
    "syria_nusra_2016",
    "somalia_shabaab_2015",
    "pakistan_ttp_2014",
    "lake_chad_boko_haram_2016",
    "sahel_jihadists_2016",
)
MIN_RESOLVED = 15


def _records(model_id: str) -> list[Path]:
    return [p for p in (MODELS / f"{model_id}.evidence.yaml", MODELS / f"{model_id}.record.yaml")
            if p.exists()]  # fmt: skip


def test_every_model_file_is_a_theatre_with_its_record() -> None:
    models = sorted(
        p.name[: -len(".yaml")] for p in MODELS.glob("*.yaml") if p.stem.count(".") == 0
    )
    assert set(THEATRES) < set(models) and "afghanistan_2020" in models
    for model_id in models:
        assert load_spec(MODELS / f"{model_id}.yaml").id == model_id
        assert _records(model_id), f"{model_id} has no evidence file"


@pytest.mark.parametrize("model_id", THEATRES)
def test_a_theatre_record_is_sourced_dated_and_resolves_its_questions(model_id: str) -> None:
    spec = load_spec(MODELS / f"{model_id}.yaml")
    items = record_of(spec, _records(model_id))  # checked together as one ledger would
    for i in items:
        assert i.source.strip() and i.grade, i.id
        assert i.recorded_at is not None, f"{i.id}: no date it became public"
        assert i.recorded_at.date() >= i.date, f"{i.id}: public before it happened"
        assert i.date >= spec.analysis_date, f"{i.id}: before the analysis date"
    resolved = resolutions(spec, in_force(items))
    assert len(resolved) >= MIN_RESOLVED, sorted(resolved)
    assert set(resolved) <= set(spec.questions)
    outcomes = {r.outcome for r in resolved.values()}
    assert outcomes == {True, False}, "a record that resolves every question one way"


def test_no_engine_code_names_a_theatre_or_its_parts() -> None:
    """The engine is driven by the files alone: no id of a theatre appears in the package.

    (The reference model's ids do appear, in the docstrings' examples.)
    """
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "allegiance").rglob("*.py"))
    for model_id in THEATRES:
        spec = load_spec(MODELS / f"{model_id}.yaml")
        ids = {spec.id, *spec.actors, *spec.conditions, *spec.propensities, *spec.series}
        named = [i for i in ids if len(i) >= 6 and re.search(rf"\b{re.escape(i)}\b", source)]
        assert not named, f"{model_id}: the engine names {named}"


# Theatres written before the grids and dated provenance existed: their files keep
# the provenance in comments. Shrink-only: a new theatre is written the new way.
WITHOUT_DATED_PROVENANCE = ("afghanistan_2020", "syria_nusra_2016", "somalia_shabaab_2015")


def _theatres() -> list[str]:
    return sorted(p.stem for p in MODELS.glob("*.yaml") if "." not in p.stem)


@pytest.mark.parametrize("model_id", _theatres())
def test_a_theatre_written_before_scoring_dates_every_part_before_its_analysis(
    model_id: str,
) -> None:
    spec = load_spec(MODELS / f"{model_id}.yaml")
    assert any(q.origin == "grid" for q in spec.questions.values()), "no question grid"
    if model_id in WITHOUT_DATED_PROVENANCE:
        return
    parts = [(f"actors.{a.id}", a.known_from) for a in spec.actors.values()]
    parts += [(f"propensities.{p.id}", p.known_from) for p in spec.propensities.values()]
    for key, known in parts:
        assert known is not None, f"{model_id}: {key} has no known_from"
        assert known.date <= spec.analysis_date and known.source.strip(), key
    # Its record starts after the analysis date: nothing of it could have shaped a prior.
    items = record_of(spec, _records(model_id))
    assert all(i.date >= spec.analysis_date for i in items)
