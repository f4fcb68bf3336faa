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
        self.visit_hours = np.zeros(self.per_run * n_runs)   # hours of visits booked today, taken from tomorrow's patrol

    def lever(self, path: str) -> np.ndarray:
        """The value of a per-community lever for each grid."""
        return self.levers.local[path][self.community]

    @property
    def workers(self) -> np.ndarray:
        return self.lever("staffing.grid_workers_per_grid")

    def detection_hazard(self, households_per_hour: float, household_size: float, routing,
                         taken: np.ndarray | float = 0.0) -> np.ndarray:
        """Per grid: daily hazard that a given unreported problem is found by the patrol.

        Households visited = patrol hours × households per hour, where the patrol hours are workers ×
        hours × patrol share less the hours `taken` by other visits (risk flags); a visit notices the
        problem with a chance that grows with training.
        """
        hours = self.workers * self.lever("staffing.grid_worker_hours") * self.lever("policies.patrol_intensity")
        hours = np.maximum(hours - taken, 0.0)
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
    """The line departments (the 条). Every subdistrict of every run is served by its own team of each
    department (batch-wide index: (run × subdistricts + subdistrict) × departments + department).

    A team is a multi-server queue: its staff are case handlers (`servers`: the staff rounded up, each
    working staff/servers of the team's daily hours, so a team of 0.3 staff is one handler working a
    third of the day). A handler takes the waiting case of highest priority that has arrived (first
    come first served, or earliest deadline first on the shared platform); a case keeps it busy for the
    work it needs divided by the handler's hours per day. The hours are spread over the day (a fluid
    approximation of the working day), so with exponential work the team is an M/M/c queue.
    """

    def __init__(self, names: list[str], n_runs: int, layout):
        self.names = list(names)
        self.per_subdistrict = D = len(names)
        S = layout.n_subdistricts
        self.per_run = S * D
        self.n_runs = n_runs
        self.n = n_runs * S * D
        self.local = np.tile(np.arange(D), n_runs * S)          # which department
        self.run = np.repeat(np.arange(n_runs), S * D)
        self.subdistrict = np.repeat(np.arange(n_runs * S), D)   # batch-wide subdistrict it serves
        self.residents_served = np.tile(np.repeat(layout.subdistrict_size, D), n_runs).astype(float)
        self.joined = np.zeros(self.n, dtype=bool)
        self.staff = np.zeros(self.n)
        self.servers = np.zeros(self.n, dtype=np.int64)
        self.speed = np.zeros(self.n)                 # work-hours a handler does per calendar day
        self.free = np.full((self.n, 1), np.inf)      # when each handler is next free (inf: no such handler)

    def team(self, run_subdistrict: np.ndarray, department: np.ndarray) -> np.ndarray:
        """Batch-wide team index of a department serving a (batch-wide) subdistrict."""
        return run_subdistrict * self.per_subdistrict + department

    def derive(self, sc, levers) -> None:
        """Staff, handlers, hours and platform membership from the parameters and the levers."""
        specs = list(sc.staffing.departments.values())
        n_join = int(round(sc.policies.share_joined * self.per_subdistrict))
        joined = np.array([k < n_join or d.joined for k, d in enumerate(specs)])   # largest first
        self.joined = joined[self.local]
        self.staff = np.array([d.staff_per_10k for d in specs])[self.local] * self.residents_served / 10_000
        self.servers = np.ceil(self.staff - 1e-9).astype(np.int64)
        self.speed = np.divide(sc.staffing.department_hours * self.staff, self.servers,
                               out=np.zeros(self.n), where=self.servers > 0)
        c = max(1, int(self.servers.max()))
        free = np.full((self.n, c), np.inf)
        old = self.free
        k = min(c, old.shape[1])
        free[:, :k] = old[:, :k]
        exists = np.arange(c)[None, :] < self.servers[:, None]
        # a handler who joins starts free now; one who leaves takes no more cases
        free = np.where(exists, np.where(np.isinf(free), -np.inf, free), np.inf)
        self.free = free

    @property
    def capacity_hours(self) -> np.ndarray:
        """Work-hours a team does per day at its normal hours."""
        return self.servers * self.speed

    def open_day(self, t: float) -> None:
        """No handler starts a case before the day begins (a missing handler stays at +inf)."""
        np.maximum(self.free, t, out=self.free)

    def occupy(self, team: np.ndarray, hours: np.ndarray, at: float) -> None:
        """Work that is not a case (turning up when whistled, a false alarm, a risk visit) takes the
        team's first free handler for `hours` from `at`."""
        if team.size == 0:
            return
        extra = np.bincount(team, weights=hours, minlength=self.n)
        busy = np.flatnonzero((extra > 0) & (self.servers > 0))
        srv = self.free[busy].argmin(axis=1)
        self.free[busy, srv] = np.maximum(self.free[busy, srv], at) + extra[busy] / self.speed[busy]

    def start_services(self, team: np.ndarray, avail: np.ndarray, key: np.ndarray, busy: np.ndarray,
                       t_end: float, fifo: np.ndarray):
        """Handlers take waiting cases until `t_end`.

        Event by event, a team's first free handler takes the highest-priority case (lowest `key`) that
        has arrived by then or, if none has, the next to arrive, and is busy with it for `busy` days (its
        work over the handler's hours per day). The events of all teams are processed
        in rounds: each round, every team with work left takes its next case. A team serving first come
        first served (`fifo[team]`) takes several in one round: its k-th free handler takes the k-th
        case in arrival order, as long as no handler given a case earlier in the round would be free
        again before it (then that handler, not the k-th, would be next). Returns the indices (into the
        inputs) of the cases started, their start times and handlers; the handlers' free times are
        updated.
        """
        n = team.size
        none = np.empty(0, dtype=np.int64)
        if n == 0:
            return none, np.empty(0), none
        order = np.lexsort((np.arange(n), key, team))
        T, A, dur = team[order], avail[order], busy[order]
        free, servers = self.free, self.servers
        all_fifo = bool(fifo[T].all())
        rem = np.arange(n)
        picked, starts, handlers = [], [], []
        while rem.size:
            d = T[rem]
            first = _firsts(d)
            heads = first.nonzero()[0]
            seg = first.cumsum() - 1
            teams = d[heads]
            k = teams.size
            by_free = free[teams].argsort(axis=1, kind="stable")
            f_sorted = free[teams[:, None], by_free]
            tau = f_sorted[:, 0]
            a = A[rem]
            # The case each team's first free handler takes: the first in priority order that has
            # arrived by then or, where none has, the next to arrive. First come first served, that is
            # the team's first waiting case.
            choice = heads.copy()
            if not all_fifo:
                self._choose_by_priority(choice, ~fifo[teams], a, tau, seg, heads)
            # First come first served: the j-th free handler takes the j-th case (see above).
            rank = np.arange(rem.size) - heads[seg]
            batch = np.minimum(servers[teams], np.bincount(seg, minlength=k))   # ≤ handlers ≤ free's columns
            if not all_fifo:
                batch[~fifo[teams]] = 1
            width = int(batch.max())
            cases = np.full((k, width), -1)
            cases[:, 0] = choice
            more = ((rank > 0) & (rank < batch[seg])).nonzero()[0]
            cases[seg[more], rank[more]] = more
            has = cases >= 0
            pos = np.where(has, cases, 0)
            f = f_sorted[:, :width]
            start = np.maximum(f, a[pos])
            end = start + dur[rem[pos]]
            # valid while it starts today and no handler given a case earlier in the round is free again first
            ok = has & (start < t_end)
            if width > 1:
                earlier_end = np.minimum.accumulate(end, axis=1)
                ok[:, 1:] &= f[:, 1:] <= earlier_end[:, :-1]
                ok = np.logical_and.accumulate(ok, axis=1)
            if not ok.any():
                break
            row, col = ok.nonzero()
            got = cases[row, col]
            srv = by_free[row, col]
            free[teams[row], srv] = end[row, col]
            picked.append(rem[got])
            starts.append(start[row, col])
            handlers.append(srv)
            # drop the started cases, and every case of a team that starts nothing more today
            keep = ok[:, 0][seg]
            keep[got] = False
            rem = rem[keep]
        if not picked:
            return none, np.empty(0), none
        return order[np.concatenate(picked)], np.concatenate(starts), np.concatenate(handlers)

    @staticmethod
    def _choose_by_priority(choice, teams_mask, a, tau, seg, heads) -> None:
        """For the teams of `teams_mask` (not first come first served): the first waiting case in priority
        order that has arrived by `tau`, else the next to arrive (sets `choice`, positions in `a`)."""
        arrived = a <= tau[seg]
        e = (arrived & teams_mask[seg]).nonzero()[0]
        got = np.zeros(teams_mask.size, bool)
        if e.size:
            se = seg[e]
            lead = _firsts(se)
            choice[se[lead]] = e[lead]
            got[se[lead]] = True
        wait = teams_mask & ~got
        if wait.any():
            seg_min = np.minimum.reduceat(a, heads)
            m = ((a == seg_min[seg]) & wait[seg]).nonzero()[0]
            sm = seg[m]
            lead = _firsts(sm)
            choice[sm[lead]] = m[lead]

    def release(self, team: np.ndarray, server: np.ndarray, done: np.ndarray, when: np.ndarray) -> np.ndarray:
        """Handlers of cases that ended before their work was done (escalated, fixed at the source) are
        free from `when`, unless they already have their next case lined up; returns the handler-days
        not spent."""
        last = self.free[team, server] == done
        self.free[team[last], server[last]] = when[last]
        return np.where(last, done - when, 0.0)


def _firsts(x: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in `x`."""
    out = np.empty(x.size, bool)
    if x.size:
        out[0] = True
        np.not_equal(x[1:], x[:-1], out=out[1:])
    return out
