"""Every shipped scenario validates and runs; the schema refuses bad input with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.runner import run_one
from sim.scenario import (SCENARIO_DIR, Scenario, ScenarioError, build_scenario, check_path, load_scenario,
                          param_table, shipped_scenarios)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "shipped_scenarios.json"


def test_the_required_scenarios_are_shipped():
    names = set(shipped_scenarios())
    required = {"baseline.yaml", "data_sharing_all.yaml", "data_sharing_partial.yaml", "whistle_and_report.yaml",
                "staffing_cut.yaml", "staffing_increase.yaml", "proactive_early_warning.yaml", "app_first.yaml",
                "elder_friendly.yaml", "rural_township.yaml", "flood_shock.yaml", "staged_pilot.yaml"}
    assert required <= names


@pytest.mark.parametrize("name", shipped_scenarios())
def test_shipped_scenario_validates_runs_and_says_what_it_answers(name):
    text = (SCENARIO_DIR / name).read_text(encoding="utf-8")
    assert text.startswith("# "), f"{name} must start with a comment saying what question it answers"
    sc = load_scenario(name, {"population.residents_per_grid": 150, "run.steps": 40})
    assert sc.name == Path(name).stem
    r = run_one(sc, seed=1)
    assert len(r.daily) == 40 and r.counts["problems"] > 0


def test_extends_inherits_and_overrides():
    sc = load_scenario("elder_friendly.yaml")
    assert sc.policies.app_first and sc.policies.elder_friendly     # from app_first.yaml, and its own
    assert sc.population == Scenario().population                  # from baseline (defaults)
    pilot = load_scenario("flood_shock_platform.yaml")
    assert pilot.shocks and pilot.policies.early_warning


def test_every_parameter_has_description_unit_and_bounds():
    for p in param_table():
        assert p.description, p.path
        if p.numeric:
            assert p.lower is not None and p.upper is not None, p.path
            assert p.lower <= p.default <= p.upper, p.path
            if p.typical:
                assert p.lower <= p.typical[0] <= p.typical[1] <= p.upper, p.path


@pytest.mark.parametrize("data, words", [
    ({"populaton": {}}, ["populaton", "did you mean 'population'"]),
    ({"population": {"share_60plus": 1.5}}, ["population.share_60plus", "allowed 0.0 to 1.0"]),
    ({"staffing": {"departments": {"health": {"staf_per_10k": 1}}}}, ["staf_per_10k", "did you mean 'staff_per_10k'"]),
    ({"demand": {"categories": {"x": {"share": 0.1, "departments": ["nope"]}}}}, ["unknown department 'nope'"]),
    ({"shocks": [{"start": 5, "end": 1, "categories": ["utilities"]}]}, ["must not be before start"]),
    ({"shocks": [{"categories": ["flod"]}]}, ["unknown category 'flod'"]),
    ({"timeline": [{"day": 3, "set": {"policies.share_joind": 1}}]}, ["did you mean 'policies.share_joined'"]),
    ({"timeline": [{"day": 3, "set": {"policies.share_joined": 2}}]}, ["policies.share_joined", "allowed 0.0 to 1.0"]),
    ({"timeline": [{"day": 3, "set": {"policies.share_joined": 1}, "communities": [0]}]}, ["cannot differ between communities"]),
    ({"timeline": [{"day": 3, "set": {"policies.training_level": 1}, "communities": [7]}]}, ["out of range"]),
    ({"network": {"neighbours": 5}}, ["must be even"]),
])
def test_bad_input_names_the_field_and_allowed_values(data, words):
    with pytest.raises(ScenarioError) as err:
        build_scenario(data)
    for w in words:
        assert w in str(err.value)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("population: [1, 2\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"extends: {loop}\n")
    with pytest.raises(ScenarioError, match="loops"):
        load_scenario(loop)
    with pytest.raises(ScenarioError, match="did you mean 'staffing.grid_workers_per_grid'"):
        check_path("staffing.grid_worker_per_grid")


def golden_result() -> dict:
    """Every shipped scenario at 300 residents per grid for 180 days, seed 12345: its 4E indicators
    (rounded to 9 digits), its event counts and the last three days of its series."""
    out = {}
    for name in shipped_scenarios():
        sc = load_scenario(name, {"population.residents_per_grid": 300, "run.steps": 180})
        r = run_one(sc, seed=12345)
        out[name.removesuffix(".yaml")] = {
            "summary": {k: (None if v != v else round(float(v), 9)) for k, v in r.summary.items()},
            "counts": r.counts,
            "daily_tail": r.daily.tail(3).round(9).to_dict(orient="list")}
    return out


def test_golden_regression():
    """The outputs of every shipped scenario are pinned: a change of model behaviour must be
    deliberate, and is then recorded by regenerating with `python tools/regenerate_golden.py` (and
    saying why in the commit)."""
    expected = json.loads(GOLDEN.read_text())
    got = json.loads(json.dumps(golden_result()))
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], name


def test_set_reaches_named_entries_the_file_does_not_spell_out():
    sc = load_scenario("baseline.yaml", {"demand.categories.market.share": 0.5,
                                         "staffing.departments.health.staff_per_10k": 3.0})
    assert sc.demand.categories["market"].share == 0.5
    assert sc.demand.categories["market"].departments == Scenario().demand.categories["market"].departments
    assert sc.staffing.departments["health"].staff_per_10k == 3.0
    assert sc.name == "baseline"
