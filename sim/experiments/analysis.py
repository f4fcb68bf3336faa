"""Sensitivity analysis of a finished (or partly finished) sweep: it only reads the sweep directory.

For each outcome:

1. Replications are averaged per point (the analysis sees the mean outcome of each point).
2. The noise share is estimated from the spread across replications: ``noise_share_run`` is the
   within-point variance relative to the variance of single runs; ``noise_share_mean`` is the noise
   left in the point means (within-point variance / replications) relative to the variance of the
   means. A variance-share index below ``noise_share_mean`` cannot be told apart from noise (noise
   adds to every Sobol' total index and lowers every first-order one). For Morris, the noise floor is
   the μ* that noise alone would give.
3. The SALib method matching the design computes the indices with bootstrap confidence intervals
   (``conf`` is the half-width at ``conf_level``): Sobol' S1, ST (and S2), Morris μ*, σ, eFAST S1,
   ST, RBD-FAST S1. A full factorial gets main-effect variance shares (η²) whose intervals come
   from resampling the replications of each point (the points themselves are fixed, not sampled).
4. Points whose runs all failed cannot be analysed; whole Sobol' base samples and Morris trajectories
   that contain one are dropped (with a warning); FAST needs every point.
5. Warnings: when the intervals of neighbouring factors in the ranking overlap, the analysis says
   which, and how many samples would separate them (an interval's width shrinks as 1/√n).

Outputs in ``DIR/sensitivity/``: ``indices.csv`` (long: outcome, factor, index, value, conf, low,
high, rank, below_noise), ``noise.csv``, ``cells.csv`` (full factorials: mean per point),
``report.txt`` (the printed tables and warnings) and one figure per outcome (bars with intervals; for
Morris also the μ*–σ plane).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import designs
from .errors import ExperimentError
from .spec import Experiment
from .store import SweepDir, load_results

PRIMARY = {"sobol": "ST", "morris": "mu_star", "fast": "ST", "rbd_fast": "S1", "latin": "S1", "full_factorial": "S1"}
SAMPLE_UNIT = {"sobol": "design.n (base samples)", "morris": "design.n (trajectories)", "fast": "design.n",
               "rbd_fast": "design.n", "latin": "design.n", "full_factorial": "replications"}
NOISE_WARN = 0.10      # warn when noise is more than this share of the variance of point means
RELEVANT_SHARE = 0.02  # variance shares below this are not ranked
TIE_SHARE = 0.01       # factors closer than this are called tied rather than "needs more samples"
MAX_FACTOR = 64        # do not suggest more than this many times the runs
TOP = 10               # rank at most this many factors


@dataclass
class OutcomeResult:
    outcome: str
    label: str
    method: str
    indices: pd.DataFrame  # factor, index, value, conf, low, high, rank, below_noise
    noise: dict
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: pd.DataFrame | None = None

    @property
    def primary(self) -> str:
        return PRIMARY[self.method]


@dataclass
class Analysis:
    experiment: Experiment
    sweep_dir: Path
    results: list[OutcomeResult]
    files: list[Path] = field(default_factory=list)
    report: str = ""

    def indices(self) -> pd.DataFrame:
        frames = [r.indices.assign(outcome=r.outcome, method=r.method) for r in self.results if len(r.indices)]
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        return df[["outcome", "method", *[c for c in df.columns if c not in ("outcome", "method")]]]

    def noise(self) -> pd.DataFrame:
        return pd.DataFrame([{"outcome": r.outcome, **r.noise} for r in self.results])

    def result(self, outcome: str) -> OutcomeResult:
        return next(r for r in self.results if r.outcome == outcome)


def analyse(sweep_dir: str | Path, *, outcomes: list[str] | None = None, conf_level: float | None = None,
            resamples: int | None = None, write: bool = True, figures: bool = True) -> Analysis:
    """Analyse the saved sweep in ``sweep_dir``; write tables and figures to ``sweep_dir/sensitivity``."""
    sd = SweepDir(sweep_dir)
    if not sd.exists():
        raise ExperimentError(f"'{sweep_dir}' is not a sweep directory (run `govsim sweep` first)")
    exp = sd.load_experiment()
    if exp.crossed:
        raise ExperimentError(f"'{sweep_dir}' holds a cross design (levers × uncertainties): analyse it with "
                              "`govsim robust` (regret, satisficing) and `govsim discover` (when a policy fails)")
    design = sd.read_design()
    runs = load_results(sd.path)
    outcomes = list(outcomes or exp.outcomes)
    model = exp.model_obj
    for o in outcomes:
        if o not in runs.columns:
            raise ExperimentError(f"outcome '{o}' is not in the results of '{sweep_dir}' "
                                  f"(recorded: {', '.join(c for c in model.outcomes if c in runs.columns)})")
    conf_level = conf_level or exp.conf_level
    resamples = resamples or exp.resamples
    if not 0 < conf_level < 1:
        raise ExperimentError(f"--conf-level must be between 0 and 1 (got {conf_level})")

    done = runs[runs["status"] == "done"]
    results = []
    for o in outcomes:
        results.append(_analyse_outcome(exp, design, done, o, model.outcome_label(o), conf_level, resamples))
    pending = exp.n_runs - len(runs)
    analysis = Analysis(exp, sd.path, results)
    header = [f"sensitivity of {exp.name}: {exp.method} design, {exp.n_points:,} points × {exp.replications} "
              f"replications; {int((runs['status'] == 'done').sum()):,} runs done, "
              f"{int((runs['status'] == 'failed').sum()):,} failed, {pending:,} pending; "
              f"{conf_level:.0%} intervals from {resamples} bootstrap resamples"]
    if pending:
        header.append(f"warning: the sweep is unfinished ({pending:,} runs pending); resume it for the full design")
    analysis.report = render_text(analysis, header)
    if write:
        _write(analysis, figures)
    return analysis


# --------------------------------------------------------------------------------------------------

def _point_stats(exp: Experiment, done: pd.DataFrame, outcome: str):
    y = done[["point", "replication", outcome]].dropna()
    g = y.groupby("point")[outcome]
    mean = np.full(exp.n_points, np.nan)
    count = np.zeros(exp.n_points, dtype=int)
    var = np.full(exp.n_points, np.nan)
    m = g.mean()
    mean[m.index.to_numpy()] = m.to_numpy()
    c = g.count()
    count[c.index.to_numpy()] = c.to_numpy()
    v = g.var(ddof=1)
    var[v.index.to_numpy()] = v.to_numpy()
    return y, mean, count, var


def _noise(exp: Experiment, y: pd.DataFrame, outcome: str, mean: np.ndarray, count: np.ndarray,
           var: np.ndarray, keep: np.ndarray) -> dict:
    out = {"replications": exp.replications, "points_used": int(keep.sum()),
           "points_dropped": int(exp.n_points - keep.sum()),
           "noise_share_run": np.nan, "noise_share_mean": np.nan, "noise_sd": np.nan}
    multi = keep & (count >= 2)
    if multi.sum() >= 2:
        within = float(np.nanmean(var[multi]))
        run_var = float(np.var(y[outcome].to_numpy(), ddof=1))
        mean_var = float(np.var(mean[keep], ddof=1))
        reps = float(np.mean(count[keep]))
        out["noise_sd"] = math.sqrt(within)
        out["noise_share_run"] = min(1.0, within / run_var) if run_var > 0 else np.nan
        out["noise_share_mean"] = min(1.0, within / reps / mean_var) if mean_var > 0 else np.nan
    return out


def _keep_mask(method: str, k: int, second_order: bool, finite: np.ndarray) -> np.ndarray:
    size = designs.block_size(method, k, second_order)
    if size is None:
        return finite if finite.all() else np.zeros_like(finite)
    if size == 1:
        return finite
    blocks = finite.reshape(-1, size).all(axis=1)
    return np.repeat(blocks, size)


@contextlib.contextmanager
def _quiet_and_keep_global_rng():
    """SALib's FAST re-seeds numpy's global RNG and some methods print; contain both."""
    state = np.random.get_state()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            np.random.set_state(state)


def _analyse_outcome(exp: Experiment, design: pd.DataFrame, done: pd.DataFrame, outcome: str, label: str,
                     conf_level: float, resamples: int) -> OutcomeResult:
    method = exp.method
    names = exp.factor_paths
    k = len(names)
    y, mean, count, var = _point_stats(exp, done, outcome)
    finite = np.isfinite(mean)
    keep = _keep_mask(method, k, exp.second_order, finite)
    noise = _noise(exp, y, outcome, mean, count, var, keep)
    res = OutcomeResult(outcome, label, method, pd.DataFrame(), noise)
    if not finite.all():
        lost = int((~finite).sum())
        if method == "fast":
            res.warnings.append(f"{lost} points have no finished run; FAST needs every point, so {outcome} "
                                "cannot be analysed (resume the sweep, or fix the failing runs)")
        elif designs.block_size(method, k, exp.second_order) not in (None, 1):
            unit = "base samples" if method == "sobol" else "trajectories"
            res.warnings.append(f"{lost} points have no finished run; dropped the {unit} that hold them "
                                f"({int((~keep).sum()):,} of {exp.n_points:,} points)")
        else:
            res.warnings.append(f"{lost} points have no finished run; analysed the other {int(keep.sum()):,}")
    Y = mean[keep]
    if not finite.any():
        res.warnings.append(f"no finished run has a value for {outcome}; no indices")
        return res
    if len(Y) < 2 or not np.nanvar(Y) > 0:
        res.warnings.append(f"{outcome} does not vary over the analysed points; no indices")
        return res
    X = design.loc[keep, [f"u:{p}" for p in names]].to_numpy() if method in designs.SAMPLED else None
    problem = designs.problem(list(exp.factors))
    seed = exp.analysis_seed
    rows: list[dict] = []
    with _quiet_and_keep_global_rng():
        if method == "sobol":
            from SALib.analyze import sobol
            si = sobol.analyze(problem, Y, calc_second_order=exp.second_order, num_resamples=resamples,
                               conf_level=conf_level, seed=seed)
            for idx in ("S1", "ST"):
                rows += _rows(names, idx, si[idx], si[f"{idx}_conf"])
            if exp.second_order:
                for i in range(k):
                    for j in range(i + 1, k):
                        rows += _rows([f"{names[i]} × {names[j]}"], "S2", [si["S2"][i, j]], [si["S2_conf"][i, j]])
        elif method == "morris":
            from SALib.analyze import morris
            si = morris.analyze(problem, X, Y, num_resamples=resamples, conf_level=conf_level,
                                num_levels=exp.num_levels, seed=seed)
            rows += _rows(names, "mu_star", si["mu_star"], si["mu_star_conf"])
            rows += _rows(names, "sigma", si["sigma"], [np.nan] * k)
            rows += _rows(names, "mu", si["mu"], [np.nan] * k)
            if np.isfinite(noise["noise_sd"]):
                delta = exp.num_levels / (2 * (exp.num_levels - 1))
                sd_mean = noise["noise_sd"] / math.sqrt(float(np.mean(count[keep])))
                noise["noise_floor_mu_star"] = 2 * sd_mean / (math.sqrt(math.pi) * delta)
        elif method == "fast":
            from SALib.analyze import fast
            si = fast.analyze(problem, Y, M=exp.M, num_resamples=resamples, conf_level=conf_level, seed=seed)
            for idx in ("S1", "ST"):
                rows += _rows(names, idx, si[idx], si[f"{idx}_conf"])
            res.notes.append("FAST intervals are indicative only (SALib: the bootstrap is unreliable for eFAST)")
        elif method in ("rbd_fast", "latin"):
            from SALib.analyze import rbd_fast
            si = rbd_fast.analyze(problem, X, Y, M=exp.M or designs.DEFAULT_M["rbd_fast"], num_resamples=resamples,
                                  conf_level=conf_level, seed=seed)
            rows += _rows(names, "S1", si["S1"], si["S1_conf"])
        elif method == "full_factorial":
            rows += _factorial(exp, design, y, outcome, keep, conf_level, resamples, seed)
            res.cells = _cells(exp, design, mean, count, var, conf_level)
    res.indices = pd.DataFrame(rows)
    _rank_and_flag(res, exp)
    return res


def _rows(factors, index: str, values, confs) -> list[dict]:
    out = []
    for f, v, c in zip(factors, values, confs):
        v, c = float(v), float(c) if c is not None else np.nan
        out.append({"factor": f, "index": index, "value": v, "conf": c,
                    "low": v - c if np.isfinite(c) else np.nan, "high": v + c if np.isfinite(c) else np.nan})
    return out


def _eta2(levels_by_factor: list[np.ndarray], ybar: np.ndarray) -> np.ndarray:
    total = np.sum((ybar - ybar.mean()) ** 2)
    out = []
    for lv in levels_by_factor:
        s = 0.0
        for val in np.unique(lv):
            sel = lv == val
            s += sel.sum() * (ybar[sel].mean() - ybar.mean()) ** 2
        out.append(s / total if total > 0 else np.nan)
    return np.array(out)


def _factorial(exp: Experiment, design: pd.DataFrame, y: pd.DataFrame, outcome: str, keep: np.ndarray,
               conf_level: float, resamples: int, seed: int) -> list[dict]:
    """Main-effect variance shares of a full factorial; intervals from resampling replications."""
    pts = np.flatnonzero(keep)
    lv = [pd.factorize(design[p].to_numpy()[pts])[0] for p in exp.factor_paths]
    groups = [g[outcome].to_numpy() for _, g in y[y["point"].isin(pts)].groupby("point", sort=True)]
    ybar = np.array([g.mean() for g in groups])
    est = _eta2(lv, ybar)
    rng = np.random.default_rng(seed)
    boot = []
    if max(len(g) for g in groups) >= 2:
        for _ in range(resamples):
            yb = np.array([rng.choice(g, size=len(g), replace=True).mean() for g in groups])
            boot.append(_eta2(lv, yb))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    conf = np.std(boot, axis=0, ddof=1) * z if boot else np.full(len(est), np.nan)
    return _rows(exp.factor_paths, "S1", est, conf)


def _cells(exp: Experiment, design: pd.DataFrame, mean, count, var, conf_level: float) -> pd.DataFrame:
    t = design[["point", *exp.factor_paths]].copy()
    t["mean"], t["n"] = mean, count
    t["sd"] = np.sqrt(var)
    q = stats.t.ppf(0.5 + conf_level / 2, np.maximum(count - 1, 1))
    t["conf"] = np.where(count >= 2, q * t["sd"] / np.sqrt(np.maximum(count, 1)), np.nan)
    return t


def _rank_and_flag(res: OutcomeResult, exp: Experiment) -> None:
    df = res.indices
    if df.empty:
        return
    prim = df[df["index"] == res.primary].sort_values("value", ascending=False)
    df["rank"] = pd.NA
    df.loc[prim.index, "rank"] = np.arange(1, len(prim) + 1)
    # below noise
    df["below_noise"] = False
    if res.method == "morris":
        floor = res.noise.get("noise_floor_mu_star", np.nan)
        if np.isfinite(floor):
            df.loc[(df["index"] == "mu_star") & (df["value"] < floor), "below_noise"] = True
    else:
        share = res.noise.get("noise_share_mean", np.nan)
        if np.isfinite(share):
            df.loc[df["index"].isin(["S1", "ST"]) & (df["value"] < share), "below_noise"] = True
    res.indices = df
    _ranking_warnings(res, exp, prim)
    _noise_warnings(res, exp)


def _ranking_warnings(res: OutcomeResult, exp: Experiment, prim: pd.DataFrame) -> None:
    top = float(prim["value"].max()) if len(prim) else 0.0
    shares = res.method != "morris"
    relevant = RELEVANT_SHARE if shares else 0.05 * top
    tie = TIE_SHARE if shares else 0.01 * top
    cand = prim[prim["value"] >= relevant].head(TOP)
    if len(prim) > len(cand):
        cand = prim.head(len(cand) + 1)
    unclear, tied = [], []
    rows = list(cand.itertuples())
    for a, b in zip(rows, rows[1:]):
        if not (np.isfinite(a.conf) and np.isfinite(b.conf)):
            continue
        if a.value - a.conf > b.value + b.conf:
            continue
        gap = a.value - b.value
        if gap <= tie:
            tied.append(f"{a.factor} and {b.factor}")
            continue
        pair = f"{a.factor} ({a.value:.3g} ± {a.conf:.2g}) vs {b.factor} ({b.value:.3g} ± {b.conf:.2g})"
        unclear.append(f"  {pair}: {_more_samples(exp, ((a.conf + b.conf) / gap) ** 2)}")
    if unclear:
        res.warnings.append(f"intervals too wide to rank {res.outcome} by {res.primary} "
                            "(an interval narrows as 1/√samples):")
        res.warnings += unclear
    if tied:
        res.notes.append("practically tied (differ by less than the interval and by little): " + "; ".join(tied))


def _more_samples(exp: Experiment, factor: float) -> str:
    """How many samples would make two intervals that now overlap by ``factor``² stop overlapping."""
    if factor > MAX_FACTOR:
        return f"would take more than {MAX_FACTOR}× the runs to separate; treat them as about equal"
    if exp.method == "full_factorial":
        r = math.ceil(exp.replications * factor)
        return f"about replications = {r} (now {exp.replications}; {factor:.1f}× the runs) would separate them"
    n = math.ceil(exp.n * factor)
    if exp.method == "sobol":
        n = 2 ** math.ceil(math.log2(n))
    runs = designs.n_points(exp.method, n, len(exp.factors), second_order=exp.second_order) * exp.replications
    return f"about {SAMPLE_UNIT[exp.method]} = {n} (now {exp.n}; {runs:,} runs) would separate them"


def _noise_warnings(res: OutcomeResult, exp: Experiment) -> None:
    share = res.noise.get("noise_share_mean", np.nan)
    if exp.replications == 1:
        res.notes.append("one replication per point: the noise share cannot be estimated, and any noise of the "
                         "model is inside the indices")
        return
    if np.isfinite(share) and share > NOISE_WARN:
        r = math.ceil(exp.replications * share / (NOISE_WARN / 2))
        res.warnings.append(f"noise is {share:.0%} of the variance of the point means of {res.outcome}: indices below "
                            f"it are indistinguishable from noise; about replications = {r} (now {exp.replications}) "
                            f"would bring it near {NOISE_WARN / 2:.0%}")
    below = res.indices[res.indices["below_noise"] & (res.indices["index"] == res.primary)]
    if len(below):
        fs = sorted(set(below["factor"]))
        res.notes.append(f"{res.primary} below the noise: {', '.join(fs[:8])}{' …' if len(fs) > 8 else ''}")


# --------------------------------------------------------------------------------------------------
# Output

def render_text(analysis: Analysis, header: list[str]) -> str:
    """The report as plain text (the CLI prints it with rich; report.txt keeps it)."""
    lines = list(header)
    for r in analysis.results:
        lines.append("")
        lines.append(f"{r.outcome} — {r.label}")
        n = r.noise
        if np.isfinite(n.get("noise_share_mean", np.nan)):
            lines.append(f"  noise: {n['noise_share_run']:.1%} of single-run variance, {n['noise_share_mean']:.1%} "
                         f"of the variance of point means ({n['replications']} replications)"
                         + (f"; μ* noise floor {n['noise_floor_mu_star']:.3g}" if "noise_floor_mu_star" in n else ""))
        if not r.indices.empty:
            lines += ["  " + line for line in _table_lines(r)]
        lines += [f"  warning: {w}" if not w.startswith("  ") else f"  {w}" for w in r.warnings]
        lines += [f"  note: {w}" for w in r.notes]
    return "\n".join(lines) + "\n"


def _table_lines(r: OutcomeResult) -> list[str]:
    df = r.indices
    idx_names = [i for i in dict.fromkeys(df["index"]) if i not in ("S2", "mu")]
    prim = df[df["index"] == r.primary].sort_values("rank")
    width = max(12, *(len(f) for f in prim["factor"]))
    head = f"{'rank':>4}  {'factor':<{width}}  " + "  ".join(f"{i:>20}" for i in idx_names)
    out = [head]
    for row in prim.itertuples():
        cells = []
        for i in idx_names:
            m = df[(df["factor"] == row.factor) & (df["index"] == i)].iloc[0]
            c = f" ± {m['conf']:.2g}" if np.isfinite(m["conf"]) else ""
            flag = "*" if m["below_noise"] else " "
            cells.append(f"{m['value']:>10.3g}{c:<9}{flag}")
        out.append(f"{int(row.rank):>4}  {row.factor:<{width}}  " + "  ".join(f"{c:>20}" for c in cells))
    if df["below_noise"].any():
        out.append("(* below the noise)")
    s2 = df[df["index"] == "S2"].sort_values("value", ascending=False).head(5)
    for row in s2.itertuples():
        out.append(f"S2 {row.factor}: {row.value:.3g} ± {row.conf:.2g}")
    return out


def _write(analysis: Analysis, figures: bool) -> None:
    from .store import atomic_write_text
    out = analysis.sweep_dir / "sensitivity"
    out.mkdir(exist_ok=True)
    files = []
    ind = analysis.indices()
    p = out / "indices.csv"
    atomic_write_text(p, ind.to_csv(index=False))
    files.append(p)
    p = out / "noise.csv"
    atomic_write_text(p, analysis.noise().to_csv(index=False))
    files.append(p)
    cells = [r.cells.assign(outcome=r.outcome) for r in analysis.results if r.cells is not None]
    if cells:
        p = out / "cells.csv"
        atomic_write_text(p, pd.concat(cells, ignore_index=True).to_csv(index=False))
        files.append(p)
    p = out / "report.txt"
    atomic_write_text(p, analysis.report)
    files.append(p)
    if figures:
        from .figures import outcome_figure
        for r in analysis.results:
            if not r.indices.empty:
                files.append(outcome_figure(r, out / f"{r.outcome}.png"))
    analysis.files = files
