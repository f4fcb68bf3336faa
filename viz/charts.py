"""ECharts options of the page's time-series charts: pure functions of the model's daily frames.

Each chart plots declared daily series (:data:`sim.metrics.SERIES`, labels in both languages); the
counterfactual (the unchanged scenario, same seed) is the same colour dashed; a lever change is a
numbered vertical mark whose number sits above the plot, never on the lines (the list of changes says
what each number is). The x axis spans the planned days from the start, so an empty chart already has
its real axes and the picture does not rescale as days come in.

While the model plays, a chart is sent only its new days: each builder takes ``start``, the number of
days the browser already shows, and puts only the later days into the series' data; ``rows`` says how
many days the option covers (see ``viz.echart.EChartWidget.show``). ``start=0`` is the whole chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.metrics import SERIES_BY_NAME
from viz.i18n import series_label, series_unit, t

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
CHARTS = {   # chart key -> series (names in sim.metrics.SERIES), right-axis series
    "cases_chart": (("new_problems", "reports", "resolved", "backlog"), ("backlog",)),
    "mood_chart": (("satisfaction", "trust", "satisfaction_60plus", "satisfaction_under60"), ()),
    "outcome_chart": (("escalated", "discovered", "settled_on_spot", "early_warnings", "risk_flags", "false_alarms"),
                      ()),
    # assessment (考核): the reported indicators beside the true rates of the same closures
    "assessment_chart": (("reported_resolution_rate", "true_resolution_rate", "reported_satisfaction_rate",
                          "true_satisfaction_rate"), ()),
}


def points(frame: pd.DataFrame | None, column: str, start: int = 0) -> list:
    """[[day, value], ...] of the frame's rows from `start` on, values rounded to 4 decimals (the chart
    cannot show more; the message is smaller), NaN as null (JSON has no NaN)."""
    if frame is None or column not in frame or len(frame) <= start:
        return []
    values = np.round(frame[column].to_numpy(dtype=float)[start:], 4).tolist()
    return [[d, None if v != v else v] for d, v in zip(frame["day"].to_numpy()[start:].tolist(), values)]


def _marks(marks: list[tuple[int, str]]) -> dict:
    """Vertical marks at the days of lever changes, numbered above the plot area."""
    return {"symbol": "none", "silent": True, "animation": False,
            "lineStyle": {"color": "#555", "type": "dotted", "width": 1},
            "label": {"position": "end", "formatter": "{b}", "fontSize": 10, "color": "#333"},
            "data": [{"xAxis": day + 0.5, "name": f"#{k + 1}"} for k, (day, _) in enumerate(marks)]}


def _axes(x_max: int, unit_left: str, unit_right: str | None, zero_one: bool) -> tuple[dict, list]:
    x = {"type": "value", "min": 0, "max": x_max, "minInterval": 1, "name": "", "axisLabel": {"fontSize": 10},
         "splitLine": {"show": False}}
    left = {"type": "value", "name": unit_left, "nameTextStyle": {"fontSize": 10, "align": "left"},
            "axisLabel": {"fontSize": 10}, "scale": False, "min": 0}
    if zero_one:   # scores: the scale follows the data (a 0–1 axis would flatten every change)
        left.update({"min": None, "scale": True})
    ys = [left]
    if unit_right:
        ys.append({"type": "value", "name": unit_right, "nameTextStyle": {"fontSize": 10, "align": "right"},
                   "axisLabel": {"fontSize": 10}, "min": 0, "splitLine": {"show": False}})
    return x, ys


def series_chart(key: str, frame: pd.DataFrame, twin: pd.DataFrame | None, marks: list[tuple[int, str]],
                 x_max: int, lang: str, epoch, start: int = 0) -> dict:
    """A chart of declared daily series (CHARTS[key]); the twin's dashed beside them. Data of the days
    from `start` on (see the module docstring)."""
    names, right = CHARTS[key]
    units = [SERIES_BY_NAME[n].unit for n in names]
    zero_one = all(u == "0–1" for u in units)
    left_unit = series_unit(next(n for n in names if n not in right), lang)
    right_unit = series_unit(right[0], lang) if right else None
    x, ys = _axes(x_max, left_unit, right_unit, zero_one)
    series = []
    for k, name in enumerate(names):
        label = series_label(name, lang)
        axis = 1 if name in right else 0
        colour = PALETTE[k % len(PALETTE)]
        s = {"id": name, "name": label, "type": "line", "showSymbol": False, "yAxisIndex": axis,
             "lineStyle": {"width": 1.6, "color": colour}, "itemStyle": {"color": colour},
             "data": points(frame, name, start), "sampling": "lttb"}
        if k == 0:
            s["markLine"] = _marks(marks)
        series.append(s)
        if twin is not None:
            series.append({"id": f"{name}-unchanged", "name": f"{label} · {t('unchanged', lang)}", "type": "line",
                           "showSymbol": False, "yAxisIndex": axis, "data": points(twin, name, start),
                           "lineStyle": {"width": 1.2, "type": "dashed", "color": colour, "opacity": 0.8},
                           "itemStyle": {"color": colour}})
    return _frame_option(t(key, lang), series, [series_label(n, lang) for n in names], x, ys, epoch,
                         twin is not None, lang, len(frame))


def _frame_option(title, series, legend, x, ys, epoch, with_twin, lang, rows) -> dict:
    sub = ""
    return {
        "epoch": epoch, "rows": rows,
        "title": {"text": title, "subtext": sub, "left": 4, "top": 0, "itemGap": 2,
                  "textStyle": {"fontSize": 13, "fontWeight": 500}, "subtextStyle": {"fontSize": 10}},
        "graphic": [] if not with_twin else [{"type": "text", "right": 6, "top": 2, "style": {
            "text": f"— {t('with_changes', lang)}   - - - {t('unchanged', lang)}", "fontSize": 10, "fill": "#555"}}],
        "legend": {"data": legend, "top": 20, "left": 4, "right": 4, "type": "scroll", "itemWidth": 14,
                   "itemHeight": 8, "itemGap": 8, "textStyle": {"fontSize": 10}},
        "tooltip": {"trigger": "axis", "confine": True, "textStyle": {"fontSize": 11}},
        "grid": {"left": 44, "right": 44 if len(ys) > 1 else 14, "top": 70, "bottom": 22},
        "xAxis": x, "yAxis": ys, "series": series,
    }


def department_chart(frame: pd.DataFrame, twin: pd.DataFrame | None, departments: list[str],
                     marks: list[tuple[int, str]], x_max: int, lang: str, epoch, start: int = 0,
                     labels: list[str] | None = None) -> dict:
    """Cases waiting per department and day as a heat map: one row per department, so nine queues
    never overlap; the unchanged scenario is not drawn here (its total queue is in the headline's
    backlog and the cases chart). Cells of the days from `start` on; the colour scale spans all days."""
    n = len(frame)
    data = []
    vmax = 1.0
    for k, dept in enumerate(departments):
        col = f"queue_{dept}"
        if col not in frame or not n:
            continue
        values = frame[col].to_numpy(dtype=float)
        vmax = max(vmax, float(values.max()))
        data += [[start + d, k, v] for d, v in enumerate(values[start:].tolist())]
    labels = labels or [d.replace("_", " ") for d in departments]
    return {
        "epoch": epoch, "rows": n,
        "title": {"text": t("dept_chart", lang), "left": 4, "top": 0, "textStyle": {"fontSize": 13, "fontWeight": 500}},
        "tooltip": {"position": "top", "confine": True},
        "grid": {"left": 130, "right": 14, "top": 30, "bottom": 44},
        "xAxis": {"type": "category", "data": list(range(1, x_max + 1)), "axisLabel": {"fontSize": 10, "interval": 49},
                  "splitArea": {"show": False}},
        "yAxis": {"type": "category", "data": labels, "axisLabel": {"fontSize": 10}, "inverse": True},
        "visualMap": {"min": 0, "max": vmax, "calculable": False, "orient": "horizontal", "left": "center",
                      "bottom": 0, "itemWidth": 10, "itemHeight": 140, "textStyle": {"fontSize": 10},
                      "text": [f"{vmax:,.0f}", "0"],
                      "inRange": {"color": ["#f7fbff", "#fdae61", "#d7191c"]}},
        "series": [{"id": "queues", "name": t("dept_chart", lang), "type": "heatmap", "data": data,
                    "progressive": 0,
                    "markLine": {**_marks([(day - 0.5, label) for day, label in marks]), "data": [
                        {"xAxis": day, "name": f"#{k + 1}"} for k, (day, _) in enumerate(marks)]}}],
    }
