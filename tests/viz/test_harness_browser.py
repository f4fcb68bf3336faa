"""Proof that the browser harness (tests/viz/conftest.py) catches a blank SolaraViz.

Self-contained: the app under test is a throwaway Mesa 3.5 model written to a temp file,
so this test exercises the tool chain (solara server, offline CDN cache, Debian chromium,
Playwright) independently of the project's own model in sim/.

It fails on the known failure modes:
  * blank main panel (ipyvue/ipyvuetify 3: `solara.GridDraggable` throws in the browser,
    mesa #3806) -> no img/canvas/svg in <main>;
  * front-end not served offline (CDN cache not filled by tools/install_solara_assets.py)
    -> failed /_solara/cdn/... requests, console errors, page never mounts;
  * anything fetched from outside localhost -> recorded as a blocked request;
  * stepping broken -> the "Time:" counter does not advance.
"""

from __future__ import annotations

import re
import textwrap

import pytest

APP_SOURCE = textwrap.dedent(
    '''
    """Throwaway SolaraViz app for the browser-harness proof test."""
    import networkx as nx

    import mesa
    from mesa.discrete_space import CellAgent, Network
    from mesa.visualization import Slider, SolaraViz, SpaceRenderer, make_plot_component
    from mesa.visualization.components import AgentPortrayalStyle


    class Walker(CellAgent):
        def __init__(self, model, cell):
            super().__init__(model)
            self.cell = cell

        def step(self):
            self.cell = self.cell.neighborhood.select_random_cell()


    class TinyNet(mesa.Model):
        # keyword-only parameters: SolaraViz's Reset rebuilds with type(model)(**params)
        def __init__(self, n_nodes=30, n_agents=8, rng=42):
            super().__init__(rng=rng)
            graph = nx.connected_watts_strogatz_graph(int(n_nodes), 4, 0.2, seed=int(rng))
            # layout=None: skip Network's own spring_layout (SpaceRenderer lays it out)
            self.grid = Network(graph, capacity=None, random=self.random, layout=None)
            for cell in self.random.sample(list(self.grid.all_cells), int(n_agents)):
                Walker(self, cell)
            self.datacollector = mesa.DataCollector(
                model_reporters={"Occupied": lambda m: sum(1 for c in m.grid.all_cells if not c.is_empty)}
            )
            self.datacollector.collect(self)

        def step(self):
            self.agents.shuffle_do("step")
            self.datacollector.collect(self)


    def portrayal(agent):
        return AgentPortrayalStyle(color="tab:red", size=60)


    model = TinyNet()
    renderer = SpaceRenderer(model, backend="matplotlib").setup_structure().setup_agents(portrayal)
    renderer.render()
    page = SolaraViz(
        model,
        renderer,
        components=[make_plot_component("Occupied")],
        model_params={
            "n_nodes": Slider("Nodes", 30, 10, 60, 1),
            "n_agents": Slider("Agents", 8, 1, 20, 1),
            "rng": 42,
        },
        name="Harness proof",
    )
    '''
)

# Console errors that are known to be harmless.  Each entry must say why.
# (None needed with solara 1.64.1 / ipyvuetify 1.12 / chromium 156: the page logs only
# `log`/`debug`/`warning` messages.  The one warning, "Failed to evaluate Vue script and
# find module.exports, falling back to old method", comes from ipyvue loading solara's
# GridLayout template and is not an error.)
BENIGN_CONSOLE_ERRORS: list[str] = []

GRAPHICS = "main img, main canvas, main svg"
TIME_RE = re.compile(r"Time:\s*(-?\d+(?:\.\d+)?)")
UI_TIMEOUT_MS = 60_000  # one UI update (a step, a reset, the figures appearing)
MOUNT_TIMEOUT_MS = 120_000  # first mount on a cold machine: kernel start, app import, matplotlib font cache


def _time_value(page) -> float:
    text = page.get_by_text(TIME_RE).first.inner_text()
    return float(TIME_RE.search(text).group(1))


def _rendered_graphics(page) -> list[dict]:
    """img/canvas/svg in <main> that actually show something (loaded, non-zero size)."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map(el => {
                const r = el.getBoundingClientRect();
                const loaded = el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0);
                return {tag: el.tagName, w: r.width, h: r.height, loaded,
                        src: el.tagName === 'IMG' ? el.currentSrc.slice(-200) : ''};
            }).filter(g => g.loaded && g.w > 20 && g.h > 20)""",
        GRAPHICS,
    )


@pytest.mark.browser
def test_solaraviz_page_draws_and_steps_offline(tmp_path, solara_server, browser_page, browser_log):
    app = tmp_path / "harness_app.py"
    app.write_text(APP_SOURCE)
    base_url = solara_server(app)
    page = browser_page

    page.goto(base_url + "/", wait_until="domcontentloaded")

    # 1. the app mounted: the sidebar's "Information" card shows the model time
    page.get_by_text(TIME_RE).first.wait_for(timeout=MOUNT_TIMEOUT_MS)
    t0 = _time_value(page)

    # 2. the main panel is not blank: the network drawing and the plot are there
    main = page.locator("main")
    assert main.count() == 1, f"expected one <main> panel, found {main.count()}"
    page.wait_for_function(
        """(sel) => Array.from(document.querySelectorAll(sel)).filter(el =>
               (el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0))
               && el.getBoundingClientRect().width > 20).length >= 2""",
        arg=GRAPHICS,
        timeout=UI_TIMEOUT_MS,
    )
    before = _rendered_graphics(page)
    assert len(before) >= 2, f"main panel should show the space and the plot, got {before}"

    # 3. Step advances the time counter (and re-renders the figures)
    for expected_steps in (1, 2, 3):
        page.get_by_role("button", name="Step", exact=True).click()
        page.get_by_text(TIME_RE).filter(has_text=f"Time: {t0 + expected_steps}").first.wait_for(
            timeout=UI_TIMEOUT_MS
        )
    t3 = _time_value(page)
    assert t3 > t0, f"time did not advance: {t0} -> {t3}"
    assert t3 == t0 + 3, f"3 clicks on Step should advance time by 3: {t0} -> {t3}"
    page.wait_for_function(
        """([sel, old]) => Array.from(document.querySelectorAll(sel))
               .some(el => el.tagName === 'IMG' && !old.includes(el.currentSrc.slice(-200)))""",
        arg=[GRAPHICS, [g["src"] for g in before]],
        timeout=UI_TIMEOUT_MS,
    )
    after = _rendered_graphics(page)
    assert len(after) >= 2, f"figures disappeared after stepping: {after}"

    shot = tmp_path / "solaraviz_after_3_steps.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")

    # 4. Reset rebuilds the model from model_params (keyword-only __init__)
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text(TIME_RE).filter(has_text=f"Time: {t0}").first.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(500)  # let any error from re-rendering reach the console
    assert len(_rendered_graphics(page)) >= 2, "figures missing after Reset"

    # 5. nothing went wrong in the browser, and nothing came from outside localhost
    browser_log.assert_clean(ignore=BENIGN_CONSOLE_ERRORS)
