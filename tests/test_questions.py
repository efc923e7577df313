"""Each question kind against a direct simulation of the events it resolves on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from allegiance.evidence import EvidenceSet, model_data
from allegiance.forecast import probabilities
from allegiance.forecast.questions import COMPUTE
from allegiance.model.quantities import quantities
from allegiance.model.stocks import joining
from allegiance.spec import load_spec, months_between
from allegiance.spec.fields import QUESTION_FIELDS
from conftest import FIXTURES
from helpers import item, prior_draws, with_items
from helpers_spec import edited_spec_error

N_SIM = 200_000


@pytest.fixture(scope="module")
def setting(reference_spec, reference_evidence):
    evidence = with_items(
        reference_evidence,
        item(
            "clash_2020_01",
            "count",
            "2020-01-31",
            series="clashes",
            category="taliban_isk",
            month="2020-01",
            count=25,
        ),
        item(
            "tal_2020_01",
            "count",
            "2020-01-31",
            series="defectors_to_isk",
            category="taliban",
            month="2020-01",
            count=300,
        ),
        item(
            "quiet", "no_event", "2020-03-01", hazard="leave", actor="haqqani", through="2020-03-01"
        ),
    )
    draws = prior_draws(reference_spec, 4, seed=11)
    # Raise departures so the compound events are not all rare.
    draws["baseline"][:, :3] = 0.6
    q = quantities(reference_spec, model_data(reference_spec, evidence), draws)
    return reference_spec, q


def simulate(spec, q, question, s, z, rng):
    """Simulate the question's events; return them with each simulation's importance weight.

    A report on a chance outcome is evidence about it: each simulated outcome is
    weighted by the report's likelihood (its ratio if the outcome happened, 1 if
    not), so the weighted frequency is the probability given the report.
    """
    f = question.fields
    horizon = question.horizon_months
    weight = np.ones(N_SIM)

    def leave(actor):
        k = q.slot(f["hazard"], actor)
        months = horizon - q.exposure_months(k)
        return rng.random(N_SIM) < 1 - np.exp(q.sub_log1m_p[s, k, q.sub_index[k, z]]) ** months

    def chance(node, actor):
        nonlocal weight
        k = q.slot(node, actor)
        happened = rng.random(N_SIM) < np.exp(q.sub_log_p[s, k, q.sub_index[k, z]])
        weight = weight * np.where(happened, np.exp(q.data.slot_log_lr[k]), 1.0)
        return happened

    def future_counts(channel, months):
        log_rate, index = q.channel_log_rate(channel)
        mu = np.exp(log_rate[s, index[z]])
        alpha = 1 / q.overdispersion[s, channel]
        return stats.nbinom.rvs(
            alpha, alpha / (alpha + mu), size=(N_SIM, months), random_state=rng
        ).sum(axis=1)

    if question.kind == "holds":
        switch = spec.conditions[f["condition"]].switch
        if switch is None:
            b = spec.binary_conditions.index(f["condition"])
            return np.full(N_SIM, q.configurations[b, z] > 0), weight
        if switch.date is not None:
            return np.full(N_SIM, switch.date <= question.horizon), weight
        k = q.slot(*switch.after)
        fire = np.exp(q.sub_log_p[s, k, q.sub_index[k, z]])
        return q.exposure_months(k) + rng.geometric(fire, N_SIM) - 1 < horizon, weight
    if question.kind in ("stock_above", "stock_below"):  # the base, plus a splinter joining
        size = q.stock_at(f["stock"], horizon)[s, z]
        for hazard, actor, destination in joining(spec, f["stock"]):
            k = q.slot(hazard, actor)
            months = horizon - q.exposure_months(k)
            gone = rng.random(N_SIM) < 1 - np.exp(q.sub_log1m_p[s, k, q.sub_index[k, z]]) ** months
            went = rng.random(N_SIM) < q.share(hazard, actor, destination)[s, z]
            size = size + (gone & went) * spec.actors[actor].fighters
        above = size >= f["threshold"]
        return (above if question.kind == "stock_above" else ~above), weight
    if question.kind in ("leaves", "event"):
        return leave(f.get("actor", "")), weight
    if question.kind == "stays_as_lobby":
        events = ~leave(f["actor"]) & chance(f["lobby"], f["actor"])
        return events, weight
    if question.kind == "alliance":
        hit = np.zeros(N_SIM, bool)
        for a in f["actors"]:
            hit |= leave(a) & chance(f["aligns"], a)
        return hit, weight
    if question.kind == "exits":
        hit = np.zeros(N_SIM, bool)
        for a in f["actors"]:
            names = list(spec.propensities[f["hazard"]].destinations)
            shares = [q.share(f["hazard"], a, d)[s, z] for d in names]
            went = rng.choice(len(names), size=N_SIM, p=np.array(shares) / sum(shares))
            hit |= leave(a) & np.isin(went, [names.index(d) for d in f["destinations"]])
        return hit, weight
    if question.kind == "any_event":
        hit = np.zeros(N_SIM, bool)
        for a in f["actors"]:
            hit |= leave(a)
        return hit, weight
    if question.kind == "friction":
        hit = np.zeros(N_SIM, bool)
        for a in f["actors"]:
            hit |= ~leave(a) & chance(f["lobby"], a) & chance(f["friction"], a)
        return hit, weight
    channel = q.channel(f["series"], f["category"])
    if question.kind in ("count", "fighters_leave"):
        first = months_between(spec.analysis_date, f["start"]) if "start" in f else 0
        seen, months_seen = q.post_counts(channel, horizon, first)
        total = seen + future_counts(channel, horizon - first - months_seen)
        needed = f.get("threshold") or f["share"] * spec.actors[f["actor"]].fighters
        return total >= needed, weight
    seen, months_seen = q.post_counts(channel, horizon)
    total = seen + future_counts(channel, horizon - months_seen)
    if question.kind == "absorption":
        for a in f["actors"]:
            merged = leave(a) & chance(f["aligns"], a) & chance(f["joins"], a)
            total = total + merged * spec.actors[a].fighters
        return total >= f["threshold"], weight
    assert question.kind == "escalation"
    baseline = np.exp(q.log_rate_pre[s, channel])
    return total >= np.ceil(f["ratio"] * horizon * baseline), weight


@pytest.fixture(scope="module")
def kinds_setting():
    """The kinds fixture model, with counts seen before and inside a window and a raid."""
    spec = load_spec(FIXTURES / "models" / "kinds.yaml")
    counts = [
        item(f"d{m}", "count", f"2020-{m:02d}-28", series="defectors", category="rank_and_file",
             month=f"2020-{m:02d}", count=c)
        for m, c in ((2, 30), (3, 12), (7, 40))
    ]  # fmt: skip
    quiet = item("calm", "no_event", "2020-04-01", hazard="truce_breaks", actor="",
                 through="2020-04-01")  # fmt: skip
    evidence = EvidenceSet.of([*counts, quiet])
    draws = prior_draws(spec, 4, seed=12)
    return spec, quantities(spec, model_data(spec, evidence), draws)


@pytest.fixture(scope="module")
def switches_setting():
    """The switches fixture model, the leader alive through February."""
    spec = load_spec(FIXTURES / "models" / "switches.yaml")
    alive = item("alive", "no_event", "2020-03-01", hazard="leader_killed", actor="",
                 through="2020-03-01")  # fmt: skip
    draws = prior_draws(spec, 4, seed=13)
    return spec, quantities(spec, model_data(spec, EvidenceSet.of([alive])), draws)


@pytest.fixture(scope="module")
def stocks_setting():
    """The stocks fixture model, thresholds moved to where a merger decides them."""
    spec = load_spec(FIXTURES / "models" / "stocks.yaml")
    draws = prior_draws(spec, 4, seed=14)
    draws["stock_start"][:, 0] = [1300.0, 1100.0, 1450.0, 700.0]
    return spec, quantities(spec, model_data(spec, EvidenceSet.of([])), draws)


# Kinds asked of the fixture models with the features they need, not of the reference model.
NEW_KINDS = ("event", "any_event", "count", "exits", "fighters_leave")
SWITCH_KINDS = ("holds",)
STOCK_KINDS = ("stock_above", "stock_below")


@pytest.mark.parametrize("kind", sorted(QUESTION_FIELDS))
def test_question_kind_matches_simulation(
    setting, kinds_setting, switches_setting, stocks_setting, kind
):
    spec, q = kinds_setting if kind in NEW_KINDS else setting
    spec, q = switches_setting if kind in SWITCH_KINDS else (spec, q)
    spec, q = stocks_setting if kind in STOCK_KINDS else (spec, q)
    rng = np.random.default_rng(7)
    questions = [x for x in spec.questions.values() if x.kind == kind]
    assert questions, f"the model has no {kind} question"
    for question in questions:
        exact = COMPUTE[kind](q, question)
        for s, z in ((0, 0), (1, q.n_configurations - 1), (2, 37 % q.n_configurations),
                     (3, 200 % q.n_configurations)):  # fmt: skip
            events, weight = simulate(spec, q, question, s, z, rng)
            sim = np.sum(weight * events) / np.sum(weight)
            ess = np.sum(weight) ** 2 / np.sum(weight**2)
            se = np.sqrt(max(exact[s, z] * (1 - exact[s, z]), 1e-4) / ess)
            assert abs(sim - exact[s, z]) < 5 * se, (question.id, s, z, sim, exact[s, z])


def test_probabilities_in_blocks_equal_one_weighted_sum_over_configurations(setting):
    """probabilities() works in blocks of draws; the blocks must add up to the whole."""
    spec, q = setting
    data = q.data
    draws = prior_draws(spec, 4, seed=11)
    draws["baseline"][:, :3] = 0.6
    got = probabilities(spec, data, draws)
    for qid, question in spec.questions.items():
        per_config = COMPUTE[question.kind](q, question)
        want = (np.exp(q.log_weights) * per_config).sum(axis=-1)
        np.testing.assert_allclose(got[qid], want, rtol=1e-12, atol=1e-12)
        assert np.all((got[qid] >= 0) & (got[qid] <= 1))


def test_longer_horizon_is_never_less_likely(reference_spec, reference_evidence):
    draws = prior_draws(reference_spec, 400, seed=5)
    got = probabilities(reference_spec, model_data(reference_spec, reference_evidence), draws)
    for short, long in (
        ("haqqani_leaves_12m", "haqqani_leaves_24m"),
        ("alliance_12m", "alliance_24m"),
    ):
        assert np.all(got[long] >= got[short] - 1e-12)


@pytest.mark.parametrize("model", ["reference", "kinds", "switches", "stocks"])
def test_a_question_reads_only_the_evidence_it_declares(
    setting, kinds_setting, switches_setting, stocks_setting, model
):
    """The fast path caches each question on the slots and channels :func:`reads` names."""
    from dataclasses import replace

    from allegiance.forecast.questions import reads

    spec, q = {"reference": setting, "kinds": kinds_setting, "switches": switches_setting,
               "stocks": stocks_setting}[model]  # fmt: skip
    h = spec.history_months
    for question in spec.questions.values():
        compute = COMPUTE[question.kind]
        before = compute(q, question)
        slots, channels = reads(spec, question)
        data = q.data
        other_slots = [k for k in range(len(spec.slots)) if k not in slots]
        other_channels = [j for j in range(len(spec.channels)) if j not in channels]
        events, exposure = data.slot_events.copy(), data.slot_nonevents.copy()
        events[other_slots] = 1.0
        exposure[other_slots] += 3.0
        counts, mask = data.counts.copy(), data.count_mask.copy()
        counts[other_channels, h:] += 40.0
        mask[other_channels, h:] = 1.0
        changed = replace(
            data, slot_events=events, slot_nonevents=exposure, counts=counts, count_mask=mask
        )
        np.testing.assert_array_equal(compute(replace(q, data=changed), question), before)
        # What it declares does matter: a departure of its first slot moves a hazard question.
        if question.kind in ("leaves", "alliance", "absorption", "event"):
            events = data.slot_events.copy()
            events[slots[0]] = 1.0
            moved = compute(replace(q, data=replace(data, slot_events=events)), question)
            assert not np.allclose(moved, before), question.id


def test_a_departure_answers_only_the_horizons_after_it(reference_spec, reference_evidence):
    """A faction that left in its 20th month had not left by month 12: no for 12, yes for 24."""
    from allegiance.spec import months_between

    spec, month = reference_spec, 20
    first = spec.analysis_date.replace(day=1)
    when = first.replace(year=first.year + (first.month - 1 + month) // 12,
                         month=(first.month - 1 + month) % 12 + 1)  # fmt: skip
    assert months_between(spec.analysis_date, when) == month
    left = item("left_late", "event", when.isoformat(), hazard="leave", actor="haqqani",
                month=when.strftime("%Y-%m"))  # fmt: skip
    data = model_data(spec, with_items(reference_evidence, left))
    q = quantities(spec, data, prior_draws(spec, 3, seed=2))
    assert np.all(COMPUTE["leaves"](q, spec.questions["haqqani_leaves_12m"]) == 0.0)
    assert np.all(COMPUTE["leaves"](q, spec.questions["haqqani_leaves_24m"]) == 1.0)


def test_a_count_on_record_is_seen_in_full_whatever_its_grade(reference_spec):
    """The grade weighs a count's likelihood, not the number the question adds up."""
    import dataclasses

    from allegiance.evidence import EvidenceSet

    spec = reference_spec
    months = ("2019-12", "2020-01")
    counts = [
        item(f"t_{m}", "count", f"{m}-28", series="defectors_to_isk", category="taliban",
             month=m, count=40)
        for m in months
    ]  # fmt: skip
    channel = spec.channels.index(("defectors_to_isk", "taliban"))
    seen = []
    for grade in ("A1", "C3"):
        graded = [dataclasses.replace(c, grade=grade) for c in counts]
        q = quantities(spec, model_data(spec, EvidenceSet.of(graded)), prior_draws(spec, 2, seed=1))
        seen.append(q.post_counts(channel, 12))
    assert seen == [(80.0, 2), (80.0, 2)]


@pytest.mark.parametrize("report_date", ["2020-06-15", "2021-03-10"])
def test_a_report_of_a_departure_agrees_with_enumerating_its_month(report_date):
    """P(left by the horizon | survived t months, a report that it left by month m) from
    the closed form, against a sum over every departure month weighted by the report."""
    import dataclasses
    import datetime as dt

    from allegiance.evidence import EvidenceSet
    from allegiance.spec import load_spec, months_between
    from helpers_spec import MINIMAL

    spec = load_spec(MINIMAL)
    quiet = item("quiet", "no_event", "2020-03-01", hazard="leave", actor="splinter",
                 through="2020-03-01")  # fmt: skip
    said = item("said", "report", report_date, target="leave.splinter", favours=True,
                likelihood_ratio=6.0)  # fmt: skip
    said = dataclasses.replace(said, grade="C3")
    q = quantities(spec, model_data(spec, EvidenceSet.of([quiet, said])), prior_draws(spec, 4, 5))
    question = spec.questions["splinter_leaves_12m"]
    got = COMPUTE["leaves"](q, question)
    t, horizon = 2, question.horizon_months
    m = months_between(spec.analysis_date, dt.date.fromisoformat(report_date)) + 1
    lr = 6.0**0.36
    p = q.slot_p(spec.slots.index(("leave", "splinter")))
    months = np.arange(t, 3000)  # departure month j, given survival through month t
    pi = (1 - p[..., None]) ** (months - t) * p[..., None]
    w = np.where(months < m, lr, 1.0) * pi
    tail = (1 - p) ** (months[-1] + 1 - t)  # departures after the last month summed
    want = w[..., months < horizon].sum(-1) / (w.sum(-1) + tail)
    np.testing.assert_allclose(got, want, rtol=1e-7)


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        (
            "    hazard: raids\n    actor: rival\n",
            "    hazard: raids\n",
            "questions.rival_raids_6m.actor",
            "say whose event",
        ),
        (
            "    hazard: truce_breaks\n",
            "    hazard: truce_breaks\n    actor: rival\n",
            "questions.truce_breaks_12m.hazard",
            "has no member 'rival'",
        ),
        (
            "    start: 2020-07-01\n",
            "    start: 2019-07-01\n",
            "questions.defectors_150_h2.start",
            "not from the analysis date",
        ),
        (
            "    start: 2020-07-01\n",
            "    start: 2021-02-01\n",
            "questions.defectors_150_h2.start",
            "before the horizon",
        ),
        (
            "    start: 2020-07-01\n",
            "    start: July\n",
            "questions.defectors_150_h2.start",
            "not a date",
        ),
        (
            "    threshold: 150\n",
            "    threshold: many\n",
            "questions.defectors_150_h2.threshold",
            "expected a number",
        ),
        (
            "    share: 0.3333\n",
            "    share: 1.5\n",
            "questions.third_of_splinter_defects_12m.share",
            "not in (0, 1]",
        ),
        (
            "    actor: splinter\n    share: 0.3333\n",
            "    actor: rival\n    share: 0.3333\n",
            "questions.third_of_splinter_defects_12m.actor",
            "no fighters declared",
        ),
        (
            "prior: {probability: 0.5, range: [0.2, 0.8]}",
            "prior: {probability: 0.7, range: [0.4, 0.9]}",
            "propensities.leave.destinations",
            "add up to 1.200",
        ),
        (
            'targets: ["leave:ally_rival"',
            'targets: ["leave:surrender"',
            "effects.deal_pushes_to_rival.targets[0]",
            "not a destination",
        ),
        (
            "destinations: [join_rival, ally_rival]",
            "destinations: [join_rival, surrender]",
            "questions.splinter_joins_or_allies_12m.destinations[1]",
            "not a destination",
        ),
        (
            "      join_rival:\n        text: joins the rival group\n",
            "      join-rival:\n        text: joins the rival group\n",
            "propensities.leave.destinations.join-rival",
            "not a valid id",
        ),
    ],
)
def test_a_wrong_question_or_destination_is_refused(tmp_path, old, new, key, words):
    error = edited_spec_error(FIXTURES / "models" / "kinds.yaml", old, new, tmp_path)
    assert key in str(error) and words in str(error)


def test_events_of_no_one_actor_and_window_counts_resolve_from_the_record(tmp_path):
    import datetime as dt

    from allegiance.evidence import read_items
    from allegiance.evidence.outcomes import resolutions

    spec = load_spec(FIXTURES / "models" / "kinds.yaml")
    path = tmp_path / "ev.yaml"
    path.write_text(
        "schema_version: 1\nmodel: kinds\nitems:\n"
        "  - {id: broke, kind: event, date: 2020-05-20, source: s, grade: B2,"
        " hazard: truce_breaks, month: 2020-05}\n"
        + "".join(
            f"  - {{id: d{m}, kind: count, date: 2020-{m:02d}-28, source: s, grade: B2,"
            f" series: defectors, category: rank_and_file, month: 2020-{m:02d}, count: 80}}\n"
            for m in (3, 7, 9)
        )
    )
    items = read_items(path, spec)
    assert items[0].fields == {"hazard": "truce_breaks", "actor": "", "month": "2020-05"}
    found = resolutions(spec, items, as_of=dt.date(2020, 10, 1))
    assert found["truce_breaks_12m"].outcome and found["truce_breaks_12m"].item_id == "broke"
    assert found["defectors_150_h2"].outcome and found["defectors_150_h2"].item_id == "d9"
    assert "defectors_300_12m" not in found  # 240 of 300 so far
    assert found["third_of_splinter_defects_12m"].item_id == "d7"  # 160 of the splinter's 300
    # A public hazard with no raid on record by the horizon closes as no.
    assert not found["rival_raids_6m"].outcome
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "schema_version: 1\nmodel: kinds\nitems:\n"
        "  - {id: x, kind: no_event, date: 2020-03-01, source: s,"
        " grade: B2, hazard: raids, through: 2020-03-01}\n"
    )
    from allegiance.errors import EvidenceError

    with pytest.raises(EvidenceError, match=r"items\[0\]\.actor.*missing required key"):
        read_items(wrong, spec)


def test_the_dirichlet_honours_the_stated_shares():
    from allegiance.spec.beliefs import stated_beliefs

    spec = load_spec(FIXTURES / "models" / "kinds.yaml")
    found = spec.propensities["leave"].destinations
    for name, stated in (("join_rival", 0.3), ("ally_rival", 0.2), ("alone", 0.5)):
        total = sum(d.weight.params["alpha"] for d in found.values())
        assert found[name].weight.params["alpha"] / total == pytest.approx(stated, rel=1e-9)
        # each share's 90 % interval under the Dirichlet is near the stated range
        a = found[name].weight.params["alpha"]
        total = sum(d.weight.params["alpha"] for d in found.values())
        lo, hi = stats.beta(a, total - a).interval(0.9)
        want_lo, want_hi = found[name].share.prior.interval()
        assert lo == pytest.approx(want_lo, rel=0.5) and hi == pytest.approx(want_hi, rel=0.25)
    names = [n for n, _ in stated_beliefs(spec)]
    assert "share leave:ally_rival" in names


def test_a_departure_with_its_destination_resolves_an_exits_question(tmp_path):
    import datetime as dt

    from allegiance.errors import EvidenceError
    from allegiance.evidence import read_items
    from allegiance.evidence.outcomes import resolutions

    spec = load_spec(FIXTURES / "models" / "kinds.yaml")
    path = tmp_path / "ev.yaml"
    head = "schema_version: 1\nmodel: kinds\nitems:\n"
    path.write_text(
        head + "  - {id: split, kind: event, date: 2020-05-20, source: s, grade: B2,"
        " hazard: leave, actor: splinter, month: 2020-05, destination: ally_rival}\n"
    )
    items = read_items(path, spec)
    found = resolutions(spec, items, as_of=dt.date(2020, 6, 1))
    assert found["splinter_joins_or_allies_12m"].outcome
    # Gone elsewhere: one departure, so no; on the day it is on record.
    path.write_text(path.read_text().replace("ally_rival", "alone"))
    elsewhere = resolutions(spec, read_items(path, spec))["splinter_joins_or_allies_12m"]
    assert not elsewhere.outcome and elsewhere.date == dt.date(2020, 5, 20)
    # Gone, destination unknown: open.
    path.write_text(path.read_text().replace(", destination: alone", ""))
    assert "splinter_joins_or_allies_12m" not in resolutions(spec, read_items(path, spec))
    path.write_text(path.read_text().replace("2020-05}", "2020-05, destination: surrender}"))
    with pytest.raises(EvidenceError, match="not a destination of 'leave'"):
        read_items(path, spec)
