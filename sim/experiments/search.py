"""Search the lever space for the Pareto set of 4E outcomes at equal budget.

The levers of a cross experiment are searched with Optuna's NSGA-II sampler (multi-objective,
constraint-aware); each candidate policy is run in the same sampled futures as the cross design (the
first ``futures`` of them, with the same seeds), and its outcomes are averaged over those futures. A
policy is **feasible** when its mean total cost lies within ±``budget`` % of the status quo's (the base
scenario's lever values, run in the same futures): the comparison is at equal budget. The Pareto set
holds only feasible policies no other feasible policy beats on every objective.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.metrics import METRIC_BY_NAME

from .errors import ExperimentError, did_you_mean
from .spec import Experiment

COST = "total_cost"
DEFAULT_OBJECTIVES = ("median_days", "satisfaction_all", "gap_days_60plus")
RESULT_MARK = "search.json"


@dataclass
class SearchResult:
    trials: pd.DataFrame
    pareto: pd.DataFrame
    status_quo: dict
    files: list[Path]


def _direction(outcome: str) -> str:
    better = METRIC_BY_NAME[outcome].better if outcome in METRIC_BY_NAME else "lower"
    if better == "neither":
        raise ExperimentError(f"--objective: '{outcome}' has no better direction; choose a 4E indicator")
    return "maximize" if better == "higher" else "minimize"


def _suggest(trial, factor):
    if factor.levels is not None:
        return trial.suggest_categorical(factor.path, list(factor.levels))
    if factor.kind == "int":
        return trial.suggest_int(factor.path, int(factor.lower), int(factor.upper), step=int(factor.step or 1))
    return trial.suggest_float(factor.path, float(factor.lower), float(factor.upper), step=factor.step)


def status_quo(exp: Experiment) -> dict:
    """The base scenario's value of every lever."""
    model = exp.model_obj
    ctx = model.context(exp.base_data, dict(exp.settings))
    return {p: model.param_info(p, ctx).default for p in exp.levers}


def futures(exp: Experiment, k: int) -> list[dict]:
    design = exp.sample_design()
    first = design[design["point"] < exp.n_futures].sort_values("point")
    return [{p: (v.item() if hasattr(v, "item") else v) for p, v in row.items()}
            for row in first[list(exp.uncertainties)].head(k).to_dict("records")]


def evaluate(exp: Experiment, runner, policy: dict, worlds: list[dict], outcomes) -> dict[str, float]:
    """Mean of each outcome over the futures (and replications), runs seeded as in the cross design."""
    values = {o: [] for o in outcomes}
    for f, world in enumerate(worlds):
        for rep in range(exp.replications):
            summary = runner({**policy, **world}, exp.run_seed(f, rep))
            for o in outcomes:
                values[o].append(float(summary.get(o, math.nan)))
    return {o: float(np.nanmean(v)) for o, v in values.items()}


def search(exp: Experiment, out: Path, *, objectives=None, budget: float = 5.0, trials: int = 40, n_futures: int = 4,
           seed: int | None = None, progress=None) -> SearchResult:
    """NSGA-II search over the levers; see the module docstring. `budget` is in % of the status quo's cost."""
    import optuna
    if not exp.crossed:
        raise ExperimentError("search needs a cross experiment: its `levers` are searched, its `uncertainties` give "
                              "the futures (design: {method: cross, n: FUTURES})")
    objs = list(objectives or [o for o in DEFAULT_OBJECTIVES if o in exp.model_obj.outcomes])
    for o in objs:
        if o not in exp.model_obj.outcomes:
            raise ExperimentError(f"--objective: unknown outcome '{o}'{did_you_mean(o, list(exp.model_obj.outcomes))}")
    if COST in objs:
        raise ExperimentError(f"--objective: {COST} is the budget constraint (--budget), not an objective")
    if not budget > 0:
        raise ExperimentError(f"--budget must be above 0 (% of the status quo's cost; got {budget:g})")
    if not 1 <= n_futures <= exp.n_futures:
        raise ExperimentError(f"--futures must lie between 1 and the experiment's {exp.n_futures} futures")
    if trials < 2:
        raise ExperimentError("--trials must be at least 2")
    directions = [_direction(o) for o in objs]
    runner = exp.runner()
    worlds = futures(exp, n_futures)
    measured = [*objs, COST]
    sq = status_quo(exp)
    sq_values = evaluate(exp, runner, sq, worlds, measured)
    cost0 = sq_values[COST]
    rows = []

    def objective(trial):
        policy = {f.path: _suggest(trial, f) for f in exp.factors if f.path in exp.levers}
        v = evaluate(exp, runner, policy, worlds, measured)
        change = v[COST] / cost0 - 1 if cost0 else math.inf
        trial.set_constraint("budget", abs(change) * 100 - budget)
        rows.append({"trial": trial.number, **policy, **v, "cost_change_pct": 100 * change,
                     "feasible": abs(change) * 100 <= budget})
        if progress:
            progress()
        return tuple(v[o] for o in objs)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = exp.seed if seed is None else seed
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.NSGAIISampler(seed=seed % 2**32))
    admissible = all(f.levels is None or sq[f.path] in f.levels for f in exp.factors if f.path in exp.levers)
    if admissible:  # the status quo as the first candidate (it is also the reference for the budget)
        study.enqueue_trial(dict(sq), skip_if_exists=True)
    study.optimize(objective, n_trials=trials)
    table = pd.DataFrame(rows)
    front = {t.number for t in study.best_trials}
    table["pareto"] = table["trial"].isin(front) & table["feasible"]
    # the sampler may propose a policy twice (same levers, same futures, same results): list it once
    pareto = (table[table["pareto"]].drop_duplicates(subset=list(exp.levers))
              .sort_values(objs[0], ascending=directions[0] == "minimize"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "trials.csv", out / "pareto.csv", out / RESULT_MARK]
    table.to_csv(files[0], index=False)
    pareto.to_csv(files[1], index=False)
    from sim.runner import package_versions
    files[2].write_text(json.dumps({
        "experiment": exp.name, "experiment_file": exp.source, "resolved_experiment": exp.to_file_dict(None),
        "base_scenario": exp.base_data,
        "versions": {**package_versions(), "optuna": optuna.__version__}, "objectives": dict(zip(objs, directions)), "budget_pct": budget,
        "status_quo": {"levers": sq, **sq_values}, "futures": worlds, "trials": trials, "seed": seed,
        "sampler": f"optuna {optuna.__version__} NSGAIISampler", "pareto_trials": sorted(int(t) for t in pareto["trial"]),
        "method": "each policy is run in the same futures (seeds as in the cross design) and averaged; feasible = "
                  "mean total cost within ±budget % of the status quo's; Pareto set among feasible policies"},
        indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    files.append(plot_pareto(out / "pareto.png", table, objs, {"levers": sq, **sq_values}, budget))
    return SearchResult(table, pareto, {"levers": sq, **sq_values}, files)


def plot_pareto(path: Path, table: pd.DataFrame, objs: list[str], sq: dict, budget: float) -> Path:
    """Each pair of objectives: every trial (grey: over budget, blue: within), the Pareto set (red)
    and the status quo (black star)."""
    from matplotlib.figure import Figure
    pairs = [(a, b) for i, a in enumerate(objs) for b in objs[i + 1:]] or [(objs[0], "cost_change_pct")]
    fig = Figure(figsize=(4.3 * len(pairs), 4.2))
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (a, b) in zip(axes, pairs):
        off = table[~table["feasible"]]
        on = table[table["feasible"] & ~table["pareto"]]
        front = table[table["pareto"]]
        ax.scatter(off[a], off[b], c="0.75", s=14, label=f"over budget (±{budget:g}%)")
        ax.scatter(on[a], on[b], c="tab:blue", s=16, label="within budget")
        ax.scatter(front[a], front[b], c="tab:red", s=30, label="Pareto set (within budget)")
        if a in sq and b in sq:
            ax.scatter([sq[a]], [sq[b]], marker="*", c="k", s=120, label="status quo")
        for ax_set, name in ((ax.set_xlabel, a), (ax.set_ylabel, b)):
            m = METRIC_BY_NAME.get(name)
            ax_set(f"{m.label} ({m.unit}) {'↑' if m.better == 'higher' else '↓'}" if m else name, fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle("Policies searched at equal budget (NSGA-II)", fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)
