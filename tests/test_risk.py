"""Risk prediction (前瞻预判): flags, their visits by grid workers, and what the visits cost the patrol."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import GovernanceModel
from tests.conftest import small_scenario, tiny_scenario


def test_visits_take_hours_from_the_patrol():
    """Hand check: a grid of 100 residents (40 households of 2.5) with one worker patrolling 8 h × 0.5;
    at 2 households an hour the patrol covers 8 of 40 households (coverage 0.2). Visits taking 2 of the
    4 patrol hours halve the coverage; taking all of them (or more) stops the patrol."""
    sc = tiny_scenario(100, staffing={"grid_workers_per_grid": 1.0, "grid_worker_hours": 8.0,
                                      "households_per_patrol_hour": 2.0},
                       policies={"patrol_intensity": 0.5, "training_level": 0.0},
                       routing={"discovery_base": 1.0, "discovery_training_gain": 0.0})
    m = GovernanceModel(sc, seed=1)
    teams, s = m.grid_teams, sc.staffing
    hazard = lambda taken: teams.detection_hazard(s.households_per_patrol_hour, sc.population.household_size,
                                                  sc.routing, taken=taken)
    assert 1 - np.exp(-hazard(0.0)[0]) == pytest.approx(0.2)
    assert 1 - np.exp(-hazard(2.0)[0]) == pytest.approx(0.1)
    assert hazard(4.0)[0] == 0.0 and hazard(9.0)[0] == 0.0


def _risk_model(seeds, **policies):
    sc = small_scenario(policies={"share_joined": 1.0, "risk_prediction": True, **policies})
    m = GovernanceModel(sc, seeds=seeds)
    return m


def test_every_flag_books_a_visit_on_a_grid_of_its_run():
    """After a day with flags, the grid workers' visit hours equal (true + false flags) × hours, booked
    on grids of the run that raised them; the next day's patrol uses them up."""
    m = _risk_model([3, 4], risk_flag_hours=2.0)
    flagged_days = 0
    for _ in range(120):
        before = {k: m.ledger.total(k).copy() for k in ("risk_flags", "risk_false_flags")}
        m.step()
        flags = (m.ledger.total("risk_flags") - before["risk_flags"]
                 + m.ledger.total("risk_false_flags") - before["risk_false_flags"])
        hours = m.grid_teams.visit_hours.reshape(m.n_runs, -1).sum(axis=1)
        assert np.allclose(hours, 2.0 * flags)
        flagged_days += bool(flags.sum())
    assert flagged_days > 5


def test_false_flags_follow_the_stated_precision():
    """Over many flags, false / true flags ≈ (1 − precision) / precision (Poisson; tolerance 15%)."""
    m = _risk_model(list(range(24)), risk_precision=0.25)
    m.run(365)
    true, false = m.ledger.total("risk_flags").sum(), m.ledger.total("risk_false_flags").sum()
    assert true > 200   # so the ratio's sd is ≈ 3.5%: the tolerance is > 4 sd
    assert false / true == pytest.approx(3.0, rel=0.15)
