"""The sensitivity pipeline on the Ishigami function, through the same sweep and analysis code path.

Ishigami & Homma (1990), a = 7, b = 0.1, x_i ~ U(−π, π): V = a²/8 + bπ⁴/5 + b²π⁸/18 + 1/2 ≈ 13.84;
S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.experiments import parse_experiment, run_sweep
from sim.experiments.analysis import analyse

S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
VARIANCE = 7**2 / 8 + 0.1 * np.pi**4 / 5 + 0.1**2 * np.pi**8 / 18 + 0.5


def sweep_and_analyse(tmp_path, design, replications=1, seed=20261122, options=None, **kw):
    exp = parse_experiment({"model": "ishigami", "factors": {"x1": None, "x2": None, "x3": None},
                            "design": design, "replications": replications, "seed": seed,
                            "model_options": options or {}})
    out = tmp_path / "sweep"
    run_sweep(exp, out, workers=1, progress=False)
    return analyse(out, **kw)


def by_index(result, index):
    return result.indices[result.indices["index"] == index].set_index("factor")


def test_sobol_intervals_cover_the_analytic_indices(tmp_path):
    # N = 2048 base samples (10,240 runs, ~1 s): 95 % bootstrap half-widths come out at 0.02–0.07,
    # tight enough to separate every index that differs by more than 0.15 (x1 from x2 in ST,
    # x3 from the others in S1), and the intervals covered the analytic values for each of ten seeds.
    a = sweep_and_analyse(tmp_path, {"method": "sobol", "n": 2048}, figures=False)
    r = a.result("y")
    for index, truth in (("S1", S1), ("ST", ST)):
        table = by_index(r, index)
        for factor, value in truth.items():
            row = table.loc[factor]
            assert row["low"] <= value <= row["high"], f"{index} {factor}: {row['low']:.3f}..{row['high']:.3f} ∌ {value}"
            assert row["conf"] < 0.08, f"{index} {factor}: half-width {row['conf']:.3f} too wide to mean anything"
    assert list(by_index(r, "ST").sort_values("rank").index) == ["x1", "x2", "x3"]
    assert (a.sweep_dir / "sensitivity" / "indices.csv").is_file()


def test_noise_share_is_estimated_from_replications(tmp_path):
    # noise sd 2 → noise variance 4 against V ≈ 13.84: a share of ≈ 0.224 of a single run's variance,
    # and ≈ 0.224 / 4 replications of the variance of the point means (tolerance from 300 points × 4 runs).
    a = sweep_and_analyse(tmp_path, {"method": "rbd_fast", "n": 300}, replications=4, options={"noise": 2.0},
                          figures=False)
    noise = a.result("y").noise
    expected_run = 4 / (VARIANCE + 4)
    assert noise["noise_share_run"] == pytest.approx(expected_run, abs=0.04)
    assert noise["noise_share_mean"] == pytest.approx((4 / 4) / (VARIANCE + 4 / 4), abs=0.03)
    assert noise["noise_sd"] == pytest.approx(2.0, rel=0.08)
    s1 = by_index(a.result("y"), "S1")
    assert bool(s1.loc["x3", "below_noise"]) and not bool(s1.loc["x2", "below_noise"])
    assert "noise:" in a.report


def test_noisy_outcome_warns_and_suggests_replications(tmp_path):
    a = sweep_and_analyse(tmp_path, {"method": "rbd_fast", "n": 100}, replications=2, options={"noise": 6.0},
                          figures=False)
    warnings = " ".join(a.result("y").warnings)
    assert "of the variance of the point means" in warnings and "replications = " in warnings


def test_wide_intervals_warn_and_say_how_many_samples_would_separate(tmp_path):
    a = sweep_and_analyse(tmp_path, {"method": "sobol", "n": 64}, figures=False)
    warnings = a.result("y").warnings
    assert any(w.startswith("intervals too wide to rank y by ST") for w in warnings), warnings
    hint = next(w for w in warnings if "would separate them" in w)
    n = int(hint.split("design.n (base samples) = ")[1].split()[0])
    assert n > 64 and n & (n - 1) == 0  # a larger power of two


def test_morris_mu_star_sigma_and_figures(tmp_path):
    a = sweep_and_analyse(tmp_path, {"method": "morris", "n": 40}, replications=2, options={"noise": 0.3})
    r = a.result("y")
    mu = by_index(r, "mu_star")
    sigma = by_index(r, "sigma")
    assert (mu["value"] > 0).all() and mu["conf"].notna().all() and sigma["value"].notna().all()
    assert set(mu.sort_values("rank").index[:2]) == {"x1", "x2"}  # x3 acts only through x1
    assert sigma.loc["x3", "value"] > mu.loc["x3", "value"] * 0.8  # x3 is all interaction
    assert r.noise["noise_floor_mu_star"] < mu["value"].min()
    assert (a.sweep_dir / "sensitivity" / "y.png").stat().st_size > 10_000


@pytest.mark.parametrize("design", [{"method": "fast", "n": 257}, {"method": "rbd_fast", "n": 1000},
                                    {"method": "latin", "n": 1000}], ids=lambda d: d["method"])
def test_fourier_methods_estimate_first_order_indices(tmp_path, design):
    r = sweep_and_analyse(tmp_path, design, figures=False).result("y")
    s1 = by_index(r, "S1")
    for factor, value in S1.items():
        assert s1.loc[factor, "value"] == pytest.approx(value, abs=0.08)
        assert np.isfinite(s1.loc[factor, "conf"])


def test_full_factorial_main_effects_and_cells(tmp_path):
    a = sweep_and_analyse(tmp_path, {"method": "full_factorial"}, replications=3, options={"noise": 0.5},
                          figures=True)
    r = a.result("y")
    assert r.cells is not None and len(r.cells) == 27  # 3 default levels per factor
    s1 = by_index(r, "S1")
    assert s1["conf"].notna().all()
    cells = pd.read_csv(a.sweep_dir / "sensitivity" / "cells.csv")
    assert {"mean", "sd", "n", "conf", "x1", "x2", "x3"} <= set(cells.columns)
    assert (a.sweep_dir / "sensitivity" / "y_effects.png").is_file()


def test_failed_points_are_dropped_by_whole_sobol_blocks(tmp_path):
    a = sweep_and_analyse(tmp_path, {"method": "sobol", "n": 256}, options={"fail_above": {"x3": 3.0}},
                          figures=False)
    r = a.result("y")
    assert any("dropped the base samples" in w for w in r.warnings)
    assert 0 < r.noise["points_dropped"] < 256 * 5 and r.noise["points_dropped"] % 5 == 0
    assert not r.indices.empty
