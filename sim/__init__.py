"""govsim: an agent-based sandbox for grassroots social governance.

The public Python API::

    import sim
    sc = sim.load_scenario("baseline", {"policies.share_joined": 1.0})   # a file or shipped name + overrides
    runs = sim.run(sc, replications=10, seed=7)        # a Runs: .summary (one row per run), .table (mean, 95% CI)
    diff = sim.compare("baseline", ["data_sharing_all", "whistle_and_report"], replications=10)
    y = sim.evaluate({"staffing.grid_workers_per_grid": 2.0}, base="baseline", seed=3)   # {metric: value}
    model = sim.GovernanceModel(sc, seed=1); model.run(30); model.summary()           # the Mesa model

:func:`evaluate` is the function an external sampler calls (EMA Workbench: ``Model("govsim",
function=lambda **x: sim.evaluate(x))``). Metrics are declared in :data:`METRICS`, daily series in
:data:`SERIES`, parameters by ``govsim params`` and :func:`sim.scenario.param_table`.

Everything is imported on first use, so ``import sim`` stays light for worker processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from sim.api import Runs, compare, evaluate, run
    from sim.metrics import METRICS, SERIES
    from sim.model import GovernanceModel
    from sim.scenario import Scenario, ScenarioError, load_scenario

_LAZY = {
    "run": "sim.api", "compare": "sim.api", "evaluate": "sim.api", "Runs": "sim.api",
    "GovernanceModel": "sim.model", "Scenario": "sim.scenario", "ScenarioError": "sim.scenario",
    "load_scenario": "sim.scenario", "METRICS": "sim.metrics", "SERIES": "sim.metrics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = sorted(_LAZY)
