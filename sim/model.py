"""The governance model: a subdistrict's residents, grid workers and departments, and the case flow.

This module only wires the parts together and fixes the order of the day's phases. The state lives in
agent sets that own their columns (:mod:`sim.population`: residents; :mod:`sim.services`: grid teams
and departments; :mod:`sim.cases`: problems and shared causes); each phase is a mechanism module
(:mod:`sim.mechanisms`); what happened is booked in one ledger (:mod:`sim.ledger`), from which the
metrics (:mod:`sim.metrics`) are computed. See ``docs/ODD.md`` for the full description.

One model may hold a *batch*: several runs (replications) of one scenario advanced together, each with
its own seed and random streams; a run gives the same results alone or in a batch.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.agents import Department, GridWorker, Resident
from sim.cases import CategoryTable, Cases, Causes, Hits, Status
from sim.flow import CaseFlow
from sim.ledger import EVENTS, FINAL_NAMES, GRID_COLUMNS, Ledger
from sim.mechanisms import (Actors, Arising, Assessment, Bias, Costs, EarlyWarning, Escalation, Experience, Handling,
                            Patrol, PlatformLife, Privacy, Reporting, RiskPrediction, Routing)
from sim.metrics import METRICS, SERIES
from sim.policy import Levers
from sim.population import Layout, Residents
from sim.scenario import LOCAL_PATHS, Scenario, load_scenario, resolved_communities, with_changes
from sim.services import Departments, GridTeams

# One independent random stream per kind of decision (common random numbers across scenarios).
# (New streams are added at the end, so the existing ones keep their draws.)
STREAMS = ("population", "network", "arise", "handle", "warning", "trust", "privacy", "risk", "assess", "platform",
           "actors")


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """The named random streams of one run, all derived from its seed."""
    root = np.random.SeedSequence(seed)
    return {name: np.random.Generator(np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=(i,))))
            for i, name in enumerate(STREAMS)}


class SeriesCollector(mesa.DataCollector):
    """Mesa's DataCollector over the daily series the model keeps (first run of a batch): the model
    reporters are the declared series (:data:`sim.metrics.SERIES`), read from the model's arrays
    rather than copied every step."""

    def __init__(self, model: "GovernanceModel"):
        self._model = model
        super().__init__(model_reporters={s.name: s.read for s in SERIES})

    def collect(self, model) -> None:
        self._collection_steps.append(model.time)

    @property
    def model_vars(self) -> dict[str, list]:
        n = self._model.day - self._model.start_day
        return {s.name: self._model.series[:n, 0, k].tolist() for k, s in enumerate(SERIES)}

    @model_vars.setter
    def model_vars(self, value) -> None:   # DataCollector.__init__ sets it; the series are the model's
        pass

    def _new_model_reporter(self, name, reporter) -> None:
        self.model_reporters[name] = reporter


class GovernanceModel(mesa.Model):
    """A subdistrict's grassroots governance, one step per day.

    Args:
        scenario: a validated :class:`~sim.scenario.Scenario`, a scenario file or shipped scenario name,
            or None for the defaults.
        seed: the seed of the run (``rng`` is an alias, as in Mesa). None draws fresh entropy, which is
            recorded in ``model.seed``.
        seeds: instead of one seed, the seeds of a batch of runs of the same scenario.
        **overrides: parameter changes as dotted paths, e.g.
            ``GovernanceModel(**{"staffing.grid_workers_per_grid": 2})`` (so ``mesa.batch_run`` can
            sweep them).
    """

    def __init__(self, scenario: Scenario | str | Path | None = None, *, seed: int | None = None,
                 rng: int | np.random.Generator | np.random.SeedSequence | None = None,
                 seeds: list[int] | None = None, **overrides: Any):
        if scenario is None:
            scenario = Scenario()
        elif not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        if overrides:
            scenario = with_changes(scenario, overrides)
        if seeds is None:
            seeds = [_seed_of(seed if seed is not None else rng)]
        self.seeds = [int(s) for s in seeds]
        self.seed = self.seeds[0]
        self.n_runs = len(self.seeds)
        super().__init__(rng=self.seed)
        self.streams = [random_streams(s) for s in self.seeds]
        self.base_scenario = scenario
        self.params = scenario                     # the parameters in force (changed by the timeline)
        self.day = 0
        self.start_day = 0        # the day the books opened (a branch from a saved state opens them later)
        self.steps_planned = scenario.run.steps
        self.running = True
        self.changes_log: list[dict] = []
        R = self.n_runs
        # the world
        self.layout = Layout.from_scenario(scenario)
        self.residents = Residents(scenario, self.layout, [s["population"] for s in self.streams],
                                   [s["network"] for s in self.streams])
        self.levers = Levers(scenario, R, self.residents.community)
        self.departments = Departments(list(scenario.staffing.departments), R, self.layout)
        self.grid_teams = GridTeams(self.layout, R, self.levers)
        self.cases, self.causes, self.hits = Cases(), Causes(), Hits()
        self.next_pid = 0
        self.ledger = Ledger(R, self.layout.n_grids, self.departments.per_run)
        self.flow = CaseFlow(self)
        # the day's phases, in order (see step)
        self.platform = PlatformLife(self)
        self.arising = Arising(self)
        self.reporting = Reporting(self)
        self.patrol = Patrol(self)
        self.actors = Actors(self)
        self.routing = Routing(self)
        self.bias = Bias(self)
        self.early_warning = EarlyWarning(self)
        self.risk_prediction = RiskPrediction(self)
        self.handling = Handling(self)
        self.escalation = Escalation(self)
        self.assessment = Assessment(self)
        self.experience = Experience(self)
        self.privacy = Privacy(self)
        self.costs = Costs(self)
        self.phases = (self.platform, self.arising, self.reporting, self.patrol, self.actors, self.routing, self.bias,
                       self.early_warning, self.risk_prediction, self.handling, self.escalation, self.assessment,
                       self.experience, self.privacy, self.costs)
        self.derive()
        self.series = np.zeros((self.steps_planned, R, len(SERIES)))
        self.queue_series = np.zeros((self.steps_planned, R, self.departments.per_subdistrict))
        self.datacollector = SeriesCollector(self)
        # Mesa agents: the per-agent faces of the first run, for inspection (residents on demand)
        self.grid_workers = [GridWorker(self, g) for g in range(self.layout.n_grids)]
        self.department_agents = [Department(self, k) for k in range(self.departments.per_run)]
        self._resident_agents: dict[int, Resident] = {}

    # ==============================================================================================
    def step(self) -> None:
        """One day. Phases, in order:

        1. timeline: parameter changes due today take effect (shocks act through arising).
        2. ``platform``: platform life: adoption, decay of use and data quality, abandonment; which
           joined teams use the platform today.
        3. ``arising``: new problems by community and category; shared causes reach neighbours over
           days; each resident decides at once whether, how and when to report.
        4. ``reporting``: reports that are due (re-opened cases' repeat calls too) are filed.
        5. ``patrol``: grid workers find unreported problems; small disputes are settled on the spot.
        6. ``actors``: the community's own staff and non-government actors finish cases; volunteers and
           neighbours report unreported problems for residents; the community's own staff take the small
           matters they can settle (小事不出社区); the centre hands some filed cases to actors.
        7. ``routing``: the centre routes filed cases to departments (duplicates merged on the platform;
           multi-department cases worked jointly on the platform or when whistled; misrouting).
        8. ``bias``: the platform's automated models learn from the cases filed today.
        9. ``early_warning``: clusters of a cause's reports on shared data trigger a fix; false alarms.
        10. ``risk_prediction``: a risk model on shared data flags problems on course to escalate; staff
            visit them.
        11. ``handling``: department teams' handlers take waiting cases (multi-server queues, event times
            within the day); finished visits hand the case on or close it, resolved or not.
        12. ``escalation``: open problems whose grievance exceeds the threshold escalate; unreported
            problems past the residents' patience are abandoned.
        13. ``assessment``: the day's closures of known cases are booked as reported and as true
            (gaming, audits, callbacks); repeat calls and audits re-open cases.
        14. ``conversation``: residents exchange views on government (bounded confidence).
        15. ``privacy``: a data leak may occur; it lowers trust everywhere.
        16. ``costs``: costs accrue; the day's finished problems are booked in the ledger.
        17. the day's series are recorded.

        Satisfaction and trust move whenever a problem finishes (phases 5, 6, 9, 10, 11, 12): its resident
        judges the service (:meth:`sim.mechanisms.experience.Experience.judge`).
        """
        t = self.day
        self.apply_timeline(t)
        for phase in self.phases:
            phase.step(t)
        self.record(t)
        self.ledger.end_day()
        self.day += 1
        self.running = self.day < self.steps_planned
        self.datacollector.collect(self)

    def run(self, steps: int | None = None) -> "GovernanceModel":
        """Run `steps` days (by default, to the planned end)."""
        self.run_for(self.steps_planned - self.day if steps is None else steps)
        return self

    # Warm starts (see sim.state): a checkpoint of everything, resumed exactly
    def save_state(self, path: str | Path) -> Path:
        """Save the whole state (agent sets, ledger, random generators, day, parameters, levers)."""
        from sim.state import save_state
        return save_state(self, path)

    @classmethod
    def load_state(cls, path: str | Path) -> "GovernanceModel":
        """A model resumed from a state file exactly as it was saved (see :mod:`sim.state`)."""
        from sim.state import load_state
        return load_state(path)

    def visit_work(self, cat: np.ndarray, u: np.ndarray, res: np.ndarray) -> np.ndarray:
        """Work-hours of one department visit to a case: the category's work (drawn from the uniform
        `u`) plus the travel to the resident's community."""
        layout = self.layout
        return self.categories.work(cat, u) + layout.community_travel[self.residents.community[res] % layout.n_communities]

    # ==============================================================================================
    # Changing the parameters
    def derive(self) -> None:
        """Recompute everything derived from the parameters and levers (at the start and after every
        change, and only then)."""
        self.categories = CategoryTable(self.params, self.departments.names)
        self.departments.derive(self.params, self.levers)
        for phase in self.phases:
            phase.derive()

    def apply_change(self, changes: dict, communities: list[int] | None = None, label: str = "") -> None:
        """Change parameters from the next phase on (used by the timeline and by the interactive view).
        With `communities`, only levers that can differ between communities may change."""
        local = {k: v for k, v in changes.items() if k in LOCAL_PATHS}
        if communities is None:
            self.params = with_changes(self.params, changes)
        for path, value in local.items():
            self.levers.set(path, value, communities)
        self.derive()
        self.changes_log.append({"day": self.day, "label": label or ", ".join(f"{k}={v}" for k, v in changes.items()),
                                 "communities": communities})

    def apply_timeline(self, t: int) -> None:
        """Changes of the timeline due on day `t` (timeline days count from the day the books opened)."""
        for change in self.base_scenario.timeline:
            if change.day == t - self.start_day:
                self.apply_change(change.set, change.communities, change.label)

    # ==============================================================================================
    # Records and results
    def record(self, t: int) -> None:
        """Record the day's series and department queues."""
        i = t - self.start_day
        if i >= self.series.shape[0]:   # run past the planned days (interactive view): grow the records
            self.series = np.concatenate([self.series, np.zeros_like(self.series)])
            self.queue_series = np.concatenate([self.queue_series, np.zeros_like(self.queue_series)])
        self.satisfaction_by_age = self.residents.age_means(self.residents.satisfaction)   # read by SERIES
        for k, s in enumerate(SERIES):
            self.series[i, :, k] = s.read(self)
        self.queue_series[i] = self.queue_lengths().reshape(self.n_runs, -1, self.departments.per_subdistrict).sum(axis=1)

    def queue_lengths(self) -> np.ndarray:
        """Cases waiting in each department team's queue (batch-wide teams)."""
        c = self.cases
        return np.bincount(c.dept[c.status == Status.QUEUED], minlength=self.departments.n)

    def summaries(self) -> list[dict[str, float]]:
        """The 4E indicators of every run of the batch so far (see :mod:`sim.metrics`)."""
        values = {m.name: m.compute(self) for m in METRICS}
        return [{name: float(v[r]) for name, v in values.items()} for r in range(self.n_runs)]

    def summary(self, run: int = 0) -> dict[str, float]:
        """The 4E indicators of one run so far."""
        return self.summaries()[run]

    def counts(self, run: int = 0) -> dict[str, int]:
        """How often each event happened in a run, and how its problems finished (known or not)."""
        out = {name: int(self.ledger.total(name)[run]) for name in EVENTS}
        for status in FINAL_NAMES:
            out[status] = int(self.ledger.finished_count(status)[run])
            if status != "abandoned":
                out[f"{status}_known"] = int(self.ledger.finished_count(status, known=True)[run])
        out["closed_cases"] = int(self.ledger.cases_closed[run])
        out["closed_in_deadline"] = int(self.ledger.closed_in_deadline[run])
        return out

    def daily_frame(self, run: int = 0) -> pd.DataFrame:
        """The daily series of a run (one row per simulated day)."""
        n = self.day - self.start_day
        cols = {"day": np.arange(self.start_day + 1, self.day + 1)}
        cols.update((s.name, self.series[:n, run, k].copy()) for k, s in enumerate(SERIES))
        cols.update((f"queue_{name}", self.queue_series[:n, run, k].copy()) for k, name in enumerate(self.departments.names))
        return pd.DataFrame(cols)

    def _run_slice(self, per_run: int, run: int) -> slice:
        return slice(run * per_run, (run + 1) * per_run)

    def grid_frame(self, run: int = 0) -> pd.DataFrame:
        """Per-grid results of a run: residents, workers, satisfaction, trust, problems and outcomes."""
        layout, res, L = self.layout, self.residents, self.ledger
        G = layout.n_grids
        rows = self._run_slice(G, run)
        n = np.bincount(res.grid, minlength=G * self.n_runs)[rows]
        by_age = L.grid[rows]             # [grid, age group, column]
        g = by_age.sum(axis=1)            # both age groups
        c = dict(zip(GRID_COLUMNS, g.T))
        a = dict(zip(GRID_COLUMNS, np.moveaxis(by_age, 2, 0)))   # column -> [grid, age group]
        sat_age = _ratio(a["judgement"], a["finished"])
        days_age = _ratio(a["resolved_days"], a["resolved"])
        old = np.bincount(res.grid, weights=res.old, minlength=G * self.n_runs)[rows]
        return pd.DataFrame({
            "grid": np.arange(G), "community": layout.grid_community,
            "subdistrict": layout.community_subdistrict[layout.grid_community], "residents": n,
            "share_60plus": old / n,
            "grid_workers": self.grid_teams.workers[rows],
            "satisfaction": np.bincount(res.grid, weights=res.satisfaction, minlength=G * self.n_runs)[rows] / n,
            "trust": np.bincount(res.grid, weights=res.trust, minlength=G * self.n_runs)[rows] / n,
            "problems_finished": c["finished"].astype(np.int64), "resolved": c["resolved"].astype(np.int64),
            "escalated": c["escalated"].astype(np.int64), "abandoned": c["abandoned"].astype(np.int64),
            "found_by_patrol": L.found_by_patrol[rows],
            "resolved_share": _ratio(c["resolved"], c["finished"]),
            "mean_days": _ratio(c["resolved_days"], c["resolved"]),
            "served_satisfaction": _ratio(c["served_judgement"], c["served"]),
            "satisfaction_all": _ratio(c["judgement"], c["finished"]),
            # the administration's view (cases it knew of) minus all problems as residents lived them
            "reported_gap_satisfaction": _ratio(c["served_judgement"], c["served"]) - _ratio(c["judgement"], c["finished"]),
            "satisfaction_60plus": sat_age[:, 1], "satisfaction_under60": sat_age[:, 0],
            "gap_satisfaction_60plus": sat_age[:, 0] - sat_age[:, 1],
            "gap_days_60plus": days_age[:, 1] - days_age[:, 0],
            "open_problems": np.bincount(res.grid[self.cases.res], minlength=G * self.n_runs)[rows],
        })

    def community_frame(self, run: int = 0) -> pd.DataFrame:
        """Per-community results of a run, with the gap between residents aged 60+ and the others."""
        layout, L = self.layout, self.ledger
        comms = resolved_communities(self.base_scenario)
        G, C = layout.n_grids, layout.n_communities
        g = L.grid[self._run_slice(G, run)]                       # [grid, age, column]
        by = np.zeros((C, 2, g.shape[2]))
        np.add.at(by, layout.grid_community, g)
        col = {k: by[:, :, i] for i, k in enumerate(GRID_COLUMNS)}
        days = _ratio(col["resolved_days"], col["resolved"])
        sat = _ratio(col["judgement"], col["finished"])
        both = {k: v.sum(axis=1) for k, v in col.items()}
        res = self.residents
        rows = self._run_slice(layout.n_residents, run)
        return pd.DataFrame({
            "community": np.arange(C), "name": [c.name for c in comms], "kind": [c.kind for c in comms],
            "subdistrict": layout.community_subdistrict, "residents": layout.community_size,
            "share_60plus": np.bincount(layout.community_of, weights=res.old[rows], minlength=C) / layout.community_size,
            "problems_finished": both["finished"].astype(np.int64),
            "resolved_share": _ratio(both["resolved"], both["finished"]),
            "mean_days": _ratio(both["resolved_days"], both["resolved"]),
            "served_satisfaction": _ratio(both["served_judgement"], both["served"]),
            "satisfaction_all": _ratio(both["judgement"], both["finished"]),
            "escalated": both["escalated"].astype(np.int64),
            "community_staff": both["community_staff"].astype(np.int64),
            "community_settled": both["community_staff_resolved"].astype(np.int64),
            "gap_days_60plus": days[:, 1] - days[:, 0],
            "gap_satisfaction_60plus": sat[:, 0] - sat[:, 1],
        })

    def perspective_frame(self, run: int = 0) -> pd.DataFrame:
        """Resolution, time to resolution and satisfaction seen two ways, by age group: among the cases
        the administration knew of (time from filing), and among all problems that arose (time from
        need), as residents experienced them."""
        L = self.ledger
        rows = []
        for view, known in (("administration", True), ("residents", False)):
            for group, old in (("all", None), ("60+", 1), ("under 60", 0)):
                f = L.finished[run]                     # [status, known, age]
                f = f[:, 1, :] if known else f.sum(axis=1)
                f = f.sum(axis=1) if old is None else f[:, old]
                n = f[:3].sum() if known else f.sum()   # known: resolved, unresolved, escalated
                j = L.judgements[run]                   # [age, known, (sum, count)]
                j = j[:, 1, :] if known else j.sum(axis=1)
                j = j.sum(axis=0) if old is None else j[old]
                days = L.resolution_days(run, known_only=known, old=old, from_filing=known)
                rows.append({"view": view, "age_group": group, "problems": int(n),
                             "resolved_share": f[0] / n if n else np.nan,
                             "mean_days": float(days.mean()) if days.size else np.nan,
                             "median_days": float(np.median(days)) if days.size else np.nan,
                             "p90_days": float(np.quantile(days, 0.9)) if days.size else np.nan,
                             "satisfaction": j[0] / j[1] if j[1] else np.nan})
        return pd.DataFrame(rows)

    def department_frame(self, run: int = 0) -> pd.DataFrame:
        """Per department team of a run: staff, handlers, work, and its queue with the quantities of
        Little's law (L = λW) and of Erlang C (the share of cases that waited)."""
        depts, L, c = self.departments, self.ledger, self.cases
        rows = self._run_slice(depts.per_run, run)
        T = max(self.day - self.start_day, 1)
        # time waited so far (since the books opened): of the cases that left the queue, and of those still waiting
        waiting = (c.status == Status.QUEUED) & (c.avail_time < self.day)
        still = np.bincount(c.dept[waiting], weights=self.day - np.maximum(c.avail_time[waiting], self.start_day),
                            minlength=depts.n)
        exits, served = L.queue_exits[rows], L.services[rows]
        capacity_days = depts.servers[rows] * T
        return pd.DataFrame({
            "department": [depts.names[k] for k in depts.local[rows]],
            "subdistrict": depts.subdistrict[rows] - run * self.layout.n_subdistricts,
            "joined": depts.joined[rows], "staff": depts.staff[rows], "handlers": depts.servers[rows],
            "hours_per_handler": depts.speed[rows],
            "capacity_hours_per_day": depts.capacity_hours[rows],
            "arrivals": L.queue_arrivals[rows], "departures": exits, "services": served,
            "mean_in_queue": (L.queue_time[rows] + still[rows]) / T, "arrival_rate": L.queue_arrivals[rows] / T,
            "mean_time_in_queue": _ratio(L.queue_time[rows], exits),
            "share_waited": _ratio(L.queue_waited[rows], served),
            "utilisation": _ratio(L.work_days[rows], capacity_days),
            "overtime_hours": L.overtime_hours[rows],
            "queue_at_end": self.queue_lengths()[rows],
        })

    # ==============================================================================================
    # Inspection (the view, notebooks)
    @property
    def n_residents(self) -> int:
        """Residents of one run."""
        return self.layout.n_residents

    def resident(self, i: int) -> Resident:
        """The Mesa agent of resident `i` (batch-wide index), created on demand (once)."""
        if i not in self._resident_agents:
            self._resident_agents[i] = Resident(self, i)
        return self._resident_agents[i]

    def network_graph(self, run: int = 0):
        """A run's social network as a networkx graph (its residents are nodes 0..N−1)."""
        import networkx as nx
        rows = self._run_slice(self.layout.n_residents, run)
        g = nx.from_scipy_sparse_array(self.residents.adjacency[rows, rows])
        nx.set_node_attributes(g, dict(enumerate(self.layout.grid_of.tolist())), "grid")
        return g


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def _seed_of(value) -> int:
    """A run seed from Mesa's `rng` forms: an int, a SeedSequence, a Generator, or None (fresh entropy)."""
    if value is None:
        return secrets.randbits(32)
    if isinstance(value, np.random.Generator):
        return int(value.integers(0, 2**32))
    if isinstance(value, np.random.SeedSequence):
        return int(value.generate_state(1)[0])
    return int(value)
