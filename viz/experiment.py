"""A small experiment in the page (after NetLogo's BehaviorSpace): one lever, two or three values, a
few replications each, run in the background while the live run goes on; the results are drawn as
95% bands beside the live run.

Each value runs the scenario *as it is now* (the parameters in force, with the changes made so far)
from day 0, as one batch of replications (:class:`sim.model.GovernanceModel` with ``seeds=``); the
seeds are the runner's replication seeds of the live run's seed, so every value sees the same seeds
(common random numbers) and the bands differ by the lever's effect.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import solara

from sim.metrics import SERIES_BY_NAME
from sim.model import GovernanceModel
from sim.runner import mean_ci, replication_seed
from sim.scenario import Scenario, ScenarioError, with_changes
from viz.charts import PALETTE
from viz.echart import EChart
from viz.i18n import series_label, t
from viz.levers import Lever, fmt, levers
from viz.vizmodel import VizModel

OUTCOMES = ("satisfaction", "trust", "backlog", "satisfaction_60plus", "resolved", "escalated")
MAX_VALUES = 4
MAX_REPLICATIONS = 10
CHUNK_DAYS = 10   # progress is reported every CHUNK_DAYS simulated days


@dataclass(frozen=True)
class Plan:
    lever: Lever
    values: tuple
    replications: int
    days: int
    scenario: Scenario
    seed: int


def parse_values(lever: Lever, text: str) -> tuple:
    """'0.2, 0.5' -> the lever's typed values; ScenarioError naming the lever and its range if not."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not 1 <= len(parts) <= MAX_VALUES:
        raise ScenarioError(f"{lever.path}: give 1 to {MAX_VALUES} values separated by commas, got {text!r}")
    out = []
    for p in parts:
        raw = p.strip().lower()
        if lever.kind == "bool":
            if raw not in ("true", "false", "on", "off", "1", "0"):
                raise ScenarioError(f"{lever.path}: {p.strip()!r} is not on/off")
            out.append(raw in ("true", "on", "1"))
            continue
        try:
            value = lever.coerce(raw)
        except (TypeError, ValueError):
            raise ScenarioError(f"{lever.path}: {p.strip()!r} is not a number") from None
        if (lever.lower is not None and value < lever.lower) or (lever.upper is not None and value > lever.upper):
            raise ScenarioError(f"{lever.path}: {fmt(value)} is out of range (allowed {fmt(lever.lower)} to "
                                f"{fmt(lever.upper)})")
        out.append(value)
    return tuple(out)


def run_plan(plan: Plan, on_progress, cancel: threading.Event) -> dict:
    """Run every value's replications; returns {value: daily frames of its runs}."""
    seeds = [replication_seed(plan.seed, r) for r in range(plan.replications)]
    out = {}
    total = len(plan.values) * plan.days
    done = 0
    for value in plan.values:
        model = GovernanceModel(with_changes(plan.scenario, {plan.lever.path: value}), seeds=seeds)
        while model.day < plan.days:
            if cancel.is_set():
                return out
            n = min(CHUNK_DAYS, plan.days - model.day)
            model.run_for(n)
            done += n
            on_progress(done / total)
        out[value] = [model.daily_frame(r) for r in range(model.n_runs)]
    return out


def bands(runs: list[pd.DataFrame], column: str) -> pd.DataFrame:
    """Per day: mean and 95% interval over the runs (the interval is NaN with one run)."""
    values = np.column_stack([r[column].to_numpy(dtype=float) for r in runs])
    stats = np.array([mean_ci(row) for row in values])
    return pd.DataFrame({"day": runs[0]["day"], "mean": stats[:, 0], "lo": stats[:, 1], "hi": stats[:, 2]})


def _values(series: pd.Series) -> list:
    return [None if v != v else v for v in np.round(series.to_numpy(dtype=float), 4).tolist()]


def bands_option(results: dict, lever: Lever, outcome: str, live: pd.DataFrame, x_max: int, lang: str) -> dict:
    """Mean lines and 95% bands per value. Days are categories: ECharts stacks the band (the lower
    edge, then the width filled) reliably only on a category axis."""
    series, legend = [], []
    for k, (value, runs) in enumerate(results.items()):
        colour = PALETTE[k % len(PALETTE)]
        b = bands(runs, outcome)
        name = f"{lever.label} = {fmt(value)}"
        legend.append(name)
        lo = b["lo"].fillna(b["mean"])
        width = b["hi"].fillna(b["mean"]) - lo
        series += [
            {"id": f"lo-{k}", "type": "line", "stack": f"band-{k}", "showSymbol": False, "silent": True,
             "lineStyle": {"opacity": 0}, "data": _values(lo), "tooltip": {"show": False}},
            {"id": f"band-{k}", "type": "line", "stack": f"band-{k}", "showSymbol": False, "silent": True,
             "lineStyle": {"opacity": 0}, "areaStyle": {"color": colour, "opacity": 0.25}, "data": _values(width),
             "tooltip": {"show": False}},
            {"id": f"mean-{k}", "name": name, "type": "line", "showSymbol": False,
             "lineStyle": {"color": colour, "width": 1.6}, "itemStyle": {"color": colour}, "data": _values(b["mean"])},
        ]
    live_name = t("with_changes", lang)
    legend.append(live_name)
    live_values = _values(live[outcome]) if outcome in live else []
    series.append({"id": "live", "name": live_name, "type": "line", "showSymbol": False,
                   "lineStyle": {"color": "#000", "width": 1.4, "type": "dashed"}, "itemStyle": {"color": "#000"},
                   "data": live_values})
    unit = SERIES_BY_NAME[outcome].unit
    return {"epoch": f"{lever.path}-{outcome}-{lang}-{len(results)}",
            "title": {"text": series_label(outcome, lang), "left": 4, "textStyle": {"fontSize": 12}},
            "legend": {"data": legend, "top": 18, "left": 4, "textStyle": {"fontSize": 10}, "type": "scroll"},
            "tooltip": {"trigger": "axis", "confine": True},
            "grid": {"left": 44, "right": 14, "top": 56, "bottom": 24},
            "xAxis": {"type": "category", "data": list(range(1, x_max + 1)), "boundaryGap": False,
                      "axisLabel": {"fontSize": 10, "interval": 49}},
            "yAxis": {"type": "value", "name": unit, "scale": True, "axisLabel": {"fontSize": 10}},
            "series": series}


@solara.component
def ExperimentPanel(model: VizModel, state):
    lang = state.lang.value
    choices = solara.use_memo(lambda: levers(model.base_scenario), [model])
    by_path = {lv.path: lv for lv in choices}
    path = solara.use_reactive(choices[0].path if choices else None)
    values_text = solara.use_reactive("")
    replications = solara.use_reactive(3)
    outcome = solara.use_reactive(OUTCOMES[0])
    error = solara.use_reactive(None)
    progress = solara.use_reactive(None)     # None: not running; else 0..1
    plan = solara.use_reactive(None)
    results = solara.use_reactive(None)      # (plan, {value: runs})

    lever = by_path.get(path.value)

    def start():
        try:
            values = parse_values(lever, values_text.value)
            reps = int(replications.value or 0)
            if not 1 <= reps <= MAX_REPLICATIONS:
                raise ScenarioError(f"replications must be 1 to {MAX_REPLICATIONS}, got {replications.value}")
        except ScenarioError as e:
            error.set(str(e))
            return
        error.set(None)
        with model.lock:
            scenario = model.params
        plan.set(Plan(lever, values, reps, model.steps_planned, scenario, model.seed))

    def work(cancel: threading.Event):
        p = plan.value
        if p is None:
            return
        progress.set(0.0)
        out = run_plan(p, progress.set, cancel)
        if not cancel.is_set():
            results.set((p, out))
        progress.set(None)

    solara.use_thread(work, dependencies=[plan.value], intrusive_cancel=False)

    with solara.Column(gap="4px", style="padding: 4px 8px", classes=["govsim-experiment"]):
        solara.Text(t("experiment", lang), style="font-weight: 500")
        solara.Text(t("experiment_note", lang), style="font-size: 11px; color: #666")
        with solara.Row(gap="6px", style="align-items: center; flex-wrap: wrap"):
            solara.v.Select(label=t("lever", lang), items=[{"text": f"{lv.group}: {lv.label}", "value": lv.path}
                                                           for lv in choices],
                            v_model=path.value, on_v_model=path.set, dense=True, hide_details=True,
                            style_="max-width: 260px", class_="govsim-exp-lever")
            hint = f"{fmt(lever.lower)}…{fmt(lever.upper)}" if lever is not None and lever.kind != "bool" else "on, off"
            solara.InputText(f"{t('values', lang)} ({hint})", value=values_text, style="max-width: 170px",
                             classes=["govsim-exp-values"])
            solara.InputInt(t("replications", lang), value=replications, style="max-width: 90px")
            solara.Button(t("run_experiment", lang), on_click=start, disabled=progress.value is not None,
                          color="primary", small=True, classes=["govsim-exp-run"])
        if error.value:
            solara.Error(error.value).key("exp-error")
        if progress.value is not None:
            solara.ProgressLinear(value=100 * progress.value, color="primary").key("exp-progress")
        if results.value is not None:
            p, out = results.value
            if out:
                solara.v.Select(label=t("outcome", lang), v_model=outcome.value, on_v_model=outcome.set, dense=True,
                                hide_details=True, style_="max-width: 240px",
                                items=[{"text": series_label(o, lang), "value": o} for o in OUTCOMES])
                state.tick.get()
                live, _ = model.frames()
                EChart(bands_option(out, p.lever, outcome.value, live, p.days, lang), height="260px",
                       classes=["govsim-exp-chart"])
