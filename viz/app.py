"""The govsim page: watch a community, move the levers mid-run, compare with the counterfactual.

Served by ``govsim viz [SCENARIO]`` (which sets ``GOVSIM_SCENARIO``) or ``solara run viz/app.py``.
Built on Mesa's SolaraViz: its sidebar gives step / play / reset and the Reset parameters (scenario,
seed, community size); the main panel holds this package's components; the live levers are a sidebar
card of their own, because a change of SolaraViz's ``model_params`` rebuilds the model, while a lever
moved mid-run must change the running model from the next day on.
"""

from __future__ import annotations

import html
import os
import sys
from pathlib import Path

import solara

# `solara run viz/app.py` executes this file as a script: use the packages beside it (an installed govsim,
# e.g. another checkout's editable install, would otherwise shadow this checkout's viz and sim).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from mesa.visualization import SolaraViz  # noqa: E402

from sim.scenario import ScenarioError, resolve_scenario_file, shipped_scenarios  # noqa: E402
from viz.components import MAIN_COMPONENTS, LiveControls, StepRelay, ViewState, provide_view_state  # noqa: E402
from viz.sentiment import SentimentMap  # noqa: E402
from viz.vizmodel import (AS_IN_FILE, DEFAULT_SCENARIO, SIZE_CHOICES, VizModel, load_for_view,  # noqa: E402
                          scenario_choices, scenario_label)

ENV_VAR = "GOVSIM_SCENARIO"
# Grid cells of SolaraViz's main panel scroll instead of spilling over their neighbours.
CSS = """
.vue-grid-item { overflow: auto; background: white; }
.govsim-tile { box-shadow: none !important; }
/* The sidebar is as wide as its widest content: a long scenario path must not widen it. */
.v-navigation-drawer .v-select__selections { max-width: 340px; }
.v-navigation-drawer .v-select__selection { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
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


def model_params(scenario_file: str, model: VizModel) -> dict:
    """SolaraViz's Reset parameters; their values are read from the loaded model, not repeated here."""
    current = scenario_label(scenario_file) if Path(scenario_file).is_file() else scenario_file
    return {
        "scenario_file": {"type": "Select", "label": "Scenario (on Reset)", "value": current,
                          "values": scenario_choices(scenario_file if Path(scenario_file).is_file() else None)},
        "seed": {"type": "InputText", "label": "Seed (on Reset)", "value": str(model.seed)},
        "residents_per_grid": {"type": "Select", "label": "Residents per grid (on Reset)", "value": AS_IN_FILE,
                               "values": list(SIZE_CHOICES)},
    }


@solara.component
def Simulation(scenario_file: str):
    """SolaraViz around a VizModel of the scenario, plus the live controls in the sidebar."""
    first = solara.use_memo(lambda: VizModel(scenario_file=scenario_file), [])
    model = solara.use_reactive(first)
    params = solara.use_memo(lambda: model_params(scenario_file, first), [])
    state = provide_view_state()
    StepRelay(state, model.value)
    solara.Style(CSS)
    SolaraViz(
        model,
        components=[(component, 0) for component in (*MAIN_COMPONENTS, SentimentMap)],
        model_params=params,
        play_interval=150,
        name=f"govsim · {model.value.params.name}",
    )
    SidebarAfterSolaraViz(model.value, state)


@solara.component
def SidebarAfterSolaraViz(model: VizModel, state: ViewState):
    # The sidebar portal orders cards by depth in the tree: one level deeper than SolaraViz's own
    # sidebar puts the live controls after its Step / Play / Reset.
    _SidebarCards(model, state)


@solara.component
def _SidebarCards(model: VizModel, state: ViewState):
    with solara.Sidebar():
        LiveControls(model, state)


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
    """The page: the simulation, or the validation message when the scenario file is bad."""
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
        Simulation(current.value).key(f"simulation-{current.value}")


page = Page   # what `solara run viz/app.py` serves
