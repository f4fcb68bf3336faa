"""Observed indicators from a case export: exact values on hand-made records, the shipped synthetic
export read through its mapping, and one clear message for every kind of bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.caselog import CANONICAL_COLUMNS, case_export
from sim.cli import app
from sim.district import DataError
from sim.observe import (Mapping, canonical_cases, indicators, load_mapping, observe, read_cases, to_export)
from sim.scenario import SCENARIO_DIR, load_scenario

DATA = SCENARIO_DIR / "data"
CASES, MAP = DATA / "district_example_cases.csv", DATA / "district_example_cases_map.yaml"


def records(rows):
    cols = list(CANONICAL_COLUMNS)
    raw = pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols).fillna("")
    return canonical_cases(raw.astype(str), Mapping.identity(), ["A", "B"])


ROWS = [  # case_id, contact, category, channel, community, grid, age, dispatched, dept, closed, outcome, callback
    ("1", "2025-01-01 08:00", "market", "hotline", "A", "0", "60+", "yes", "m", "2025-01-02 08:00", "resolved", "satisfied"),
    ("2", "2025-01-10 08:00", "market", "app", "A", "0", "under60", "yes", "m", "2025-01-20 08:00", "unresolved", "dissatisfied"),
    ("3", "2025-02-01 08:00", "housing", "hotline", "B", "1", "", "no", "", "2025-02-01 09:00", "resolved", "basically_satisfied"),
    ("4", "2025-02-05 08:00", "housing", "hotline", "B", "1", "60+", "yes", "h", "", "open", ""),
]


def test_indicators_of_hand_made_records():
    cases = records(ROWS)
    period = (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-01"))    # 59 days
    ind = indicators(cases, {"A": 1000, "B": 3000}, period).set_index(["indicator", "scope", "group"])
    ry = 4000 * 59 / 365
    assert ind.loc[("contacts_per_resident_year", "district", "all"), "value"] == pytest.approx(4 / ry)
    assert ind.loc[("dispatched_per_resident_year", "district", "all"), "value"] == pytest.approx(3 / ry)
    assert ind.loc[("contacts_per_resident_year", "community", "A"), "value"] == pytest.approx(2 / (1000 * 59 / 365))
    assert ind.loc[("resolution_rate", "district", "all"), "value"] == pytest.approx(2 / 3)   # the open case is not closed
    assert ind.loc[("satisfaction_rate", "district", "all"), "value"] == pytest.approx(2 / 3)
    assert ind.loc[("median_days", "district", "all"), "value"] == pytest.approx(1.0)        # 1, 10, 1/24 days
    assert ind.loc[("within_7_days", "district", "all"), "value"] == pytest.approx(2 / 3)
    assert ind.loc[("hotline_share", "district", "all"), "value"] == pytest.approx(3 / 4)
    assert ind.loc[("app_share", "age_group", "under60"), "value"] == pytest.approx(1.0)
    assert ind.loc[("contacts_per_resident_year", "month", "2025-01"), "value"] == pytest.approx(2 / (4000 * 31 / 365))
    assert ind.loc[("contacts_per_resident_year", "category", "housing"), "value"] == pytest.approx(2 / ry)
    # standard errors: Poisson for counts, binomial for shares
    assert ind.loc[("contacts_per_resident_year", "district", "all"), "se"] == pytest.approx(2 / ry)
    assert ind.loc[("hotline_share", "district", "all"), "se"] == pytest.approx((0.75 * 0.25 / 4) ** 0.5)


def test_the_shipped_export_reads_through_its_mapping():
    ind, hist, info = observe(CASES, MAP, "district_example")
    assert 3000 <= info["cases"] <= 10000
    assert info["period"] == ["2025-01-01", "2025-05-01"]
    d = ind[ind["scope"] == "district"].set_index("indicator")["value"]
    assert 0.1 < d["contacts_per_resident_year"] < 1.0
    assert 0.0 < d["resolution_rate"] < 1.0
    assert set(ind[ind["scope"] == "community"]["group"]) == set(info["communities"])
    assert hist["cases"][hist["community"] == "all"].sum() == (ind.query("indicator == 'median_days' and scope == 'district'")["n"].iloc[0])


def test_the_export_and_the_mapping_are_inverse(tmp_path):
    from sim.caselog import write_export
    sc = load_scenario("mixed_district", {"run.steps": 40})
    frame = case_export(sc, seed=3)
    mapping = load_mapping(MAP)
    write_export(to_export(frame, mapping), tmp_path / "x.csv")
    back = read_cases(tmp_path / "x.csv", mapping, ["community 0", "community 1", "community 2", "community 3"])
    assert (back["closed_time"] - frame["closed_time"]).abs().max() < pd.Timedelta(minutes=1)
    for col in ("channel", "dispatched", "outcome", "satisfaction", "age_group", "community", "category"):
        assert list(back[col]) == list(frame[col].astype(str)), col


def test_observed_indicators_are_those_the_model_reports():
    """The export's dispatched cases per resident-year are the model's own calibration metric.
    Repeat calls are off: the export writes one row per case, so a re-opened case's earlier closure
    (which the model counts as a contact, as published data do) is not a row of its own (a known gap
    of the export, stated in docs/district.md)."""
    from sim.caselog import export_frame, run_with_log
    from sim.scenario import resolved_communities
    sc = load_scenario("mixed_district", {"run.steps": 60, "assessment.repeat_call_probability": 0.0})
    model, log = run_with_log(sc, [11])
    frame = export_frame(model, log)
    residents = {c.name: c.grids * c.residents_per_grid for c in resolved_communities(sc)}
    t0 = pd.Timestamp("2025-01-01")
    ind = indicators(frame, residents, (t0, t0 + pd.Timedelta(days=60))).set_index(["indicator", "scope"])
    assert ind.loc[("contacts_per_resident_year", "district"), "value"] == pytest.approx(
        model.summary()["dispatched_per_resident_year"], rel=0.01)
    # (not exact: the model counts a case as filed when it is sent, the export when it reaches the centre,
    # so the few sent on the last day and arriving after the period are counted only by the model)


def _write(tmp_path, text, name="cases.csv"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


HEAD = ",".join(CANONICAL_COLUMNS) + "\n"
GOOD = "1,2025-01-01 08:00,market,hotline,A,0,60+,yes,m,2025-01-02 08:00,resolved,satisfied\n"


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    (HEAD, "has a header but no rows"),
    (HEAD.replace("outcome", "result") + GOOD, "missing column(s) 'outcome'"),
    (HEAD.strip() + ",note\n" + GOOD.strip() + ",x\n", "unknown column(s) 'note'"),
    (HEAD + GOOD.replace(",A,", ",Z,"), "name communities the district does not have: 'Z' (the district's communities: A, B)"),
    (HEAD + GOOD + GOOD.replace("resolved,", "done,").replace("2025-01-01 08:00", "yesterday"),
     "line 3, column 'contact_time': 'yesterday'"),
    (HEAD + GOOD + GOOD.replace("resolved,", "done,"), "line 3, column 'outcome': 'done' (allowed: resolved, unresolved, escalated, open"),
    (HEAD + GOOD.replace("2025-01-02", "2024-12-31"), "line 2, column 'closed_time': '2024-12-31 08:00' (closes before its contact time)"),
    (HEAD + GOOD.replace(",yes,", ",maybe,"), "line 2, column 'dispatched': 'maybe' (allowed: yes, no"),
])
def test_bad_exports_give_one_clear_message(tmp_path, text, message):
    f = _write(tmp_path, text)
    with pytest.raises(DataError) as e:
        read_cases(f, Mapping.identity(), ["A", "B"])
    assert message in str(e.value)


def test_the_cli_refuses_bad_input_with_exit_2_and_writes_nothing(tmp_path):
    district = tmp_path / "d.yaml"
    district.write_text("extends: baseline.yaml\npopulation:\n  communities:\n    - {name: A}\n    - {name: B}\n",
                        encoding="utf-8")
    f = _write(tmp_path, HEAD + GOOD.replace(",A,", ",Z,"))
    out = tmp_path / "obs"
    r = CliRunner().invoke(app, ["observe", str(f), "-d", str(district), "-o", str(out)])
    assert r.exit_code == 2 and r.output.startswith("error:") and "'Z'" in r.output
    assert not out.exists()
    m = _write(tmp_path, "columns: {case_idd: id}\n", "map.yaml")
    r = CliRunner().invoke(app, ["observe", str(f), "-d", str(district), "-m", str(m), "-o", str(out)])
    assert r.exit_code == 2 and "unknown canonical column 'case_idd'" in r.output
    assert not out.exists()


def test_the_cli_writes_indicators_with_their_provenance(tmp_path):
    out = tmp_path / "obs"
    r = CliRunner().invoke(app, ["observe", str(CASES), "-d", "district_example", "-m", str(MAP), "-o", str(out)])
    assert r.exit_code == 0, r.output
    ind = pd.read_csv(out / "indicators.csv")
    assert {"indicator", "scope", "group", "value", "se", "n"} <= set(ind.columns)
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["kind"] == "observe" and man["records"] == len(pd.read_csv(CASES)) and "versions" in man
