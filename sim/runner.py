"""Running scenarios: one run, replications, and comparisons with common random numbers.

The one run function, :func:`run_one`, serves the CLI, the sweeps and the benchmarks alike. Seeds of
replications derive from the root seed and the replication index, so any scenario run with the same
root seed sees the same draws wherever its parameters do not differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.metrics import METRICS
from sim.model import GovernanceModel
from sim.scenario import Scenario
from sim.provenance import git_commit, manifest, versions as package_versions  # noqa: F401 (re-exported)
from sim.seeds import replication_seed


@dataclass
class RunResult:
    """What one run leaves: its summary indicators, daily series, per-grid and per-department tables."""
    seed: int
    summary: dict[str, float]
    daily: pd.DataFrame
    grids: pd.DataFrame
    departments: pd.DataFrame
    communities: pd.DataFrame
    perspectives: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    changes: list[dict] = field(default_factory=list)


def results_of(model: GovernanceModel) -> list[RunResult]:
    """The results of every run of a (batch) model."""
    summaries = model.summaries()
    return [RunResult(seed=seed, summary=summaries[r], daily=model.daily_frame(r), grids=model.grid_frame(r),
                      departments=model.department_frame(r), communities=model.community_frame(r),
                      perspectives=model.perspective_frame(r), counts=model.counts(r), changes=list(model.changes_log))
            for r, seed in enumerate(model.seeds)]


def run_one(scenario: Scenario, seed: int | None = None, steps: int | None = None) -> RunResult:
    """Build the model of one run of a scenario, run it, and return its results."""
    return run_batch(scenario, [scenario.run.seed if seed is None else seed], steps)[0]


def run_batch(scenario: Scenario, seeds: list[int], steps: int | None = None) -> list[RunResult]:
    """Runs of one scenario with the given seeds, advanced together as one batch (the same results as
    one by one: each run keeps its own random streams)."""
    model = GovernanceModel(scenario, seeds=seeds)
    model.run(steps if steps is not None else scenario.run.steps)
    return results_of(model)


def burn_in(scenario: Scenario, days: int, replications: int | None = None, seed: int | None = None) -> GovernanceModel:
    """The scenario's replications (seeds as in :func:`run_replications`) run `days` days as one batch:
    a model to save (``model.save_state``) or to branch policies from (:func:`sim.state.branch_model`)."""
    from sim.scenario import with_changes
    reps = scenario.run.replications if replications is None else replications
    root = scenario.run.seed if seed is None else seed
    first = scenario.run.first_replication
    model = GovernanceModel(with_changes(scenario, {"run.steps": days}),
                            seeds=[replication_seed(root, first + k) for k in range(reps)])
    return model.run()


def run_from_state(state: str | Path, scenario: Scenario,
                   progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """Every run of a saved state branched with `scenario`'s parameters and run ``scenario.run.steps``
    more days (see :mod:`sim.state`)."""
    from sim.state import branch
    model = branch(state, scenario)
    model.run()
    if progress:
        progress(model.n_runs)
    return results_of(model)


# Runs of a scenario are batched up to this many residents in all (bounds the memory of a batch).
BATCH_RESIDENTS = 200_000


def batches(scenario: Scenario, seeds: list[int], parts: int = 1) -> list[list[int]]:
    """The seeds split into batches of at most BATCH_RESIDENTS residents (at least one run each), and
    into at least `parts` batches (one per worker process) where there are that many seeds."""
    size = max(1, BATCH_RESIDENTS // max(1, scenario.n_residents))
    size = min(size, max(1, -(-len(seeds) // max(1, parts))))
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def _plan(scenario: Scenario, workers: int, replications: int | None) -> list[list[int]]:
    """The batches of the scenario's replications (or of `replications` of them) for `workers` workers."""
    reps = scenario.run.replications if replications is None else replications
    return batches(scenario, list(range(reps)), parts=workers)


def residents_at_once(scenario: Scenario, workers: int = 1, replications: int | None = None) -> int:
    """Residents each process holds at once running the scenario's replications: one batch."""
    return len(_plan(scenario, workers, replications)[0]) * scenario.n_residents


def processes_at_once(scenario: Scenario, workers: int, replications: int | None = None) -> int:
    """Processes running the scenario's replications at once with `workers` workers."""
    return min(workers, len(_plan(scenario, workers, replications)))


# Replications run in worker processes only when they fill more than one batch: a worker takes about
# 2 s to start (it imports the model), which a smaller job would not win back.
def run_workers(scenario: Scenario, requested: int | None = None, replications: int | None = None) -> int:
    """Worker processes for a scenario's replications (or `replications` of them): as requested; else,
    when they fill more than one batch, as many as there are cores and the memory holds; else 1."""
    if requested is not None:
        return max(1, requested)
    if len(_plan(scenario, 1, replications)) <= 1:
        return 1
    from sim.resources import available_bytes, estimate_bytes
    have = available_bytes()
    for n in range(os.cpu_count() or 1, 1, -1):
        need = estimate_bytes(residents_at_once(scenario, n, replications), processes_at_once(scenario, n, replications))
        if have is None or need <= have:
            return n
    return 1


def run_replications(scenario: Scenario, replications: int | None = None, seed: int | None = None,
                     progress: Callable[[int], None] | None = None, first: int = 0,
                     workers: int = 1) -> list[RunResult]:
    """Replications k = f..f+R-1, where f is ``run.first_replication`` plus `first` (--precision adds
    replications later: the ones a larger R would have run), run with seeds ``replication_seed(seed, k)``,
    batch by batch in this process or, with `workers` > 1, in that many worker processes (the same
    results: every run keeps its own random streams whatever batch it is in)."""
    reps = scenario.run.replications if replications is None else replications
    root = scenario.run.seed if seed is None else seed
    first = scenario.run.first_replication + first
    seeds = [replication_seed(root, k) for k in range(first, first + reps)]
    groups = batches(scenario, seeds, parts=workers)
    if workers > 1 and len(groups) > 1:
        return _run_in_processes(scenario, groups, workers, progress)
    out: list[RunResult] = []
    for batch in groups:
        out.extend(run_batch(scenario, batch))
        if progress:
            progress(len(batch))
    return out


class WorkerLost(RuntimeError):
    """A worker process died while running replications (killed, or out of memory), every time."""


def _run_in_processes(scenario: Scenario, groups: list[list[int]], workers: int,
                      progress: Callable[[int], None] | None) -> list[RunResult]:
    """The batches on a pool of worker processes (a batch lost with its worker is run again)."""
    from functools import partial

    from sim.experiments.evaluators import LostTask, ProcessPool, map_resubmitting
    with ProcessPool(min(workers, len(groups))) as pool:
        parts = map_resubmitting(pool, partial(run_batch, scenario), groups,
                                 done=(lambda k: progress(len(groups[k]))) if progress else None)
    lost = [p for p in parts if isinstance(p, LostTask)]
    if lost:
        raise WorkerLost(f"a worker process died while running replications ({lost[0].reason}; out of memory?): "
                         "run again with fewer --workers")
    return [r for part in parts for r in part]


def summary_frame(results: list[RunResult], scenario_name: str = "", first: int = 0) -> pd.DataFrame:
    rows = []
    for k, r in enumerate(results, start=first):
        row = {"scenario": scenario_name, "replication": k, "seed": r.seed}
        row.update(r.summary)
        rows.append(row)
    return pd.DataFrame(rows)


def daily_long(results: list[RunResult], scenario_name: str = "", first: int = 0) -> pd.DataFrame:
    frames = []
    for k, r in enumerate(results, start=first):
        f = r.daily.copy()
        f.insert(0, "replication", k)
        f.insert(0, "scenario", scenario_name)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a t-based confidence interval (NaN-aware); the interval is NaN with one value."""
    from scipy.special import stdtrit   # the t quantile, without importing scipy.stats (0.5 s)
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if v.size < 2:
        return m, float("nan"), float("nan")
    half = stdtrit(v.size - 1, 0.5 + level / 2) * v.std(ddof=1) / np.sqrt(v.size)
    return m, m - half, m + half


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval of every metric over replications."""
    rows = []
    for m in METRICS:
        if m.name in frame:
            mean, lo, hi = mean_ci(frame[m.name].to_numpy())
            rows.append({"metric": m.name, "E": m.e, "label": m.label, "label_zh": m.label_zh, "unit": m.unit,
                         "unit_zh": m.unit_zh, "better": m.better, "mean": mean, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def paired_differences(base: pd.DataFrame, other: pd.DataFrame, *, practical=None,
                       method: str = "holm") -> pd.DataFrame:
    """Other − base per metric, paired by replication (common random numbers), with 95% intervals and
    a verdict (better / worse / no meaningful change / uncertain: see :mod:`sim.verdicts`)."""
    from sim.verdicts import comparison_table
    return comparison_table("base", {"base": base, "other": other}, practical=practical,
                            method=method).drop(columns=["scenario", "base_scenario"])


# --------------------------------------------------------------------------------------------------
