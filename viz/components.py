"""Solara components of the cockpit. Each reads the model it is given; only the player steps it.

State shared between components (language, selected grid, map colouring, the counterfactual switch,
play) lives in a :class:`ViewState` created by the page and passed down. Everything that shows the
model reads ``state.tick``, which the player (or a lever change) advances once per drawing, so one
render pass redraws the whole page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import reacton.core
import solara

from sim.metrics import METRIC_BY_NAME
from sim.scenario import ScenarioError, department_label, get_path
from viz import charts, district
from viz.echart import EChartElement
from viz.i18n import e_label, fmt_metric, fmt_value, metric_label, t
from viz.levers import Lever, fmt, lever_groups
from viz.vizmodel import VizModel

# The 4E headline of the cockpit: two declared metrics per E (names in sim.metrics.METRICS).
HEADLINE = (("Economy", ("total_cost", "cost_per_resolved")),
            ("Efficiency", ("median_days", "within_deadline")),
            ("Effectiveness", ("satisfaction", "resolution_rate_all")),
            ("Equity", ("gap_satisfaction_60plus", "gini_grid_satisfaction")))
ALL_COMMUNITIES = "all"


@dataclass
class ViewState:
    lang: solara.Reactive                 # "zh" | "en"
    tick: solara.Reactive                 # advanced once per drawing
    playing: solara.Reactive              # bool
    speed: solara.Reactive                # days per second (0 = as fast as the model steps)
    selected_grid: solara.Reactive        # int | None
    selected_resident: solara.Reactive    # int | None
    measure: solara.Reactive              # a district.MEASURES column
    compare: solara.Reactive              # bool: counterfactual twin on
    scope: solara.Reactive                # ALL_COMMUNITIES or a community index as str
    lever_error: solara.Reactive          # str | None
    lever_epoch: solara.Reactive          # bumped when a change is refused: rebuilds the controls
    n_changes: solara.Reactive = None     # changes made so far: re-renders the lever panel (not every day)
    render_context: object = None         # the page's reacton render context (batches a redraw)
    live: dict = None                     # key -> update(): redraws one widget in place while playing


def use_view_state(lang: str) -> ViewState:
    # The tick and the change count are stores of their own (solara.reactive), not state of the page
    # component (solara.use_reactive): setting them re-renders only the components that read them,
    # not the whole page with its dozens of lever widgets.
    tick = solara.use_memo(lambda: solara.reactive(0), [])
    n_changes = solara.use_memo(lambda: solara.reactive(0), [])
    return ViewState(
        lang=solara.use_reactive(lang), tick=tick, playing=solara.use_reactive(False),
        speed=solara.use_reactive(10), selected_grid=solara.use_reactive(None),
        selected_resident=solara.use_reactive(None), measure=solara.use_reactive(district.DEFAULT_MEASURE),
        compare=solara.use_reactive(False), scope=solara.use_reactive(ALL_COMMUNITIES),
        lever_error=solara.use_reactive(None), lever_epoch=solara.use_reactive(0),
        n_changes=n_changes, render_context=reacton.core.get_render_context(),
        live=solara.use_memo(dict, []))


def redraw(state: ViewState, model: VizModel | None = None) -> None:
    """Redraw everything that shows the model (after a day, a lever change, the counterfactual switch).

    In one batch: every component reading the tick re-renders in a single pass (a reactive's
    subscribers are otherwise rendered one pass each, each pass walking the whole page).
    """
    def bump():
        state.tick.set(state.tick.value + 1)
        if model is not None:
            state.n_changes.set(len(model.changes_log))

    rc = state.render_context
    if rc is None:
        bump()
        return
    with rc:
        bump()


def redraw_live(state: ViewState) -> None:
    """Redraw, while playing, what shows the day: the headline, the map and the charts, by updating
    their widgets directly (no render pass over the page's hundreds of widgets); a chart is sent only
    its new days (``EChartWidget.show``). The rest (inspector, lever panel, changes list) follows at
    the next full redraw (pause, step, a change)."""
    for update in list(state.live.values()):
        update()


def use_live(state: ViewState, key: str, element, update, dependencies: list) -> None:
    """Register ``update(widget)`` as the live redraw of `element`'s widget (see redraw_live)."""
    def register():
        widget = solara.get_widget(element)

        def draw():
            update(widget)

        state.live[key] = draw
        return lambda: state.live.pop(key, None) if state.live.get(key) is draw else None

    solara.use_effect(register, dependencies)


# ==================================================================================================
# The headline: the day and the 4E numbers, with the unchanged scenario beside them

def headline_html(model: VizModel, lang: str) -> str:
    """The day and the 4E headline numbers (the unchanged scenario's beside them) as HTML."""
    now, then = model.summaries_now()
    parts = [f"<div class='govsim-day-box'><div class='govsim-day'>"
             f"{html.escape((t('day', lang) + ' ' + str(model.day) + ' ' + t('day_suffix', lang)).strip())}</div>"
             f"<div class='govsim-of-days'>{html.escape(t('of_days', lang, n=model.steps_planned))}</div></div>"]
    for e, names in HEADLINE:
        cells = []
        for name in names:
            value, unit = fmt_metric(name, now[name], lang)
            m = METRIC_BY_NAME[name]
            other = ""
            if then is not None:
                ov, _ = fmt_metric(name, then[name], lang)
                other = f"<span class='govsim-unchanged'>{html.escape(t('unchanged', lang))} {ov}</span>"
            cells.append(f"<div class='govsim-kpi' title='{html.escape(f'{m.description} ({m.unit})')}'>"
                         f"<div class='govsim-kpi-label'>{html.escape(metric_label(name, lang))}</div>"
                         f"<div><span class='govsim-kpi-value' data-metric='{name}'>{value}</span>"
                         f"<span class='govsim-kpi-unit'> {html.escape(unit)}</span> {other}</div></div>")
        parts.append(f"<div class='govsim-e-card'><div class='govsim-e'>{html.escape(e_label(e, lang))}</div>"
                     + "".join(cells) + "</div>")
    return "".join(parts)


@solara.component
def Headline(model: VizModel, state: ViewState):
    state.tick.get()
    lang = state.lang.value
    el = solara.HTML(tag="div", unsafe_innerHTML=headline_html(model, lang), classes=["govsim-headline"])
    use_live(state, "headline", el, lambda w: setattr(w, "unsafe_innerHTML", headline_html(model, lang)),
             [model, lang])


# ==================================================================================================
# The map

@solara.component
def MapPanel(model: VizModel, state: ViewState, height: str = "430px"):
    tick = state.tick.get()
    lang = state.lang.value
    measure = state.measure.value
    grid_community = solara.use_memo(lambda: model.grid_frame()["community"].to_numpy(), [model])
    geo = solara.use_memo(lambda: district.district_geojson(model.base_scenario), [model])
    anchors = solara.use_memo(lambda: district.community_anchors(geo, grid_community), [model])

    def option():
        grids, comms = model.district()
        return district.map_option(grids, comms, anchors, measure, lang, state.selected_grid.value,
                                   epoch=f"{id(model)}-{lang}-{measure}")

    opt = solara.use_memo(option, [model, tick, lang, measure, state.selected_grid.value])

    def on_click(item):
        if item.get("value") is not None:
            state.selected_grid.set(int(item["value"]))

    with solara.Column(gap="2px", classes=["govsim-map"]):
        with solara.Row(gap="8px", style="align-items: center; flex-wrap: nowrap"):
            solara.Text(f"{t('map', lang)} · {model.n_residents:,} {t('residents', lang)}, "
                        f"{model.layout.n_communities} {t('communities', lang)}, {model.layout.n_grids} {t('grids', lang)}",
                        style="font-weight: 500; font-size: 13px; white-space: nowrap")
            solara.v.Select(label=t("colour_by", lang), v_model=measure, dense=True, hide_details=True,
                            items=[{"text": m.label(lang), "value": m.column} for m in district.MEASURES],
                            on_v_model=state.measure.set, style_="max-width: 300px; font-size: 12px",
                            class_="govsim-measure")
        with solara.Div(classes=["govsim-chart", "govsim-map-chart"]):
            el = EChartElement(option=opt, maps={district.MAP_NAME: geo}, height=height, on_click=on_click)
        use_live(state, "map", el, lambda w: w.show(lambda _start: option()),   # no rows: its data is replaced
                 [model, lang, measure, state.selected_grid.value])
        solara.Text(t("map_hint", lang), style="font-size: 11px; color: #666")


# ==================================================================================================
# Charts

@solara.component
def SeriesChart(model: VizModel, state: ViewState, key: str, height: str = "210px"):
    tick = state.tick.get()
    lang = state.lang.value

    def option(start: int = 0):   # the data of the days from `start` on (see charts)
        frame, twin = model.frames()
        x_max = max(model.steps_planned, model.day)
        epoch = f"{id(model)}-{lang}-{twin is not None}"
        if key == "dept_chart":
            specs = model.params.staffing.departments
            labels = [department_label(n, specs.get(n), lang) for n in model.departments.names]
            return charts.department_chart(frame, twin, model.departments.names, model.change_marks(), x_max, lang,
                                           epoch, start, labels=labels)
        return charts.series_chart(key, frame, twin, model.change_marks(), x_max, lang, epoch, start)

    opt = solara.use_memo(option, [model, tick, lang])
    with solara.Div(classes=["govsim-chart", f"govsim-chart-{key}"]):
        el = EChartElement(option=opt, height=height)
    use_live(state, key, el, lambda w: w.show(option), [model, lang, key])


# ==================================================================================================
# Inspecting a grid or a resident

@solara.component
def InspectorPanel(model: VizModel, state: ViewState):
    state.tick.get()
    lang = state.lang.value
    g = state.selected_grid.value
    r = state.selected_resident.value
    if g is not None and not 0 <= g < model.layout.n_grids:
        g = None
    if r is not None and not 0 <= r < model.n_residents:
        r = None
    with solara.Column(gap="6px", style="padding: 4px 8px", classes=["govsim-inspector"]):
        solara.Text(t("inspect", lang), style="font-weight: 500")
        with solara.Row(gap="8px", style="align-items: center"):
            solara.InputInt(t("grid", lang), value=g, optional=True, dense=True, style="max-width: 90px",
                            on_value=lambda x: state.selected_grid.set(
                                x if x is not None and 0 <= x < model.layout.n_grids else None))
            solara.InputInt(t("resident", lang), value=r, optional=True, dense=True, style="max-width: 110px",
                            on_value=lambda x: state.selected_resident.set(
                                x if x is not None and 0 <= x < model.n_residents else None))
        if g is None and r is None:
            solara.Text(t("inspect_hint", lang), style="color: #555").key("hint")
        with solara.Row(gap="16px", style="align-items: flex-start; flex-wrap: wrap"):
            if g is not None:
                with solara.Column(gap="2px").key("grid"):
                    GridStateView(model, g, lang)
            if r is not None:
                with solara.Column(gap="2px").key("resident"):
                    ResidentStateView(model.resident_info(r), lang)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='color:#555;padding-right:10px'>{html.escape(k)}</td>"
                    f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table style='font-size:13px;border-collapse:collapse'>{cells}</table>"


@solara.component
def GridStateView(model: VizModel, grid: int, lang: str):
    """A grid's figures: the map's tooltip, plus what its grid workers see today."""
    info = model.grid_info(grid)
    grids, comms = model.district()
    row = grids.iloc[grid].to_dict()
    comm = comms.set_index("community").loc[row["community"]].to_dict() | {"community": row["community"]}
    solara.Text(f"{t('grid', lang)} G{grid}", style="font-weight: 500; color: #1f4e9c").meta(ref="grid-state")
    solara.HTML(tag="div", unsafe_innerHTML=district.tooltip(row, comm, lang), classes=["govsim-grid-state"])
    rows = [("grid workers", fmt(info["grid_workers"])), ("open cases", str(info["open_cases"])),
            ("problems not reported", str(info["unreported_problems"]))]
    solara.HTML(tag="div", unsafe_innerHTML=_table(rows), classes=["govsim-grid-today"])


@solara.component
def ResidentStateView(info: dict, lang: str):
    rows = [("grid / building", f"{info['grid']} / {info['building']}"),
            (t("aged_60plus", lang), t("yes", lang) if info["aged_60plus"] else t("no", lang)),
            (metric_label("satisfaction", lang), fmt_value(info["satisfaction"], "0–1")),
            (metric_label("trust", lang), fmt_value(info["trust"], "0–1")),
            ("can report by", ", ".join(c.replace("_", " ") for c in info["channels"]) or "no channel")]
    solara.Text(f"{t('resident', lang)} {info['resident']}", style="font-weight: 500; color: #1f4e9c")
    solara.HTML(tag="div", unsafe_innerHTML=_table(rows), classes=["govsim-resident-state"])
    cases = info["open_cases"]
    if not cases:
        return
    head = "".join(f"<th style='text-align:left;padding-right:8px'>{h}</th>"
                   for h in ("problem", "status", "waiting", "channel", "department"))
    body = "".join(
        "<tr>" + "".join(f"<td style='padding-right:8px'>{html.escape(str(x))}</td>" for x in (
            c["category"].replace("_", " "), c["status"], f"{c['days_open']:g} days",
            c["channel"].replace("_", " "), (c["department"] or "–").replace("_", " "))) + "</tr>"
        for c in cases)
    solara.HTML(tag="div", unsafe_innerHTML=f"<table style='font-size:12px'><tr>{head}</tr>{body}</table>",
                classes=["govsim-open-cases"])


# ==================================================================================================
# Sidebar: the counterfactual, the levers and the changes made

@solara.component
def CompareSwitch(model: VizModel, state: ViewState):
    def toggle(on: bool):
        state.compare.set(on)
        model.set_counterfactual(on)
        redraw(state)

    solara.v.Switch(label=t("compare", state.lang.value), v_model=state.compare.value, on_v_model=toggle,
                    hide_details=True, dense=True, class_="govsim-compare")


@solara.component
def ChangesList(model: VizModel, state: ViewState):
    state.tick.get()
    lang = state.lang.value
    marks = model.change_marks()
    if not marks:
        solara.Text(t("no_changes", lang), style="color: #555; font-size: 12px").key("none")
    for k, (day, label) in enumerate(marks):
        solara.Text(f"#{k + 1} {t('from_day', lang, d=day + 1)}: {label}", classes=["govsim-change"],
                    style="font-size: 12px").key(f"change-{day}")


def _short(path: str) -> str:
    for prefix in ("staffing.departments.", "policies.", "staffing."):
        if path.startswith(prefix):
            return path[len(prefix):]
    return path


@solara.component
def LeverSection(model: VizModel, state: ViewState):
    """The levers, re-rendered only when a parameter changed (not at every day: dozens of widgets)."""
    LeverPanel(model, state, state.n_changes.value, state.lang.value)


@solara.component
def LeverPanel(model: VizModel, state: ViewState, n_changes: int, lang: str):
    groups = solara.use_memo(lambda: lever_groups(model.base_scenario), [model])
    names = solara.use_memo(lambda: model.community_frame()["name"].tolist(), [model])
    scope = state.scope.value
    epoch = state.lever_epoch.value
    community = None if scope == ALL_COMMUNITIES else int(scope)
    if community is not None and community >= len(names):
        community = None

    def current(lever: Lever):
        if community is not None and lever.local:
            return lever.coerce(model.levers.local[lever.path][community].item())
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
        redraw(state, model)

    items = [{"text": t("all_communities", lang), "value": ALL_COMMUNITIES}] + [
        {"text": f"{t('community', lang)} {k} · {name}", "value": str(k)} for k, name in enumerate(names)]
    solara.v.Select(label=t("apply_to", lang), items=items, v_model=scope if community is not None else ALL_COMMUNITIES,
                    on_v_model=state.scope.set, dense=True, hide_details=True, class_="govsim-scope")
    if community is not None:
        solara.Text("Only grid staffing, patrol, training, elder-friendly service, app-first and "
                    "whistle-and-report can differ between communities.",
                    style="font-size: 12px; color: #555").key("pilot-note")
    if state.lever_error.value:
        solara.Error(state.lever_error.value).key("lever-error")
    # Keys: the list above the groups changes with the scope; without them reacton would match controls
    # by position and hand one lever's widget to another.
    def controls(items):
        for lever in items:
            disabled = community is not None and not lever.local
            LeverControl(lever, current(lever), disabled, change).key(f"lever:{lever.path}:{epoch}")

    for k, (group, items) in enumerate(groups.items()):
        # the group's title in the page's language (the Chinese one is declared beside the parameters)
        title = items[0].group_zh if lang == "zh" and items and items[0].group_zh else group
        LeverGroup(title, lambda items=items: controls(items), open_first=(k == 0),
                   values=tuple(current(lever) for lever in items)).key(f"group:{group}")


@solara.component
def LeverGroup(title: str, build, open_first: bool = False, values: tuple = ()):
    """A group of levers that can be folded; a folded group's controls are not built at all (every
    widget on the page is walked at every redraw while playing).

    `values` are the levers' values, which `build` reads from the model: reacton deems a new `build`
    closure equal to the last (same code, same cells), so without them a changed value would not
    re-render the group, and its controls would be set back to the values they were built with."""
    is_open = solara.use_reactive(open_first)
    with solara.Column(gap="0px", classes=["govsim-lever-group"]):
        solara.Button(("▾ " if is_open.value else "▸ ") + title, text=True, small=True,
                      on_click=lambda: is_open.set(not is_open.value),
                      style="justify-content: flex-start; text-transform: none; font-weight: 500; padding: 0 4px",
                      classes=["govsim-lever-group-title"])
        if is_open.value:
            with solara.Column(gap="4px", style="padding: 0 4px 8px 8px"):
                build()


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
