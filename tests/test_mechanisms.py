"""The rules of assessment (考核), many actors, algorithmic bias and platform life, checked by hand on
tiny communities (tests.conftest.tiny_scenario: ten residents, one department "office", one category
"dispute"), and their bookkeeping: nothing lost, every re-opened case accounted for."""

from __future__ import annotations

import numpy as np
import pytest

from sim.cases import Channel, Status
from sim.model import GovernanceModel
from sim.scenario import ScenarioError, load_scenario, with_changes

from .conftest import small_scenario, tiny_scenario
from .test_model import _nothing_lost


def run_tiny(steps=150, seed=1, changes=None, **sections):
    """A tiny community's run; `changes`: dotted-path changes (e.g. of the `residents` section, whose
    name tiny_scenario's first argument takes)."""
    sc = tiny_scenario(10, **sections)
    if changes:
        sc = with_changes(sc, changes)
    m = GovernanceModel(sc, seed=seed)
    m.run(steps)
    return m


# Disputes that never escalate, reported by everyone, settled by no grid worker (no patrol), never truly
# fixed by the office: every closure is a closure without a fix.
NEVER_FIXED = dict(demand={"problems_per_resident_year": 10.0, "report_propensity": 1.0, "duplicate_share": 0.0,
                           "multi_department_share": 0.0, "severity_growth": 0.0,
                           "escalation_threshold": 2.0},
                   policies={"patrol_intensity": 0.0},
                   routing={"fix_base": 0.0, "fix_training_gain": 0.0, "misroute_base": 0.0})


def _with(base: dict, **extra) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for k, v in extra.items():
        out.setdefault(k, {}).update(v)
    return out


# --- Assessment: rules --------------------------------------------------------------------------
def test_incentives_effort_and_deterrence_by_hand():
    m = GovernanceModel(tiny_scenario(assessment={"pressure": 0.5, "weight_resolution": 0.45, "weight_satisfaction": 0.45,
                                                  "weight_speed": 0.1, "audit_rate": 0.1, "repeat_call_probability": 0.2,
                                                  "repeat_linking": 0.5, "penalty": 2.0, "gaming_propensity": 0.8}),
                        seed=1)
    a = m.assessment
    assert a.incentive["resolution"] == pytest.approx(0.5)
    assert a.incentive["speed"] == pytest.approx(0.5 * 0.1 / 0.45)
    assert a.fix_gain == pytest.approx(0.10 * 0.5)
    assert a.speed_factor == pytest.approx(1 + 0.20 * 0.5 * 0.1 / 0.45)
    p_found = 1 - 0.9 * (1 - 0.2 * 0.5)                    # audited, or a repeat call linked to the closure
    assert a.p_found == pytest.approx(p_found)
    assert a.p_game == pytest.approx(0.8 * 0.5 * (1 - 2.0 * p_found))
    assert a.p_lead == pytest.approx(0.8 * 0.5 * (1 - 2.0 * 0.1))


def test_without_pressure_reported_and_true_agree_exactly():
    m = GovernanceModel(small_scenario(), seeds=[1, 2])
    m.run()
    L = m.ledger
    assert L.closures[:, 0].min() > 50
    assert np.array_equal(L.closures[:, 0], L.closures[:, 2]) and np.array_equal(L.closures[:, 1], L.closures[:, 3])
    assert np.allclose(L.callbacks[:, 1], L.callbacks[:, 2])
    s = m.summaries()
    assert all(x["gap_resolution_reported"] == 0 and x["gap_satisfaction_reported"] == 0 for x in s)


def test_unpunished_gaming_reports_every_unfixed_closure_resolved():
    m = run_tiny(**_with(NEVER_FIXED, assessment={"pressure": 1.0, "effort_fix_gain": 0.0, "gaming_propensity": 1.0, "audit_rate": 0.0,
                                                  "repeat_call_probability": 0.0, "false_closure_share": 1.0}))
    L = m.ledger
    assert L.closures[0, 0] > 20
    assert L.closures[0, 1] == 0                      # nothing truly fixed
    assert L.closures[0, 3] == L.closures[0, 0]        # all reported resolved
    assert L.total("gamed")[0] == L.closures[0, 0]
    assert L.callbacks[0, 2] == L.callbacks[0, 0]      # every callback recorded satisfied
    s = m.summary()
    assert s["reported_resolution_rate"] == 1.0 and s["true_resolution_rate"] == 0.0


def test_withdrawn_and_reclassified_cases_leave_the_assessed_pool():
    m = run_tiny(**_with(NEVER_FIXED, assessment={"pressure": 1.0, "effort_fix_gain": 0.0, "gaming_propensity": 1.0, "audit_rate": 0.0,
                                                  "repeat_call_probability": 0.0, "false_closure_share": 0.0}))
    L = m.ledger
    escalated_known = m.ledger.finished[0, 2, 1, :].sum()      # an incident cannot be hidden
    assert L.closures[0, 0] > 20 and L.closures[0, 2] == escalated_known == L.callbacks[0, 0]


def test_a_heavy_enough_penalty_deters_all_gaming():
    m = run_tiny(**_with(NEVER_FIXED, assessment={"pressure": 1.0, "effort_fix_gain": 0.0, "gaming_propensity": 1.0, "audit_rate": 0.5,
                                                  "penalty": 2.0, "repeat_call_probability": 0.0}))
    assert m.assessment.p_game == 0.0 and m.assessment.p_lead == 0.0
    assert m.ledger.total("gamed")[0] == 0


def test_audits_find_gaming_and_reopen_the_case():
    """Every closure audited, no penalty (so gaming goes on): every gamed closure is found out, counted
    unresolved in the reported indicators, and sent back to the centre."""
    m = run_tiny(**_with(NEVER_FIXED, assessment={"pressure": 1.0, "effort_fix_gain": 0.0, "gaming_propensity": 1.0, "audit_rate": 1.0,
                                                  "penalty": 0.0, "repeat_call_probability": 0.0}))
    L = m.ledger
    gamed = L.total("gamed")[0]
    assert gamed > 20
    assert L.total("gaming_found")[0] == gamed == L.total("audit_reopened")[0]
    assert L.closures[0, 3] == 0 and L.closures[0, 2] == L.closures[0, 0]   # reported = true (all unresolved)
    assert L.total("audits")[0] == L.closures[0, 0]
    assert m.summary()["audit_cost"] == pytest.approx(L.closures[0, 0] * 300 / 1e6)


def test_repeat_calls_reopen_cases_and_count_as_new_contacts():
    m = run_tiny(**_with(NEVER_FIXED, assessment={"repeat_call_probability": 1.0}))
    L = m.ledger
    c = m.counts()
    repeats = L.total("repeat_calls")[0]
    assert repeats > 20
    # every closure is either re-opened or the final closure of a known problem
    known_final = int(m.ledger.finished[0, :3, 1, :].sum())
    assert L.closures[0, 0] == repeats + L.total("audit_reopened")[0] + known_final
    # repeat calls are reports again: more reports than problems
    assert c["reports"] > c["problems"]
    assert np.all(m.cases.reopens >= 0) and m.cases.reopens.sum() > 0
    _nothing_lost(m)


@pytest.mark.parametrize("name", ["strict_assessment", "strict_assessment_audited", "many_actors", "volunteers",
                                  "algorithmic_bias", "platform_unmaintained"])
def test_nothing_lost_and_every_reopened_case_accounted_for(name):
    m = GovernanceModel(load_scenario(name, {"population.residents_per_grid": 300, "run.steps": 240}), seeds=[11, 12])
    for _ in range(240):
        m.step()
        _nothing_lost(m)
    L = m.ledger
    reopened = L.total("repeat_calls") + L.total("audit_reopened")
    known_final = m.ledger.finished[:, :3, 1, :].sum(axis=(1, 2))
    assert np.array_equal(L.closures[:, 0], reopened + known_final)
    assert np.all(L.closures[:, 2] <= L.closures[:, 0]) and np.all(L.closures[:, 3] <= L.closures[:, 2])


# --- Many actors --------------------------------------------------------------------------------
HELPERS = {"helpers": {"categories": ["dispute"], "capacity_per_10k": 1000.0, "quality": 1.0, "service_days": 1.0,
                       "cost_per_case": 100.0}}


def test_delegated_cases_are_handled_by_the_actor_not_the_department():
    m = run_tiny(**_with(NEVER_FIXED, actors={"delegation_share": 1.0, "types": HELPERS},
                         assessment={"repeat_call_probability": 0.0}))
    c = m.counts()
    assert c["actor_cases"] == c["filed"] - int((m.cases.status == Status.FILED).sum()) > 20
    assert m.ledger.services.sum() == 0                      # the office never served a case
    assert c["unresolved"] == 0 and c["resolved_known"] >= c["actor_cases"] - int((m.cases.status == Status.WITH_ACTOR).sum())
    assert m.summary()["actor_cost"] == pytest.approx(c["actor_cases"] * 100 / 1e6)


def test_actor_capacity_limits_the_cases_it_takes():
    one_in_5_days = {"helpers": {**HELPERS["helpers"], "capacity_per_10k": 200.0}}   # 10 residents: 0.2 a day
    m = run_tiny(steps=150, **_with(NEVER_FIXED, actors={"delegation_share": 1.0, "types": one_in_5_days}))
    assert m.actors.capacity[m.actors.names.index("helpers"), 0] == pytest.approx(0.2)
    c = m.counts()
    assert 0 < c["actor_cases"] <= 150 * 0.2 + 1.4 and c["actor_cases"] < c["filed"]


def test_actors_reach_only_their_kinds_of_community():
    estate_only = {"helpers": {**HELPERS["helpers"], "kinds": ["commodity_estate"]}}
    m = run_tiny(**_with(NEVER_FIXED, actors={"delegation_share": 1.0, "types": estate_only}))
    assert m.counts()["actor_cases"] == 0


def test_unknown_actor_category_is_an_error_when_actors_are_used():
    with pytest.raises(ScenarioError, match="actors.types.helpers.categories"):
        tiny_scenario(actors={"delegation_share": 0.5, "types": {"helpers": {"categories": ["disputes"]}}})
    tiny_scenario(actors={"delegation_share": 0.0})   # the default types name categories the tiny one lacks


# --- The community's own staff (小事不出社区) -----------------------------------------------------
SMALL_MATTER = {"dispute": {"share": 1.0, "departments": ["office"], "severity": 0.5, "deadline_days": 7.0,
                            "settle_on_spot": True, "community_settles": True}}
OWN_STAFF = dict(staffing={"community_capacity_per_10k": 200.0},            # 10 residents: 0.2 a day
                 routing={"community_fix": 1.0, "community_days": 1.0}, assessment={"repeat_call_probability": 0.0})


def test_the_community_settles_small_matters_itself_within_its_capacity():
    """0.2 small matters a day, taken whenever a whole case of credit has built up (the credit carries over
    up to 2 × 0.2 + 1): at most 150 × 0.2 + 1.4 in 150 days. The office never truly fixes a case, the
    community always does: every resolved problem was the community's, and the office served only the rest."""
    m = run_tiny(**_with(NEVER_FIXED, demand={"categories": SMALL_MATTER}, **OWN_STAFF))
    assert m.actors.names[0] == "community" and m.actors.capacity[0, 0] == pytest.approx(0.2)
    c = m.counts()
    with_community = int(((m.cases.status == Status.WITH_ACTOR) & (m.cases.actor == 0)).sum())
    assert 10 < c["community_cases"] <= 150 * 0.2 + 1.4 and c["community_cases"] < c["filed"]
    assert c["actor_cases"] == 0
    assert c["resolved_known"] == c["community_cases"] - with_community
    assert m.summary()["community_share"] == pytest.approx(c["community_cases"] / c["filed"])
    assert m.summary()["actor_cost"] == 0


def test_the_community_takes_only_the_categories_it_settles():
    m = run_tiny(**_with(NEVER_FIXED, **OWN_STAFF))   # tiny's dispute is not marked community_settles
    assert m.counts()["community_cases"] == 0


def test_the_community_takes_its_small_matters_before_the_centre_hands_any_to_actors():
    """Actors with room for every case, offered all of them: the community still takes as many as its
    capacity allows, and the actors take the rest."""
    m = run_tiny(**_with(NEVER_FIXED, demand={"categories": SMALL_MATTER}, **OWN_STAFF,
                         actors={"delegation_share": 1.0, "types": HELPERS}))
    c = m.counts()
    assert 10 < c["community_cases"] <= 150 * 0.2 + 1.4
    assert c["actor_cases"] > 0 and c["community_cases"] + c["actor_cases"] == c["filed"] - int(
        (m.cases.status == Status.FILED).sum())


def test_own_capacity_comes_from_the_community_then_its_kind_then_staffing():
    from sim.scenario import resolved_communities
    sc = load_scenario("mixed_district.yaml", {"staffing.community_capacity_per_10k": 0.7})
    kinds = sc.population.community_kinds
    assert [c.community_capacity_per_10k for c in resolved_communities(sc)] == \
        [kinds[c.kind].community_capacity_per_10k for c in resolved_communities(sc)]
    listed = tiny_scenario(population={"communities": [{"grids": 1, "residents_per_grid": 10},
                                                       {"grids": 1, "residents_per_grid": 10,
                                                        "community_capacity_per_10k": 5.0}]},
                           staffing={"community_capacity_per_10k": 0.7})
    assert [c.community_capacity_per_10k for c in resolved_communities(listed)] == [0.7, 5.0]


def test_a_pilot_gives_one_community_its_own_staff_from_a_day_on():
    """Community staff piloted in community 1 from day 50 (a timeline lever per community): community 0
    never settles anything; community 1 takes small matters only after day 50, and communities.csv says
    how many each handled and settled."""
    two = {"communities": [{"grids": 1, "residents_per_grid": 10}, {"grids": 1, "residents_per_grid": 10}]}
    pilot = [{"day": 50, "communities": [1], "set": {"staffing.community_capacity_per_10k": 200.0}}]
    sc = tiny_scenario(**_with(NEVER_FIXED, demand={"categories": SMALL_MATTER}, population=two,
                               routing={"community_fix": 1.0, "community_days": 1.0},
                               assessment={"repeat_call_probability": 0.0}), timeline=pilot)
    m = GovernanceModel(sc, seed=1)
    m.run(49)
    assert m.counts()["community_cases"] == 0
    m.run(101)
    frame = m.community_frame()
    staff, settled = frame["community_staff"].tolist(), frame["community_settled"].tolist()
    assert staff[0] == 0 and 5 < staff[1] <= 100 * 0.2 + 1.4
    assert settled == staff                  # community_fix 1: every case they take is fixed
    taken = m.counts()["community_cases"]
    assert staff[1] == taken - int(((m.cases.status == Status.WITH_ACTOR) & (m.cases.actor == 0)).sum())


def test_volunteers_report_for_elderly_residents_who_cannot():
    """Everyone is 60+ and can use no channel: without volunteers every problem stays silent; with a
    daily assist chance of 1, every problem is reported the day after it arose."""
    nobody = dict(population={"share_60plus": 1.0, "phone_access": 0.0, "app_literacy_60plus": 0.0},
                  channels={"window_reach_60plus": 0.0, "grid_worker_reach": 0.0})
    quiet = run_tiny(**_with(NEVER_FIXED, **nobody))
    assert quiet.counts()["filed"] == 0
    helped = run_tiny(**_with(NEVER_FIXED, actors={"volunteer_assist_rate": 1.0},
                              assessment={"repeat_call_probability": 0.0}, **nobody))
    c = helped.counts()
    assert c["volunteer_reports"] == c["filed"] > 20
    assert c["volunteer_reports"] >= c["problems"] - int((helped.cases.born >= helped.day - 1).sum())


def test_neighbours_report_more_in_buildings_that_trust_more():
    def reported(trust):
        m = run_tiny(**_with(NEVER_FIXED, demand={"report_propensity": 0.0, "report_trust_slope": 0.0},
                             changes={"residents.initial_trust": trust, "residents.trust_spread": 0.0},
                             actors={"participation_rate": 0.02}, assessment={"repeat_call_probability": 0.0}))
        return m.counts()["participation_reports"]
    assert 0 < reported(0.1) < reported(0.9)


# --- Algorithmic bias ---------------------------------------------------------------------------
def test_error_factor_from_data_share_by_hand():
    m = GovernanceModel(tiny_scenario(bias={"strength": 1.0, "max_error_factor": 4.0}), seed=1)
    b = m.bias
    b.cases[:] = [[90, 10, 0, 0]]        # hotline, app, window, grid worker
    b.data[:] = [[27, 10, 0, 0]]         # 0.3 per hotline case, 1 per app case
    b.update()
    rho = np.array([27 / 37 / 0.9, 10 / 37 / 0.1])
    assert b.factor[0, :2] == pytest.approx(np.clip(1 / rho, 0.25, 4.0))
    assert b.factor[0, 2] == 1.0                                     # no cases yet: no evidence either way
    m.apply_change({"bias.correction": 1.0})
    b.cases[:] = [[90, 10, 0, 0]]
    b.data[:] = [[27, 10, 0, 0]]
    b.update()
    assert b.factor == pytest.approx(np.ones((1, 4)))                 # full correction: parity


def test_error_factor_reaches_the_automated_decisions():
    m = GovernanceModel(tiny_scenario(bias={"strength": 1.0}), seed=1)
    m.bias.factor[:] = [[2.0, 0.5, 3.0, 1.0]]
    from .test_model import add_problems
    rows = add_problems(m, [0, 1, 2])
    m.cases.channel[rows] = [Channel.HOTLINE, Channel.APP, Channel.NONE]
    assert m.bias.error_factor(rows) == pytest.approx([2.0, 0.5, 3.0])   # no report: the worst group's
    on = np.array([True, True, True])
    chance = m.routing.misroute_chance(on, 1.0, m.bias.error_factor(rows))
    assert chance == pytest.approx(np.clip(m.routing.misroute_chance(on) * [2.0, 0.5, 3.0], 0, 1))


def test_without_bias_the_factor_is_one_and_nothing_is_learned():
    m = GovernanceModel(small_scenario(policies={"share_joined": 1.0}), seed=1)
    cases0 = m.bias.cases.copy()
    m.run(30)
    assert np.array_equal(m.bias.factor, np.ones_like(m.bias.factor)) and np.array_equal(m.bias.cases, cases0)


# --- Platform life ------------------------------------------------------------------------------
def test_adoption_decay_and_abandonment_by_hand():
    pl = {"lifecycle": True, "adoption_innovation": 0.1, "adoption_imitation": 0.5, "maintenance": 0.5,
          "usage_decay": 0.1, "quality_decay": 0.2, "abandon_below": 0.5}
    m = GovernanceModel(tiny_scenario(policies={"share_joined": 1.0}, platform=pl), seed=1)
    m.step()
    p = m.platform
    assert p.adoption[0] == pytest.approx(0.1)                         # (p + q·0)(1 − 0)
    assert p.usage[0] == pytest.approx(1 - 0.1 * 0.5) and p.quality[0] == pytest.approx(1 - 0.2 * 0.5)
    assert m.departments.joined[0] == (p.place[0] < 0.1 * 0.95)
    m.step()
    a1 = 0.1
    assert p.adoption[0] == pytest.approx(a1 + (0.1 + 0.5 * a1) * (1 - a1))
    for _ in range(12):                                               # 0.95^14 < 0.5
        m.step()
    assert p.abandoned[0] and not m.departments.joined.any() and p.in_use()[0] == 0.0


def test_without_lifecycle_joined_teams_use_the_platform_fully():
    m = GovernanceModel(small_scenario(policies={"share_joined": 1.0}), seed=1)
    m.run(20)
    assert m.departments.joined.all() and m.summary()["platform_use"] == 1.0 and m.summary()["platform_quality"] == 1.0


def test_maintenance_is_paid_per_joined_department():
    sc = small_scenario(policies={"share_joined": 1.0}, platform={"lifecycle": True, "maintenance": 0.5})
    m = GovernanceModel(sc, seed=1)
    m.run(10)
    n_join = len(sc.staffing.departments)
    assert m.ledger.cost_parts["maintenance"][0] == pytest.approx(10 * n_join * 0.5 * 60_000 / 365)
