"""The ledger: the one place where what happened is booked, per run of a batch.

Three kinds of entries:

* **events** as they happen (a report, a discovery, a bounce, a leak, ...): :meth:`Ledger.count`;
* **finished problems**, booked once, at the end of the day they finished, from their final row in the
  case table (:meth:`Ledger.book_finished`, called by the costs-and-accounts phase just before the
  finished rows leave the table): outcome by age group and grid, durations, deadlines kept,
  residents' judgements;
* **department queues**: arrivals, exits and time spent, for Little's law (L = λW).

Metrics (:mod:`sim.metrics`) and the daily series are computed from the ledger and the state; nothing
else keeps counts.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status

# Events: name → what one count means. Mechanisms count them where they happen.
EVENTS: dict[str, str] = {
    "problems": "a problem arose (reported or not)",
    "reports": "a resident reported a problem, through any channel",
    "hotline_reports": "a resident reported a problem by the hotline",
    "filed": "a case was filed to the centre (reported, or found by a patrol and not settled on the spot)",
    "discovered": "a grid worker found an unreported problem on patrol",
    "settled_on_spot": "a grid worker settled a small dispute on the spot",
    "warned": "an unreported problem was found and fixed through early warning on shared data",
    "early_warnings": "early warning on shared data led to action on a common cause",
    "false_alarms": "a false early warning took department time",
    "merged": "a duplicate report was merged into the open case of its cause (platform)",
    "prevented_hits": "a shared cause was fixed before it reached a further neighbour",
    "handoffs": "a case was handed from one department to another",
    "bounces": "a hand-off was sent back to the previous department (推诿扯皮)",
    "duplicate_work": "a department handled a case whose cause had already been fixed",
    "leaks": "a data leak became known",
}
EVENT_INDEX = {name: k for k, name in enumerate(EVENTS)}

# Finished problems are tallied by status, by whether the administration knew of them, and by age group.
FINAL = (Status.RESOLVED, Status.UNRESOLVED, Status.ESCALATED, Status.ABANDONED)
FINAL_NAMES = ("resolved", "unresolved", "escalated", "abandoned")
MAX_DAYS_HIST = 4096
UNDER60, OLD = 0, 1


class Ledger:
    """Per-run books of a batch of `n_runs` runs, each with `n_grids` grids and `n_depts` departments
    (batch-wide indices: run r's grids are r·n_grids … (r+1)·n_grids − 1)."""

    def __init__(self, n_runs: int, n_grids: int, n_depts: int, days: int):
        R = self.n_runs = n_runs
        self.n_grids, self.n_depts = n_grids, n_depts
        self.events = np.zeros((len(EVENTS), R), dtype=np.int64)       # totals so far
        self.today = np.zeros((len(EVENTS), R), dtype=np.int64)        # today's
        # finished problems: [run, status (FINAL order), known, age group]
        self.finished = np.zeros((R, 4, 2, 2), dtype=np.int64)
        self.finished_today = np.zeros((R, 4), dtype=np.int64)
        # resolved problems' durations (arising → resolved), per run and age group
        self.resolved_days_hist = np.zeros((R, 2, MAX_DAYS_HIST), dtype=np.int64)
        self.resolved_days_sum = np.zeros((R, 2))
        self.multi_days = np.zeros((R, 2))          # resolved multi-department problems: sum of days, count
        self.cases_closed = np.zeros(R, dtype=np.int64)      # closed by a department
        self.closed_in_deadline = np.zeros(R, dtype=np.int64)
        self.judgements = np.zeros((R, 2, 2))       # [run, age group]: sum of satisfaction, judgements
        # per grid (batch-wide): resolved, escalated, abandoned, found by patrol; resolved days sum
        self.grid_counts = np.zeros((n_grids * R, 4), dtype=np.int64)
        self.grid_resolved_days = np.zeros(n_grids * R)
        # department queues (batch-wide): arrivals, exits, total time in queue of exited cases
        self.queue_arrivals = np.zeros(n_depts * R, dtype=np.int64)
        self.queue_exits = np.zeros(n_depts * R, dtype=np.int64)
        self.queue_time = np.zeros(n_depts * R)
        self.cost_parts: dict[str, np.ndarray] = {}
        self.cost = np.zeros(R)

    # --- events ------------------------------------------------------------------------------------
    def count(self, event: str, runs: np.ndarray) -> None:
        """Count one `event` for each entry of `runs` (the run of each affected problem)."""
        if runs.size:
            k = EVENT_INDEX[event]
            if self.n_runs == 1:
                self.today[k, 0] += runs.size
            else:
                self.today[k] += np.bincount(runs, minlength=self.n_runs)

    def count_per_run(self, event: str, counts: np.ndarray) -> None:
        """Count `counts[r]` events in run r."""
        self.today[EVENT_INDEX[event]] += counts

    def total(self, event: str) -> np.ndarray:
        """Per run: how often `event` happened so far (today's included)."""
        k = EVENT_INDEX[event]
        return self.events[k] + self.today[k]

    def end_day(self) -> None:
        self.events += self.today
        self.today[:] = 0
        self.finished_today[:] = 0

    # --- queues ------------------------------------------------------------------------------------
    def queue_enter(self, depts: np.ndarray) -> None:
        self.queue_arrivals += np.bincount(depts, minlength=self.queue_arrivals.size)

    def queue_leave(self, depts: np.ndarray, time_in_queue: np.ndarray) -> None:
        """Cases leave department queues (served and handed on, closed, escalated, ...)."""
        n = self.queue_exits.size
        self.queue_exits += np.bincount(depts, minlength=n)
        self.queue_time += np.bincount(depts, weights=time_in_queue, minlength=n)

    # --- costs -------------------------------------------------------------------------------------
    def add_costs(self, parts: dict[str, np.ndarray]) -> None:
        for k, v in parts.items():
            self.cost_parts[k] = self.cost_parts.get(k, 0.0) + v
        self.cost = self.cost + sum(parts.values())

    # --- finished problems -------------------------------------------------------------------------
    def book_finished(self, cases, rows: np.ndarray, old: np.ndarray, grid: np.ndarray) -> None:
        """Book the problems of `rows` (finished today), given their residents' age group and grid."""
        if rows.size == 0:
            return
        R = self.n_runs
        run = cases.run[rows]
        status = cases.status[rows].astype(np.int64) - int(Status.RESOLVED)   # 0..3 in FINAL order
        file_time = cases.file_time[rows]
        known = np.isfinite(file_time)
        old = old.astype(np.int64)
        when = cases.closed_at[rows]
        days = when - cases.born[rows]
        key = ((run * 4 + status) * 2 + known) * 2 + old
        self.finished += np.bincount(key, minlength=R * 16).reshape(R, 4, 2, 2)
        self.finished_today += np.bincount(run * 4 + status, minlength=R * 4).reshape(R, 4)
        g = self.grid_counts
        col = np.array([0, -1, 1, 2])[status]        # grid columns: resolved, escalated, abandoned
        counted = col >= 0
        g[:, :3] += np.bincount(grid[counted] * 3 + col[counted], minlength=g.shape[0] * 3).reshape(-1, 3)
        s = cases.judgement[rows]
        self.judgements[:, :, 0] += np.bincount(run * 2 + old, weights=s, minlength=2 * R).reshape(R, 2)
        self.judgements[:, :, 1] += np.bincount(run * 2 + old, minlength=2 * R).reshape(R, 2)
        resolved = status == 0
        if resolved.any():
            r, o, d = run[resolved], old[resolved], days[resolved]
            np.add.at(self.resolved_days_hist, (r, o, np.minimum(d.astype(np.int64), MAX_DAYS_HIST - 1)), 1)
            self.resolved_days_sum += np.bincount(r * 2 + o, weights=d, minlength=2 * R).reshape(R, 2)
            self.grid_resolved_days += np.bincount(grid[resolved], weights=d, minlength=self.grid_resolved_days.size)
            multi = cases.second[rows][resolved] >= 0
            if multi.any():
                self.multi_days[:, 0] += np.bincount(r[multi], weights=d[multi], minlength=R)
                self.multi_days[:, 1] += np.bincount(r[multi], minlength=R)
        by_dept = known & (status <= 1) & (cases.dept[rows] >= 0)
        if by_dept.any():
            within = (when[by_dept] - file_time[by_dept]) <= cases.deadline[rows][by_dept]
            self.cases_closed += np.bincount(run[by_dept], minlength=R)
            self.closed_in_deadline += np.bincount(run[by_dept][within], minlength=R)

    def found_by_patrol(self, grid: np.ndarray) -> None:
        self.grid_counts[:, 3] += np.bincount(grid, minlength=self.grid_counts.shape[0])

    # --- reading -----------------------------------------------------------------------------------
    def finished_count(self, status: str, known: bool | None = None, old: int | None = None) -> np.ndarray:
        """Per run: finished problems of a status ("resolved", ...), optionally only known/unknown
        ones and one age group."""
        f = self.finished[:, FINAL_NAMES.index(status)]
        f = f.sum(axis=1) if known is None else f[:, int(known)]
        return f.sum(axis=1) if old is None else f[:, old]
