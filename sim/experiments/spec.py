"""Experiment files: what is varied, by which design, how often, and what is measured.

An experiment file is YAML, validated like a scenario (unknown keys and paths are errors that name the
closest valid one)::

    name: sobol_levers                    # default: the file name
    description: which policy levers matter most for resolution time?
    model: govsim                         # default; `ishigami` is the test function
    base: baseline.yaml                   # scenario file: next to this file, then scenarios/
    settings: {run.steps: 180}            # fixed overrides for every run (never varied)
    factors:                              # dotted paths into the scenario schema
      policies.share_joined: {bounds: [0, 1]}          # sampled designs: bounds (+ dist, step)
      staffing.grid_workers_per_grid: {levels: [1, 2]}  # a grid: levels
      policies.training_level:                          # nothing: the schema's typical range
    # factors: all_numeric               # every numeric parameter of the base (see below)
    design: {method: sobol, n: 256, second_order: false}
    replications: 4                       # runs per point, each with its own seed
    seed: 20261122                        # default: the base scenario's run.seed
    outcomes: [median_days, satisfaction] # names from sim.metrics; default: all
    max_runs: 100000                      # refuse larger designs (a typo in n should not run for a week)
    analysis: {conf_level: 0.95, resamples: 200}

Factor ranges must lie within the schema's bounds. A factor given without bounds or levels uses the
schema's typical range (else its bounds). ``all_numeric`` (also as a mapping key, with ``exclude:``
glob patterns and explicit entries that override single factors) takes every numeric parameter of
the base scenario with its typical range; a parameter that has none varies ±50 % around its base
value, within the bounds (the full bounds, e.g. 0 to 10⁷ yuan, would say more about the bounds than
about the model). Parameters whose range holds a single value are left out, with a note.

Seeds: every random number of a sweep comes from ``seed`` through ``numpy.random.SeedSequence``
with a spawn key per purpose: (0,) draws the design, (1, point, replication) seeds each run, (2,)
seeds the bootstrap of the analysis. A run's seed therefore does not depend on the number of workers,
the back end, chunking or interruptions. With ``common_random_numbers: true`` the key is
(1, replication): replication r of every point shares one seed, so differences between points are
effects of the factors rather than noise.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.scenario import ScenarioError, build_scenario, read_yaml

from . import designs
from .errors import ExperimentError, did_you_mean
from .models import get_model
from .space import Factor, _plain

DISTS = ("uniform", "loguniform", "triangular")
SPECIAL_FACTOR_KEYS = ("all_numeric", "exclude")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactorSpec(_Strict):
    levels: list[Any] | None = None
    bounds: tuple[float, float] | None = None
    dist: str = "uniform"
    step: float | None = Field(None, gt=0)


class DesignSpec(_Strict):
    method: str
    n: int | None = Field(None, ge=1, description="sample size; its meaning depends on the method")
    second_order: bool = Field(False, description="Sobol': also estimate second-order indices")
    levels: int | None = Field(None, ge=2, description="Morris grid levels; factorial levels of bounded factors")
    M: int | None = Field(None, ge=1, description="FAST / RBD-FAST interference factor")
    policies: int | None = Field(None, ge=2, description="cross: a Latin hypercube of this many policies over the "
                                                          "levers (default: every combination of their levels)")


class AnalysisSpec(_Strict):
    conf_level: float = Field(0.95, gt=0, lt=1)
    resamples: int = Field(200, ge=10, le=100_000)


class ExperimentFile(_Strict):
    name: str | None = None
    description: str = ""
    model: str = "govsim"
    base: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    model_options: dict[str, Any] = Field(default_factory=dict)
    factors: Any = None
    levers: Any = None
    uncertainties: Any = None
    design: Any
    replications: int = Field(1, ge=1, le=10_000)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    common_random_numbers: bool = False
    outcomes: list[str] | None = None
    max_runs: int = Field(100_000, ge=1)
    chunk_size: int | None = Field(None, ge=1)
    from_state: str | None = None
    analysis: AnalysisSpec = AnalysisSpec()


def stream_seed(seed: int, *key: int) -> int:
    """A 32-bit seed for one purpose, derived from the experiment seed (see the module docstring)."""
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


@dataclass(frozen=True, eq=False)
class Experiment:
    """A validated, fully resolved experiment."""

    name: str
    description: str
    model: str
    base: str | None
    base_data: dict | None
    settings: dict
    model_options: dict
    factors: tuple[Factor, ...]
    method: str
    n: int | None
    second_order: bool
    num_levels: int | None
    M: int | None
    replications: int
    seed: int
    common_random_numbers: bool
    outcomes: tuple[str, ...]
    max_runs: int
    chunk_size: int | None
    conf_level: float
    resamples: int
    n_points: int
    source: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    from_state: dict | None = None   # every run branches from this saved state (sim.state.describe)
    levers: tuple[str, ...] = ()          # cross designs: what the planner controls ...
    uncertainties: tuple[str, ...] = ()   # ... and what they do not
    n_policies: int | None = None         # cross designs: point = policy × n_futures + future
    n_futures: int | None = None

    @property
    def crossed(self) -> bool:
        return self.method == "cross"

    def policy_of(self, point):
        return point // self.n_futures

    def future_of(self, point):
        return point % self.n_futures

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replications

    @property
    def model_obj(self):
        return get_model(self.model)

    @property
    def factor_paths(self) -> list[str]:
        return [f.path for f in self.factors]

    # -- seeds
    @property
    def design_seed(self) -> int:
        return stream_seed(self.seed, 0)

    @property
    def analysis_seed(self) -> int:
        return stream_seed(self.seed, 2) or 1  # SALib treats seed 0 as "no seed"

    def run_seed(self, point: int, replication: int) -> int:
        if self.from_state:   # replication k continues the state's run k, with its random streams
            return int(self.from_state["seeds"][replication])
        if self.crossed:  # every policy meets a future with the same draws: regret compares like with like
            return stream_seed(self.seed, 1, int(self.future_of(point)), replication)
        if self.common_random_numbers:
            return stream_seed(self.seed, 1, replication)
        return stream_seed(self.seed, 1, point, replication)

    # -- the design and the runs
    def sample_design(self):
        if self.crossed:
            by = {f.path: f for f in self.factors}
            return designs.cross([by[p] for p in self.levers], [by[p] for p in self.uncertainties], self.n,
                                 self.n_policies if self.policies_sampled else None, self.design_seed)
        return designs.sample(self.method, self.n, list(self.factors), self.design_seed,
                              **self._design_kw())

    policies_sampled: bool = False

    def _design_kw(self) -> dict:
        if self.method in ("full_factorial", "latin", "cross"):
            return {}
        if self.method == "sobol":
            return {"second_order": self.second_order}
        if self.method == "morris":
            return {"num_levels": self.num_levels}
        return {"M": self.M}

    def runner(self):
        model = self.model_obj
        options = model.options(**self.model_options)
        if self.from_state:
            return model.runner(self.base_data, self.settings, options, state=self.from_state["file"])
        return model.runner(self.base_data, self.settings, options)

    # -- identity and serialisation
    def design_dict(self) -> dict:
        d: dict[str, Any] = {"method": self.method}
        if self.n is not None:
            d["n"] = self.n
        if self.method == "sobol":
            d["second_order"] = self.second_order
        if self.num_levels is not None:
            d["levels"] = self.num_levels
        if self.M is not None:
            d["M"] = self.M
        if self.crossed and self.policies_sampled:
            d["policies"] = self.n_policies
        return d

    def identity(self) -> dict:
        """Everything that decides which runs are made and what they return (not names, outcomes or
        analysis settings, which can change without re-running)."""
        return {
            "model": self.model, "model_options": self.model_options, "base_data": self.base_data,
            "settings": self.settings,
            "factors": [{"path": f.path, "kind": f.kind, **f.to_dict(),
                         **({"default": _plain(f.default)} if f.dist == "triangular" else {})} for f in self.factors],
            "design": self.design_dict(), "replications": self.replications, "seed": self.seed,
            "common_random_numbers": self.common_random_numbers,
            **({"from_state": self.from_state["sha256"]} if self.from_state else {}),
            **({"levers": list(self.levers), "uncertainties": list(self.uncertainties)} if self.crossed else {}),
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_file_dict(self, base_ref: str | None) -> dict:
        """The resolved experiment as an experiment file (loading it gives the same fingerprint)."""
        out: dict[str, Any] = {"name": self.name, "description": self.description, "model": self.model}
        if base_ref is not None:
            out["base"] = base_ref
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.model_options:
            out["model_options"] = dict(self.model_options)
        if self.crossed:
            out["levers"] = {f.path: f.to_dict() for f in self.factors if f.path in self.levers}
            out["uncertainties"] = {f.path: f.to_dict() for f in self.factors if f.path in self.uncertainties}
        else:
            out["factors"] = {f.path: f.to_dict() for f in self.factors}
        out["design"] = self.design_dict()
        out.update(replications=self.replications, seed=self.seed,
                   common_random_numbers=self.common_random_numbers, outcomes=list(self.outcomes),
                   max_runs=self.max_runs)
        if self.chunk_size is not None:
            out["chunk_size"] = self.chunk_size
        if self.from_state:
            out["from_state"] = self.from_state["file"]
        out["analysis"] = {"conf_level": self.conf_level, "resamples": self.resamples}
        return out

    def plan_lines(self) -> list[str]:
        lines = [f"experiment {self.name}: {self.method} design, {len(self.factors)} factors, "
                 f"{self.n_points:,} points × {self.replications} replications = {self.n_runs:,} runs "
                 f"(model {self.model}, seed {self.seed})"]
        if self.crossed:
            lines[0] = (f"experiment {self.name}: {self.n_policies:,} policies × {self.n_futures:,} futures = "
                        f"{self.n_points:,} points × {self.replications} replications = {self.n_runs:,} runs "
                        f"(model {self.model}, seed {self.seed})")
        role = {p: "lever" for p in self.levers} | {p: "uncertainty" for p in self.uncertainties}
        lines += [f"  {f.path}: {f.describe()}" + (f"  [{role[f.path]}]" if f.path in role else "")
                  for f in self.factors]
        lines.append(f"  outcomes: {', '.join(self.outcomes)}")
        if self.from_state:
            lines.append(f"  from the state {self.from_state['file']} (day {self.from_state['day']}): every run "
                         "branches from it; replication k continues the state's run k")
        lines += [f"  note: {n}" for n in self.notes]
        return lines


# --------------------------------------------------------------------------------------------------
# Loading

def read_experiment_yaml(path: Path) -> dict:
    return read_yaml(Path(path), ExperimentError, "experiment", "a mapping (name, base, factors, design, ...)")


def load_experiment(path: str | Path) -> Experiment:
    """Read, validate and resolve an experiment file."""
    path = Path(path)
    data = read_experiment_yaml(path)
    exp = parse_experiment(data, origin=str(path), relative_to=path.parent, default_name=path.stem)
    return dataclasses.replace(exp, source=str(path))


def parse_experiment(data: dict, *, origin: str = "experiment", relative_to: Path | None = None,
                     default_name: str = "experiment") -> Experiment:
    try:
        return _parse(data, relative_to, default_name)
    except (ExperimentError, ScenarioError) as e:
        raise ExperimentError(f"invalid experiment '{origin}': {e}") from None


def _parse(data: dict, relative_to: Path | None, default_name: str) -> Experiment:
    allowed = list(ExperimentFile.model_fields)
    for key in data:
        if key not in allowed:
            raise ExperimentError(f"unknown key '{key}'{did_you_mean(key, allowed)} (allowed: {', '.join(allowed)})")
    if "factors" not in data and not ("levers" in data or "uncertainties" in data):
        raise ExperimentError("`factors` is required (dotted parameter paths, or `all_numeric`), or `levers` and "
                              "`uncertainties` for a cross design")
    if "design" not in data:
        raise ExperimentError(f"`design` is required (one of: {', '.join(designs.METHODS)})")
    try:
        spec = ExperimentFile.model_validate(data)
    except ValidationError as e:
        raise ExperimentError(_format_validation(e, model=ExperimentFile)) from None
    raw_design = {"method": spec.design} if isinstance(spec.design, str) else spec.design
    if not isinstance(raw_design, dict):
        raise ExperimentError(f"design: give a method name or a mapping (method, n, ...), not {spec.design!r}")
    try:
        design = DesignSpec.model_validate(raw_design)
    except ValidationError as e:
        raise ExperimentError(_format_validation(e, "design", DesignSpec)) from None
    method = designs.canonical_method(design.method)

    model = get_model(spec.model)
    base_ref = spec.base
    base_data = None
    if model.needs_base:
        base_ref = base_ref or model.default_base
        base_data = model.load_base(base_ref, relative_to)
    elif base_ref is not None:
        model.load_base(base_ref, relative_to)  # raises: this model takes no base
    ctx = model.context(base_data, dict(spec.settings))
    try:
        options = model.options(**spec.model_options)
    except ValidationError as e:
        raise ExperimentError(_format_validation(e, "model_options", model.options)) from None

    notes: list[str] = []
    crossed = method == "cross"
    if crossed:
        if spec.factors is not None:
            raise ExperimentError("a cross design takes `levers` (what the planner controls) and `uncertainties` "
                                  "(what they do not), not `factors`")
        if not spec.levers or not spec.uncertainties:
            raise ExperimentError("a cross design needs both `levers` and `uncertainties` (mappings of parameter paths)")
        if design.n is None:
            raise ExperimentError("design.n is required for a cross design (the number of futures sampled from the "
                                  "uncertainties, e.g. 32)")
        levers = _resolve_factors(spec.levers, model, ctx, "latin" if design.policies else "full_factorial",
                                  design, notes)
        uncertain = _resolve_factors(spec.uncertainties, model, ctx, "latin", design, notes)
        both = {f.path for f in levers} & {f.path for f in uncertain}
        if both:
            raise ExperimentError(f"'{sorted(both)[0]}' is both a lever and an uncertainty; keep one")
        factors = [*levers, *uncertain]
    else:
        if spec.levers is not None or spec.uncertainties is not None:
            raise ExperimentError(f"`levers` and `uncertainties` belong to a cross design (design: {{method: cross, "
                                  f"n: FUTURES}}), not to a {method} design; use `factors`")
        factors = _resolve_factors(spec.factors, model, ctx, method, design, notes)
    timeline_paths = {p: c.get("day") for c in (base_data or {}).get("timeline", []) for p in c.get("set", {})}
    for f in factors:
        if f.path in spec.settings:
            raise ExperimentError(f"'{f.path}' is both a factor and fixed in `settings`; keep one")
        if f.path in timeline_paths:
            notes.append(f"{f.path} is also changed by the base scenario's timeline (day {timeline_paths[f.path]}), "
                         "which overrides the factor's value from then on")

    if crossed:
        n_policies = design.policies or math.prod(len(f.levels) for f in levers)
        n_futures = design.n
        n_points = n_policies * n_futures
    else:
        if design.policies is not None:
            raise ExperimentError("design.policies applies to cross designs only")
        n_points = designs.check(method, design.n, factors, num_levels=design.levels if method == "morris" else None,
                                 M=design.M, second_order=design.second_order)
    runs = n_points * spec.replications
    if runs > spec.max_runs:
        raise ExperimentError(
            f"the design has {runs:,} runs ({n_points:,} points × {spec.replications} replications), more than "
            f"max_runs = {spec.max_runs:,}; lower design.n or replications, or raise max_runs if you mean it")

    outcomes = tuple(spec.outcomes) if spec.outcomes else tuple(model.outcomes)
    if not outcomes:
        raise ExperimentError("outcomes: give at least one")
    for o in outcomes:
        if o not in model.outcomes:
            raise ExperimentError(f"outcomes: unknown outcome '{o}'{did_you_mean(o, model.outcomes)} "
                                  f"(outcomes of model {model.name}: {', '.join(model.outcomes)})")
    seed = spec.seed if spec.seed is not None else model.default_seed(ctx)
    exp = Experiment(
        name=spec.name or default_name, description=spec.description, model=model.name, base=base_ref,
        base_data=base_data, settings=dict(spec.settings),
        model_options=options.model_dump(exclude_defaults=True), factors=tuple(factors), method=method,
        n=design.n, second_order=design.second_order,
        num_levels=(design.levels or designs.DEFAULT_MORRIS_LEVELS) if method == "morris" else None,
        M=(design.M or designs.DEFAULT_M[method]) if method in designs.DEFAULT_M else None,
        replications=spec.replications, seed=int(seed), common_random_numbers=spec.common_random_numbers,
        outcomes=outcomes, max_runs=spec.max_runs, chunk_size=spec.chunk_size,
        conf_level=spec.analysis.conf_level, resamples=spec.analysis.resamples, n_points=n_points,
        notes=tuple(notes),
        **({"levers": tuple(f.path for f in levers), "uncertainties": tuple(f.path for f in uncertain),
            "n_policies": n_policies, "n_futures": n_futures, "policies_sampled": design.policies is not None}
           if crossed else {}))
    if spec.from_state:
        path = Path(spec.from_state)
        if not path.is_absolute() and relative_to is not None and (relative_to / path).is_file():
            path = relative_to / path
        exp = with_state(exp, path)
    return exp


def with_state(exp: Experiment, path: str | Path) -> Experiment:
    """The experiment with every run branching from the saved state at `path` (checked: a govsim
    state of this version, enough runs for the replications, the world of the base scenario)."""
    import dataclasses

    from sim.state import StateError, describe, world_differences
    if exp.model != "govsim":
        raise ExperimentError(f"from_state: only the govsim model starts from a saved state (this is {exp.model})")
    try:
        info = describe(path)
        diffs = world_differences(build_scenario(_state_base(path)), exp.model_obj.context(exp.base_data, exp.settings))
    except StateError as e:
        raise ExperimentError(f"from_state: {e}") from None
    if diffs:
        raise ExperimentError(f"from_state: the base scenario builds another world than the state '{path}' holds: "
                              + "; ".join(diffs[:4]))
    if exp.replications > len(info["seeds"]):
        raise ExperimentError(f"from_state: {exp.replications} replications, but the state '{path}' holds "
                              f"{len(info['seeds'])} runs (replication k continues the state's run k)")
    return dataclasses.replace(exp, from_state=info)


def _state_base(path) -> dict:
    from sim.state import read_header
    return read_header(path)["base_scenario"]


def _format_validation(err: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """Pydantic's errors as one line: where, what, and for an unknown key the closest allowed one."""
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        where = ".".join(([prefix] if prefix else []) + loc)
        if e["type"] == "extra_forbidden":
            allowed = _fields_at(model, loc[:-1])
            lines.append(f"{where}: unknown key{did_you_mean(loc[-1], allowed)}"
                         + (f" (allowed: {', '.join(allowed)})" if allowed else ""))
        else:
            lines.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(dict.fromkeys(lines))


def _fields_at(model: type[BaseModel] | None, loc: list[str]) -> list[str]:
    for part in loc:
        if model is None:
            return []
        field = model.model_fields.get(part)
        ann = getattr(field, "annotation", None)
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return list(model.model_fields) if model is not None else []


# --------------------------------------------------------------------------------------------------
# Factors

def _factor_entries(raw, model, ctx) -> tuple[dict[str, Any], bool, list[str]]:
    """(explicit factor specs in file order, all_numeric, exclude patterns)."""
    if isinstance(raw, str):
        if raw.strip() == "all_numeric":
            return {}, True, []
        raise ExperimentError(f"factors: '{raw}' is not understood (give a mapping of parameter paths, or `all_numeric`)")
    if isinstance(raw, list):
        if not all(isinstance(p, str) for p in raw):
            raise ExperimentError("factors: a list must hold parameter paths only; use a mapping for levels or bounds")
        return {p: None for p in raw}, False, []
    if not isinstance(raw, dict) or not raw:
        raise ExperimentError("factors: give a mapping of parameter paths (or `all_numeric`)")
    entries = dict(raw)
    all_numeric = entries.pop("all_numeric", False)
    exclude = entries.pop("exclude", [])
    if not isinstance(all_numeric, bool):
        raise ExperimentError("factors.all_numeric: true or false")
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
        raise ExperimentError("factors.exclude: a list of parameter paths or glob patterns (e.g. 'costs.*')")
    if exclude and not all_numeric:
        raise ExperimentError("factors.exclude only applies with `all_numeric: true`")
    return entries, all_numeric, exclude


def _resolve_factors(raw, model, ctx, method: str, design: DesignSpec, notes: list[str]) -> list[Factor]:
    entries, all_numeric, exclude = _factor_entries(raw, model, ctx)
    infos = {path: model.param_info(str(path), ctx) for path in entries}
    factorial_levels = design.levels or designs.DEFAULT_FACTORIAL_LEVELS
    if not all_numeric:
        return [_resolve_one(infos[p], entries[p], method, factorial_levels) for p in entries]

    numeric = model.numeric_params(ctx)
    paths = [p.path for p in numeric]
    for pattern in exclude:
        if not any(fnmatch.fnmatchcase(p, pattern) for p in paths):
            raise ExperimentError(f"factors.exclude: '{pattern}' matches no numeric parameter"
                                  f"{did_you_mean(pattern, paths)}")
    out: list[Factor] = []
    for info in numeric:
        if info.path in entries:
            out.append(_resolve_one(info, entries[info.path], method, factorial_levels))
        elif not any(fnmatch.fnmatchcase(info.path, pat) for pat in exclude):
            lo, hi = _auto_range(info)
            if info.kind == "int":
                lo, hi = math.ceil(lo), math.floor(hi)
            if not hi > lo:
                notes.append(f"{info.path} left out: its range {lo:g} to {hi:g} holds one value")
                continue
            out.append(_resolve_one(info, {"bounds": [lo, hi]}, method, factorial_levels))
    out += [_resolve_one(infos[p], entries[p], method, factorial_levels) for p in entries if p not in paths]
    return out


def _auto_range(info) -> tuple[float, float]:
    """all_numeric: the typical range, else ±50 % around the base value within the schema's bounds."""
    if info.typical:
        return float(info.typical[0]), float(info.typical[1])
    lo = info.lower if info.lower is not None else -math.inf
    hi = info.upper if info.upper is not None else math.inf
    d = float(info.default)
    if d == 0:
        return float(lo), float(hi)
    a, b = sorted((0.5 * d, 1.5 * d))
    return max(a, lo), min(b, hi)


def _resolve_one(info, raw, method: str, factorial_levels: int) -> Factor:
    where = f"factor '{info.path}'"
    if raw is None:
        raw = {}
    elif isinstance(raw, list):
        raw = {"levels": raw}
    elif not isinstance(raw, dict):
        raise ExperimentError(f"{where}: give `levels: [...]` or `bounds: [low, high]` "
                              f"(got {raw!r}; to fix a value for every run use `settings:`)")
    try:
        spec = FactorSpec.model_validate(raw)
    except ValidationError as e:
        raise ExperimentError(_format_validation(e, f"factors.{info.path}", FactorSpec)) from None
    if spec.dist not in DISTS:
        raise ExperimentError(f"{where}: unknown dist '{spec.dist}'{did_you_mean(spec.dist, DISTS)} "
                              f"(dists: {', '.join(DISTS)})")
    common = {"path": info.path, "kind": info.kind, "default": info.default, "unit": info.unit}
    schema = _schema_range(info)

    if spec.levels is not None:
        if spec.bounds is not None:
            raise ExperimentError(f"{where}: give either levels or bounds, not both")
        levels = tuple(_check_level(info, v, where, schema) for v in spec.levels)
        if len(levels) < 1 or len(set(levels)) != len(levels):
            raise ExperimentError(f"{where}: levels must be distinct and at least one")
        return Factor(levels=levels, **common)
    if info.kind == "bool":
        if spec.bounds is not None:
            raise ExperimentError(f"{where} is true/false: give `levels: [false, true]` (or nothing), not bounds")
        return Factor(levels=(False, True), **common)
    if info.kind == "str":
        raise ExperimentError(f"{where} is text: give its `levels`")

    if spec.bounds is not None:
        lo, hi = float(spec.bounds[0]), float(spec.bounds[1])
        if (info.lower is not None and lo < info.lower) or (info.upper is not None and hi > info.upper):
            raise ExperimentError(f"{where}: bounds [{lo:g}, {hi:g}] lie outside the schema's range {schema}")
    elif info.typical:
        lo, hi = float(info.typical[0]), float(info.typical[1])
    elif info.lower is not None and info.upper is not None:
        lo, hi = float(info.lower), float(info.upper)
    else:
        raise ExperimentError(f"{where} has no typical range nor bounds in the schema: give `bounds: [low, high]`")
    if not hi > lo:
        raise ExperimentError(f"{where}: bounds [{lo:g}, {hi:g}] are empty (the first must be below the second)")
    if spec.dist == "loguniform" and lo <= 0:
        raise ExperimentError(f"{where}: a loguniform range must be above zero (got [{lo:g}, {hi:g}])")
    step = spec.step
    if info.kind == "int":
        if step is not None and step != int(step):
            raise ExperimentError(f"{where} is an integer: its step must be a whole number")
        lo_i, hi_i = math.ceil(lo), math.floor(hi)
        if hi_i <= lo_i:
            raise ExperimentError(f"{where} is an integer: bounds [{lo:g}, {hi:g}] hold fewer than two integers")
        lo, hi = float(lo_i), float(hi_i)
    if step is not None and step > hi - lo:
        raise ExperimentError(f"{where}: step {step:g} is wider than the range [{lo:g}, {hi:g}]")

    if method == "full_factorial":
        grid = Factor(lower=lo, upper=hi, step=step, **common).grid()
        if grid is not None and len(grid) <= factorial_levels:
            values = grid
        else:
            values = np.linspace(lo, hi, factorial_levels)
        levels = tuple(dict.fromkeys(_plain(v) for v in Factor(lower=lo, upper=hi, **common)._typed(values)))
        return Factor(levels=levels, **common)
    return Factor(lower=_int_if(info, lo), upper=_int_if(info, hi), dist=spec.dist, step=step, **common)


def _int_if(info, v: float):
    return int(v) if info.kind == "int" else v


def _schema_range(info) -> str:
    lo = "−∞" if info.lower is None else f"{info.lower:g}"
    hi = "∞" if info.upper is None else f"{info.upper:g}"
    return f"{lo} to {hi}" + (f" {info.unit}" if info.unit else "")


def _check_level(info, v, where: str, schema: str):
    if info.kind == "bool":
        if not isinstance(v, bool):
            raise ExperimentError(f"{where} is true/false: levels must be true or false (got {v!r})")
        return v
    if info.kind == "str":
        return str(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ExperimentError(f"{where}: level {v!r} is not a number")
    if info.kind == "int":
        if v != int(v):
            raise ExperimentError(f"{where} is an integer: level {v!r} is not")
        v = int(v)
    else:
        v = float(v)
    if (info.lower is not None and v < info.lower) or (info.upper is not None and v > info.upper):
        raise ExperimentError(f"{where}: level {v:g} lies outside the schema's range {schema}")
    return v
