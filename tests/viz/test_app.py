"""No-browser tests of the govsim page (viz/app.py) and its components.

The page is rendered with ``solara.render`` inside ``solara.AppLayout`` (otherwise the sidebar's
portal has nowhere to go and its controls are not found; MESA_NOTES §4), and driven through its
widgets the way the browser would: clicking buttons, firing the slider's ``change`` event, typing in
a number field. Widgets are found by their ``.meta(ref=...)``.
"""

from __future__ import annotations

import html
import io
import threading
import time

import ipyvuetify as v
import ipywidgets
import numpy as np
import PIL.Image
import pytest
import solara

import viz.app as app
from sim.scenario import SCENARIO_DIR, ScenarioError, get_path, load_scenario, param_index, param_table
from viz import figures
from viz.components import ClickableImage
from viz.levers import LEVER_SECTIONS, lever_groups, levers, slider_step
from viz.vizmodel import AS_IN_FILE, DEFAULT_SCENARIO, VizModel, load_for_view, scenario_choices


# --------------------------------------------------------------------------------------------------
# helpers

@pytest.fixture
def page(monkeypatch, request):
    """``open(scenario_file) -> (render context, models)``: the page rendered in an AppLayout.

    ``models`` lists every VizModel the page built (the first one, then one per Reset).
    """
    return _page(monkeypatch, request)


@pytest.fixture
def fast_page(monkeypatch, request):
    """``page``, with the figures built but not encoded (PNG encoding is most of a redraw's time).

    For tests of the page's logic; tests of what is drawn use ``page``.
    """
    tiny = io.BytesIO()
    PIL.Image.new("RGB", (2, 2), "white").save(tiny, format="png")
    monkeypatch.setattr(figures, "png", lambda fig: tiny.getvalue())
    return _page(monkeypatch, request)


def _page(monkeypatch, request):
    models: list[VizModel] = []

    class Recorded(VizModel):
        # the same keyword-only signature: SolaraViz's Reset inspects it
        def __init__(self, *, scenario_file=DEFAULT_SCENARIO, seed=None, residents_per_grid=AS_IN_FILE):
            super().__init__(scenario_file=scenario_file, seed=seed, residents_per_grid=residents_per_grid)
            models.append(self)

    monkeypatch.setattr(app, "VizModel", Recorded)

    def open_(scenario_file):
        @solara.component
        def Root():
            with solara.AppLayout():
                app.Page(scenario_file=str(scenario_file))

        _box, rc = solara.render(Root(), handle_error=False)
        request.addfinalizer(rc.close)
        return rc, models

    return open_


def day_text(rc) -> str:
    return rc.find(meta_ref="day").widget.children[0]


def click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def advance(rc, model, days: int) -> None:
    """Many days at once: step the model directly, then one click on Step (which redraws the page)."""
    for _ in range(days - 1):
        model.step()
    click(rc, "Step")


def changes_text(rc) -> list[str]:
    return [w.children[0] for w in rc.find(meta_ref="change").widgets]


# --------------------------------------------------------------------------------------------------
# the controls come from the schema

def test_levers_are_the_schemas_policy_and_staffing_parameters():
    scenario = load_scenario("baseline.yaml")
    expected = {p.path: p for p in param_table(scenario) if p.path.startswith(LEVER_SECTIONS) and p.kind != "str"}
    got = {lv.path: lv for lv in levers(scenario)}
    assert got.keys() == expected.keys()
    for path, lever in got.items():
        info = expected[path]
        assert (lever.kind, lever.lower, lever.upper) == (info.kind, info.lower, info.upper)
    assert list(lever_groups(scenario))[0] == "Policy levers"


@pytest.mark.parametrize("lower, upper, value", [(0.0, 1.0, 0.3), (0.0, 100.0, 1.15), (0.05, 50.0, 2.0),
                                                 (0.0, 16.0, 8.0), (0.5, 30.0, 3.0)])
def test_slider_step_hits_the_current_value(lower, upper, value):
    step = slider_step("float", lower, upper, value)
    k = round((value - lower) / step)
    assert abs(lower + k * step - value) < 1e-9
    assert (upper - lower) / step <= 100_000
    assert slider_step("int", 2, 50, 3) == 1


def test_page_controls_have_the_schemas_bounds_and_the_scenarios_values(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    model = models[0]
    index = param_index(model.params)
    n_checked = 0
    for lever in levers(model.params):
        info = index[lever.path]
        if lever.kind == "bool":
            switch = rc.find(meta_ref=f"switch:{lever.path}").widget
            assert switch.v_model is get_path(model.params, lever.path)
        else:
            slider = rc.find(meta_ref=f"slider:{lever.path}").widget
            assert (slider.min, slider.max) == (info.lower, info.upper), lever.path
            field = rc.find(meta_ref=f"input:{lever.path}").widget
            assert float(field.v_model) == slider.v_model == get_path(model.params, lever.path)
        n_checked += 1
    assert n_checked == len(levers(model.params)) > 30
    # values are the loaded scenario's, not the schema defaults repeated somewhere
    staff = rc.find(meta_ref="slider:staffing.departments.housing_construction.staff_per_10k").widget
    assert staff.v_model == model.params.staffing.departments["housing_construction"].staff_per_10k


def test_scenario_picker_offers_the_shipped_scenarios_and_the_started_file(govsim_scenarios):
    choices = scenario_choices(govsim_scenarios["small"])
    assert choices[0] == str(govsim_scenarios["small"])
    assert DEFAULT_SCENARIO in choices and "staged_pilot.yaml" in choices
    params = app.model_params(str(govsim_scenarios["small"]), VizModel(scenario_file=str(govsim_scenarios["small"])))
    assert set(params) == {"scenario_file", "seed", "residents_per_grid"}
    assert params["seed"]["value"] == str(load_scenario(govsim_scenarios["small"]).run.seed)


# --------------------------------------------------------------------------------------------------
# the page builds, steps, takes lever changes, compares

def test_page_builds_and_step_advances_the_day(page, govsim_scenarios):
    rc, models = page(govsim_scenarios["small"])
    assert len(models) == 1 and models[0].n_residents == 1200
    assert day_text(rc) == "Day 0"
    click(rc, "Step")
    click(rc, "Step")
    assert models[0].day == 2 and day_text(rc) == "Day 2"
    # the main panel holds the community drawing (network: small community) and the five charts
    assert len(rc.find(ClickableImage).widgets) == 1
    charts = [w for w in rc.find(ipywidgets.Image).widgets if "govsim-chart" in " ".join(w._dom_classes)]
    assert len(charts) == 5 and all(len(w.value) > 1000 for w in charts)


def test_slider_change_reaches_the_model_and_is_logged(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    model = models[0]
    for _ in range(3):
        click(rc, "Step")
    slider = rc.find(meta_ref="slider:policies.share_joined").widget
    slider.v_model = 0.5
    slider.fire_event("change", 0.5)          # Vuetify's `change`: the slider was released
    assert model.params.policies.share_joined == 0.5
    assert model.departments.joined.sum() == round(0.5 * model.departments.per_run)
    assert model.changes_log[-1] == {"day": 3, "label": "share_joined=0.5", "communities": None}
    assert changes_text(rc) == ["from day 4: share_joined=0.5"]
    assert float(rc.find(meta_ref="input:policies.share_joined").widget.v_model) == 0.5
    click(rc, "Step")
    assert model.day == 4 and model.params.policies.share_joined == 0.5   # a step keeps it


def test_number_field_and_switch_reach_the_model(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    model = models[0]
    field = rc.find(meta_ref="input:staffing.departments.health.staff_per_10k").widget
    field.v_model = "2.5"
    field.fire_event("focusout")
    assert model.params.staffing.departments["health"].staff_per_10k == 2.5
    switch = rc.find(meta_ref="switch:policies.duplicate_merging").widget
    switch.v_model = True
    assert model.params.policies.duplicate_merging is True
    assert [e["label"] for e in model.changes_log] == ["health.staff_per_10k=2.5", "duplicate_merging=on"]


def test_controls_follow_a_change_from_the_scenarios_own_timeline(fast_page):
    """staged_pilot.yaml joins the platform on day 180: the controls then show it, and it is marked."""
    rc, models = fast_page("staged_pilot.yaml")
    model = models[0]
    advance(rc, model, 181)
    assert model.params.policies.share_joined == 1.0
    assert rc.find(meta_ref="slider:policies.share_joined").widget.v_model == 1.0
    assert rc.find(meta_ref="switch:policies.deadline_tracking").widget.v_model is True
    assert changes_text(rc) == ["from day 61: pilot in community 0", "from day 181: roll-out to all, platform joined"]


def test_an_out_of_range_value_is_refused_with_the_schemas_message(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    model = models[0]
    field = rc.find(meta_ref="input:policies.share_joined").widget
    field.v_model = "1.5"
    field.fire_event("focusout")
    assert model.params.policies.share_joined == 0.0 and model.changes_log == []
    error = rc.find(v.Alert).widget   # solara.Error
    assert "policies.share_joined = 1.5 is out of range (allowed 0.0 to 1.0)" in str(error.children)
    # the controls are rebuilt from the model's value
    assert rc.find(meta_ref="slider:policies.share_joined").widget.v_model == 0.0
    assert rc.find(meta_ref="input:policies.share_joined").widget.v_model == "0"
    # not a number: refused the same way
    field = rc.find(meta_ref="input:policies.early_warning_threshold").widget
    field.v_model = "three"
    field.fire_event("keyup.enter")
    assert "'three' is not a number" in str(rc.find(v.Alert).widget.children)
    assert rc.find(meta_ref="input:policies.early_warning_threshold").widget.v_model == "3"
    assert model.changes_log == []


def test_a_pilot_change_for_one_community(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    model = models[0]
    rc.find(v.Select, label="apply to").widget.v_model = "community 1"
    # a lever that cannot differ between communities is disabled for a pilot
    assert rc.find(meta_ref="slider:policies.share_joined").widget.disabled is True
    slider = rc.find(meta_ref="slider:policies.training_level").widget
    slider.fire_event("change", 1.0)
    assert model.local["policies.training_level"].tolist() == [model.params.policies.training_level, 1.0]
    assert model.changes_log[-1]["communities"] == [1]
    assert rc.find(meta_ref="slider:policies.training_level").widget.v_model == 1.0


def test_counterfactual_runs_in_lockstep_with_the_same_seed(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    model = models[0]
    advance(rc, model, 5)
    rc.find(meta_ref="compare").widget.v_model = True
    assert model.twin is not None and model.twin.day == 5 and model.twin.seed == model.seed
    frame, twin = model.frames()
    assert frame.equals(twin)                     # no change yet: the same run, day by day
    rc.find(meta_ref="slider:policies.share_joined").widget.fire_event("change", 1.0)
    rc.find(meta_ref="switch:policies.deadline_tracking").widget.v_model = True
    advance(rc, model, 25)
    frame, twin = model.frames()
    assert model.day == model.twin.day == 30
    assert frame.iloc[:5].equals(twin.iloc[:5])   # identical before the change
    assert not frame.iloc[5:].equals(twin.iloc[5:])
    assert twin["cost"].iloc[-1] < frame["cost"].iloc[-1]   # the platform costs money
    assert model.twin.params.policies.share_joined == 0.0
    # the sidebar's indicator table shows both runs
    assert "unchanged" in rc.find(meta_ref="today-table").widget.unsafe_innerHTML
    rc.find(meta_ref="compare").widget.v_model = False
    assert model.twin is None


def test_reset_rebuilds_from_the_reset_parameters(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["small"])
    for _ in range(2):
        click(rc, "Step")
    rc.find(v.Select, label="Residents per grid (on Reset)").widget.v_model = "50"
    seed = rc.find(v.TextField, label="Seed (on Reset)").widget
    seed.v_model = "7"
    seed.fire_event("focusout")
    click(rc, "Reset")
    assert len(models) == 2
    fresh = models[1]
    assert (fresh.day, fresh.seed, fresh.n_residents) == (0, 7, 8 * 50)
    assert day_text(rc) == "Day 0"
    click(rc, "Step")
    assert fresh.day == 1 and day_text(rc) == "Day 1"


def test_a_change_made_during_a_step_takes_effect_the_next_day(govsim_scenarios):
    """Play steps the model in a worker thread while lever events arrive on another: never mid-day."""
    model = VizModel(scenario_file=str(govsim_scenarios["small"]))
    in_step, seen = threading.Event(), []
    arise = model.arising.step

    def slow_arise(t):
        in_step.set()
        time.sleep(0.3)
        seen.append(model.params.policies.share_joined)   # the day's own phases see the old value
        arise(t)

    model.arising.step = slow_arise
    worker = threading.Thread(target=model.step)
    worker.start()
    assert in_step.wait(5)
    model.change({"policies.share_joined": 1.0})
    worker.join()
    assert seen == [0.0]
    assert model.changes_log[-1]["day"] == 1 and model.params.policies.share_joined == 1.0


def test_reset_with_a_bad_seed_keeps_the_page_and_says_why():
    model = VizModel(scenario_file="baseline.yaml", seed="twelve", residents_per_grid="50")
    assert model.seed == load_scenario("baseline.yaml").run.seed
    assert "seed must be a whole number" in model.notices[0]
    model = VizModel(scenario_file="no_such_file.yaml", residents_per_grid=AS_IN_FILE)
    assert "scenario file not found" in model.notices[0] and model.params.name == "baseline"


# --------------------------------------------------------------------------------------------------
# the community drawing and inspecting

def test_clicking_a_resident_in_the_network_shows_its_state(page, govsim_scenarios):
    rc, models = page(govsim_scenarios["small"])
    model = models[0]
    advance(rc, model, 10)
    image = rc.find(ClickableImage).widget
    assert image.src.startswith("data:image/png;base64,")
    # where resident 123 is drawn, as fractions of the image (y down), from the same layout
    lattice, w, h = figures.grid_lattice(model.n_communities, model.params.population.grids_per_community)
    pos = figures.network_positions(model.grid_of, lattice)
    fig = figures.network_figure(pos, model.adjacency, model.grid_of, model.satisfaction, np.array([], int),
                                 np.array([], int), model.old, size=figures.network_size(w, h))
    figures.png(fig)                              # drawing fixes the equal-aspect axes box
    x, y = fig.axes[0].transData.transform(pos[123])
    width, height = fig.get_size_inches() * fig.dpi
    image.vue_image_click({"x": x / width, "y": 1 - y / height})
    resident = rc.find(meta_ref="resident-state").widget
    assert "Resident 123" in resident.children[0]
    assert rc.find(meta_ref="grid-state").widget.children[0] == f"Grid {model.grid_of[123]}"
    # the state shown is the model's own account of the resident
    state = model.resident(123).state()
    table = rc.find(meta_ref="resident-table").widget.unsafe_innerHTML
    assert f"{state['grid']} / {state['building']}" in table and str(state["trust"]) in table


def test_large_community_gets_a_clickable_grid_map(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["large"])
    model = models[0]
    assert model.n_residents >= 10_000 and not model.network_view_possible
    assert rc.find(ClickableImage).widgets == []          # never the network at this size
    tiles = [b for b in rc.find(v.Btn).widgets if "govsim-tile" in (b.class_ or "")]
    assert len(tiles) == model.n_grids == 20
    advance(rc, model, 20)
    tiles = [b for b in rc.find(v.Btn).widgets if "govsim-tile" in (b.class_ or "")]
    backlog = model.grid_values("backlog")
    assert backlog.sum() > 0     # the tiles show today's backlog, not the first day's
    shown = [t.children[0].unsafe_innerHTML for t in tiles]
    assert shown == [f"<b>G{g}</b><br>{b:.0f}" for g, b in enumerate(backlog)]
    tiles[13].click()
    assert rc.find(meta_ref="grid-state").widget.children[0] == "Grid 13"
    # colouring can be switched; the tiles then show the grids' satisfaction
    rc.find(v.Select, label="colour by").widget.v_model = "satisfaction"
    tiles = [b for b in rc.find(v.Btn).widgets if "govsim-tile" in (b.class_ or "")]
    sat = model.grid_values("satisfaction")
    assert tiles[0].children[0].unsafe_innerHTML == f"<b>G0</b><br>{sat[0]:.3f}"


# --------------------------------------------------------------------------------------------------
# which scenario the page opens; a bad scenario file

def test_the_page_opens_the_scenario_named_by_govsim_scenario(monkeypatch, govsim_scenarios):
    monkeypatch.delenv(app.ENV_VAR, raising=False)
    assert app.scenario_from_env() == str((SCENARIO_DIR / DEFAULT_SCENARIO).resolve())
    monkeypatch.setenv(app.ENV_VAR, "staged_pilot")          # a shipped name, as `govsim run` takes it
    assert app.scenario_from_env() == str((SCENARIO_DIR / "staged_pilot.yaml").resolve())
    monkeypatch.setenv(app.ENV_VAR, str(govsim_scenarios["small"]))
    assert app.scenario_from_env() == str(govsim_scenarios["small"].resolve())
    monkeypatch.setenv(app.ENV_VAR, "no/such/file.yaml")     # left as is: the page shows "not found"
    assert app.scenario_from_env() == "no/such/file.yaml"


def test_a_missing_scenario_file_is_reported_on_the_page(fast_page):
    rc, models = fast_page("no/such/file.yaml")
    assert models == []
    text = html.unescape(rc.find(meta_ref="validation-message").widget.unsafe_innerHTML)
    assert text.startswith("scenario file not found: 'no/such/file.yaml' (shipped scenarios: ")


def test_bad_scenario_file_shows_the_validation_message(fast_page, govsim_scenarios):
    rc, models = fast_page(govsim_scenarios["bad"])
    assert models == []                                    # no model was started
    text = html.unescape(rc.find(meta_ref="validation-message").widget.unsafe_innerHTML)
    with pytest.raises(ScenarioError) as err:
        load_for_view(govsim_scenarios["bad"])
    assert text == str(err.value)
    assert "unknown key 'share_joind'; did you mean 'share_joined'?" in text
    assert "share_60plus = 1.5 is out of range" in text
    # the researcher can open a shipped scenario from there
    click(rc, "Open")
    assert len(models) == 1 and models[0].params.name == "baseline"
