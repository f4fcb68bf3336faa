"""Scenario discovery: under which conditions does a policy fail?

From a cross sweep (levers × uncertainties), a run *fails* when an outcome is above (or below) a
threshold. PRIM (the Patient Rule Induction Method, Friedman & Fisher 1999, as implemented in EMA
Workbench's ``ema_workbench.analysis.prim``) peels the space of uncertainties down to a box where
failures are dense; each step of its peeling trajectory trades **coverage** (share of all failures
inside the box) for **density** (share of runs inside the box that fail). A CART classification tree
(scikit-learn's ``DecisionTreeClassifier``) gives a second, independent description as rules. Neither
algorithm is rewritten here: this module prepares the table, calls them, picks a box on the
trade-off and states it in plain words, with each parameter's own description and unit.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ExperimentError
from .robust import crossed_sweep, policies

DEFAULT_MIN_COVERAGE = 0.6


@dataclass
class Box:
    """One PRIM box: its limits on the restricted dimensions, coverage, density and mass."""
    limits: dict[str, tuple]          # path -> (low, high) for numbers, or (set of values,) for categories
    coverage: float
    density: float
    mass: float
    index: int                        # position on the peeling trajectory


@dataclass
class Discovery:
    outcome: str
    rule: str
    policy: str
    n_runs: int
    n_failures: int
    box: Box | None
    trajectory: pd.DataFrame
    cart_rules: list[dict]
    sentences: dict[str, str]
    files: list[Path]


def prim_boxes(x: pd.DataFrame, y: np.ndarray, *, min_coverage: float = DEFAULT_MIN_COVERAGE,
               mass_min: float = 0.05, peel_alpha: float = 0.05) -> tuple[Box | None, pd.DataFrame]:
    """PRIM's first box on (x, y): the densest box on the peeling trajectory whose coverage is still at
    least `min_coverage`, and the whole trajectory (coverage, density, mass, restricted dimensions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    y = np.asarray(y, dtype=bool)
    if y.sum() == 0:
        return None, pd.DataFrame(columns=["coverage", "density", "mass", "res_dim"])
    x = x.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(x, y, peel_alpha=peel_alpha, mass_min=mass_min)
        box = p.find_box()
    traj = box.peeling_trajectory.copy()
    ok = traj.index[traj["coverage"] >= min_coverage]
    i = int(traj.loc[ok, "density"].idxmax()) if len(ok) else 0
    lims = box.box_lims[i]
    init = p.box_init
    limits: dict[str, tuple] = {}
    for col in x.columns:
        lo, hi = lims.loc[0, col], lims.loc[1, col]
        if isinstance(lo, set):
            if lo != init.loc[0, col]:
                limits[col] = (frozenset(lo),)
        elif lo != init.loc[0, col] or hi != init.loc[1, col]:
            limits[col] = (None if lo == init.loc[0, col] else float(lo), None if hi == init.loc[1, col] else float(hi))
    row = traj.loc[i]
    return Box(limits, float(row["coverage"]), float(row["density"]), float(row["mass"]), i), traj


def cart_rules(x: pd.DataFrame, y: np.ndarray, *, max_depth: int = 3, min_leaf_share: float = 0.05,
               seed: int = 0) -> list[dict]:
    """Leaves of a CART tree where failures are the majority: their conditions, coverage and density."""
    from sklearn.tree import DecisionTreeClassifier
    y = np.asarray(y, dtype=bool)
    if y.sum() == 0 or y.all():
        return []
    X = x.copy()
    for c in X.columns:
        if X[c].dtype == bool or X[c].dtype == object:
            X[c] = X[c].astype(float) if X[c].dtype == bool else X[c].astype("category").cat.codes
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=max(2, int(min_leaf_share * len(y))),
                                  random_state=seed).fit(X.to_numpy(dtype=float), y)
    t = tree.tree_
    leaves = tree.apply(X.to_numpy(dtype=float))
    out = []

    def walk(node: int, conds: list[tuple[str, str, float]]):
        if t.children_left[node] == -1:
            inside = leaves == node
            density = float(y[inside].mean()) if inside.any() else 0.0
            if density > 0.5:
                out.append({"conditions": conds, "coverage": float(y[inside].sum() / y.sum()), "density": density,
                            "runs": int(inside.sum())})
            return
        name, thr = X.columns[t.feature[node]], float(t.threshold[node])
        walk(t.children_left[node], [*conds, (name, "<=", thr)])
        walk(t.children_right[node], [*conds, (name, ">", thr)])
    walk(0, [])
    return sorted(out, key=lambda r: -r["coverage"])


# --------------------------------------------------------------------------------------------------
# Plain words (both languages; parameter descriptions and units come from the schema)

def _fmt(v: float) -> str:
    return f"{v:.3g}"


def describe_limit(path: str, lim: tuple, info=None, lang: str = "en") -> str:
    """One condition of a box in words, with the parameter's short label (declared in the schema) when it
    has one, else the first clause of its description; the dotted path follows in brackets."""
    zh = lang == "zh"
    if info is not None and (info.zh if zh else info.label):
        name = info.zh if zh else info.label
    elif info is not None and info.description:
        name = info.description.split(";")[0].split(", calibrated")[0]
    else:
        name = path.rsplit(".", 1)[-1].replace("_", " ")
    name = f"{name}（{path}）" if zh else f"{name} ({path})"
    u = (info.unit_zh or info.unit) if zh and info is not None else (info.unit if info is not None else "")
    unit = f" {u}" if u else ""
    if len(lim) == 1:
        vals = sorted(map(str, lim[0]))
        return f"{name}为{'或'.join(vals)}" if zh else f"{name} is {' or '.join(vals)}"
    lo, hi = lim
    if lo is not None and hi is not None:
        return (f"{name}在{_fmt(lo)}至{_fmt(hi)}{unit}之间" if zh
                else f"{name} lies between {_fmt(lo)} and {_fmt(hi)}{unit}")
    if lo is not None:
        return f"{name}高于{_fmt(lo)}{unit}" if zh else f"{name} exceeds {_fmt(lo)}{unit}"
    return f"{name}低于{_fmt(hi)}{unit}" if zh else f"{name} is below {_fmt(hi)}{unit}"


def box_sentence(box: Box | None, rule: str, policy: str, infos: dict, n_fail: int, n: int, lang: str = "en") -> str:
    if box is None:
        return (f"在全部{n}次运行中，{policy} 从未出现“{rule}”。" if lang == "zh"
                else f"{policy} never fails ({rule}) in any of the {n} runs.")
    if not box.limits:
        return (f"{policy} 在 {n} 次运行中有 {n_fail} 次出现“{rule}”，且找不到更集中的条件。" if lang == "zh" else
                f"{policy} fails ({rule}) in {n_fail} of {n} runs, with no narrower set of conditions.")
    conds = [describe_limit(p, lim, infos.get(p), lang) for p, lim in box.limits.items()]
    if lang == "zh":
        return (f"当{'，且'.join(conds)}时，{policy}出现“{rule}”的比例为{box.density:.0%}（密度）；"
                f"这些条件涵盖了全部失败情形的{box.coverage:.0%}（覆盖率），占全部情景的{box.mass:.0%}。")
    return (f"When {', and '.join(conds)}, {policy} fails ({rule}) in {box.density:.0%} of runs (density); "
            f"these conditions hold {box.coverage:.0%} of all failures (coverage) and {box.mass:.0%} of all runs.")


def rule_words(outcome: str, above: float | None, below: float | None, lang: str) -> str:
    """The failure rule with the metric's label and unit (declared in sim.metrics)."""
    from sim.metrics import METRIC_BY_NAME
    m = METRIC_BY_NAME.get(outcome)
    value = above if above is not None else below
    if m is None:
        return f"{outcome} {'>' if above is not None else '<'} {value:g}"
    if lang == "zh":
        return f"{m.label_zh}{'高于' if above is not None else '低于'}{value:g}{m.unit_zh}"
    return f"{m.label} {'above' if above is not None else 'below'} {value:g} {m.unit}"


def discover(path: str | Path, outcome: str, *, above: float | None = None, below: float | None = None,
             policy: int | None = None, min_coverage: float = DEFAULT_MIN_COVERAGE, figures: bool = True) -> Discovery:
    """Find the conditions under which `policy` (index in the sweep; None: any policy, levers then
    join the uncertainties as explanatory variables) has `outcome` above/below a threshold."""
    if (above is None) == (below is None):
        raise ExperimentError("give exactly one of --above VALUE or --below VALUE (what counts as failure)")
    if not 0 < min_coverage <= 1:
        raise ExperimentError(f"--min-coverage must lie in (0, 1] (got {min_coverage:g})")
    exp, res = crossed_sweep(path)
    if outcome not in exp.outcomes:
        from .errors import did_you_mean
        raise ExperimentError(f"--outcome: '{outcome}' is not an outcome of this sweep"
                              f"{did_you_mean(outcome, list(exp.outcomes))} (outcomes: {', '.join(exp.outcomes)})")
    pol = policies(exp, res)
    if policy is not None and policy not in pol.index:
        raise ExperimentError(f"--policy: no policy {policy} (policies 0 to {len(pol) - 1}; `govsim robust` lists them)")
    means = res.groupby("point").agg({**{c: "first" for c in (*exp.levers, *exp.uncertainties, "policy")},
                                      outcome: "mean"})
    if policy is not None:
        means = means[means["policy"] == policy]
    cols = list(exp.uncertainties) + ([] if policy is not None else list(exp.levers))
    x = means[cols].reset_index(drop=True)
    v = means[outcome].to_numpy(dtype=float)
    y = (v > above) if above is not None else (v < below)
    rule = f"{outcome} {'>' if above is not None else '<'} {above if above is not None else below:g}"
    box, traj = prim_boxes(x, y, min_coverage=min_coverage)
    rules = cart_rules(x, y)
    name = pol.loc[policy, "label"] if policy is not None else "any policy"
    name_zh = pol.loc[policy, "label"] if policy is not None else "任一政策"
    model = exp.model_obj
    ctx = model.context(exp.base_data, dict(exp.settings))
    infos = {c: model.param_info(c, ctx) for c in cols}
    sentences = {lang: box_sentence(box, rule_words(outcome, above, below, lang), name if lang == "en" else name_zh,
                                    infos, int(y.sum()), len(y), lang) for lang in ("en", "zh")}
    target = Path(path) / "discover"
    target.mkdir(exist_ok=True)
    stem = f"{outcome}_{'policy' + str(policy) if policy is not None else 'all'}"
    files = [target / f"{stem}.json", target / f"{stem}_trajectory.csv"]
    traj.to_csv(files[1])
    files[0].write_text(json.dumps({
        "outcome": outcome, "failure": rule, "policy": name, "runs": len(y), "failures": int(y.sum()),
        "variables": cols, "min_coverage": min_coverage,
        "prim_box": None if box is None else {
            "limits": {k: (sorted(map(str, v[0])) if len(v) == 1 else list(v)) for k, v in box.limits.items()},
            "coverage": box.coverage, "density": box.density, "mass": box.mass, "trajectory_index": box.index},
        "cart_rules": rules, "sentence": sentences,
        "method": "PRIM (ema_workbench.analysis.prim, peel_alpha 0.05, mass_min 0.05): densest box with coverage ≥ "
                  "min_coverage; CART (sklearn DecisionTreeClassifier, depth 3): leaves where failures are the majority"},
        indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    if figures and len(traj):
        files.append(plot_tradeoff(target / f"{stem}_tradeoff.png", traj, box, rule, name))
    return Discovery(outcome, rule, name, len(y), int(y.sum()), box, traj, rules, sentences, files)


def plot_tradeoff(path: Path, traj: pd.DataFrame, box: Box | None, rule: str, policy: str) -> Path:
    """PRIM's coverage–density trade-off: each point a box on the peeling trajectory, coloured by how
    many dimensions it restricts; the chosen box circled. Both axes span 0–1."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.5, 4.8))
    ax = fig.subplots()
    sc = ax.scatter(traj["coverage"], traj["density"], c=traj["res_dim"], cmap="viridis", s=22)
    fig.colorbar(sc, ax=ax, label="restricted dimensions")
    if box is not None:
        ax.scatter([box.coverage], [box.density], s=160, facecolors="none", edgecolors="tab:red", lw=1.8,
                   label=f"chosen box: coverage {box.coverage:.0%}, density {box.density:.0%}")
        ax.legend(fontsize=8, loc="lower left")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of all failures inside the box)")
    ax.set_ylabel("density (share of runs in the box that fail)")
    ax.set_title(f"When does {policy} fail ({rule})?\nPRIM peeling trajectory", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)
