"""Bilingual labels declared beside the parameters, and terminal tables that fit 80 columns."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import sim.cli as cli
import sim.scenario as scenario_module
from sim.metrics import METRICS
from sim.output import comparison_frame
from sim.runner import summarise
from sim.scenario import RunSettings, Scenario, Section, param_table, section_title_zh

HAN = range(0x4E00, 0xA000)   # CJK unified ideographs


def _has_chinese(text: str) -> bool:
    return any(ord(ch) in HAN for ch in text)


# --------------------------------------------------------------------------------------------------
# Chinese labels of the parameters

def test_every_parameter_path_has_a_chinese_label():
    rows = [cli.check_path(f"run.{k}") for k in RunSettings.model_fields] + param_table()
    missing = [p.path for p in rows if not p.zh.strip()]
    assert not missing, f"parameters without a zh label (add zh=... beside them): {missing}"
    assert all(_has_chinese(p.zh) for p in rows)


def _section_classes():
    return [c for c in vars(scenario_module).values()
            if isinstance(c, type) and issubclass(c, Section) and c is not Section]


def test_every_declared_parameter_field_has_a_chinese_label():
    # Also the fields param_table does not reach from the default scenario (listed communities,
    # timeline changes, shocks): a number or a switch declared anywhere in the schema needs a label.
    missing = []
    for cls in _section_classes():
        for name, field in cls.model_fields.items():
            extra = field.json_schema_extra or {}
            is_param = "unit" in extra or field.annotation in (bool, int, float) or name in {
                "service_distribution"}
            if is_param and not str(extra.get("zh", "")).strip():
                missing.append(f"{cls.__name__}.{name}")
    assert not missing, missing


def test_every_section_has_a_chinese_title():
    assert not [c.__name__ for c in _section_classes() if not _has_chinese(c.title_zh)]
    for section in Scenario.model_fields:
        if isinstance(getattr(Scenario(), section), Section):
            assert _has_chinese(section_title_zh(section)), section
    assert section_title_zh("policies") == "治理政策" and section_title_zh("no_such_section") == ""


def test_labels_come_from_the_declaration():
    info = cli.check_path("policies.whistle_and_report")
    assert info.zh == "吹哨报到"
    assert cli.check_path("run.seed").zh == "随机种子"


def test_params_shows_both_languages():
    runner = CliRunner()
    res = runner.invoke(cli.app, ["params", "--section", "policies"], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "policies.whistle_and_report" in res.stdout and "吹哨报到" in res.stdout
    assert "治理政策" in res.stdout   # the section's title
    res = runner.invoke(cli.app, ["params", "--section", "policies"], env={"COLUMNS": "80"})
    assert res.exit_code == 0 and max(len(line) for line in res.stdout.splitlines()) <= 80
    assert "policies.whistle_and_report  吹哨报到" in res.stdout   # path and label on one line
    assert "the platform merges duplicate reports" in res.stdout and "治理政策" in res.stdout
    res = runner.invoke(cli.app, ["params", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and all(r["label_zh"] for r in rows)
    assert {r["path"]: r["label_zh"] for r in rows}["policies.elder_friendly"] == "适老化服务"
    res = runner.invoke(cli.app, ["params", "--format", "markdown", "--section", "staffing"])
    assert "| 中文 |" in res.stdout and "每网格网格员数" in res.stdout


def test_view_levers_carry_the_declared_chinese_labels():
    pytest.importorskip("solara")
    from viz.levers import lever_groups
    groups = lever_groups(Scenario())
    for lever in groups["Policy levers"] + groups["Grid workers"]:
        assert lever.label_zh == lever.info.zh and lever.label_zh
        assert lever.group_zh
    assert groups["Policy levers"][0].group_zh == "治理政策"


# --------------------------------------------------------------------------------------------------
# 80-column tables

def _summary(seed: int, n: int = 10) -> pd.DataFrame:
    # Small values whose intervals straddle 0 give the widest numbers format_number prints, as wide as
    # the widest of a real baseline run (mean 0.00411, interval -0.00891 to 0.0171: a signed gap).
    rng = np.random.default_rng(seed)
    data = {m.name: rng.normal(0.01, 0.015, n) for m in METRICS}
    return pd.DataFrame({"replication": np.arange(n), **data})


def _render(table, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text().splitlines()


def _check_fits(lines: list[str]) -> None:
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    wrapped = [m.label_short for m in METRICS if m.label_short not in text]
    assert not wrapped, f"labels wrapped at 80 columns (declare a shorter `short=` label): {wrapped}"
    for m in METRICS:   # the unit stays on the label's line
        line = next(line for line in lines if m.label_short in line)
        assert f"({m.unit})" in line, line


def test_run_table_fits_80_columns_without_wrapping():
    table = summarise(_summary(1))
    _check_fits(_render(cli.e_table(table, "4E indicators — baseline (mean and 95% interval over 10 replications)")))


def test_compare_table_fits_80_columns_without_wrapping():
    comp = comparison_frame("base", {"base": _summary(1), "other": _summary(2)})
    lines = _render(cli.comparison_table(comp, "base", ["other"]))
    _check_fits(lines)
    assert any("±" in line for line in lines)


def test_short_labels_are_short_and_only_where_needed():
    for m in METRICS:
        assert len(f"{m.label_short} ({m.unit})") <= 42, m.name
        if m.short:
            assert len(m.short) < len(m.label), m.name


def test_daily_series_and_departments_have_chinese_units_and_names():
    """The view's chart axes and department rows switch language: every daily series' unit and every
    shipped department has its Chinese form declared."""
    from sim.metrics import SERIES
    from sim.scenario import department_label, load_scenario
    assert all(s.unit_zh for s in SERIES)
    specs = load_scenario("baseline").staffing.departments
    names = [department_label(k, spec, "zh") for k, spec in specs.items()]
    assert all(n and "_" not in n and not n.isascii() for n in names)
    assert department_label("urban_management", specs["urban_management"], "en") == "urban management"
