"""Everyday rough edges (issue 11): narrow terminals, --version, validating experiments, dry runs,
what a sweep writes, messages that point at the right place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import sim.cli as cli
from sim.experiments import parse_experiment, run_sweep
from sim.scenario import ScenarioError, load_scenario, param_table

REPO = Path(__file__).resolve().parents[1]


def call(*args, env=None):
    res = CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=False, env=env)
    return res.exit_code, res.stdout, res.stderr


def test_params_is_readable_at_80_columns():
    code, out, _ = call("params", env={"COLUMNS": "80"})
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    for p in param_table():
        assert p.path in out
    assert "share of residents aged 60+" in out and "2020 census" in out and "persons" in out


def test_version():
    code, out, _ = call("--version")
    assert code == 0 and out.startswith("govsim ")


def test_validate_recognises_an_experiment():
    code, out, err = call("validate", REPO / "experiments" / "sobol_levers.yaml", "baseline")
    assert code == 0, err
    assert "(experiment: sobol design" in out and "unknown key" not in err


def test_sensitivity_dry_run_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = call("sensitivity", REPO / "experiments" / "sobol_levers.yaml", "--dry-run")
    assert code == 0, err
    assert "sobol design" in out and not list(tmp_path.iterdir())


def test_missing_extends_target_names_the_file_that_refers_to_it(tmp_path):
    p = tmp_path / "v.yaml"
    p.write_text("extends: no_such_base.yaml\n")
    with pytest.raises(ScenarioError, match=r"v\.yaml: extends: scenario file not found: 'no_such_base\.yaml'"):
        load_scenario(p)


def test_a_sweep_writes_csv_and_a_readme_beside_parquet(tmp_path):
    exp = parse_experiment({"model": "ishigami", "factors": {"x1": None, "x2": None}, "design": {"method": "latin",
                            "n": 50}, "replications": 1, "seed": 3})
    run_sweep(exp, tmp_path / "s", workers=1, progress=False)
    table = pd.read_parquet(tmp_path / "s" / "results.parquet")
    csv = pd.read_csv(tmp_path / "s" / "results.csv", encoding="utf-8-sig")
    assert list(csv.columns) == list(table.columns) and len(csv) == len(table)
    readme = (tmp_path / "s" / "README.txt").read_text(encoding="utf-8")
    for col in table.columns:
        assert f"  {col}" in readme, col
    assert "replication k of the experiment seed, k = point × 10,000 + replication" in readme


def test_every_problem_of_the_timeline_and_shocks_is_reported_with_did_you_mean(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("extends: baseline.yaml\n"
                 "timeline:\n"
                 "  - {day: 10, communities: [0], set: {policies.eldr_friendly: true, policies.training_levl: 0.5}}\n"
                 "shocks:\n"
                 "  - {name: f, start: 5, end: 9, categories: [utilties, x], multiplier: 2, communities: [9]}\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    for part in ("did you mean 'policies.elder_friendly'", "did you mean 'policies.training_level'",
                 "did you mean 'utilities'", "unknown category 'x'", "shocks[0].communities"):
        assert part in msg, part
    p.write_text("extends: baseline.yaml\ntimeline:\n  - {day: 10, set: {policies.trainin_level: 0.5}}\n"
                 "  - {day: 20, set: {staffing.grid_workers_per_grd: 2}}\n")
    with pytest.raises(ScenarioError, match=r"(?s)timeline\[0\].*training_level.*timeline\[1\].*grid_workers_per_grid"):
        load_scenario(p)
