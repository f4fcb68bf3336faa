"""The levers in force: the values of the levers a pilot can set per community, for every community
of every run (batch-wide), changed only through :meth:`sim.model.GovernanceModel.apply_change`."""

from __future__ import annotations

import numpy as np

from sim.scenario import LOCAL_PATHS, Scenario, get_path


class Levers:
    def __init__(self, scenario: Scenario, n_communities: int, n_runs: int, community_of_resident: np.ndarray):
        self.per_run = n_communities
        self.n_runs = n_runs
        self.local = {p: np.full(n_communities * n_runs, get_path(scenario, p)) for p in LOCAL_PATHS}
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
