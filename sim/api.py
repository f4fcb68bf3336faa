"""The public Python API (re-exported by :mod:`sim`): run a scenario, compare scenarios, evaluate a
point for an external sampler. Thin functions over :mod:`sim.runner`; they write nothing to disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from sim.metrics import METRIC_BY_NAME
from sim.runner import RunResult, daily_long, run_replications, summarise, summary_frame
from sim.verdicts import comparison_table
from sim.scenario import Scenario, load_scenario, with_changes


@dataclass
class Runs:
    """The replications of one scenario."""
    scenario: Scenario
    results: list[RunResult]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per replication: its seed and every 4E indicator."""
        return summary_frame(self.results, self.scenario.name)

    @property
    def table(self) -> pd.DataFrame:
        """Mean and 95% interval of every indicator over the replications."""
        return summarise(self.summary)

    @property
    def daily(self) -> pd.DataFrame:
        """The daily series of every replication, stacked."""
        return daily_long(self.results, self.scenario.name)


def _scenario(scenario: Scenario | str | Path, overrides: dict[str, Any] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        return with_changes(scenario, overrides) if overrides else scenario
    return load_scenario(scenario, overrides)


def run(scenario: Scenario | str | Path = "baseline", *, replications: int | None = None, seed: int | None = None,
        steps: int | None = None, overrides: dict[str, Any] | None = None) -> Runs:
    """Run a scenario's replications (seeds derived from `seed`, as `govsim run` does)."""
    sc = _scenario(scenario, overrides)
    if steps is not None:
        sc = with_changes(sc, {"run.steps": steps})
    return Runs(sc, run_replications(sc, replications, seed))


def compare(base: Scenario | str | Path, others: Iterable[Scenario | str | Path], *, replications: int | None = None,
            seed: int | None = None, steps: int | None = None) -> pd.DataFrame:
    """Each scenario's paired difference from the base, over replications with the same seeds (common
    random numbers): one row per scenario and indicator, with a 95% interval."""
    base_runs = run(base, replications=replications, seed=seed, steps=steps)
    settings = base_runs.scenario.run
    summaries = {base_runs.scenario.name: base_runs.summary}
    for other in others:
        o = run(other, replications=settings.replications, seed=settings.seed, steps=settings.steps)
        name, k = o.scenario.name, 2
        while name in summaries:
            name, k = f"{o.scenario.name}-{k}", k + 1
        summaries[name] = o.summary
    # Judged as one table: the multiplicity correction covers every scenario and indicator.
    return comparison_table(base_runs.scenario.name, summaries)


def evaluate(point: dict[str, Any] | None = None, *, base: Scenario | str | Path = "baseline", seed: int | None = None,
             replications: int = 1, outcomes: Iterable[str] | None = None) -> dict[str, float]:
    """The indicators of one point of the parameter space (dotted paths → values), averaged over
    `replications` runs: the function an external sampler or optimiser calls."""
    names = list(outcomes) if outcomes is not None else list(METRIC_BY_NAME)
    unknown = [n for n in names if n not in METRIC_BY_NAME]
    if unknown:
        raise ValueError(f"unknown outcome(s) {unknown} (allowed: {', '.join(METRIC_BY_NAME)})")
    runs = run(base, replications=replications, seed=seed, overrides=point or None)
    frame = runs.summary
    return {n: float(np.nanmean(frame[n].to_numpy(dtype=float))) if frame[n].notna().any() else float("nan")
            for n in names}
