"""No-browser test: the page shows the sentiment map (民情地图) of the run on screen."""

from __future__ import annotations

import ipywidgets

from tests.viz.test_app import click, page  # noqa: F401  (the page fixture)


def test_the_page_draws_the_sentiment_map(page, govsim_scenarios):
    rc, models = page(govsim_scenarios["small"])
    click(rc, "Step")
    maps = [w for w in rc.find(ipywidgets.Image).widgets if "govsim-map" in " ".join(w._dom_classes)]
    assert len(maps) == 1 and maps[0].value[:8] == b"\x89PNG\r\n\x1a\n"
