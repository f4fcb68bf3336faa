"""The govsim page (viz/app.py) in a real browser: served by `solara run`, driven by Playwright.

Uses the harness in conftest.py: the server gets GOVSIM_SCENARIO (what `govsim viz` sets), every
request leaving localhost is blocked (so this also proves the page works offline), and console
errors fail the test. Screenshots are saved under the test's tmp_path.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

APP = Path(__file__).resolve().parents[2] / "viz" / "app.py"
MOUNT_TIMEOUT_MS = 120_000   # first mount on a cold machine: kernel, imports, matplotlib font cache
UI_TIMEOUT_MS = 60_000
# Known-harmless console errors, each with the reason. None needed so far.
BENIGN_CONSOLE_ERRORS: list[str] = []

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _graphics(page, selector: str) -> list[dict]:
    """Images/canvases/svgs matching selector that show something (loaded, non-trivial size)."""
    return page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).map(el => {
                const r = el.getBoundingClientRect();
                const loaded = el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0);
                return {tag: el.tagName, cls: el.className, w: r.width, h: r.height, loaded};
            }).filter(g => g.loaded && g.w > 50 && g.h > 50)""",
        selector,
    )


def _wait_for_day(page, day: int) -> None:
    page.locator(".govsim-day").filter(has_text=re.compile(rf"^Day {day}$")).wait_for(timeout=UI_TIMEOUT_MS)


def _step(page, expected_day: int) -> float:
    t0 = time.monotonic()
    page.get_by_role("button", name="Step", exact=True).click()
    _wait_for_day(page, expected_day)
    return time.monotonic() - t0


def _open(page, base_url: str) -> None:
    page.goto(base_url + "/", wait_until="domcontentloaded")
    page.locator(".govsim-day").first.wait_for(timeout=MOUNT_TIMEOUT_MS)
    assert page.locator("main").count() == 1


def test_small_community_network_levers_and_counterfactual(tmp_path, solara_server, browser_page, browser_log,
                                                           govsim_scenarios):
    base_url = solara_server(APP, extra_env={"GOVSIM_SCENARIO": str(govsim_scenarios["small"])})
    page = browser_page
    _open(page, base_url)
    _wait_for_day(page, 0)

    # the main panel is not blank: the community drawing (network) and the charts are there
    page.wait_for_function(
        """() => document.querySelectorAll('main img.govsim-clickable-image').length === 1
                 && Array.from(document.querySelectorAll('main img')).filter(
                        el => el.complete && el.naturalWidth > 0).length >= 6""",
        timeout=UI_TIMEOUT_MS)
    drawing = _graphics(page, "main img.govsim-clickable-image")
    charts = _graphics(page, "main img.govsim-chart")
    assert len(drawing) == 1, f"the community drawing is missing: {drawing}"
    assert len(charts) == 5, f"expected the five charts in the main panel, got {charts}"

    # stepping advances the day counter
    for day in (1, 2, 3):
        _step(page, day)
    assert page.get_by_text("Time: 3.0").count() == 1   # SolaraViz's own counter agrees

    # moving a lever changes the running model: type in the lever's field, press Enter
    field = page.locator(".lever-policies-share_joined .govsim-lever-value input")
    field.fill("0.5")
    field.press("Enter")
    page.locator(".govsim-change").filter(has_text="from day 4: share_joined=0.5").wait_for(timeout=UI_TIMEOUT_MS)
    # ... and dragging a slider does too (a click on the track is a release at that point)
    track = page.locator(".lever-policies-early_warning_threshold .govsim-lever-slider .v-slider")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    track.click(position={"x": box["width"] * 0.5, "y": box["height"] / 2})
    page.locator(".govsim-change").filter(has_text="early_warning_threshold=").wait_for(timeout=UI_TIMEOUT_MS)

    # the counterfactual: one click, then both runs step together
    page.get_by_text("Compare with the unchanged scenario").click()
    page.locator(".govsim-today-table").filter(has_text="unchanged").wait_for(timeout=UI_TIMEOUT_MS)
    for day in (4, 5, 6):
        _step(page, day)

    # play runs the model on its own (in SolaraViz's worker thread); a lever moved meanwhile applies
    # from the next day
    page.get_by_role("button", name="▶").click()
    _wait_for_day(page, 8)
    page.locator(".lever-policies-deadline_tracking label").click()
    page.locator(".govsim-change").filter(has_text="deadline_tracking=on").wait_for(timeout=UI_TIMEOUT_MS)
    _wait_for_day(page, 12)
    page.get_by_role("button", name="❚❚").click()
    expect(page.get_by_role("button", name="Step", exact=True)).to_be_enabled(timeout=UI_TIMEOUT_MS)

    # inspect: a click on the network selects a grid (or a resident)
    image = page.locator("main img.govsim-clickable-image")
    ib = image.bounding_box()
    page.mouse.click(ib["x"] + ib["width"] * 0.1, ib["y"] + ib["height"] * 0.3)
    page.get_by_text(re.compile(r"^(Grid|Resident) \d+$")).first.wait_for(timeout=UI_TIMEOUT_MS)

    page.wait_for_timeout(500)   # let any late error reach the console
    shot = tmp_path / "govsim_small_network.png"
    page.screenshot(path=str(shot))
    print(f"\nscreenshot: {shot}")
    assert len(_graphics(page, "main img.govsim-chart")) == 5, "charts disappeared after stepping"
    browser_log.assert_clean(ignore=BENIGN_CONSOLE_ERRORS)


def test_large_community_grid_map_stays_responsive(tmp_path, solara_server, browser_page, browser_log,
                                                   govsim_scenarios):
    base_url = solara_server(APP, extra_env={"GOVSIM_SCENARIO": str(govsim_scenarios["large"])})
    page = browser_page
    _open(page, base_url)
    _wait_for_day(page, 0)
    page.get_by_text("12,000 residents in 20 grids").wait_for(timeout=UI_TIMEOUT_MS)

    tiles = page.locator("main .govsim-grid-map button.govsim-tile")
    tiles.first.wait_for(timeout=UI_TIMEOUT_MS)
    assert tiles.count() == 20
    assert page.locator("main img.govsim-clickable-image").count() == 0   # no network at 12,000
    page.wait_for_function(
        "() => document.querySelectorAll('main img.govsim-chart').length === 5", timeout=UI_TIMEOUT_MS)

    seconds = [_step(page, day) for day in (1, 2)]
    # a step (model day + redraw of the map and four charts) must feel interactive
    assert max(seconds) < 15, f"steps took {seconds} s"
    print(f"\nstep round trips at 12,000 residents: {[round(s, 2) for s in seconds]} s")

    tiles.nth(13).click()
    page.get_by_text("Grid 13", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    shot = tmp_path / "govsim_large_grid_map.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    browser_log.assert_clean(ignore=BENIGN_CONSOLE_ERRORS)
