"""Compare, fixed: verdicts on hand-made paired data, the multiplicity correction, practical thresholds,
gaps judged by their distance from parity, every metric drawn, the side-by-side table, --precision."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.cli as cli
from sim import output, precision, verdicts
from sim.metrics import METRIC_BY_NAME, metric_names
from sim.runner import replication_seed
from sim.verdicts import BETTER, NO_CHANGE, NOT_JUDGED, UNCERTAIN, WORSE, Practical


def frames(columns: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Base and scenario summary frames with the given per-replication values."""
    n = len(next(iter(columns.values()))[0])
    base = pd.DataFrame({"replication": np.arange(n), **{k: v[0] for k, v in columns.items()}})
    other = pd.DataFrame({"replication": np.arange(n), **{k: v[1] for k, v in columns.items()}})
    return base, other


def row(table: pd.DataFrame, metric: str) -> pd.Series:
    return table.set_index("metric").loc[metric]


RNG = np.random.default_rng(1)
N = 20


def test_a_significant_but_negligible_change_is_not_better():
    # Gini falls by 0.0003 in every replication (a clear, tiny effect); its practical threshold is 0.01.
    b = 0.12 + RNG.normal(0, 0.002, N)
    base, other = frames({"gini_grid_days": (b, b - 0.0003 + RNG.normal(0, 1e-5, N))})
    t = verdicts.comparison_table("base", {"base": base, "x": other})
    r = row(t, "gini_grid_days")
    assert r["p_adjusted"] < 1e-6 and r["verdict"] == NO_CHANGE


def test_a_large_clear_change_is_better_or_worse_by_direction():
    b = 10 + RNG.normal(0, 0.3, N)
    base, other = frames({"median_days": (b, b - 2 + RNG.normal(0, 0.1, N)),
                          "satisfaction": (np.full(N, 0.6), np.full(N, 0.6) - 0.05 + RNG.normal(0, 0.002, N))})
    t = verdicts.comparison_table("base", {"base": base, "x": other})
    assert row(t, "median_days")["verdict"] == BETTER      # lower is better
    assert row(t, "satisfaction")["verdict"] == WORSE      # higher is better


def test_a_wide_interval_is_uncertain_not_no_change():
    b = 10 + RNG.normal(0, 3, 5)
    base, other = frames({"median_days": (b, b + RNG.normal(0.8, 3, 5))})
    t = verdicts.comparison_table("base", {"base": base, "x": other})
    assert row(t, "median_days")["verdict"] == UNCERTAIN


def test_signed_gap_moving_away_from_parity_is_worse_not_better():
    # The case: elder-friendly service moves the 60+ gap from −0.24 to −1.33 days.
    signed_b = -0.24 + RNG.normal(0, 0.05, N)
    signed_o = -1.33 + RNG.normal(0, 0.05, N)
    base, other = frames({"gap_days_60plus_signed": (signed_b, signed_o),
                          "gap_days_60plus": (np.abs(signed_b), np.abs(signed_o))})
    t = verdicts.comparison_table("base", {"base": base, "x": other})
    assert row(t, "gap_days_60plus")["verdict"] == WORSE
    assert row(t, "gap_days_60plus_signed")["verdict"] == NOT_JUDGED  # shown beside, not judged


def test_a_metric_declared_zero_is_judged_by_distance_from_parity(monkeypatch):
    import dataclasses
    zero = dataclasses.replace(METRIC_BY_NAME["gap_days_60plus_signed"], better="zero")
    monkeypatch.setattr(verdicts, "METRICS", (zero,))
    monkeypatch.setitem(verdicts.METRIC_BY_NAME, zero.name, zero)
    base, other = frames({zero.name: (-0.24 + RNG.normal(0, 0.05, N), -1.33 + RNG.normal(0, 0.05, N))})
    r = row(verdicts.comparison_table("base", {"base": base, "x": other}), zero.name)
    assert r["difference"] < -1 and r["judged_difference"] > 1 and r["verdict"] == WORSE
    base, other = frames({zero.name: (-1.33 + RNG.normal(0, 0.05, N), 0.1 + RNG.normal(0, 0.05, N))})
    assert row(verdicts.comparison_table("base", {"base": base, "x": other}), zero.name)["verdict"] == BETTER


def test_holm_matches_hand_computation_and_fdr_is_less_strict():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    holm = verdicts.adjust(p, "holm")
    np.testing.assert_allclose(holm[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    assert np.isnan(holm[3])
    fdr = verdicts.adjust(p, "fdr")
    assert np.all(fdr[np.isfinite(p)] <= holm[np.isfinite(p)] + 1e-12)
    np.testing.assert_allclose(verdicts.adjust(p, "none")[[0, 1]], [0.01, 0.04])


def test_the_correction_covers_the_whole_table():
    # median_days worsens by 1 day (twice its threshold) with p ≈ 0.01 when tested alone: "worse"
    # without a correction, but not once ~80 indicators × scenarios are tested together.
    z = np.array([-1.5, -1.0, -0.6, -0.3, 0.0, 0.1, 0.3, 0.6, 1.0, 1.4])
    d = 1.0 + (z - z.mean()) / z.std(ddof=1) * np.sqrt(10) / 3.17
    cols = {m: np.full(10, 1.0) for m in metric_names()}
    base = pd.DataFrame({"replication": range(10), **cols}).assign(median_days=10.0)
    rng = np.random.default_rng(3)
    fam = {"base": base, **{f"s{k}": base.assign(**{m: 1.0 + rng.normal(0, 1, 10) for m in cols})
                            .assign(median_days=10.0 + d) for k in range(3)}}
    alone = verdicts.comparison_table("base", fam, method="none")
    r = alone[alone["metric"] == "median_days"]
    assert np.allclose(r["p_value"], 0.0114, atol=0.001) and (r["verdict"] == WORSE).all()
    t = verdicts.comparison_table("base", fam)
    r = t[t["metric"] == "median_days"]
    assert (r["p_adjusted"] > 0.05).all() and (r["verdict"] == UNCERTAIN).all()
    assert set(t["multiplicity"]) == {"holm"}


def test_practical_threshold_override_changes_the_verdict():
    b = 10 + RNG.normal(0, 0.3, N)
    base, other = frames({"median_days": (b, b + 0.7 + RNG.normal(0, 0.05, N))})
    assert row(verdicts.comparison_table("base", {"base": base, "x": other}), "median_days")["verdict"] == WORSE
    over = verdicts.parse_practical(["median_days=1"])
    assert row(verdicts.comparison_table("base", {"base": base, "x": other}, practical=over),
               "median_days")["verdict"] == NO_CHANGE
    rel = verdicts.parse_practical(["median_days=10%"])["median_days"]
    assert rel == Practical(0.1, "relative") and rel.absolute(10.0) == pytest.approx(1.0)


@pytest.mark.parametrize("item, words", [("median_day=1", "did you mean 'median_days'"), ("median_days", "METRIC=VALUE"),
                                         ("median_days=x", "not a number"), ("median_days=-1", "≥ 0")])
def test_bad_practical_overrides_name_the_field(item, words):
    with pytest.raises(verdicts.PracticalError, match=words):
        verdicts.parse_practical([item])


def test_every_metric_is_drawn_or_says_why(tmp_path):
    cols = {m: (1.0 + RNG.normal(0, 0.1, N), 1.2 + RNG.normal(0, 0.1, N)) for m in metric_names()}
    cols["gap_days_60plus_signed"] = (RNG.normal(0, 0.3, N), 4.6 + RNG.normal(0, 0.5, N))  # base ≈ 0
    cols["gap_days_60plus"] = tuple(np.abs(v) for v in cols["gap_days_60plus_signed"])
    cols["platform_cost"] = (np.zeros(N), np.zeros(N))  # relative threshold of 0: nothing to scale by
    cols["incidents"] = (np.zeros(N), np.full(N, 3.0))
    base, other = frames(cols)
    comp = verdicts.comparison_table("base", {"base": base, "x": other})
    rel = output.in_thresholds(comp)
    drawn = np.isfinite(rel["x"])
    assert (drawn | (rel["why_not"] != "")).all()
    assert drawn[rel["metric"] == "gap_days_60plus_signed"].all() and drawn[rel["metric"] == "gap_days_60plus"].all()
    assert drawn[rel["metric"] == "incidents"].all()  # relative threshold of a base of 0: taken from the scenario
    assert rel.set_index("metric").loc["platform_cost", "why_not"].startswith("0 in both")
    path = output.plot_forest(tmp_path / "f.png", comp)
    assert path.stat().st_size > 10_000


def test_next_batch_aims_at_the_needed_n_but_at_most_doubles():
    assert precision.next_batch(10, {"a": 2.0}, {"a": 1.0}, cap=1000) == 10         # needs 40: doubles
    assert precision.next_batch(10, {"a": 1.1}, {"a": 1.0}, cap=1000) == 3          # needs 13
    assert precision.next_batch(10, {"a": 9.0}, {"a": 1.0}, cap=15) == 5            # the cap


def test_run_until_precise_stops_when_met_and_reports_the_cap():
    from sim.runner import RunResult
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, 1000)

    def more(first, count):
        mk = lambda k, shift: RunResult(seed=k, summary={"median_days": 10 + shift + noise[k]}, daily=None, grids=None,
                                        departments=None, communities=None, perspectives=None)
        return {"b": [mk(k, 0) for k in range(first, first + count)],
                "o": [mk(k, 1 + 0.5 * noise[999 - k]) for k in range(first, first + count)]}
    res, rep = precision.run_until_precise(more, {"median_days": Practical(0.2, "absolute")}, 4, 500, "b")
    assert rep.met and rep.reached["median_days"] <= 0.2 and len(res["o"]) == rep.replications
    assert [r.seed for r in res["b"]] == list(range(rep.replications))   # the same runs a plain run of N makes
    res, rep = precision.run_until_precise(more, {"median_days": Practical(0.001, "absolute")}, 4, 30, "b")
    assert not rep.met and rep.replications == 30 and "cap of 30" in rep.lines()[0]


# --------------------------------------------------------------------------------------------------
# CLI

SCENARIO = """\
name: small
population: {communities_per_subdistrict: 2, grids_per_community: 4, residents_per_grid: 150}
run: {steps: 40, replications: 3}
"""


@pytest.fixture
def scen(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SCENARIO, encoding="utf-8")
    return p


def test_compare_prints_one_side_by_side_table_of_all_scenarios(scen, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    others = []
    for name, policy in (("trained", "training_level: 1.0"), ("shared", "share_joined: 1.0")):
        p = tmp_path / f"{name}.yaml"
        p.write_text(SCENARIO.replace("name: small", f"name: {name}") + f"policies: {{{policy}}}\n", encoding="utf-8")
        others.append(str(p))
    out = tmp_path / "cmp"
    res = CliRunner().invoke(cli.app, ["compare", str(scen), *others, "--out", str(out), "--no-figures",
                                       "--practical", "median_days=1", "--multiplicity", "fdr"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    header = next(line for line in lines if "trained" in line and "shared" in line)  # one table, both columns
    assert "small" in header and max(len(line) for line in lines if "written to" not in line) <= 80
    assert "Summary by E" in res.stdout and "Benjamini" in res.stdout
    comp = pd.read_parquet(out / "comparison.parquet")
    assert set(comp["verdict"]) <= {*verdicts.VERDICTS, verdicts.NOT_JUDGED} and set(comp["multiplicity"]) == {"fdr"}
    assert (comp.loc[comp["metric"] == "median_days", "threshold"] == 1.0).all()
    assert not output.undocumented_columns(comp, output.COMPARISON_DOC)


def test_compare_refuses_a_bad_practical_with_exit_2(scen):
    res = CliRunner().invoke(cli.app, ["compare", str(scen), str(scen), "--practical", "speed=1"])
    assert res.exit_code == 2 and "error: --practical: unknown metric 'speed'" in res.stderr
    assert "Traceback" not in res.output


def test_run_precision_adds_replications_with_the_seeds_of_a_plain_run(scen, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli.app, ["run", str(scen), "--precision", "satisfaction=0.5", "--out", str(out),
                                       "--no-figures", "--max-replications", "6"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "--precision: 3 replications met every target" in res.stderr
    res = CliRunner().invoke(cli.app, ["run", str(scen), "--precision", "median_days=0.0001", "--out",
                                       str(tmp_path / "run2"), "--no-figures", "--max-replications", "6"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "reached the cap of 6" in res.stderr and "NOT MET" in res.stderr
    summary = pd.read_parquet(tmp_path / "run2" / "summary.parquet")
    assert summary["seed"].tolist() == [replication_seed(20261122, k) for k in range(6)]
    recorded = json.loads((tmp_path / "run2" / "manifest.json").read_text())["precision"]   # beside the outputs
    assert recorded["replications"] == 6 and "median_days" in json.dumps(recorded)
