"""Scenarios: do() against observation, each against an independent computation."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import special
from typer.testing import CliRunner

from allegiance.cli import EXIT_BAD_INPUT, app
from allegiance.evidence import EvidenceSet, ModelData, in_force, model_data, read_items
from allegiance.forecast import compute, probabilities
from allegiance.model import numpy_ops
from allegiance.model.quantities import quantities
from allegiance.model.structure import structure
from allegiance.model.terms import terms
from allegiance.posterior import FitSettings, Posterior
from allegiance.spec import ModelSpec, load_spec
from allegiance.update.scenarios import draw_blocks, scenario_draws
from helpers import item, prior_draws
from helpers_spec import MINIMAL, MINIMAL_EVIDENCE, MODELS


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(MINIMAL)


@pytest.fixture(scope="module")
def evidence(spec: ModelSpec) -> EvidenceSet:
    return EvidenceSet.of(in_force(read_items(MINIMAL_EVIDENCE, spec)))


def test_observing_a_condition_is_conditioning_on_a_certain_observation(
    spec: ModelSpec, evidence: EvidenceSet
) -> None:
    """Per draw: the forecast given an A1 observation of funding; across draws: weights
    proportional to the marginal likelihood of that observation, from the model's terms."""
    draws = prior_draws(spec, 40, seed=21)
    data = model_data(spec, evidence)
    got, log_w = scenario_draws(spec, draw_blocks(spec, data, draws), {"funding": True}, "observe")
    seen = dataclasses.replace(item("f", "condition", "2020-01-05", condition="funding",
                                    value=True), grade="A1")  # fmt: skip
    with_seen = model_data(spec, EvidenceSet.of([*evidence.items, seen]))
    want = probabilities(spec, with_seen, draws)
    for qid in spec.questions:
        np.testing.assert_allclose(got[qid], want[qid], rtol=1e-9, atol=1e-15)
    st = structure(spec)

    def log_marginal(d: ModelData) -> np.ndarray:
        t = terms(draws, d.arrays(), st, numpy_ops())
        return special.logsumexp(t["log_joint"], axis=-1) + t["constant"]

    ratio = log_marginal(with_seen) - log_marginal(data)
    np.testing.assert_allclose(log_w, ratio - special.logsumexp(ratio), rtol=1e-9, atol=1e-9)


def test_setting_a_condition_moves_each_configuration_onto_its_counterpart(
    spec: ModelSpec, evidence: EvidenceSet
) -> None:
    draws = prior_draws(spec, 30, seed=22)
    data = model_data(spec, evidence)
    got, log_w = scenario_draws(spec, draw_blocks(spec, data, draws), {"deal": False}, "do")
    assert np.allclose(log_w, -np.log(30))
    q = quantities(spec, data, draws)
    configs = structure(spec).configurations
    b = spec.binary_conditions.index("deal")
    w = np.exp(q.log_weights)
    for qid, question in spec.questions.items():
        per_config = compute(q, question)
        want = np.zeros(30)
        for z in range(configs.shape[1]):  # a loop over configurations, by their columns
            target = configs[:, z].copy()
            target[b] = 0.0
            (z2,) = np.flatnonzero((configs == target[:, None]).all(axis=0))
            want += w[:, z] * per_config[:, z2]
        np.testing.assert_allclose(got[qid], want, rtol=1e-10)


@pytest.mark.slow
def test_do_and_observe_differ_where_the_evidence_explains_away(
    spec: ModelSpec, fitted: Callable[..., Posterior]
) -> None:
    """The splinter survived to October. Learning that it has the funding it needs to leave
    says its hazard is low (explaining away the survival), so its departure is less likely
    than if funding were simply given to it, the survival still read as before."""
    import arviz as az

    quiet = item("quiet", "no_event", "2020-10-01", hazard="leave", actor="splinter",
                 through="2020-10-01")  # fmt: skip
    evidence = EvidenceSet.of([quiet])
    posterior = fitted(spec, evidence, FitSettings(draws=1000, tune=500))
    data, draws = model_data(spec, evidence), posterior.flat_draws()
    qid = "splinter_leaves_12m"
    done, _ = scenario_draws(spec, draw_blocks(spec, data, draws), {"funding": True}, "do")
    seen, log_w = scenario_draws(spec, draw_blocks(spec, data, draws), {"funding": True}, "observe")
    p_do, p_seen = done[qid].mean(), float(np.exp(log_w) @ seen[qid])
    # Monte Carlo error of the difference, both from the same chains.
    n = done[qid].size
    x = (n * np.exp(log_w) * seen[qid] - done[qid]).reshape(posterior.shape)
    se = float(np.std(x) / np.sqrt(az.ess(x, method="mean")))
    assert p_seen < p_do - 4 * se, (p_seen, p_do, se)


def test_the_scenario_command_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    runner = CliRunner()
    bad = runner.invoke(app, ["scenario", str(model), "--set", "deal=maybe"])
    assert bad.exit_code == EXIT_BAD_INPUT and "condition=true" in bad.output
    unknown = runner.invoke(app, ["scenario", str(model), "--set", "peace=true"])
    assert unknown.exit_code == EXIT_BAD_INPUT and "unknown binary condition" in unknown.output
    assert "deal, funding" in unknown.output  # the model's own ids


def test_the_value_of_learning_a_condition_is_the_expected_change(
    spec: ModelSpec, evidence: EvidenceSet
) -> None:
    """Against scenarios: P(c = v) from the configuration weights, P(q | c = v) from
    observing it, averaged over the draws as a fit's equal weights average them."""
    from allegiance.update.scenarios import information_value

    draws = prior_draws(spec, 25, seed=23)
    data = model_data(spec, evidence)
    value = information_value(spec, draw_blocks(spec, data, draws))
    q = quantities(spec, data, draws)
    configs = structure(spec).configurations
    base = probabilities(spec, data, draws)
    for c in spec.binary_conditions:
        b = spec.binary_conditions.index(c)
        p_true = float((np.exp(q.log_weights) @ configs[b]).mean())
        for qid in spec.questions:
            p = base[qid].mean()
            want = 0.0
            for v, pv in ((True, p_true), (False, 1 - p_true)):
                seen, log_w = scenario_draws(
                    spec, draw_blocks(spec, data, draws), {c: v}, "observe"
                )
                want += pv * abs(float(np.exp(log_w) @ seen[qid]) - p)
            assert value[qid][c] == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert any(v > 0.01 for v in value["splinter_leaves_12m"].values())


def test_the_one_pass_effects_are_the_do_scenarios(spec: ModelSpec, evidence: EvidenceSet) -> None:
    from allegiance.update.scenarios import what_matters

    draws = prior_draws(spec, 20, seed=24)
    data = model_data(spec, evidence)
    _, effects = what_matters(spec, draw_blocks(spec, data, draws))
    for c in spec.binary_conditions:
        on, _ = scenario_draws(spec, draw_blocks(spec, data, draws), {c: True})
        off, _ = scenario_draws(spec, draw_blocks(spec, data, draws), {c: False})
        for qid in spec.questions:
            want = on[qid].mean() - off[qid].mean()
            assert effects[c][qid] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_named_scenarios_are_read_from_the_model_file(spec: ModelSpec) -> None:
    assert spec.scenarios["no_deal"].setting == {"deal": False}
    assert spec.scenarios["no_deal"].mode == "do"
    assert spec.scenarios["funded"].mode == "observe"
    reference = load_spec(Path(__file__).resolve().parents[1] / "models" / "afghanistan_2020.yaml")
    for s in reference.scenarios.values():
        assert s.text and set(s.setting) <= set(reference.binary_conditions)


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ("  x:\n    text: t\n    set: {peace: true}\n", "scenarios.x.set.peace", "deal, funding"),
        ("  x:\n    text: t\n    set: {spoils: true}\n", "scenarios.x.set.spoils", "not a binary"),
        ("  x:\n    text: t\n    set: {deal: 'yes'}\n", "scenarios.x.set.deal", "true or false"),
        ("  x:\n    text: t\n    set: {}\n", "scenarios.x.set", "sets no condition"),
        ("  x:\n    text: t\n    set: {deal: true}\n    mode: wish\n", "scenarios.x.mode", "do"),
        ("  x:\n    text: t\n    sett: {deal: true}\n", "scenarios.x", "set"),
        ("  x-y:\n    text: t\n    set: {deal: true}\n", "scenarios.x-y", "not a valid id"),
    ],
)
def test_a_wrong_named_scenario_is_refused_with_its_key(
    tmp_path: Path, body: str, key: str, words: str
) -> None:
    from allegiance.errors import SpecError

    text = MINIMAL.read_text()
    model = tmp_path / "m.yaml"
    model.write_text(text[: text.index("scenarios:")] + "scenarios:\n" + body)
    with pytest.raises(SpecError) as caught:
        load_spec(model)
    message = str(caught.value)
    assert str(model) in message and key in message and words in message


def test_the_scenario_command_runs_a_named_scenario(tmp_path: Path) -> None:
    model = tmp_path / "minimal.yaml"
    shutil.copy(MINIMAL, model)
    runner = CliRunner()
    args = ["--as-of", "2019-12-01"]  # no evidence: a small model fits fast
    named = runner.invoke(app, ["scenario", str(model), "no_deal", *args])
    assert named.exit_code == 0, named.output
    assert "Scenario no_deal: do(deal=false)" in " ".join(named.stdout.split())
    by_hand = runner.invoke(app, ["scenario", str(model), "--set", "deal=false", *args])
    assert by_hand.exit_code == 0, by_hand.output
    rows = [line for line in named.stdout.splitlines() if "_leaves_" in line or "_12m" in line]
    assert rows and all(row in by_hand.stdout for row in rows)  # the same numbers
    unknown = runner.invoke(app, ["scenario", str(model), "peace"])
    assert unknown.exit_code == EXIT_BAD_INPUT and "no_deal, funded" in unknown.output
    nothing = runner.invoke(app, ["scenario", str(model)])
    assert nothing.exit_code == EXIT_BAD_INPUT and "--set" in nothing.output


def test_a_model_without_conditions_has_nothing_to_learn_or_set() -> None:
    from allegiance.update.scenarios import what_matters

    bare = load_spec(MODELS / "beta_binomial.yaml")
    assert not bare.binary_conditions
    draws = prior_draws(bare, 20, seed=23)
    data = model_data(bare, EvidenceSet.of([]))
    information, effects = what_matters(bare, draw_blocks(bare, data, draws))
    assert information == {qid: {} for qid in bare.questions} and information
    assert effects == {}
