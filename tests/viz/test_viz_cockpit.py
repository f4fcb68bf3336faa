"""No-browser tests of the cockpit's parts: labels from the declarations, the district map, sizing,
the charts' options, the experiment panel's input checks, and the page rendered and stepped."""

from __future__ import annotations

import numpy as np
import pytest

from sim.metrics import METRIC_BY_NAME, SERIES_BY_NAME
from sim.scenario import ScenarioError, load_scenario
from viz import charts, district
from viz.experiment import parse_values
from viz.i18n import fmt_metric, metric_label, series_label
from viz.levers import levers
from viz.vizmodel import VizModel, sized


def test_labels_come_from_the_declarations():
    for name in ("satisfaction", "gap_satisfaction_60plus", "total_cost"):
        assert metric_label(name, "zh") == METRIC_BY_NAME[name].label_zh
        assert metric_label(name, "en") == METRIC_BY_NAME[name].label
    assert series_label("backlog", "zh") == SERIES_BY_NAME["backlog"].label_zh
    option = charts.series_chart("mood_chart", VizModel().daily_frame(), None, [], 365, "zh", 0)
    assert [s["name"] for s in option["series"]] == [SERIES_BY_NAME[n].label_zh for n in charts.CHARTS["mood_chart"][0]]


def test_numbers_of_one_unit_read_alike():
    assert fmt_metric("within_deadline", 0.8, "en") == ("80.0%", "")
    assert fmt_metric("median_days", 3, "en") == ("3.0", "days")
    assert fmt_metric("satisfaction", 0.65, "zh") == ("0.650", "")
    assert fmt_metric("total_cost", float("nan"), "en")[0] == "–"


def test_sizes_give_more_grids_at_larger_sizes():
    base = load_scenario("baseline.yaml")
    big = load_scenario("baseline.yaml", sized(base, 100_000))
    p = big.population
    assert p.subdistricts * p.communities_per_subdistrict * p.grids_per_community == 100
    assert p.residents_per_grid * 100 == 100_000
    small = load_scenario("mixed_district.yaml", sized(load_scenario("mixed_district.yaml"), 8000))
    assert small.population.communities_per_subdistrict == 4   # the four kinds are kept


def test_map_has_a_polygon_per_grid_and_shows_differences_between_communities():
    model = VizModel(scenario_file="mixed_district.yaml", residents=8000)
    model.run_for(60)
    grids, comms = model.district()
    geo = district.district_geojson(model.base_scenario)
    assert [f["properties"]["name"] for f in geo["features"]] == [f"G{g}" for g in grids["grid"]]
    by_comm = grids.groupby("community")["share_60plus"].mean()
    assert by_comm.max() - by_comm.min() > 0.05   # the kinds differ, and the map can show it
    anchors = district.community_anchors(geo, grids["community"].to_numpy())
    option = district.map_option(grids, comms, anchors, "share_60plus", "en", selected=3, epoch=0)
    data = option["series"][0]["data"]
    assert len(data) == len(grids) and data[3]["itemStyle"]["borderWidth"] == 3
    assert len({round(d["value"], 3) for d in data}) > 1
    assert any(k in data[0]["head"] for k in ("old inner city", "commodity estate", "village"))
    rows = district.tooltip_rows("en")
    assert len(option["tipRows"]) == len(rows) == len(data[0]["figs"])
    assert {"satisfaction_60plus", "satisfaction_under60", "gap_satisfaction_60plus"} <= {c for _, c, _ in rows}
    for m in district.MEASURES:   # every measure is a column of the model's grid frame
        assert m.column in grids
        lo, hi = district._range(grids[m.column].to_numpy(dtype=float), m)
        assert hi > lo


def test_grid_frame_gaps_match_the_community_frame_in_a_one_grid_community():
    model = VizModel(scenario_file="baseline.yaml")
    model.run_for(90)
    grids = model.grid_frame()
    gap = grids["gap_satisfaction_60plus"].to_numpy()
    assert np.allclose(gap, grids["satisfaction_under60"] - grids["satisfaction_60plus"], equal_nan=True)
    assert np.allclose(grids["reported_gap_satisfaction"], grids["served_satisfaction"] - grids["satisfaction_all"],
                       equal_nan=True)


def test_empty_chart_has_the_planned_days_and_changes_are_numbered_marks():
    model = VizModel()
    empty = charts.series_chart("cases_chart", model.daily_frame(), None, [], model.steps_planned, "en", 0)
    assert empty["xAxis"]["min"] == 0 and empty["xAxis"]["max"] == model.steps_planned
    assert all(s["data"] == [] for s in empty["series"])
    model.run_for(5)
    model.change({"policies.share_joined": 0.5}, label="share_joined=0.5")
    model.run_for(5)
    model.set_counterfactual(True)
    frame, twin = model.frames()
    option = charts.series_chart("cases_chart", frame, twin, model.change_marks(), 365, "en", 0)
    marks = option["series"][0]["markLine"]["data"]
    assert marks == [{"xAxis": 5.5, "name": "#1"}]
    dashed = [s for s in option["series"] if s["id"].endswith("-unchanged")]
    assert len(dashed) == 4 and all(s["lineStyle"]["type"] == "dashed" for s in dashed)
    assert len(dashed[0]["data"]) == 10


def test_experiment_values_are_checked_against_the_schema():
    lever = next(lv for lv in levers(load_scenario("baseline.yaml")) if lv.path == "policies.share_joined")
    assert parse_values(lever, "0.2, 0.8") == (0.2, 0.8)
    with pytest.raises(ScenarioError, match="policies.share_joined.*out of range"):
        parse_values(lever, "0.2, 7")
    with pytest.raises(ScenarioError, match="not a number"):
        parse_values(lever, "a")


def test_experiment_runs_each_value_with_the_same_seeds_and_draws_bands():
    import threading

    from viz.experiment import Plan, bands, bands_option, run_plan
    model = VizModel()
    lever = next(lv for lv in levers(model.base_scenario) if lv.path == "policies.share_joined")
    plan = Plan(lever, (0.0, 1.0), 3, 20, model.params, model.seed)
    progress = []
    out = run_plan(plan, progress.append, threading.Event())
    assert list(out) == [0.0, 1.0] and all(len(runs) == 3 and len(runs[0]) == 20 for runs in out.values())
    assert progress[-1] == 1.0 and progress == sorted(progress)
    # common random numbers: the same seeds for every value, so day 1 (before the lever acts) agrees
    assert [r["new_problems"].iloc[0] for r in out[0.0]] == [r["new_problems"].iloc[0] for r in out[1.0]]
    b = bands(out[1.0], "satisfaction")
    assert (b["hi"] >= b["mean"]).all() and (b["mean"] >= b["lo"]).all()
    option = bands_option(out, lever, "satisfaction", model.daily_frame(), 20, "en")
    assert [s["id"] for s in option["series"]] == ["lo-0", "band-0", "mean-0", "lo-1", "band-1", "mean-1", "live"]


def test_bad_reset_choices_keep_the_page_alive_and_say_why():
    model = VizModel(scenario_file="no_such.yaml", seed="abc", residents="lots")
    assert model.scenario_file == "baseline.yaml"
    assert any("no_such.yaml" in n for n in model.notices) or any("not found" in n for n in model.notices)
    model = VizModel(seed="abc")
    assert model.seed == model.params.run.seed and "seed must be a whole number" in model.notices[0]


def test_a_pilot_change_is_labelled_with_its_community_and_the_twin_keeps_the_scenario():
    model = VizModel(scenario_file="mixed_district.yaml")
    model.run_for(3)
    model.set_counterfactual(True)
    model.change({"staffing.grid_workers_per_grid": 3.0}, [1], label="grid_workers_per_grid=3")
    model.run_for(2)
    assert model.change_marks() == [(3, "grid_workers_per_grid=3 in community 1")]
    assert model.twin.day == model.day == 5 and model.twin.changes_log == []
    grids = model.grid_frame()
    assert set(grids.loc[grids["community"] == 1, "grid_workers"]) != set(grids.loc[grids["community"] == 0, "grid_workers"])


def test_a_playing_chart_is_sent_only_its_new_days_and_a_new_structure_whole():
    from viz.echart import EChartWidget
    model = VizModel()
    sent = []

    def widget():
        w = EChartWidget()
        w.send = sent.append   # the browser's messages (no browser here)
        return w

    def cases(start=0):
        frame, twin = model.frames()
        return charts.series_chart("cases_chart", frame, twin, model.change_marks(), 365, "en", "e", start)

    def queues(start=0):
        frame, twin = model.frames()
        return charts.department_chart(frame, twin, model.departments.names, model.change_marks(), 365, "en", "e",
                                       start)

    w = widget()
    model.run_for(3)
    w.show(cases)   # the first option is sent whole
    assert w.full["seq"] == 2 and w.full["option"]["rows"] == 3 and not sent
    for days in (2, 1, 4):
        model.run_for(days)
        w.show(cases)
    w.show(cases)   # no new day: nothing sent
    updates = [m["args"][0] for m in sent]
    assert [(u["from"], u["rows"], u["seq"], u["option"]) for u in updates] == [(3, 5, 2, {}), (5, 6, 2, {}), (6, 10, 2, {})]
    # the days sent whole and in updates, together, are the chart's data as built whole (one code path)
    whole = {s["id"]: s["data"] for s in cases()["series"]}
    assert {i: w.full["option"]["series"][k]["data"] + sum((u["data"][i] for u in updates), [])
            for k, i in enumerate(whole)} == whole
    # a lever change adds a mark: the structure changed, so the option is sent whole again
    model.change({"policies.share_joined": 0.5}, label="share_joined=0.5")
    model.run_for(1)
    w.show(cases)
    assert len(sent) == 3 and w.full["seq"] == 3 and w.full["option"]["series"][0]["markLine"]["data"]
    # a heat map's colour range grows with its data: merged into the update, not a reason to resend all
    q = widget()
    q.show(queues)
    top = q.full["option"]["visualMap"]["max"]
    while q.full["option"]["visualMap"]["max"] == top and (not sent[3:] or sent[-1]["args"][0]["option"] == {}):
        model.run_for(5)
        q.show(queues)
        assert model.day < 200
    assert q.full["seq"] == 2 and sent[-1]["args"][0]["option"]["visualMap"]["max"] > top
    # an option without rows (the map) has its data replaced
    m = widget()
    m.show(lambda _start: {"epoch": "m", "series": [{"id": "grids", "data": [model.day]}]})
    model.run_for(1)
    m.show(lambda _start: {"epoch": "m", "series": [{"id": "grids", "data": [model.day]}]})
    assert sent[-1]["args"][0] == {"seq": 2, "from": None, "rows": None, "data": {"grids": [model.day]}, "option": {}}
    # the browser asks for the whole option: not when a newer one is on its way; else sent again
    w.vue_resync(2)
    assert w.full["seq"] == 3
    w.vue_resync(3)
    assert w.full["seq"] == 4 and w.full["option"] == cases()


def test_a_number_typed_into_a_lever_stays_in_its_field():
    """Enter applies the value, and the field and the slider then show it (they were set back to the
    old value once, and leaving the field then applied that old value as a second change)."""
    import ipyvuetify as v
    import solara

    from viz.app import Cockpit, resolve

    _box, rc = solara.render(solara.AppLayout(children=[Cockpit(resolve("baseline.yaml"))]),
                             handle_error=False)

    field = rc.find(v.TextField, class_="govsim-lever-value").widgets[0]   # the first lever: policies.share_joined
    assert field.v_model == "0"
    field.v_model = "0.5"   # typed in the browser
    field.fire_event("keyup.enter", {})
    assert field.v_model == "0.5" and rc.find(v.Slider, class_="govsim-lever-slider").widgets[0].v_model == 0.5
    field.fire_event("focusout", {})   # leaving the field applies nothing new
    texts = [w.children[0] for w in rc.find(v.Html, class_="govsim-change").widgets]
    assert len(texts) == 1 and "share_joined=0.5" in texts[0], texts
    rc.close()
