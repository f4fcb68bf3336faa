"""Figures of a sensitivity analysis, drawn from its saved results.

Uses matplotlib's object API with the Agg canvas (``Figure`` + ``savefig``), never ``pyplot``, so no
backend is chosen process-wide and nothing needs a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_BARS = 30
INDEX_LABEL = {"S1": "first order S1", "ST": "total ST", "mu_star": "μ*", "sigma": "σ"}


def outcome_figure(r, path: Path) -> Path:
    from matplotlib.figure import Figure

    df = r.indices
    prim = df[df["index"] == r.primary].sort_values("value", ascending=False).head(MAX_BARS)
    factors = list(prim["factor"])[::-1]  # largest at the top
    k = len(factors)
    more = len(df[df["index"] == r.primary]) - k
    title = f"{r.label}\n{r.method} design" + (f", top {k} of {k + more} factors" if more > 0 else "")
    height = max(3.0, 0.28 * k + 1.6)
    if r.method == "morris":
        fig = Figure(figsize=(12, height))
        ax, ax2 = fig.subplots(1, 2)
        _bars(ax, df, factors, ["mu_star"])
        floor = r.noise.get("noise_floor_mu_star")
        if floor is not None and np.isfinite(floor):
            ax.axvline(floor, color="grey", ls="--", lw=1, label="noise floor")
        ax.set_xlabel("μ* (outcome change over the factor's range)")
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
        _mu_sigma(ax2, df)
    else:
        fig = Figure(figsize=(7, height))
        ax = fig.subplots()
        idx = [i for i in ("S1", "ST") if i in set(df["index"])]
        _bars(ax, df, factors, idx)
        share = r.noise.get("noise_share_mean")
        if share is not None and np.isfinite(share):
            ax.axvline(share, color="grey", ls="--", lw=1, label=f"noise share {share:.0%}")
        ax.set_xlabel("share of variance")
        ax.legend(loc="best", fontsize=8, framealpha=0.8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    if r.cells is not None:
        _effects_figure(r, path.with_name(f"{r.outcome}_effects.png"))
    return path


def _bars(ax, df, factors: list[str], indices: list[str]) -> None:
    y = np.arange(len(factors))
    h = 0.8 / len(indices)
    for j, idx in enumerate(indices):
        sub = df[df["index"] == idx].set_index("factor").reindex(factors)
        err = sub["conf"].to_numpy(dtype=float)
        ax.barh(y + ((len(indices) - 1) / 2 - j) * h, sub["value"].to_numpy(dtype=float), height=h,
                xerr=np.where(np.isfinite(err), err, 0), capsize=2, label=INDEX_LABEL.get(idx, idx))
    ax.set_yticks(y, factors, fontsize=8)
    ax.axvline(0, color="black", lw=0.6)


def _mu_sigma(ax, df) -> None:
    mu = df[df["index"] == "mu_star"].set_index("factor")
    sig = df[df["index"] == "sigma"].set_index("factor").reindex(mu.index)
    x, s = mu["value"].to_numpy(dtype=float), sig["value"].to_numpy(dtype=float)
    ax.errorbar(x, s, xerr=np.nan_to_num(mu["conf"].to_numpy(dtype=float)), fmt="o", ms=4, capsize=2, lw=0.8)
    top = np.argsort(-x)[:10]
    for i in top:
        ax.annotate(mu.index[i], (x[i], s[i]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    lim = max(np.nanmax(x), np.nanmax(s), 1e-12) * 1.1
    ax.plot([0, lim], [0, lim], color="grey", ls=":", lw=1, label="σ = μ* (non-linear or interacting)")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("μ*")
    ax.set_ylabel("σ")
    ax.legend(loc="upper left", fontsize=8)


def _effects_figure(r, path: Path) -> Path:
    """Full factorial: with two factors, the mean of every cell (with its interval over replications),
    one line per level of the second factor; otherwise each factor's main effect (mean over the other
    factors' levels)."""
    from matplotlib.figure import Figure

    cells = r.cells
    factors = [c for c in cells.columns if c not in ("point", "mean", "n", "sd", "conf")]
    if len(factors) == 2:
        a, b = factors
        fig = Figure(figsize=(6.5, 4))
        ax = fig.subplots()
        xs = list(dict.fromkeys(cells[a]))
        for level, g in cells.groupby(b, sort=False):
            g = g.set_index(a).reindex(xs)
            ax.errorbar([str(x) for x in xs], g["mean"].to_numpy(dtype=float),
                        yerr=np.nan_to_num(g["conf"].to_numpy(dtype=float)), fmt="o-", capsize=3, label=f"{b} = {level}")
        ax.set_xlabel(a)
        ax.set_ylabel(r.label, fontsize=8)
        ax.legend(fontsize=7)
        fig.suptitle(f"{r.label}: mean per cell (intervals over replications)", fontsize=10)
    else:
        fig = Figure(figsize=(3.6 * len(factors), 3.2))
        axes = np.atleast_1d(fig.subplots(1, len(factors), sharey=True))
        for ax, f in zip(axes, factors):
            m = cells.groupby(f, sort=False)["mean"].mean()
            ax.plot([str(v) for v in m.index], m.to_numpy(), "o-")
            ax.set_xlabel(f, fontsize=8)
        axes[0].set_ylabel(r.label, fontsize=8)
        fig.suptitle(f"{r.label}: main effects (mean over the other factors' levels)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
