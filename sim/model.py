"""The governance model: a community's residents, grid workers and departments, and the case flow.

State is kept in numpy arrays owned by the model (residents: one row each; open problems: a compact
pool of parallel arrays); the Mesa agents in :mod:`sim.agents` are views of those arrays and hold the
rules. No daily phase loops over residents in Python. See ``docs/ODD.md`` for the full description.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import mesa
import numpy as np
import pandas as pd
import scipy.sparse as sp

from sim import agents
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

_IX = {name: k for k, name in enumerate(DAILY_SERIES)}
# Status and channel codes as plain ints for the array code (an IntEnum operand costs numpy a
# conversion on every comparison); ``Status``/``Channel`` remain the names to read and report.
S = SimpleNamespace(**{m.name: int(m) for m in Status})
C = SimpleNamespace(**{m.name: int(m) for m in Channel})
_CLOSED_KEY = {Status.RESOLVED: "resolved", Status.UNRESOLVED: "unresolved", Status.ESCALATED: "escalated",
               Status.ABANDONED: "abandoned"}
_GRID_COL = np.zeros(Status.ABANDONED + 1, np.int64)
_GRID_COL[[Status.RESOLVED, Status.ESCALATED, Status.ABANDONED]] = (1, 2, 3)


def _mean(x: np.ndarray) -> np.float64:
    """``x.mean()`` of a non-empty float64 vector, computed the same way without the wrapper's overhead."""
    return np.add.reduce(x) / x.size


POOL_FIELDS = {
    "pid": np.int64, "res": np.int32, "cat": np.int16, "cause": np.int32, "born": np.float64,
    "sev0": np.float32, "status": np.int8, "report_time": np.float64, "channel": np.int8,
    "disc_clock": np.float64, "disc_cum": np.float64, "thresh": np.float32, "u_route": np.float32,
    "u_fix": np.float32, "u_settle": np.float32, "primary": np.int16, "second": np.int16,
    "dept": np.int16, "stage": np.int8, "detail": np.float32, "file_time": np.float64,
    "avail_time": np.float64, "deadline": np.float64, "joint": np.bool_, "bounces": np.int8,
}


class Pool(dict):
    """Open problems as parallel arrays; finished ones are dropped after accounting.

    Fields of one dtype share a 2-D buffer with spare capacity (doubled when full): adding a day's
    problems writes into the buffers, and dropping finished ones compacts 7 buffers instead of
    reallocating 25 arrays. ``pool[field]`` is the live (contiguous) view of the open rows (the pool
    is a dict of these views, so a field lookup costs a plain dict lookup); ``len(pool)`` is the
    number of open rows.
    """

    GROUPS: dict = {}
    for _k, _t in POOL_FIELDS.items():
        GROUPS.setdefault(np.dtype(_t), []).append(_k)
    ROW = {k: (dt, i) for dt, ks in GROUPS.items() for i, k in enumerate(ks)}
    del _k, _t

    def __init__(self, capacity: int = 256):
        self.n = 0
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        old = getattr(self, "_buf", None)
        self._buf = {dt: np.zeros((len(ks), capacity), dtype=dt) for dt, ks in self.GROUPS.items()}
        if old is not None:
            for dt, b in old.items():
                self._buf[dt][:, :self.n] = b[:, :self.n]
        self._rows = {k: self._buf[dt][i] for k, (dt, i) in self.ROW.items()}   # full-capacity rows
        self.capacity = capacity
        self._views()

    def _views(self) -> None:
        n = self.n
        self.update({k: r[:n] for k, r in self._rows.items()})

    @property
    def a(self) -> dict:
        return self

    def __reduce__(self):   # pickle the buffers; the views are rebuilt on loading
        return _load_pool, (self.n, self._buf)

    def __len__(self):
        return self.n

    def append(self, fields: dict, n: int | None = None) -> None:
        """Add `n` rows; a field may be an array or a scalar for all rows; missing fields are 0."""
        if n is None:
            n = len(next(v for v in fields.values() if np.ndim(v)))
        if n == 0:
            return
        n0, n1 = self.n, self.n + n
        if n1 > self.capacity:
            self._alloc(max(2 * self.capacity, n1))
        get = fields.get
        for k, r in self._rows.items():
            r[n0:n1] = get(k, 0)
        self.n = n1
        self._views()

    def keep(self, mask: np.ndarray) -> None:
        rows = mask.nonzero()[0]
        m = rows.size
        for b in self._buf.values():
            b[:, :m] = b.take(rows, axis=1)
        self.n = m
        self._views()


def _load_pool(n: int, buf: dict) -> Pool:
    pool = Pool(1)
    pool.n, pool._buf = n, buf
    pool.capacity = next(iter(buf.values())).shape[1]
    pool._rows = {k: buf[dt][i] for k, (dt, i) in Pool.ROW.items()}
    pool._views()
    return pool


class Causes:
    """Shared causes (one problem seen by several neighbours): the basis of duplicates and early warning.

    Arrays ``cat``, ``building``, ``fixed``, ``filed`` (cases of the cause filed on the platform, for
    early warning) and ``master`` (pool pid of the open case others merge into; -1: none) are views
    of buffers with spare capacity.
    """

    FIELDS = (("cat", np.int16, 0), ("building", np.int32, 0), ("fixed", np.bool_, False),
              ("filed", np.int32, 0), ("master", np.int64, -1))

    def __init__(self, capacity: int = 256):
        self.n = 0
        self._buf = {k: np.empty(capacity, t) for k, t, _ in self.FIELDS}
        self._views()

    @classmethod
    def empty(cls):
        return cls()

    def _views(self) -> None:
        for k, _, _ in self.FIELDS:
            setattr(self, k, self._buf[k][:self.n])

    def __getstate__(self):   # pickle the buffers; the views are rebuilt on loading
        return {"n": self.n, "_buf": self._buf}

    def __setstate__(self, state):
        self.n, self._buf = state["n"], state["_buf"]
        self._views()

    def flag(self, cause: np.ndarray, values: np.ndarray, missing=False) -> np.ndarray:
        """`values[cause]`, with `missing` where the problem has no shared cause (cause = -1)."""
        if values.size == 0:
            return np.full(cause.shape, missing, dtype=values.dtype)
        out = values[np.maximum(cause, 0)]
        out[cause < 0] = missing
        return out

    def mark(self, causes: np.ndarray, cause: np.ndarray) -> np.ndarray:
        """``np.isin(cause, causes)`` for cause ids (-1: none), by a lookup table."""
        table = np.zeros(self.n + 1, dtype=bool)
        table[causes] = True
        return table[cause]

    def extend(self, cat, building):
        k = len(cat)
        n0, n1 = self.n, self.n + k
        cap = self._buf["cat"].size
        if n1 > cap:
            cap = max(2 * cap, n1)
            for name, t, _ in self.FIELDS:
                b = np.empty(cap, t)
                b[:n0] = self._buf[name][:n0]
                self._buf[name] = b
        self._buf["cat"][n0:n1] = cat
        self._buf["building"][n0:n1] = building
        for name, _, fill in self.FIELDS[2:]:
            self._buf[name][n0:n1] = fill
        self.n = n1
        self._views()


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
        self._equal_communities = bool((self.community_size == self.community_size[0]).all())
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
        self._old_idx = self.old.nonzero()[0]      # residents' ages are fixed for the run
        self._young_idx = (~self.old).nonzero()[0]
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
        # 32-bit neighbour ids (while they fit): half the memory traffic of the random gathers
        # of conversations and word of mouth
        self.adj_indptr = a.indptr.astype(np.int64)
        self.adj_indices = a.indices.astype(np.int32 if n < 2**31 else np.int64)
        self.adj_degree = np.diff(self.adj_indptr)
        self.adj_first_degree = np.stack([self.adj_indptr[:-1], self.adj_degree], axis=1)   # (N, 2)

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
        # second departments of multi-department cases by category (padded table), and how many each has
        second = [o or [k for k in range(self.n_depts) if k != self.cat_primary[c]]
                  for c, o in enumerate(self.cat_others)]
        self._n_second = np.array([len(o) for o in second], dtype=np.int64)
        self._second_of = np.zeros((len(second), max(1, self._n_second.max())), dtype=np.int16)
        for c, o in enumerate(second):
            self._second_of[c, :len(o)] = o
        self.credit = np.zeros(self.n_depts)
        self._derive_policy_state()

    def _policy_key(self) -> tuple:
        """What the cached derived quantities depend on: parameters, local levers, sharing, staffing."""
        return (self.params, self.joined.tobytes(), self.staff.tobytes(), self.capacity.tobytes(),
                *(a.tobytes() for a in self.local.values()))

    def _cached(self, name: str, compute):
        """A quantity derived from the parameters alone, computed once per policy state.

        The cache is emptied whenever the policy state changes (:meth:`apply_change`, or any change
        seen at the start of a day), so values are always those a fresh computation would give.
        """
        try:
            return self._caches[name]
        except KeyError:
            value = self._caches[name] = compute()
            return value

    def _derive_policy_state(self):
        """Quantities derived from the current scenario (recomputed after every change)."""
        self._caches = {}
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
        self._lam_cache = None
        self._pkey = None
        self._closed: list[tuple] = []   # today's closures: (pool rows, status, time, known)
        self._pending: list[tuple] = []  # closures taken from the pool, not yet booked
        self._n_pending = 0
        self.next_pid = 0
        # Pending hits of shared causes, one row each: cause, time, resident, 8 uniforms (ids are
        # exact in float64); one array, so a day's hits are added and removed in one operation.
        self._hits = np.empty((0, 11))
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
        self.case_satisfaction = np.zeros((2, 2))   # per age group [under 60, 60+]: sum of s, judgements
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
        self.day_counts.fill(0)
        self.apply_timeline(t)
        key = self._policy_key()
        if key != self._pkey:
            self._caches = {}
            self._pkey = key
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
        self._book_closed()
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

    @property
    def hits(self) -> dict[str, np.ndarray]:
        """Pending hits of shared causes: cause, time, resident and their 8 uniforms."""
        h = self._hits
        return {"cause": h[:, 0].astype(np.int32), "time": h[:, 1].copy(), "res": h[:, 2].astype(np.int32),
                "u": h[:, 3:].copy()}

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
        # Expected causes by community and category: the same until parameters or active shocks change.
        shocks = self.base_scenario.shocks
        active = tuple(i for i, sh in enumerate(shocks) if sh.start <= t <= sh.end) if shocks else ()
        lc = self._lam_cache
        if lc is not None and lc[0] is self.params and lc[1] is self.cat_prob and lc[2] == active:
            lam = lc[3]
        else:
            lam = (self.community_size[:, None] * cause_rate) * self.cat_prob[None, :] * self._rate_multiplier(t)
            self._lam_cache = (self.params, self.cat_prob, active, lam)
        counts = rng.poisson(lam)
        # (community, category) of each new cause, in row-major order of the count matrix
        comm, cat = np.divmod(np.arange(counts.size).repeat(counts.ravel()), counts.shape[1])
        k = comm.size
        if self._equal_communities:   # one bound for all: the same draws as the per-problem bounds
            pick = rng.integers(0, int(self.community_size[0]), size=k)
        else:
            pick = rng.integers(0, self.community_size[comm], size=k)
        res = (self.community_start[comm] + pick).astype(np.int32)
        born = t + rng.random(k)
        shared = rng.random(k) < s
        more = rng.poisson(m - 2, size=k)   # a shared cause hits 1 + more further residents
        u = rng.random((k, 8))
        # Shared causes: register, and schedule their further hits with all their draws made now.
        cause = np.empty(k, dtype=np.int32)
        cause.fill(-1)
        if shared.any():
            first = self.causes.cat.size
            idx = shared.nonzero()[0]
            cause[idx] = first + np.arange(idx.size)
            self.causes.extend(cat[idx], self.building_of[res[idx]])
            n_hits = more[idx] + 1
            hc = np.repeat(cause[idx], n_hits)
            hb = self.building_of[np.repeat(res[idx], n_hits)]
            htime = np.repeat(born[idx], n_hits) + rng.exponential(d.shared_cause_spread_days, size=hc.size)
            size = self.building_size[hb]
            if size.size and (size == size[0]).all():   # one bound for all: the same draws
                pick = rng.integers(0, int(size[0]), size=size.size)
            else:
                pick = rng.integers(0, size)
            hres = (self.building_start[hb] + pick).astype(np.int32)
            hu = rng.random((hc.size, 8))
            new = np.empty((hc.size, 11))
            new[:, 0] = hc
            new[:, 1] = htime
            new[:, 2] = hres
            new[:, 3:] = hu
            self._hits = np.concatenate([self._hits, new])
        # Hits due today whose cause is not yet fixed.
        due = self._hits[:, 1] < t + 1
        if due.any():
            h = self._hits[due]
            self._hits = self._hits[~due]
            hc = h[:, 0].astype(np.int32)
            alive = ~self.causes.fixed[hc]
            if not alive.all():
                self.counts["prevented_hits"] += int((~alive).sum())
                h, hc = h[alive], hc[alive]
            res = np.concatenate([res, h[:, 2].astype(np.int32)])
            cat = np.concatenate([cat, self.causes.cat[hc]])
            born = np.concatenate([born, np.maximum(h[:, 1], t)])
            cause = np.concatenate([cause, hc])
            u = np.concatenate([u, h[:, 3:]])
        self._new_problems(res, cat, born, cause, u)

    def _new_problems(self, res, cat, born, cause, u):
        """Add problems; each resident decides at once whether and how it will report."""
        n = res.size
        self.counts["problems"] += n
        self.day_counts[_IX["new_problems"]] += n
        if n == 0:
            return
        d = self.params.demand
        willing = Resident.willing_to_report(self, res, u[:, 0])
        channel = Resident.choose_channel(self, res, u[:, 1])
        reports = willing & (channel >= 0)
        report_time = np.where(reports, born - d.report_delay_days * np.log1p(-u[:, 2]), np.inf)
        multi = u[:, 3] < d.multi_department_share
        second = np.empty(n, dtype=np.int16)
        second.fill(-1)
        if multi.any():
            # the second department among the category's others, chosen with the fix uniform
            cm = cat[multi]
            n_others = self._n_second[cm]
            second[multi] = self._second_of[cm, (u[multi, 4] * n_others).astype(int) % n_others]
        self.pool.append({
            "pid": np.arange(self.next_pid, self.next_pid + n), "res": res, "cat": cat, "cause": cause,
            "born": born, "sev0": self.cat_severity[cat], "status": np.where(reports, S.PENDING, S.SILENT),
            "report_time": report_time, "channel": np.where(reports, channel, C.NONE),
            "disc_clock": -np.log1p(-u[:, 5]), "disc_cum": 0.0,
            "thresh": 0.6 + 0.8 * u[:, 6], "u_route": u[:, 7], "u_fix": u[:, 4], "u_settle": u[:, 2],
            "primary": self.cat_primary[cat], "second": second, "dept": -1,
            "detail": 1.0, "file_time": np.inf, "avail_time": np.inf,
            "deadline": self.cat_deadline[cat],
        }, n)
        self.next_pid += n

    # ----------------------------------------------------------------------------------------------
    def report(self, t: int) -> None:
        """Residents whose report time has come file through their chosen channel."""
        p = self.pool
        idx = ((p["status"] == S.PENDING) & (p["report_time"] < t + 1)).nonzero()[0]
        if idx.size == 0:
            return
        chan = p["channel"][idx]
        delay_of, detail_of = self._cached("channel_filing", self._channel_filing)
        delay = delay_of[chan]
        detail = detail_of[chan]
        hotline = chan == C.HOTLINE
        if self._cached("any_elder_friendly", lambda: bool(self.local["policies.elder_friendly"].any())):
            res = p["res"][idx]
            elder = self.old[res] & self.local["policies.elder_friendly"][self.community_of[res]]
            delay = np.where(elder & hotline, 0.5 * delay, delay)  # priority line for the elderly
        self._file(idx, p["report_time"][idx] + delay, detail)
        self.counts["reports"] += idx.size
        self.counts["hotline_reports"] += int(np.count_nonzero(hotline))
        self.day_counts[_IX["reports"]] += idx.size

    def _channel_filing(self) -> tuple[np.ndarray, np.ndarray]:
        """Filing delay and detail kept, indexed by channel code (reporting channels; others 0 and 1)."""
        ch = self.params.channels
        delay = np.zeros(len(Channel))   # index -1 (no channel) is the last entry
        detail = np.ones(len(Channel))
        for c, key in CHANNEL_KEYS.items():
            delay[c] = getattr(ch, key).filing_delay_days
            detail[c] = getattr(ch, key).detail
        return delay, detail

    def _file(self, idx, file_time, detail):
        p = self.pool
        p["status"][idx] = S.FILED
        p["file_time"][idx] = file_time
        p["detail"][idx] = detail
        self.counts["filed"] += idx.size

    def patrol(self, t: int) -> None:
        """Grid workers find unreported problems; small disputes may be settled on the spot."""
        p = self.pool
        open_unknown = (p["status"] <= S.PENDING).nonzero()[0]   # SILENT or PENDING
        if open_unknown.size == 0:
            return
        hazard = self._cached("detection_hazard", lambda: GridWorker.detection_hazard(self))
        g = self.grid_of[p["res"][open_unknown]]
        cum = p["disc_cum"][open_unknown] + hazard[g]
        p["disc_cum"][open_unknown] = cum
        found = open_unknown[cum >= p["disc_clock"][open_unknown]]
        if found.size == 0:
            return
        self.counts["discovered"] += found.size
        self.day_counts[_IX["discovered"]] += found.size
        p["channel"][found] = C.PATROL
        gf = self.grid_of[p["res"][found]]
        np.add.at(self.grid_acc[:, 4], gf, 1)   # one per problem found (a grid may find several)
        settle_by_grid = self._cached("settle_chance", lambda: GridWorker.settle_chance(self, np.arange(self.n_grids)))
        settle = self.cat_spot[p["cat"][found]] & (p["u_settle"][found] < settle_by_grid[gf])
        spot = found[settle]
        if spot.size:
            self.counts["settled_on_spot"] += spot.size
            self.day_counts[_IX["settled_on_spot"]] += spot.size
            p["file_time"][spot] = t + 0.5
            self._close(spot, S.RESOLVED, t + 0.5, known=True)
        rest = found[~settle]
        self._file(rest, t + self.params.channels.grid_worker.filing_delay_days + 0.5,
                   self.params.channels.grid_worker.detail)

    # ----------------------------------------------------------------------------------------------
    def route(self, t: int) -> None:
        """The centre routes cases that arrived today."""
        p = self.pool
        idx = ((p["status"] == S.FILED) & (p["file_time"] < t + 1)).nonzero()[0]
        if idx.size == 0:
            return
        pol = self.params.policies
        # Duplicate merging on the platform: a case whose cause already has an open case on a joined
        # department waits for that case instead of being worked again.
        cause = p["cause"][idx]
        primary = p["primary"][idx]
        on_platform = self.joined[primary]
        if pol.duplicate_merging:
            has_master = (cause >= 0) & on_platform
            has_master[has_master] = self.causes.master[cause[has_master]] >= 0
            merged = idx[has_master]
            p["status"][merged] = S.MERGED
            self.counts["merged"] += merged.size
            idx = idx[~has_master]
            cause = p["cause"][idx]
            on_platform = self.joined[p["primary"][idx]]
        # Early-warning counts of filed reports per cause on the platform.
        sc_mask = (cause >= 0) & on_platform
        if sc_mask.any():
            np.add.at(self.causes.filed, cause[sc_mask], 1)
        if pol.duplicate_merging:
            first = sc_mask & (self.causes.flag(cause, self.causes.master, missing=-1) < 0)
            # several cases of one cause routed the same day: the first becomes the master
            cf, pos = np.unique(cause[first], return_index=True)
            self.causes.master[cf] = p["pid"][idx[first][pos]]
            later = first.nonzero()[0]
            later = np.setdiff1d(later, later[pos])
            if later.size:
                p["status"][idx[later]] = S.MERGED
                self.counts["merged"] += later.size
                keep = np.ones(idx.size, bool)
                keep[later] = False
                idx = idx[keep]
            primary = p["primary"][idx]
        second = p["second"][idx]
        multi = second >= 0
        if multi.any():
            whistle = self.local["policies.whistle_and_report"][self.community_of[p["res"][idx]]]
            joint = multi & ((self.joined[primary] & self.joined[np.maximum(second, 0)]) | whistle)
            p["joint"][idx] = joint
            deadline = p["deadline"][idx]
            p["deadline"][idx] = np.where(joint, np.minimum(deadline, pol.joint_deadline_days), deadline)
        else:
            p["joint"][idx] = False
        misroute = self._cached("misroute_chance",
                                lambda: GovernanceCentre.misroute_chance(self, np.arange(self.n_depts)))
        u_route = p["u_route"][idx]
        wrong = u_route < misroute[primary]
        if wrong.any():
            # A misrouted case first goes to another department (chosen with the same uniform).
            shift = 1 + (u_route * 7919).astype(np.int64) % max(1, self.n_depts - 1)
            dept = np.where(wrong, (primary + shift) % self.n_depts, primary)
            p["stage"][idx] = np.where(wrong, -1, 0)
        else:
            dept = primary
            p["stage"][idx] = 0
        p["dept"][idx] = dept
        p["status"][idx] = S.QUEUED
        p["avail_time"][idx] = np.maximum(p["file_time"][idx], t)
        self.q_arrivals += np.bincount(dept, minlength=self.n_depts)

    def early_warning(self, t: int) -> None:
        """On shared data, a cluster of reports of one cause triggers a fix before more are hit."""
        pol = self.params.policies
        rng = self.streams["warning"]
        false_alarms = rng.poisson(pol.false_alarm_rate, self.n_grids).sum()   # drawn every day (CRN)
        if not pol.early_warning or not self.joined.any():
            return
        if false_alarms:
            depts = self.joined.nonzero()[0]
            hit = depts[rng.integers(0, depts.size, false_alarms)]
            np.subtract.at(self.credit, hit, pol.false_alarm_cost)
            self.counts["false_alarms"] += int(false_alarms)
            self.day_counts[_IX["false_alarms"]] += false_alarms
        c = self.causes
        warn = ((c.filed >= pol.early_warning_threshold) & ~c.fixed).nonzero()[0]
        if warn.size == 0:
            return
        self.counts["early_warnings"] += warn.size
        self.day_counts[_IX["early_warnings"]] += warn.size
        np.subtract.at(self.credit, self.cat_primary[c.cat[warn]], 1.0)   # acting on the cause takes a visit
        self._fix_causes(warn, t + 1.0, all_cases=True)

    def _fix_causes(self, causes: np.ndarray, when: float, all_cases: bool) -> None:
        """A common cause is fixed: its unreported problems are gone; on the platform its cases close too."""
        if causes.size == 0:
            return
        self.causes.fixed[causes] = True
        p = self.pool
        mine = self.causes.mark(causes, p["cause"])
        st = p["status"]
        quiet = (mine & (st <= S.PENDING)).nonzero()[0]   # SILENT or PENDING
        if all_cases:
            p["channel"][quiet] = C.EARLY_WARNING
            self.counts["warned"] += quiet.size
            p["file_time"][quiet] = when
            self._close(quiet, S.RESOLVED, when, known=True)
            cases = (mine & (st >= S.FILED) & (st <= S.MERGED)).nonzero()[0]   # FILED, QUEUED, MERGED
            self._close(cases, S.RESOLVED, when, known=True)
        else:
            self._close(quiet, S.RESOLVED, when, known=False)

    # ----------------------------------------------------------------------------------------------
    def handle(self, t: int) -> None:
        """Departments serve their queues; visits end in a hand-off or the case closes."""
        p = self.pool
        # Credit accrues daily; what is unused beyond one day's capacity plus the largest visit (1.5
        # work units) is lost, so a small department can always, in time, serve any case.
        cap_top, cap_floor = self._cached("credit_bounds", lambda: (self.capacity + JOINT_WORK, -self.capacity))
        self.credit = np.minimum(self.credit + self.capacity, cap_top)
        avail = p["avail_time"]
        queued = ((p["status"] == S.QUEUED) & (avail < t + 1)).nonzero()[0]
        dept = p["dept"][queued].astype(np.int64)
        avail = avail[queued]
        # Little's law bookkeeping: every available case spends (t+1 − max(t, avail)) in queue today.
        np.add.at(self.q_area, dept, (t + 1) - np.maximum(t, avail))
        pol = self.params.policies
        if pol.deadline_tracking:
            edf = self.joined[dept]
            key = np.where(edf, p["file_time"][queued] + p["deadline"][queued], avail)
        else:
            key = avail
        work = np.where(p["joint"][queued], JOINT_WORK, 1.0)
        done = Department.serve(self, queued, dept, key, work)
        self.credit = np.maximum(self.credit, cap_floor)   # false alarms can borrow at most a day
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
        n_dup = int(np.count_nonzero(dup))
        self.counts["duplicate_work"] += n_dup
        self.day_counts[_IX["duplicate_work"]] += n_dup
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
            self.counts["bounces"] += int(np.count_nonzero(bounce))
            self.counts["handoffs"] += hand.size
            p["stage"][hand] = np.where(bounce, 0, st + 1)
            p["dept"][hand] = nxt
            p["avail_time"][hand] = now + delay
            np.add.at(self.q_arrivals, nxt.astype(np.int64), 1)
        fin = done[final]
        if fin.size == 0:
            return
        train = self.params.policies.training_level
        p_fix = (r.fix_base + r.fix_training_gain * train) * (0.4 + 0.6 * p["detail"][fin])
        p_fix = np.minimum(np.maximum(p_fix, 0), 1)   # clip to [0, 1]
        fixed = dup[final] | (p["u_fix"][fin] < p_fix)
        res_idx, unres_idx = fin[fixed], fin[~fixed]
        self._close(res_idx, S.RESOLVED, now, known=True)
        self._close(unres_idx, S.UNRESOLVED, now, known=True)
        # A real fix of a shared cause stops its further hits and settles its unreported problems.
        fixed_causes = p["cause"][res_idx]
        fixed_causes = fixed_causes[fixed_causes >= 0]
        if fixed_causes.size:
            fixed_causes = np.unique(fixed_causes)
            fixed_causes = fixed_causes[~self.causes.fixed[fixed_causes]]
            self._fix_causes(fixed_causes, now, all_cases=False)
        # Merged duplicates close with their master case.
        if self.params.policies.duplicate_merging:
            for idx_set, status in ((res_idx, S.RESOLVED), (unres_idx, S.UNRESOLVED)):
                cs = p["cause"][idx_set]
                cs = cs[cs >= 0]
                if cs.size:
                    followers = (self.causes.mark(cs, p["cause"]) & (p["status"] == S.MERGED)).nonzero()[0]
                    self._close(followers, status, now, known=True)
                    self.causes.master[cs] = -1

    # ----------------------------------------------------------------------------------------------
    def escalate(self, t: int) -> None:
        """Epstein's rule: grievance = hardship × (1 − legitimacy), with hardship the severity grown
        over the problem's age and legitimacy the resident's trust; above the threshold it escalates."""
        p = self.pool
        d = self.params.demand
        st = p["status"]
        open_ = (st < S.RESOLVED).nonzero()[0]
        if open_.size == 0:
            return
        age = (t + 1) - p["born"][open_]
        hardship = p["sev0"][open_] * np.exp(d.severity_growth * age)
        grievance = hardship * (1 - self.trust[p["res"][open_]])
        hit = grievance > d.escalation_threshold * p["thresh"][open_]
        if hit.any():
            esc = open_[hit]
            known = st[esc] >= S.FILED
            self._close(esc[known], S.ESCALATED, t + 1.0, known=True)
            self._close(esc[~known], S.ESCALATED, t + 1.0, known=False)
        # unreported problems past the residents' patience (status read after the escalations)
        gone = open_[(st[open_] <= S.PENDING) & (age > d.patience_days)]
        self._close(gone, S.ABANDONED, t + 1.0, known=False)

    # ----------------------------------------------------------------------------------------------
    def _close(self, idx: np.ndarray, status: Status, when: float, known: bool) -> None:
        """Finish problems: count them, and let residents judge the service.

        Durations and per-group tallies are booked later, in batches, by :meth:`_book_closed` (the
        same values, added in the same order; any reader of them books first); residents' judgements
        change trust, which the next phases read, so they are made here.
        """
        if idx.size == 0:
            return
        p = self.pool
        p["status"][idx] = status
        key = _CLOSED_KEY[status]
        self.counts[key] += idx.size
        self.day_counts[_IX[key]] += idx.size
        if known and status != S.ABANDONED:
            self.counts[key + "_known"] += idx.size
        self._closed.append((idx, status, when, known))
        # Residents judge: the wait against what they expected (the deadline), and the outcome.
        # residents aged 60+ expect a longer wait (elder_wait_expectation × the deadline)
        factor = self._cached("wait_factor", lambda: np.where(
            self.old, self.params.residents.elder_wait_expectation, 1.0))
        if idx.size <= agents.FEW:   # a few: the same arithmetic in Python floats
            res = p["res"][idx].tolist()
            deadline = self._cached("deadline_list", self.cat_deadline.tolist)
            floor = self.params.demand.patience_days / 4 if status == S.ABANDONED else None
            wait, expected = [], []
            for i, rt, ft, born, c in zip(res, p["report_time"][idx].tolist(), p["file_time"][idx].tolist(),
                                          p["born"][idx].tolist(), p["cat"][idx].tolist()):
                start = rt if math.isfinite(rt) else ft if math.isfinite(ft) else born
                wait.append(max(when - start, 0.0))
                e = deadline[c] * factor.item(i)
                expected.append(e if floor is None else max(e, floor))
            if 0.0 not in expected:
                Resident._experience_few(self, res, float(status == S.RESOLVED), wait, expected)
                return
        res = p["res"][idx]
        report_time = p["report_time"][idx]
        start = np.where(np.isfinite(report_time), report_time, p["file_time"][idx])
        start = np.where(np.isfinite(start), start, p["born"][idx])
        wait = np.maximum(when - start, 0.0)
        expected = self.cat_deadline[p["cat"][idx]] * factor[res]
        if status == S.ABANDONED:
            expected = np.maximum(expected, self.params.demand.patience_days / 4)
        Resident.experience(self, res, float(status == S.RESOLVED), wait, expected)

    def _take_closed(self) -> None:
        """Copy what the booking needs of the rows closed since the last call (before the pool drops
        them) into the pending list, in the order they closed."""
        log = self._closed
        if not log:
            return
        self._closed = []
        p = self.pool
        sizes = [e[0].size for e in log]
        idx = np.concatenate([e[0] for e in log]) if len(log) > 1 else log[0][0]
        rows = (sizes, np.array([e[1] for e in log], np.int8).repeat(sizes),
                np.array([e[2] for e in log], np.float64).repeat(sizes),
                np.array([e[3] for e in log], bool).repeat(sizes),
                p["res"][idx], p["born"][idx], p["second"][idx], p["dept"][idx], p["file_time"][idx],
                p["deadline"][idx])
        self._pending.append(rows)
        self._n_pending += idx.size
        if self._n_pending >= 1 << 15:   # book now and then; memory stays bounded
            self._book_closed()

    def _book_closed(self) -> None:
        """Book the finished problems not booked yet: outcomes by age group and grid, durations of
        resolved ones, deadlines kept. The values are added in the order the problems closed."""
        self._take_closed()
        pending = self._pending
        if not pending:
            return
        self._pending = []
        self._n_pending = 0
        sizes = [k for rows in pending for k in rows[0]]
        status, when, known, res, born, second, dept, file_time, deadline = (
            np.concatenate([rows[f] for rows in pending]) for f in range(1, 10))
        old = self.old[res].astype(np.int64)
        grid = self.grid_of[res]
        days = when - born
        self.finished += np.bincount(old, minlength=2)
        # grid columns: 1 resolved, 2 escalated, 3 abandoned (unresolved: not counted per grid)
        col = _GRID_COL[status]
        self.grid_acc[:, 1:4] += np.bincount(grid * 4 + col, minlength=4 * self.n_grids).reshape(self.n_grids, 4)[:, 1:]
        resolved = status == S.RESOLVED
        if resolved.any():
            r_old, r_days, r_grid = old[resolved], days[resolved], grid[resolved]
            np.add.at(self.hist_days, (r_old, np.minimum(r_days.astype(np.int64), MAX_DAYS_HIST - 1)), 1)
            np.add.at(self.sum_days, r_old, r_days)
            self.n_days += np.bincount(r_old, minlength=2)
            np.add.at(self.grid_acc[:, 5], r_grid, r_days)
            multi = resolved & (second >= 0)
            if multi.any():
                # per closing call, as the sum of that call's multi-department durations
                ends = np.cumsum(sizes).tolist()
                md = self.multi_days
                for call in np.unique(np.searchsorted(ends, multi.nonzero()[0], side="right")).tolist():
                    a, b = ends[call] - sizes[call], ends[call]
                    x = days[a:b][multi[a:b]]
                    md[0] += np.add.reduce(x)   # = x.sum()
                    md[1] += x.size
        kd = known & (status <= S.UNRESOLVED) & (dept >= 0)
        if kd.any():
            self.counts["closed_cases"] += int(np.count_nonzero(kd))
            within = (when[kd] - file_time[kd]) <= deadline[kd]
            self.counts["closed_in_deadline"] += int(np.count_nonzero(within))
        if not known.all():
            self.silent_finished += np.bincount(old[~known], minlength=2)

    # ----------------------------------------------------------------------------------------------
    def privacy(self, t: int) -> None:
        """Sharing carries a daily leak risk, cut by safeguards; a leak lowers everyone's trust."""
        u = self.streams["privacy"].random()   # drawn every day (CRN)
        pr = self.params.privacy
        if u < self._cached("leak_probability", self.leak_probability):
            self.counts["leaks"] += 1
            self.day_counts[_IX["leaks"]] += 1
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
        self._take_closed()
        costs = dict(self._cached("daily_cost", self.daily_cost))
        esc_today = self.day_counts[_IX["escalated"]]
        costs["incidents"] = esc_today * self.params.costs.incident_cost
        for k, v in costs.items():
            self.cost_parts[k] += v
        self.cost_total += sum(costs.values())
        p = self.pool
        st = p["status"]
        terminal = st >= S.RESOLVED
        if terminal.any():
            self.pool.keep(~terminal)
            st = p["status"]
        row = self.day_counts
        ix = _IX
        row[ix["backlog"]] = np.count_nonzero(st >= S.FILED)
        row[ix["silent_open"]] = np.count_nonzero(st <= S.PENDING)
        row[ix["satisfaction"]] = _mean(self.satisfaction)
        row[ix["trust"]] = _mean(self.trust)
        # the same values in the same order as satisfaction[old]: the same mean, without a mask pass
        sat = self.satisfaction
        row[ix["satisfaction_60plus"]] = _mean(sat.take(self._old_idx)) if self._old_idx.size else np.nan
        row[ix["satisfaction_under60"]] = _mean(sat.take(self._young_idx)) if self._young_idx.size else np.nan
        row[ix["cost"]] = self.cost_total / 1e6
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
        q = p["status"] == S.QUEUED
        return np.bincount(p["dept"][q].astype(np.int64), minlength=self.n_depts)

    def daily_frame(self) -> pd.DataFrame:
        """The daily series as a frame (one row per simulated day)."""
        n = self.day
        cols = {"day": np.arange(1, n + 1)}
        cols.update(zip(DAILY_SERIES, self.series[:n].T.copy()))
        cols.update((f"queue_{name}", self.queue_series[:n, k].copy()) for k, name in enumerate(self.dept_names))
        return pd.DataFrame(cols)

    def summary(self) -> dict[str, float]:
        """The 4E indicators of the run so far (see :mod:`sim.metrics`)."""
        self._book_closed()
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
        cs = self.case_satisfaction
        rate = np.divide(cs[:, 0], cs[:, 1], out=np.full(2, np.nan), where=cs[:, 1] > 0)   # [under 60, 60+]
        return {
            "total_cost": self.cost_total / 1e6,
            "cost_per_resolved": self.cost_total / c["resolved"] if c["resolved"] else float("nan"),
            "median_days": hist_quantile(hist, 0.5),
            "p90_days": hist_quantile(hist, 0.9),
            "backlog": float(np.count_nonzero(st >= S.FILED)),
            "within_deadline": c["closed_in_deadline"] / c["closed_cases"] if c["closed_cases"] else float("nan"),
            "duplicate_work": float(c["duplicate_work"]),
            "multi_dept_days": self.multi_days[0] / self.multi_days[1] if self.multi_days[1] else float("nan"),
            "bounces": c["bounces"] / c["filed"] if c["filed"] else float("nan"),
            "resolution_rate": resolved_known / finished_known if finished_known else float("nan"),
            "satisfaction_rate": cs[:, 0].sum() / cs[:, 1].sum() if cs[:, 1].sum() else float("nan"),
            "satisfaction": float(self.satisfaction.mean()),
            "trust": float(self.trust.mean()),
            "escalations": c["escalated"] / n * 10_000 / years,
            "found_before_report": (c["discovered"] + c["warned"]) / known_cases if known_cases else float("nan"),
            "gap_days_60plus": float(mean_days[1] - mean_days[0]),
            "gap_satisfaction_60plus": float(rate[0] - rate[1]),
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
        self._book_closed()
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
        self._book_closed()
        T = max(self.day, 1)
        W = np.divide(self.q_sojourn, self.q_departures, out=np.full(self.n_depts, np.nan), where=self.q_departures > 0)
        return pd.DataFrame({
            "department": self.dept_names, "joined": self.joined, "staff": self.staff, "capacity_per_day": self.capacity,
            "arrivals": self.q_arrivals, "departures": self.q_departures, "mean_in_queue": self.q_area / T,
            "arrival_rate": self.q_arrivals / T, "mean_time_in_queue": W,
            "queue_at_end": self.queue_lengths(),
        })

    def grid_state(self, grid: int) -> dict:
        self._book_closed()
        sel = self.grid_of == grid
        p = self.pool
        mine = sel[p["res"]] if len(p) else np.zeros(0, bool)
        return {
            "grid": int(grid), "community": int(self.grid_community[grid]),
            "residents": int(sel.sum()), "grid_workers": float(self.local["staffing.grid_workers_per_grid"][self.grid_community[grid]]),
            "open_cases": int((p["status"][mine] >= S.FILED).sum()),
            "unreported_problems": int((p["status"][mine] <= S.PENDING).sum()),
            "satisfaction": round(float(self.satisfaction[sel].mean()), 3), "trust": round(float(self.trust[sel].mean()), 3),
            "resolved": int(self.grid_acc[grid, 1]), "escalated": int(self.grid_acc[grid, 2]),
        }

    def resident_state(self, i: int) -> dict:
        p = self.pool
        mine = (p["res"] == i).nonzero()[0]
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
