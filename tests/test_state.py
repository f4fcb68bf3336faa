"""Warm starts (sim/state.py): a saved state resumed gives the uninterrupted run bit for bit; a policy
branched from a state starts from exactly that state; bad states are refused with one clear error."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from sim.model import GovernanceModel
from sim.runner import burn_in, run_from_state
from sim.scenario import load_scenario
from sim.state import StateError, branch, load_state, read_header, save_state

SEEDS = [11, 12]
FRAMES = ("daily_frame", "grid_frame", "department_frame", "community_frame", "perspective_frame")


def assert_same_results(a: GovernanceModel, b: GovernanceModel) -> None:
    assert a.day == b.day
    # exact equality of every float (NaN, a metric undefined in the run such as platform use with no
    # platform, equals NaN)
    pd.testing.assert_frame_equal(pd.DataFrame(a.summaries()), pd.DataFrame(b.summaries()), check_exact=True)
    for r in range(a.n_runs):
        assert a.counts(r) == b.counts(r)
        for f in FRAMES:
            pd.testing.assert_frame_equal(getattr(a, f)(r), getattr(b, f)(r), check_exact=True)


@pytest.mark.parametrize("name, k", [("baseline", 40), ("staged_pilot", 100), ("proactive_early_warning", 1),
                                     ("flood_shock_platform", 75), ("mixed_district", 60)])
def test_saved_at_day_k_and_resumed_is_the_uninterrupted_run(tmp_path, name, k):
    # staged_pilot changes levers on day 60 (before the save at 100) and day 180 (after it)
    sc = load_scenario(name, {"run.steps": 200 if name == "staged_pilot" else 120})
    whole = GovernanceModel(sc, seeds=SEEDS).run()
    part = GovernanceModel(sc, seeds=SEEDS).run(k)
    path = part.save_state(tmp_path / "state")
    assert path.suffix == ".npz"
    resumed = GovernanceModel.load_state(path)
    assert resumed.day == k and resumed.steps_planned == sc.run.steps
    resumed.run()
    assert_same_results(whole, resumed)


def test_checkpoints_mid_run_chain(tmp_path):
    """Checkpoint, resume, checkpoint again, resume again: still the uninterrupted run; the model that
    was saved is not disturbed by saving (it continues to the same end)."""
    sc = load_scenario("whistle_and_report", {"run.steps": 90})
    whole = GovernanceModel(sc, seeds=[5]).run()
    m = GovernanceModel(sc, seeds=[5]).run(30)
    m.save_state(tmp_path / "a.npz")
    m.run()
    assert_same_results(whole, m)
    m2 = load_state(tmp_path / "a.npz").run(25)
    save_state(m2, tmp_path / "b.npz")
    m3 = load_state(tmp_path / "b.npz").run()
    assert_same_results(whole, m3)


def test_the_state_holds_every_part(tmp_path):
    sc = load_scenario("baseline", {"run.steps": 30})
    m = GovernanceModel(sc, seeds=SEEDS).run(20)
    path = m.save_state(tmp_path / "s.npz")
    h = read_header(path)
    assert h["format"] == "govsim-state" and h["day"] == 20 and h["seeds"] == SEEDS
    assert set(h["rng"]["streams"][0]) == set(m.streams[0])
    names = zipfile.ZipFile(path).namelist()
    for part in ("residents/trust", "residents/adjacency/indices", "cases/status", "causes/master", "hits/u",
                 "ledger/events", "ledger/durations/0", "departments/free", "levers/policies.on_platform",
                 "model/series"):
        assert f"{part}.npy" in names, part
    # loading reads no pickles
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_a_comparison_from_a_state_starts_both_arms_from_identical_state(tmp_path):
    base = load_scenario("baseline", {"run.steps": 60})
    other = load_scenario("data_sharing_all", {"run.steps": 60})
    path = burn_in(base, 45, replications=2, seed=3).save_state(tmp_path / "warm.npz")
    a, b = branch(path, base), branch(path, other)
    assert a.day == b.day == a.start_day == 45 and a.steps_planned == b.steps_planned == 105
    # the same population, history, open cases and random streams at the branch point
    np.testing.assert_array_equal(a.residents.trust, b.residents.trust)
    np.testing.assert_array_equal(a.residents.satisfaction, b.residents.satisfaction)
    np.testing.assert_array_equal(a.cases.pid, b.cases.pid)
    np.testing.assert_array_equal(a.cases.status, b.cases.status)
    assert [{k: g.bit_generator.state for k, g in s.items()} for s in a.streams] == \
           [{k: g.bit_generator.state for k, g in s.items()} for s in b.streams]
    # the policy is in force from the branch point, and the books open there
    assert a.params.policies.share_joined == 0.0 and b.params.policies.share_joined == 1.0
    assert b.departments.joined.all() and not a.departments.joined.any()
    assert a.ledger.total("problems").sum() == 0 == b.ledger.total("problems").sum()
    a.run()
    b.run()
    assert a.daily_frame(0)["day"].tolist() == list(range(46, 106))
    assert a.summaries() != b.summaries()   # the policy did something


def test_branching_with_the_burn_in_scenario_measures_only_the_days_after(tmp_path):
    sc = load_scenario("baseline", {"run.steps": 50})
    path = burn_in(sc, 30, replications=1, seed=9).save_state(tmp_path / "w")
    (res,) = run_from_state(path, sc)
    assert res.daily["day"].tolist() == list(range(31, 81))
    # the same days run uninterrupted, from day 0: identical days 31..80 (the series are state, not books)
    whole = GovernanceModel(sc, seeds=read_header(path)["seeds"]).run(80)
    np.testing.assert_array_equal(res.daily["trust"].to_numpy(), whole.daily_frame(0)["trust"].to_numpy()[30:])
    # books: only the problems that arose after the branch
    assert res.counts["problems"] == int(whole.series[30:80, 0, 0].sum())


def test_a_state_from_another_version_or_format_is_refused(tmp_path):
    path = GovernanceModel(load_scenario("baseline", {"run.steps": 5}), seeds=[1]).run().save_state(tmp_path / "s")
    for field, value, words in (("govsim_version", "0.0.1", "saved by govsim 0.0.1"),
                                ("format_version", 99, "state format 99")):
        bad = tmp_path / f"bad-{field}.npz"
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        h = json.loads(arrays["__header__"].tobytes())
        h[field] = value
        arrays["__header__"] = np.frombuffer(json.dumps(h).encode(), dtype=np.uint8)
        np.savez(bad, **arrays)
        with pytest.raises(StateError, match=words):
            load_state(bad)
    junk = tmp_path / "junk.npz"
    junk.write_text("not a state")
    with pytest.raises(StateError, match="not a govsim state file"):
        load_state(junk)
    with pytest.raises(StateError, match="not found"):
        load_state(tmp_path / "missing.npz")


def test_a_scenario_that_builds_another_world_is_refused(tmp_path):
    path = GovernanceModel(load_scenario("baseline", {"run.steps": 5}), seeds=[1]).run().save_state(tmp_path / "s")
    for over, words in (({"population.grids_per_community": 3}, "grids"),
                        ({"network.rewire": 0.3}, "network.rewire"),
                        ({"population.share_60plus": 0.4}, "share_60plus")):
        with pytest.raises(StateError, match=words):
            branch(path, load_scenario("baseline", over))
    # a lever, even a community's starting value of one, is a policy: allowed
    branch(path, load_scenario("baseline", {"staffing.grid_workers_per_grid": 3.0}))


# --------------------------------------------------------------------------------------------------
# The command line

def _cli(*args):
    from typer.testing import CliRunner

    import sim.cli as cli
    return CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


SMALL = ["--set", "population.residents_per_grid=200", "--steps", "40", "--no-figures"]


def test_cli_burn_in_save_and_branch_a_comparison(tmp_path):
    state = tmp_path / "warm.npz"
    r = _cli("run", "baseline", *SMALL, "-r", "2", "--burn-in", "30", "--save-state", state, "--out", tmp_path / "r1")
    assert r.exit_code == 0, r.output
    assert read_header(state)["day"] == 30
    r2 = _cli("run", "baseline", *SMALL, "--from-state", state, "--out", tmp_path / "r2")
    assert r2.exit_code == 0, r2.output
    # the burn-in run and the run from its saved state are the same runs
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r1" / "summary.csv"), pd.read_csv(tmp_path / "r2" / "summary.csv"))
    m = json.loads((tmp_path / "r2" / "manifest.json").read_text())
    assert m["warm_start"]["state"]["day"] == 30 and m["warm_start"]["state"]["seeds"] == read_header(state)["seeds"]
    assert len(m["warm_start"]["state"]["sha256"]) == 64
    c = _cli("compare", "baseline", "data_sharing_all", *SMALL, "--from-state", state, "--out", tmp_path / "c")
    assert c.exit_code == 0, c.output
    # the base arm of the comparison is the run from the state
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "c" / "baseline" / "summary.csv"),
                                  pd.read_csv(tmp_path / "r2" / "summary.csv"))
    daily = pd.read_csv(tmp_path / "c" / "data_sharing_all" / "daily.csv")
    assert daily["day"].min() == 31 and daily["day"].max() == 70


@pytest.mark.parametrize("extra, words", [
    (["--from-state", "missing.npz"], "state file not found"),
    (["--save-state", "x.npz"], "give --burn-in too"),
    (["--burn-in", "5", "--from-state", "s.npz"], "give one of them"),
    (["--from-state", "s.npz", "-r", "3"], "drop --replications"),
    (["--burn-in", "5", "--save-state", "s.npz"], "exists; use --force"),
    (["--burn-in", "5", "--save-state", "notes.npz", "--force"], "not a govsim state file"),
])
def test_cli_refuses_bad_warm_start_flags(tmp_path, monkeypatch, extra, words):
    monkeypatch.chdir(tmp_path)
    save_state(GovernanceModel(load_scenario("baseline", {"population.residents_per_grid": 200, "run.steps": 5}),
                               seeds=[1]).run(), tmp_path / "s.npz")
    (tmp_path / "notes.npz").write_text("mine")
    r = _cli("run", "baseline", *SMALL, *extra, "--out", tmp_path / "o")
    assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output
    assert (tmp_path / "notes.npz").read_text() == "mine" and not (tmp_path / "o").exists()


def test_cli_refuses_a_scenario_for_another_world(tmp_path):
    state = tmp_path / "s.npz"
    save_state(GovernanceModel(load_scenario("baseline", {"run.steps": 5}), seeds=[1]).run(), state)
    r = _cli("compare", "baseline", "rural_township", "--steps", "5", "--from-state", state, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "builds another world" in r.output and not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------------
# Sweeps

@pytest.mark.slow
def test_a_sweep_from_a_state_branches_every_run_from_it(tmp_path):
    from sim.experiments import load_results, parse_experiment, run_sweep
    from sim.scenario import with_changes
    base = load_scenario("baseline", {"population.residents_per_grid": 200, "run.steps": 30})
    state = burn_in(base, 20, replications=2, seed=4).save_state(tmp_path / "warm.npz")
    spec = {"name": "warm", "base": "baseline.yaml", "from_state": str(state),
            "settings": {"population.residents_per_grid": 200, "run.steps": 30},
            "factors": {"policies.share_joined": {"levels": [0.0, 0.5, 1.0]}}, "design": "full_factorial",
            "replications": 2, "outcomes": ["satisfaction", "resolution_rate", "total_cost"]}
    exp = parse_experiment(spec)
    assert [exp.run_seed(p, k) for p in range(3) for k in range(2)] == read_header(state)["seeds"] * 3
    run_sweep(exp, tmp_path / "one", workers=1, progress=False)
    run_sweep(exp, tmp_path / "two", workers=2, chunk_size=1, progress=False)   # runs of a point split up
    one, two = (load_results(tmp_path / d).drop(columns="elapsed") for d in ("one", "two"))
    pd.testing.assert_frame_equal(one, two)
    assert (one["status"] == "done").all()
    for p, level in enumerate([0.0, 0.5, 1.0]):
        expected = branch(state, with_changes(base, {"policies.share_joined": level})).run().summaries()
        for k in range(2):
            row = one[(one["point"] == p) & (one["replication"] == k)].iloc[0]
            assert row["satisfaction"] == expected[k]["satisfaction"]
            assert row["total_cost"] == expected[k]["total_cost"]


def test_a_sweep_refuses_a_state_it_cannot_use(tmp_path):
    from sim.experiments import parse_experiment
    from sim.experiments.errors import ExperimentError
    state = GovernanceModel(load_scenario("baseline", {"run.steps": 5}), seeds=[1]).run().save_state(tmp_path / "s")
    spec = {"base": "baseline.yaml", "from_state": str(state), "factors": {"policies.share_joined": None},
            "design": {"method": "latin", "n": 4}}
    with pytest.raises(ExperimentError, match="holds 1 runs"):
        parse_experiment({**spec, "replications": 2})
    with pytest.raises(ExperimentError, match="another world"):
        parse_experiment({**spec, "settings": {"population.grids_per_community": 2}})
    with pytest.raises(ExperimentError, match="only the govsim model"):
        parse_experiment({"model": "ishigami", "from_state": str(state), "factors": {"x1": None},
                          "design": {"method": "latin", "n": 4}})


def test_a_branch_counts_shock_and_timeline_days_from_the_branch_point(tmp_path):
    path = burn_in(load_scenario("baseline"), 20, replications=1, seed=2).save_state(tmp_path / "w.npz")
    flood = branch(path, load_scenario("flood_shock"))      # flood on days 150–163 of the branched run
    quiet = flood.arising.rate(20 + 149).sum()
    assert flood.arising.rate(20 + 150).sum() > 2 * quiet and flood.arising.rate(20 + 163).sum() > 2 * quiet
    assert flood.arising.rate(20 + 164).sum() == quiet
    pilot = branch(path, load_scenario("staged_pilot"))     # community 0 trained from day 60 of the run
    lever = pilot.levers.local["policies.training_level"]
    pilot.run(60)
    assert lever[0] == lever[1]
    pilot.step()                                            # day 20 + 60: the change takes effect
    assert lever[0] == 1.0 and lever[1] != 1.0


def test_cli_compare_burn_in_refuses_an_arm_for_another_world_before_burning_in(tmp_path):
    r = _cli("compare", "baseline", "rural_township", "--steps", "5", "--burn-in", "5", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "builds another world than the burnt-in scenario 'baseline'" in r.output
    assert "burn-in:" not in r.output and not (tmp_path / "o").exists()


def test_a_burn_in_runs_the_replications_asked_for():
    """`govsim run --replication K --burn-in D` burns in replication K (its seed, as a plain run of
    replication K uses), not replication 0."""
    from sim.runner import replication_seed
    sc = load_scenario("baseline", {"run.first_replication": 3, "run.replications": 2,
                                    "run.steps": 5})
    model = burn_in(sc, 2)
    assert model.seeds == [replication_seed(sc.run.seed, 3), replication_seed(sc.run.seed, 4)]
