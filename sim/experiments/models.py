"""The models a sweep can run: the governance model itself and the Ishigami test function.

A model declares which factors it accepts (with their schema bounds), which outcomes it returns and
how one run is made. :meth:`runner` returns a small picklable callable ``runner(values, seed) ->
{outcome: value}`` that the evaluators ship to worker processes; it must depend on nothing but its
arguments, so that a run gives the same numbers in any process, on any machine.

The registry is a constant table (:data:`MODELS`), not something filled at import time by plugins.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.scenario import (ParamInfo, ScenarioError, build_scenario, check_path, param_table, resolve_scenario_file,
                          scenario_data, set_path)

from .errors import ExperimentError, closest, did_you_mean

Runner = Callable[[dict, int], Mapping[str, float]]


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------------
# govsim: the governance model

@dataclass(frozen=True)
class GovsimRunner:
    """Apply the factor values to the base scenario as overrides, then run the model once.

    ``base_data`` is the complete base scenario (every section and default written out), so a path
    such as ``demand.categories.market.share`` lands in an existing category. The paths were checked
    against the schema when the experiment was loaded; here the values are set directly and the
    whole scenario validated once (checking each path again would cost more than a short run).
    """

    base_data: dict
    settings: dict = field(default_factory=dict)
    state: str | None = None   # a saved state every run branches from (sim.state)

    def scenario(self, values: dict):
        data = copy.deepcopy(self.base_data)
        for path, value in {**self.settings, **values}.items():
            set_path(data, path, value)
        return build_scenario(data, origin="sweep run")

    def __call__(self, values: dict, seed: int) -> Mapping[str, float]:
        from sim.runner import run_one  # imported here: workers import it once, the planner never
        if self.state:
            return branched_summary(self.state, self.scenario(values), seed)
        return run_one(self.scenario(values), seed).summary

    def batch(self, values: dict, seeds: list[int]) -> list[Mapping[str, float]]:
        """The runs of one point with the given seeds, advanced as one batch (the same summaries as
        one by one)."""
        from sim.runner import batches, run_batch
        scenario = self.scenario(values)
        if self.state:
            return [branched_summary(self.state, scenario, s) for s in seeds]
        return [r.summary for part in batches(scenario, seeds) for r in run_batch(scenario, part)]


_BRANCHED: dict = {}   # in each worker process: the last few points' summaries, per state run
_BRANCHED_KEEP = 4


def branched_summary(state: str, scenario, seed: int) -> Mapping[str, float]:
    """The summary of the state's run with `seed`, branched with `scenario`. A state holds a batch of
    runs, advanced together; the whole batch of a point is run once and kept, so the point's other
    replications in the same worker cost nothing (and results do not depend on how runs are chunked)."""
    import json

    from sim.state import branch
    key = (state, json.dumps(scenario.model_dump(mode="json"), sort_keys=True))
    if key not in _BRANCHED:
        model = branch(state, scenario).run()
        _BRANCHED[key] = dict(zip(model.seeds, model.summaries()))
        while len(_BRANCHED) > _BRANCHED_KEEP:
            _BRANCHED.pop(next(iter(_BRANCHED)))
    return _BRANCHED[key][seed]


class GovsimModel:
    name = "govsim"
    needs_base = True
    default_base = "baseline.yaml"
    options = NoOptions

    @property
    def outcomes(self) -> tuple[str, ...]:
        from sim.metrics import metric_names
        return tuple(metric_names())

    def outcome_label(self, name: str) -> str:
        from sim.metrics import METRIC_BY_NAME
        m = METRIC_BY_NAME.get(name)
        return f"{m.label} ({m.unit})" if m and m.unit else (m.label if m else name)

    def resolve_base(self, ref: str, relative_to: Path | None) -> Path:
        """A scenario file, found as `govsim run` finds it (next to the experiment file first)."""
        try:
            return resolve_scenario_file(ref, relative_to)
        except ScenarioError as e:
            raise ExperimentError(f"base {e}") from None

    def load_base(self, ref: str, relative_to: Path | None) -> dict:
        """The base scenario written out in full (defaults included), as plain data."""
        path = self.resolve_base(ref, relative_to)
        data = scenario_data(path)
        data.setdefault("name", path.stem)
        return build_scenario(data, origin=str(path)).model_dump(mode="json")

    def context(self, base_data: dict | None, settings: dict):
        """The validated base scenario with the experiment's fixed settings applied."""
        for path in settings:
            if path in ("run.seed", "run.replications"):
                raise ExperimentError(f"settings: '{path}' is set by the experiment's `seed`/`replications`, not here")
        try:
            return build_scenario(base_data or {}, settings, origin="base scenario + settings")
        except ScenarioError as e:
            lines = str(e).splitlines()
            body = lines[1:] if len(lines) > 1 and lines[0].startswith("invalid scenario") else lines
            raise ExperimentError("settings: " + "; ".join(line.strip() for line in body)) from None

    def param_info(self, path: str, ctx) -> ParamInfo:
        if path.startswith("run."):
            raise ExperimentError(f"factor '{path}': run settings are not model parameters "
                                  "(fix run.steps under `settings:`; seeds come from the experiment's `seed`)")
        try:
            return check_path(path, ctx)
        except ScenarioError as e:
            raise ExperimentError(f"factors: {e}") from None

    def numeric_params(self, ctx) -> list[ParamInfo]:
        return [p for p in param_table(ctx) if p.numeric]

    def default_seed(self, ctx) -> int:
        return int(ctx.run.seed)

    def preflight(self) -> None:
        import importlib.util
        if importlib.util.find_spec("sim.runner") is None:
            raise ExperimentError("the govsim model cannot run: sim.runner is not available in this installation")

    def runner(self, base_data: dict | None, settings: dict, options: BaseModel, state: str | None = None) -> Runner:
        return GovsimRunner(base_data or {}, dict(settings), state)

    def residents_at_once(self, base_data: dict | None, settings: dict, design, replications: int) -> int:
        """The most residents one worker holds at once in this sweep: a point's batch of replications
        (:func:`sim.runner.batches`) at the largest population the design asks for (every population
        factor at its largest value in the design: each of them can only add residents)."""
        from sim.runner import residents_at_once
        top = {c: design[c].max() for c in design.columns if str(c).startswith("population.")}
        runner = GovsimRunner(base_data or {}, dict(settings))
        scenario = runner.scenario({k: (v.item() if hasattr(v, "item") else v) for k, v in top.items()})
        return residents_at_once(scenario, replications=replications)


# --------------------------------------------------------------------------------------------------
# ishigami: a test function with known Sobol' indices, run through the same sweep and analysis code

class IshigamiOptions(BaseModel):
    """Options of the test model; the last four exist to exercise the sweep machinery in tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    a: float = 7.0
    b: float = 0.1
    noise: float = Field(0.0, ge=0, description="sd of Gaussian noise drawn from the run's seed (a stochastic model)")
    sleep: float = Field(0.0, ge=0, le=60, description="seconds each run sleeps (to make a sweep slow enough to kill)")
    fail_above: dict[str, float] = Field(default_factory=dict, description="raise when a factor exceeds this value")
    die_above: dict[str, float] = Field(default_factory=dict,
                                        description="kill the worker process when a factor exceeds this value")
    die_marker_dir: str | None = Field(None, description="die only once per run: remember deaths in this folder")


@dataclass(frozen=True)
class IshigamiRunner:
    options: IshigamiOptions

    def __call__(self, values: dict, seed: int) -> Mapping[str, float]:
        o = self.options
        x1, x2, x3 = (float(values.get(k, 0.0)) for k in ("x1", "x2", "x3"))
        if o.sleep:
            time.sleep(o.sleep)
        for k, limit in o.fail_above.items():
            if float(values.get(k, 0.0)) > limit:
                raise ValueError(f"{k} = {values.get(k)} is above fail_above {limit}")
        for k, limit in o.die_above.items():
            if float(values.get(k, 0.0)) > limit:
                self._die(k, seed)
        y = math.sin(x1) + o.a * math.sin(x2) ** 2 + o.b * x3 ** 4 * math.sin(x1)
        if o.noise:
            y += o.noise * float(np.random.default_rng(seed).standard_normal())
        return {"y": y}

    def _die(self, factor: str, seed: int) -> None:
        if self.options.die_marker_dir:
            marker = Path(self.options.die_marker_dir) / f"died-{seed}"
            if marker.exists():
                return
            marker.touch()
        if multiprocessing.parent_process() is None:  # never kill the process that runs the sweep
            raise RuntimeError(f"{factor} above die_above (would kill a worker process)")
        os._exit(70)


class IshigamiModel:
    """Ishigami & Homma (1990): y = sin x1 + a sin² x2 + b x3⁴ sin x1, x_i ~ U(−π, π)."""

    name = "ishigami"
    needs_base = False
    default_base = None
    options = IshigamiOptions
    outcomes = ("y",)
    FACTORS = ("x1", "x2", "x3")

    def outcome_label(self, name: str) -> str:
        return name

    def load_base(self, ref: str, relative_to: Path | None) -> dict:
        raise ExperimentError("model 'ishigami' takes no base scenario (remove `base:`)")

    def context(self, base_data, settings: dict):
        if settings:
            raise ExperimentError("model 'ishigami' takes no `settings:`")
        return None

    def param_info(self, path: str, ctx) -> ParamInfo:
        if path not in self.FACTORS:
            raise ExperimentError(f"unknown factor '{path}' of model ishigami{did_you_mean(path, self.FACTORS)} "
                                  f"(factors: {', '.join(self.FACTORS)})")
        return ParamInfo(path, "float", 0.0, -math.pi, math.pi, "", "Ishigami input", "", (-math.pi, math.pi))

    def numeric_params(self, ctx) -> list[ParamInfo]:
        return [self.param_info(p, ctx) for p in self.FACTORS]

    def default_seed(self, ctx) -> int:
        return 12345

    def preflight(self) -> None:
        pass

    def residents_at_once(self, base_data, settings: dict, design, replications: int) -> int:
        return 0   # a formula: nothing held

    def runner(self, base_data, settings: dict, options: BaseModel) -> Runner:
        return IshigamiRunner(options)  # type: ignore[arg-type]


MODELS: dict[str, Any] = {"govsim": GovsimModel(), "ishigami": IshigamiModel()}


def get_model(name: str):
    try:
        return MODELS[name]
    except KeyError:
        hint = closest(name, MODELS)
        raise ExperimentError(f"unknown model '{name}'" + (f"; did you mean '{hint}'?" if hint else "")
                              + f" (models: {', '.join(MODELS)})") from None
