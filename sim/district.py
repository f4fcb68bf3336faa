"""A district from data: a table of communities (or grids) becomes a scenario.

:func:`import_table` reads a CSV (one row per community, or per grid with a ``community`` column) or a
GeoJSON FeatureCollection (one feature per community, its properties the same columns), checks every
row, and returns the data of a scenario whose ``population.communities`` lists the communities: the
scenario extends a base (``baseline.yaml`` unless told) and is validated like any scenario before
anything is written. Every bad row is reported with its line (or feature) number, its column and the
allowed values, all in one message.

Columns (only ``community`` and ``population`` are required; see ``docs/district.md``):

========================  ==========================================================================
community                 the community's name (社区), unique
population                residents
kind                      a key of ``population.community_kinds`` (fills what the row leaves out)
subdistrict               index of its subdistrict (街道), 0-based
households, buildings     household size = population / households; households per building
share_60plus              share of residents aged 60+
app_literacy_60plus       chance a resident aged 60+ can file through an app, or instead
internet_use_60plus       internet use of the 60+, converted with APP_PER_INTERNET (CNNIC 2021, derived)
app_literacy_under60      chance a resident under 60 can file through an app
grids, grid_workers       grids of the community and grid workers in all (or one row per grid)
wkt | lat, lon | x, y     its outline as WKT ``POLYGON((x y, ...))`` in planar units, or a point
source                    where the row's figures come from (kept as a comment in the scenario)
========================  ==========================================================================
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

MAX_ROW_ERRORS = 20
# Internet use of the 60+ to the chance of filing through an app: 0.25 / 0.43 (DOMAIN: CNNIC 2021 0.43
# internet use; 0.25 derived app filing) (A: the ratio is assumed to hold across communities).
APP_PER_INTERNET = 0.25 / 0.43
KM_PER_DEGREE = 111.32


def read_text_csv(path, row: str, **kwargs) -> pd.DataFrame:
    """A CSV of text cells (UTF-8, a byte-order mark allowed), or one DataError naming what is wrong:
    missing, empty, unreadable, or a header without rows (`row`: what one row stands for)."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", **kwargs)
    except FileNotFoundError:
        raise DataError(f"file not found: '{path}'") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"'{path}' is empty: expected a header row and one row per {row}") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DataError(f"'{path}' is not a readable UTF-8 CSV: {str(e).splitlines()[0]}") from None
    if df.empty:
        raise DataError(f"'{path}' has a header but no rows")
    return df


class DataError(ValueError):
    """Bad district or case data: the message names the file, the rows, the columns and the allowed values."""


def problems_message(origin: str, problems: list[str]) -> str:
    shown = problems[:MAX_ROW_ERRORS]
    more = len(problems) - len(shown)
    return (f"{origin}: {len(problems)} bad value(s):\n  " + "\n  ".join(shown)
            + (f"\n  … and {more} more" if more else ""))


# column: (kind, lower, upper, meaning) — the checks of the raw table
COLUMNS: dict[str, tuple[str, float | None, float | None, str]] = {
    "community": ("str", None, None, "the community's name"),
    "population": ("int", 10, 200_000, "residents"),
    "kind": ("kind", None, None, "community kind"),
    "subdistrict": ("int", 0, 1000, "subdistrict index"),
    "households": ("float", 1, 100_000, "households"),
    "buildings": ("float", 1, 10_000, "buildings"),
    "share_60plus": ("float", 0, 1, "share aged 60+"),
    "app_literacy_60plus": ("float", 0, 1, "chance"),
    "internet_use_60plus": ("float", 0, 1, "share"),
    "app_literacy_under60": ("float", 0, 1, "chance"),
    "phone_access": ("float", 0, 1, "chance"),
    "grids": ("int", 1, 20, "grids"),
    "grid_workers": ("float", 0, 200, "workers"),
    "initial_trust": ("float", 0, 1, "0–1"),
    "grid": ("str", None, None, "the grid's name (one row per grid)"),
    "wkt": ("wkt", None, None, "POLYGON((x y, ...)) or POINT(x y)"),
    "lat": ("float", -90, 90, "degrees"), "lon": ("float", -180, 180, "degrees"),
    "x": ("float", None, None, "planar"), "y": ("float", None, None, "planar"),
    "source": ("str", None, None, "where the figures come from"),
}
REQUIRED = ("community", "population")


# --------------------------------------------------------------------------------------------------
# Reading a table

def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """The rows of a CSV or GeoJSON file as strings, with the label of each row (line or feature number)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"district table not found: '{path}'")
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(f"'{path}' is not valid GeoJSON: {e}") from None
        feats = data.get("features") if isinstance(data, dict) else None
        if not feats:
            raise DataError(f"'{path}' holds no features: expected a GeoJSON FeatureCollection, one feature per community")
        rows = []
        for f in feats:
            props = {k: "" if v is None else str(v) for k, v in (f.get("properties") or {}).items()}
            props["wkt"] = _geojson_wkt(f.get("geometry"))
            rows.append(props)
        df = pd.DataFrame(rows).fillna("")
        df["_where"] = [f"feature {i}" for i in range(len(df))]
        return df, "feature"
    df = read_text_csv(path, "community", comment="#")
    # line numbers as an editor shows them (comment lines and the header come first)
    lines = [i + 1 for i, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines())
             if text.strip() and not text.lstrip().startswith("#")][1:]
    df["_where"] = [f"line {n}" for n in lines[:len(df)]]
    return df.map(str.strip), "line"


def _geojson_wkt(geom) -> str:
    if not geom:
        return ""
    t, c = geom.get("type"), geom.get("coordinates")
    if t == "Point":
        return f"POINT({c[0]} {c[1]})"
    if t == "Polygon":
        return "POLYGON((" + ", ".join(f"{x} {y}" for x, y, *_ in c[0]) + "))"
    if t == "MultiPolygon":   # the largest part stands for the community
        ring = max((p[0] for p in c), key=lambda r: abs(_area(r)))
        return "POLYGON((" + ", ".join(f"{x} {y}" for x, y, *_ in ring) + "))"
    return f"UNSUPPORTED {t}"


def parse_wkt(text: str) -> list[tuple[float, float]] | tuple[float, float]:
    """A WKT POLYGON (outer ring) as a list of points, or a POINT as one point; ValueError if neither."""
    m = re.fullmatch(r"\s*POLYGON\s*\(\s*\(([^()]*)\)\s*\)\s*", text, re.I | re.S)
    if m:
        pts = [tuple(float(v) for v in p.split()[:2]) for p in m.group(1).split(",")]
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]   # WKT closes the ring by repeating the first point
        if len(pts) < 3 or any(len(p) != 2 for p in pts):
            raise ValueError("a polygon needs at least 3 points")
        return pts
    m = re.fullmatch(r"\s*POINT\s*\(\s*([-\d.eE+]+)\s+([-\d.eE+]+)\s*\)\s*", text, re.I)
    if m:
        return float(m.group(1)), float(m.group(2))
    raise ValueError("not a POLYGON or POINT")


def _area(pts) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, list(pts[1:]) + [pts[0]]))


# --------------------------------------------------------------------------------------------------
# Rows → communities

def check_rows(df: pd.DataFrame, kinds: set[str], origin: str) -> list[str]:
    """Every problem of the raw table: unknown columns, missing values, values out of range."""
    cols = [c for c in df.columns if c != "_where"]
    unknown = [c for c in cols if c not in COLUMNS]
    if unknown:
        import difflib
        hints = [f"'{c}'" + (f" (did you mean '{h[0]}'?)" if (h := difflib.get_close_matches(c, list(COLUMNS), 1)) else "")
                 for c in unknown]
        raise DataError(f"{origin}: unknown column(s) {', '.join(hints)} (allowed: {', '.join(COLUMNS)})")
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise DataError(f"{origin}: missing column(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    problems = []
    for _, row in df.iterrows():
        where = row["_where"]
        for c in cols:
            kind, lo, hi, meaning = COLUMNS[c]
            v = row[c]
            if v == "":
                if c in REQUIRED:
                    problems.append(f"{where}, column '{c}': blank (required: {meaning})")
                continue
            if kind in ("int", "float"):
                try:
                    x = float(v)
                    if kind == "int" and x != int(x):
                        raise ValueError
                except ValueError:
                    problems.append(f"{where}, column '{c}': {v!r} is not {'a whole number' if kind == 'int' else 'a number'}")
                    continue
                if (lo is not None and x < lo) or (hi is not None and x > hi):
                    problems.append(f"{where}, column '{c}': {v} is out of range (allowed {lo} to {hi} {meaning})")
            elif kind == "kind" and v not in kinds:
                problems.append(f"{where}, column 'kind': unknown kind {v!r} (allowed: {', '.join(sorted(kinds))})")
            elif kind == "wkt":
                try:
                    parse_wkt(v)
                except ValueError as e:
                    problems.append(f"{where}, column 'wkt': {v[:40]!r} is not usable ({e}; allowed: POLYGON((x y, ...)) or POINT(x y))")
    if "lat" in cols or "lon" in cols:
        for _, row in df.iterrows():
            if (row.get("lat", "") == "") != (row.get("lon", "") == ""):
                problems.append(f"{row['_where']}, columns 'lat'/'lon': give both or neither")
    return problems


def _point_square(x: float, y: float, residents: int, density: float = 20_000.0) -> list[tuple[float, float]]:
    """A square around a point with the community's area at `density` residents per km² (A), for the map."""
    h = math.sqrt(residents / density) / 2
    return [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)]


def communities_from_rows(df: pd.DataFrame, residents_per_grid: int = 1000) -> tuple[list[dict], list[str]]:
    """Community entries for `population.communities` (one per community, grid rows summed) and
    their sources."""
    num = lambda v: float(v) if v != "" else None  # noqa: E731
    has = lambda c: c in df.columns  # noqa: E731
    lat0 = df["lat"].replace("", None).dropna().astype(float).mean() if has("lat") else 0.0
    lon0 = df["lon"].replace("", None).dropna().astype(float).mean() if has("lon") else 0.0
    out, sources = [], []
    for name, rows in df.groupby("community", sort=False):
        first = rows.iloc[0]
        pop = int(sum(float(v) for v in rows["population"]))
        per_grid_rows = has("grid") and (rows["grid"] != "").any()
        grids = len(rows) if per_grid_rows else int(num(first.get("grids", "")) or max(1, round(pop / residents_per_grid)))
        entry: dict[str, Any] = {"name": str(name)}
        if has("kind") and first["kind"]:
            entry["kind"] = first["kind"]
        if has("subdistrict") and first["subdistrict"]:
            entry["subdistrict"] = int(float(first["subdistrict"]))
        entry["grids"] = grids
        entry["residents_per_grid"] = max(10, round(pop / grids))

        def total(col):
            vals = [num(v) for v in rows[col]] if has(col) else []
            return sum(v for v in vals if v is not None) if vals and all(v is not None for v in vals) else None

        def mean(col):  # weighted by population over the rows that give it
            if not has(col):
                return None
            pairs = [(num(v), float(p)) for v, p in zip(rows[col], rows["population"]) if v != ""]
            return round(sum(v * p for v, p in pairs) / sum(p for _, p in pairs), 4) if pairs else None

        households, buildings, workers = total("households"), total("buildings"), total("grid_workers")
        if households:
            entry["household_size"] = round(min(6.0, max(1.0, pop / households)), 3)
            if buildings:
                entry["households_per_building"] = max(1, min(400, round(households / buildings)))
        if workers is not None:
            entry["grid_workers_per_grid"] = round(workers / grids, 3)
        for col in ("share_60plus", "app_literacy_60plus", "app_literacy_under60", "phone_access", "initial_trust"):
            v = mean(col)
            if v is not None:
                entry[col] = v
        if "app_literacy_60plus" not in entry and (v := mean("internet_use_60plus")) is not None:
            entry["app_literacy_60plus"] = round(min(1.0, v * APP_PER_INTERNET), 4)
        polygon = _polygon(rows, pop, lat0, lon0)
        if polygon:
            entry["polygon"] = [[round(float(x), 4), round(float(y), 4)] for x, y in polygon]
        out.append(entry)
        sources.append("; ".join(sorted({s for s in rows["source"] if s})) if has("source") else "")
    return out, sources


def _polygon(rows: pd.DataFrame, pop: int, lat0: float, lon0: float):
    """The community's outline: its WKT polygon (grid rows: the first one given), else a square around
    its point (WKT POINT, x/y, or lat/lon projected on a plane in km around the district's centre)."""
    for _, r in rows.iterrows():
        if r.get("wkt", ""):
            shape = parse_wkt(r["wkt"])
            if isinstance(shape, list):
                return shape
            return _point_square(*shape, pop)
        if r.get("x", "") != "" and r.get("y", "") != "":
            return _point_square(float(r["x"]), float(r["y"]), pop)
        if r.get("lat", "") != "":
            lat, lon = float(r["lat"]), float(r["lon"])
            return _point_square((lon - lon0) * KM_PER_DEGREE * math.cos(math.radians(lat0)),
                                 (lat - lat0) * KM_PER_DEGREE, pop)
    return None


def import_table(path: str | Path, *, name: str | None = None, extends: str = "baseline.yaml",
                 description: str = "", question: str = "") -> tuple[dict, str]:
    """The scenario data of a district table (validated), and its YAML text: the question it answers,
    then the sources as comments."""
    from sim.scenario import Scenario, ScenarioError, build_scenario, scenario_data
    path = Path(path)
    df, _ = read_table(path)
    try:
        base = build_scenario(scenario_data(extends), origin=extends)
    except ScenarioError as e:
        raise DataError(f"--extends: {e}") from None
    problems = check_rows(df, set(base.population.community_kinds), str(path))
    if problems:
        raise DataError(problems_message(str(path), problems))
    names = [n for n in df["community"]]
    if "grid" not in df.columns or (df["grid"] == "").all():
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DataError(f"{path}: community names must be unique (repeated: {', '.join(dup)}); "
                            "for one row per grid add a 'grid' column")
    comms, sources = communities_from_rows(df, base.population.residents_per_grid)
    subdistricts = 1 + max(c.get("subdistrict", 0) for c in comms)
    data = {"extends": extends, "name": name or path.stem,
            "description": description or f"The district of {path.name}: {len(comms)} communities",
            "population": {"subdistricts": subdistricts, "communities": comms}}
    merged = scenario_data(extends)
    merged = {**merged, **{k: v for k, v in data.items() if k != "extends"},
              "population": {**merged.get("population", {}), **data["population"]}}
    for k in ("communities_per_subdistrict", "mix"):
        merged["population"].pop(k, None)
    try:
        scen = build_scenario(merged, origin=str(path))
    except ScenarioError as e:
        # a derived value out of the schema's range: say which community (row) it came from
        raise DataError(_locate(str(e), comms, df)) from None
    assert isinstance(scen, Scenario)
    body = yaml.dump(data, Dumper=_FlowPoints, sort_keys=False, allow_unicode=True, width=120)
    header = [f"# {question or f'How is the district of {path.name} served, community by community?'}",
              f"# Imported by `govsim district import {path.name}`: {len(comms)} communities, "
              f"{scen.n_residents:,} residents, {scen.n_grids} grids.", "# Sources by community:"]
    header += [f"#   {c['name']}: {s or 'not given'}" for c, s in zip(comms, sources)]
    return data, "\n".join(header) + "\n" + body


class _FlowPoints(yaml.SafeDumper):
    """Writes a list of numbers (a point) on one line, so a polygon reads as one point per line."""

    def represent_list(self, data):
        flow = bool(data) and all(isinstance(v, (int, float)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowPoints.add_representer(list, _FlowPoints.represent_list)


def _locate(msg: str, comms: list[dict], df: pd.DataFrame) -> str:
    m = re.search(r"population\.communities\.(\d+)", msg)
    if not m:
        return msg
    name = comms[int(m.group(1))]["name"]
    where = ", ".join(df["_where"][df["community"] == name])
    return f"{msg}\n  (community '{name}', {where})"


def district_residents(district) -> dict[str, int]:
    """Residents of each community of a district scenario (a name, a path or a Scenario), by name."""
    from sim.scenario import Scenario, ScenarioError, load_scenario, resolved_communities
    if district is None:
        raise DataError("a district is needed to know each community's residents: pass --district SCENARIO")
    if not isinstance(district, Scenario):
        try:
            district = load_scenario(district)
        except ScenarioError as e:
            raise DataError(str(e)) from None
    comms = resolved_communities(district)
    names = [c.name for c in comms]
    if len(set(names)) != len(names):
        raise DataError("the district's communities need unique names (population.communities[].name)")
    return {c.name: c.grids * c.residents_per_grid for c in comms}
