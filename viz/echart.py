"""An ECharts chart as a widget that is updated in place (see ``echart.vue``).

Solara's own ``FigureEcharts`` re-creates the whole chart (``notMerge``) at every update, with
animation; during play that is a new chart ten times a second. Here an option whose ``epoch`` is
unchanged is merged into the existing chart (series replaced by id), without animation.

While the model plays, a chart is not sent its whole option again: :meth:`EChartWidget.show` sends
only the days the browser does not have yet (a custom message, ``update``), which ``echart.vue`` adds
to its own copy of each series (the map, whose data has no days, is sent its data whole the same
way); a full option (the ``full`` trait) is sent only when anything but the data changed (the
language, a lever change's mark, the counterfactual, a new model). Resending
every series' whole history through the trait at each drawing cost the browser a deep comparison and
copy of it (ipyvue) before ECharts saw it, and limited the charts to about one drawing a second.
ECharts itself is served from Solara's local asset cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import ipyvuetify as v
import reacton.core
import solara
import traitlets

TEMPLATE = Path(__file__).with_name("echart.vue")
ECHARTS = ("echarts", "5.4.0")   # the version echart.vue loads; installed by tools/install_solara_assets.py


def _shape(option: dict) -> dict:
    """The option without its series' data: what an update of the data alone leaves unchanged."""
    shape = {k: v for k, v in option.items() if k not in ("series", "rows")}
    shape["series"] = [{k: v for k, v in s.items() if k != "data"} for s in option.get("series", [])]
    return shape


class EChartWidget(v.VuetifyTemplate):
    template_file = str(TEMPLATE)
    option = traitlets.Dict({})   # the option to draw whole (set by the page); sent as `full`
    full = traitlets.Dict({}).tag(sync=True)   # {"seq": n, "option": option}: the n-th option sent whole
    maps = traitlets.Dict({}).tag(sync=True)
    height = traitlets.Unicode("300px").tag(sync=True)
    on_click = traitlets.Any(None, allow_none=True)   # python only: called with the clicked item
    # Parts of an option that an update of the data may change by merging (a colour range follows the
    # data); any other change is drawn from a full option.
    MERGED = frozenset({"visualMap"})

    def __init__(self, **kwargs):
        self._lock = threading.RLock()   # the player thread shows, the page's thread sets `option`
        self._seq = 1                    # options sent whole so far
        self._build = None
        option = kwargs.get("option", {})
        super().__init__(full={"seq": self._seq, "option": option}, **kwargs)
        self._shown = (_shape(option), option.get("rows")) if option else None   # what the browser has
        self.observe(self._option_set, "option")

    def _option_set(self, change):
        # Numbered, so that the browser applies a data update only to the option it continues: a trait
        # arrives in the browser's widget asynchronously, and a later custom message can overtake it.
        with self._lock:
            option = change["new"]
            self._seq += 1
            self._shown = (_shape(option), option.get("rows")) if option else None
            self.full = {"seq": self._seq, "option": option}

    def show(self, build: Callable[[int], dict]) -> None:
        """Bring the chart up to date with as little as possible sent to the browser.

        ``build(start)`` is the full option, except that an option with ``rows`` (the number of rows,
        days, its data covers) holds in its series only the data of the rows from `start` on. When
        nothing but the data (and parts in MERGED) changed since the browser's option, the browser is
        sent a data update (``echart.vue``'s ``jupyter_update``): the new rows, which it appends to
        its copy of each series, or, for an option without rows, each series' data, which replaces
        its copy. Otherwise the full option.
        """
        with self._lock:
            self._build = build
            if self._shown is not None:
                shape, rows = self._shown
                new = build(rows or 0)
                new_shape = _shape(new)
                changed = {k for k in shape.keys() | new_shape.keys() if shape.get(k) != new_shape.get(k)}
                ids = [s.get("id") for s in new.get("series", [])]
                more = new.get("rows") is None if rows is None else (new.get("rows") or 0) >= rows
                if not changed - self.MERGED and more and None not in ids:
                    if rows is None or new["rows"] > rows or changed:
                        self.send({"method": "update", "args": [{
                            "seq": self._seq, "from": rows, "rows": new.get("rows"),
                            "data": {s["id"]: s["data"] for s in new["series"]},
                            "option": {k: new[k] for k in changed}}]})
                        self._shown = (new_shape, new.get("rows"))
                    return
            self.option = build(0)

    def vue_resync(self, seq=None):
        """The browser's chart lacks rows that an update continues (e.g. it was created after updates
        went out): send it the full option, unless a newer one is already on its way."""
        with self._lock:
            if seq is not None and seq != self._seq:
                return
            option = self._build(0) if self._build is not None else self.option
            if option == self.option:
                self._option_set({"new": option})
            else:
                self.option = option

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
