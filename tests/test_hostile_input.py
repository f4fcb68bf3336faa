"""Hostile and malformed input: one ``error:`` line, exit code 2, no traceback, no hang, nothing written.

The named cases are the classes of input that crashed or hung govsim (issue 11); the property tests at
the end generate malformed scenario files, experiment files and --set values from a seed (a few hundred
in a normal run, thousands with ``-m slow``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim.cli as cli

MAX_MESSAGE = 4000  # characters of an error message: whatever the input, the message stays short
pytestmark = pytest.mark.timeout(120)


def call(*args) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def files_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_refused(code: int, out: str, err: str, *, contains: str = "") -> None:
    assert code == 2, (code, out[-500:], err[-2000:])
    assert err.startswith("error: "), err[:500]
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1, err[:2000]
    assert "Traceback" not in err and "Traceback" not in out
    assert len(err) < MAX_MESSAGE, f"{len(err)} characters: {err[:300]}..."
    assert contains in err, err[:1000]


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Work in an empty directory and check at the end that nothing was written there."""
    monkeypatch.chdir(tmp_path)
    before = files_in(tmp_path)
    yield tmp_path
    assert files_in(tmp_path) - before <= {"in.yaml", "e.yaml"} | {f"c{i}.yaml" for i in range(2000)}


def scenario(here: Path, text: str | bytes, name: str = "in.yaml") -> Path:
    p = here / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


# --------------------------------------------------------------------------------------------------
# Scenario files

def test_non_utf8_bytes(here):
    p = scenario(here, b"name: caf\xe9\npolicies: {training_level: 0.5}\n")
    assert_refused(*call("validate", p), contains="UTF-8")
    assert_refused(*call("run", p), contains="UTF-8")


def test_nesting_deeper_than_the_schema(here):
    p = scenario(here, "policies: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_refused(*call("validate", p), contains="deep")
    p = scenario(here, "policies:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1500)))
    assert_refused(*call("validate", p))


def test_a_long_extends_chain(here):
    for i in range(1000):
        scenario(here, f"extends: c{i + 1}.yaml\n" if i < 999 else "name: end\n", f"c{i}.yaml")
    assert_refused(*call("validate", here / "c0.yaml"), contains="extends")


def test_integers_with_thousands_of_digits(here):
    p = scenario(here, "run:\n  seed: " + "7" * 5000 + "\n")
    assert_refused(*call("validate", p), contains="run.seed")
    assert_refused(*call("validate", "baseline", "--set", "run.seed=" + "7" * 5000), contains="--set")
    assert_refused(*call("run", "baseline", "--seed", "7" * 5000))


@pytest.mark.parametrize("text", ['extends: ""\n', "extends: ' '\n", "extends: .\n"])
def test_empty_extends(here, text):
    assert_refused(*call("validate", scenario(here, text)), contains="extends")


def test_empty_file_name(here):
    assert_refused(*call("validate", ""))
    assert_refused(*call("run", ""))


def test_alias_bomb_does_not_hang(here):
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    t = time.monotonic()
    p = scenario(here, "policies:\n" + "\n".join("  " + b for b in bomb) + "\n")
    assert_refused(*call("validate", p))
    assert time.monotonic() - t < 30


def test_many_aliases_give_a_short_message(here):
    lines = ["x: &x [1, 2, 3]", "policies:", "  training_level: [" + ", ".join(["*x"] * 50_000) + "]"]
    assert_refused(*call("validate", scenario(here, "\n".join(lines) + "\n")))


def test_a_long_string_is_not_echoed_whole(here):
    p = scenario(here, "policies:\n  training_level: '" + "x" * 100_000 + "'\n")
    assert_refused(*call("validate", p), contains="policies.training_level")


def test_a_huge_population_is_refused_with_a_memory_estimate(here):
    p = scenario(here, "population: {subdistricts: 20, communities_per_subdistrict: 40, grids_per_community: 20, "
                       "residents_per_grid: 5000}\n")  # 80 million residents
    assert_refused(*call("run", p, "--no-figures"), contains="GB")


def test_a_sweep_too_big_for_memory_is_refused_before_anything_is_written(here):
    """The sweep's largest point (its population factors at their largest) times a batch of
    replications, in every worker, must fit; the estimate is given, and no sweep directory appears."""
    p = experiment(here, factors={"population.residents_per_grid": {"levels": [1000, 5000]}},
                   settings={"population.subdistricts": 20, "population.communities_per_subdistrict": 40,
                             "population.grids_per_community": 20})   # up to 80 million residents a run
    assert_refused(*call("sweep", str(p), "--workers", "2"), contains="GB")
    assert not (here / "runs").exists()


def test_bad_set_value_names_the_set(here):
    assert_refused(*call("validate", "baseline", "--set", "policies.training_level=lots"), contains="--set")


# --------------------------------------------------------------------------------------------------
# Experiment files and the sweep options

def experiment(here: Path, **kw) -> Path:
    data = {"base": "baseline.yaml", "factors": {"staffing.grid_workers_per_grid": {"levels": [1, 2]}},
            "design": "full_factorial", "replications": 1}
    data.update(kw)
    p = here / "e.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("factor", ["staffing.grid_workers_per_grid", "policies.training_level"])
def test_nan_factor_levels(here, factor):
    p = experiment(here, factors={factor: {"levels": [float("nan"), 1]}})
    assert_refused(*call("sweep", p, "--dry-run"), contains="level")


def test_nan_bounds(here):
    p = experiment(here, factors={"policies.training_level": {"bounds": [0, float("nan")]}},
                   design={"method": "latin", "n": 50})
    assert_refused(*call("sweep", p, "--dry-run"), contains="bounds")


def test_a_step_so_small_the_grid_cannot_be_held(here):
    p = experiment(here, factors={"policies.training_level": {"bounds": [0, 1], "step": 1e-15}},
                   design={"method": "latin", "n": 50})
    assert_refused(*call("sweep", p, "--dry-run"), contains="step")


def test_cluster_nonsense(here):
    assert_refused(*call("sweep", experiment(here), "--cluster", "nonsense"), contains="--cluster")


def test_chunk_size_zero(here):
    assert_refused(*call("sweep", experiment(here), "--chunk-size", "0"), contains="--chunk-size")


@pytest.mark.parametrize("method,n", [("latin", 12), ("latin", 20), ("latin", 40), ("rbd_fast", 30), ("rbd_fast", 43)])
def test_sensitivity_refuses_designs_too_small_to_estimate(here, method, n):
    data = {"model": "ishigami", "factors": {"x1": None, "x2": None, "x3": None},
            "design": {"method": method, "n": n}, "replications": 1, "seed": 3}
    p = here / "e.yaml"
    p.write_text(yaml.safe_dump(data))
    assert_refused(*call("sensitivity", p, "--no-progress"), contains="at least")


# --------------------------------------------------------------------------------------------------
# Generated malformed input

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=30), st.just("7" * 5000), st.just(float("inf")))
KEYS = st.sampled_from(["run", "population", "demand", "policies", "staffing", "routing", "timeline", "shocks",
                        "extends", "name", "seed", "steps", "categories", "departments", "share", "training_level",
                        "residents_per_grid", "set", "day", "market", "x"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=25)
DOCUMENTS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=5)
BROKEN_TEXT = st.one_of(st.binary(max_size=200), st.text(max_size=200),
                        st.sampled_from(["a: [", "{", "- - -", "a: *b", "!!python/object:os.system x", "\t\tx: y",
                                         "a: &a [*a]", "%YAML 9.9\n---\nx: 1", "a: b: c"]))


def _outcome_ok(code, out, err):
    """Generated input may be valid (exit 0) or refused (exit 2); never anything else."""
    assert code in (0, 2), (code, err[-2000:])
    assert "Traceback" not in err + out
    assert len(err) < MAX_MESSAGE
    if code == 2:
        assert err.startswith("error: ") and sum(x.startswith("error:") for x in err.splitlines()) == 1, err[:500]


FUZZ = settings(max_examples=int(os.environ.get("GOVSIM_FUZZ_EXAMPLES", "100")), deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(doc=DOCUMENTS)
def test_generated_scenario_documents(tmp_path_factory, doc):
    d = tmp_path_factory.mktemp("fuzz")
    p = d / "in.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _outcome_ok(*call("validate", p))


@FUZZ
@given(text=BROKEN_TEXT)
def test_generated_broken_yaml(tmp_path_factory, text):
    d = tmp_path_factory.mktemp("fuzz")
    p = d / "in.yaml"
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    _outcome_ok(*call("validate", p))


@FUZZ
@given(path=st.sampled_from(["run.seed", "run.steps", "policies.training_level", "demand.categories.market.share",
                             "staffing.departments", "policies", "x.y", "", "run", "timeline"]),
       value=st.one_of(st.text(max_size=40), st.just("7" * 5000), st.just("[" * 3000), st.just("&a [*a]"),
                       st.just("nan"), st.just("-.inf"), st.just("{a: 1}")))
def test_generated_set_values(path, value):
    _outcome_ok(*call("validate", "baseline", "--set", f"{path}={value}"))


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(["name", "base", "model", "factors", "design", "replications", "seed",
                                            "outcomes", "settings", "max_runs", "analysis", "bogus"]),
                           VALUES, min_size=1, max_size=6))
def test_generated_experiment_documents(tmp_path_factory, doc):
    d = tmp_path_factory.mktemp("fuzz")
    p = d / "e.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    before = files_in(d)
    _outcome_ok(*call("sweep", p, "--dry-run"))
    assert files_in(d) == before


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_thousands_of_generated_inputs(request):
    """The same properties over many more cases (``pytest -m slow``)."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("thousands of cases: run with -m slow")
    import subprocess
    import sys
    env = {**os.environ, "GOVSIM_FUZZ_EXAMPLES": "3000"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "generated"],
                       env=env, capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-3000:]
