"""A corpus of malformed files, run through the command line: exit 2, file and key named.

Each file under ``tests/data/bad/`` has one defect. Model files go through
``allegiance check``; evidence files (for ``tests/fixtures/models/minimal.yaml``)
through ``allegiance check --evidence`` and ``allegiance evidence import``, which
must leave the ledger as it was.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from helpers_spec import MINIMAL, MINIMAL_EVIDENCE

BAD = Path(__file__).resolve().parent / "data" / "bad"
runner = CliRunner()
FILE = "(file)"  # the defect is in the YAML itself: the message names the line instead of a key
SYNTAX = "(syntax)"  # not valid YAML (a tab, a repeated key, a control character): line and column
NOT_UTF8 = "(not UTF-8)"  # the bytes are not UTF-8 text: the message says so, with line and column
CSV_SYNTAX = "(CSV syntax)"  # not valid CSV (a quote left open): the line its row starts at
WHERE = re.compile(r"line [0-9]+, column [0-9]+")

KEYS = {
    "evidence_empty.csv": "(header)",
    "evidence_not_utf8.csv": NOT_UTF8,
    "evidence_semicolon_separated.csv": "(header)",
    "evidence_unclosed_quote.csv": CSV_SYNTAX,
    "model_parent_list.yaml": "actors.splinter.parent",
    "model_propensity_actor_mapping.yaml": "propensities.leave.actors[0]",
    "model_effect_condition_list.yaml": "effects.deal_opens_exit.condition",
    "model_question_actor_list.yaml": "questions.splinter_leaves_12m.actor",
    "model_question_hazard_mapping.yaml": "questions.splinter_leaves_12m.hazard",
    "model_question_series_list.yaml": "questions.defections_double_6m.series",
    "model_fighters_huge.yaml": "actors.splinter.fighters",
    "model_range_huge.yaml": "conditions.deal.prior.range",
    "model_ratio_huge.yaml": "effects.deal_opens_exit.strength.ratio",
    "model_question_ratio_huge.yaml": "questions.defections_double_6m.ratio",
    "model_history_months_huge.yaml": "history_months",
    "model_prior_unknown_key.yaml": "conditions.deal.prior.rnage",
    "model_prior_word_and_probability.yaml": "conditions.deal.prior",
    "model_prior_word_and_range_nan.yaml": "conditions.funding.prior",
    "model_strength_word_and_ratio.yaml": "effects.deal_opens_exit.strength",
    "model_magnitude_unknown_key.yaml": "series.defectors.categories.rank_and_file.prior.median",
    "model_range_nan.yaml": "conditions.deal.prior.range",
    "model_typical_inf.yaml": "series.defectors.categories.rank_and_file.prior.typical",
    "model_nested.yaml": FILE,
    "model_alias_bomb.yaml": FILE,
    "evidence_condition_list.yaml": "items[0].condition",
    "evidence_hazard_mapping.yaml": "items[0].hazard",
    "evidence_series_list.yaml": "items[0].series",
    "evidence_category_mapping.yaml": "items[0].category",
    "evidence_actor_list.yaml": "items[0].actor",
    "evidence_target_list.yaml": "items[0].target",
    "evidence_stock_list.yaml": "items[0].stock",
    "evidence_count_huge.yaml": "items[0].count",
    "evidence_likelihood_ratio_huge.yaml": "items[0].likelihood_ratio",
    "evidence_items_zero.yaml": "items",
    "evidence_items_mapping.yaml": "items",
    "evidence_grade_newline.yaml": "items[0].grade",
    "evidence_date_basic_format.yaml": "items[0].date",
    "evidence_date_basic_format.csv": "items[0].date",
    "evidence_through_week_date.yaml": "items[0].through",
    "evidence_row_beyond_header.csv": "items[0]",
    "evidence_repeated_column.csv": "(header).id",
    "evidence_level_value_nan.yaml": "items[0].value",
    "evidence_level_value_inf.csv": "items[0].value",
    "evidence_count_range_inf.yaml": "items[0].count.range",
    "evidence_likelihood_ratio_nan.yaml": "items[0].likelihood_ratio",
    "evidence_nested.yaml": FILE,
    "evidence_alias_bomb.yaml": FILE,
    "evidence_nested_cell.csv": "items[0].value",
    "evidence_condition_list.csv": "items[0].condition",  # and it starts with a byte-order mark
    # a file that is no YAML, or no UTF-8 text, names its line; an impossible date names its key
    "model_analysis_date_feb30.yaml": "analysis_date",
    "model_analysis_date_month_13.yaml": "analysis_date",
    "model_binary.yaml": NOT_UTF8,
    "model_comments_only.yaml": "(top level)",
    "model_duplicate_actor.yaml": SYNTAX,
    "model_duplicate_key.yaml": SYNTAX,
    "model_empty.yaml": "(top level)",
    "model_horizon_feb30.yaml": "questions.splinter_leaves_12m.horizon",
    "model_not_utf8.yaml": NOT_UTF8,
    "model_nul_character.yaml": SYNTAX,
    "model_tab_indented.yaml": SYNTAX,
    "model_unclosed_bracket.yaml": SYNTAX,
    "model_unquoted_colon.yaml": SYNTAX,
    "model_utf16.yaml": NOT_UTF8,
    "evidence_alias.yaml": FILE,
    "evidence_bad_date_cell.csv": "items[0].date",
    "evidence_control_character.yaml": SYNTAX,
    "evidence_date_feb30.csv": "items[0].date",
    "evidence_date_feb30.yaml": "items[0].date",
    "evidence_date_month_13.yaml": "items[0].date",
    "evidence_duplicate_key.yaml": SYNTAX,
    "evidence_empty.yaml": "(top level)",
    "evidence_not_utf8.yaml": NOT_UTF8,
    "evidence_tab_indented.yaml": SYNTAX,
    "evidence_unquoted_colon.yaml": SYNTAX,
    # refusals that had no fix, or named a Python object or the wrong key
    "model_effect_ratio_below_one.yaml": "effects.deal_opens_exit.strength.ratio",
    "model_effect_targets_empty.yaml": "effects.deal_opens_exit.targets",
    "model_fighters_leave_share_above_one.yaml": "questions.third_leave.share",
    "model_id_clash.yaml": "series.deal",
    "model_public_not_bool.yaml": "propensities.leave.public",
    "model_question_unknown_category.yaml": "questions.defections_double_6m.category",
    "model_questions_empty.yaml": "questions",
    "model_scenario_value_not_bool.yaml": "scenarios.no_deal.set.deal",
    "model_series_typical_negative.yaml": "series.defectors.categories.rank_and_file.prior.typical",
    "model_stock_unknown_inflow.yaml": "stocks.splinter_fighters.inflows[0]",
    # a prior whose draws a float cannot hold (the sampler crashed on it)
    "model_rate_range_beyond_floats.yaml": "series.defectors.categories.rank_and_file.prior.range",
    "model_stock_growth_range_beyond_floats.yaml": "stocks.splinter_fighters.growth.prior.range",
    "evidence_count_contradiction.yaml": "items.defectors_2019_11_again",
    "evidence_event_contradiction.yaml": "items.splinter_left_again",
    "evidence_missing_kind.yaml": "items[0].kind",
    "evidence_outcome_value_text.yaml": "items[0].value",
    "evidence_report_favours_text.yaml": "items[0].favours",
    "evidence_resolution_outcome_unknown.yaml": "items[0].outcome",
    # a question about leaving a parent, of an actor that has none
    "model_leaves_actor_without_parent.yaml": "questions.splinter_leaves_12m.actor",
    # the plain defects of an analyst's file
    "model_actor_id_invalid.yaml": "actors.splinter-group",
    "model_actor_missing_name.yaml": "actors.splinter.name",
    "model_actor_role_unknown.yaml": "actors.splinter.role",
    "model_actors_list.yaml": "actors",
    "model_analysis_date_basic_format.yaml": "analysis_date",
    "model_analysis_date_text.yaml": "analysis_date",
    "model_baseline_member_unknown.yaml": "propensities.leave.baseline.parent_group",
    "model_condition_kind_unknown.yaml": "conditions.deal.kind",
    "model_condition_missing_prior.yaml": "conditions.deal.prior",
    "model_condition_missing_rationale.yaml": "conditions.deal.rationale",
    "model_count_start_before_analysis.yaml": "questions.forty_defect.start",
    "model_effect_direction_unknown.yaml": "effects.deal_opens_exit.direction",
    "model_effect_duplicate_id.yaml": "effects.deal_opens_exit",
    "model_effect_missing_direction.yaml": "effects.deal_opens_exit.direction",
    "model_effect_necessary_level.yaml": "effects.exit_needs_funding.condition",
    "model_effect_strength_unknown_word.yaml": "effects.deal_opens_exit.strength.word",
    "model_effect_unknown_condition.yaml": "effects.deal_opens_exit.condition",
    "model_effect_unknown_destination.yaml": "effects.deal_opens_exit.targets[0]",
    "model_effect_unknown_member.yaml": "effects.exit_needs_funding.targets[0]",
    "model_effect_unknown_target.yaml": "effects.deal_opens_exit.targets[0]",
    "model_effects_mapping.yaml": "effects",
    "model_fighters_negative.yaml": "actors.splinter.fighters",
    "model_fighters_text.yaml": "actors.splinter.fighters",
    "model_history_months_fraction.yaml": "history_months",
    "model_history_months_negative.yaml": "history_months",
    "model_holds_level_condition.yaml": "questions.spoils_hold.condition",
    "model_horizon_before_analysis_date.yaml": "questions.splinter_leaves_12m.horizon",
    "model_horizon_day_month_year.yaml": "questions.splinter_leaves_12m.horizon",
    "model_horizon_same_month.yaml": "questions.splinter_leaves_12m.horizon",
    "model_horizon_text.yaml": "questions.splinter_leaves_12m.horizon",
    "model_id_invalid.yaml": "id",
    "model_missing_actors.yaml": "actors",
    "model_missing_analysis_date.yaml": "analysis_date",
    "model_missing_conditions.yaml": "conditions",
    "model_missing_id.yaml": "id",
    "model_missing_propensities.yaml": "propensities",
    "model_missing_questions.yaml": "questions",
    "model_missing_schema_version.yaml": "schema_version",
    "model_missing_title.yaml": "title",
    "model_parent_cycle.yaml": "actors.parent_group.parent",
    "model_parent_self.yaml": "actors.splinter.parent",
    "model_parent_unknown.yaml": "actors.splinter.parent",
    "model_probability_above_one.yaml": "conditions.deal.prior.probability",
    "model_probability_negative.yaml": "conditions.deal.prior.probability",
    "model_probability_outside_range.yaml": "conditions.deal.prior.range",
    "model_probability_text.yaml": "conditions.deal.prior.probability",
    "model_propensity_kind_unknown.yaml": "propensities.leave.kind",
    "model_propensity_unknown_actor.yaml": "propensities.leave.actors[0]",
    "model_provenance_bad.yaml": "conditions.deal.provenance",
    "model_public_on_chance.yaml": "propensities.lobby.public",
    "model_question_actor_not_member.yaml": "questions.splinter_leaves_12m.hazard",
    "model_question_duplicate_id.yaml": "questions.splinter_leaves_12m",
    "model_question_hazard_is_chance.yaml": "questions.splinter_leaves_12m.hazard",
    "model_question_kind_unknown.yaml": "questions[0].kind",
    "model_question_missing_horizon.yaml": "questions[0].horizon",
    "model_question_ratio_negative.yaml": "questions.defections_double_6m.ratio",
    "model_question_unknown_actor.yaml": "questions.splinter_leaves_12m.actor",
    "model_question_unknown_hazard.yaml": "questions.splinter_leaves_12m.hazard",
    "model_question_unknown_key.yaml": "questions[1].threshold",
    "model_question_unknown_series.yaml": "questions.defections_double_6m.series",
    "model_range_above_one.yaml": "conditions.deal.prior.range",
    "model_range_one_number.yaml": "conditions.deal.prior.range",
    "model_range_reversed.yaml": "conditions.deal.prior.range",
    "model_scenario_empty_set.yaml": "scenarios.no_deal.set",
    "model_scenario_level_condition.yaml": "scenarios.no_deal.set.spoils",
    "model_scenario_mode_unknown.yaml": "scenarios.funded.mode",
    "model_scenario_unknown_condition.yaml": "scenarios.no_deal.set.peace_deal",
    "model_schema_version_2.yaml": "schema_version",
    "model_schema_version_text.yaml": "schema_version",
    "model_series_no_categories.yaml": "series.defectors.categories",
    "model_series_range_reversed.yaml": "series.defectors.categories.rank_and_file.prior.range",
    "model_stock_unknown_actor.yaml": "stocks.splinter_fighters.actor",
    # a baseline from a reference class: unknown, not yet known on the analysis date, badly
    # adjusted, or on a one-off chance
    "model_reference_class_unknown.yaml": "propensities.leave.baseline.reference_class",
    "model_reference_class_after_analysis.yaml": "propensities.leave.baseline.reference_class",
    "model_reference_adjust_range_reversed.yaml": "propensities.leave.baseline.adjust.range",
    "model_reference_class_on_chance.yaml": "propensities.lobby.baseline.reference_class",
    "model_switch_after_unknown_hazard.yaml": "conditions.capital_taken.after",
    "model_switch_date_and_after.yaml": "conditions.capital_taken",
    "model_switch_neither.yaml": "conditions.capital_taken",
    "model_switch_with_prior.yaml": "conditions.capital_taken.prior",
    "model_title_empty.yaml": "title",
    "model_too_many_binary.yaml": "conditions",
    "model_top_level_list.yaml": "(top level)",
    "model_top_level_scalar.yaml": "(top level)",
    "model_unknown_top_level_key.yaml": "scenario",
    "model_unknown_word.yaml": "conditions.funding.prior.word",
    "model_within_months_zero.yaml": "propensities.leave.within_months",
    "model_word_misspelt.yaml": "conditions.funding.prior.word",
    "evidence_actor_not_at_risk.yaml": "items[0].actor",
    "evidence_condition_value_not_bool.yaml": "items[0].value",
    "evidence_contradiction.yaml": "items.deal_unseen",
    "evidence_count_about_outside_range.yaml": "items[0].count.about",
    "evidence_count_fractional.yaml": "items[0].count",
    "evidence_count_month_13.yaml": "items[0].month",
    "evidence_count_month_outside_window.yaml": "items[0].month",
    "evidence_count_negative.csv": "items[0].count",
    "evidence_count_negative.yaml": "items[0].count",
    "evidence_count_range_reversed.yaml": "items[0].count.range",
    "evidence_count_text.yaml": "items[0].count",
    "evidence_date_after_recorded_at.yaml": "items[0].date",
    "evidence_date_day_first.yaml": "items[0].date",
    "evidence_date_text.yaml": "items[0].date",
    "evidence_duplicate_id.csv": "items[1].id",
    "evidence_duplicate_id.yaml": "items[1].id",
    "evidence_event_month_text.yaml": "items[0].month",
    "evidence_event_then_no_event.yaml": "items.splinter_quiet",
    "evidence_event_unknown_destination.yaml": "items[0].destination",
    "evidence_faction_event_unknown.yaml": "items[0].event",
    "evidence_faction_event_unknown_actor.yaml": "items[0].actor",
    "evidence_grade_b7.yaml": "items[0].grade",
    "evidence_grade_number.yaml": "items[0].grade",
    "evidence_grade_three_characters.yaml": "items[0].grade",
    "evidence_grade_z9.csv": "items[0].grade",
    "evidence_grade_z9.yaml": "items[0].grade",
    "evidence_hazard_is_chance.yaml": "items[0].hazard",
    "evidence_id_invalid.yaml": "items[0].id",
    "evidence_item_not_mapping.yaml": "items[0]",
    "evidence_kind_unknown.yaml": "items[0].kind",
    "evidence_level_value_above_one.yaml": "items[0].value",
    "evidence_level_value_negative.yaml": "items[0].value",
    "evidence_likelihood_ratio_negative.yaml": "items[0].likelihood_ratio",
    "evidence_likelihood_ratio_text.yaml": "items[0].likelihood_ratio",
    "evidence_likelihood_ratio_zero.csv": "items[0].likelihood_ratio",
    "evidence_likelihood_ratio_zero.yaml": "items[0].likelihood_ratio",
    "evidence_missing_date.yaml": "items[0].date",
    "evidence_missing_grade.yaml": "items[0].grade",
    "evidence_missing_id.yaml": "items[0].id",
    "evidence_missing_id_column.csv": "items[0].id",
    "evidence_missing_items.yaml": "items",
    "evidence_missing_model.yaml": "model",
    "evidence_missing_schema_version.yaml": "schema_version",
    "evidence_missing_source.yaml": "items[0].source",
    "evidence_no_event_missing_actor.yaml": "items[0].actor",
    "evidence_outcome_unknown_target.yaml": "items[0].target",
    "evidence_recorded_at_feb30.yaml": "items[0].recorded_at",
    "evidence_recorded_at_malformed.yaml": "items[0].recorded_at",
    "evidence_report_neither_ratio_nor_strength.yaml": "items[0]",
    "evidence_report_ratio_and_strength.yaml": "items[0]",
    "evidence_report_strength_unknown.yaml": "items[0].strength",
    "evidence_report_target_member_unknown.yaml": "items[0].target",
    "evidence_report_unknown_target.yaml": "items[0].target",
    "evidence_resolution_unknown_question.yaml": "items[0].question",
    "evidence_retraction_of_retraction.yaml": "items.retract_2.retracts",
    "evidence_retraction_twice.yaml": "items.retract_2.retracts",
    "evidence_retraction_unknown_id.yaml": "items.retract_x.retracts",
    "evidence_schema_version_2.yaml": "schema_version",
    "evidence_source_empty.yaml": "items[0].source",
    "evidence_strength_unknown_stock.yaml": "items[0].stock",
    "evidence_through_outside_window.yaml": "items[0].through",
    "evidence_through_text.yaml": "items[0].through",
    "evidence_top_level_list.yaml": "(top level)",
    "evidence_unknown_actor.yaml": "items[0].actor",
    "evidence_unknown_category.yaml": "items[0].category",
    "evidence_unknown_column.csv": "items[0].confidence",
    "evidence_unknown_condition.csv": "items[0].condition",
    "evidence_unknown_condition.yaml": "items[0].condition",
    "evidence_unknown_hazard.yaml": "items[0].hazard",
    "evidence_unknown_key.yaml": "items[0].confidence",
    "evidence_unknown_kind.csv": "items[0].kind",
    "evidence_unknown_series.yaml": "items[0].series",
    "evidence_unknown_top_level_key.yaml": "analyst",
    "evidence_value_not_bool.csv": "items[0].value",
    "evidence_wrong_model.yaml": "model",
}


def test_every_corpus_file_has_its_expected_key() -> None:
    assert {p.name for p in BAD.iterdir()} == set(KEYS)


def _refused(output: str, path: Path, key: str) -> None:
    said = " ".join(output.split())
    assert "Traceback" not in output and "Error:" not in output.replace("error:", ""), output
    assert str(path) in said, said
    if key == FILE:
        assert "line" in said and ("nested more than" in said or "aliases" in said), said
    elif key == SYNTAX:
        assert "not valid YAML" in said and WHERE.search(said) and "Fix:" in said, said
    elif key == CSV_SYNTAX:
        assert "not valid CSV" in said and re.search(r"at line [0-9]+", said), said
        assert "Fix: close every double quote" in said, said
    elif key == NOT_UTF8:
        assert "not UTF-8 text" in said and WHERE.search(said), said
        assert "Fix: save the file as UTF-8" in said, said
    else:
        assert f"at '{key}'" in said and "Fix:" in said, said
    assert len(said) < 1200, said  # never the whole of a huge value


@pytest.mark.parametrize("name", sorted(n for n in KEYS if n.startswith("model_")))
def test_a_bad_model_file_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "minimal.yaml"
    shutil.copy(BAD / name, path)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    _refused(result.output, path, KEYS[name])


def _export(model: Path, tmp_path: Path) -> str:
    out = tmp_path / "ledger_now.yaml"
    done = runner.invoke(app, ["evidence", "export", str(model), str(out)])
    assert done.exit_code == 0, done.output
    return out.read_text()


@pytest.mark.parametrize("name", sorted(n for n in KEYS if n.startswith("evidence_")))
def test_a_bad_evidence_file_is_refused_and_the_ledger_unchanged(tmp_path: Path, name: str) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    shutil.copy(MINIMAL_EVIDENCE, tmp_path / "minimal.evidence.yaml")  # fills the ledger
    path = tmp_path / name
    shutil.copy(BAD / name, path)
    checked = runner.invoke(app, ["check", str(model), "--evidence", str(path)])
    assert checked.exit_code == EXIT_BAD_INPUT, checked.output
    _refused(checked.output, path, KEYS[name])
    before = _export(model, tmp_path)
    imported = runner.invoke(app, ["evidence", "import", str(model), str(path)])
    assert imported.exit_code == EXIT_BAD_INPUT, imported.output
    _refused(imported.output, path, KEYS[name])
    assert _export(model, tmp_path) == before
