"""govsim brief: renders in both languages with every scenario and every indicator present."""

from __future__ import annotations

import re
import shutil

import pytest
from typer.testing import CliRunner

import sim.cli as cli
from sim.brief import HEADLINE, TEXT, render
from sim.metrics import E_LABELS_ZH, METRICS

SCENARIO = """\
name: small
population: {communities_per_subdistrict: 2, grids_per_community: 3, residents_per_grid: 150}
run: {steps: 40, replications: 3}
"""


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    d = tmp_path_factory.mktemp("brief")
    files = []
    for name, extra in (("small", ""), ("elder", "policies: {elder_friendly: true}\n"),
                        ("shared", "policies: {share_joined: 1.0}\n")):
        p = d / f"{name}.yaml"
        p.write_text(SCENARIO.replace("name: small", f"name: {name}") + extra, encoding="utf-8")
        files.append(str(p))
    out = d / "cmp"
    res = CliRunner().invoke(cli.app, ["compare", *files, "--out", str(out), "--no-figures"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_brief_holds_every_scenario_and_indicator_in_its_language(comparison, lang):
    page = render(comparison, lang)
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in page
    for name in ("small", "elder", "shared"):
        assert name in page
    for m in METRICS:   # the appendix lists every indicator, in the brief's language
        assert (m.label_zh if lang == "zh" else m.label).replace("&", "&amp;") in page, m.name
    for e in HEADLINE:
        assert (E_LABELS_ZH[e] if lang == "zh" else e) in page
    for key in ("question", "options", "tradeoffs", "who", "robustness", "cost", "limits"):
        assert TEXT[key][lang] in page
    assert not re.search(r"\{[a-z_]+\}", page)       # no template left unfilled
    if lang == "zh":
        assert "Indicator" not in page and "Status quo" not in page and " vs " not in page


def test_the_brief_command_writes_html_and_refuses_a_directory_without_a_comparison(comparison, tmp_path):
    out = tmp_path / "b.html"
    res = CliRunner().invoke(cli.app, ["brief", str(comparison), "--lang", "zh", "--out", str(out), "--no-pdf"])
    assert res.exit_code == 0, res.output
    assert "决策简报" in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(cli.app, ["brief", str(tmp_path)])
    assert res.exit_code == 2 and res.stderr.startswith("error:") and "comparison" in res.stderr


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium prints the PDF")
def test_the_brief_prints_to_a_one_page_brief_plus_appendix(comparison, tmp_path):
    res = CliRunner().invoke(cli.app, ["brief", str(comparison), "--out", str(tmp_path / "b.html")])
    assert res.exit_code == 0, res.output
    pdf = (tmp_path / "b.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2   # the brief, then the appendix of every indicator


def test_the_brief_states_the_residents_of_communities_listed_one_by_one(tmp_path):
    """A district of listed communities of different sizes (as an imported district): the brief
    gives its residents as the runs counted them (2 × 100 + 1 × 250 = 450), not from the
    population's uniform-structure fields."""
    files = []
    for name, extra in (("listed", ""), ("trained", "policies: {training_level: 1.0}\n")):
        p = tmp_path / f"{name}.yaml"
        p.write_text(f"name: {name}\npopulation:\n  communities:\n    - {{grids: 2, residents_per_grid: 100}}\n"
                     f"    - {{grids: 1, residents_per_grid: 250}}\nrun: {{steps: 20, replications: 2}}\n" + extra,
                     encoding="utf-8")
        files.append(str(p))
    out = tmp_path / "cmp"
    res = CliRunner().invoke(cli.app, ["compare", *files, "--out", str(out), "--no-figures"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "450 residents" in render(out, "en") and "辖区居民450人" in render(out, "zh")
