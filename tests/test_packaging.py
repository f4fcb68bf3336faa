"""The built wheel (not the editable checkout) ships the model, the view, the shipped scenarios and
the experiment files, and `govsim` works from it in any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for top in ("sim", "viz") for p in (REPO / top).rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's packages: {sorted(found - listed)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = out.glob("govsim-*.whl")
    return whl


def test_the_wheel_ships_scenarios_and_experiments(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in (REPO / "scenarios").glob("*.yaml"):
        assert f"govsim_data/scenarios/{p.name}" in names
    for p in (REPO / "experiments").glob("*.yaml"):
        assert f"govsim_data/experiments/{p.name}" in names
    for pkg in ("sim/model.py", "sim/mechanisms/handling.py", "sim/experiments/sweep.py", "viz/app.py"):
        assert pkg in names


def test_govsim_runs_from_the_wheel_in_any_directory(wheel, tmp_path):
    """The wheel unpacked ahead of the checkout on sys.path: `govsim scenarios` lists the shipped
    scenarios and `govsim run baseline` runs, from a directory that has no scenarios/."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import sim; print(sim.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    listed = subprocess.run([sys.executable, "-m", "sim.cli", "scenarios"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "baseline" in listed.stdout and "mixed_district" in listed.stdout
    run = subprocess.run([sys.executable, "-m", "sim.cli", "run", "baseline", "--set", "run.steps=20",
                          "--replications", "1", "--out", str(work / "out")], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (work / "out" / "summary.csv").is_file()
