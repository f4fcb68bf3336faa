"""The sentiment map (民情地图) of the run on screen: the same map `govsim run` writes
(:mod:`sim.maps`), for the first run of the view's model, coloured by an outcome the user picks."""

from __future__ import annotations

import solara
from matplotlib.figure import Figure

from sim.maps import MAP_OUTCOMES, cjk_fonts, plot_map
from viz import figures
from viz.components import use_tick
from viz.vizmodel import VizModel

CHOICES = {f"{o.label} · {o.label_zh}": name for name, o in MAP_OUTCOMES.items()}


def map_png(model: VizModel, outcome: str) -> bytes:
    with cjk_fonts():
        fig = Figure(figsize=(6.4, 4.6))
        ax = fig.subplots()
        plot_map(ax, model.base_scenario, model.grid_frame(0), model.community_frame(0), outcome)
        fig.suptitle(f"Sentiment map 民情地图 — day {model.day} (grey: no problem finished there yet)", fontsize=10)
        fig.tight_layout()
        return figures.png(fig)


@solara.component
def SentimentMap(model: VizModel):
    counter = use_tick()
    choice = solara.use_reactive(next(iter(CHOICES)))
    png = solara.use_memo(lambda: map_png(model, CHOICES[choice.value]), [model, counter, choice.value])
    with solara.Column(gap="4px", style="padding: 4px 8px"):
        solara.Select("map outcome · 地图指标", values=list(CHOICES), value=choice, dense=True, style="max-width: 320px")
        solara.Image(png, width="100%", classes=["govsim-map"])
