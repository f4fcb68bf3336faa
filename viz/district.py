"""The district map (民情地图): the grids, coloured by a per-grid outcome.

The layout is the one the CLI's sentiment map draws (:func:`sim.maps.layout`): the communities'
polygons from the district file, cut into their grids, or generated blocks of grid cells where a
scenario has no geography. The map is one ECharts ``map`` series over this GeoJSON, coloured through a
``visualMap``; a grid's figures are in its tooltip, and a click opens the inspector.

What can colour the map is the per-grid version of a declared 4E metric (its label, unit and better
direction come from :mod:`sim.metrics`), plus a few grid figures with no district-wide metric.
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.metrics import METRIC_BY_NAME
from sim.scenario import kind_label
from viz.i18n import DECIMALS, PERCENT_UNITS, fmt_value, metric_label, t

MAP_NAME = "govsim-district"


@dataclass(frozen=True)
class Measure:
    """A per-grid column of ``GovernanceModel.grid_frame`` that can colour the map."""
    column: str
    metric: str | None = None           # the district-wide metric it is the per-grid version of
    words: str | None = None            # else: a key of viz.i18n.WORDS
    unit: str = "0–1"
    better: str = "higher"              # higher, lower or zero (a signed gap)

    def label(self, lang: str) -> str:
        return _measure_label(self, lang)

    def _label(self, lang: str) -> str:
        if self.column == "reported_gap_satisfaction":   # its two parts' declared labels
            return f"{metric_label('satisfaction_rate', lang)} − {metric_label('satisfaction_all', lang)}"
        return metric_label(self.metric, lang) if self.metric else t(self.words, lang)


@functools.lru_cache(maxsize=None)
def _measure_label(measure: Measure, lang: str) -> str:   # drawn for every grid at every drawing
    return measure._label(lang)


def _from_metric(column: str, metric: str) -> Measure:
    m = METRIC_BY_NAME[metric]
    return Measure(column, metric, unit=m.unit, better=m.better)


MEASURES: tuple[Measure, ...] = (
    _from_metric("satisfaction", "satisfaction"),
    _from_metric("trust", "trust"),
    _from_metric("satisfaction_all", "satisfaction_all"),
    _from_metric("served_satisfaction", "satisfaction_rate"),
    _from_metric("resolved_share", "resolution_rate_all"),
    _from_metric("gap_satisfaction_60plus", "gap_satisfaction_60plus_signed"),
    _from_metric("gap_days_60plus", "gap_days_60plus_signed"),
    Measure("reported_gap_satisfaction", better="zero"),
    Measure("mean_days", words="mean_days", unit="days", better="lower"),
    Measure("open_problems", words="open_problems", unit="count", better="lower"),
    Measure("share_60plus", words="share_60plus", unit="share", better="neither"),
)
MEASURE_BY_COLUMN = {m.column: m for m in MEASURES}
DEFAULT_MEASURE = "satisfaction"
COLOURS = {   # low -> high
    "higher": ["#c0392b", "#f1c40f", "#27ae60"],
    "lower": ["#27ae60", "#f1c40f", "#c0392b"],
    "zero": ["#2c7bb6", "#f7f7f7", "#d7191c"],
    "neither": ["#f7fbff", "#6baed6", "#08306b"],
}


MIN_SPAN = {"0–1": 0.1, "share": 0.1, "days": 2.0, "count": 5.0}


def district_geojson(scenario) -> dict:
    """GeoJSON of the grids (feature name "G<k>"): the district's map as :func:`sim.maps.layout` draws
    it (the communities' polygons where the district file gives them, generated blocks elsewhere)."""
    from sim.maps import grid_shapes
    features = []
    for g, ring in enumerate(grid_shapes(scenario)):
        ring = [(round(float(x), 4), round(float(y), 4)) for x, y in ring]
        features.append({"type": "Feature", "properties": {"name": f"G{g}"},
                         "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}})
    return {"type": "FeatureCollection", "features": features}


def community_anchors(geo: dict, grid_community: np.ndarray) -> list[tuple[int, float, float]]:
    """(community, x, y) at the top middle of each community's block, for its name."""
    out = []
    for c in np.unique(grid_community):
        pts = np.array([p for f, gc in zip(geo["features"], grid_community) if gc == c
                        for p in f["geometry"]["coordinates"][0]])
        out.append((int(c), float(pts[:, 0].mean()), float(pts[:, 1].max())))
    return out


def _range(values: np.ndarray, measure: Measure) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if measure.better == "zero":
        r = float(np.abs(v).max()) if v.size else 0.0
        r = max(r, MIN_SPAN.get(measure.unit, 0.1) / 2)
        return -r, r
    if not v.size:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    # A least span, so that differences too small to matter are not painted red against green.
    least = MIN_SPAN.get(measure.unit, max(1.0, abs(hi) * 0.1))
    if hi - lo < least:
        mid = (hi + lo) / 2
        lo, hi = mid - least / 2, mid + least / 2
        if measure.unit in ("0–1", "share"):
            lo, hi = max(0.0, lo), min(1.0, hi)
    return lo, hi


def tooltip_rows(lang: str) -> list[tuple[str, str, str]]:
    """(label, grid-frame column, unit) of each row of a grid's figures, in order."""
    rows = [(t("residents", lang), "residents", "count"), (t("share_60plus", lang), "share_60plus", "share")]
    for m in MEASURES:
        if m.column == "share_60plus":
            continue
        rows.append((m.label(lang), m.column, m.unit))
        if m.column == "satisfaction_all":   # the per-grid 60+ breakdown
            rows += [(f"  {t('aged_60plus', lang)}", "satisfaction_60plus", "0–1"),
                     (f"  {t('under_60', lang)}", "satisfaction_under60", "0–1")]
    return rows


def tooltip_head(row, community, lang: str) -> str:
    return (f"<b>G{int(row['grid'])}</b> · {html.escape(str(community['name']))} "
            f"({html.escape(kind_label(str(community['kind']), lang, str(community.get('kind_description', ''))))})")


def tooltip(row, community, lang: str) -> str:
    """The figures of one grid (a mapping of its grid-frame row) as HTML, as the inspector shows them."""
    cells = "".join(f"<tr><td style='color:#666;padding-right:8px'>{html.escape(label)}</td>"
                    f"<td>{fmt_value(row[col], unit)}</td></tr>" for label, col, unit in tooltip_rows(lang))
    return f"{tooltip_head(row, community, lang)}<table style='font-size:12px'>{cells}</table>"


def map_option(grids: pd.DataFrame, communities: pd.DataFrame, anchors, measure: str, lang: str,
               selected: int | None, epoch) -> dict:
    """The ECharts option of the map for the grids' current figures."""
    m = MEASURE_BY_COLUMN[measure]
    values = grids[m.column].to_numpy(dtype=float)
    lo, hi = _range(values, m)
    comm = {int(c["community"]): c for c in communities.to_dict("records")}
    many = len(grids) > 24
    # The tooltip's figures travel as numbers; the page formats them with the unit rules of
    # viz.i18n (percent or decimals, passed in `tipRows`) only when a grid is hovered.
    rows = tooltip_rows(lang)
    heads = {int(g): tooltip_head({"grid": g}, comm[int(c)], lang)
             for g, c in zip(grids["grid"].tolist(), grids["community"].tolist())}
    figs = np.round(grids[[col for _, col, _ in rows]].to_numpy(dtype=float), 4).tolist()
    data = []
    for row in grids.to_dict("records"):
        v = float(row[m.column])
        item = {"name": f"G{row['grid']}", "id": int(row["grid"]), "value": v if math.isfinite(v) else None,
                "head": heads[int(row["grid"])]}
        item["figs"] = [None if x != x else x for x in figs[len(data)]]
        if row["grid"] == selected:
            item["itemStyle"] = {"borderColor": "#1a237e", "borderWidth": 3}
        data.append(item)
    labels = []
    for c, x, y in anchors:
        info = comm[c]
        name = str(info["name"])
        if info["kind"] not in ("", "default") and name == f"community {c}":   # unnamed: its number and kind
            name = f"{c} · " + kind_label(str(info["kind"]), lang, str(info.get("kind_description", "")))
        labels.append({"name": name, "value": [x, y + 0.05]})
    return {
        "epoch": epoch,
        "tooltip": {"trigger": "item", "fromData": True, "confine": True},
        "tipRows": [[label, unit in PERCENT_UNITS, DECIMALS.get(unit, 2)] for label, _, unit in rows],
        "visualMap": {"type": "continuous", "min": lo, "max": hi, "calculable": False, "orient": "horizontal",
                      "left": "center", "bottom": 0, "itemWidth": 10, "itemHeight": 160,
                      "text": [fmt_value(hi, m.unit), fmt_value(lo, m.unit)], "textGap": 6,
                      "inRange": {"color": COLOURS[m.better]}, "seriesIndex": 0,
                      "outOfRange": {"color": "#ddd"}},
        "geo": {"map": MAP_NAME, "roam": True, "aspectScale": 1, "top": 34, "bottom": 34, "left": 6, "right": 6,
                "itemStyle": {"borderColor": "#fff", "borderWidth": 1, "areaColor": "#ddd"},
                "emphasis": {"label": {"show": False}, "itemStyle": {"borderColor": "#000", "borderWidth": 2}},
                "label": {"show": not many, "fontSize": 10, "color": "#222", "textBorderColor": "#fff",
                          "textBorderWidth": 2}},
        "series": [
            {"id": "grids", "type": "map", "geoIndex": 0, "data": data},
            {"id": "community-names", "type": "scatter", "coordinateSystem": "geo", "symbolSize": 0,
             "silent": True, "data": labels,
             "label": {"show": True, "formatter": "{b}", "position": "top", "fontSize": 10, "color": "#333",
                       "fontWeight": "bold"}},
        ],
    }
