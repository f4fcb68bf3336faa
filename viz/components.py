"""Solara components of the page. Each reads the model it is given; none steps it.

The main-panel components are handed to SolaraViz (``components=[...]``), which calls them with the
current model. State shared between them (the selected grid and resident, the map colouring, the
counterfactual switch) lives in a :class:`ViewState` provided through a Solara context, so it survives
re-renders and is per browser session.

Redrawing after a step: SolaraViz bumps Mesa's ``update_counter`` after each step (or each
``render_interval`` steps when playing). The page's components read ``ViewState.tick`` instead, which
:func:`StepRelay` advances in one batch (see there why).
"""

from __future__ import annotations

import base64
import html
import threading
import time
from dataclasses import dataclass

import ipyvuetify as v
import numpy as np
import reacton.core
import solara
import traitlets
from mesa.visualization.utils import update_counter

from sim.metrics import METRIC_BY_NAME
from sim.scenario import ScenarioError, get_path
from viz import figures
from viz.levers import Lever, fmt, lever_groups
from viz.vizmodel import VizModel

MAX_TILES = 400          # above this many grids the map is an image (still clickable), not buttons
COLOUR_BY = ("backlog", "satisfaction", "trust")
ALL_COMMUNITIES = "all communities"
# Indicators shown as numbers beside the day counter (name in sim.metrics.METRICS).
TODAY_METRICS = ("satisfaction", "trust", "backlog", "within_deadline", "resolution_rate",
                 "reported_resolution_rate", "gap_satisfaction_60plus", "total_cost", "incidents")


@dataclass
class ViewState:
    selected_grid: solara.Reactive        # int | None
    selected_resident: solara.Reactive    # int | None
    colour_by: solara.Reactive            # one of COLOUR_BY
    drawing: solara.Reactive              # "network" | "grid map" | None (= automatic by size)
    compare: solara.Reactive              # bool: counterfactual twin on
    scope: solara.Reactive                # ALL_COMMUNITIES or "community k"
    lever_error: solara.Reactive          # str | None
    params_version: solara.Reactive       # (model id, number of changes): re-renders the lever panel
    lever_epoch: solara.Reactive          # bumped when a change is refused: rebuilds the controls
    tick: solara.Reactive                 # copy of Mesa's update_counter (see StepRelay)


view_context = solara.create_context(None)


def use_view_state() -> ViewState:
    """The ViewState of the page: create it (in the page component) with :func:`provide_view_state`."""
    state = solara.use_context(view_context)
    if state is None:   # a component rendered on its own (tests, notebooks): private state
        state = _new_view_state()
    return state


def _new_view_state() -> ViewState:
    return ViewState(
        selected_grid=solara.use_reactive(None), selected_resident=solara.use_reactive(None),
        colour_by=solara.use_reactive("backlog"), drawing=solara.use_reactive(None),
        compare=solara.use_reactive(False), scope=solara.use_reactive(ALL_COMMUNITIES),
        lever_error=solara.use_reactive(None), params_version=solara.use_reactive(None),
        tick=solara.use_reactive(0), lever_epoch=solara.use_reactive(0),
    )


def provide_view_state() -> ViewState:
    state = _new_view_state()
    view_context.provide(state)
    return state


def use_tick(state: ViewState | None = None) -> int:
    """Subscribe the calling component to 'the model stepped' (or to a lever change).

    Components in the sidebar are rendered by the layout, outside the page's context, so they pass the
    page's ViewState explicitly.
    """
    state = state or solara.use_context(view_context)
    return update_counter.value if state is None else state.tick.value


RENDER_WAIT_S = 5.0   # longest a step waits for the page to show the previous one


class _Drawn:
    """How far the page has drawn: the last redraw asked for and the last one finished."""

    def __init__(self, rc):
        self.rc = rc
        self.condition = threading.Condition()
        self.asked = self.drawn = 0

    def ask(self, tick: int) -> None:
        with self.condition:
            self.asked = max(self.asked, tick)

    def mark(self, tick: int) -> None:
        with self.condition:
            self.drawn = max(self.drawn, tick)
            self.condition.notify_all()

    def _other_thread_renders(self) -> bool:
        # reacton keeps no public flag for this; without one, only the first condition holds play back
        return (getattr(self.rc, "_is_rendering", False)
                and getattr(self.rc, "_lock_thread", None) not in (None, threading.current_thread()))

    def wait(self) -> None:
        """Block until the last redraw asked for is drawn and no other thread is rendering.

        At most RENDER_WAIT_S: a slow or closed page delays play, it never stops it.
        """
        deadline = time.monotonic() + RENDER_WAIT_S
        with self.condition:
            self.condition.wait_for(lambda: self.drawn >= self.asked, RENDER_WAIT_S)
        while self._other_thread_renders() and time.monotonic() < deadline:
            time.sleep(0.02)


def redraw(state: ViewState) -> None:
    """Redraw everything that shows the model (after a lever change, the counterfactual switch...)."""
    state.tick.set(state.tick.value + 1)


@solara.component
def StepRelay(state: ViewState, model: VizModel):
    """Turns Mesa's update_counter into one batched redraw of the page, and holds play back to it.

    - One batch: every component reading ``state.tick`` redraws in a single render pass (Mesa's counter
      gives each of its subscribers a pass of its own, each walking the whole page).
    - Backpressure: SolaraViz plays in a worker thread, and a browser event (a lever moved while
      playing) is handled, and may render, on another. A render loops while redraws are asked for, and
      the thread handling that event takes no further browser message (not even Pause) until its loop
      ends; the player asks for a redraw after every day, faster than a redraw takes. So before each day
      the model waits (``VizModel.before_step``, at most RENDER_WAIT_S) until the page has drawn the
      previous day and no other thread is rendering: the player then renders its own days.
    """
    rc = reacton.core.get_render_context()
    drawn = solara.use_memo(lambda: _Drawn(rc), [])
    tick = state.tick.value
    solara.use_effect(lambda: drawn.mark(tick), [tick])   # effects run once the pass is drawn

    def subscribe():
        def relay(_value):
            with rc:   # a batch: the components reading the tick re-render together
                target = state.tick.value + 1
                drawn.ask(target)
                state.tick.set(target)

        return update_counter.subscribe(relay)

    solara.use_effect(subscribe, [])

    def gate_steps():
        model.before_step = drawn.wait

        def cleanup():
            model.before_step = None

        return cleanup

    solara.use_effect(gate_steps, [model])


# ==================================================================================================
# A clickable image: reports where it was clicked as fractions of its displayed size

class ClickableImage(v.VuetifyTemplate):
    template = traitlets.Unicode("""
<template>
  <img :src="src" :alt="alt" class="govsim-clickable-image"
       style="width: 100%; height: auto; display: block; cursor: crosshair"
       @click="image_click({x: $event.offsetX / $event.target.clientWidth,
                            y: $event.offsetY / $event.target.clientHeight})" />
</template>
""").tag(sync=True)
    src = traitlets.Unicode("").tag(sync=True)
    alt = traitlets.Unicode("").tag(sync=True)
    click_handler = traitlets.Any(None, allow_none=True)   # python only: (x, y) fractions

    def vue_image_click(self, data):
        if self.click_handler is not None:
            self.click_handler(float(data["x"]), float(data["y"]))


ClickableImageElement = reacton.core.ComponentWidget(ClickableImage)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure_click_to_data(fig, ax):
    """A function mapping a click (fractions of the image, y down) to the axes' data coordinates."""
    w, h = fig.get_size_inches() * fig.dpi
    inverse = ax.transData.inverted().frozen()

    def to_data(fx: float, fy: float) -> tuple[float, float]:
        x, y = inverse.transform((fx * w, (1 - fy) * h))
        return float(x), float(y)

    return to_data


# ==================================================================================================
# Main panel: the community

@solara.component
def CommunityPanel(model: VizModel):
    """The community: residents' network (small communities) or the grid map (any size)."""
    use_tick()
    state = use_view_state()
    network_ok = model.network_view_possible
    drawing = state.drawing.value or ("network" if network_ok else "grid map")
    if drawing == "network" and not network_ok:
        drawing = "grid map"
    with solara.Column(gap="4px", style="padding: 4px 8px"):
        with solara.Row(gap="8px", style="align-items: center; flex-wrap: wrap"):
            solara.Text(f"Community · {model.n_residents:,} residents in {model.n_grids} grids "
                        f"({model.n_communities} communities)", style="font-weight: 500")
            solara.ToggleButtonsSingle(
                value=drawing, values=["network", "grid map"] if network_ok else ["grid map"],
                on_value=state.drawing.set, dense=True)
            if drawing == "grid map":
                solara.Select("colour by", values=list(COLOUR_BY), value=state.colour_by, dense=True,
                              style="max-width: 150px").key("colour-by")
        if drawing == "network":
            NetworkDrawing(model, state).key("network")
        else:
            GridMap(model, state).key("grid-map")


@solara.component
def NetworkDrawing(model: VizModel, state: ViewState):
    lattice, width, height = solara.use_memo(
        lambda: figures.grid_lattice(model.n_communities, model.params.population.grids_per_community), [model])
    pos = solara.use_memo(lambda: figures.network_positions(model.grid_of, lattice), [model])
    counter = use_tick(state)
    sel_r, sel_g = state.selected_resident.value, state.selected_grid.value

    def draw():
        filed, silent = model.open_case_residents()
        with model.lock:
            sat = model.satisfaction.copy()
        fig = figures.network_figure(pos, model.adjacency, model.grid_of, sat, filed, silent, model.old,
                                     sel_r, sel_g, size=figures.network_size(width, height))
        return figures.png(fig), _figure_click_to_data(fig, fig.axes[0]), len(filed), len(silent)

    png, to_data, n_open, n_silent = solara.use_memo(draw, [model, counter, sel_r, sel_g])

    def on_click(fx, fy):
        x, y = to_data(fx, fy)
        d2 = (pos[:, 0] - x) ** 2 + (pos[:, 1] - y) ** 2
        i = int(np.argmin(d2))
        if d2[i] <= 0.06 ** 2:
            state.selected_resident.set(i)
            state.selected_grid.set(int(model.grid_of[i]))
            return
        centres = lattice.astype(float)
        g = int(np.argmin((centres[:, 0] - x) ** 2 + (centres[:, 1] - y) ** 2))
        if (centres[g, 0] - x) ** 2 + (centres[g, 1] - y) ** 2 <= 0.5 ** 2:
            state.selected_grid.set(g)

    ClickableImageElement(src=data_url(png), click_handler=on_click,
                          alt=f"network of {model.n_residents} residents coloured by satisfaction")
    solara.Text(f"Click a resident or a grid to inspect it. {n_open} residents have an open case (black ring), "
                f"{n_silent} a problem not reported (grey ring); ■ aged 60+.",
                style="font-size: 12px; color: #555")


@solara.component
def GridMap(model: VizModel, state: ViewState):
    """Grids as tiles in community blocks, coloured by the chosen indicator; click a tile to inspect."""
    use_tick(state)   # reacton re-renders a child only when its arguments change: subscribe to steps
    kind = state.colour_by.value
    values = model.grid_values(kind)
    cols, lo, hi = figures.colours(values, kind)
    lattice, width, height = solara.use_memo(
        lambda: figures.grid_lattice(model.n_communities, model.params.population.grids_per_community), [model])
    selected = state.selected_grid.value
    _, what = figures.SCALES[kind]
    if model.n_grids > MAX_TILES:
        fig = figures.grid_map_figure(lattice, width, height, cols, selected, f"{what}: {lo:.3g} … {hi:.3g}")
        to_data = _figure_click_to_data(fig, fig.axes[0])

        def on_click(fx, fy):
            x, y = to_data(fx, fy)
            hit = np.flatnonzero((lattice[:, 0] == int(np.floor(x))) & (lattice[:, 1] == int(np.floor(y))))
            if hit.size:
                state.selected_grid.set(int(hit[0]))

        ClickableImageElement(src=data_url(figures.png(fig)), click_handler=on_click, alt=f"grid map by {kind}")
        return
    digits = 0 if kind == "backlog" else 3
    # Tiles share the panel's width; thin tracks separate the community blocks.
    gpc = model.params.population.grids_per_community
    _, bh = figures.block_shape(gpc)
    n_tile_rows = (height + 2) // (bh + 1) * bh
    row_px = int(np.clip(330 / max(n_tile_rows, 1), 22, 56))
    font = 11 if width < 12 else 9
    col_tracks, row_tracks = figures.lattice_tracks(gpc, width, height, "minmax(0, 64px)", "10px")
    with solara.Div(style=f"--govsim-row: {row_px}px; display: grid; grid-template-columns: {col_tracks}; "
                          f"grid-template-rows: {row_tracks}; gap: 3px; padding: 4px 0",
                    classes=["govsim-grid-map"]):
        for g in range(model.n_grids):
            c, r = lattice[g]
            colour = cols[g]
            border = "3px solid #1f4e9c" if g == selected else "1px solid rgba(0,0,0,0.15)"
            solara.Button(
                children=[solara.HTML(tag="div", unsafe_innerHTML=f"<b>G{g}</b><br>{values[g]:.{digits}f}",
                                      style="line-height: 1.15")],
                on_click=lambda g=g: state.selected_grid.set(g),
                color=colour, depressed=True, small=True,
                style=(f"grid-column: {c + 1}; grid-row: {r + 1}; min-width: 0; width: 100%; height: 100%; "
                       f"padding: 0 1px; font-size: {font}px; text-transform: none; letter-spacing: 0; "
                       f"color: {figures.text_colour(colour)}; border: {border}"),
                classes=["govsim-tile"],
            ).key(f"tile-{g}")
    solara.Text(f"Colour: {what}, from {lo:.{digits or 2}f} to {hi:.{digits or 2}f} "
                f"({'red = more' if kind == 'backlog' else 'red = lower, green = higher'}). "
                "Community blocks are separated by a gap. Click a grid to inspect it.",
                style="font-size: 12px; color: #555")


# ==================================================================================================
# Main panel: inspecting a grid or a resident

@solara.component
def InspectorPanel(model: VizModel):
    """The state of the selected grid and resident (click them in the drawing, or type a number)."""
    use_tick()
    state = use_view_state()
    g = state.selected_grid.value
    r = state.selected_resident.value
    if g is not None and not 0 <= g < model.n_grids:
        g = None
    if r is not None and not 0 <= r < model.n_residents:
        r = None

    def pick_open_case():
        filed, silent = model.open_case_residents()
        pool = filed if filed.size else silent
        if g is not None:
            pool = pool[model.grid_of[pool] == g]
        if pool.size:
            state.selected_resident.set(int(pool[0]))
            state.selected_grid.set(int(model.grid_of[pool[0]]))

    with solara.Column(gap="6px", style="padding: 4px 8px"):
        solara.Text("Inspect", style="font-weight: 500")
        with solara.Row(gap="8px", style="align-items: center"):
            solara.InputInt("grid", value=g, optional=True, dense=True, style="max-width: 90px",
                            on_value=lambda x: _select_grid(model, state, x))
            solara.InputInt("resident", value=r, optional=True, dense=True, style="max-width: 110px",
                            on_value=lambda x: _select_resident(model, state, x))
            solara.Button("a resident with an open case", on_click=pick_open_case, small=True, outlined=True)
        if g is None and r is None:
            solara.Text("Click a grid or a resident in the community drawing, or type its number.",
                        style="color: #555").key("hint")
        with solara.Row(gap="16px", style="align-items: flex-start; flex-wrap: wrap"):
            if g is not None:
                with solara.Column(gap="2px").key("grid"):
                    GridStateView(model.grid_info(g))
            if r is not None:
                with solara.Column(gap="2px").key("resident"):
                    ResidentStateView(model.resident_info(r))


def _select_grid(model, state, x):
    state.selected_grid.set(x if x is not None and 0 <= x < model.n_grids else None)


def _select_resident(model, state, x):
    if x is None or not 0 <= x < model.n_residents:
        state.selected_resident.set(None)
        return
    state.selected_resident.set(int(x))
    state.selected_grid.set(int(model.grid_of[int(x)]))


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='color:#555;padding-right:10px'>{html.escape(k)}</td>"
                    f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table style='font-size:13px;border-collapse:collapse'>{cells}</table>"


@solara.component
def GridStateView(info: dict):
    rows = [("community", str(info["community"])), ("residents", f"{info['residents']:,}"),
            ("grid workers", fmt(info["grid_workers"])), ("open cases", str(info["open_cases"])),
            ("problems not reported", str(info["unreported_problems"])),
            ("satisfaction", fmt(info["satisfaction"])), ("trust", fmt(info["trust"])),
            ("resolved so far", str(info["resolved"])), ("escalated so far", str(info["escalated"]))]
    solara.Text(f"Grid {info['grid']}", style="font-weight: 500; color: #1f4e9c").meta(ref="grid-state")
    solara.HTML(tag="div", unsafe_innerHTML=_table(rows), classes=["govsim-grid-state"]).meta(ref="grid-table")


@solara.component
def ResidentStateView(info: dict):
    rows = [("grid / building", f"{info['grid']} / {info['building']}"),
            ("aged 60+", "yes" if info["aged_60plus"] else "no"),
            ("satisfaction", fmt(info["satisfaction"])), ("trust", fmt(info["trust"])),
            ("can report by", ", ".join(c.replace("_", " ") for c in info["channels"]) or "no channel")]
    solara.Text(f"Resident {info['resident']}", style="font-weight: 500; color: #1f4e9c").meta(ref="resident-state")
    solara.HTML(tag="div", unsafe_innerHTML=_table(rows),
                classes=["govsim-resident-state"]).meta(ref="resident-table")
    cases = info["open_cases"]
    if not cases:
        solara.Text("No open problem.", style="font-size: 13px").key("no-cases")
        return
    head = "".join(f"<th style='text-align:left;padding-right:8px'>{h}</th>"
                   for h in ("problem", "status", "waiting", "channel", "department"))
    body = "".join(
        "<tr>" + "".join(f"<td style='padding-right:8px'>{html.escape(str(x))}</td>" for x in (
            c["category"].replace("_", " "), c["status"], f"{c['days_open']:g} days",
            c["channel"].replace("_", " "), (c["department"] or "–").replace("_", " "))) + "</tr>"
        for c in cases)
    solara.HTML(tag="div", unsafe_innerHTML=f"<table style='font-size:12px'><tr>{head}</tr>{body}</table>",
                classes=["govsim-open-cases"]).meta(ref="open-cases")


# ==================================================================================================
# Main panel: charts

def _chart(model: VizModel, draw, alt: str):
    counter = use_tick()

    def render():
        frame, twin = model.frames()
        return figures.png(draw(frame, twin, model.change_marks()))

    png = solara.use_memo(render, [model, counter])
    solara.Image(png, width="100%", classes=["govsim-chart", f"govsim-chart-{alt}"])


@solara.component
def FourEChart(model: VizModel):
    use_tick()
    _chart(model, figures.four_e_figure, "4e")


@solara.component
def DepartmentBacklogChart(model: VizModel):
    use_tick()
    _chart(model, lambda f, t, m: figures.department_backlog_figure(f, t, m, model.dept_names), "departments")


@solara.component
def EscalationsChart(model: VizModel):
    use_tick()
    _chart(model, figures.escalations_figure, "escalations")


@solara.component
def SatisfactionByAgeChart(model: VizModel):
    use_tick()
    _chart(model, figures.satisfaction_age_figure, "age")


@solara.component
def ReportedVsTrueChart(model: VizModel):
    use_tick()
    _chart(model, figures.reported_true_figure, "assessment")


MAIN_COMPONENTS = (CommunityPanel, InspectorPanel, FourEChart, DepartmentBacklogChart, EscalationsChart,
                   SatisfactionByAgeChart, ReportedVsTrueChart)


# ==================================================================================================
# Sidebar: today, the counterfactual, the levers, the changes made

@solara.component
def LiveControls(model: VizModel, state: ViewState):
    """Sidebar cards: the day, the counterfactual switch, the levers and the changes made.

    Only the small cards redraw at every step; the lever panel (dozens of widgets) re-renders only when
    a parameter changed (``ViewState.params_version``). Rendered through the sidebar portal, outside the
    page's context: hence ``state`` is passed in.
    """

    def sync_twin():   # a Reset builds a new model: start its twin if the switch is on
        if state.compare.value and model.twin is None:
            model.set_counterfactual(True)
            redraw(state)

    solara.use_effect(sync_twin, [model])
    with solara.Card("Today", margin=0, classes=["govsim-today"]):
        TodayCard(model, state)
    with solara.Card("Levers", subtitle="A change takes effect from the next day.", margin=0,
                     classes=["govsim-levers"]):
        LeverPanel(model, state)
    with solara.Card("Changes made", margin=0, classes=["govsim-changes"]):
        ChangesList(model, state)


@solara.component
def TodayCard(model: VizModel, state: ViewState):
    use_tick(state)
    n_changes = len(model.changes_log)

    def note_params_changed():   # e.g. a change from the scenario's own timeline, made during a step
        if state.params_version.value != (id(model), n_changes):
            state.params_version.set((id(model), n_changes))

    solara.use_effect(note_params_changed, [model, n_changes])

    def toggle_compare(on: bool):
        state.compare.set(on)
        model.set_counterfactual(on)
        redraw(state)

    solara.Text(f"Day {model.day}", classes=["govsim-day"], style="font-size: 20px; font-weight: 500").meta(ref="day")
    solara.Text(f" of {model.steps_planned} planned · scenario {model.params.name} · seed {model.seed}",
                style="color: #555")
    for k, notice in enumerate(model.notices):
        solara.Error(notice).key(f"notice-{k}")
    solara.v.Switch(label="Compare with the unchanged scenario (same seed)", v_model=state.compare.value,
                    on_v_model=toggle_compare, hide_details=True, class_="govsim-compare").meta(ref="compare")
    TodayTable(model, state)


@solara.component
def ChangesList(model: VizModel, state: ViewState):
    use_tick(state)
    marks = model.change_marks()
    if not marks:
        solara.Text("None yet. Move a lever: the change is applied from the next day and marked on the charts.",
                    style="color: #555").key("none")
    for day, label in marks:
        solara.Text(f"from day {day + 1}: {label}", classes=["govsim-change"],
                    style="font-size: 13px").key(f"change-{day}").meta(ref="change")


@solara.component
def TodayTable(model: VizModel, state: ViewState):
    use_tick(state)
    with model.lock:
        now = model.summary()
        then = model.twin.summary() if model.twin is not None else None
    head = "<th></th><th style='text-align:right'>now</th>" + (
        "<th style='text-align:right;padding-left:8px'>unchanged</th>" if then else "")
    rows = []
    for name in TODAY_METRICS:
        m = METRIC_BY_NAME[name]
        cells = f"<td style='text-align:right'>{fmt(now[name])}</td>"
        if then:
            cells += f"<td style='text-align:right;padding-left:8px;color:#666'>{fmt(then[name])}</td>"
        rows.append(f"<tr><td title='{html.escape(m.unit)}' style='padding-right:8px'>{html.escape(m.label)}</td>"
                    f"{cells}</tr>")
    solara.HTML(tag="div", unsafe_innerHTML=f"<table style='font-size:12px'><tr>{head}</tr>{''.join(rows)}</table>",
                classes=["govsim-today-table"]).meta(ref="today-table")


def _short(path: str) -> str:
    for prefix in ("staffing.departments.", "policies.", "staffing."):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


@solara.component
def LeverPanel(model: VizModel, state: ViewState):
    groups = solara.use_memo(lambda: lever_groups(model.base_scenario), [model])
    state.params_version.get()   # re-render when a parameter changed
    scope = state.scope.value
    epoch = state.lever_epoch.value
    community = None if scope == ALL_COMMUNITIES else int(scope.split()[-1])
    if community is not None and community >= model.n_communities:
        community = None

    def current(lever: Lever):
        if community is not None and lever.local:
            return lever.coerce(model.local[lever.path][community].item())
        return get_path(model.params, lever.path)

    def change(lever: Lever, raw):
        try:
            value = lever.coerce(raw)
        except (TypeError, ValueError):
            state.lever_error.set(f"{lever.path}: {raw!r} is not a number")
            state.lever_epoch.set(state.lever_epoch.value + 1)   # show the model's value again
            return
        if value == current(lever):
            return
        communities = [community] if (community is not None and lever.local) else None
        try:
            model.change({lever.path: value}, communities, label=f"{_short(lever.path)}={fmt(value)}")
        except ScenarioError as e:
            state.lever_error.set(str(e))
            # the control moved but the model refused: rebuild the controls from the model's values
            state.lever_epoch.set(state.lever_epoch.value + 1)
            return
        state.lever_error.set(None)
        redraw(state)

    choices = [ALL_COMMUNITIES] + [f"community {k}" for k in range(model.n_communities)]
    solara.Select("apply to", values=choices, value=scope if community is not None else ALL_COMMUNITIES,
                  on_value=state.scope.set, dense=True)
    if community is not None:
        solara.Text("Only grid staffing, patrol, training, elder-friendly service, app-first and "
                    "whistle-and-report can differ between communities.",
                    style="font-size: 12px; color: #555").key("pilot-note")
    if state.lever_error.value:
        solara.Error(state.lever_error.value).key("lever-error")
    # Keys: the list above the groups changes with the scope; without them reacton would match controls
    # by position and hand one lever's widget to another.
    for k, (group, items) in enumerate(groups.items()):
        title = f"{group} · {items[0].group_zh}" if items and items[0].group_zh else group
        with solara.Details(title, expand=(k == 0)).key(f"group:{group}"):
            for lever in items:
                disabled = community is not None and not lever.local
                LeverControl(lever, current(lever), disabled, change).key(f"lever:{lever.path}:{epoch}")


def css_class(path: str) -> str:
    """A CSS class naming a lever, e.g. lever-policies-share_joined (for browser tests and styling)."""
    return "lever-" + path.replace(".", "-")


@solara.component
def LeverControl(lever: Lever, value, disabled: bool, on_change):
    """A switch for a bool, a slider plus a number field for a number; bounds from the schema."""
    if lever.kind == "bool":
        # A plain Vuetify switch whose value is the model's (solara.Switch keeps a copy of its own, and
        # a toggle arriving while the player thread redraws could be dropped between the two).
        with solara.Tooltip(lever.tooltip):
            solara.v.Switch(label=f"{lever.label} {lever.label_zh}".strip(), v_model=bool(value), on_v_model=lambda x: on_change(lever, x),
                            disabled=disabled, class_=f"govsim-lever {css_class(lever.path)}",
                            hide_details=True, dense=True).meta(ref=f"switch:{lever.path}")
        return
    unit = f" ({lever.info.unit})" if lever.info.unit and not lever.unit_in_group else ""
    with solara.Column(gap="0px", classes=["govsim-lever", css_class(lever.path)]):
        with solara.Row(gap="6px", style="align-items: center; justify-content: space-between"):
            with solara.Tooltip(lever.tooltip):
                with solara.Column(gap="0px"):
                    solara.Text(f"{lever.label}{unit}", style="font-size: 13px")
                    if lever.label_zh:
                        solara.Text(lever.label_zh, style="font-size: 12px; color: #666")
            LeverField(lever, value, disabled, on_change)
        LeverSlider(lever, value, disabled, on_change)


@solara.component
def LeverField(lever: Lever, value, disabled: bool, on_change):
    """A number field applied on Enter or when it loses focus; it shows the model's value otherwise."""
    field = solara.v.TextField(v_model=fmt_input(value), dense=True, hide_details=True, disabled=disabled,
                               style_="max-width: 84px", class_="govsim-lever-value").meta(ref=f"input:{lever.path}")

    def commit(widget, _event, _data):
        on_change(lever, widget.v_model)

    solara.v.use_event(field, "keyup.enter", commit)
    solara.v.use_event(field, "focusout", commit)
    return field


def fmt_input(value) -> str:
    return str(int(value)) if isinstance(value, int) else f"{value:.10g}"


@solara.component
def LeverSlider(lever: Lever, value, disabled: bool, on_change):
    """A slider that applies its value when released (Vuetify's ``change``), not at every pixel of a drag.

    Applying while dragging would log a change and redraw every chart many times a second.
    """
    slider = solara.v.Slider(v_model=value, min=lever.lower, max=lever.upper, step=lever.step(value),
                             thumb_label=True, dense=True, hide_details=True, disabled=disabled,
                             class_="govsim-lever-slider").meta(ref=f"slider:{lever.path}")
    solara.v.use_event(slider, "change", lambda _widget, _event, data: on_change(lever, data))
    return slider
