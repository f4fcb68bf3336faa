"""Robustness of policies across futures: regret and satisficing, from a cross sweep's saved results.

A cross design (``design: {method: cross, n: FUTURES}``) runs every policy (a combination of lever
values) in every sampled future (a combination of uncertain conditions), with the same random draws for
all policies in a future. For each outcome and future, a policy's **regret** is how far it falls short
of the best policy in that future, in the outcome's unit (direction from :mod:`sim.metrics`; a gap
judged by distance from parity counts |value|). Ranking by the **largest regret over the futures**
(Savage's minimax regret) picks the policy whose worst disappointment is smallest; the 90th percentile
is reported beside it as a less extreme reading. **Satisficing** counts the share of futures in which a
policy meets every stated requirement (``--satisfice gap_days_60plus<=2``).

This module only reads saved results (analysis is kept apart from running, as in EMA Workbench).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.metrics import METRIC_BY_NAME

from .errors import ExperimentError, did_you_mean
from .spec import Experiment
from .store import SweepDir, load_results

RULE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    """A satisficing requirement: `outcome` `op` `value` (e.g. gap_days_60plus <= 2)."""
    outcome: str
    op: str
    value: float

    def met(self, v: np.ndarray) -> np.ndarray:
        return {"<=": v <= self.value, ">=": v >= self.value, "<": v < self.value, ">": v > self.value}[self.op]

    def __str__(self) -> str:
        return f"{self.outcome} {self.op} {self.value:g}"


def parse_requirements(items, outcomes) -> list[Requirement]:
    out = []
    for item in items or ():
        m = RULE.match(str(item))
        if not m:
            raise ExperimentError(f"--satisfice: '{item}' is not OUTCOME<=VALUE or OUTCOME>=VALUE "
                                  "(e.g. gap_days_60plus<=2)")
        name, op, value = m.group(1), m.group(2), float(m.group(3))
        if name not in outcomes:
            raise ExperimentError(f"--satisfice: unknown outcome '{name}'{did_you_mean(name, list(outcomes))} "
                                  f"(outcomes of this sweep: {', '.join(outcomes)})")
        out.append(Requirement(name, op, value))
    return out


def crossed_sweep(path: str | Path) -> tuple[Experiment, pd.DataFrame]:
    """The experiment of a cross sweep and its results, with `policy` and `future` columns."""
    sd = SweepDir(path)
    exp = sd.load_experiment()
    if not exp.crossed:
        raise ExperimentError(f"'{path}' holds a {exp.method} sweep; robustness and discovery need a cross design "
                              "(levers × uncertainties: design: {method: cross, n: FUTURES})")
    res = load_results(path)
    res = res[res["status"] == "done"].copy()
    if res.empty:
        raise ExperimentError(f"'{path}' holds no finished runs yet; run `govsim sweep` first")
    res["policy"] = exp.policy_of(res["point"].to_numpy())
    res["future"] = exp.future_of(res["point"].to_numpy())
    return exp, res


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _value_text(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "on" if v else "off"
    if isinstance(v, (float, np.floating)):
        return f"{v:g}"
    return str(v)


def policies(exp: Experiment, results: pd.DataFrame) -> pd.DataFrame:
    """One row per policy: its lever values and a readable label."""
    p = results.groupby("policy")[list(exp.levers)].first().sort_index()
    p["label"] = [", ".join(f"{_short(k)}={_value_text(v)}" for k, v in row.items()) for _, row in p.iterrows()]
    return p


def point_means(exp: Experiment, results: pd.DataFrame, outcomes) -> pd.DataFrame:
    """Mean over replications of each outcome, per policy and future."""
    return results.groupby(["policy", "future"])[list(outcomes)].mean().reset_index()


def oriented(outcome: str, values: np.ndarray) -> np.ndarray:
    """Values on a scale where larger is better (distance from parity for a gap declared "zero")."""
    better = METRIC_BY_NAME[outcome].better if outcome in METRIC_BY_NAME else "higher"
    v = np.asarray(values, dtype=float)
    if better == "higher":
        return v
    if better == "zero":
        return -np.abs(v)
    if better == "lower":
        return -v
    raise ExperimentError(f"'{outcome}' has no better direction (it is a calibration figure); choose another outcome")


def regret(means: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Per policy and future: the shortfall from the best policy in that future (≥ 0, in the unit)."""
    f = means[["policy", "future", outcome]].copy()
    f["_o"] = oriented(outcome, f[outcome].to_numpy())
    f["regret"] = f.groupby("future")["_o"].transform("max") - f["_o"]
    return f.drop(columns="_o")


def robustness_table(means: pd.DataFrame, outcomes, requirements: list[Requirement] = ()) -> pd.DataFrame:
    """One row per policy and outcome: mean over futures, largest and 90th-percentile regret, rank by
    largest regret (1 = most robust); plus, with requirements, the share of futures satisficing all."""
    rows = []
    for o in outcomes:
        r = regret(means, o)
        g = r.groupby("policy")
        t = pd.DataFrame({"outcome": o, "mean": g[o].mean(), "worst": g[o].apply(lambda s: _worst(o, s)),
                          "max_regret": g["regret"].max(), "p90_regret": g["regret"].quantile(0.9)})
        t["rank"] = t["max_regret"].rank(method="min").astype(int)
        rows.append(t.reset_index())
    table = pd.concat(rows, ignore_index=True)
    if requirements:
        ok = np.ones(len(means), dtype=bool)
        for req in requirements:
            ok &= req.met(means[req.outcome].to_numpy(dtype=float))
        share = pd.Series(ok, index=means.index).groupby(means["policy"]).mean()
        table["satisficing"] = table["policy"].map(share)
    return table


def _worst(outcome: str, s: pd.Series) -> float:
    o = oriented(outcome, s.to_numpy())
    return float(s.to_numpy()[int(np.argmin(o))])


def overall_rank(table: pd.DataFrame) -> pd.DataFrame:
    """Policies ordered by satisficing share (when given), then by the mean of their per-outcome regret
    ranks (no weighting of one outcome's unit against another's)."""
    g = table.groupby("policy")
    out = pd.DataFrame({"mean_rank": g["rank"].mean()})
    if "satisficing" in table:
        out["satisficing"] = g["satisficing"].first()
        return out.sort_values(["satisficing", "mean_rank"], ascending=[False, True])
    return out.sort_values("mean_rank")


@dataclass
class RobustResult:
    table: pd.DataFrame
    ranking: pd.DataFrame
    policies: pd.DataFrame
    requirements: list[Requirement]
    n_futures: int
    files: list[Path]


def analyse_robustness(path: str | Path, outcomes=None, satisfice=None, figures: bool = True) -> RobustResult:
    """Regret and satisficing of every policy of a cross sweep; writes robust/ beside the results."""
    exp, res = crossed_sweep(path)
    outs = list(outcomes or exp.outcomes)
    for o in outs:
        if o not in exp.outcomes:
            raise ExperimentError(f"--outcome: '{o}' is not an outcome of this sweep{did_you_mean(o, list(exp.outcomes))}"
                                  f" (outcomes: {', '.join(exp.outcomes)})")
    outs = [o for o in outs if METRIC_BY_NAME.get(o) is None or METRIC_BY_NAME[o].better != "neither"]
    reqs = parse_requirements(satisfice, exp.outcomes)
    means = point_means(exp, res, sorted(set(outs) | {r.outcome for r in reqs}))
    table = robustness_table(means, outs, reqs)
    pol = policies(exp, res)
    table.insert(1, "label", table["policy"].map(pol["label"]))
    ranking = overall_rank(table)
    ranking.insert(0, "label", ranking.index.map(pol["label"]))
    target = Path(path) / "robust"
    target.mkdir(exist_ok=True)
    files = [target / "regret.csv", target / "ranking.csv", target / "robust.json"]
    table.to_csv(files[0], index=False)
    ranking.to_csv(files[1])
    files[2].write_text(json.dumps({
        "experiment": exp.name, "futures": int(means["future"].nunique()), "policies": int(len(pol)),
        "outcomes": outs, "requirements": [str(r) for r in reqs],
        "method": "regret = shortfall from the best policy in the same future (same random draws); ranked by the "
                  "largest regret over futures (minimax regret); satisficing = share of futures meeting every "
                  "requirement", "ranking": ranking.reset_index().to_dict("records")},
        indent=1, ensure_ascii=False, default=float) + "\n", encoding="utf-8")
    if figures:
        files.append(plot_regret(target / "regret.png", table, ranking, int(means["future"].nunique())))
    return RobustResult(table, ranking, pol, reqs, int(means["future"].nunique()), files)


def plot_regret(path: Path, table: pd.DataFrame, ranking: pd.DataFrame, n_futures: int) -> Path:
    """Largest and 90th-percentile regret of each policy, one panel per outcome, policies in the
    overall order; axes start at 0 (no regret)."""
    from matplotlib.figure import Figure
    outs = list(dict.fromkeys(table["outcome"]))
    order = list(ranking.index)
    ncols = min(4, len(outs))
    nrows = -(-len(outs) // ncols)
    fig = Figure(figsize=(5.0 + 2.6 * ncols, nrows * (1.0 + 0.2 * len(order)) + 0.6))
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    y = np.arange(len(order))
    for ax, o in zip(axes.flat, outs):
        t = table[table["outcome"] == o].set_index("policy").reindex(order)
        ax.barh(y, t["max_regret"], color="tab:orange", alpha=0.5, label="largest regret")
        ax.plot(t["p90_regret"], y, "|", color="k", ms=8, label="90th percentile")
        m = METRIC_BY_NAME.get(o)
        ax.set_title(m.label if m else o, fontsize=9)
        ax.set_xlabel(f"regret ({m.unit})" if m else "regret", fontsize=8)
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(outs):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_yticks(y, [f"[{p}] {ranking.loc[p, 'label']}" for p in order], fontsize=7)
    axes[0, 0].set_ylim(len(order) - 0.5, -0.5)
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Regret of each policy across {n_futures} futures (shortfall from the best policy in the same "
                 "future; top = most robust overall)", fontsize=10, x=0.01, ha="left")
    width, height = fig.get_size_inches()
    longest = max(len(f"[{p}] {ranking.loc[p, 'label']}") for p in order)
    fig.subplots_adjust(left=min(0.6, (0.3 + 0.052 * longest) / width), right=0.98, top=1 - 0.8 / height,
                        bottom=0.5 / height + 0.02, wspace=0.12, hspace=0.35 if nrows > 1 else 0.2)
    fig.savefig(path, dpi=110)
    return Path(path)
