"""Calibration: fit a scenario's parameters to observed indicators with Optuna.

A calibration file (YAML; see ``docs/district.md``) names the scenario, the parameters to fit (dotted
paths with ranges), the observed indicators (from ``govsim observe`` or typed in, each with its
standard error), the replications per point and a budget of points. For each point the model runs its
replications with a case log (:mod:`sim.caselog`); the simulated indicators are computed from those
records by the same function as the observed ones (:func:`sim.observe.indicators`).

The objective is a Gaussian deviance that counts the model's own noise: for target i with observed
value y ± se and simulated replications x₁…x_R (mean μ, sd s),

    D = Σᵢ (yᵢ − μᵢ)² / vᵢ + log vᵢ,   vᵢ = seᵢ² + sᵢ² (1 + 1/R)

(the observation is one realisation of the world: its spread around the model's mean is the model's
run-to-run spread, plus the sampling error of the data and of μ). Every point uses the same seeds
(common random numbers), so differences between points are effects, not noise. The *good fits* are the
points with D within the χ²(k, 0.95) quantile of the best (k parameters; a likelihood-ratio set): their
range per parameter is reported as the parameter values consistent with the data. Optuna's TPE sampler
proposes points; trials are kept in an SQLite file in the output directory, so a calibration resumes
where it stopped. Points are evaluated in parallel on the process pool (or Dask) like sweeps.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.district import DataError

DEFAULTS = {"replications": 4, "budget": 40, "seed": 20261201, "start": "2025-01-01", "level": 0.95,
            "steps": None, "workers": 1, "cluster": None}
FILE_KEYS = ("scenario", "parameters", "observed", "replications", "budget", "seed", "start", "steps", "level",
             "workers", "cluster")
Z_UNMATCHED = 2.0     # |observed − simulated| / sqrt(v) above which the model is said not to match


@dataclass(frozen=True)
class Target:
    """One observed indicator: its key in the indicator table, value and standard error."""
    indicator: str
    scope: str
    group: str
    value: float
    se: float

    @property
    def key(self) -> str:
        return self.indicator if self.scope == "district" else f"{self.indicator}[{self.group}]"


@dataclass
class Calibration:
    scenario_ref: str
    base: Any                                   # the validated Scenario
    parameters: dict[str, tuple[float, float, str]]   # path → (low, high, "int"|"float")
    targets: list[Target]
    replications: int
    budget: int
    seed: int
    start: str
    steps: int
    level: float
    workers: int = 1
    cluster: str | None = None
    origin: str = ""
    residents: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Reading a calibration file

def load_calibration(path: str | Path) -> Calibration:
    from sim.observe import INDICATORS, SCOPES
    from sim.scenario import (ScenarioError, check_path, load_scenario, param_index, read_yaml,
                              resolve_scenario_file)
    path = Path(path)
    data = read_yaml(path, DataError, kind="calibration", holds="a mapping with keys " + ", ".join(FILE_KEYS))
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise DataError(f"{path}: unknown key '{unknown[0]}' (allowed: {', '.join(FILE_KEYS)})")
    for key in ("scenario", "parameters", "observed"):
        if key not in data:
            raise DataError(f"{path}: missing '{key}' (required: scenario, parameters, observed)")
    opts = {**DEFAULTS, **{k: data[k] for k in DEFAULTS if k in data}}
    for key, lo in (("replications", 2), ("budget", 1), ("workers", 1)):
        if not isinstance(opts[key], int) or opts[key] < lo:
            raise DataError(f"{path}: {key} must be a whole number ≥ {lo} (got {opts[key]!r})")
    if not (isinstance(opts["level"], (int, float)) and 0 < opts["level"] < 1):
        raise DataError(f"{path}: level must be between 0 and 1 (got {opts['level']!r})")
    try:
        ref = str(resolve_scenario_file(str(data["scenario"]), path.parent))
        base = load_scenario(ref)
    except ScenarioError as e:
        raise DataError(f"{path}: scenario: {e}") from None
    # parameters
    params = data["parameters"]
    if not isinstance(params, dict) or not params:
        raise DataError(f"{path}: parameters must map dotted paths to [low, high], e.g. "
                        "demand.problems_per_resident_year: [0.2, 0.8]")
    index = param_index(base)
    parameters = {}
    for p, rng in params.items():
        try:
            check_path(p, index=index, numeric=True)
        except ScenarioError as e:
            raise DataError(f"{path}: parameters: {e}") from None
        info = index[p]
        if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, (int, float)) for v in rng) and rng[0] < rng[1]):
            raise DataError(f"{path}: parameters.{p} must be [low, high] with low < high (got {rng!r})")
        lo, hi = float(rng[0]), float(rng[1])
        if (info.lower is not None and lo < info.lower) or (info.upper is not None and hi > info.upper):
            raise DataError(f"{path}: parameters.{p} = [{lo:g}, {hi:g}] leaves the allowed range "
                            f"({info.lower} to {info.upper})")
        parameters[p] = (lo, hi, info.kind)
    # observed targets
    obs = data["observed"]
    if not isinstance(obs, dict) or not obs.get("indicators"):
        raise DataError(f"{path}: observed must have 'indicators' (a list) and optionally 'file' (from govsim observe)")
    table = None
    if obs.get("file"):
        f = Path(obs["file"])
        f = f if f.is_absolute() or f.exists() else path.parent / f
        if not f.is_file():
            raise DataError(f"{path}: observed.file not found: '{obs['file']}'")
        table = pd.read_csv(f, dtype={"group": str}, keep_default_na=False, na_values=[""])
    targets = []
    for i, item in enumerate(obs["indicators"]):
        where = f"{path}: observed.indicators[{i}]"
        if not isinstance(item, dict) or "indicator" not in item:
            raise DataError(f"{where} must be a mapping with 'indicator' (and scope, group, value, se)")
        name, scope = item["indicator"], item.get("scope", "district")
        if name not in INDICATORS:
            raise DataError(f"{where}: unknown indicator '{name}' (allowed: {', '.join(INDICATORS)})")
        if scope not in SCOPES or name not in SCOPES[scope]:
            ok = [s for s, names in SCOPES.items() if name in names]
            raise DataError(f"{where}: scope '{scope}' has no '{name}' (allowed scopes for it: {', '.join(ok)})")
        if "value" in item:
            if scope != "district" and "group" not in item:
                raise DataError(f"{where}: a typed-in value at scope '{scope}' needs its 'group'")
            se = item.get("se")
            if not isinstance(se, (int, float)) or se <= 0:
                raise DataError(f"{where}: a typed-in value needs its uncertainty 'se' > 0 (a standard error)")
            targets.append(Target(name, scope, str(item.get("group", "all")), float(item["value"]), float(se)))
            continue
        if table is None:
            raise DataError(f"{where}: no 'value' given and no observed.file to read it from")
        rows = table[(table["indicator"] == name) & (table["scope"] == scope)]
        if "group" in item:
            rows = rows[rows["group"] == str(item["group"])]
        rows = rows[np.isfinite(rows["value"]) & (rows["se"] > 0)]
        if rows.empty:
            raise DataError(f"{where}: observed.file has no usable value of {name} at scope {scope}"
                            + (f", group {item['group']}" if "group" in item else ""))
        targets.extend(Target(name, scope, str(r.group), float(r.value), float(r.se)) for r in rows.itertuples())
    if opts["steps"] is None:
        opts["steps"] = base.run.steps
    from sim.district import district_residents
    return Calibration(ref, base, parameters, targets, opts["replications"], opts["budget"], int(opts["seed"]),
                       str(opts["start"]), int(opts["steps"]), float(opts["level"]), opts["workers"],
                       opts["cluster"], str(path), district_residents(base))


# --------------------------------------------------------------------------------------------------
# One point

def simulate(scenario, seeds: list[int], steps: int, start: str, residents: dict) -> list[pd.DataFrame]:
    """The indicator tables of each run of `scenario` (one batch), from its case records."""
    from sim.caselog import export_frame, run_with_log
    from sim.observe import indicators
    model, log = run_with_log(scenario, seeds, steps)
    t0 = pd.Timestamp(start)
    period = (t0, t0 + pd.Timedelta(days=steps))
    return [indicators(export_frame(model, log, r, start), residents, period) for r in range(len(seeds))]


def target_values(tables: list[pd.DataFrame], targets: list[Target]) -> np.ndarray:
    """[target, replication]: the simulated value of every target."""
    out = np.full((len(targets), len(tables)), np.nan)
    for r, t in enumerate(tables):
        lookup = {(a, b, c): v for a, b, c, v in zip(t["indicator"], t["scope"], t["group"], t["value"])}
        for i, tg in enumerate(targets):
            out[i, r] = lookup.get((tg.indicator, tg.scope, tg.group), np.nan)
    return out


def evaluate_point(task: tuple) -> dict:
    """A picklable task: run one point, return its simulated target values (or the error)."""
    from sim.scenario import ScenarioError, with_changes
    number, base, values, seeds, steps, start, residents, targets = task
    try:
        sc = with_changes(base, {**values, "run.steps": steps})
        sims = target_values(simulate(sc, seeds, steps, start, residents), targets)
        return {"number": number, "sims": sims.tolist(), "error": None}
    except ScenarioError as e:   # e.g. a combination the schema refuses
        return {"number": number, "sims": None, "error": str(e)}


def deviance(y: np.ndarray, se: np.ndarray, sims: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """D, and per target the simulated mean, the variance v and z = (y − μ)/√v."""
    R = sims.shape[1]
    with warnings.catch_warnings():   # a target no run produced is NaN, and D infinite
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(sims, axis=1)
        s2 = np.nanvar(sims, axis=1, ddof=1) if R > 1 else np.zeros(len(y))
    v = se ** 2 + s2 * (1 + 1 / R) + 1e-12
    z = (y - mu) / np.sqrt(v)
    if not np.all(np.isfinite(z)):
        return math.inf, mu, v, z
    return float(np.sum(z ** 2 + np.log(v))), mu, v, z


# --------------------------------------------------------------------------------------------------
# The study

def run_calibration(cal: Calibration, out: Path, progress=None) -> dict:
    """Run (or resume) the study in `out` up to the budget; write the results; return a summary."""
    import optuna

    from sim.experiments.evaluators import LostTask, make_backend, map_resubmitting
    from sim.runner import replication_seed
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / 'optuna.db').resolve()}"
    sampler = optuna.samplers.TPESampler(seed=cal.seed, n_startup_trials=max(8, cal.budget // 4), multivariate=True)
    study = optuna.create_study(study_name="calibration", storage=storage, sampler=sampler,
                                direction="minimize", load_if_exists=True)
    y = np.array([t.value for t in cal.targets])
    se = np.array([t.se for t in cal.targets])
    seeds = [replication_seed(cal.seed, k) for k in range(cal.replications)]
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    failed = 0
    with make_backend(cal.workers, cal.cluster) as backend:
        while done < cal.budget:
            batch = [study.ask() for _ in range(min(cal.workers, cal.budget - done))]
            tasks = []
            for trial in batch:
                values = {p: (trial.suggest_int(p, int(math.ceil(lo)), int(math.floor(hi))) if kind == "int"
                              else trial.suggest_float(p, lo, hi)) for p, (lo, hi, kind) in cal.parameters.items()}
                tasks.append((trial.number, cal.base, values, seeds, cal.steps, cal.start, cal.residents, cal.targets))
            for trial, res in zip(batch, map_resubmitting(backend, evaluate_point, tasks)):
                if isinstance(res, LostTask) or res["error"]:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    failed += 1
                    if failed > cal.budget:   # every point fails: stop instead of asking for ever
                        why = res.reason if isinstance(res, LostTask) else res["error"]
                        raise DataError(f"calibration stopped: {failed} points failed (the last: {why}); "
                                        "check the scenario and the parameter ranges")
                    continue
                sims = np.array(res["sims"], dtype=float)
                d, mu, v, _ = deviance(y, se, sims)
                trial_attrs(trial, mu, v, sims)
                study.tell(trial, d if math.isfinite(d) else 1e12)
                done += 1
                if progress:
                    progress(1)
    return write_results(cal, study, out)


def trial_attrs(trial, mu, v, sims) -> None:
    """Keep a point's simulated indicators with its trial (the figures and ranges are drawn from them)."""
    trial.set_user_attr("mu", [float(x) for x in mu])
    trial.set_user_attr("v", [float(x) for x in v])
    trial.set_user_attr("sims", sims.tolist())


def good_fits(frame: pd.DataFrame, k: int, level: float) -> pd.DataFrame:
    """The trials whose deviance is within the χ²(k, level) quantile of the best (a joint likelihood-ratio set)."""
    from scipy import stats
    return frame[frame["deviance"] <= frame["deviance"].min() + stats.chi2.ppf(level, k)]


def profile_intervals(frame: pd.DataFrame, bounds: dict[str, tuple[float, float]], level: float) -> dict | None:
    """Per-parameter likelihood intervals from a quadratic surface fitted to the trials' deviance.

    A finite budget rarely samples many points inside the likelihood-ratio set, so the set is read off
    a fitted surface instead: D(x) ≈ c + bᵀx + xᵀAx over the best trials (scaled to [0, 1]); where A is
    positive definite, the interval of parameter i is x̂ᵢ ± sqrt(χ²(1, level)·(A⁻¹)ᵢᵢ) around the
    surface's minimum x̂ (the profile-likelihood interval of a quadratic), clipped to the searched
    range. None when the surface is not convex there (then only the sampled good fits are reported).
    """
    from scipy import stats
    params = list(bounds)
    k = len(params)
    lo = np.array([bounds[p][0] for p in params])
    span = np.array([bounds[p][1] - bounds[p][0] for p in params])
    x = (frame[params].to_numpy(float) - lo) / span
    d = frame["deviance"].to_numpy(float)
    ok = np.isfinite(d) & (d < 1e11)
    x, d = x[ok], d[ok]
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    n_coef = 1 + k + len(pairs)
    if len(d) < n_coef + 2:
        return None
    order = np.argsort(d)[:max(n_coef + 2, min(len(d), max(3 * n_coef, len(d) // 2)))]
    x, d = x[order], d[order]

    def features(xs):
        return np.column_stack([np.ones(len(xs)), xs] + [xs[:, i] * xs[:, j] for i, j in pairs])
    coef, *_ = np.linalg.lstsq(features(x), d, rcond=None)
    b = coef[1:1 + k]
    A = np.zeros((k, k))
    for (i, j), a in zip(pairs, coef[1 + k:]):
        A[i, j] += a / (1 if i == j else 2)
        A[j, i] = A[i, j]
    if np.linalg.eigvalsh(A).min() <= 0:
        return None
    inv = np.linalg.inv(A)
    centre = np.clip(-0.5 * inv @ b, 0, 1)
    half = np.sqrt(stats.chi2.ppf(level, 1) * np.diag(inv))
    return {p: (float(lo[i] + span[i] * max(0.0, centre[i] - half[i])),
                float(lo[i] + span[i] * min(1.0, centre[i] + half[i])),
                float(lo[i] + span[i] * centre[i])) for i, p in enumerate(params)}


def write_results(cal: Calibration, study, out: Path) -> dict:
    import optuna

    from sim.scenario import scenario_yaml, with_changes
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and "mu" in t.user_attrs]
    if not trials:
        raise DataError("no point of the calibration ran to completion (see the trials' errors)")
    params = list(cal.parameters)
    frame = pd.DataFrame([{"trial": t.number, "deviance": t.value, **{p: t.params[p] for p in params}} for t in trials])
    frame = frame.sort_values("deviance").reset_index(drop=True)
    frame.to_csv(out / "trials.csv", index=False)
    good = good_fits(frame, len(params), cal.level)
    best = frame.iloc[0]
    by_number = {t.number: t for t in trials}
    best_trial = by_number[int(best["trial"])]
    profile = profile_intervals(frame, {p: cal.parameters[p][:2] for p in params}, cal.level)
    ranges = pd.DataFrame([{"parameter": p, "best": best[p],
                            # the reported range: the profile interval, widened to cover every sampled good fit
                            "low": min(profile[p][0], good[p].min()) if profile else good[p].min(),
                            "high": max(profile[p][1], good[p].max()) if profile else good[p].max(),
                            "method": "quadratic profile" if profile else "sampled good fits only",
                            "surface_minimum": profile[p][2] if profile else np.nan,
                            "sampled_low": good[p].min(), "sampled_high": good[p].max(), "good_fits": len(good),
                            "searched_low": cal.parameters[p][0], "searched_high": cal.parameters[p][1]}
                           for p in params])
    ranges.to_csv(out / "ranges.csv", index=False)
    mu, v = np.array(best_trial.user_attrs["mu"]), np.array(best_trial.user_attrs["v"])
    sims = np.array(best_trial.user_attrs["sims"])
    good_mu = np.array([by_number[int(n)].user_attrs["mu"] for n in good["trial"]])
    y = np.array([t.value for t in cal.targets])
    se = np.array([t.se for t in cal.targets])
    z = (y - mu) / np.sqrt(v)
    fit = pd.DataFrame({"indicator": [t.indicator for t in cal.targets], "scope": [t.scope for t in cal.targets],
                        "group": [t.group for t in cal.targets], "observed": y, "observed_se": se,
                        "simulated": mu, "simulated_sd": np.nanstd(sims, axis=1, ddof=1),
                        "good_fits_low": np.nanmin(good_mu, axis=0), "good_fits_high": np.nanmax(good_mu, axis=0),
                        "z": z, "matched": np.abs(z) <= Z_UNMATCHED})
    fit.to_csv(out / "fit.csv", index=False)
    values = {p: (int(best[p]) if cal.parameters[p][2] == "int" else float(best[p])) for p in params}
    best_scen = with_changes(cal.base, values).model_copy(update={"name": f"{cal.base.name}_calibrated"})
    header = (f"# The best fit of calibration {cal.origin} (deviance {best['deviance']:.2f}, trial "
              f"{int(best['trial'])} of {len(frame)}).\n# Fitted: " + ", ".join(f"{p} = {v:.4g}" for p, v in values.items())
              + "\n# Ranges consistent with the data: see ranges.csv.\n")
    (out / "best_scenario.yaml").write_text(header + scenario_yaml(best_scen), encoding="utf-8")
    plot_fit(out / "fit_check.png", fit, cal)
    unmatched = fit[~fit["matched"]]
    notes = [f"{r.indicator} ({r.scope} {r.group}): observed {r.observed:.3g} ± {r.observed_se:.2g}, "
             f"simulated {r.simulated:.3g} ± {r.simulated_sd:.2g} (z = {r.z:+.1f})" for r in unmatched.itertuples()]
    (out / "unmatched.txt").write_text(
        ("The model does not match these indicators at the best fit (|z| > 2):\n" + "\n".join(notes) + "\n")
        if notes else "Every indicator is matched at the best fit (|z| ≤ 2).\n", encoding="utf-8")
    return {"frame": frame, "ranges": ranges, "fit": fit, "best": values, "unmatched": notes,
            "deviance": float(best["deviance"]), "trials": len(frame)}


def plot_fit(path: Path, fit: pd.DataFrame, cal: Calibration) -> None:
    """Observed vs simulated per indicator: the observation with its 95% interval, the best fit's
    replications (mean ± 1.96 sd) and the span of the good fits' means."""
    from sim.plotting import cjk_fonts
    from sim.observe import INDICATORS
    names = list(dict.fromkeys(fit["indicator"]))
    heights = [max(1.2, 0.32 * (fit["indicator"] == n).sum() + 0.8) for n in names]
    with cjk_fonts():
        _plot_fit(path, fit, cal, names, heights, INDICATORS)


def _plot_fit(path, fit, cal, names, heights, INDICATORS) -> None:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8.5, sum(heights) + 0.8))
    axes = fig.subplots(len(names), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        f = fit[fit["indicator"] == name].reset_index(drop=True)
        ypos = np.arange(len(f))[::-1]
        ax.hlines(ypos + 0.12, f["good_fits_low"], f["good_fits_high"], color="tab:orange", alpha=0.35, lw=7,
                  label="good fits (span of means)")
        ax.errorbar(f["simulated"], ypos + 0.12, xerr=1.96 * f["simulated_sd"], fmt="s", color="tab:orange",
                    ms=5, capsize=3, label="best fit (replications, ±1.96 sd)")
        ax.errorbar(f["observed"], ypos - 0.12, xerr=1.96 * f["observed_se"], fmt="o", color="black", ms=4,
                    capsize=3, label="observed (95% interval)")
        for yp, ok in zip(ypos, f["matched"]):
            if not ok:
                ax.text(1.0, yp, " ✗ not matched", transform=ax.get_yaxis_transform(), va="center", color="tab:red",
                        fontsize=8)
        ax.set_yticks(ypos, [g if s == "district" else f"{s}: {g}" for s, g in zip(f["scope"], f["group"])],
                      fontsize=8)
        label, label_zh, unit = INDICATORS[name]
        ax.set_title(f"{label} ({unit})", fontsize=9, loc="left")
        ax.set_ylim(-0.6, len(f) - 0.4)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.12), ncol=3, frameon=False)
    fig.suptitle(f"Fit check — {cal.base.name}: observed vs simulated", fontsize=11, x=0.02, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def describe(cal: Calibration) -> dict:
    """What the calibration file asked for (for the manifest)."""
    return {"scenario": cal.scenario_ref, "parameters": {p: [lo, hi] for p, (lo, hi, _) in cal.parameters.items()},
            "targets": [t.__dict__ for t in cal.targets], "replications": cal.replications, "budget": cal.budget,
            "seed": cal.seed, "start": cal.start, "steps": cal.steps, "level": cal.level}


def write_manifest(out: Path, cal: Calibration, status: str, extra: dict | None = None) -> None:
    from sim.runner import manifest
    info = manifest(kind="calibration", status=status, calibration=describe(cal), **(extra or {}))
    (out / "manifest.json").write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
