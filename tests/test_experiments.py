"""Experiment files, the parameter space, seeds, the sweep directory and the sweep/sensitivity CLI.

Runs here use the Ishigami test model in this process (fast); the process pool, Dask and SIGKILL
tests are in test_experiments_backends.py, the sensitivity statistics in test_experiments_sensitivity.py.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from sim.experiments import ExperimentError, load_experiment, load_results, parse_experiment, run_sweep
from sim.experiments.cli import register
from sim.experiments.models import GovsimRunner, set_dotted
from sim.experiments.space import Factor, plain_values
from sim.experiments.store import SweepDir
from sim.scenario import build_scenario

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "experiments").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def ishigami(**kw) -> dict:
    data = {"model": "ishigami", "factors": {"x1": None, "x2": None, "x3": None},
            "design": {"method": "latin", "n": 20}, "replications": 2, "seed": 11}
    data.update(kw)
    return data


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


# --------------------------------------------------------------------------------------------------
# Bad experiment files: one clear message on stderr, exit code 2, no traceback

BAD = {
    "unknown factor path": ("""
        base: baseline.yaml
        factors: {staffing.grid_worker_per_grid: {levels: [1, 2]}}
        design: full_factorial
        """, ["unknown parameter path 'staffing.grid_worker_per_grid'", "did you mean 'staffing.grid_workers_per_grid'"]),
    "bounds outside the schema": ("""
        base: baseline.yaml
        factors: {policies.share_joined: {bounds: [0, 1.5]}}
        design: {method: latin, n: 10}
        """, ["policies.share_joined", "bounds [0, 1.5] lie outside the schema's range 0 to 1"]),
    "level outside the schema": ("""
        base: baseline.yaml
        factors: {staffing.grid_workers_per_grid: {levels: [1, 12]}}
        design: full_factorial
        """, ["level 12 lies outside the schema's range 0 to 10"]),
    "unknown design": ("""
        base: baseline.yaml
        factors: {policies.share_joined: }
        design: {method: sobolx, n: 64}
        """, ["unknown design 'sobolx'", "did you mean 'sobol'"]),
    "unknown outcome": ("""
        base: baseline.yaml
        factors: {policies.share_joined: }
        design: {method: latin, n: 10}
        outcomes: [median_day]
        """, ["unknown outcome 'median_day'", "did you mean 'median_days'"]),
    "sobol n not a power of two": ("""
        base: baseline.yaml
        factors: {policies.share_joined: , policies.training_level: }
        design: {method: sobol, n: 100}
        """, ["design.n = 100", "power of two", "64 (256 points)", "128 (512 points)"]),
    "oversized design": ("""
        model: ishigami
        factors: {x1: , x2: , x3: }
        design: {method: sobol, n: 65536, second_order: true}
        replications: 4
        """, ["2,097,152 runs", "more than max_runs = 100,000"]),
    "unknown top-level key": ("""
        base: baseline.yaml
        factors: {policies.share_joined: }
        design: {method: latin, n: 10}
        replication: 3
        """, ["unknown key 'replication'", "did you mean 'replications'"]),
    "malformed YAML": ("""
        base: baseline.yaml
        factors: {policies.share_joined: [0, 1
        design: full_factorial
        """, ["is not valid YAML at line"]),
    "ishigami factor": ("""
        model: ishigami
        factors: {x4: }
        design: {method: latin, n: 10}
        """, ["unknown factor 'x4' of model ishigami", "factors: x1, x2, x3"]),
    "missing base": ("""
        base: no_such_scenario.yaml
        factors: {policies.share_joined: }
        design: {method: latin, n: 10}
        """, ["base scenario file not found: 'no_such_scenario.yaml'"]),
    "bool with bounds": ("""
        base: baseline.yaml
        factors: {policies.early_warning: {bounds: [0, 1]}}
        design: {method: latin, n: 10}
        """, ["policies.early_warning' is true/false"]),
    "run settings as a factor": ("""
        base: baseline.yaml
        factors: {run.steps: {levels: [10, 20]}}
        design: full_factorial
        """, ["run settings are not model parameters"]),
    "exclude matching nothing": ("""
        base: baseline.yaml
        factors: {all_numeric: true, exclude: [polices.*]}
        design: {method: morris, n: 4}
        """, ["'polices.*' matches no numeric parameter"]),
    "FAST sample too small": ("""
        model: ishigami
        factors: {x1: , x2: }
        design: {method: fast, n: 50}
        """, ["more than 4·M² = 64"]),
    "bad settings": ("""
        base: baseline.yaml
        settings: {run.stepz: 10}
        factors: {policies.share_joined: }
        design: {method: latin, n: 10}
        """, ["settings:"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_experiment_file_gives_clear_message_and_exit_2(cli, tmp_path, case):
    text, expected = BAD[case]
    path = write(tmp_path, text)
    result = cli("sweep", path, "--out", tmp_path / "out", "--no-progress")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    err = result.stderr
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, f"expected one line, got: {err}"
    for part in expected:
        assert part in err, f"{part!r} not in {err!r}"
    assert not (tmp_path / "out").exists()


def test_missing_experiment_file(cli, tmp_path):
    result = cli("sweep", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "experiment file not found" in result.stderr


def test_module_entry_point_reports_bad_input_with_exit_2(tmp_path):
    path = write(tmp_path, BAD["unknown design"][0])
    proc = subprocess.run([sys.executable, "-m", "sim.experiments", "sweep", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown design 'sobolx'" in proc.stderr and "Traceback" not in proc.stderr


def test_dry_run_prints_the_plan(cli):
    result = cli("sweep", REPO / "experiments" / "sobol_levers.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "448 points × 2 replications = 896 runs" in result.stdout


# --------------------------------------------------------------------------------------------------
# Shipped experiments: each loads, every point of its design is a valid scenario, and a run works

@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_experiment_is_valid_and_runs(path):
    exp = load_experiment(path)
    assert exp.model == "govsim" and exp.n_runs <= 5000
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Question:") and "minute" in text.split("\nname:")[0]  # the question and the time
    design = exp.sample_design()
    runner = exp.runner()
    assert isinstance(runner, GovsimRunner)
    cols = exp.factor_paths
    for row in design[cols].to_dict("records"):  # the scenario schema accepts every point
        data = copy.deepcopy(runner.base_data)
        for k, v in {**runner.settings, **plain_values(row)}.items():
            set_dotted(data, k, v)
        build_scenario(data)
    short = GovsimRunner(runner.base_data, {**runner.settings, "run.steps": 5,
                                            "population.residents_per_grid": 100})
    summary = short(plain_values(design[cols].iloc[0].to_dict()), exp.run_seed(0, 0))
    assert set(exp.outcomes) <= set(summary)


def test_all_numeric_expands_every_numeric_parameter():
    exp = load_experiment(REPO / "experiments" / "morris_screening.yaml")
    paths = exp.factor_paths
    assert not any(p.startswith("run.") for p in paths)
    assert "population.subdistricts" not in paths and "population.communities_per_subdistrict" not in paths
    assert "demand.categories.market.share" in paths and "staffing.departments.health.staff_per_10k" in paths
    f = {f.path: f for f in exp.factors}
    assert f["network.neighbours"].step == 2
    assert (f["policies.patrol_intensity"].lower, f["policies.patrol_intensity"].upper) == (0.1, 0.6)  # typical
    market = f["demand.categories.market.share"]  # no typical range: ±50 % of the base value
    assert market.lower == pytest.approx(0.5 * 0.089) and market.upper == pytest.approx(1.5 * 0.089)


def test_saved_experiment_reloads_to_the_same_experiment(tmp_path):
    exp = load_experiment(REPO / "experiments" / "morris_screening.yaml")
    sd = SweepDir(tmp_path / "sweep")
    sd.initialise(exp)
    again = sd.load_experiment()
    assert again.fingerprint() == exp.fingerprint()
    assert again.n_points == exp.n_points
    pd.testing.assert_frame_equal(again.sample_design(), sd.read_design())


# --------------------------------------------------------------------------------------------------
# Parameter space and seeds

def test_integer_factor_takes_every_value_equally_often():
    f = Factor("x", "int", lower=2, upper=6)
    values = f.from_unit(np.linspace(0, 1, 50_001))
    counts = np.bincount(values)[2:]
    assert list(np.unique(values)) == [2, 3, 4, 5, 6]
    assert counts.min() / counts.max() > 0.99


def test_boolean_factor_is_a_uniform_thresholded_at_one_half():
    f = Factor("b", "bool", levels=(False, True))
    assert list(f.from_unit(np.array([0.0, 0.49, 0.5, 1.0]))) == [False, False, True, True]


def test_stepped_factor_stays_on_its_grid():
    f = Factor("n", "int", lower=4, upper=12, step=2)
    assert set(f.from_unit(np.random.default_rng(0).random(1000))) == {4, 6, 8, 10, 12}


def test_run_seeds_depend_on_seed_point_and_replication_only():
    a = parse_experiment(ishigami(seed=5))
    b = parse_experiment(ishigami(seed=5, design={"method": "sobol", "n": 8}, replications=3))
    assert a.run_seed(3, 1) == b.run_seed(3, 1)
    seeds = {a.run_seed(p, r) for p in range(50) for r in range(4)}
    assert len(seeds) == 200
    assert parse_experiment(ishigami(seed=6)).run_seed(3, 1) != a.run_seed(3, 1)
    crn = parse_experiment(ishigami(seed=5, common_random_numbers=True))
    assert crn.run_seed(0, 1) == crn.run_seed(7, 1) != crn.run_seed(7, 0)


def test_full_factorial_of_levels_and_bounds():
    exp = parse_experiment(ishigami(factors={"x1": {"levels": [0, 1]}, "x2": {"bounds": [-1, 1]}},
                                    design={"method": "full_factorial", "levels": 3}))
    design = exp.sample_design()
    assert exp.n_points == 6 and len(design) == 6
    assert sorted(set(design["x2"])) == [-1.0, 0.0, 1.0]


# --------------------------------------------------------------------------------------------------
# Sweeps in this process

def test_sweep_writes_one_row_aligned_table_and_a_manifest(tmp_path):
    exp = parse_experiment(ishigami(model_options={"noise": 0.5}))
    report = run_sweep(exp, tmp_path / "s", workers=1, progress=False)
    assert report.complete and report.done == 40 and report.failed == 0
    table = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert list(table["run"]) == list(range(40))
    assert list(table.columns[:7]) == ["run", "point", "replication", "seed", "x1", "x2", "x3"]
    design = pd.read_parquet(tmp_path / "s" / "design.parquet")
    merged = table.merge(design, on="point", suffixes=("", "_d"))
    assert np.allclose(merged["x1"], merged["x1_d"])
    expected = np.sin(table.x1) + 7 * np.sin(table.x2) ** 2 + 0.1 * table.x3 ** 4 * np.sin(table.x1)
    noise = table["y"] - expected
    assert 0.2 < noise.std() < 0.8
    assert noise.iloc[0] == pytest.approx(0.5 * np.random.default_rng(int(table.seed[0])).standard_normal())
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"] == {"done": 40, "failed": 0, "pending": 0}
    assert manifest["runs"]["done"] == [[0, 40]] and manifest["seed"] == 11
    for key in ("python", "numpy", "pandas", "SALib", "mesa"):
        assert key in manifest["versions"]
    assert "git_commit" in manifest["versions"]
    pd.testing.assert_frame_equal(load_results(tmp_path / "s"), table)


def test_failing_run_is_recorded_and_the_others_complete(tmp_path):
    exp = parse_experiment(ishigami(model_options={"fail_above": {"x1": 2.0}}, design={"method": "latin", "n": 40}))
    report = run_sweep(exp, tmp_path / "s", workers=1, progress=False)
    table = load_results(tmp_path / "s")
    bad = table["x1"] > 2.0
    assert bad.any() and (~bad).any()
    assert (table.loc[bad, "status"] == "failed").all() and table.loc[bad, "y"].isna().all()
    assert (table.loc[~bad, "status"] == "done").all() and table.loc[~bad, "y"].notna().all()
    msg = table.loc[bad, "error"].iloc[0]
    assert msg.startswith("ValueError: x1 = ") and "is above fail_above 2.0" in msg
    assert report.failed == int(bad.sum()) and report.complete
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == int(bad.sum())
    assert set(manifest["errors"]) == {str(r) for r in table.loc[bad, "run"]}


def test_rerunning_into_the_same_directory_skips_finished_runs(tmp_path, cli):
    path = write(tmp_path, yaml.safe_dump(ishigami()))
    out = tmp_path / "s"
    first = cli("sweep", path, "--out", out, "--workers", 1, "--no-progress")
    assert first.exit_code == 0, first.output
    before = load_results(out)
    again = cli("sweep", path, "--out", out, "--workers", 1, "--no-progress")
    assert again.exit_code == 0 and "nothing left to run" in again.stdout
    resumed = cli("sweep", "--resume", "--out", out, "--no-progress")  # no file: the saved experiment
    assert resumed.exit_code == 0, resumed.output
    pd.testing.assert_frame_equal(load_results(out), before)
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert len(sessions) == 1


def test_a_different_experiment_in_the_same_directory_is_refused(tmp_path, cli):
    out = tmp_path / "s"
    run_sweep(parse_experiment(ishigami()), out, workers=1, progress=False)
    path = write(tmp_path, yaml.safe_dump(ishigami(seed=12)))
    result = cli("sweep", path, "--out", out, "--no-progress")
    assert result.exit_code == 2
    assert "holds a sweep of a different experiment (changed: seed)" in result.stderr
    fresh = cli("sweep", path, "--out", out, "--no-progress", "--workers", 1, "--fresh")
    assert fresh.exit_code == 0, fresh.output
    assert load_results(out)["seed"].iloc[0] == parse_experiment(ishigami(seed=12)).run_seed(0, 0)


def test_out_directory_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExperimentError, match="is not a sweep directory"):
        run_sweep(parse_experiment(ishigami()), tmp_path, workers=1, progress=False)


def test_sensitivity_command_runs_then_analyses(tmp_path, cli):
    path = write(tmp_path, yaml.safe_dump(ishigami(design={"method": "rbd_fast", "n": 200}, replications=1)))
    out = tmp_path / "s"
    result = cli("sensitivity", path, "--out", out, "--workers", 1, "--no-progress", "--no-figures")
    assert result.exit_code == 0, result.output
    assert "sensitivity of exp: rbd_fast design" in result.stdout
    assert (out / "sensitivity" / "indices.csv").is_file()
    again = cli("sensitivity", "--analyse", out, "--no-figures", "--outcome", "y")
    assert again.exit_code == 0 and "rank" in again.stdout
    bad = cli("sensitivity", "--analyse", out, "--outcome", "z")
    assert bad.exit_code == 2 and "outcome 'z' is not in the results" in bad.stderr


def test_retry_failed_runs_only_the_failed_runs_again(tmp_path):
    exp = parse_experiment(ishigami(model_options={"fail_above": {"x1": 2.0}}, design={"method": "latin", "n": 40}))
    first = run_sweep(exp, tmp_path / "s", workers=1, progress=False)
    before = load_results(tmp_path / "s")
    again = run_sweep(exp, tmp_path / "s", workers=1, progress=False, retry_failed=True)
    assert again.ran == first.failed > 0 and again.failed == first.failed
    after = load_results(tmp_path / "s")
    pd.testing.assert_frame_equal(after.drop(columns="elapsed"), before.drop(columns="elapsed"))
    assert not list((tmp_path / "s" / "chunks").glob("*.parquet"))  # merged into results.parquet


def test_missing_dask_gives_a_clear_message(monkeypatch):
    from sim.experiments.evaluators import make_backend
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if govsim[cluster] were not installed
    with pytest.raises(ExperimentError, match=r"--cluster needs dask.distributed: pip install 'govsim\[cluster\]'"):
        make_backend(2, "local")


def test_progress_bar_shows_done_failed_and_time_left(tmp_path):
    import io

    from rich.console import Console
    buf = io.StringIO()
    exp = parse_experiment(ishigami(model_options={"fail_above": {"x1": 2.0}}))
    run_sweep(exp, tmp_path / "s", workers=1, console=Console(file=buf, width=120))
    text = buf.getvalue()
    failed = int((load_results(tmp_path / "s")["status"] == "failed").sum())
    assert "40/40" in text and f"{failed} failed" in text and "left" in text


def test_a_chunks_replications_run_as_one_batch_give_the_runs_alone():
    """run_chunk batches consecutive runs of one point; the summaries are those of the runs alone."""
    from sim.experiments.evaluators import run_chunk
    from sim.scenario import load_scenario
    base = load_scenario("baseline.yaml", {"population.residents_per_grid": 200, "run.steps": 40}).model_dump()
    runner = GovsimRunner(base)
    a, b = {"policies.share_joined": 0.0}, {"policies.share_joined": 1.0}
    runs = [(0, 11, a), (1, 12, a), (2, 13, a), (3, 14, b), (4, 15, b)]
    calls = []
    batch = runner.batch
    spy = type("Spy", (), {"__call__": lambda self, v, s: runner(v, s),
                           "batch": lambda self, v, seeds: calls.append(len(seeds)) or batch(v, seeds)})()
    out = run_chunk(spy, runs, ["resolution_rate", "median_days"])
    assert calls == [3, 2]
    alone = [runner(v, s) for _, s, v in runs]
    assert out["status"] == ["done"] * 5
    assert out["resolution_rate"] == [r["resolution_rate"] for r in alone]
    assert out["median_days"] == [r["median_days"] for r in alone]


def test_a_failing_run_in_a_batch_fails_alone():
    from sim.experiments.evaluators import run_chunk

    class Flaky:
        def __call__(self, values, seed):
            if seed == 2:
                raise ValueError("bad seed")
            return {"y": float(seed)}

        def batch(self, values, seeds):
            return [self(values, s) for s in seeds]

    out = run_chunk(Flaky(), [(0, 1, {}), (1, 2, {}), (2, 3, {})], ["y"])
    assert out["status"] == ["done", "failed", "done"]
    assert out["y"][0] == 1.0 and np.isnan(out["y"][1]) and out["y"][2] == 3.0
    assert "bad seed" in out["error"][1]
