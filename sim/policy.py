"""The levers in force: the values of the levers a pilot can set per community, for every community
of every run (batch-wide), changed only through :meth:`sim.model.GovernanceModel.apply_change`."""

from __future__ import annotations

import numpy as np

from sim.scenario import LOCAL_PATHS, Scenario, get_path, resolved_communities

# Levers whose starting value a community's own profile may set
FROM_PROFILE = {"staffing.grid_workers_per_grid": "grid_workers_per_grid", "staffing.grid_worker_hours": "grid_worker_hours",
                "staffing.community_capacity_per_10k": "community_capacity_per_10k"}


class Levers:
    def __init__(self, scenario: Scenario, n_runs: int, community_of_resident: np.ndarray):
        comms = resolved_communities(scenario)
        self.per_run = len(comms)
        self.n_runs = n_runs
        self.local = {}
        for p in LOCAL_PATHS:
            if p in FROM_PROFILE:
                values = np.array([getattr(c, FROM_PROFILE[p]) for c in comms], dtype=float)
            else:
                values = np.full(len(comms), get_path(scenario, p))
            self.local[p] = np.tile(values, n_runs)
        self._community_of_resident = community_of_resident

    def set(self, path: str, value, communities: list[int] | None = None) -> None:
        """Set a per-community lever everywhere, or in the given communities (of every run)."""
        if communities is None:
            self.local[path][:] = value
        else:
            c = np.asarray(communities)
            self.local[path][(c[None, :] + self.per_run * np.arange(self.n_runs)[:, None]).ravel()] = value

    def at_residents(self, path: str) -> np.ndarray:
        """The value of a per-community lever for each resident."""
        return self.local[path][self._community_of_resident]

    def used(self, path: str) -> bool:
        """Whether a (boolean) lever is on in any community."""
        return bool(self.local[path].any())
