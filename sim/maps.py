"""The sentiment map (民情地图): the district's communities and grids coloured by an outcome.

Communities are drawn from their polygons (``population.communities[].polygon``, planar units, no map
tiles: government intranets are offline) or, without polygons, as generated blocks of grid cells. Each
community's polygon is cut into its grids as strips of equal area along its longer side (the model
knows how many grids a community has, not their outlines). Grid outcomes colour the grids, community
outcomes the whole community. Each outcome is declared once in :data:`MAP_OUTCOMES` with its labels in
English and Chinese, its unit and which direction is better (green is better, red worse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.plotting import cjk_fonts, fixed_margins


@dataclass(frozen=True)
class MapOutcome:
    name: str
    label: str
    label_zh: str
    unit: str
    better: str          # "higher", "lower", or "zero" (a signed gap: parity is best)
    level: str           # "grid" or "community": the frame it is read from
    column: str


MAP_OUTCOMES: dict[str, MapOutcome] = {o.name: o for o in (
    MapOutcome("served_satisfaction", "Satisfaction of those served", "办事群众满意度", "0–1", "higher", "grid",
               "served_satisfaction"),
    MapOutcome("mean_days", "Mean days to resolution", "平均解决用时", "days from need", "lower", "grid", "mean_days"),
    MapOutcome("open_per_1000", "Open problems per 1,000 residents", "每千人未结问题", "at the end", "lower", "grid",
               "open_per_1000"),
    MapOutcome("gap_satisfaction_60plus", "Satisfaction gap, others − 60+", "60岁以上满意度差距", "0–1", "zero",
               "community", "gap_satisfaction_60plus"),
    MapOutcome("reported_vs_true", "Reported − experienced satisfaction", "上报与实际满意度之差", "0–1", "zero",
               "community", "reported_vs_true"),
)}
MAP_FILE = "figures/sentiment_map.png"
MAP_FILES = {MAP_FILE: "the sentiment map (民情地图): grids and communities coloured by satisfaction of those served, "
                       "days to resolution, open problems, the 60+ satisfaction gap and the reported-vs-experienced "
                       "gap (mean over replications)"}


# --------------------------------------------------------------------------------------------------
# Geometry

def _clip(poly: list, n: np.ndarray, c: float, keep_below: bool) -> list:
    """Sutherland–Hodgman: the part of `poly` with n·p ≤ c (or ≥ c)."""
    def inside(p):
        d = float(np.dot(n, p)) - c
        return d <= 1e-12 if keep_below else d >= -1e-12
    out = []
    for i, cur in enumerate(poly):
        prev = poly[i - 1]
        a, b = np.asarray(prev, float), np.asarray(cur, float)
        if inside(b):
            if not inside(a):
                out.append(_cross(a, b, n, c))
            out.append(tuple(b))
        elif inside(a):
            out.append(_cross(a, b, n, c))
    return out


def _cross(a, b, n, c):
    t = (c - np.dot(n, a)) / np.dot(n, b - a)
    return tuple(a + t * (b - a))


def area(poly) -> float:
    if len(poly) < 3:
        return 0.0
    p = np.asarray(poly, float)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def split_polygon(poly, parts: int) -> list[list]:
    """`poly` cut into `parts` strips of equal area across its longer side."""
    poly = [tuple(map(float, p)) for p in poly]
    if parts <= 1:
        return [poly]
    p = np.asarray(poly)
    span = p.max(axis=0) - p.min(axis=0)
    n = np.array([1.0, 0.0]) if span[0] >= span[1] else np.array([0.0, 1.0])
    proj = p @ n
    total = area(poly)
    cuts = [proj.min()]
    for k in range(1, parts):
        lo, hi = cuts[-1], proj.max()
        for _ in range(40):   # bisection: the cut below which k/parts of the area lies
            mid = (lo + hi) / 2
            if area(_clip(poly, n, mid, True)) < total * k / parts:
                lo = mid
            else:
                hi = mid
        cuts.append((lo + hi) / 2)
    cuts.append(proj.max())
    strips = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        strips.append(_clip(_clip(poly, n, a, False), n, b, True))
    return strips


def _block(grids: int) -> tuple[int, int]:
    """Columns and rows of a generated community block of `grids` near-square cells."""
    cols = math.ceil(math.sqrt(max(grids, 1)))
    return cols, math.ceil(max(grids, 1) / cols)


def layout(scenario) -> tuple[list[list], list[list]]:
    """The district's map: each community's outline and each grid's (grids in model order: a community's
    grids are contiguous). A community with a polygon is cut into its grids as strips of equal area; one
    without is drawn as a block of near-square grid cells, the blocks set out in rows with a street
    between (a schematic, the same for the same district every time). The CLI's sentiment map and the
    view's map both draw this."""
    from sim.scenario import resolved_communities
    comms = resolved_communities(scenario)
    drawn = [c for c in comms if not c.polygon]
    if drawn:
        bw = max(_block(c.grids)[0] for c in drawn)
        bh = max(_block(c.grids)[1] for c in drawn)
        per_row = max(1, math.ceil(math.sqrt(len(drawn) * bh / bw * 1.6)))
    outlines, cells, k = [], [], 0
    for c in comms:
        if c.polygon:
            outlines.append([tuple(map(float, p)) for p in c.polygon])
            cells.extend(split_polygon(c.polygon, c.grids))
            continue
        x0, y0 = (k % per_row) * (bw + 1.0), -(k // per_row) * (bh + 0.8)
        k += 1
        cols, rows = _block(c.grids)
        for g in range(c.grids):
            x, y = x0 + g % cols, y0 - g // cols
            cells.append([(x, y), (x + 1, y), (x + 1, y - 1), (x, y - 1)])
        last = c.grids - (rows - 1) * cols   # cells in the last row
        outlines.append([(x0, y0), (x0 + cols, y0), (x0 + cols, y0 - rows + 1), (x0 + last, y0 - rows + 1),
                         (x0 + last, y0 - rows), (x0, y0 - rows)] if last < cols else
                        [(x0, y0), (x0 + cols, y0), (x0 + cols, y0 - rows), (x0, y0 - rows)])
    return outlines, cells


def community_shapes(scenario) -> list[list]:
    """Each community's outline (see :func:`layout`)."""
    return layout(scenario)[0]


def grid_shapes(scenario) -> list[list]:
    """Each grid's outline, grids in model order (see :func:`layout`)."""
    return layout(scenario)[1]


# --------------------------------------------------------------------------------------------------
# Values

def map_values(grids: pd.DataFrame, communities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per grid and per community: every map outcome, the mean over replications (frames as written
    in a run directory, or one run's frames from the model)."""
    g = grids.assign(open_per_1000=1000 * grids["open_problems"] / grids["residents"])
    g = g.groupby("grid", sort=True)[["community", "residents", "served_satisfaction", "mean_days",
                                      "open_per_1000"]].mean()
    c = communities.assign(reported_vs_true=communities["served_satisfaction"] - communities["satisfaction_all"])
    c = c.groupby("community", sort=True)[["gap_satisfaction_60plus", "reported_vs_true"]].mean()
    first = communities.groupby("community", sort=True)[["name", "kind"]].first()
    names = [n if k == "default" else f"{n}\n{k.replace('_', ' ')}" for n, k in zip(first["name"], first["kind"])]
    return g.reset_index(), c.assign(name=names).reset_index()


def plot_map(ax, scenario, grids: pd.DataFrame, communities: pd.DataFrame, outcome: str, *, labels: bool = True,
             colorbar: bool = True, shapes: tuple[list, list] | None = None):
    """Draw one outcome's map on `ax` (`shapes`: the district's :func:`layout`, when already made)."""
    from matplotlib.collections import PolyCollection
    o = MAP_OUTCOMES[outcome]
    g, c = map_values(grids, communities)
    outlines, cells = shapes or layout(scenario)
    if o.level == "grid":
        drawn, values = cells, g[o.column].to_numpy(float)
    else:
        drawn, values = outlines, c[o.column].to_numpy(float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    cmap = {"higher": "RdYlGn", "lower": "RdYlGn_r", "zero": "PuOr_r"}[o.better]
    if o.better == "zero":   # diverging around parity
        lo, hi = -max(abs(lo), abs(hi)), max(abs(lo), abs(hi))
    import matplotlib
    cm = matplotlib.colormaps[cmap].with_extremes(bad="0.85")   # grey: no problem finished there
    coll = PolyCollection(drawn, array=np.ma.masked_invalid(values), cmap=cm, edgecolors="white", linewidths=0.6)
    coll.set_clim(lo, hi)
    ax.add_collection(coll)
    ax.add_collection(PolyCollection(outlines, facecolors="none", edgecolors="0.15", linewidths=1.4))
    if labels:
        for shape, name in zip(outlines, c["name"]):
            p = np.asarray(shape)
            ax.text(p[:, 0].mean(), p[:, 1].mean(), str(name), ha="center", va="center", fontsize=6.5, color="0.1",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.65})
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    note = "; 0 = parity" if o.better == "zero" else ""
    ax.set_title(f"{o.label}\n{o.label_zh} ({o.unit}{note})", fontsize=9)
    if colorbar:
        ax.figure.colorbar(coll, ax=ax, shrink=0.75, pad=0.02)
    return coll


def plot_maps(path: Path, scenario, grids: pd.DataFrame, communities: pd.DataFrame, n_reps: int = 1) -> Path:
    """The sentiment map of a run: one panel per outcome in MAP_OUTCOMES."""
    from matplotlib.figure import Figure
    names = list(MAP_OUTCOMES)
    cols = 3
    rows = math.ceil(len(names) / cols)
    shapes = layout(scenario)   # once: cutting polygons into grids is the slow part
    points = np.concatenate([np.asarray(p, float) for p in shapes[0]])
    w, h = np.ptp(points, axis=0)
    # panels as tall as the district's shape at their width (~3.3 in beside its colour bar), plus titles
    panel = min(6.0, max(1.5, 3.3 * h / max(w, 1e-9))) + 0.75
    with cjk_fonts():
        fig = Figure(figsize=(13, panel * rows + 0.6))
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, name in zip(axes, names):
            plot_map(ax, scenario, grids, communities, name, shapes=shapes)
        for ax in axes[len(names):]:
            ax.axis("off")
        fig.suptitle(f"Sentiment map 民情地图 — {scenario.name} (mean over {n_reps} replication"
                     f"{'s' if n_reps != 1 else ''}; green is better, grey: no data; community outlines in black)", fontsize=11)
        fixed_margins(fig, left=0.2, right=0.2, top=1.05, bottom=0.15, wspace=0.1, hspace=0.55)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return path
