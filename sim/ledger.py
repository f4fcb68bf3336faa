"""The ledger: the one place where what happened is booked, per run of a batch.

Three kinds of entries:

* **events** as they happen (a report, a discovery, a bounce, a leak, ...): :meth:`Ledger.count`;
* **finished problems**, booked once, at the end of the day they finished, from their final row in the
  case table (:meth:`Ledger.book_finished`, called by the costs phase just before the finished rows
  leave the table): outcome by age group and grid, whether the administration knew of the problem,
  how long it took (from when it arose: the residents' view; from when it was filed: the
  administration's view), deadlines kept, and the residents' judgements;
* **department teams**: queue arrivals and exits with the time waited (Little's law, Erlang C), the
  work done, and the extra hours worked.

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
    "risk_flags": "the risk model flagged a problem on course to escalate, and staff visited it",
    "risk_false_flags": "the risk model flagged a problem that was not on course to escalate (a wasted visit)",
    "merged": "a duplicate report was merged into the open case of its cause (platform)",
    "prevented_hits": "a shared cause was fixed before it reached a further neighbour",
    "handoffs": "a case was handed from one department to another",
    "bounces": "a hand-off was sent back to the previous department (推诿扯皮)",
    "whistles": "a department was whistled to turn up for a case (吹哨报到)",
    "duplicate_work": "a department handled a case whose cause had already been fixed",
    "leaks": "a data leak became known",
    "repeat_calls": "a resident whose problem was closed without a fix reported it again (a re-opened case)",
    "audit_reopened": "an audit found a gamed closure and the case was re-opened",
    "audits": "a closure was audited (a return visit)",
    "gamed": "a closure without a real fix was gamed (reported resolved, withdrawal persuaded or reclassified)",
    "gaming_found": "a gamed closure was found out (audit, or a repeat call linked to it)",
    "gamed_callbacks": "a satisfaction callback was leading or selective",
    "actor_cases": "the centre handed a case to a non-government actor",
    "volunteer_reports": "a volunteer reported an unreported problem of a resident aged 60+ for them",
    "participation_reports": "a neighbour reported a resident's unreported problem on their behalf",
    "community_cases": "a filed small matter was taken by its community's own staff (小事不出社区)",
}
EVENT_INDEX = {name: k for k, name in enumerate(EVENTS)}

# Finished problems are tallied by status, by whether the administration knew of them, and by age group.
FINAL = (Status.RESOLVED, Status.UNRESOLVED, Status.ESCALATED, Status.ABANDONED)
FINAL_NAMES = ("resolved", "unresolved", "escalated", "abandoned")
UNDER60, OLD = 0, 1
# Per grid and age group: finished, resolved, escalated, abandoned, days to resolution (from need, sum),
# judgements of known cases (sum, count), judgements of all problems (sum)
GRID_COLUMNS = ("finished", "resolved", "escalated", "abandoned", "resolved_days", "served_judgement",
                "served", "judgement", "community_staff", "community_staff_resolved")


class Durations:
    """Times to resolution of resolved problems, kept exactly (for medians and quantiles), in compact
    chunks: run, age group, whether known, days from need and days from filing."""

    def __init__(self):
        self._chunks: list[tuple] = []
        self._joined = None

    def add(self, run, old, known, from_need, from_filing) -> None:
        self._chunks.append((run.astype(np.int32), old.astype(np.int8), known, from_need.astype(np.float32),
                             from_filing.astype(np.float32)))
        self._joined = None

    def arrays(self):
        if self._joined is None:
            if not self._chunks:
                self._joined = (np.empty(0, np.int32), np.empty(0, np.int8), np.empty(0, bool),
                                np.empty(0, np.float32), np.empty(0, np.float32))
            else:
                self._joined = tuple(np.concatenate(x) for x in zip(*self._chunks))
                self._chunks = [self._joined]
        return self._joined

    def __getstate__(self):
        return {"_chunks": [self.arrays()]}

    def __setstate__(self, state):
        self._chunks, self._joined = state["_chunks"], None


class Ledger:
    """Per-run books of a batch of `n_runs` runs, each with `n_grids` grids and `n_teams` department
    teams (batch-wide indices: run r's grids are r·n_grids … (r+1)·n_grids − 1)."""

    def __init__(self, n_runs: int, n_grids: int, n_teams: int):
        R = self.n_runs = n_runs
        self.n_grids, self.n_teams = n_grids, n_teams
        self.events = np.zeros((len(EVENTS), R), dtype=np.int64)       # totals so far
        self.today = np.zeros((len(EVENTS), R), dtype=np.int64)        # today's
        # finished problems: [run, status (FINAL order), known, age group]
        self.finished = np.zeros((R, 4, 2, 2), dtype=np.int64)
        self.finished_today = np.zeros((R, 4), dtype=np.int64)
        self.durations = Durations()
        self.multi_days = np.zeros((R, 2))          # resolved multi-department problems: sum of days, count
        self.cases_closed = np.zeros(R, dtype=np.int64)      # closed by a department
        self.closed_in_deadline = np.zeros(R, dtype=np.int64)
        self.judgements = np.zeros((R, 2, 2, 2))    # [run, age group, known]: sum of satisfaction, judgements
        self.grid = np.zeros((n_grids * R, 2, len(GRID_COLUMNS)))   # [grid, age group, GRID_COLUMNS]
        self.found_by_patrol = np.zeros(n_grids * R, dtype=np.int64)
        # department teams (batch-wide)
        self.queue_arrivals = np.zeros(n_teams * R, dtype=np.int64)
        self.queue_exits = np.zeros(n_teams * R, dtype=np.int64)
        self.queue_waited = np.zeros(n_teams * R, dtype=np.int64)   # exits into service after a wait > 0
        self.queue_time = np.zeros(n_teams * R)
        self.services = np.zeros(n_teams * R, dtype=np.int64)
        self.work_days = np.zeros(n_teams * R)      # handler-days spent on cases and other work
        self.overtime_hours = np.zeros(n_teams * R)
        self.cost_parts: dict[str, np.ndarray] = {}
        self.cost = np.zeros(R)
        # assessed closures (考核), one per closure of a known case, re-opened ones included:
        # [run, (closures, truly resolved, in the reported pool, reported resolved)]
        self.closures = np.zeros((R, 4))
        # satisfaction callbacks: [run, (callbacks, sum of true judgements, sum of reported scores)]
        self.callbacks = np.zeros((R, 3))
        # finished problems by the channel they reached the centre through (Channel code; NONE last):
        # [run, channel, (finished, resolved, days from need of the resolved, judgements)]
        self.by_channel = np.zeros((R, 7, 4))
        # an observer (sim.caselog.CaseLog) keeping one row per known case, when attached; not state
        # (the underscore keeps it out of saved states)
        self._case_log = None

    def attach_case_log(self, log) -> None:
        """Give every finished problem's final row to `log` (its ``add``) as it is booked."""
        self._case_log = log

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

    # --- department teams --------------------------------------------------------------------------
    def queue_enter(self, teams: np.ndarray) -> None:
        self.queue_arrivals += np.bincount(teams, minlength=self.queue_arrivals.size)

    def queue_leave(self, teams: np.ndarray, waited: np.ndarray) -> None:
        """Cases leave team queues after waiting `waited` days (into service, or closed while waiting)."""
        n = self.queue_exits.size
        self.queue_exits += np.bincount(teams, minlength=n)
        self.queue_time += np.bincount(teams, weights=waited, minlength=n)

    def service_started(self, teams: np.ndarray, waited: np.ndarray, busy_days: np.ndarray) -> None:
        """Cases start service after waiting `waited` days; each keeps a handler busy `busy_days`."""
        self.queue_leave(teams, waited)
        n = self.queue_exits.size
        self.queue_waited += np.bincount(teams[waited > 0], minlength=n)
        self.services += np.bincount(teams, minlength=n)
        self.work_days += np.bincount(teams, weights=busy_days, minlength=n)

    def other_work(self, teams: np.ndarray, busy_days: np.ndarray) -> None:
        self.work_days += np.bincount(teams, weights=busy_days, minlength=self.work_days.size)

    # --- costs -------------------------------------------------------------------------------------
    def add_costs(self, parts: dict[str, np.ndarray]) -> None:
        for k, v in parts.items():
            self.cost_parts[k] = self.cost_parts.get(k, 0.0) + v
        self.cost = self.cost + sum(parts.values())

    # --- assessment --------------------------------------------------------------------------------
    def book_closures(self, run: np.ndarray, resolved: np.ndarray, in_pool: np.ndarray, reported_resolved: np.ndarray,
                      callback: np.ndarray, true_score: np.ndarray, reported_score: np.ndarray) -> None:
        """Book closures of known cases as the assessment sees them (`in_pool`, `reported_resolved`,
        `reported_score`) beside what they truly were (`resolved`, `true_score`); `callback`: a
        satisfaction callback was made."""
        R = self.n_runs
        for k, w in enumerate((None, resolved, in_pool, reported_resolved)):
            self.closures[:, k] += np.bincount(run, weights=None if w is None else w.astype(float), minlength=R)
        rc = run[callback]
        self.callbacks[:, 0] += np.bincount(rc, minlength=R)
        self.callbacks[:, 1] += np.bincount(rc, weights=true_score[callback], minlength=R)
        self.callbacks[:, 2] += np.bincount(rc, weights=reported_score[callback], minlength=R)

    # --- finished problems -------------------------------------------------------------------------
    def book_finished(self, cases, rows: np.ndarray, old: np.ndarray, grid: np.ndarray) -> None:
        """Book the problems of `rows` (finished today), given their residents' age group and grid."""
        if rows.size == 0:
            return
        if self._case_log is not None:
            self._case_log.add(cases, rows, old, grid)
        R = self.n_runs
        run = cases.run[rows].astype(np.int64)
        status = cases.status[rows].astype(np.int64) - int(Status.RESOLVED)   # 0..3 in FINAL order
        file_time = cases.file_time[rows]
        known = np.isfinite(file_time)
        old = old.astype(np.int64)
        when = cases.closed_at[rows]
        days = when - cases.born[rows]
        key = ((run * 4 + status) * 2 + known) * 2 + old
        self.finished += np.bincount(key, minlength=R * 16).reshape(R, 4, 2, 2)
        self.finished_today += np.bincount(run * 4 + status, minlength=R * 4).reshape(R, 4)
        s = cases.judgement[rows]
        jk = (run * 2 + old) * 2 + known
        self.judgements[..., 0] += np.bincount(jk, weights=s, minlength=4 * R).reshape(R, 2, 2)
        self.judgements[..., 1] += np.bincount(jk, minlength=4 * R).reshape(R, 2, 2)
        resolved = status == 0
        gk = grid * 2 + old
        size = self.grid.shape[0] * 2
        g = self.grid.reshape(size, -1)
        g[:, 0] += np.bincount(gk, minlength=size)
        g[:, 1] += np.bincount(gk[resolved], minlength=size)
        g[:, 2] += np.bincount(gk[status == 2], minlength=size)
        g[:, 3] += np.bincount(gk[status == 3], minlength=size)
        g[:, 4] += np.bincount(gk[resolved], weights=days[resolved], minlength=size)
        g[:, 5] += np.bincount(gk[known], weights=s[known], minlength=size)
        g[:, 6] += np.bincount(gk[known], minlength=size)
        g[:, 7] += np.bincount(gk, weights=s, minlength=size)
        staff = cases.actor[rows] == 0          # handled by the community's own staff (小事不出社区)
        g[:, 8] += np.bincount(gk[staff], minlength=size)
        g[:, 9] += np.bincount(gk[staff & resolved], minlength=size)
        ck = run * 7 + np.where(cases.channel[rows] < 0, 6, cases.channel[rows])
        bc = self.by_channel.reshape(R * 7, 4)
        bc[:, 0] += np.bincount(ck, minlength=R * 7)
        bc[:, 1] += np.bincount(ck[resolved], minlength=R * 7)
        bc[:, 2] += np.bincount(ck[resolved], weights=days[resolved], minlength=R * 7)
        bc[:, 3] += np.bincount(ck, weights=s, minlength=R * 7)
        if resolved.any():
            r = run[resolved]
            self.durations.add(r, old[resolved], known[resolved], days[resolved],
                               np.where(known[resolved], when[resolved] - file_time[resolved], np.nan))
            multi = cases.second[rows][resolved] >= 0
            if multi.any():
                self.multi_days[:, 0] += np.bincount(r[multi], weights=days[resolved][multi], minlength=R)
                self.multi_days[:, 1] += np.bincount(r[multi], minlength=R)
        by_dept = known & (status <= 1) & (cases.dept[rows] >= 0)
        if by_dept.any():
            within = (when[by_dept] - file_time[by_dept]) <= cases.deadline[rows][by_dept]
            self.cases_closed += np.bincount(run[by_dept], minlength=R)
            self.closed_in_deadline += np.bincount(run[by_dept][within], minlength=R)

    def patrol_found(self, grid: np.ndarray) -> None:
        self.found_by_patrol += np.bincount(grid, minlength=self.found_by_patrol.size)

    # --- reading -----------------------------------------------------------------------------------
    def finished_count(self, status: str, known: bool | None = None, old: int | None = None) -> np.ndarray:
        """Per run: finished problems of a status ("resolved", ...), optionally only known/unknown
        ones and one age group."""
        f = self.finished[:, FINAL_NAMES.index(status)]
        f = f.sum(axis=1) if known is None else f[:, int(known)]
        return f.sum(axis=1) if old is None else f[:, old]

    def resolution_days(self, run: int, *, known_only: bool = False, old: int | None = None,
                        from_filing: bool = False) -> np.ndarray:
        """Days to resolution of a run's resolved problems: from when they arose (the residents' view) or
        from filing (the administration's view, known cases only); optionally one age group."""
        r, o, k, need, filing = self.durations.arrays()
        sel = r == run
        if known_only or from_filing:
            sel &= k
        if old is not None:
            sel &= o == old
        return (filing if from_filing else need)[sel].astype(np.float64)
