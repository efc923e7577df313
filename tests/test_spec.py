"""Loading and validating model files: the minimal model, the reference model, broken files."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest
from scipy import stats

from allegiance.errors import SpecError
from allegiance.spec import (
    MAX_BINARY_CONDITIONS,
    Justified,
    ModelSpec,
    load_spec,
    months_between,
)
from helpers_spec import MINIMAL, MODELS, REFERENCE, edited_spec_error, expect_error, wrong_files

# file → (expected key path, fragment of the problem text)
WRONG_MODELS: dict[str, tuple[str, str]] = {
    "wrong_yaml_syntax.yaml": ("", "not valid YAML"),
    "wrong_top_level_list.yaml": ("(top level)", "expected a mapping, got list"),
    "wrong_schema_version.yaml": ("schema_version", "version 2 is not supported"),
    "wrong_missing_title.yaml": ("title", "missing required key"),
    "wrong_missing_rationale.yaml": ("conditions.deal.rationale", "missing required key"),
    "wrong_unknown_top_key.yaml": ("histroy_months", "unknown key"),
    "wrong_unknown_actor_key.yaml": ("actors.splinter.fighter", "unknown key"),
    "wrong_bad_model_id.yaml": ("id", "'2020-minimal' is not a valid id"),
    "wrong_bad_effect_id.yaml": ("effects[0].id", "'deal opens exit' is not a valid id"),
    "wrong_bad_actor_id.yaml": ("actors.1st_group", "'1st_group' is not a valid id"),
    "wrong_analysis_date.yaml": ("analysis_date", "'early 2020' is not a date"),
    # YAML itself rejects 2020-13-01 while reading it as a timestamp.
    "wrong_analysis_date_impossible.yaml": ("analysis_date", "month must be in 1..12"),
    "wrong_parent_unknown.yaml": ("actors.splinter.parent", "unknown actor 'parent_grp'"),
    "wrong_self_parent.yaml": ("actors.parent_group.parent", "loops back on itself"),
    "wrong_schema_version_bool.yaml": ("schema_version", "version True is not supported"),
    "wrong_fighters_nan.yaml": ("actors.splinter.fighters", "expected a number >= 0, got nan"),
    "wrong_duplicate_key.yaml": ("", "key 'deal' appears twice"),
    "wrong_kind_list.yaml": ("conditions.deal.kind", "['binary'] is not one of"),
    "wrong_necessary_direction.yaml": (
        "effects.exit_needs_funding.direction",
        "a necessary condition has no direction",
    ),
    "wrong_actor_role.yaml": ("actors.splinter.role", "'splinter' is not one of parent"),
    "wrong_probability_above_one.yaml": (
        "conditions.deal.prior.probability",
        "probability 1.3 is outside (0, 1)",
    ),
    "wrong_range_not_around.yaml": (
        "conditions.deal.prior.range",
        "range [0.5, 0.8] must lie inside (0, 1) around 0.4",
    ),
    "wrong_range_reversed.yaml": ("conditions.deal.prior.range", "lower 0.7 is not below upper"),
    "wrong_range_too_narrow.yaml": ("conditions.deal.prior.range", "no Beta has mean 0.4"),
    "wrong_estimative_word.yaml": (
        "conditions.funding.prior.word",
        "unknown estimative word 'quite unlikely'",
    ),
    "wrong_strength_word.yaml": (
        "effects.deal_opens_exit.strength.word",
        "unknown strength word 'huge'",
    ),
    "wrong_ratio_below_one.yaml": (
        "effects.deal_opens_exit.strength.range",
        "need 1 < lower < ratio < upper",
    ),
    "wrong_leak_probability.yaml": (
        "effects.exit_needs_funding.leak.probability",
        "probability 1.3 is outside (0, 1)",
    ),
    "wrong_magnitude_range.yaml": (
        "series.defectors.categories.rank_and_file.prior.range",
        "need 0 < lower < typical < upper",
    ),
    "wrong_effect_condition.yaml": (
        "effects.deal_opens_exit.condition",
        "unknown condition 'dael'",
    ),
    "wrong_effect_target.yaml": ("effects.deal_opens_exit.targets[0]", "unknown target 'leav'"),
    "wrong_effect_target_member.yaml": (
        "effects.exit_needs_funding.targets[0]",
        "'parent_group' is not a member of 'leave'",
    ),
    "wrong_necessary_on_level.yaml": (
        "effects.exit_needs_funding.condition",
        "a necessary condition must be binary",
    ),
    "wrong_missing_direction.yaml": ("effects.deal_opens_exit.direction", "missing required key"),
    "wrong_direction_word.yaml": (
        "effects.deal_opens_exit.direction",
        "'increases' is not one of raises, lowers",
    ),
    "wrong_duplicate_effect_id.yaml": ("effects.deal_opens_exit", "duplicate effect id"),
    "wrong_hazard_without_actors.yaml": (
        "effects.exit_needs_funding.targets[0]",
        "'splinter' is not a member of 'leave'",
    ),
    "wrong_id_clash.yaml": ("series.lobby", "the same id names a condition, propensity, series"),
    "wrong_horizon_before.yaml": (
        "questions.splinter_leaves_12m.horizon",
        "horizon 2019-06-01 is not at least a month after the analysis date 2020-01-01",
    ),
    "wrong_question_kind.yaml": ("questions[0].kind", "'leave' is not one of leaves"),
    "wrong_question_actor.yaml": ("questions.splinter_leaves_12m.actor", "unknown actor 'splintr'"),
    "wrong_question_chance_as_hazard.yaml": (
        "questions.splinter_leaves_12m.hazard",
        "'lobby' is not a hazard propensity",
    ),
    "wrong_question_missing_field.yaml": ("questions[0].hazard", "missing required key"),
    "wrong_duplicate_question_id.yaml": ("questions.splinter_leaves_12m", "duplicate question id"),
    "wrong_provenance.yaml": (
        "conditions.deal.provenance",
        "provenance 'Giustozzi 2019' is neither a source claim nor 'analyst judgment'",
    ),
    "wrong_too_many_binary.yaml": ("conditions", "13 binary conditions"),
}


@pytest.fixture(scope="module")
def minimal() -> ModelSpec:
    return load_spec(MINIMAL)


# --- broken files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "fragment"), [(n, k, f) for n, (k, f) in WRONG_MODELS.items()]
)
def test_wrong_model_file_is_rejected_with_file_key_and_problem(
    name: str, key: str, fragment: str
) -> None:
    path = MODELS / name
    expect_error(lambda: load_spec(path), SpecError, path, key, fragment)


def test_every_broken_model_file_is_in_the_table() -> None:
    assert wrong_files(MODELS) == set(WRONG_MODELS)


@pytest.mark.parametrize("name", sorted(WRONG_MODELS))
def test_broken_model_file_states_its_defect(name: str) -> None:
    assert (MODELS / name).read_text(encoding="utf-8").startswith("# Defect: ")


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    expect_error(lambda: load_spec(path), SpecError, path, "", "cannot read the file")


def test_file_that_is_not_utf8_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(
        MINIMAL.read_text(encoding="utf-8")
        .replace("Parent group", "Groupe p\u00e8re")
        .encode("latin-1")
    )
    expect_error(lambda: load_spec(path), SpecError, path, "", "not UTF-8 text")


# --- the minimal model -------------------------------------------------------------------


def test_minimal_model_loads_with_its_declared_parts(minimal: ModelSpec) -> None:
    assert minimal.id == "minimal"
    assert minimal.analysis_date == dt.date(2020, 1, 1)
    assert list(minimal.actors) == ["parent_group", "splinter"]
    assert minimal.actors["splinter"].parent == "parent_group"
    assert minimal.actors["splinter"].fighters == 300.0
    assert minimal.binary_conditions == ["deal", "funding"]
    assert minimal.level_conditions == ["spoils"]
    assert minimal.slots == [("leave", "splinter"), ("lobby", "splinter")]
    assert minimal.channels == [("defectors", "rank_and_file")]
    assert [(e.id, e.kind) for e in minimal.effects] == [
        ("deal_opens_exit", "shift"),
        ("exit_needs_funding", "necessary"),
    ]
    assert list(minimal.questions) == ["splinter_leaves_12m", "defections_double_6m"]


def test_minimal_model_priors_take_the_right_families(minimal: ModelSpec) -> None:
    assert minimal.conditions["deal"].belief.prior.family == "beta"
    assert minimal.propensities["leave"].baselines["splinter"].prior.family == "beta"
    assert minimal.series["defectors"].baselines["rank_and_file"].prior.family == "lognormal"
    shift, necessary = minimal.effects
    assert shift.belief.prior.family == "gamma"
    assert necessary.belief.prior.family == "beta"
    # The necessary effect's prior is its leak, a probability of 0.15.
    assert necessary.belief.prior.centre() == pytest.approx(0.15, abs=1e-9)


def test_minimal_model_effects_resolve_targets_and_directions(minimal: ModelSpec) -> None:
    shift, necessary = minimal.effects
    assert shift.condition == "deal"
    assert [str(t) for t in shift.targets] == ["leave"]
    assert shift.targets[0].member is None
    assert shift.direction == 1
    assert [str(t) for t in necessary.targets] == ["leave.splinter"]
    assert necessary.targets[0].member == "splinter"


def test_lowers_gives_a_negative_direction(tmp_path: Path) -> None:
    path = tmp_path / "lowers.yaml"
    text = MINIMAL.read_text(encoding="utf-8")
    assert text.count("direction: raises") == 1
    path.write_text(text.replace("direction: raises", "direction: lowers"), encoding="utf-8")
    assert load_spec(path).effects[0].direction == -1


def test_minimal_model_windows_and_horizons(minimal: ModelSpec) -> None:
    leaves = minimal.questions["splinter_leaves_12m"]
    escalation = minimal.questions["defections_double_6m"]
    assert leaves.horizon_months == 12
    assert escalation.horizon_months == 6
    assert leaves.fields == {"actor": "splinter", "hazard": "leave"}
    assert escalation.fields == {"series": "defectors", "category": "rank_and_file", "ratio": 2.0}
    assert minimal.history_months == 6
    assert minimal.forward_months == 12
    assert minimal.window_months == 18


def test_months_between_counts_calendar_months() -> None:
    assert months_between(dt.date(2020, 1, 31), dt.date(2020, 2, 1)) == 1
    assert months_between(dt.date(2020, 1, 1), dt.date(2021, 1, 1)) == 12
    assert months_between(dt.date(2020, 1, 1), dt.date(2019, 7, 15)) == -6


def test_twelve_binary_conditions_are_allowed(tmp_path: Path) -> None:
    extra = "".join(
        f"  extra_{i:02d}:\n    kind: binary\n    text: Extra {i}.\n"
        "    prior: {probability: 0.5, range: [0.2, 0.8]}\n"
        "    rationale: Filler.\n    provenance: analyst judgment\n"
        for i in range(MAX_BINARY_CONDITIONS - 2)
    )
    text = MINIMAL.read_text(encoding="utf-8").replace("\npropensities:", extra + "\npropensities:")
    path = tmp_path / "twelve.yaml"
    path.write_text(text, encoding="utf-8")
    assert len(load_spec(path).binary_conditions) == MAX_BINARY_CONDITIONS


# --- the hash ---------------------------------------------------------------------------


def test_spec_hash_is_the_sha256_of_the_file_bytes(minimal: ModelSpec) -> None:
    assert minimal.sha256 == hashlib.sha256(MINIMAL.read_bytes()).hexdigest()


def test_spec_hash_changes_when_the_bytes_change(tmp_path: Path, minimal: ModelSpec) -> None:
    copy = tmp_path / "copy.yaml"
    shutil.copyfile(MINIMAL, copy)
    assert load_spec(copy).sha256 == minimal.sha256  # same bytes, other path: same hash
    copy.write_bytes(MINIMAL.read_bytes() + b"# an added comment\n")
    edited = load_spec(copy)
    assert edited.sha256 != minimal.sha256
    assert edited.binary_conditions == minimal.binary_conditions  # same model, other bytes


# --- the reference model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> ModelSpec:
    return load_spec(REFERENCE)


def test_reference_model_loads_with_its_conditions(reference: ModelSpec) -> None:
    assert reference.id == "afghanistan_2020"
    assert len(reference.binary_conditions) == 8
    assert len(reference.level_conditions) == 3
    assert reference.level_conditions == [
        "spoils_haqqani",
        "spoils_north_shura",
        "spoils_eastern_fronts",
    ]


def _beliefs(spec: ModelSpec) -> list[tuple[str, Justified]]:
    out: list[tuple[str, Justified]] = []
    out += [(f"conditions.{c.id}", c.belief) for c in spec.conditions.values()]
    out += [
        (f"propensities.{p.id}.baseline.{a}", b)
        for p in spec.propensities.values()
        for a, b in p.baselines.items()
    ]
    out += [(f"effects.{e.id}", e.belief) for e in spec.effects]
    out += [(f"series.{s.id}.{c}", b) for s in spec.series.values() for c, b in s.baselines.items()]
    return out


def test_every_reference_belief_carries_rationale_and_provenance(reference: ModelSpec) -> None:
    beliefs = _beliefs(reference)
    n_baselines = sum(len(p.actors) for p in reference.propensities.values())
    assert len(beliefs) == 11 + n_baselines + len(reference.effects) + len(reference.channels)
    assert len(reference.effects) == 17
    for where, belief in beliefs:
        assert belief.rationale.strip(), where
        assert belief.provenance == "analyst judgment" or belief.provenance.startswith(
            "source: "
        ), where
        assert belief.provenance.removeprefix("source: ").strip(), where
    assert any(b.provenance.startswith("source: ") for _, b in beliefs)


def test_reference_priors_honour_their_statements(reference: ModelSpec) -> None:
    for where, belief in _beliefs(reference):
        prior = belief.prior
        statement = prior.statement
        if prior.family == "beta" and "probability" in statement:
            dist = stats.beta(prior.params["alpha"], prior.params["beta"])
            lo, hi = statement["range"]
            assert dist.mean() == pytest.approx(statement["probability"], abs=1e-6), where
            assert dist.cdf(hi) - dist.cdf(lo) == pytest.approx(0.90, abs=1e-6), where


def test_a_horizon_covers_the_months_before_its_own() -> None:
    from allegiance.spec import months_covered

    start = dt.date(2016, 1, 1)
    assert months_covered(start, dt.date(2016, 12, 31)) == "2016-01 to 2016-11 (11 months)"
    assert months_covered(start, dt.date(2017, 1, 1)) == "2016-01 to 2016-12 (12 months)"
    assert (
        months_covered(dt.date(2019, 12, 15), dt.date(2020, 2, 1))
        == "2019-12 to 2020-01 (2 months)"
    )


# --- priors beyond what floats hold ------------------------------------------------------------

STOCKS = MODELS / "stocks.yaml"
BEYOND = "spans too many orders of magnitude"
SERIES_RATE = "prior: {typical: 20, range: [5, 80]}"
PROBABILITY_BEYOND = "{probability: 0.1, range: [1.0e-200, 0.9]}"


@pytest.mark.parametrize(
    ("model", "old", "new", "key"),
    [
        (MINIMAL, "{probability: 0.4, range: [0.15, 0.7]}", PROBABILITY_BEYOND,
         "conditions.deal.prior.range"),
        (MINIMAL, "{probability: 0.1, range: [0.03, 0.25]}", PROBABILITY_BEYOND,
         "propensities.leave.baseline.prior.range"),
        (MINIMAL, "{ratio: 3, range: [1.5, 8]}", "{ratio: 2, range: [1.0000000001, 1.0e+300]}",
         "effects.deal_opens_exit.strength.range"),
        (MINIMAL, "{ratio: 3, range: [1.5, 8]}", "{ratio: 1.0e+300, range: [1.5, 1.0e+308]}",
         "effects.deal_opens_exit.strength.range"),
        (MINIMAL, "{probability: 0.15, range: [0.04, 0.35]}", PROBABILITY_BEYOND,
         "effects.exit_needs_funding.leak.range"),
        (MINIMAL, SERIES_RATE, "prior: {typical: 20, range: [1.0e-320, 1.0e+300]}",
         "series.defectors.categories.rank_and_file.prior.range"),
        (MINIMAL, SERIES_RATE, "prior: {typical: 1.0e-310, range: [1.0e-311, 1.0e-309]}",
         "series.defectors.categories.rank_and_file.prior.range"),
        (MINIMAL, "    categories:\n      rank_and_file:",
         "    overdispersion: {prior: {typical: 2, range: [1.0e-200, 1.0e+200]}, rationale: R.,"
         " provenance: analyst judgment}\n    categories:\n      rank_and_file:",
         "series.defectors.overdispersion.prior.range"),
        (STOCKS, "{typical: 1000, range: [600, 1800]}",
         "{typical: 1000, range: [1.0e-320, 1.0e+300]}",
         "stocks.rival_fighters.start.prior.range"),
        (STOCKS, "{typical: 1.0, range: [0.8, 1.25]}",
         "{typical: 1.0, range: [1.0e-200, 1.0e+200]}",
         "stocks.rival_fighters.growth.prior.range"),
        (STOCKS, "prior: {probability: 0.5, range: [0.2, 0.8]}\n          rationale: The rival",
         f"prior: {PROBABILITY_BEYOND}\n          rationale: The rival",
         "propensities.leave.destinations.join_rival.share.prior.range"),
    ],
    ids=["condition", "baseline", "strength", "strength_median", "leak", "series_rate",
         "series_rate_tiny", "overdispersion", "stock_start", "stock_growth", "destination"],
)  # fmt: skip
def test_a_prior_beyond_what_floats_hold_is_refused_at_its_range(
    tmp_path: Path, model: Path, old: str, new: str, key: str
) -> None:
    """Draws of such a prior overflow or vanish in the sampler (a range of [1e-320, 1e300]
    made the forecast crash): every place a prior is read refuses it, naming the fix."""
    err = edited_spec_error(model, old, new, tmp_path)
    assert err.key == key and BEYOND in err.problem and "narrow the range" in err.fix, err


@pytest.mark.parametrize(
    "node",
    [{"typical": 20, "range": [1e-60, 1e60]}, {"ratio": 3, "range": [1.5, 1e20]},
     {"probability": 0.1, "range": [1e-12, 0.9]}],
    ids=["magnitude", "ratio", "probability"],
)  # fmt: skip
def test_a_wide_range_a_float_holds_is_kept(node: dict[str, object]) -> None:
    """The refusal is not of wide ranges as such: one whose tails a float holds is accepted,
    and its distribution's one-in-a-million tails are finite and nonzero where it is used."""
    import math
    import sys

    from allegiance.spec.priors import magnitude_prior, probability_prior, ratio_prior

    read = {"typical": magnitude_prior, "ratio": ratio_prior, "probability": probability_prior}
    prior = next(f for k, f in read.items() if k in node)(node, MINIMAL, "k")
    a, b = prior.params.get("alpha"), prior.params.get("beta")
    if prior.family == "beta":  # log-odds: neither tail at 0 or 1 (1 - p is Beta(b, a))
        tails = [stats.beta(a, b).ppf(1e-6), stats.beta(b, a).ppf(1e-6)]
    elif prior.family == "gamma":  # a log-ratio: the largest ratio drawn is a float
        tails = [math.exp(prior.frozen().ppf(1 - 1e-6))]
    else:
        tails = list(prior.frozen().ppf([1e-6, 1 - 1e-6]))
    assert all(sys.float_info.min < t < math.inf for t in tails), tails
