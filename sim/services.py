"""The servants of the public: grid teams (网格员) and line departments (职能部门), as agent sets.

Each class holds its columns for every run of a batch (batch-wide indices: run r's grids or
departments follow run r−1's) and the rules of its members' behaviour.
"""

from __future__ import annotations

import numpy as np

from sim.population import batch_wide


class GridTeams:
    """The grid workers of each grid, one team per grid: they patrol, find problems before a report
    and mediate small disputes on the spot. A team's size may be fractional (1.7 per grid is the
    published mean of full- and part-time workers)."""

    def __init__(self, layout, n_runs: int, levers):
        self.n_runs = n_runs
        self.per_run = layout.n_grids
        self.community = batch_wide(layout.grid_community, n_runs, layout.n_communities)
        self.residents = np.tile(layout.grid_size, n_runs)
        self.levers = levers

    def lever(self, path: str) -> np.ndarray:
        """The value of a per-community lever for each grid."""
        return self.levers.local[path][self.community]

    @property
    def workers(self) -> np.ndarray:
        return self.lever("staffing.grid_workers_per_grid")

    def detection_hazard(self, households_per_hour: float, household_size: float, routing) -> np.ndarray:
        """Per grid: daily hazard that a given unreported problem is found by the patrol.

        Households visited = workers × hours × patrol share × households per hour; a visit notices the
        problem with a chance that grows with training.
        """
        hours = self.workers * self.lever("staffing.grid_worker_hours") * self.lever("policies.patrol_intensity")
        coverage = np.minimum(1.0, hours * households_per_hour / (self.residents / household_size))
        notice = np.clip(routing.discovery_base + routing.discovery_training_gain * self.lever("policies.training_level"),
                         0.0, 1.0)
        p = np.clip(coverage * notice, 0.0, 1.0 - 1e-12)
        return -np.log1p(-p)

    def settle_chance(self, routing) -> np.ndarray:
        """Per grid: chance a grid worker mediates a small dispute on the spot, higher when trained."""
        return np.clip(routing.on_spot_settle_base + routing.on_spot_training_gain * self.lever("policies.training_level"),
                       0.0, 1.0)


class Departments:
    """The line departments (the 条) of every run: staff, daily capacity, membership of the shared
    platform, and the work credit they spend on their queues."""

    def __init__(self, names: list[str], n_runs: int, residents_per_run: int):
        self.names = list(names)
        self.per_run = len(names)
        self.n_runs = n_runs
        self.n = self.per_run * n_runs
        self.residents_per_run = residents_per_run
        self.credit = np.zeros(self.n)
        self.joined = np.zeros(self.n, dtype=bool)
        self.staff = np.zeros(self.n)
        self.capacity = np.zeros(self.n)

    def derive(self, sc, levers) -> None:
        """Staff, capacity and platform membership from the parameters and the levers."""
        specs = list(sc.staffing.departments.values())
        n_join = int(round(sc.policies.share_joined * self.per_run))
        joined = np.array([k < n_join or d.joined for k, d in enumerate(specs)])   # largest first
        staff = np.array([d.staff_per_10k for d in specs]) * self.residents_per_run / 10_000
        # turning up when whistled takes a share of every department's time (where whistle-and-report is used)
        overhead = sc.policies.whistle_overhead if levers.local["policies.whistle_and_report"].any() else 0.0
        capacity = staff * np.array([d.service_rate for d in specs]) * (1 - overhead)
        self.joined, self.staff, self.capacity = (np.tile(x, self.n_runs) for x in (joined, staff, capacity))

    def serve(self, cand: np.ndarray, dept: np.ndarray, key: np.ndarray, work: np.ndarray) -> np.ndarray:
        """Which candidate visits each department completes today, within its credit.

        `cand` indexes the case table; the candidates are ordered by (department, priority key, row) and
        served while the cumulative work stays within the department's credit.
        """
        if cand.size == 0:
            return cand
        order = np.lexsort((cand, key, dept))
        d = dept[order]
        w = work[order]
        cum = w.cumsum()
        before = cum - w          # work ahead of each visit, nondecreasing
        first = np.empty(d.size, bool)
        first[0] = True
        np.not_equal(d[1:], d[:-1], out=first[1:])
        # work ahead of the department's first visit, carried along its visits
        base = np.maximum.accumulate(np.where(first, before, 0.0))
        within = (cum - base) <= self.credit[d] + 1e-9
        np.subtract.at(self.credit, d[within], w[within])
        return cand[order[within]]
