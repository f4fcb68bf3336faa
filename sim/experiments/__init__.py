"""Experiments: batch sweeps and global sensitivity analysis, locally or on a Dask cluster.

Four things in four places (after the EMA Workbench):

* what is varied — :mod:`.spec` (experiment files) and :mod:`.space` (factors);
* how points are chosen — :mod:`.designs` (full factorial and SALib samplers);
* how runs are executed — :mod:`.evaluators` (in-process, process pool, Dask, one Executor interface)
  driven by :mod:`.sweep`, which saves results as they arrive (:mod:`.store`);
* analysis — :mod:`.analysis` (sensitivity), :mod:`.robust` (regret, satisficing) and :mod:`.discover`
  (PRIM, CART), which only read a saved sweep directory; :mod:`.search` runs its own candidates
  (Optuna NSGA-II over a cross experiment's levers, at equal budget).

The models a sweep can run are in :mod:`.models`; the command line is :mod:`.cli`
(``govsim sweep`` / ``sensitivity`` / ``robust`` / ``discover`` / ``search``, or ``python -m sim.experiments``).
"""

from .errors import ExperimentError

# Imported on first use: worker processes import this package to unpickle their task
# (sim.experiments.evaluators.run_chunk) and should not pay for pandas, pyarrow and SALib.
_LAZY = {
    "Experiment": "spec", "load_experiment": "spec", "parse_experiment": "spec",
    "SweepDir": "store", "load_results": "store", "sweep_status": "store",
    "SweepReport": "sweep", "run_sweep": "sweep", "analyse": "analysis",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Experiment", "ExperimentError", "SweepDir", "SweepReport", "analyse", "load_experiment", "load_results",
           "parse_experiment", "run_sweep", "sweep_status"]
