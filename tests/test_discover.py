"""Levers × uncertainties (cross designs), scenario discovery (PRIM, CART), regret and satisficing,
and the equal-budget search."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.cli as cli
from sim.experiments import discover, robust
from sim.experiments.errors import ExperimentError
from sim.experiments.spec import parse_experiment
from sim.experiments.sweep import run_sweep

# --------------------------------------------------------------------------------------------------
# PRIM and CART recover a known failure region


def synthetic(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"demand": rng.uniform(0.2, 0.6, n), "share_joined": rng.uniform(0, 1, n),
                      "noise": rng.uniform(0, 1, n)})
    y = (x["demand"] > 0.44) & (x["share_joined"] < 0.5)
    return x, y.to_numpy()


def test_prim_recovers_a_known_failure_region():
    x, y = synthetic()
    box, traj = discover.prim_boxes(x, y)
    assert set(box.limits) == {"demand", "share_joined"}                 # the irrelevant variable is left free
    lo, hi = box.limits["demand"]
    assert hi is None and lo == pytest.approx(0.44, abs=0.02)
    lo, hi = box.limits["share_joined"]
    assert lo is None and hi == pytest.approx(0.5, abs=0.05)
    assert box.density > 0.9 and box.coverage >= 0.6
    assert {"coverage", "density", "mass", "res_dim"} <= set(traj.columns) and len(traj) > 5
    # the trade-off: along the trajectory density rises as coverage falls
    assert traj["density"].iloc[-1] > traj["density"].iloc[0] and traj["coverage"].iloc[-1] < traj["coverage"].iloc[0]


def test_cart_finds_the_same_region_as_rules():
    x, y = synthetic()
    rules = discover.cart_rules(x, y)
    top = rules[0]
    assert top["density"] > 0.9 and top["coverage"] > 0.8
    used = {c for c, _, _ in top["conditions"]}
    assert used == {"demand", "share_joined"}
    thr = {c: v for c, op, v in top["conditions"] if (c, op) in (("demand", ">"), ("share_joined", "<="))}
    assert thr["demand"] == pytest.approx(0.44, abs=0.02) and thr["share_joined"] == pytest.approx(0.5, abs=0.05)


def test_the_box_is_said_in_plain_words():
    box = discover.Box({"demand.problems_per_resident_year": (0.44, None), "policies.share_joined": (None, 0.5)},
                       0.8, 0.95, 0.2, 3)
    from sim.scenario import check_path
    infos = {p: check_path(p) for p in box.limits}
    en = discover.box_sentence(box, "median_days > 12", "status quo", infos, 80, 400, "en")
    assert "exceeds 0.44" in en and "is below 0.5" in en and "95%" in en and "80%" in en
    zh = discover.box_sentence(box, "median_days > 12", "现状", infos, 80, 400, "zh")
    assert "问题发生率（demand.problems_per_resident_year）高于0.44" in zh and "低于0.5" in zh and "覆盖率" in zh
    assert "demand (demand.problems_per_resident_year) exceeds 0.44 per resident per year" in en


# --------------------------------------------------------------------------------------------------
# Regret and satisficing on a hand-made table


def hand_means():
    v = {0: [5, 5, 5], 1: [3, 6, 9], 2: [4, 4, 7]}
    return pd.DataFrame([{"policy": p, "future": f, "median_days": float(x)} for p, xs in v.items()
                         for f, x in enumerate(xs)])


def test_regret_ranking_on_a_hand_made_table():
    t = robust.robustness_table(hand_means(), ["median_days"],
                                robust.parse_requirements(["median_days<=5"], ["median_days"])).set_index("policy")
    assert t["max_regret"].tolist() == [2, 4, 2]
    assert t["rank"].tolist() == [1, 3, 1]
    assert t.loc[0, "p90_regret"] == pytest.approx(1.8)
    assert t["satisficing"].tolist() == pytest.approx([1.0, 1 / 3, 2 / 3])
    assert t["worst"].tolist() == [5, 9, 7]
    assert robust.overall_rank(t.reset_index()).index.tolist() == [0, 2, 1]


def test_regret_of_a_higher_is_better_outcome_and_bad_requirements():
    m = hand_means().rename(columns={"median_days": "satisfaction_all"})
    t = robust.robustness_table(m, ["satisfaction_all"]).set_index("policy")
    assert t["max_regret"].tolist() == [4, 2, 2]          # best per future: 5, 6, 9
    with pytest.raises(ExperimentError, match="unknown outcome 'median_day'"):
        robust.parse_requirements(["median_day<=5"], ["median_days"])
    with pytest.raises(ExperimentError, match="OUTCOME<=VALUE"):
        robust.parse_requirements(["median_days=5"], ["median_days"])


# --------------------------------------------------------------------------------------------------
# Cross designs: levers × uncertainties

CROSS = {"model": "ishigami", "levers": {"x1": {"levels": [-1.0, 0.0, 1.0]}},
         "uncertainties": {"x2": {"bounds": [-3.1, 3.1]}, "x3": {"bounds": [-3.1, 3.1]}},
         "design": {"method": "cross", "n": 40}, "replications": 2, "seed": 7, "model_options": {"noise": 0.1}}


def test_a_cross_design_runs_every_policy_in_every_future_with_shared_draws():
    exp = parse_experiment(CROSS)
    assert exp.n_policies == 3 and exp.n_futures == 40 and exp.n_points == 120 and exp.n_runs == 240
    d = exp.sample_design()
    for p in range(3):   # the same futures for every policy
        rows = d[d["point"] // 40 == p].sort_values("point")
        np.testing.assert_array_equal(rows["x2"].to_numpy(), d[d["point"] < 40].sort_values("point")["x2"].to_numpy())
        assert rows["x1"].nunique() == 1
    assert exp.run_seed(5, 1) == exp.run_seed(45, 1) == exp.run_seed(85, 1) != exp.run_seed(6, 1)
    again = parse_experiment(exp.to_file_dict(None))
    assert again.fingerprint() == exp.fingerprint() and again.levers == ("x1",)


@pytest.mark.parametrize("change, words", [
    ({"factors": {"x1": None}}, "not `factors`"),
    ({"uncertainties": None}, "needs both `levers` and `uncertainties`"),
    ({"design": {"method": "cross"}}, "number of futures"),
    ({"uncertainties": {"x1": {"bounds": [0, 1]}}}, "both a lever and an uncertainty"),
])
def test_bad_cross_designs_are_refused(change, words):
    data = {**CROSS, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ExperimentError, match=words):
        parse_experiment(data)


def test_levers_belong_to_cross_designs_only():
    with pytest.raises(ExperimentError, match="belong to a cross design"):
        parse_experiment({"model": "ishigami", "factors": {"x1": None}, "levers": {"x2": None},
                          "design": {"method": "latin", "n": 8}})


@pytest.fixture(scope="module")
def cross_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("cross") / "sweep"
    run_sweep(parse_experiment(CROSS), out, workers=1, progress=False)
    return out


def test_robust_and_discover_read_a_cross_sweep(cross_sweep):
    r = robust.analyse_robustness(cross_sweep, satisfice=["y<=5"], figures=True)
    assert len(r.policies) == 3 and r.n_futures == 40
    assert (cross_sweep / "robust" / "regret.png").stat().st_size > 5000
    # y = sin x1 + 7 sin² x2 + 0.1 x3⁴ sin x1 grows with x1 in every future: x1 = −1 meets y ≤ 5 most often ...
    assert r.ranking.index[0] == 0 and r.ranking["satisficing"].is_monotonic_decreasing
    # ... and, higher being better for an outcome without a declared direction, x1 = 1 never regrets
    r = robust.analyse_robustness(cross_sweep, figures=False)
    assert r.ranking.index[0] == 2 and (r.table.set_index("policy").loc[2, "max_regret"] == 0)
    d = discover.discover(cross_sweep, "y", above=5.0, policy=1)
    assert "x2" in d.box.limits and d.n_runs == 40      # failure (7 sin² x2 > 5) is set by x2 alone
    lo, hi = d.box.limits["x2"]
    assert (lo is not None and 0.9 < abs(lo) < 1.3) or (hi is not None and 0.9 < abs(hi) < 2.3)
    saved = json.loads(d.files[0].read_text())
    assert saved["prim_box"]["coverage"] == pytest.approx(d.box.coverage)
    assert d.files[-1].name.endswith("_tradeoff.png")


def test_discover_cli_errors_are_one_line(cross_sweep):
    res = CliRunner().invoke(cli.app, ["discover", str(cross_sweep), "--outcome", "z", "--above", "1"])
    assert res.exit_code == 2 and "error:" in res.stderr and "Traceback" not in res.output
    res = CliRunner().invoke(cli.app, ["discover", str(cross_sweep), "--outcome", "y"])
    assert res.exit_code == 2 and "--above" in res.stderr
    res = CliRunner().invoke(cli.app, ["discover", str(cross_sweep), "--outcome", "y", "--above", "5", "--policy", "1"])
    assert res.exit_code == 0 and "PRIM: When" in res.stdout and "coverage" in res.stdout


# --------------------------------------------------------------------------------------------------
# Search at equal budget

SEARCH = """\
name: tiny_search
base: {base}
settings: {{run.steps: 30, population.residents_per_grid: 120, population.communities_per_subdistrict: 2}}
levers:
  staffing.grid_workers_per_grid: {{levels: [1.7, 3.0]}}
  policies.training_level: {{bounds: [0.3, 0.35]}}
uncertainties:
  demand.problems_per_resident_year: {{bounds: [0.3, 0.4]}}
design: {{method: cross, n: 4, policies: 4}}
replications: 1
seed: 3
"""


def test_search_returns_only_policies_within_budget(tmp_path):
    from sim.experiments.search import search
    from sim.experiments.spec import load_experiment
    from sim.scenario import SCENARIO_DIR
    f = tmp_path / "s.yaml"
    f.write_text(SEARCH.format(base=SCENARIO_DIR / "baseline.yaml"), encoding="utf-8")
    r = search(load_experiment(f), tmp_path / "out", objectives=["median_days", "satisfaction_all"], budget=5,
               trials=8, n_futures=2)
    assert len(r.trials) == 8
    assert (~r.trials["feasible"]).any()                 # 3 grid workers per grid cost far more than 5 % extra
    assert len(r.pareto) >= 1 and (r.pareto["cost_change_pct"].abs() <= 5).all()
    assert (r.pareto["staffing.grid_workers_per_grid"] == 1.7).all()
    assert r.trials.iloc[0]["cost_change_pct"] == pytest.approx(0, abs=1e-9) or \
        r.trials.iloc[0]["staffing.grid_workers_per_grid"] == 1.7
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 5000


def test_sensitivity_refuses_a_cross_sweep_and_points_to_robust(cross_sweep):
    res = CliRunner().invoke(cli.app, ["sensitivity", str(cross_sweep)])
    assert res.exit_code == 2 and "govsim robust" in res.stderr
