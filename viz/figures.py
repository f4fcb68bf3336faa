"""Matplotlib drawings for the page (the Agg backend; Altair/Vega assets are not served offline).

Pure functions of arrays and frames: they never step or change a model, and they build ``Figure``
objects directly (no pyplot state shared between sessions).
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, to_hex
from matplotlib.figure import Figure

from sim.metrics import METRIC_BY_NAME

DPI = 100
CHART_SIZE = (5.6, 3.5)            # inches; fits one SolaraViz grid cell (half the main panel)
MAIN_STYLE = {"lw": 1.6}
TWIN_STYLE = {"lw": 1.3, "ls": "--", "alpha": 0.75}
MAIN_LABEL = "with your changes"
TWIN_LABEL = "unchanged scenario"
# Colour scales of the community drawings: what each shows and which way is good.
SCALES = {
    "satisfaction": ("RdYlGn", "mean satisfaction (0–1)"),
    "trust": ("RdYlGn", "mean trust (0–1)"),
    "backlog": ("YlOrRd", "open cases at the centre or a department"),
}


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # Fast compression: a page redraws several figures at every step.
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# Where grids sit: tiles arranged in community blocks (shared by the grid map and the network)

def block_shape(grids_per_community: int) -> tuple[int, int]:
    """Columns and rows of one community's block of grid tiles (near square)."""
    bw = math.ceil(math.sqrt(grids_per_community))
    return bw, math.ceil(grids_per_community / bw)


def grid_lattice(n_communities: int, grids_per_community: int) -> tuple[np.ndarray, int, int]:
    """(column, row) of every grid's tile, community blocks side by side with a gap; and the size.

    Community c holds grids c*g … c*g+g-1 (the model's numbering) in a near-square block.
    """
    g = grids_per_community
    bw, bh = block_shape(g)
    per_row = max(1, math.ceil(math.sqrt(n_communities * bh / bw * 1.3)))
    per_row = min(per_row, n_communities)
    k = np.arange(n_communities * g)
    comm, local = k // g, k % g
    col = (comm % per_row) * (bw + 1) + local % bw
    row = (comm // per_row) * (bh + 1) + local // bw
    n_rows = math.ceil(n_communities / per_row)
    return np.column_stack([col, row]), per_row * (bw + 1) - 1, n_rows * (bh + 1) - 1


def lattice_tracks(grids_per_community: int, width: int, height: int, tile: str, gap: str) -> tuple[str, str]:
    """CSS grid-template columns and rows of the lattice: tiles, and thin tracks between blocks."""
    bw, bh = block_shape(grids_per_community)
    cols = " ".join(gap if c % (bw + 1) == bw else tile for c in range(width + 1))
    rows = " ".join("8px" if r % (bh + 1) == bh else "var(--govsim-row)" for r in range(height + 1))
    return cols, rows


def colours(values: np.ndarray, kind: str) -> tuple[list[str], float, float]:
    """Hex colours of per-grid values on the kind's scale, and the range used."""
    cmap_name, _ = SCALES[kind]
    finite = values[np.isfinite(values)]
    if kind == "backlog":
        # at least 5 open cases for the darkest colour: one case in one grid is not an alarm
        lo, hi = 0.0, max(5.0, float(finite.max()) if finite.size else 5.0)
    else:  # stretch the range a little so tiny differences are not shown as a red-green contrast
        mid = float(finite.mean()) if finite.size else 0.5
        half = max(0.05, float(np.abs(finite - mid).max()) if finite.size else 0.05)
        lo, hi = max(0.0, mid - half), min(1.0, mid + half)
    norm = Normalize(lo, hi)
    cmap = colormaps[cmap_name]
    return [to_hex(cmap(norm(v))) if np.isfinite(v) else "#cccccc" for v in values], lo, hi


def text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


# --------------------------------------------------------------------------------------------------
# The network of residents (small communities only)

def network_positions(grid_of: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    """Residents on a ring around their grid's tile centre, in ring order.

    The within-grid ties are a Watts–Strogatz ring, so a ring layout shows their structure directly
    (neighbours side by side, rewired ties as chords); computed in O(N), never a spring layout.
    """
    n = grid_of.size
    starts = np.r_[0, np.flatnonzero(np.diff(grid_of)) + 1]
    sizes = np.diff(np.r_[starts, n])
    local = np.arange(n) - np.repeat(starts, sizes)
    angle = 2 * np.pi * local / np.repeat(sizes, sizes)
    centre = lattice[grid_of].astype(float)
    return np.column_stack([centre[:, 0] + 0.42 * np.cos(angle), centre[:, 1] + 0.42 * np.sin(angle)])


def network_size(lattice_width: int, lattice_height: int) -> tuple[float, float]:
    """Figure size (inches) of the network drawing: as tall as the community blocks need."""
    h = 5.6 * (lattice_height + 1) / (lattice_width + 1) * 0.85 + 0.6
    return 5.6, float(np.clip(h, 2.6, 3.6))


def network_figure(pos: np.ndarray, adjacency, grid_of: np.ndarray, satisfaction: np.ndarray,
                   open_case: np.ndarray, unreported: np.ndarray, old: np.ndarray,
                   selected_resident: int | None = None, selected_grid: int | None = None,
                   size=(5.6, 4.2)) -> Figure:
    """Residents coloured by satisfaction (squares: aged 60+), rings on open cases, ties as lines."""
    fig = Figure(figsize=size, dpi=DPI)
    ax = fig.add_axes((0.0, 0.0, 0.86, 0.93))
    coo = adjacency.tocoo()
    upper = coo.row < coo.col
    i, j = coo.row[upper], coo.col[upper]
    cross = grid_of[i] != grid_of[j]
    segs = np.stack([pos[i], pos[j]], axis=1)
    ax.add_collection(LineCollection(segs[~cross], colors="#9aa4ad", linewidths=0.25, alpha=0.6, zorder=1))
    ax.add_collection(LineCollection(segs[cross], colors="#5b7fa3", linewidths=0.3, alpha=0.35, zorder=1))
    n = pos.shape[0]
    s = float(np.clip(9000 / n, 3, 40))
    norm = Normalize(0, 1)
    cmap = colormaps["RdYlGn"]
    young = ~old
    ax.scatter(pos[young, 0], pos[young, 1], c=satisfaction[young], cmap=cmap, norm=norm, s=s,
               marker="o", linewidths=0, zorder=2)
    sc = ax.scatter(pos[old, 0], pos[old, 1], c=satisfaction[old], cmap=cmap, norm=norm, s=s * 1.3,
                    marker="s", linewidths=0, zorder=2)
    if unreported.size:
        ax.scatter(pos[unreported, 0], pos[unreported, 1], s=s * 3.2, facecolors="none", edgecolors="#7f7f7f",
                   linewidths=0.6, zorder=3, label="problem not reported")
    if open_case.size:
        ax.scatter(pos[open_case, 0], pos[open_case, 1], s=s * 3.2, facecolors="none", edgecolors="#111111",
                   linewidths=1.0, zorder=4, label="open case")
    if selected_grid is not None:
        members = np.flatnonzero(grid_of == selected_grid)
        if members.size:
            c = pos[members].mean(axis=0)
            ax.add_patch(_circle(c, 0.5, "#1f4e9c"))
    if selected_resident is not None and 0 <= selected_resident < n:
        ax.scatter([pos[selected_resident, 0]], [pos[selected_resident, 1]], s=s * 9, marker="*",
                   color="#1f4e9c", edgecolors="white", linewidths=0.8, zorder=5,
                   label=f"resident {selected_resident}")
    for g in np.unique(grid_of):
        c = pos[grid_of == g].mean(axis=0)
        ax.text(c[0], c[1], f"G{g}", ha="center", va="center", fontsize=7, color="#333333", zorder=6)
    # Fixed limits (not autoscaled): a click on the image maps to the same place whatever is selected.
    ax.set_xlim(pos[:, 0].min() - 0.1, pos[:, 0].max() + 0.1)
    ax.set_ylim(pos[:, 1].max() + 0.1, pos[:, 1].min() - 0.1)   # rows go down, as in the grid map
    ax.set_aspect("equal")
    ax.axis("off")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=7, frameon=False,
                  borderaxespad=0.1, handletextpad=0.3)
    cax = fig.add_axes((0.88, 0.12, 0.025, 0.7))
    cb = fig.colorbar(sc, cax=cax)
    cb.set_label("satisfaction", fontsize=7)
    cb.ax.tick_params(labelsize=7)
    return fig


def _circle(centre, r, colour):
    from matplotlib.patches import Circle
    return Circle(tuple(centre), r, fill=False, edgecolor=colour, linewidth=1.6, zorder=5)


def grid_map_figure(lattice: np.ndarray, width: int, height: int, tile_colours: list[str],
                    selected_grid: int | None, label: str, size=(5.6, 4.2)) -> Figure:
    """The grid map as an image, for communities with too many grids for clickable tiles."""
    fig = Figure(figsize=size, dpi=DPI)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    from matplotlib.patches import Rectangle
    for g, (c, r) in enumerate(lattice):
        ax.add_patch(Rectangle((c, r), 0.92, 0.92, facecolor=tile_colours[g],
                               edgecolor="#1f4e9c" if g == selected_grid else "none", linewidth=2))
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(height + 0.2, -0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(label, fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# Charts

def _marks(ax, marks, with_labels: bool) -> None:
    """A vertical line between the last day before a change and the first day after it."""
    for day, label in marks:
        ax.axvline(day + 0.5, color="#6a3d9a", ls=":", lw=1.1, zorder=0)
        if with_labels:
            text = f"from day {day + 1}: {label}"
            ax.annotate(text if len(text) < 70 else text[:68] + "…",
                        xy=(day + 0.5, 0.98), xycoords=("data", "axes fraction"), rotation=90,
                        ha="right", va="top", fontsize=6.5, color="#6a3d9a")


def _xlim(ax, frame: pd.DataFrame, marks) -> None:
    last = max([int(frame["day"].max()) if len(frame) else 0] + [d + 1 for d, _ in marks] + [10])
    ax.set_xlim(0.5, last + 0.5)


def _series(ax, frame, twin, column, colour, label=None, transform=None):
    f = _col if transform is None else transform
    dots = {"marker": "o", "ms": 3} if len(frame) < 3 else {}   # a line of one day is not drawn
    ax.plot(frame["day"], f(frame, column), color=colour, label=label, **MAIN_STYLE, **dots)
    if twin is not None:
        ax.plot(twin["day"], f(twin, column), color=colour, **TWIN_STYLE, **dots)


def _col(frame, column):
    return frame[column]


def _min_span(ax, span: float) -> None:
    """Keep at least `span` of y range, so day-to-day noise of a few 1e-5 is not blown up to full height."""
    lo, hi = ax.get_ylim()
    if hi - lo < span:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - span / 2, mid + span / 2)


def _style(ax, title: str, ylabel: str = "") -> None:
    ax.set_title(title, fontsize=8.5, loc="left")
    ax.set_ylabel(ylabel, fontsize=7.5)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.25, lw=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _twin_note(fig, twin) -> None:
    if twin is not None:
        fig.text(0.99, 0.005, f"—  {MAIN_LABEL}    - -  {TWIN_LABEL} (same seed)", ha="right", va="bottom",
                 fontsize=7, color="#333333")


def _layout(fig, twin, right=0.98) -> None:
    # Fixed margins: tight_layout costs a full extra draw at every step.
    fig.subplots_adjust(left=0.1, right=right, top=0.92, bottom=0.17 if twin is not None else 0.13)
    _twin_note(fig, twin)


def four_e_figure(frame: pd.DataFrame, twin: pd.DataFrame | None, marks) -> Figure:
    """The 4E indicators over time: economy, efficiency, effectiveness, equity."""
    fig = Figure(figsize=(CHART_SIZE[0], 3.8), dpi=DPI)
    axes = fig.subplots(2, 2, sharex=True)
    (a, b), (c, d) = axes
    cost = METRIC_BY_NAME["total_cost"]
    _series(a, frame, twin, "cost", "#8c564b")
    _style(a, "Economy: cost so far", cost.unit)
    _series(b, frame, twin, "backlog", "#d62728")
    _style(b, "Efficiency: backlog", "open cases")
    _series(c, frame, twin, "satisfaction", "#2ca02c", "satisfaction")
    _series(c, frame, twin, "trust", "#1f77b4", "trust")
    _style(c, "Effectiveness: satisfaction, trust", "0–1")
    _min_span(c, 0.1)
    c.legend(fontsize=6.5, frameon=False, loc="lower left")
    gap = lambda f, _c: f["satisfaction_under60"] - f["satisfaction_60plus"]  # noqa: E731
    _series(d, frame, twin, "gap", "#9467bd", transform=gap)
    d.axhline(0, color="#999999", lw=0.6)
    _style(d, "Equity: satisfaction gap", "under 60 − aged 60+")
    _min_span(d, 0.04)
    for ax in axes.flat:
        _marks(ax, marks, with_labels=ax is a)
        _xlim(ax, frame, marks)
    for ax in (c, d):
        ax.set_xlabel("day", fontsize=7.5)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.93, bottom=0.14 if twin is not None else 0.11,
                        hspace=0.3, wspace=0.3)
    _twin_note(fig, twin)
    return fig


def department_backlog_figure(frame: pd.DataFrame, twin: pd.DataFrame | None, marks, departments) -> Figure:
    fig = Figure(figsize=CHART_SIZE, dpi=DPI)
    ax = fig.add_subplot()
    cmap = colormaps["tab10"]
    for k, dept in enumerate(departments):
        _series(ax, frame, twin, f"queue_{dept}", cmap(k % 10), dept.replace("_", " "))
    _style(ax, "Backlog per department (cases waiting in its queue)", "cases")
    ax.set_xlabel("day", fontsize=7.5)
    ax.legend(fontsize=6, frameon=False, ncol=3, loc="upper left")
    _marks(ax, marks, with_labels=True)
    _xlim(ax, frame, marks)
    _layout(fig, twin)
    return fig


def escalations_figure(frame: pd.DataFrame, twin: pd.DataFrame | None, marks) -> Figure:
    fig = Figure(figsize=CHART_SIZE, dpi=DPI)
    ax = fig.add_subplot()
    ax.bar(frame["day"], frame["escalated"], width=1.0, color="#f4a582", label="per day")
    _style(ax, "Escalations (problems grown into disputes or incidents)", "per day")
    ax2 = ax.twinx()
    cum = lambda f, _c: f["escalated"].cumsum()  # noqa: E731
    _series(ax2, frame, twin, "escalated", "#b2182b", "cumulative", transform=cum)
    ax2.set_ylabel("cumulative", fontsize=7.5)
    ax2.tick_params(labelsize=7)
    ax2.spines["top"].set_visible(False)
    ax.set_xlabel("day", fontsize=7.5)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=6.5, frameon=False, loc="upper left")
    _marks(ax, marks, with_labels=True)
    _xlim(ax, frame, marks)
    _layout(fig, twin, right=0.91)
    return fig


def satisfaction_age_figure(frame: pd.DataFrame, twin: pd.DataFrame | None, marks) -> Figure:
    fig = Figure(figsize=CHART_SIZE, dpi=DPI)
    ax = fig.add_subplot()
    _series(ax, frame, twin, "satisfaction_60plus", "#e66101", "aged 60+")
    _series(ax, frame, twin, "satisfaction_under60", "#5e3c99", "under 60")
    _style(ax, "Satisfaction: residents aged 60+ vs others", "mean satisfaction (0–1)")
    _min_span(ax, 0.1)
    ax.set_xlabel("day", fontsize=7.5)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    _marks(ax, marks, with_labels=True)
    _xlim(ax, frame, marks)
    _layout(fig, twin)
    return fig


def reported_true_figure(frame: pd.DataFrame, twin: pd.DataFrame | None, marks) -> Figure:
    """Assessment (考核): the reported resolution and satisfaction rates beside the true rates of the
    same closures (cumulative so far)."""
    fig = Figure(figsize=CHART_SIZE, dpi=DPI)
    ax = fig.add_subplot()
    _series(ax, frame, twin, "reported_resolution_rate", "#d62728", "resolution, reported")
    _series(ax, frame, twin, "true_resolution_rate", "#ff9896", "resolution, true")
    _series(ax, frame, twin, "reported_satisfaction_rate", "#1f77b4", "satisfaction, reported")
    _series(ax, frame, twin, "true_satisfaction_rate", "#aec7e8", "satisfaction, true")
    _style(ax, "Assessment: reported indicators and true outcomes (closures so far)", "rate (0–1)")
    _min_span(ax, 0.1)
    ax.set_xlabel("day", fontsize=7.5)
    ax.legend(fontsize=6.5, frameon=False, loc="lower right", ncol=2)
    _marks(ax, marks, with_labels=True)
    _xlim(ax, frame, marks)
    _layout(fig, twin)
    return fig
