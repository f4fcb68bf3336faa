"""The governance model: a community's residents, grid workers and departments, and the case flow.

State is kept in numpy arrays owned by the model (residents: one row each; open problems: a compact
pool of parallel arrays); the Mesa agents in :mod:`sim.agents` are views of those arrays and hold the
rules. No daily phase loops over residents in Python. See ``docs/ODD.md`` for the full description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import numpy as np
import pandas as pd
import scipy.sparse as sp

from sim.agents import CHANNEL_KEYS, Channel, Department, GovernanceCentre, GridWorker, Resident, Status
from sim.metrics import gini, hist_quantile
from sim.scenario import LOCAL_PATHS, Scenario, get_path, with_changes

# One independent random stream per kind of decision (common random numbers across scenarios).
STREAMS = ("population", "network", "arise", "handle", "warning", "trust", "privacy")
MAX_DAYS_HIST = 4096
# Work of a joint case at its lead department: its own visit plus the partner's half-visit, charged to
# the lead (a simplification: partners' time is not tracked separately).
JOINT_WORK = 1.5
DAILY_SERIES = (
    "new_problems", "reports", "discovered", "settled_on_spot", "resolved", "unresolved", "escalated",
    "abandoned", "backlog", "silent_open", "satisfaction", "trust", "satisfaction_60plus",
    "satisfaction_under60", "cost", "early_warnings", "false_alarms", "leaks", "duplicate_work",
)

POOL_FIELDS = {
    "pid": np.int64, "res": np.int32, "cat": np.int16, "cause": np.int32, "born": np.float64,
    "sev0": np.float32, "status": np.int8, "report_time": np.float64, "channel": np.int8,
    "disc_clock": np.float64, "disc_cum": np.float64, "thresh": np.float32, "u_route": np.float32,
    "u_fix": np.float32, "u_settle": np.float32, "primary": np.int16, "second": np.int16,
    "dept": np.int16, "stage": np.int8, "detail": np.float32, "file_time": np.float64,
    "avail_time": np.float64, "deadline": np.float64, "joint": np.bool_, "bounces": np.int8,
}


class Pool:
    """Open problems as parallel arrays; finished ones are dropped after accounting."""

    def __init__(self):
        self.a = {k: np.empty(0, dtype=t) for k, t in POOL_FIELDS.items()}

    def __len__(self):
        return self.a["pid"].size

    def __getitem__(self, key):
        return self.a[key]

    def append(self, fields: dict) -> None:
        n = len(next(iter(fields.values())))
        if n == 0:
            return
        for k, t in POOL_FIELDS.items():
            self.a[k] = np.concatenate([self.a[k], np.asarray(fields[k], dtype=t)]) if k in fields else \
                np.concatenate([self.a[k], np.zeros(n, dtype=t)])

    def keep(self, mask: np.ndarray) -> None:
        for k in self.a:
            self.a[k] = self.a[k][mask]


@dataclass
class Causes:
    """Shared causes (one problem seen by several neighbours): the basis of duplicates and early warning."""
    cat: np.ndarray
    building: np.ndarray
    fixed: np.ndarray
    filed: np.ndarray     # cases of the cause filed on the platform (for early warning)
    master: np.ndarray    # pool pid of the open case others merge into (-1: none)

    @classmethod
    def empty(cls):
        return cls(np.empty(0, np.int16), np.empty(0, np.int32), np.empty(0, bool), np.empty(0, np.int32),
                   np.empty(0, np.int64))

    def flag(self, cause: np.ndarray, values: np.ndarray, missing=False) -> np.ndarray:
        """`values[cause]`, with `missing` where the problem has no shared cause (cause = -1)."""
        return np.r_[values, missing][np.where(cause >= 0, cause, values.size)]

    def extend(self, cat, building):
        n = len(cat)
        self.cat = np.concatenate([self.cat, cat.astype(np.int16)])
        self.building = np.concatenate([self.building, building.astype(np.int32)])
        self.fixed = np.concatenate([self.fixed, np.zeros(n, bool)])
        self.filed = np.concatenate([self.filed, np.zeros(n, np.int32)])
        self.master = np.concatenate([self.master, np.full(n, -1, np.int64)])


class GovernanceModel(mesa.Model):
    """A subdistrict's grassroots governance, one step per day.

    Args:
        scenario: the validated scenario (defaults when None).
        seed: root seed of all random streams (defaults to ``scenario.run.seed``).
        resident_agents: create a Mesa ``Resident`` view per resident: "auto" (up to 20,000 residents),
            "all" or "none". Batch runs use "none"; the rules do not need the objects.
    """

    def __init__(self, scenario: Scenario | None = None, seed: int | None = None, resident_agents: str = "auto"):
        scenario = scenario or Scenario()
        seed = scenario.run.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        self.seed = seed
        self.base_scenario = scenario
        self.params = scenario
        self.day = 0
        root = np.random.SeedSequence(seed)
        self.streams = {name: np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(root.entropy, spawn_key=(i,)))) for i, name in enumerate(STREAMS)}
        self.steps_planned = scenario.run.steps
        self.changes_log: list[dict] = []
        self._build_population()
        self._build_network()
        self._build_departments()
        self._init_accumulators()
        self._build_agents(resident_agents)

    # ==============================================================================================
    # Building the world
    def _build_population(self):
        sc = self.params
        pop = sc.population
        rng = self.streams["population"]
        self.n_communities = sc.n_communities
        self.n_grids = sc.n_grids
        n_grid = pop.residents_per_grid
        self.n_residents = n = sc.n_residents
        self.grid_of = np.repeat(np.arange(self.n_grids, dtype=np.int32), n_grid)
        self.grid_community = np.repeat(np.arange(self.n_communities, dtype=np.int32), pop.grids_per_community)
        self.community_subdistrict = np.repeat(np.arange(pop.subdistricts, dtype=np.int32), pop.communities_per_subdistrict)
        self.community_of = self.grid_community[self.grid_of]
        self.community_size = np.full(self.n_communities, pop.grids_per_community * n_grid)
        self.community_start = np.arange(self.n_communities) * pop.grids_per_community * n_grid
        # Buildings: contiguous blocks of residents within each grid.
        per_building = max(1, round(pop.households_per_building * pop.household_size))
        b_per_grid = math.ceil(n_grid / per_building)
        local = np.tile(np.arange(n_grid), self.n_grids)
        self.building_of = (self.grid_of.astype(np.int64) * b_per_grid + local // per_building).astype(np.int32)
        self.n_buildings = self.n_grids * b_per_grid
        self.building_start = np.searchsorted(self.building_of, np.arange(self.n_buildings))
        self.building_size = np.diff(np.r_[self.building_start, n])
        self.households_per_grid = n_grid / pop.household_size
        # Attributes.
        self.old = rng.random(n) < pop.share_60plus
        self.app_user = rng.random(n) < np.where(self.old, pop.app_literacy_60plus, pop.app_literacy_under60)
        self.phone = rng.random(n) < pop.phone_access
        self.u_window = rng.random(n)       # compared with the window's reach (a policy may change it)
        self.u_gridworker = rng.random(n)
        r = sc.residents
        self.trust = np.clip(rng.normal(r.initial_trust, r.trust_spread, n), 0.0, 1.0)
        self.satisfaction = np.full(n, r.initial_satisfaction)
        self.served = np.zeros(n, dtype=bool)   # has had a case closed (own experience of service)
        self._sat_acc = np.zeros(n)
        self._sat_cnt = np.zeros(n)
        # Per-community values of the parameters a pilot can change locally.
        self.local = {p: np.full(self.n_communities, get_path(sc, p)) for p in LOCAL_PATHS}

    def _build_network(self):
        """Small-world ties within each grid (Watts–Strogatz, vectorised), a share rewired across grids."""
        net = self.params.network
        rng = self.streams["network"]
        n = self.n_residents
        n_grid = self.params.population.residents_per_grid
        half = min(net.neighbours // 2, max(1, (n_grid - 1) // 2))
        i = np.repeat(np.arange(n, dtype=np.int64), half)
        off = np.tile(np.arange(1, half + 1), n)
        start = self.grid_of.astype(np.int64)[i] * n_grid
        j = start + (i - start + off) % n_grid
        u = rng.random(i.size)
        rewire = u < net.rewire
        j[rewire] = start[rewire] + rng.integers(0, n_grid, rewire.sum())
        cross = rng.random(i.size) < net.cross_grid_share
        j[cross] = rng.integers(0, n, cross.sum())
        keep = i != j
        i, j = i[keep], j[keep]
        a = sp.coo_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
        a = ((a + a.T) > 0).astype(np.int8).tocsr()
        a.sort_indices()
        self.adjacency = a
        self.adj_indptr = a.indptr.astype(np.int64)
        self.adj_indices = a.indices.astype(np.int64)

    def network_graph(self):
        """The social network as a networkx graph (residents are nodes 0..N-1; for views and analysis)."""
        import networkx as nx
        g = nx.from_scipy_sparse_array(self.adjacency)
        nx.set_node_attributes(g, dict(enumerate(self.grid_of.tolist())), "grid")
        return g

    def _build_departments(self):
        sc = self.params
        self.dept_names = list(sc.staffing.departments)
        self.n_depts = len(self.dept_names)
        self.cat_names = list(sc.demand.categories)
        cats = sc.demand.categories
        self.cat_primary = np.array([self.dept_names.index(c.departments[0]) for c in cats.values()], dtype=np.int16)
        self.cat_others = [[self.dept_names.index(d) for d in c.departments[1:]] for c in cats.values()]
        self.credit = np.zeros(self.n_depts)
        self._derive_policy_state()

    def _derive_policy_state(self):
        """Quantities derived from the current scenario (recomputed after every change)."""
        sc = self.params
        depts = sc.staffing.departments
        n_join = int(round(sc.policies.share_joined * self.n_depts))
        self.joined = np.array([k < n_join or d.joined for k, d in enumerate(depts.values())])
        self.staff = np.array([d.staff_per_10k for d in depts.values()]) * self.n_residents / 10_000
        whistle = self.local["policies.whistle_and_report"].any()
        overhead = sc.policies.whistle_overhead if whistle else 0.0
        self.capacity = self.staff * np.array([d.service_rate for d in depts.values()]) * (1 - overhead)
        cats = sc.demand.categories
        share = np.array([c.share for c in cats.values()])
        self.cat_prob = share / share.sum()
        self.cat_severity = np.array([c.severity for c in cats.values()])
        self.cat_deadline = np.array([c.deadline_days for c in cats.values()])
        self.cat_spot = np.array([c.settle_on_spot for c in cats.values()])

    def _build_agents(self, mode: str):
        self.departments = [Department(self, k, name) for k, name in enumerate(self.dept_names)]
        self.grid_workers = [GridWorker(self, g) for g in range(self.n_grids)]
        self.resident_agents: list[Resident] = []
        if mode == "all" or (mode == "auto" and self.n_residents <= 20_000):
            self.resident_agents = [Resident(self, i) for i in range(self.n_residents)]

    def resident(self, i: int) -> Resident:
        """The Resident agent of row i (created on demand when residents are not all agents)."""
        if self.resident_agents:
            return self.resident_agents[i]
        return Resident(self, i)

    def _init_accumulators(self):
        T = self.steps_planned
        self.pool = Pool()
        self.causes = Causes.empty()
        self.next_pid = 0
        # Pending hits of shared causes: (cause, time, resident, uniforms…).
        self.hits = {k: np.empty(0, t) for k, t in
                     (("cause", np.int32), ("time", np.float64), ("res", np.int32), ("u", np.float64))}
        self.hits["u"] = np.empty((0, 8))
        self.series = np.zeros((T, len(DAILY_SERIES)))
        self.queue_series = np.zeros((T, self.n_depts))
        self.counts = {s: 0 for s in ("problems", "filed", "reports", "hotline_reports", "discovered", "warned",
                                      "settled_on_spot", "resolved", "unresolved", "escalated", "abandoned",
                                      "resolved_known", "unresolved_known", "escalated_known", "closed_cases",
                                      "closed_in_deadline", "duplicate_work", "early_warnings", "false_alarms",
                                      "leaks", "merged", "prevented_hits", "bounces", "handoffs")}
        self.multi_days = np.zeros(2)   # resolved multi-department cases: sum of days, count
        self.hist_days = np.zeros((2, MAX_DAYS_HIST), dtype=np.int64)   # [under 60, 60+] resolved durations
        self.sum_days = np.zeros(2)
        self.n_days = np.zeros(2)
        self.silent_finished = np.zeros(2)   # per age group: finished while never known
        self.finished = np.zeros(2)
        self.grid_acc = np.zeros((self.n_grids, 6))   # problems, resolved, escalated, abandoned, found, days
        # Little's law per department: arrivals, departures, time-in-queue integral, sojourn sum.
        self.q_arrivals = np.zeros(self.n_depts)
        self.q_departures = np.zeros(self.n_depts)
        self.q_area = np.zeros(self.n_depts)
        self.q_sojourn = np.zeros(self.n_depts)
        self.cost_total = 0.0
        self.cost_parts = {k: 0.0 for k in ("grid_workers", "staff", "platform", "features", "safeguards",
                                            "training", "elder_friendly", "incidents")}
        self.day_counts = np.zeros(len(DAILY_SERIES))

    # ==============================================================================================
    # The day
    def step(self):
        """One day. Phases, in order:

        1. ``apply_timeline``: parameter changes and shocks due today take effect.
        2. ``arise``: new problems by category (shared causes hit several neighbours over days).
        3. ``report``: residents who chose to report file through their channel.
        4. ``patrol``: grid workers find unreported problems; settle small disputes on the spot.
        5. ``route``: the centre routes filed cases to departments (misrouting; duplicates merged on
           the platform; multi-department cases worked jointly on the platform or when whistled).
        6. ``early_warning``: clusters of a cause's reports on shared data trigger a fix; false alarms.
        7. ``handle``: departments serve their queues within capacity; hand-offs between silos add
           delay, lose detail and may bounce; finished cases close resolved or not.
        8. ``escalate``: open problems whose grievance exceeds the threshold escalate; unreported
           problems past the residents' patience are abandoned.
        9. ``converse``: residents exchange views on government (bounded confidence).
        10. ``privacy``: a data leak may occur; it lowers trust everywhere.
        11. ``account``: costs accrue and the day's indicators are recorded.
        Satisfaction and trust are updated as cases close (phases 4, 6, 7, 8), via
        ``Resident.experience``.
        """
        t = self.day
        self.day_counts[:] = 0
        self.apply_timeline(t)
        self.arise(t)
        self.report(t)
        self.patrol(t)
        self.route(t)
        self.early_warning(t)
        self.handle(t)
        self.escalate(t)
        Resident.converse(self, self.streams["trust"])
        self.privacy(t)
        self.account(t)
        self.day += 1

    def run(self, steps: int | None = None) -> "GovernanceModel":
        steps = self.steps_planned - self.day if steps is None else steps
        self.run_for(steps)
        return self

    # ----------------------------------------------------------------------------------------------
    def apply_change(self, changes: dict, communities: list[int] | None = None, label: str = "") -> None:
        """Change parameters from the next phase on (used by the timeline and by the interactive view)."""
        local = {k: v for k, v in changes.items() if k in LOCAL_PATHS}
        if communities is None:
            self.params = with_changes(self.params, changes)
            for path, value in local.items():
                self.local[path][:] = value
        else:
            for path, value in local.items():
                self.local[path][np.asarray(communities)] = value
        self._derive_policy_state()
        self.changes_log.append({"day": self.day, "label": label or ", ".join(f"{k}={v}" for k, v in changes.items()),
                                 "communities": communities})

    def apply_timeline(self, t: int) -> None:
        for change in self.base_scenario.timeline:
            if change.day == t:
                self.apply_change(change.set, change.communities, change.label)

    def _rate_multiplier(self, t: int) -> np.ndarray:
        """(communities × categories) multiplier of problem rates from the shocks active today."""
        mult = np.ones((self.n_communities, len(self.cat_names)))
        for s in self.base_scenario.shocks:
            if s.start <= t <= s.end:
                rows = np.arange(self.n_communities) if s.communities is None else np.asarray(s.communities)
                cols = [self.cat_names.index(c) for c in s.categories]
                mult[np.ix_(rows, cols)] *= s.multiplier
        return mult

    # ----------------------------------------------------------------------------------------------
    def arise(self, t: int) -> None:
        """New causes by community and category; a shared cause schedules hits on building neighbours."""
        d = self.params.demand
        rng = self.streams["arise"]
        m = d.shared_cause_size
        s = min(1.0, d.duplicate_share / ((m - 1) * (1 - d.duplicate_share))) if d.duplicate_share > 0 else 0.0
        cause_rate = d.problems_per_resident_year / 365.0 / (1 + s * (m - 1))
        lam = (self.community_size[:, None] * cause_rate) * self.cat_prob[None, :] * self._rate_multiplier(t)
        counts = rng.poisson(lam)
        comm, cat = np.nonzero(counts)
        reps = counts[comm, cat]
        comm = np.repeat(comm, reps)
        cat = np.repeat(cat, reps)
        k = comm.size
        res = (self.community_start[comm] + rng.integers(0, self.community_size[comm], size=k)).astype(np.int32)
        born = t + rng.random(k)
        shared = rng.random(k) < s
        extra = np.where(shared, rng.poisson(m - 2, size=k) + 1, 0)   # further residents hit (≥1)
        u = rng.random((k, 8))
        # Shared causes: register, and schedule their further hits with all their draws made now.
        cause = np.full(k, -1, dtype=np.int32)
        if shared.any():
            first = self.causes.cat.size
            idx = np.flatnonzero(shared)
            cause[idx] = first + np.arange(idx.size)
            self.causes.extend(cat[idx], self.building_of[res[idx]])
            n_hits = extra[idx]
            hc = np.repeat(cause[idx], n_hits)
            hb = self.building_of[np.repeat(res[idx], n_hits)]
            htime = np.repeat(born[idx], n_hits) + rng.exponential(d.shared_cause_spread_days, size=hc.size)
            hres = (self.building_start[hb] + rng.integers(0, self.building_size[hb])).astype(np.int32)
            hu = rng.random((hc.size, 8))
            self.hits = {"cause": np.concatenate([self.hits["cause"], hc]),
                         "time": np.concatenate([self.hits["time"], htime]),
                         "res": np.concatenate([self.hits["res"], hres]),
                         "u": np.concatenate([self.hits["u"], hu])}
        # Hits due today whose cause is not yet fixed.
        due = self.hits["time"] < t + 1
        if due.any():
            hc = self.hits["cause"][due]
            alive = ~self.causes.fixed[hc]
            self.counts["prevented_hits"] += int((~alive).sum())
            res = np.concatenate([res, self.hits["res"][due][alive]])
            cat = np.concatenate([cat, self.causes.cat[hc[alive]]])
            born = np.concatenate([born, np.maximum(self.hits["time"][due][alive], t)])
            cause = np.concatenate([cause, hc[alive]])
            u = np.concatenate([u, self.hits["u"][due][alive]])
            keep = ~due
            self.hits = {key: val[keep] for key, val in self.hits.items()}
        self._new_problems(res, cat, born, cause, u)

    def _new_problems(self, res, cat, born, cause, u):
        """Add problems; each resident decides at once whether and how it will report."""
        n = res.size
        self.counts["problems"] += n
        self.day_counts[DAILY_SERIES.index("new_problems")] += n
        if n == 0:
            return
        d = self.params.demand
        willing = Resident.willing_to_report(self, res, u[:, 0])
        channel = Resident.choose_channel(self, res, u[:, 1])
        reports = willing & (channel >= 0)
        report_time = np.where(reports, born - d.report_delay_days * np.log1p(-u[:, 2]), np.inf)
        multi = u[:, 3] < d.multi_department_share
        second = np.full(n, -1, dtype=np.int16)
        for c in np.unique(cat[multi]):
            sel = multi & (cat == c)
            others = self.cat_others[c] or [k for k in range(self.n_depts) if k != self.cat_primary[c]]
            second[sel] = np.asarray(others)[(u[sel, 4] * len(others)).astype(int) % len(others)]
        self.pool.append({
            "pid": np.arange(self.next_pid, self.next_pid + n), "res": res, "cat": cat, "cause": cause,
            "born": born, "sev0": self.cat_severity[cat], "status": np.where(reports, Status.PENDING, Status.SILENT),
            "report_time": report_time, "channel": np.where(reports, channel, Channel.NONE),
            "disc_clock": -np.log1p(-u[:, 5]), "disc_cum": np.zeros(n),
            "thresh": 0.6 + 0.8 * u[:, 6], "u_route": u[:, 7], "u_fix": u[:, 4], "u_settle": u[:, 2],
            "primary": self.cat_primary[cat], "second": second, "dept": np.full(n, -1),
            "detail": np.ones(n), "file_time": np.full(n, np.inf), "avail_time": np.full(n, np.inf),
            "deadline": self.cat_deadline[cat],
        })
        self.next_pid += n

    # ----------------------------------------------------------------------------------------------
    def report(self, t: int) -> None:
        """Residents whose report time has come file through their chosen channel."""
        p = self.pool
        idx = np.flatnonzero((p["status"] == Status.PENDING) & (p["report_time"] < t + 1))
        if idx.size == 0:
            return
        ch = self.params.channels
        chan = p["channel"][idx]
        delay = np.zeros(idx.size)
        detail = np.ones(idx.size)
        for c, key in CHANNEL_KEYS.items():
            sel = chan == c
            delay[sel] = getattr(ch, key).filing_delay_days
            detail[sel] = getattr(ch, key).detail
        elder = self.old[p["res"][idx]] & self.local["policies.elder_friendly"][self.community_of[p["res"][idx]]]
        delay = np.where(elder & (chan == Channel.HOTLINE), 0.5 * delay, delay)  # priority line for the elderly
        self._file(idx, p["report_time"][idx] + delay, detail)
        self.counts["reports"] += idx.size
        self.counts["hotline_reports"] += int((chan == Channel.HOTLINE).sum())
        self.day_counts[DAILY_SERIES.index("reports")] += idx.size

    def _file(self, idx, file_time, detail):
        p = self.pool
        p["status"][idx] = Status.FILED
        p["file_time"][idx] = file_time
        p["detail"][idx] = detail
        self.counts["filed"] += idx.size

    def patrol(self, t: int) -> None:
        """Grid workers find unreported problems; small disputes may be settled on the spot."""
        p = self.pool
        open_unknown = np.flatnonzero((p["status"] == Status.SILENT) | (p["status"] == Status.PENDING))
        if open_unknown.size == 0:
            return
        hazard = GridWorker.detection_hazard(self)
        g = self.grid_of[p["res"][open_unknown]]
        p["disc_cum"][open_unknown] += hazard[g]
        found = open_unknown[p["disc_cum"][open_unknown] >= p["disc_clock"][open_unknown]]
        if found.size == 0:
            return
        self.counts["discovered"] += found.size
        self.day_counts[DAILY_SERIES.index("discovered")] += found.size
        p["channel"][found] = Channel.PATROL
        gf = self.grid_of[p["res"][found]]
        self.grid_acc[gf, 4] += 1
        settle = self.cat_spot[p["cat"][found]] & (p["u_settle"][found] < GridWorker.settle_chance(self, gf))
        spot = found[settle]
        if spot.size:
            self.counts["settled_on_spot"] += spot.size
            self.day_counts[DAILY_SERIES.index("settled_on_spot")] += spot.size
            p["file_time"][spot] = t + 0.5
            self._close(spot, Status.RESOLVED, t + 0.5, known=True)
        rest = found[~settle]
        self._file(rest, np.full(rest.size, t + self.params.channels.grid_worker.filing_delay_days + 0.5),
                   np.full(rest.size, self.params.channels.grid_worker.detail))

    # ----------------------------------------------------------------------------------------------
    def route(self, t: int) -> None:
        """The centre routes cases that arrived today."""
        p = self.pool
        idx = np.flatnonzero((p["status"] == Status.FILED) & (p["file_time"] < t + 1))
        if idx.size == 0:
            return
        pol = self.params.policies
        # Duplicate merging on the platform: a case whose cause already has an open case on a joined
        # department waits for that case instead of being worked again.
        cause = p["cause"][idx]
        on_platform = self.joined[p["primary"][idx]]
        if pol.duplicate_merging:
            has_master = (cause >= 0) & on_platform
            has_master[has_master] = self.causes.master[cause[has_master]] >= 0
            merged = idx[has_master]
            p["status"][merged] = Status.MERGED
            self.counts["merged"] += merged.size
            idx = idx[~has_master]
            cause = p["cause"][idx]
            on_platform = self.joined[p["primary"][idx]]
        # Early-warning counts of filed reports per cause on the platform.
        sc_mask = (cause >= 0) & on_platform
        np.add.at(self.causes.filed, cause[sc_mask], 1)
        if pol.duplicate_merging:
            first = sc_mask & (self.causes.flag(cause, self.causes.master, missing=-1) < 0)
            # several cases of one cause routed the same day: the first becomes the master
            cf, pos = np.unique(cause[first], return_index=True)
            self.causes.master[cf] = p["pid"][idx[first][pos]]
            later = np.flatnonzero(first)
            later = np.setdiff1d(later, later[pos])
            if later.size:
                p["status"][idx[later]] = Status.MERGED
                self.counts["merged"] += later.size
                keep = np.ones(idx.size, bool)
                keep[later] = False
                idx = idx[keep]
        primary = p["primary"][idx]
        second = p["second"][idx]
        multi = second >= 0
        whistle = self.local["policies.whistle_and_report"][self.community_of[p["res"][idx]]]
        joint = multi & ((self.joined[primary] & self.joined[np.maximum(second, 0)]) | whistle)
        p["joint"][idx] = joint
        p["deadline"][idx] = np.where(joint, np.minimum(p["deadline"][idx], pol.joint_deadline_days), p["deadline"][idx])
        wrong = p["u_route"][idx] < GovernanceCentre.misroute_chance(self, primary)
        # A misrouted case first goes to another department (chosen with the same uniform).
        shift = 1 + (p["u_route"][idx] * 7919).astype(np.int64) % max(1, self.n_depts - 1)
        p["dept"][idx] = np.where(wrong, (primary + shift) % self.n_depts, primary)
        p["stage"][idx] = np.where(wrong, -1, 0)
        p["status"][idx] = Status.QUEUED
        p["avail_time"][idx] = np.maximum(p["file_time"][idx], t)
        np.add.at(self.q_arrivals, p["dept"][idx], 1)

    def early_warning(self, t: int) -> None:
        """On shared data, a cluster of reports of one cause triggers a fix before more are hit."""
        pol = self.params.policies
        rng = self.streams["warning"]
        false_alarms = rng.poisson(pol.false_alarm_rate, self.n_grids).sum()   # drawn every day (CRN)
        if not pol.early_warning or not self.joined.any():
            return
        if false_alarms:
            depts = np.flatnonzero(self.joined)
            hit = depts[rng.integers(0, depts.size, false_alarms)]
            np.subtract.at(self.credit, hit, pol.false_alarm_cost)
            self.counts["false_alarms"] += int(false_alarms)
            self.day_counts[DAILY_SERIES.index("false_alarms")] += false_alarms
        c = self.causes
        warn = np.flatnonzero((c.filed >= pol.early_warning_threshold) & ~c.fixed)
        if warn.size == 0:
            return
        self.counts["early_warnings"] += warn.size
        self.day_counts[DAILY_SERIES.index("early_warnings")] += warn.size
        np.subtract.at(self.credit, self.cat_primary[c.cat[warn]], 1.0)   # acting on the cause takes a visit
        self._fix_causes(warn, t + 1.0, all_cases=True)

    def _fix_causes(self, causes: np.ndarray, when: float, all_cases: bool) -> None:
        """A common cause is fixed: its unreported problems are gone; on the platform its cases close too."""
        if causes.size == 0:
            return
        self.causes.fixed[causes] = True
        p = self.pool
        mine = np.isin(p["cause"], causes)
        st = p["status"]
        quiet = np.flatnonzero(mine & ((st == Status.SILENT) | (st == Status.PENDING)))
        if all_cases:
            p["channel"][quiet] = Channel.EARLY_WARNING
            self.counts["warned"] += quiet.size
            p["file_time"][quiet] = when
            self._close(quiet, Status.RESOLVED, when, known=True)
            cases = np.flatnonzero(mine & ((st == Status.FILED) | (st == Status.QUEUED) | (st == Status.MERGED)))
            self._close(cases, Status.RESOLVED, when, known=True)
        else:
            self._close(quiet, Status.RESOLVED, when, known=False)

    # ----------------------------------------------------------------------------------------------
    def handle(self, t: int) -> None:
        """Departments serve their queues; visits end in a hand-off or the case closes."""
        p = self.pool
        # Credit accrues daily; what is unused beyond one day's capacity plus the largest visit (1.5
        # work units) is lost, so a small department can always, in time, serve any case.
        self.credit = np.minimum(self.credit + self.capacity, self.capacity + JOINT_WORK)
        queued = np.flatnonzero((p["status"] == Status.QUEUED) & (p["avail_time"] < t + 1))
        dept = p["dept"][queued].astype(np.int64)
        # Little's law bookkeeping: every available case spends (t+1 − max(t, avail)) in queue today.
        np.add.at(self.q_area, dept, (t + 1) - np.maximum(t, p["avail_time"][queued]))
        pol = self.params.policies
        edf = pol.deadline_tracking & self.joined[dept]
        key = np.where(edf, p["file_time"][queued] + p["deadline"][queued], p["avail_time"][queued])
        work = np.where(p["joint"][queued], JOINT_WORK, 1.0)
        done = Department.serve(self, queued, dept, key, work)
        self.credit = np.maximum(self.credit, -self.capacity)   # false alarms can borrow at most a day
        if done.size == 0:
            return
        d = p["dept"][done].astype(np.int64)
        np.add.at(self.q_departures, d, 1)
        np.add.at(self.q_sojourn, d, (t + 1) - p["avail_time"][done])
        self._after_visit(done, t + 1.0)

    def _after_visit(self, done: np.ndarray, now: float) -> None:
        p = self.pool
        r = self.params.routing
        rng = self.streams["handle"]
        stage = p["stage"][done]
        cause = p["cause"][done]
        # A duplicate of a cause already fixed: handled separately in silos (duplicated work).
        dup = self.causes.flag(cause, self.causes.fixed)
        final = dup | ((stage == 0) & ((p["second"][done] < 0) | p["joint"][done])) | (stage >= 1)
        self.counts["duplicate_work"] += int(dup.sum())
        self.day_counts[DAILY_SERIES.index("duplicate_work")] += dup.sum()
        # Hand-offs: misrouted → primary; silo multi-department → second (or bounced back to primary).
        hand = done[~final]
        if hand.size:
            st = p["stage"][hand]
            nxt = np.where(st == -1, p["primary"][hand], p["second"][hand])
            bounce = (st == 0) & (rng.random(hand.size) < r.bounce_probability) & (p["bounces"][hand] < 2)
            cur = p["dept"][hand].astype(np.int64)
            nxt = np.where(bounce, p["primary"][hand], nxt)
            both_joined = self.joined[cur] & self.joined[nxt]
            delay = rng.uniform(r.handoff_delay_min, r.handoff_delay_max, hand.size)
            delay = np.where(both_joined, delay * r.platform_delay_share, delay)
            loss = np.where(both_joined, 0.0, r.detail_loss_per_handoff)
            p["detail"][hand] *= (1 - loss)
            p["bounces"][hand] += bounce
            self.counts["bounces"] += int(bounce.sum())
            self.counts["handoffs"] += hand.size
            p["stage"][hand] = np.where(bounce, 0, st + 1)
            p["dept"][hand] = nxt
            p["avail_time"][hand] = now + delay
            np.add.at(self.q_arrivals, nxt.astype(np.int64), 1)
        fin = done[final]
        if fin.size == 0:
            return
        train = self.params.policies.training_level
        p_fix = np.clip((r.fix_base + r.fix_training_gain * train) * (0.4 + 0.6 * p["detail"][fin]), 0, 1)
        fixed = dup[final] | (p["u_fix"][fin] < p_fix)
        res_idx, unres_idx = fin[fixed], fin[~fixed]
        self._close(res_idx, Status.RESOLVED, now, known=True)
        self._close(unres_idx, Status.UNRESOLVED, now, known=True)
        # A real fix of a shared cause stops its further hits and settles its unreported problems.
        fixed_causes = np.unique(p["cause"][res_idx])
        fixed_causes = fixed_causes[(fixed_causes >= 0)]
        fixed_causes = fixed_causes[~self.causes.fixed[fixed_causes]]
        self._fix_causes(fixed_causes, now, all_cases=False)
        # Merged duplicates close with their master case.
        if self.params.policies.duplicate_merging:
            for idx_set, status in ((res_idx, Status.RESOLVED), (unres_idx, Status.UNRESOLVED)):
                cs = p["cause"][idx_set]
                cs = cs[cs >= 0]
                if cs.size:
                    followers = np.flatnonzero(np.isin(p["cause"], cs) & (p["status"] == Status.MERGED))
                    self._close(followers, status, now, known=True)
                    self.causes.master[cs] = -1

    # ----------------------------------------------------------------------------------------------
    def escalate(self, t: int) -> None:
        """Epstein's rule: grievance = hardship × (1 − legitimacy), with hardship the severity grown
        over the problem's age and legitimacy the resident's trust; above the threshold it escalates."""
        p = self.pool
        d = self.params.demand
        open_ = np.flatnonzero(p["status"] < Status.RESOLVED)
        if open_.size == 0:
            return
        age = (t + 1) - p["born"][open_]
        hardship = p["sev0"][open_] * np.exp(d.severity_growth * age)
        grievance = hardship * (1 - self.trust[p["res"][open_]])
        esc = open_[grievance > d.escalation_threshold * p["thresh"][open_]]
        if esc.size:
            known = p["status"][esc] >= Status.FILED
            self._close(esc[known], Status.ESCALATED, t + 1.0, known=True)
            self._close(esc[~known], Status.ESCALATED, t + 1.0, known=False)
        st = p["status"]
        gone = np.flatnonzero(((st == Status.SILENT) | (st == Status.PENDING)) & ((t + 1) - p["born"] > d.patience_days))
        self._close(gone, Status.ABANDONED, t + 1.0, known=False)

    # ----------------------------------------------------------------------------------------------
    def _close(self, idx: np.ndarray, status: Status, when: float, known: bool) -> None:
        """Finish problems: count them, record durations, and let residents judge the service."""
        if idx.size == 0:
            return
        p = self.pool
        p["status"][idx] = status
        res = p["res"][idx]
        old = self.old[res].astype(np.int64)
        grid = self.grid_of[res]
        days = when - p["born"][idx]
        key = {Status.RESOLVED: "resolved", Status.UNRESOLVED: "unresolved", Status.ESCALATED: "escalated",
               Status.ABANDONED: "abandoned"}[status]
        self.counts[key] += idx.size
        self.day_counts[DAILY_SERIES.index(key)] += idx.size
        np.add.at(self.finished, old, 1)
        col = {Status.RESOLVED: 1, Status.ESCALATED: 2, Status.ABANDONED: 3}.get(status)
        if col is not None:
            np.add.at(self.grid_acc[:, col], grid, 1)
        if status == Status.RESOLVED:
            np.add.at(self.hist_days, (old, np.minimum(days.astype(np.int64), MAX_DAYS_HIST - 1)), 1)
            np.add.at(self.sum_days, old, days)
            np.add.at(self.n_days, old, 1)
            np.add.at(self.grid_acc[:, 5], grid, days)
            multi = p["second"][idx] >= 0
            self.multi_days += (days[multi].sum(), multi.sum())
        if known:
            if status != Status.ABANDONED:
                self.counts[key + "_known"] += idx.size
            by_dept = p["dept"][idx] >= 0
            if by_dept.any() and status in (Status.RESOLVED, Status.UNRESOLVED):
                self.counts["closed_cases"] += int(by_dept.sum())
                within = (when - p["file_time"][idx][by_dept]) <= p["deadline"][idx][by_dept]
                self.counts["closed_in_deadline"] += int(within.sum())
        else:
            np.add.at(self.silent_finished, old, 1)
        # Residents judge: the wait against what they expected (the deadline), and the outcome.
        r = self.params.residents
        start = np.where(np.isfinite(p["report_time"][idx]), p["report_time"][idx], p["file_time"][idx])
        start = np.where(np.isfinite(start), start, p["born"][idx])
        wait = np.maximum(when - start, 0.0)
        expected = self.cat_deadline[p["cat"][idx]] * np.where(old == 1, r.elder_wait_expectation, 1.0)
        if status == Status.ABANDONED:
            expected = np.maximum(expected, self.params.demand.patience_days / 4)
        Resident.experience(self, res, np.full(idx.size, float(status == Status.RESOLVED)), wait, expected)

    # ----------------------------------------------------------------------------------------------
    def privacy(self, t: int) -> None:
        """Sharing carries a daily leak risk, cut by safeguards; a leak lowers everyone's trust."""
        u = self.streams["privacy"].random()   # drawn every day (CRN)
        pr = self.params.privacy
        if u < self.leak_probability():
            self.counts["leaks"] += 1
            self.day_counts[DAILY_SERIES.index("leaks")] += 1
            self.trust -= pr.leak_trust_hit
            np.clip(self.trust, 0.0, 1.0, out=self.trust)

    def leak_probability(self) -> float:
        """Daily chance of a data leak: grows with the share of departments sharing, cut by safeguards."""
        pr = self.params.privacy
        return pr.leaks_per_year / 365.0 * self.joined.mean() \
            * (1 - pr.safeguard_effect * self.params.policies.privacy_safeguards)

    def daily_cost(self) -> dict[str, float]:
        """Costs of one day, yuan."""
        sc = self.params
        c = sc.costs
        pol = sc.policies
        grids_per_comm = sc.population.grids_per_community
        workers = (self.local["staffing.grid_workers_per_grid"] * grids_per_comm).sum()
        staff = self.staff.sum()
        n_join = int(self.joined.sum())
        build = n_join * c.platform_build_per_department
        any_platform = n_join > 0
        features = (pol.duplicate_merging + pol.deadline_tracking + pol.early_warning) if any_platform else 0
        train_people = (self.local["policies.training_level"] * self.local["staffing.grid_workers_per_grid"]
                        * grids_per_comm).sum() + pol.training_level * staff
        elder_res = (self.local["policies.elder_friendly"] * self.community_size).sum()
        return {
            "grid_workers": workers * c.grid_worker_year / 365,
            "staff": staff * c.staff_year / 365,
            "platform": build / (c.platform_life_years * 365) + build * c.platform_running_share / 365,
            "features": features * c.platform_features_year / 365,
            "safeguards": (pol.privacy_safeguards * c.safeguards_year / 365) if any_platform else 0.0,
            "training": train_people * c.training_per_worker_year / 365,
            "elder_friendly": elder_res / 10_000 * c.elder_friendly_per_10k_year / 365,
        }

    def account(self, t: int) -> None:
        costs = self.daily_cost()
        esc_today = self.day_counts[DAILY_SERIES.index("escalated")]
        costs["incidents"] = esc_today * self.params.costs.incident_cost
        for k, v in costs.items():
            self.cost_parts[k] += v
        self.cost_total += sum(costs.values())
        p = self.pool
        st = p["status"]
        terminal = st >= Status.RESOLVED
        if terminal.any():
            self.pool.keep(~terminal)
            st = p["status"]
        row = self.day_counts
        ix = DAILY_SERIES.index
        row[ix("backlog")] = np.count_nonzero(st >= Status.FILED)
        row[ix("silent_open")] = np.count_nonzero(st <= Status.PENDING)
        row[ix("satisfaction")] = self.satisfaction.mean()
        row[ix("trust")] = self.trust.mean()
        row[ix("satisfaction_60plus")] = self.satisfaction[self.old].mean() if self.old.any() else np.nan
        row[ix("satisfaction_under60")] = self.satisfaction[~self.old].mean() if (~self.old).any() else np.nan
        row[ix("cost")] = self.cost_total / 1e6
        if t < self.series.shape[0]:
            self.series[t] = row
            self.queue_series[t] = self.queue_lengths()
        else:  # run past the planned steps (interactive view): grow the records
            self.series = np.vstack([self.series, row[None, :]])
            self.queue_series = np.vstack([self.queue_series, self.queue_lengths()[None, :]])

    # ==============================================================================================
    # Reading the state
    def queue_lengths(self) -> np.ndarray:
        p = self.pool
        q = p["status"] == Status.QUEUED
        return np.bincount(p["dept"][q].astype(np.int64), minlength=self.n_depts)

    def daily_frame(self) -> pd.DataFrame:
        """The daily series as a frame (one row per simulated day)."""
        n = self.day
        df = pd.DataFrame(self.series[:n], columns=list(DAILY_SERIES))
        for k, name in enumerate(self.dept_names):
            df[f"queue_{name}"] = self.queue_series[:n, k]
        df.insert(0, "day", np.arange(1, n + 1))
        return df

    def summary(self) -> dict[str, float]:
        """The 4E indicators of the run so far (see :mod:`sim.metrics`)."""
        c = self.counts
        years = max(self.day, 1) / 365.0
        n = self.n_residents
        hist = self.hist_days.sum(axis=0)
        resolved_known = c["resolved_known"]
        finished_known = resolved_known + c["unresolved_known"] + c["escalated_known"]
        mean_days = np.divide(self.sum_days, self.n_days, out=np.full(2, np.nan), where=self.n_days > 0)
        grid_sat = np.bincount(self.grid_of, weights=self.satisfaction, minlength=self.n_grids) / \
            np.bincount(self.grid_of, minlength=self.n_grids)
        known_cases = c["filed"] + c["settled_on_spot"] + c["warned"]
        st = self.pool["status"]
        old_sat = self.satisfaction[self.old].mean() if self.old.any() else np.nan
        young_sat = self.satisfaction[~self.old].mean() if (~self.old).any() else np.nan
        return {
            "total_cost": self.cost_total / 1e6,
            "cost_per_resolved": self.cost_total / c["resolved"] if c["resolved"] else float("nan"),
            "median_days": hist_quantile(hist, 0.5),
            "p90_days": hist_quantile(hist, 0.9),
            "backlog": float(np.count_nonzero(st >= Status.FILED)),
            "within_deadline": c["closed_in_deadline"] / c["closed_cases"] if c["closed_cases"] else float("nan"),
            "duplicate_work": float(c["duplicate_work"]),
            "multi_dept_days": self.multi_days[0] / self.multi_days[1] if self.multi_days[1] else float("nan"),
            "bounces": c["bounces"] / c["filed"] if c["filed"] else float("nan"),
            "resolution_rate": resolved_known / finished_known if finished_known else float("nan"),
            "satisfaction": float(self.satisfaction.mean()),
            "trust": float(self.trust.mean()),
            "escalations": c["escalated"] / n * 10_000 / years,
            "found_before_report": (c["discovered"] + c["warned"]) / known_cases if known_cases else float("nan"),
            "gap_days_60plus": float(mean_days[1] - mean_days[0]),
            "gap_satisfaction_60plus": float(young_sat - old_sat),
            "gini_grid_satisfaction": gini(grid_sat),
            "silent_share_60plus": self.silent_finished[1] / self.finished[1] if self.finished[1] else float("nan"),
            "dispatched_per_resident_year": c["filed"] / n / years,
            "contacts_per_resident_year": c["hotline_reports"] / (1 - self.params.demand.consultation_share) / n / years,
            "hotline_share": c["hotline_reports"] / c["reports"] if c["reports"] else float("nan"),
            "incidents": float(c["escalated"]),
            "leaks": float(c["leaks"]),
        }

    def grid_frame(self) -> pd.DataFrame:
        """Per-grid results: residents, workers, satisfaction, trust, problems and outcomes."""
        g = np.arange(self.n_grids)
        cnt = np.bincount(self.grid_of, minlength=self.n_grids)
        acc = self.grid_acc
        problems = np.bincount(self.grid_of[self.pool["res"]], minlength=self.n_grids)
        resolved = acc[:, 1]
        return pd.DataFrame({
            "grid": g, "community": self.grid_community, "subdistrict": self.community_subdistrict[self.grid_community],
            "residents": cnt,
            "grid_workers": self.local["staffing.grid_workers_per_grid"][self.grid_community],
            "satisfaction": np.bincount(self.grid_of, weights=self.satisfaction, minlength=self.n_grids) / cnt,
            "trust": np.bincount(self.grid_of, weights=self.trust, minlength=self.n_grids) / cnt,
            "resolved": resolved, "escalated": acc[:, 2], "abandoned": acc[:, 3], "found_by_patrol": acc[:, 4],
            "mean_days": np.divide(acc[:, 5], resolved, out=np.full(self.n_grids, np.nan), where=resolved > 0),
            "open_problems": problems,
        })

    def department_frame(self) -> pd.DataFrame:
        """Per-department queue statistics, with the quantities of Little's law (L = λW)."""
        T = max(self.day, 1)
        W = np.divide(self.q_sojourn, self.q_departures, out=np.full(self.n_depts, np.nan), where=self.q_departures > 0)
        return pd.DataFrame({
            "department": self.dept_names, "joined": self.joined, "staff": self.staff, "capacity_per_day": self.capacity,
            "arrivals": self.q_arrivals, "departures": self.q_departures, "mean_in_queue": self.q_area / T,
            "arrival_rate": self.q_arrivals / T, "mean_time_in_queue": W,
            "queue_at_end": self.queue_lengths(),
        })

    def grid_state(self, grid: int) -> dict:
        sel = self.grid_of == grid
        p = self.pool
        mine = sel[p["res"]] if len(p) else np.zeros(0, bool)
        return {
            "grid": int(grid), "community": int(self.grid_community[grid]),
            "residents": int(sel.sum()), "grid_workers": float(self.local["staffing.grid_workers_per_grid"][self.grid_community[grid]]),
            "open_cases": int((p["status"][mine] >= Status.FILED).sum()),
            "unreported_problems": int((p["status"][mine] <= Status.PENDING).sum()),
            "satisfaction": round(float(self.satisfaction[sel].mean()), 3), "trust": round(float(self.trust[sel].mean()), 3),
            "resolved": int(self.grid_acc[grid, 1]), "escalated": int(self.grid_acc[grid, 2]),
        }

    def resident_state(self, i: int) -> dict:
        p = self.pool
        mine = np.flatnonzero(p["res"] == i)
        usable = Resident.usable_channels(self, np.array([i]))[0]
        return {
            "resident": int(i), "grid": int(self.grid_of[i]), "building": int(self.building_of[i]),
            "aged_60plus": bool(self.old[i]), "trust": round(float(self.trust[i]), 3),
            "satisfaction": round(float(self.satisfaction[i]), 3),
            "channels": [CHANNEL_KEYS[Channel(c)] for c in range(4) if usable[c]],
            "open_cases": [{"category": self.cat_names[p["cat"][k]], "status": Status(p["status"][k]).name.lower(),
                            "days_open": round(self.day - float(p["born"][k]), 1),
                            "channel": Channel(p["channel"][k]).name.lower(),
                            "department": self.dept_names[p["dept"][k]] if p["dept"][k] >= 0 else None}
                           for k in mine],
        }
