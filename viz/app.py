"""The govsim cockpit (数字驾驶舱): watch a district, move the levers mid-run, compare with the
counterfactual, on one screen.

Served by ``govsim viz [SCENARIO]`` / ``make viz`` (which set ``GOVSIM_SCENARIO``) or
``solara run viz/app.py``. The page is this package's own (not Mesa's SolaraViz): the top bar holds
play / pause / step / reset, the speed and the language; the sidebar the run settings (applied on
Reset), the counterfactual switch, the levers and the changes made; the main panel the day and the
4E headline, the district map and the key series, with details below.

Playing: a worker thread steps the model and redraws the page at most ``MAX_FPS`` times a second,
whatever the day rate. At a set speed it holds each day to 1/speed seconds; "as fast as possible"
steps days back to back. Each drawing sends the charts only the days they do not have yet, so they
show every day.
"""

from __future__ import annotations

import contextvars
import html
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import solara
import solara.server.settings

try:   # `solara run viz/app.py` executes this file as a script: find the package without an install
    import viz  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.scenario import ScenarioError, resolve_scenario_file, shipped_scenarios  # noqa: E402
from viz.components import (ChangesList, CompareSwitch, Headline, InspectorPanel, LeverSection,  # noqa: E402
                            MapPanel, SeriesChart, ViewState, redraw, redraw_live, use_view_state)
from viz.experiment import ExperimentPanel  # noqa: E402
from viz.i18n import DEFAULT_LANGUAGE, LANGUAGES, t  # noqa: E402
from viz.vizmodel import (AS_IN_FILE, DEFAULT_SCENARIO, SIZE_CHOICES, VizModel, load_for_view,  # noqa: E402
                          scenario_choices, scenario_label)

ENV_VAR = "GOVSIM_SCENARIO"
# Solara's "This website runs on Solara" banner sits over the bottom-right corner of the charts.
solara.server.settings.theme.show_banner = False
solara.server.settings.theme.title = "govsim"
SPEEDS = (1, 2, 5, 10, 20, 50, 0)   # days per second; 0 = as fast as the model steps
MAX_FPS = 10                        # drawings per second while playing, at most
CSS = """
.govsim-headline { margin: 0 0 4px 0; display: flex; gap: 8px; align-items: stretch; }
.govsim-day-box { min-width: 96px; display: flex; flex-direction: column; justify-content: center; }
.govsim-day { font-size: 22px; font-weight: 600; line-height: 1.1; }
.govsim-of-days { font-size: 11px; color: #666; }
.solara-content-main .v-content__wrap > div { padding-top: 4px !important; }
.govsim-e-card { flex: 1 1 0; min-width: 0; background: #f6f8fb; border-radius: 6px; padding: 4px 8px;
                 border-left: 3px solid #1f4e9c; }
.govsim-e { font-size: 11px; font-weight: 600; color: #1f4e9c; text-transform: uppercase; letter-spacing: .04em; }
.govsim-kpi { line-height: 1.2; margin-top: 2px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.govsim-kpi-label { font-size: 11px; color: #555; overflow: hidden; text-overflow: ellipsis; }
.govsim-kpi-value { font-size: 16px; font-weight: 600; font-variant-numeric: tabular-nums; }
.govsim-kpi-unit { font-size: 11px; color: #555; }
.govsim-unchanged { font-size: 11px; color: #777; margin-left: 4px; font-variant-numeric: tabular-nums; }
.govsim-panel { background: white; border: 1px solid #e3e7ee; border-radius: 6px; padding: 6px; min-width: 0; }
.govsim-sidebar .v-card__title { font-size: 15px; padding: 8px 12px 4px 12px; }
/* a long lever-group title wraps (a button does not): else the sidebar widens over the main panel */
.govsim-lever-group-title { height: auto !important; min-height: 28px; max-width: 100%; }
.govsim-lever-group-title .v-btn__content { white-space: normal; flex: 1 1 auto; text-align: left; }
"""


def scenario_from_env() -> str:
    """The scenario the page opens: $GOVSIM_SCENARIO (a path or a shipped name), else the baseline."""
    return resolve(os.environ.get(ENV_VAR, "").strip() or DEFAULT_SCENARIO)


def resolve(ref: str) -> str:
    """The absolute path of a scenario file or shipped name, as the loader finds it; else ``ref``."""
    try:
        return str(resolve_scenario_file(str(Path(ref).expanduser())).resolve())
    except ScenarioError:
        return ref   # not found: the page shows the loader's message


def play_loop(model: VizModel, state: ViewState, cancel: threading.Event) -> None:
    """Step the model while playing, on a schedule of `speed` days a second, and redraw between days.

    Day k of the play is due k/speed seconds after Play (or after the speed was last changed); the
    loop steps each day when it is due, and draws at most every 1/MAX_FPS seconds of wall time,
    whatever the day rate: the headline, the map and the charts are updated in place
    (``redraw_live``; a chart is sent only the days it does not have, so every chart shows every
    day). When the model is slower than the set speed, it steps days back to back, still drawing
    every 1/MAX_FPS seconds; at "as fast as possible" (speed 0) it always does. When play stops the
    whole page is redrawn, so the last day is always drawn.
    """
    interval = 1.0 / MAX_FPS
    start, base, speed_was = time.monotonic(), 0, None   # day base+k+1 is due k/speed s after start
    played = 0
    drawn_at = float("-inf")
    undrawn = False   # days stepped since the last drawing
    while not cancel.is_set() and state.playing.value and model.running:
        now = time.monotonic()
        speed = state.speed.value
        if speed != speed_was:   # a new speed counts from now (no burst of days "due" at the old one)
            start, base, speed_was = now, played, speed
        due = not speed or int((now - start) * speed) + 1 > played - base
        if due:
            model.step()
            played += 1
            undrawn = True
        if undrawn and time.monotonic() - drawn_at >= interval:
            drawn_at = time.monotonic()   # drawings start every `interval` (or as soon as the last is done)
            redraw_live(state)
            undrawn = False
        elif not due:   # wait for the next day, or for the next drawing of days not drawn yet
            wake = start + (played - base) / speed
            if undrawn:
                wake = min(wake, drawn_at + interval)
            cancel.wait(max(0.0, wake - time.monotonic()))
    redraw(state, model)
    if not model.running:   # the planned days are done
        state.playing.set(False)


class Player:
    """The thread that plays the model: started when Play is pressed, stopped on Pause, Reset or close.

    It runs in a copy of the context of the browser event that started it (Solara's session and the
    page's render context), so its redraws reach this page.
    """

    def __init__(self):
        self.thread: threading.Thread | None = None
        self.cancel = threading.Event()

    def follow(self, model: VizModel, state: ViewState) -> None:
        self.stop()
        if not state.playing.value:
            return
        self.cancel = cancel = threading.Event()
        context = contextvars.copy_context()

        def run():
            try:
                play_loop(model, state, cancel)
            except Exception:   # a thread's exception is otherwise silent: say it, and stop playing
                traceback.print_exc()
                state.playing.set(False)

        self.thread = threading.Thread(target=context.run, args=(run,), daemon=True, name="govsim-player")
        self.thread.start()

    def stop(self) -> None:
        self.cancel.set()   # not joined: the thread may be waiting for the render this call is part of
        self.thread = None


@solara.component
def PlayBar(model: VizModel, state: ViewState, on_reset):
    """Play / pause, step, reset, speed and language, in the top bar."""
    lang = state.lang.value
    playing = state.playing.value

    def step():
        model.step()
        redraw(state, model)

    with solara.Row(gap="6px", style="align-items: center", classes=["govsim-playbar"]):
        solara.Button(t("pause", lang) if playing else t("play", lang), on_click=lambda: state.playing.set(not playing),
                      icon_name="mdi-pause" if playing else "mdi-play", color="white", outlined=True, small=True,
                      classes=["govsim-play"])
        solara.Button(t("step", lang), on_click=step, disabled=playing, icon_name="mdi-skip-next", color="white",
                      outlined=True, small=True, classes=["govsim-step"])
        solara.Button(t("reset", lang), on_click=on_reset, icon_name="mdi-restart", color="white", outlined=True,
                      small=True, classes=["govsim-reset"])
        items = [{"text": f"{s} {t('days_per_s', lang)}" if s else t("max_speed", lang), "value": s} for s in SPEEDS]
        solara.v.Select(label=t("speed", lang), items=items, v_model=state.speed.value, on_v_model=state.speed.set,
                        dense=True, hide_details=True, dark=True, style_="max-width: 150px; margin-left: 8px",
                        class_="govsim-speed")
        solara.v.BtnToggle(v_model=lang, mandatory=True, dense=True, class_="govsim-language ml-3",
                           on_v_model=lambda v: state.lang.set(v or lang),
                           children=[solara.v.Btn(children=[name], value=code, small=True, class_=f"govsim-lang-{code}")
                                     for code, name in LANGUAGES.items()])


@solara.component
def RunSettings(scenario_file: str, model: VizModel, state: ViewState, settings: solara.Reactive):
    lang = state.lang.value
    current = scenario_label(scenario_file) if Path(scenario_file).is_file() else scenario_file
    choices = scenario_choices(scenario_file if Path(scenario_file).is_file() else None)
    value = settings.value
    solara.v.Select(label=t("scenario", lang), items=choices, v_model=value.get("scenario", current), dense=True,
                    hide_details=True, on_v_model=lambda v: settings.set({**settings.value, "scenario": v}),
                    class_="govsim-scenario")
    with solara.Row(gap="8px"):
        solara.InputText(t("seed", lang), value=str(value.get("seed", model.seed)),
                         on_value=lambda v: settings.set({**settings.value, "seed": v}), style="max-width: 110px")
        items = [{"text": t("as_in_file", lang) if s == AS_IN_FILE else f"{int(s):,}", "value": s} for s in SIZE_CHOICES]
        solara.v.Select(label=t("size", lang), items=items, v_model=value.get("residents", AS_IN_FILE), dense=True,
                        hide_details=True, on_v_model=lambda v: settings.set({**settings.value, "residents": v}),
                        class_="govsim-size")


@solara.component
def Cockpit(scenario_file: str):
    state = use_view_state(DEFAULT_LANGUAGE)
    settings = solara.use_reactive({})
    first = solara.use_memo(lambda: VizModel(scenario_file=scenario_file), [])
    model_r = solara.use_reactive(first)
    model = model_r.value
    lang = state.lang.value

    def reset():
        state.playing.set(False)
        s = settings.value
        scen = s.get("scenario")
        path = scenario_file if scen in (None, scenario_label(scenario_file)) else resolve(scen)
        new = VizModel(scenario_file=path, seed=s.get("seed", model.seed), residents=s.get("residents", AS_IN_FILE))
        if state.compare.value:
            new.set_counterfactual(True)
        state.selected_grid.set(None)
        state.selected_resident.set(None)
        state.scope.set("all")
        model_r.set(new)
        redraw(state, new)

    player = solara.use_memo(Player, [])
    solara.use_effect(lambda: player.follow(model, state), [state.playing.value, model])
    solara.use_effect(lambda: player.stop, [])   # closing the page stops the thread
    CockpitParts(scenario_file, model, state, settings, reset)


@solara.component
def CockpitParts(scenario_file: str, model: VizModel, state: ViewState, settings: solara.Reactive, on_reset):
    lang = state.lang.value
    with solara.Column(gap="0px", style="padding: 0"):   # one root: no gaps from the invisible parts
        solara.Style(CSS)
        solara.Title(f"govsim · {model.params.name}")
        with solara.AppBar():
            PlayBar(model, state, on_reset)
        solara.AppBarTitle(f"govsim · {model.params.name}")
        with solara.Sidebar():
            with solara.Column(gap="6px", classes=["govsim-sidebar"]):
                with solara.Card(t("run_settings", lang), margin=0):
                    RunSettings(scenario_file, model, state, settings)
                    for k, notice in enumerate(model.notices):
                        solara.Error(notice).key(f"notice-{k}")
                with solara.Card(margin=0, classes=["govsim-levers"]):
                    CompareSwitch(model, state)
                with solara.Card(t("levers", lang), subtitle=t("lever_note", lang), margin=0, classes=["govsim-levers"]):
                    LeverSection(model, state)
                with solara.Card(t("changes", lang), margin=0, classes=["govsim-changes"]):
                    ChangesList(model, state)
        with solara.Column(gap="6px", style="padding: 4px 10px 10px 10px", classes=["govsim-main"]):
            Headline(model, state)
            with solara.Columns([5, 6], gutters_dense=True):
                with solara.Div(classes=["govsim-panel"]):
                    MapPanel(model, state)
                with solara.Column(gap="6px"):
                    with solara.Div(classes=["govsim-panel"]):
                        SeriesChart(model, state, "cases_chart", height="228px")
                    with solara.Div(classes=["govsim-panel"]):
                        SeriesChart(model, state, "mood_chart", height="228px")
            with solara.Columns([1, 1], gutters_dense=True):
                with solara.Div(classes=["govsim-panel"]):
                    SeriesChart(model, state, "dept_chart", height="260px")
                with solara.Div(classes=["govsim-panel"]):
                    SeriesChart(model, state, "outcome_chart", height="260px")
            with solara.Div(classes=["govsim-panel"]):
                SeriesChart(model, state, "assessment_chart", height="228px")
            with solara.Columns([1, 1], gutters_dense=True):
                with solara.Div(classes=["govsim-panel"]):
                    InspectorPanel(model, state)
                with solara.Div(classes=["govsim-panel"]):
                    ExperimentPanel(model, state)


@solara.component
def ScenarioProblem(message: str, scenario_file: str, on_open):
    """A bad scenario file: its validation message, and a way to open a shipped scenario instead."""
    choice = solara.use_reactive(DEFAULT_SCENARIO)
    solara.AppBarTitle("govsim · the scenario could not be loaded")
    with solara.Column(style="padding: 24px; max-width: 1000px", classes=["govsim-scenario-error"]):
        solara.Error(f"The scenario file {scenario_file} is not valid, so the model was not started.")
        solara.HTML(tag="pre", unsafe_innerHTML=html.escape(message),
                    style="white-space: pre-wrap; background: #fbeaea; padding: 12px; border-radius: 4px",
                    classes=["govsim-validation-message"]).meta(ref="validation-message")
        solara.Markdown("Fix the file and reload this page, or open a shipped scenario:")
        with solara.Row(style="align-items: center"):
            solara.Select("shipped scenario", values=shipped_scenarios(), value=choice, style="max-width: 320px")
            solara.Button("Open", color="primary", on_click=lambda: on_open(choice.value))


@solara.component
def Page(scenario_file: str | None = None):
    """The page: the cockpit, or the validation message when the scenario file is bad."""
    current = solara.use_reactive(resolve(str(scenario_file)) if scenario_file else scenario_from_env())

    def check():
        try:
            load_for_view(current.value)
        except ScenarioError as e:
            return str(e)
        return None

    problem = solara.use_memo(check, [current.value])
    if problem is not None:
        ScenarioProblem(problem, current.value, on_open=current.set)
    else:
        Cockpit(current.value).key(f"cockpit-{current.value}")


page = Page   # what `solara run viz/app.py` serves
