"""The public Python API (sim.run, sim.compare, sim.evaluate) gives what the CLI's core gives."""

from __future__ import annotations

import math

import pytest

import sim
from sim.runner import replication_seed, run_one

SMALL = {"population.residents_per_grid": 150, "run.steps": 60}


def test_run_returns_one_row_per_replication_and_a_table():
    runs = sim.run("baseline", replications=3, seed=7, overrides=SMALL)
    assert len(runs.summary) == 3 and set(runs.table["metric"]) == {m.name for m in sim.METRICS}
    first = run_one(sim.load_scenario("baseline", SMALL), replication_seed(7, 0))
    assert runs.summary.iloc[0]["resolution_rate"] == pytest.approx(first.summary["resolution_rate"], nan_ok=True)


def test_evaluate_is_the_mean_over_replications_of_a_point():
    point = {**SMALL, "staffing.grid_workers_per_grid": 2.0}
    y = sim.evaluate(point, seed=3, replications=2, outcomes=["total_cost", "trust"])
    runs = sim.run("baseline", replications=2, seed=3, overrides=point)
    assert set(y) == {"total_cost", "trust"}
    assert math.isclose(y["trust"], runs.summary["trust"].mean())
    with pytest.raises(ValueError, match="unknown outcome"):
        sim.evaluate(point, outcomes=["nonsense"])


def test_compare_pairs_replications_of_each_scenario_with_the_base():
    diff = sim.compare("baseline", ["whistle_and_report"], replications=2, seed=5, steps=60)
    assert set(diff["scenario"]) == {"whistle_and_report"}
    assert {"difference", "ci_low", "ci_high", "verdict"} <= set(diff.columns)
