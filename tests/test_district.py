"""A district from a table: the shipped example, every bad row reported, polygons and points, the map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.district import DataError, import_table
from sim.maps import area, community_shapes, grid_shapes, plot_maps, split_polygon
from sim.scenario import SCENARIO_DIR, build_scenario, load_scenario, resolved_communities

EXAMPLE = SCENARIO_DIR / "data" / "district_example.csv"
HEADER = "community,kind,population,share_60plus,grids,grid_workers,wkt\n"
SQUARE = '"POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"'


def test_the_shipped_district_is_its_table_imported():
    """scenarios/district_example.yaml is exactly what `district import` makes of its table."""
    shipped = (SCENARIO_DIR / "district_example.yaml").read_text(encoding="utf-8")
    question = shipped.splitlines()[0].removeprefix("# ")
    _, text = import_table(EXAMPLE, name="district_example", description=yaml.safe_load(shipped)["description"],
                           question=question)
    assert text == shipped      # regenerate both with tools/make_district_example.py


def test_the_example_district_has_twelve_communities_of_different_kinds():
    sc = load_scenario("district_example")
    comms = resolved_communities(sc)
    assert len(comms) == 12
    assert {c.kind for c in comms} == {"old_inner_city", "commodity_estate", "urban_village", "rural_village"}
    shares = [c.share_60plus for c in comms]
    assert min(shares) < 0.1 and max(shares) > 0.4
    sizes = [c.grids * c.residents_per_grid for c in comms]
    assert 2000 <= min(sizes) and max(sizes) <= 8000         # 3,000–8,000 per community, rural ones smaller
    assert all(c.polygon and len(c.polygon) >= 3 for c in comms)
    # the polygons tile the subdistrict: no two overlap (total area = sum of areas of the bounding lattice)
    total = sum(area(c.polygon) for c in comms)
    pts = np.array([p for c in comms for p in c.polygon])
    assert total == pytest.approx((pts[:, 0].max() - pts[:, 0].min()) * (pts[:, 1].max() - pts[:, 1].min()), rel=1e-3)


def test_rows_become_community_profiles(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("community,population,households,buildings,share_60plus,internet_use_60plus,grids,grid_workers\n"
                 "A,4000,1600,40,0.3,0.43,4,6\n", encoding="utf-8")
    data, _ = import_table(f)
    c = data["population"]["communities"][0]
    assert c == {"name": "A", "grids": 4, "residents_per_grid": 1000, "household_size": 2.5,
                 "households_per_building": 40, "grid_workers_per_grid": 1.5, "share_60plus": 0.3,
                 "app_literacy_60plus": 0.25}


def test_one_row_per_grid_is_summed_into_its_community(tmp_path):
    f = tmp_path / "grids.csv"
    f.write_text("community,grid,population,share_60plus,grid_workers\n"
                 "A,a1,1000,0.2,2\nA,a2,1400,0.4,1\nB,b1,800,0.1,1\n", encoding="utf-8")
    data, _ = import_table(f)
    a, b = data["population"]["communities"]
    assert a["grids"] == 2 and a["residents_per_grid"] == 1200 and a["grid_workers_per_grid"] == 1.5
    assert a["share_60plus"] == pytest.approx((1000 * 0.2 + 1400 * 0.4) / 2400, abs=1e-4)
    assert b["grids"] == 1


def test_geojson_and_lat_lon_points(tmp_path):
    g = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"community": "A", "population": 3000},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 1], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"community": "B", "population": 5000},
         "geometry": {"type": "Point", "coordinates": [5, 5]}}]}
    f = tmp_path / "d.geojson"
    f.write_text(json.dumps(g), encoding="utf-8")
    data, _ = import_table(f)
    a, b = data["population"]["communities"]
    assert a["polygon"] == [[0, 0], [2, 0], [2, 1], [0, 1]]
    assert area(b["polygon"]) == pytest.approx(5000 / 20000, rel=1e-3)     # a square of its area at 20,000/km²
    f2 = tmp_path / "ll.csv"
    f2.write_text("community,population,lat,lon\nA,3000,39.90,116.40\nB,3000,39.91,116.40\n", encoding="utf-8")
    data, _ = import_table(f2)
    ya = np.mean([p[1] for p in data["population"]["communities"][0]["polygon"]])
    yb = np.mean([p[1] for p in data["population"]["communities"][1]["polygon"]])
    assert yb - ya == pytest.approx(0.01 * 111.32, rel=1e-3)                # km on a plane


@pytest.mark.parametrize("body, messages", [
    ("A,old_inner_city,4000,0.3,4,6," + SQUARE + "\nB,villa,abc,1.3,0,6,POLYGON((0 0))\n",
     ["line 3, column 'kind': unknown kind 'villa' (allowed: commodity_estate, old_inner_city, rural_village, urban_village)",
      "line 3, column 'population': 'abc' is not a whole number",
      "line 3, column 'share_60plus': 1.3 is out of range (allowed 0 to 1",
      "line 3, column 'grids': 0 is out of range (allowed 1 to 20",
      "line 3, column 'wkt'"]),
    (",old_inner_city,4000,0.3,4,6,\n", ["line 2, column 'community': blank (required"]),
    ("A,old_inner_city,4000,0.3,4,6,\nA,old_inner_city,4000,0.3,4,6,\n", ["community names must be unique (repeated: A)"]),
])
def test_every_bad_row_is_reported_with_line_column_and_allowed_values(tmp_path, body, messages):
    f = tmp_path / "d.csv"
    f.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(DataError) as e:
        import_table(f)
    for m in messages:
        assert m in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("community,population\n", "has a header but no rows"),
    ("community,populaton\nA,100\n", "unknown column(s) 'populaton' (did you mean 'population'?)"),
    ("community,kind\nA,old_inner_city\n", "missing column(s) population"),
])
def test_bad_tables_give_one_message_exit_2_and_nothing_written(tmp_path, text, message):
    f = tmp_path / "d.csv"
    f.write_text(text, encoding="utf-8")
    out = tmp_path / "out.yaml"
    r = CliRunner().invoke(app, ["district", "import", str(f), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert message in r.output and r.output.startswith("error:") and "Traceback" not in r.output
    assert not out.exists()


def test_import_refuses_to_replace_a_file_without_force(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("community,population\nA,3000\n", encoding="utf-8")
    out = tmp_path / "mine.yaml"
    out.write_text("my own notes\n")
    r = CliRunner().invoke(app, ["district", "import", str(f), "--out", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    assert out.read_text() == "my own notes\n"
    r = CliRunner().invoke(app, ["district", "import", str(f), "--out", str(out), "--force"])
    assert r.exit_code == 0, r.output
    assert load_scenario(out).n_communities == 1


# --------------------------------------------------------------------------------------------------
# The map

def test_a_polygon_is_cut_into_strips_of_equal_area():
    poly = [(0, 0), (3, 0), (2.5, 1.2), (0.2, 1.0)]
    strips = split_polygon(poly, 4)
    assert len(strips) == 4
    assert sum(area(s) for s in strips) == pytest.approx(area(poly), rel=1e-9)
    assert [area(s) for s in strips] == pytest.approx([area(poly) / 4] * 4, rel=1e-6)


def test_communities_without_polygons_are_laid_out_as_blocks_of_grid_cells():
    sc = build_scenario({"population": {"communities_per_subdistrict": 5, "grids_per_community": 3}})
    shapes, cells = community_shapes(sc), grid_shapes(sc)
    assert len(shapes) == 5 and len(cells) == 15
    centres = {tuple(np.mean(s, axis=0).round(3)) for s in shapes}
    assert len(centres) == 5                                  # no two on top of each other
    assert [area(c) for c in cells] == pytest.approx([1.0] * 15)   # unit cells
    # each community's outline covers exactly its cells (3 cells: an L of a 2 × 2 block)
    assert [area(s) for s in shapes] == pytest.approx([3.0] * 5)


def test_the_view_map_draws_the_district_file_polygons():
    """The cockpit's map and the CLI's sentiment map share one layout: with the district file's
    polygons, the view's grids are the strips cut from them, covering each community exactly."""
    from viz.district import district_geojson
    sc = load_scenario("district_example")
    geo = district_geojson(sc)
    rings = [f["geometry"]["coordinates"][0][:-1] for f in geo["features"]]
    assert len(rings) == sc.n_grids
    start = 0
    for c in resolved_communities(sc):
        mine = rings[start:start + c.grids]
        start += c.grids
        assert sum(area(r) for r in mine) == pytest.approx(area(c.polygon), rel=1e-3)
        inside = np.array(c.polygon, float)
        lo, hi = inside.min(axis=0) - 1e-6, inside.max(axis=0) + 1e-6
        assert all((lo <= np.array(r)).all() and (np.array(r) <= hi).all() for r in mine)


def test_govsim_run_writes_the_sentiment_map(tmp_path):
    src = load_scenario("district_example").model_dump()
    src["population"]["communities"] = src["population"]["communities"][:3]
    for c in src["population"]["communities"]:
        c["residents_per_grid"] = 150
    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(src, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["run", str(path), "--steps", "30", "-r", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    png = out / "figures" / "sentiment_map.png"
    assert png.is_file() and png.stat().st_size > 20_000
    assert "sentiment_map.png" in (out / "README.txt").read_text(encoding="utf-8")


def test_map_values_are_means_over_replications(tmp_path):
    from sim.maps import map_values
    grids = pd.DataFrame({"grid": [0, 1, 0, 1], "community": [0, 0, 0, 0], "residents": [100, 100, 100, 100],
                          "served_satisfaction": [0.5, 0.7, 0.7, 0.9], "mean_days": [1, 2, 3, 4],
                          "open_problems": [1, 2, 3, 4]})
    comms = pd.DataFrame({"community": [0, 0], "name": ["A", "A"], "kind": ["default", "default"], "gap_satisfaction_60plus": [0.1, 0.3],
                          "served_satisfaction": [0.8, 0.8], "satisfaction_all": [0.7, 0.6]})
    g, c = map_values(grids, comms)
    assert list(g["served_satisfaction"]) == pytest.approx([0.6, 0.8])
    assert list(g["open_per_1000"]) == pytest.approx([20, 30])
    assert c["reported_vs_true"][0] == pytest.approx(0.15)
    plot_maps(Path(tmp_path / "m.png"), build_scenario({"population": {"communities_per_subdistrict": 1,
                                                                          "grids_per_community": 2}}), grids, comms, 2)
    assert (tmp_path / "m.png").is_file()
