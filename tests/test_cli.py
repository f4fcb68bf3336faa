"""CLI tests: the flags reach the core as one validated scenario; outputs exist and are documented;
bad input gives one ``error:`` line and exit code 2 without a traceback (also in a fresh process).

Runs are kept small (1,600 residents, 60 days, 2 replications) and most skip the figures.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

import sim.cli as cli
from sim import output, runner
from sim.metrics import metric_names
from sim.metrics import DAILY_SERIES
from sim.scenario import SCENARIO_DIR, Scenario, load_scenario, param_table, shipped_scenarios

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--set", "population.residents_per_grid=200", "--steps", "60", "--replications", "2"]
FAST = [*SMALL, "--no-figures"]

SCENARIO = """\
# A small test community: does the CLI work?
name: small
population:
  communities_per_subdistrict: 2
  grids_per_community: 4
  residents_per_grid: 200
run:
  steps: 60
  replications: 2
"""


@pytest.fixture
def invoke():
    runner_ = CliRunner()

    def call(*args: str):
        return runner_.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
    return call


@pytest.fixture
def scen(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def core(monkeypatch) -> list[Scenario]:
    """The scenarios that reached the core (the real runner still runs them)."""
    seen: list[Scenario] = []

    def spy(scenario, progress=None, **kwargs):
        seen.append(scenario)
        return runner.run_replications(scenario, progress=progress, **kwargs)
    monkeypatch.setattr(cli, "run_replications", spy)
    return seen


# --------------------------------------------------------------------------------------------------
# Flags → one validated, frozen scenario at the core

def test_run_flags_reach_the_core_as_overrides(invoke, scen, core, tmp_path):
    res = invoke("run", scen, "--replications", 3, "--seed", 7, "--steps", 5,
                 "--set", "policies.training_level=0.9", "--set", "policies.whistle_and_report=true",
                 "--out", tmp_path / "out", "--no-figures")
    assert res.exit_code == 0, res.output
    (s,) = core
    assert isinstance(s, Scenario)
    assert (s.run.replications, s.run.seed, s.run.steps) == (3, 7, 5)
    assert s.policies.training_level == 0.9 and s.policies.whistle_and_report is True
    assert s.population.residents_per_grid == 200  # from the file
    assert s == load_scenario(scen, {"run.replications": 3, "run.seed": 7, "run.steps": 5,
                                     "policies.training_level": 0.9, "policies.whistle_and_report": True})
    with pytest.raises(ValidationError):
        s.policies.training_level = 0.1  # frozen


def test_flags_win_over_set_run_and_file_defaults_stay(invoke, scen, core, tmp_path):
    res = invoke("run", scen, "--set", "run.seed=1", "--seed", 2, "--set", "run.steps=30",
                 "--out", tmp_path / "out", "--no-figures")
    assert res.exit_code == 0, res.output
    assert (core[0].run.seed, core[0].run.steps, core[0].run.replications) == (2, 30, 2)


def test_shipped_scenario_by_name_with_extends(invoke, core, tmp_path):
    if not (SCENARIO_DIR / "baseline.yaml").is_file():
        pytest.skip("no shipped baseline yet")
    variant = tmp_path / "variant.yaml"
    variant.write_text("extends: baseline.yaml\npolicies:\n  training_level: 0.7\n", encoding="utf-8")
    res = invoke("run", variant, *FAST, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert core[0].policies.training_level == 0.7 and core[0].run.steps == 60


# --------------------------------------------------------------------------------------------------
# What a run writes

def test_run_writes_documented_readable_outputs(invoke, scen, core, tmp_path):
    out = tmp_path / "run"
    res = invoke("run", scen, *SMALL, "--out", out)
    assert res.exit_code == 0, res.output
    assert "Economy" in res.stdout and "Equity" in res.stdout and "95% interval" in res.stdout
    assert f"results written to {out}" in res.stdout.replace("\n", "")
    s = core[0]

    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary["replication"]) == [0, 1]
    assert list(summary["seed"]) == [runner.replication_seed(s.run.seed, k) for k in range(2)]
    assert set(metric_names()) <= set(summary.columns)
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), summary, check_dtype=False)

    daily = pd.read_parquet(out / "daily.parquet")
    assert list(daily.columns[:3]) == ["scenario", "replication", "day"]
    assert set(DAILY_SERIES) <= set(daily.columns)
    assert len(daily) == 2 * 60 and len(pd.read_csv(out / "daily.csv")) == 2 * 60
    grids = pd.read_parquet(out / "grids.parquet")
    assert len(grids) == 2 * s.n_grids and len(pd.read_csv(out / "grids.csv")) == len(grids)
    depts = pd.read_parquet(out / "departments.parquet")
    assert len(depts) == 2 * len(s.staffing.departments) and not pd.read_csv(out / "departments.csv").empty
    table = pd.read_csv(out / "summary_table.csv")
    assert {"metric", "E", "mean", "ci_low", "ci_high"} <= set(table.columns)

    info = json.loads((out / "manifest.json").read_text())
    assert info["kind"] == "run" and info["scenario_name"] == "small"
    assert info["seed"] == s.run.seed and info["seeds"] == list(summary["seed"]) and info["replications"] == 2
    assert {"python", "numpy", "mesa", "pandas"} <= set(info["versions"])
    assert "git_commit" in info
    assert load_scenario(out / "scenario.yaml") == s  # the resolved scenario reruns as it ran

    for name in info["outputs"]:  # every listed file exists and the README describes it
        assert (out / name).is_file(), name
    readme = (out / "README.txt").read_text()
    assert all(name in readme for name in info["outputs"]) and "(undocumented)" not in readme
    pngs = list((out / "figures").glob("*.png"))
    figures = [k for k in output.RUN_FILES if k.startswith("figures/")]   # the series and the sentiment map
    assert len(pngs) == len(figures) and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_every_output_column_is_documented(scen):
    s = load_scenario(scen, {"run.steps": 5, "run.replications": 1})
    tables = output.run_tables(s, runner.run_replications(s))
    assert output.undocumented_columns(tables.summary, {}) == []
    assert output.undocumented_columns(tables.daily, output.SERIES_DOC) == []
    assert output.undocumented_columns(tables.grids, output.GRID_DOC) == []
    assert output.undocumented_columns(tables.departments, output.DEPARTMENT_DOC) == []
    assert output.undocumented_columns(tables.summary_table, output.SUMMARY_TABLE_DOC) == []
    assert output.undocumented_columns(tables.communities, output.COMMUNITY_DOC) == []
    assert output.undocumented_columns(tables.perspectives, output.PERSPECTIVE_DOC) == []


def test_identical_seeds_give_identical_files(invoke, scen, tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert invoke("run", scen, *FAST, "--seed", seed, "--out", tmp_path / name).exit_code == 0
    for file in ("summary.csv", "daily.csv", "grids.csv", "departments.csv", "summary_table.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    assert (tmp_path / "a" / "summary.csv").read_bytes() != (tmp_path / "c" / "summary.csv").read_bytes()


def test_default_out_dir_is_named_and_timestamped(invoke, scen, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("run", scen, *FAST).exit_code == 0
    assert invoke("run", scen, *FAST).exit_code == 0  # same second: a fresh directory, not an overwrite
    dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(dirs) == 2 and all(d.startswith("small-2") for d in dirs)
    assert all((tmp_path / "runs" / d / "manifest.json").is_file() for d in dirs)


def test_out_dir_with_a_previous_run_is_not_overwritten(invoke, scen, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", scen, *FAST, "--out", out).exit_code == 0
    before = (out / "manifest.json").read_text()
    res = invoke("run", scen, *FAST, "--seed", 9, "--out", out)
    assert res.exit_code == 2 and res.stderr.startswith("error:") and "--force" in res.stderr
    assert (out / "manifest.json").read_text() == before
    res = invoke("run", scen, *FAST, "--seed", 9, "--out", out, "--force")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.yaml"]  # nothing partial or old left


def test_out_dir_of_other_files_is_refused_even_with_force(invoke, scen, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    for extra in ((), ("--force",)):
        res = invoke("run", scen, *FAST, "--out", other, *extra)
        assert res.exit_code == 2 and "does not hold a govsim output" in res.stderr
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("run", scen, *FAST, "--out", empty).exit_code == 0


def test_a_failed_write_leaves_nothing_that_looks_complete(invoke, scen, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert invoke("run", scen, *FAST, "--out", out).exit_code == 0
    before = (out / "manifest.json").read_text()

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(output, "run_readme", broken)
    with pytest.raises(RuntimeError):
        invoke("run", scen, *FAST, "--seed", 3, "--out", out, "--force")
    with pytest.raises(RuntimeError):
        invoke("run", scen, *FAST, "--out", tmp_path / "new")
    assert (out / "manifest.json").read_text() == before  # the previous run is intact
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.yaml"]


def test_staged_dir_removes_partial_output_on_interrupt(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with output.staged_dir(tmp_path / "x") as tmp:
            (tmp / "summary.csv").write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_staged_dir_never_replaces_what_appeared_meanwhile(tmp_path):
    final = tmp_path / "x"
    with pytest.raises(output.OutputError, match="x-2"):
        with output.staged_dir(final) as tmp:
            (tmp / "summary.csv").write_text("new")
            final.mkdir()
            (final / "theirs.txt").write_text("theirs")
    assert [p.name for p in final.iterdir()] == ["theirs.txt"]
    assert (tmp_path / "x-2" / "summary.csv").read_text() == "new"


# --------------------------------------------------------------------------------------------------
# compare

def test_compare_uses_common_seeds_and_writes_the_comparison(invoke, scen, core, tmp_path):
    other = tmp_path / "trained.yaml"
    other.write_text(SCENARIO.replace("name: small", "name: trained") + "  seed: 99\n  steps: 400\n"
                     + "policies:\n  training_level: 1.0\n", encoding="utf-8")
    out = tmp_path / "cmp"
    res = invoke("compare", scen, other, "--seed", 11, "--out", out)  # the small sizes come from the files
    assert res.exit_code == 0, res.output
    assert [s.name for s in core] == ["small", "trained"]
    assert {(s.run.seed, s.run.replications, s.run.steps) for s in core} == {(11, 2, 60)}  # the base's
    assert "run settings are replaced" in res.stderr
    assert core[1].policies.training_level == 1.0 and core[1].population.residents_per_grid == 200

    assert "Paired differences from small" in res.stdout and "trained" in res.stdout
    comp = pd.read_parquet(out / "comparison.parquet")
    pd.testing.assert_frame_equal(pd.read_csv(out / "comparison.csv"), comp, check_dtype=False)
    assert set(comp["scenario"]) == {"trained"} and set(comp["base_scenario"]) == {"small"}
    assert set(comp["metric"]) == set(metric_names())
    assert set(comp["verdict"]) <= {"better", "worse", "no meaningful change", "uncertain", "not judged"}
    defined = comp["base"].notna()   # a metric undefined in every run (e.g. gaming found, with no gaming) counts none
    assert (comp.loc[defined, "replications"] == 2).all() and defined.sum() >= len(comp) - 3
    seeds = [pd.read_csv(out / name / "summary.csv")["seed"].tolist() for name in ("small", "trained")]
    assert seeds[0] == seeds[1]  # common random numbers
    info = json.loads((out / "manifest.json").read_text())
    assert info["kind"] == "comparison" and info["seed"] == 11 and info["scenarios"] == ["small", "trained"]
    for name in ("comparison_forest.png", "comparison_daily.png", "README.txt"):
        assert (out / name).stat().st_size > 0
    assert (out / "trained" / "figures" / "backlog.png").is_file()


def test_compare_disambiguates_names_and_a_scenario_equals_itself(invoke, scen, core, tmp_path):
    out = tmp_path / "cmp"
    res = invoke("compare", scen, scen, *FAST, "--out", out)
    assert res.exit_code == 0, res.output
    assert [s.name for s in core] == ["small", "small-2"]
    comp = pd.read_csv(out / "comparison.csv")
    judged = comp["better"] != "neither"
    assert (comp["difference"].fillna(0) == 0).all()
    assert set(comp.loc[judged, "verdict"]) <= {"no meaningful change", "uncertain"}
    assert (out / "small").is_dir() and (out / "small-2").is_dir()


def test_compare_needs_another_scenario(invoke, scen):
    assert invoke("compare", scen).exit_code == 2


# --------------------------------------------------------------------------------------------------
# validate, params, scenarios, viz

def test_validate(invoke, scen, tmp_path):
    res = invoke("validate", scen)
    assert res.exit_code == 0
    assert res.stdout.strip() == f"ok: {scen} (1,600 residents, 60 days, 2 replications)"
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  training_level: 2\n")
    res = invoke("validate", scen, bad, tmp_path / "missing.yaml")
    assert res.exit_code == 2
    assert f"ok: {scen}" in res.stdout
    errors = res.stderr.strip().split("\nerror: ")
    assert len(errors) == 2 and res.stderr.startswith("error:")
    assert "training_level" in errors[0] and "missing.yaml" in errors[1]


def test_every_shipped_scenario_validates(invoke):
    names = shipped_scenarios()
    if not names:
        pytest.skip("no shipped scenarios yet")
    res = invoke("validate", *[SCENARIO_DIR / n for n in names])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("ok: ") == len(names)


def test_params_formats_and_sections(invoke):
    res = invoke("params", "--format", "csv")
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    paths = [r["path"] for r in rows]
    assert paths[:4] == ["run.steps", "run.replications", "run.seed", "run.first_replication"]
    assert paths[4:] == [p.path for p in param_table()]
    row = next(r for r in rows if r["path"] == "policies.training_level")
    assert (row["lower"], row["upper"], row["type"]) == ("0", "1", "float") and row["description"]
    assert next(r for r in rows if r["path"] == "population.share_60plus")["source"]

    res = invoke("params", "--section", "population", "--format", "markdown")
    assert res.exit_code == 0
    body = res.stdout.strip().splitlines()
    assert body[0].startswith("| path |") and len(body) == 2 + sum(p.path.startswith("population.") for p in param_table())
    res = invoke("params", "--section", "policies")
    assert res.exit_code == 0 and "training_level" in res.stdout and "population." not in res.stdout

    res = invoke("params", "--section", "polices")
    assert res.exit_code == 2 and "did you mean 'policies'" in res.stderr
    assert invoke("params", "--format", "xml").exit_code == 2


def test_scenarios_lists_the_question_of_each_file(invoke, tmp_path, monkeypatch):
    import sim.scenario
    (tmp_path / "a.yaml").write_text("# A: does one thing\n# work over two lines? More text.\nname: a\n")
    (tmp_path / "b.yaml").write_text("name: b\n")
    monkeypatch.setattr(sim.scenario, "SCENARIO_DIR", tmp_path)
    monkeypatch.setattr(cli, "SCENARIO_DIR", tmp_path)
    res = invoke("scenarios")
    assert res.exit_code == 0
    assert "a.yaml" in res.stdout and "b.yaml" in res.stdout
    assert cli.scenario_question(tmp_path / "a.yaml") == "A: does one thing work over two lines?"


def test_every_shipped_scenario_states_its_question():
    for name in shipped_scenarios():
        assert cli.scenario_question(SCENARIO_DIR / name).endswith("?"), name


def test_viz_execs_solara_with_the_scenario(invoke, scen, tmp_path, monkeypatch):
    app_file = tmp_path / "app.py"
    app_file.write_text("")
    calls = []
    monkeypatch.setattr(cli, "viz_app_path", lambda: app_file)
    monkeypatch.setattr(cli, "_exec", lambda argv, env: calls.append((argv, env)))
    res = invoke("viz", scen, "--host", "0.0.0.0", "--port", 9000)
    assert res.exit_code == 0, res.output
    assert "http://0.0.0.0:9000" in res.stdout
    ((argv, env),) = calls
    assert argv == [sys.executable, "-m", "solara", "run", str(app_file), "--host", "0.0.0.0", "--port", "9000",
                    "--production"]
    assert env["GOVSIM_SCENARIO"] == str(scen.resolve())


def test_viz_errors(invoke, scen, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_exec", lambda argv, env: pytest.fail("must not exec"))
    monkeypatch.setattr(cli, "viz_app_path", lambda: tmp_path / "nowhere" / "app.py")
    res = invoke("viz", scen)
    assert res.exit_code == 2 and "app.py" in res.stderr
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    res = invoke("viz", scen)
    assert res.exit_code == 2 and "make run" in res.stderr
    res = invoke("viz", tmp_path / "nope.yaml")
    assert res.exit_code == 2 and "not found" in res.stderr


def test_viz_refuses_to_serve_a_page_whose_front_end_is_not_cached(invoke, scen, tmp_path, monkeypatch):
    import solara.server.settings as server_settings
    monkeypatch.setattr(cli, "_exec", lambda argv, env: pytest.fail("must not exec"))
    monkeypatch.setattr(server_settings.assets, "proxy_cache_dir", str(tmp_path / "empty-cache"))
    res = invoke("viz", scen)
    assert res.exit_code == 2 and "echarts@5.4.0" in res.stderr and "make run" in res.stderr
    assert "Traceback" not in res.output


# --------------------------------------------------------------------------------------------------
# The experiment commands are mounted when present; real import errors are not hidden

def test_experiments_mount_skips_only_a_missing_package(monkeypatch):
    import importlib.abc

    class Missing(importlib.abc.MetaPathFinder):
        def __init__(self, name):
            self.name = name

        def find_spec(self, fullname, path=None, target=None):
            if fullname == "sim.experiments.cli":
                raise ModuleNotFoundError(f"No module named '{self.name}'", name=self.name)
            return None

    monkeypatch.delitem(sys.modules, "sim.experiments.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Missing("sim.experiments.cli"), *sys.meta_path])
    cli._mount_experiments()  # not there yet: silently skipped
    monkeypatch.setattr(sys, "meta_path", [Missing("SALib"), *sys.meta_path[1:]])
    with pytest.raises(ModuleNotFoundError, match="SALib"):
        cli._mount_experiments()


# --------------------------------------------------------------------------------------------------
# Bad input: one "error:" line, exit code 2, no traceback, also in a fresh process

def test_bad_input_in_process(invoke, scen, tmp_path):
    res = invoke("run", scen, "--set", "policies.training_level")
    assert res.exit_code == 2 and res.stderr.startswith("error:") and "path.to.key=value" in res.stderr
    res = invoke("run", scen, "--replications", 0)
    assert res.exit_code == 2 and "run.replications" in res.stderr and "1 to 10000" in res.stderr
    (tmp_path / "file").write_text("x")
    res = invoke("run", scen, *FAST, "--out", tmp_path / "file")
    assert res.exit_code == 2 and "not a directory" in res.stderr
    assert invoke("run", scen, "--no-such-option").exit_code == 2
    assert invoke("run", scen, "--replications", "many").exit_code == 2
    assert invoke("frobnicate").exit_code == 2


BAD_INPUTS = {
    "unknown key": ("population:\n  residents_per_grd: 100\n", [],
                    ["population.residents_per_grd", "did you mean 'residents_per_grid'"]),
    "out of range": ("policies:\n  training_level: 1.5\n", [],
                     ["policies.training_level", "1.5", "allowed 0.0 to 1.0"]),
    "missing file": (None, [], ["not found", "missing.yaml"]),
    "malformed yaml": ("population:\n  residents_per_grid: [1, 2\n", [], ["not valid YAML", "line"]),
    "bad --set path": ("name: x\n", ["--set", "policies.traning_level=0.5"],
                       ["policies.traning_level", "did you mean 'policies.training_level'"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_in_a_fresh_process(case, tmp_path):
    text, extra, expected = BAD_INPUTS[case]
    file = tmp_path / ("missing.yaml" if text is None else "bad.yaml")
    if text is not None:
        file.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(file), *extra, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for piece in expected:
        assert piece in proc.stderr, (piece, proc.stderr)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------------
# Replications in worker processes

def test_worker_processes_give_the_same_outputs_as_one_process(invoke, scen, tmp_path):
    """--workers 2 splits the replications into two batches run in two processes: the tables written
    are identical to one process's (every run keeps its own random streams)."""
    outs = {}
    for w in (1, 2):
        res = invoke("run", scen, "--replications", 4, "--steps", 30, "--workers", w, "--no-figures",
                     "--out", tmp_path / f"w{w}")
        assert res.exit_code == 0, res.output
        outs[w] = {f: pd.read_parquet(tmp_path / f"w{w}" / f"{f}.parquet") for f in ("summary", "daily", "grids")}
    for f in outs[1]:
        pd.testing.assert_frame_equal(outs[1][f], outs[2][f])


def test_workers_by_default_only_when_replications_fill_several_batches(monkeypatch):
    sc = load_scenario("baseline", {"run.replications": 10})
    assert runner.run_workers(sc) == 1                       # 80,000 residents: one batch
    assert runner.run_workers(sc, requested=3) == 3
    monkeypatch.setattr(runner, "BATCH_RESIDENTS", 20_000)   # now 4 batches of 2-3 runs
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert runner.run_workers(sc) == 2
    monkeypatch.setattr("sim.resources.available_bytes", lambda: 400 * 2**20)   # room for one process
    assert runner.run_workers(sc) == 1


def test_workers_must_be_positive(invoke, scen, tmp_path):
    res = invoke("run", scen, "--workers", 0, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "--workers" in res.output
    assert not (tmp_path / "o").exists()
