"""Nothing lost: govsim deletes or overwrites only what it wrote itself (issue 11, data loss).

Each test sets up what a careless or unlucky user has on disk, lets govsim loose on it, and checks that
every file govsim did not write is still there, byte for byte.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

import sim.cli as cli
from sim import output, paths
from sim.experiments import ExperimentError, load_results, parse_experiment, run_sweep
from sim.experiments.store import SweepDir
from sim.experiments.sweep import default_out_dir
from sim.scenario import build_scenario, load_scenario

FAST = ["--set", "population.residents_per_grid=50", "--set", "population.grids_per_community=2",
        "--set", "population.communities_per_subdistrict=1", "--steps", "10", "--replications", "2", "--no-figures"]


def ishigami(**kw) -> dict:
    data = {"model": "ishigami", "factors": {"x1": None, "x2": None, "x3": None},
            "design": {"method": "latin", "n": 60}, "replications": 2, "seed": 11}
    data.update(kw)
    return data


@pytest.fixture
def invoke():
    r = CliRunner()
    return lambda *args: r.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------
# Sweeps

def user_dir_that_looks_like_a_sweep(path: Path) -> dict[str, bytes]:
    (path / "chunks").mkdir(parents=True)
    (path / "chunks" / "my-data.parquet").write_bytes(b"not govsim's")
    (path / "sensitivity").mkdir()
    (path / "sensitivity" / "thesis.tex").write_text("chapter 3")
    (path / "experiment.yaml").write_text("my: experiment\n")
    (path / "manifest.json").write_text('{"mine": true}\n')
    (path / "results.parquet").write_bytes(b"precious")
    return snapshot(path)


def test_fresh_sweep_refuses_a_directory_it_did_not_write_and_deletes_nothing(tmp_path):
    before = user_dir_that_looks_like_a_sweep(tmp_path / "d")
    with pytest.raises(ExperimentError, match="not a sweep directory"):
        run_sweep(parse_experiment(ishigami()), tmp_path / "d", workers=1, progress=False, fresh=True)
    assert snapshot(tmp_path / "d") == before


def test_resumed_sweep_refuses_a_directory_it_did_not_write(tmp_path):
    before = user_dir_that_looks_like_a_sweep(tmp_path / "d")
    with pytest.raises(ExperimentError, match="not a sweep directory"):
        run_sweep(parse_experiment(ishigami()), tmp_path / "d", workers=1, progress=False)
    assert snapshot(tmp_path / "d") == before


def test_fresh_sweep_keeps_the_users_own_files_in_a_real_sweep_directory(tmp_path):
    out = tmp_path / "s"
    run_sweep(parse_experiment(ishigami()), out, workers=1, progress=False)
    (out / "notes.md").write_text("what I saw")
    (out / "sensitivity").mkdir(exist_ok=True)
    (out / "sensitivity" / "my_plot.png").write_bytes(b"png")
    run_sweep(parse_experiment(ishigami(seed=12)), out, workers=1, progress=False, fresh=True)
    assert (out / "notes.md").read_text() == "what I saw"
    assert (out / "sensitivity" / "my_plot.png").read_bytes() == b"png"
    assert len(load_results(out)) == parse_experiment(ishigami()).n_runs


def test_a_second_sweep_on_a_locked_directory_is_refused(tmp_path):
    out = tmp_path / "s"
    exp = parse_experiment(ishigami())
    sd = SweepDir(out)
    out.mkdir()
    with sd.lock():
        with pytest.raises(ExperimentError, match="another sweep is writing"):
            run_sweep(exp, out, workers=1, progress=False)
    run_sweep(exp, out, workers=1, progress=False)  # the lock is gone with its holder
    assert len(load_results(out)) == exp.n_runs


def test_concurrent_sweeps_on_one_directory_lose_no_rows(tmp_path):
    """Two sweeps started together on one --out: one runs, the other is refused; no row is lost."""
    out = tmp_path / "s"
    exp = parse_experiment(ishigami(model_options={"sleep": 0.002}))
    errors: list[BaseException] = []

    def go():
        try:
            run_sweep(exp, out, workers=1, progress=False)
        except ExperimentError as e:
            errors.append(e)
    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_sweep(exp, out, workers=1, progress=False)  # finishes whatever a refused one left
    table = load_results(out)
    assert len(table) == exp.n_runs and table["run"].is_unique
    assert all("another sweep is writing" in str(e) for e in errors), [str(e) for e in errors]


def test_chunk_files_of_two_sessions_cannot_collide(tmp_path):
    a, b = SweepDir(tmp_path), SweepDir(tmp_path)
    (tmp_path / "chunks").mkdir()
    import pandas as pd
    rows = pd.DataFrame({"run": [0], "status": ["done"]})
    pa_, pb = a.write_chunk(0, rows), b.write_chunk(0, rows)
    assert pa_ != pb and pa_.exists() and pb.exists()


def test_experiment_name_cannot_choose_a_directory_outside_the_output_root(tmp_path):
    for name in ("../../x", "/tmp/x", "..", "a/b", "~"):
        exp = parse_experiment(ishigami(name=name))
        out = default_out_dir(exp)
        root = paths.EXPERIMENTS_DIR
        assert out.parent == root and out.name not in ("", ".", "..") and "/" not in out.name, (name, out)


def unwritable(tmp_path: Path) -> Path:
    """A directory that cannot be created, even by root: its parent is a regular file."""
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-file" / "out"


def test_sweep_on_an_unwritable_directory_is_one_error_line(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(ishigami()))
    res = CliRunner().invoke(cli.app, ["sweep", str(path), "--out", str(unwritable(tmp_path)), "--workers", "1",
                                       "--no-progress"], catch_exceptions=False)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------------------
# Run and compare directories

def test_run_force_refuses_a_previous_run_that_holds_the_users_files(invoke, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", "baseline", *FAST, "--out", out).exit_code == 0
    (out / "analysis.ipynb").write_text("{}")
    before = snapshot(out)
    res = invoke("run", "baseline", *FAST, "--out", out, "--force", "--seed", 5)
    assert res.exit_code == 2 and "analysis.ipynb" in res.stderr
    assert snapshot(out) == before


def test_run_force_does_not_wipe_a_directory_that_only_claims_to_be_a_run(invoke, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"kind": "run"}))
    (out / "data.csv").write_text("a,b\n1,2\n")
    before = snapshot(out)
    res = invoke("run", "baseline", *FAST, "--out", out, "--force")
    assert res.exit_code == 2
    assert snapshot(out) == before


def test_run_force_replaces_a_previous_run(invoke, tmp_path):
    out = tmp_path / "r"
    assert invoke("run", "baseline", *FAST, "--out", out, "--seed", 1).exit_code == 0
    assert invoke("run", "baseline", *FAST, "--out", out, "--seed", 2, "--force").exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_replacing_keeps_a_complete_directory_in_place_at_every_instant(tmp_path, monkeypatch):
    """A kill after the swap (while the old copy is being removed) leaves the new directory in place."""
    final = tmp_path / "r"
    with output.staged_dir(final) as d:
        (d / "a.txt").write_text("old")
        output.write_own_manifest(d, {"kind": "run"}, ["a.txt"])
    seen: list[bool] = []

    def killed(path, *a, **k):
        seen.append((final / "manifest.json").is_file())
        raise KeyboardInterrupt
    monkeypatch.setattr(paths, "remove_own_files", killed)
    with pytest.raises(KeyboardInterrupt):
        with output.staged_dir(final, replace=True) as d:
            (d / "a.txt").write_text("new")
            output.write_own_manifest(d, {"kind": "run"}, ["a.txt"])
    assert seen == [True]
    assert (final / "a.txt").read_text() == "new"


def test_unwritable_out_is_refused_before_simulating(invoke, tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(cli, "run_replications", lambda *a, **k: ran.append(1) or [])
    res = invoke("run", "baseline", *FAST, "--out", unwritable(tmp_path))
    assert res.exit_code == 2 and res.stderr.startswith("error: cannot write") and not ran
    res = invoke("compare", "baseline", "staffing_cut", *FAST, "--out", unwritable(tmp_path))
    assert res.exit_code == 2 and res.stderr.startswith("error: cannot write") and not ran


def test_tilde_in_out_is_the_home_directory(invoke, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    assert invoke("run", "baseline", *FAST, "--out", "~/x").exit_code == 0
    assert (tmp_path / "home" / "x" / "manifest.json").is_file()
    assert not (tmp_path / "~").exists()


def test_stale_partial_directories_of_killed_runs_are_cleaned(invoke, tmp_path):
    stale = tmp_path / ".r.partial-999999999-deadbeef"  # a process that is gone
    stale.mkdir()
    (stale / "summary.csv").write_text("x")
    mine = tmp_path / ".r.partial-999999999-0000abcd"
    mine.mkdir()
    (mine / "my-file").write_text("x")   # a file govsim never writes: the directory is left alone
    assert invoke("run", "baseline", *FAST, "--out", tmp_path / "r").exit_code == 0
    assert not stale.exists()
    assert (mine / "my-file").exists()


# --------------------------------------------------------------------------------------------------
# Scenario files

def test_extends_with_one_overridden_category_keeps_the_others(tmp_path):
    base = load_scenario("baseline")
    variant = tmp_path / "v.yaml"
    variant.write_text("extends: baseline.yaml\ndemand:\n  categories:\n    market:\n      share: 0.2\n")
    scen = load_scenario(variant)
    via_set = load_scenario("baseline", {"demand.categories.market.share": 0.2})
    assert set(scen.demand.categories) == set(base.demand.categories)
    assert scen.demand.categories == via_set.demand.categories


# --------------------------------------------------------------------------------------------------
# One seed scheme (issue 8): a sweep row re-runs with `govsim run --seed S --replication K`

@pytest.mark.parametrize("crn", [False, True])
def test_a_sweep_row_reruns_with_govsim_run_to_identical_outputs(invoke, tmp_path, crn):
    import pandas as pd
    from sim.metrics import metric_names
    exp = parse_experiment({"base": "baseline.yaml", "design": "full_factorial", "replications": 2, "seed": 77,
                            "common_random_numbers": crn,
                            "settings": {"run.steps": 15, "population.residents_per_grid": 40,
                                         "population.grids_per_community": 2},
                            "factors": {"staffing.grid_workers_per_grid": {"levels": [1, 2]}}})
    run_sweep(exp, tmp_path / "s", workers=1, progress=False)
    rows = load_results(tmp_path / "s")
    row = rows.iloc[3]  # point 1, replication 1
    k = exp.run_index(int(row["point"]), int(row["replication"]))
    assert k == (1 if crn else 10_001)
    res = invoke("run", tmp_path / "s" / "base_scenario.yaml", "--set", "run.steps=15",
                 "--set", "population.residents_per_grid=40", "--set", "population.grids_per_community=2",
                 "--set", f"staffing.grid_workers_per_grid={row['staffing.grid_workers_per_grid']}",
                 "--seed", exp.seed, "--replication", k, "--out", tmp_path / "r", "--no-figures")
    assert res.exit_code == 0, res.output
    summary = pd.read_parquet(tmp_path / "r" / "summary.parquet")
    assert list(summary["replication"]) == [k] and summary["seed"].iloc[0] == row["seed"]
    for m in metric_names():
        a, b = summary[m].iloc[0], row[m]
        assert (a == b) or (pd.isna(a) and pd.isna(b)), (m, a, b)


def test_run_and_compare_use_the_same_seeds_as_sweeps():
    from sim import runner, seeds
    from sim.experiments import spec
    assert runner.replication_seed is seeds.replication_seed
    assert not hasattr(spec, "stream_seed") or spec.stream_seed is seeds.stream_seed
