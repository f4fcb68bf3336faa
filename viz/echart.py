"""An ECharts chart as a widget that is updated in place (see ``echart.vue``).

Solara's own ``FigureEcharts`` re-creates the whole chart (``notMerge``) at every update, with
animation; during play that is a new chart ten times a second. Here an option whose ``epoch`` is
unchanged is merged into the existing chart (series replaced by id), without animation, so a day's
redraw sends and draws only the data. ECharts itself is served from Solara's local asset cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ipyvuetify as v
import reacton.core
import solara
import traitlets

TEMPLATE = Path(__file__).with_name("echart.vue")
ECHARTS = ("echarts", "5.4.0")   # the version echart.vue loads; installed by tools/install_solara_assets.py


class EChartWidget(v.VuetifyTemplate):
    template_file = str(TEMPLATE)
    option = traitlets.Dict({}).tag(sync=True)
    maps = traitlets.Dict({}).tag(sync=True)
    height = traitlets.Unicode("300px").tag(sync=True)
    on_click = traitlets.Any(None, allow_none=True)   # python only: called with the clicked item

    def vue_chart_click(self, data):
        if self.on_click is not None:
            self.on_click(data)


EChartElement = reacton.core.ComponentWidget(EChartWidget)


@solara.component
def EChart(option: dict, height: str = "300px", maps: dict | None = None,
           on_click: Callable[[dict], None] | None = None, classes: list[str] | None = None):
    """A chart drawn by ECharts; `option` as ECharts takes it, plus ``epoch`` (change it to redraw from
    scratch, e.g. when the series' structure or the language changes)."""
    with solara.Div(classes=["govsim-chart", *(classes or [])]):
        EChartElement(option=option, maps=maps or {}, height=height, on_click=on_click)


def missing_assets() -> list[str]:
    """Front-end files the page needs that are not in Solara's local asset cache (then the browser
    would wait for a CDN it cannot reach). Filled by ``tools/install_solara_assets.py``."""
    import solara.server.settings as server_settings

    cache = Path(server_settings.assets.proxy_cache_dir)
    name, version = ECHARTS
    wanted = [f"{name}@{version}/dist/echarts.min.js", "requirejs@2.3.6/require.js"]
    missing = [w for w in wanted if not (cache / w).is_file()]
    if not list(cache.glob("@widgetti/solara-vuetify-app@*/dist")):
        missing.append("@widgetti/solara-vuetify-app")
    return missing
