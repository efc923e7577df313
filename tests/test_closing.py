"""Questions close when the record settles them: time passing on record, and questions of others."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from allegiance.evidence import Item
from allegiance.evidence.outcomes import resolutions, time_passing
from allegiance.forecast import summarise
from allegiance.posterior import Diagnostics
from allegiance.spec import ModelSpec, load_spec
from conftest import FIXTURES, REFERENCE
from helpers import item
from helpers_spec import MINIMAL

D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def afghanistan() -> ModelSpec:
    return load_spec(REFERENCE)  # leave is public with a month's lag; horizons 1 December


def quiet(item_id: str, when: str, through: str, actor: str = "", hazard: str = "leave") -> Item:
    return item(item_id, "no_event", when, hazard=hazard, actor=actor, through=through)


def left(actor: str, when: str, hazard: str = "leave", **more: object) -> Item:
    return item(f"{actor}_left", "event", when, hazard=hazard, actor=actor, month=when[:7], **more)


def seen(target: str, when: str, value: bool) -> Item:
    return item(f"seen_{target}", "outcome", when, target=target, value=value)


def test_a_no_event_through_the_whole_window_closes_the_question() -> None:
    spec = load_spec(MINIMAL)  # splinter_leaves_12m: 1 January 2021, leave not public
    covering = quiet("calm", "2021-01-04", "2021-01-01", "splinter")
    (found,) = resolutions(spec, [covering], D("2021-02-01")).values()
    assert (found.question, found.outcome, found.date) == (
        "splinter_leaves_12m",
        False,
        D("2021-01-04"),
    )
    assert found.item_id == "calm" and found.source == "test"
    # Through 31 December counts November's end, by the month convention: December is open.
    assert resolutions(spec, [quiet("calm", "2021-01-04", "2020-12-31", "splinter")]) == {}
    per_draw = {q: np.full(4, 0.3) for q in spec.questions}
    shown = summarise(
        spec, per_draw, Diagnostics(1.0, 1000.0, 1000.0, 0), {}, method="mcmc", reason="t",
        resolved=resolutions(spec, [covering], D("2021-02-01")), as_of=D("2021-02-01"),
    )  # fmt: skip
    (q,) = [q for q in shown.questions if q.id == "splinter_leaves_12m"]
    assert q.word == "resolved no" and q.resolved_on == "2021-01-04"


def test_survival_time_passing_implies_closes_a_question_on_the_public_rule_only() -> None:
    spec = load_spec(FIXTURES / "models" / "kinds.yaml")  # raids is public, no lag
    implied = time_passing(spec, [], D("2020-07-20"))
    assert any(i.fields["hazard"] == "raids" for i in implied)
    found = resolutions(spec, implied, D("2020-07-20"))["rival_raids_6m"]
    assert not found.outcome and found.date == D("2020-07-01")  # the horizon plus the lag


def test_an_alliance_closes_no_once_every_departure_it_needs_has_closed(
    afghanistan: ModelSpec,
) -> None:
    # haqqani's departure is settled by the analyst's call on its own question, the others by
    # the public rule a month after the horizon; the alliance closes on the later day.
    call = item("r", "resolution", "2020-12-01", question="haqqani_leaves_12m", outcome=False)
    assert "alliance_12m" not in resolutions(afghanistan, [call], D("2020-12-31"))
    found = resolutions(afghanistan, [call], D("2021-01-01"))["alliance_12m"]
    assert (found.outcome, found.date) == (False, D("2021-01-01")) and "public" in found.source
    # A no_event on record through the horizon settles it without waiting for the lag.
    notes = [quiet(f"q_{a}", f"2020-12-0{i + 2}", "2020-12-01", a)
             for i, a in enumerate(("haqqani", "north_shura", "eastern_fronts"))]  # fmt: skip
    found = resolutions(afghanistan, notes, D("2020-12-10"))["alliance_12m"]
    assert (found.outcome, found.date, found.item_id) == (
        False,
        D("2020-12-04"),
        "q_eastern_fronts",
    )
    assert "alliance_12m" not in resolutions(afghanistan, notes[:2], D("2020-12-10"))
    # One that left but is not seen allied leaves it open; seen not allied closes it.
    gone = [*notes[:2], left("eastern_fronts", "2020-06-10")]
    assert "alliance_12m" not in resolutions(afghanistan, gone, D("2020-12-10"))
    denied = seen("aligns_with_isk.eastern_fronts", "2020-07-01", False)
    found = resolutions(afghanistan, [*gone, denied], D("2020-12-10"))["alliance_12m"]
    assert (found.outcome, found.date) == (False, D("2020-12-03"))


def test_a_lobby_question_closes_no_on_the_departure_and_yes_on_a_stay_seen(
    afghanistan: ModelSpec,
) -> None:
    found = resolutions(afghanistan, [left("haqqani", "2020-05-10")], D("2020-06-01"))
    assert (found["haqqani_lobby_12m"].outcome, found["haqqani_lobby_12m"].date) == (
        False,
        D("2020-05-10"),
    )
    # Still inside (public rule) and seen sheltering jihadists: yes once both are settled.
    sheltering = seen("lobby.haqqani", "2020-09-01", True)
    assert "haqqani_lobby_12m" not in resolutions(afghanistan, [sheltering], D("2020-12-20"))
    found = resolutions(afghanistan, [sheltering], D("2021-01-01"))
    assert (found["haqqani_lobby_12m"].outcome, found["haqqani_lobby_12m"].date) == (
        True,
        D("2021-01-01"),
    )


def test_friction_closes_no_once_no_faction_stayed(afghanistan: ModelSpec) -> None:
    gone = [left("haqqani", "2020-03-10"), left("north_shura", "2020-08-02")]
    assert "friction_12m" not in resolutions(afghanistan, gone, D("2020-09-01"))
    every = [*gone, left("eastern_fronts", "2020-05-20")]
    found = resolutions(afghanistan, every, D("2020-09-01"))["friction_12m"]
    assert (found.outcome, found.date, found.item_id) == (
        False,
        D("2020-08-02"),
        "north_shura_left",
    )
    # A faction that stayed without friction seen closes it no as well, with the others gone.
    calm = [*gone, quiet("q", "2020-12-02", "2020-12-01", "eastern_fronts"),
            seen("friction.eastern_fronts", "2020-11-01", False)]  # fmt: skip
    assert not resolutions(afghanistan, calm, D("2020-12-05"))["friction_12m"].outcome


def test_exits_events_and_switches_close_on_the_departures_they_need() -> None:
    kinds = load_spec(FIXTURES / "models" / "kinds.yaml")
    stayed = quiet("q", "2021-01-03", "2021-01-01", "splinter")
    found = resolutions(kinds, [stayed], D("2021-01-05"))["splinter_joins_or_allies_12m"]
    assert (found.outcome, found.date) == (False, D("2021-01-03"))
    truce = quiet("t", "2021-01-02", "2021-01-01", hazard="truce_breaks")
    assert not resolutions(kinds, [truce], D("2021-01-05"))["truce_breaks_12m"].outcome
    switches = load_spec(FIXTURES / "models" / "switches.yaml")  # leader_dead: after leader_killed
    killed = left("", "2020-05-03", hazard="leader_killed")
    found = resolutions(switches, [killed], D("2020-05-10"))["leader_dead_by_july"]
    assert (found.outcome, found.date) == (True, D("2020-05-03"))
    alive = quiet("alive", "2020-07-02", "2020-07-01", hazard="leader_killed")
    found = resolutions(switches, [alive], D("2020-07-05"))["leader_dead_by_july"]
    assert (found.outcome, found.date) == (False, D("2020-07-01"))  # public: the earlier day
