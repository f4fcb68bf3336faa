"""The cockpit (viz/app.py) in a real browser: served by `solara run`, driven by Playwright.

Uses the harness in conftest.py: every request leaving the machine is blocked (so a passing test
proves the page works offline) and console errors fail the test. Screenshots are saved under the
test's tmp_path (1366x768 and 1920x1080).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from sim.metrics import METRIC_BY_NAME

APP = Path(__file__).resolve().parents[2] / "viz" / "app.py"
MOUNT_TIMEOUT_MS = 180_000
UI_TIMEOUT_MS = 60_000
# Functional bound on CI (shared, slow machines); the real speed comes from `python -m benchmarks.view`.
PLAY_SECONDS_FOR_10_DAYS = 5.0

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _day(page) -> int:
    return int(re.search(r"\d+", page.locator(".govsim-day").first.inner_text()).group())


def _chart_option(page, css: str) -> dict:
    return page.evaluate("(css) => { const el = document.querySelector(css + ' .govsim-echart');"
                         " return JSON.parse(JSON.stringify(el.govsimChart.getOption())); }", css)


def _open(page, base_url: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(base_url + "/", wait_until="domcontentloaded")
    page.locator(".govsim-day").first.wait_for(timeout=MOUNT_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('.govsim-echart[data-ready]').length >= 5",
                           timeout=UI_TIMEOUT_MS)


def test_cockpit_offline_play_levers_counterfactual_map_language(tmp_path, solara_server, browser_page, browser_log):
    base_url = solara_server(APP, extra_env={"GOVSIM_SCENARIO": "mixed_district.yaml"})
    page = browser_page
    _open(page, base_url)
    assert _day(page) == 0
    page.screenshot(path=str(tmp_path / "empty-1366x768.png"))
    # the headline is in view on a 1366x768 screen, with its labels in Chinese (from sim.metrics)
    headline = page.locator(".govsim-headline").bounding_box()
    assert headline["y"] + headline["height"] < 300
    assert METRIC_BY_NAME["satisfaction"].label_zh in page.locator(".govsim-headline").inner_text()
    # the map and the key charts start in the first screen
    for css in (".govsim-map-chart", ".govsim-chart-cases_chart", ".govsim-chart-mood_chart"):
        assert page.locator(css).bounding_box()["y"] < 768 - 150, css

    # play: at least 10 days within the bound
    page.locator(".govsim-play").click()
    t0 = time.monotonic()
    page.wait_for_function("() => parseInt(document.querySelector('.govsim-day').innerText.match(/\\d+/)[0]) >= 10",
                           timeout=UI_TIMEOUT_MS)
    elapsed = time.monotonic() - t0
    page.locator(".govsim-play").click()
    assert elapsed <= PLAY_SECONDS_FOR_10_DAYS, f"10 days took {elapsed:.1f} s"
    time.sleep(1)
    day = _day(page)
    cases = _chart_option(page, ".govsim-chart-cases_chart")
    assert len(cases["series"][0]["data"]) == day   # the charts show every day

    # a lever change is marked on the charts; the counterfactual shows as dashed series
    field = page.locator(".lever-policies-share_joined .govsim-lever-value input")
    field.fill("0.5")
    field.press("Enter")
    page.locator(".govsim-change").first.wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(500)
    assert field.input_value() == "0.5"   # the field keeps the value (leaving it must not undo it)
    page.locator(".govsim-compare input").click(force=True)
    page.locator(".govsim-step").click()
    page.wait_for_function("(d) => parseInt(document.querySelector('.govsim-day').innerText.match(/\\d+/)[0]) > d",
                           arg=day, timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    cases = _chart_option(page, ".govsim-chart-cases_chart")
    marks = cases["series"][0]["markLine"]["data"]
    assert [m["name"] for m in marks] == ["#1"] and marks[0]["xAxis"] == day + 0.5
    dashed = [s for s in cases["series"] if s["id"].endswith("-unchanged")]
    assert dashed and all(s["lineStyle"]["type"] == "dashed" for s in dashed)
    assert page.locator(".govsim-unchanged").count() == 8   # beside every headline number

    # the map: grids of different communities get different colours (share of residents aged 60+)
    page.locator(".govsim-measure").click()
    page.locator(".v-menu__content .v-list-item").filter(has_text="60岁及以上居民占比").first.click()
    page.wait_for_timeout(1500)
    colours = page.evaluate("""() => { const c = document.querySelector('.govsim-map-chart .govsim-echart').govsimChart;
        const n = c.getOption().series[0].data.length;
        return Array.from({length: n}, (_, i) => String(c.getModel().getSeriesByIndex(0).getData()
                                                   .getItemVisual(i, 'style').fill)); }""")
    assert len(colours) == 16 and len(set(colours)) >= 3, colours

    # the language switch changes the labels
    page.locator(".govsim-lang-en").click()
    page.wait_for_timeout(1000)
    text = page.locator(".govsim-headline").inner_text()
    assert METRIC_BY_NAME["satisfaction"].label in text and METRIC_BY_NAME["satisfaction"].label_zh not in text
    # the sidebar does not cover the main panel (English lever-group titles are longer)
    drawer = page.locator(".v-navigation-drawer").bounding_box()
    assert drawer["x"] + drawer["width"] <= page.locator(".govsim-headline").bounding_box()["x"] + 1, drawer
    page.screenshot(path=str(tmp_path / "played-1366x768.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(800)
    page.screenshot(path=str(tmp_path / "played-1920x1080.png"), full_page=True)
    print(f"screenshots in {tmp_path}")
    browser_log.assert_clean()


def _counters(page, css: str) -> dict:
    """A chart's counters (viz/echart.vue) and the points of its first series, as the browser has them."""
    return page.evaluate("""(css) => { const el = document.querySelector(css + ' .govsim-echart');
        const d = el.dataset;
        return {drawn: +d.drawn || 0, updated: +d.updated || 0, rendered: +d.rendered || 0,
                points: el.govsimChart.getOption().series[0].data.length}; }""", css)


def test_charts_grow_during_play_from_new_days_only(solara_server, browser_page, browser_log):
    """While playing, the charts are sent only their new days (the map its new values): the points
    grow, no full option is drawn again, and every chart is redrawn; on pause the last day is drawn."""
    base_url = solara_server(APP, extra_env={"GOVSIM_SCENARIO": "baseline.yaml"})
    page = browser_page
    _open(page, base_url)
    charts = [".govsim-chart-cases_chart", ".govsim-chart-mood_chart", ".govsim-chart-dept_chart",
              ".govsim-chart-outcome_chart", ".govsim-chart-assessment_chart", ".govsim-map-chart"]
    page.locator(".govsim-play").click()
    page.wait_for_function("() => parseInt(document.querySelector('.govsim-day').innerText.match(/\\d+/)[0]) >= 5",
                           timeout=UI_TIMEOUT_MS)
    first = {css: _counters(page, css) for css in charts}
    page.wait_for_function("(d) => parseInt(document.querySelector('.govsim-day').innerText.match(/\\d+/)[0]) >= d",
                           arg=_day(page) + 10, timeout=UI_TIMEOUT_MS)
    then = {css: _counters(page, css) for css in charts}
    page.locator(".govsim-play").click()
    for css in charts:
        a, b = first[css], then[css]
        assert b["drawn"] == a["drawn"], f"{css}: a full option was drawn during play ({a} -> {b})"
        assert b["updated"] > a["updated"] and b["rendered"] > a["rendered"], (css, a, b)
    cases_a, cases_b = first[charts[0]], then[charts[0]]
    assert cases_b["points"] >= cases_a["points"] + 10, (cases_a, cases_b)   # one point a day
    # paused: the whole page is redrawn, and the charts show every day up to the one shown
    page.wait_for_function("(css) => +document.querySelector(css + ' .govsim-echart').dataset.drawn > "
                           f"{then[charts[0]]['drawn']}", arg=charts[0], timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(500)
    day = _day(page)
    for css in charts[:2]:
        assert _counters(page, css)["points"] == day, css
    browser_log.assert_clean()
