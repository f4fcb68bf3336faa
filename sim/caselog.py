"""The model's case records in the shape of a 12345 export: one row per case the administration knew of.

A :class:`CaseLog` attached to a model's ledger keeps, for every known problem (reported by a resident
or found by a grid worker or early warning) that finishes, the fields a hotline system records: when
the contact reached the centre, its category and channel, the resident's community, grid and age group,
whether a department was dispatched and which, when the case closed, its outcome and the satisfaction
callback. Cases still open at the end are written with an empty closing time and outcome ``open``.

:func:`case_export` runs a scenario and returns that table in the *canonical* format that
:mod:`sim.observe` reads (see ``docs/district.md``). The same export feeds the shipped synthetic example
(``scenarios/data/district_example_cases.csv``) and calibration (:mod:`sim.calibrate`), so observed and
simulated indicators are computed from records of the same shape by the same function.

Consultations answered on the call are not simulated, so the export holds none (a real export may).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.cases import Channel, Status

# The canonical columns of a case export, and what each holds (the mapping YAML of `govsim observe`
# maps a real export's column names onto these).
CANONICAL_COLUMNS: dict[str, str] = {
    "case_id": "the case's identifier (unique)",
    "contact_time": "when the contact reached the centre (date, or date and time)",
    "category": "the case's category (e.g. housing_property)",
    "channel": "how it came in: hotline, app, window, grid_worker, patrol, early_warning (others allowed)",
    "community": "the community (社区) of the resident; must match a community of the district",
    "grid": "the grid (网格) within the district, if recorded",
    "age_group": "60+ or under60, where known (blank otherwise)",
    "dispatched": "yes if the case was sent to a department (派单), no if settled without one",
    "department": "the department dispatched to (blank if none)",
    "closed_time": "when the case closed (blank while open)",
    "outcome": "resolved, unresolved, escalated, or open",
    "satisfaction": "the callback: satisfied, basically_satisfied, dissatisfied (blank if no callback)",
}
REQUIRED_COLUMNS = ("contact_time", "category", "community", "dispatched", "closed_time", "outcome")
CHANNEL_NAMES = {int(Channel.HOTLINE): "hotline", int(Channel.APP): "app", int(Channel.WINDOW): "window",
                 int(Channel.GRID_WORKER): "grid_worker", int(Channel.PATROL): "patrol",
                 int(Channel.EARLY_WARNING): "early_warning"}
OUTCOMES = ("resolved", "unresolved", "escalated", "open")
SATISFACTION_LEVELS = ("satisfied", "basically_satisfied", "dissatisfied")
AGE_GROUPS = ("under60", "60+")
# The model's judgement (0–1) becomes the three-level callback at these cut points (A).
CALLBACK_CUTS = (1 / 3, 2 / 3)
DEFAULT_START = "2025-01-01"


class CaseLog:
    """Rows of known cases as they finish, per run of a batch (kept as numpy chunks)."""

    FIELDS = ("run", "pid", "born", "file_time", "cat", "channel", "dept", "closed_at", "status", "judgement",
              "old", "grid")

    def __init__(self):
        self._chunks: list[dict[str, np.ndarray]] = []

    def add(self, cases, rows: np.ndarray, old: np.ndarray, grid: np.ndarray) -> None:
        # an abandoned problem was never known (even if a report had been scheduled, or a repeat call was
        # due); a problem fixed through its cause before it was filed is not a case
        known = np.isfinite(cases.file_time[rows]) & (cases.status[rows] != Status.ABANDONED)
        rows, old, grid = rows[known], old[known], grid[known]
        if rows.size:
            self._chunks.append({"run": cases.run[rows].copy(), "pid": cases.pid[rows].copy(),
                                 "born": cases.born[rows].copy(), "file_time": cases.file_time[rows].copy(),
                                 "cat": cases.cat[rows].copy(), "channel": cases.channel[rows].copy(),
                                 "dept": cases.dept[rows].copy(), "closed_at": cases.closed_at[rows].copy(),
                                 "status": cases.status[rows].copy(), "judgement": cases.judgement[rows].copy(),
                                 "old": np.asarray(old).copy(), "grid": np.asarray(grid).copy()})

    def arrays(self, model) -> dict[str, np.ndarray]:
        """The finished cases booked so far, plus the known cases still open in `model`."""
        c = model.cases
        open_ = (c.status >= Status.FILED) & (c.status < Status.RESOLVED) & np.isfinite(c.file_time) \
            & (c.file_time <= model.day)
        res = c.res[open_]
        tail = {"run": c.run[open_], "pid": c.pid[open_], "born": c.born[open_], "file_time": c.file_time[open_],
                "cat": c.cat[open_], "channel": c.channel[open_], "dept": c.dept[open_],
                "closed_at": np.full(res.size, np.nan), "status": np.full(res.size, -1, np.int8),
                "judgement": np.full(res.size, np.nan), "old": model.residents.old[res].astype(np.int8),
                "grid": model.residents.grid[res]}
        chunks = self._chunks + [tail]
        return {k: np.concatenate([ch[k] for ch in chunks]) for k in self.FIELDS}


def attach(model) -> CaseLog:
    """Start keeping the case records of `model` (before it runs)."""
    log = CaseLog()
    model.ledger.attach_case_log(log)
    return log


def callback(judgement: np.ndarray) -> np.ndarray:
    """The three-level satisfaction callback of judgements 0–1 (blank where there is none)."""
    j = np.asarray(judgement, dtype=float)
    out = np.where(j >= CALLBACK_CUTS[1], SATISFACTION_LEVELS[0],
                   np.where(j >= CALLBACK_CUTS[0], SATISFACTION_LEVELS[1], SATISFACTION_LEVELS[2])).astype(object)
    out[~np.isfinite(j)] = ""
    return out


def export_frame(model, log: CaseLog, run: int = 0, start: str = DEFAULT_START) -> pd.DataFrame:
    """One run's case records in the canonical export format, ordered by contact time (times as
    timestamps; :func:`write_export` writes them as text)."""
    from sim.scenario import resolved_communities
    a = log.arrays(model)
    sel = a["run"] == run
    a = {k: v[sel] for k, v in a.items()}
    order = np.lexsort((a["pid"], a["file_time"]))
    a = {k: v[order] for k, v in a.items()}
    lay = model.layout
    names = [c.name for c in resolved_communities(model.base_scenario)]
    grid = a["grid"] - run * lay.n_grids
    depts = model.departments
    dept = np.where(a["dept"] >= 0, a["dept"], 0)
    dept_name = np.array([depts.names[k] for k in depts.local[dept]], dtype=object) if dept.size else np.array([], object)
    dept_name[a["dept"] < 0] = ""
    t0 = pd.Timestamp(start)

    def stamp(days: np.ndarray) -> pd.Series:
        return t0 + pd.to_timedelta(np.round(np.asarray(days, dtype=float) * 1440), unit="min")

    status = a["status"].astype(int)
    outcome = np.array(["open"] * status.size, dtype=object)
    for k, name in enumerate(OUTCOMES[:3]):
        outcome[status == int(Status.RESOLVED) + k] = name
    # a callback follows a closed case (escalated ones become incidents: no callback)
    sat = callback(np.where(np.isin(outcome, ("resolved", "unresolved")), a["judgement"], np.nan))
    return pd.DataFrame({
        "case_id": [f"C{run:02d}-{p:07d}" for p in a["pid"]],
        "contact_time": stamp(a["file_time"]),
        "category": np.array(model.categories.names, dtype=object)[a["cat"]] if a["cat"].size else [],
        "channel": [CHANNEL_NAMES.get(int(ch), "other") for ch in a["channel"]],
        "community": np.array(names, dtype=object)[lay.grid_community[grid]] if grid.size else [],
        "grid": grid,
        "age_group": np.array(AGE_GROUPS, dtype=object)[a["old"].astype(int)] if a["old"].size else [],
        "dispatched": np.where(a["dept"] >= 0, "yes", "no"),
        "department": dept_name,
        # a report still on its way to the centre when its problem escalated closes on arrival
        "closed_time": stamp(np.maximum(a["closed_at"], a["file_time"])),
        "outcome": outcome,
        "satisfaction": sat,
    })


def run_with_log(scenario, seeds: list[int], steps: int | None = None):
    """Run a batch of `scenario` with a case log; return the model and the log."""
    from sim.model import GovernanceModel
    model = GovernanceModel(scenario, seeds=seeds)
    log = attach(model)
    model.run(steps if steps is not None else scenario.run.steps)
    return model, log


TIME_FORMAT = "%Y-%m-%d %H:%M"


def write_export(frame: pd.DataFrame, path) -> None:
    """Write records as a CSV export (times to the minute, blank while open)."""
    frame.to_csv(path, index=False, date_format=TIME_FORMAT)


def case_export(scenario, seed: int | None = None, steps: int | None = None, start: str = DEFAULT_START) -> pd.DataFrame:
    """The case export of one run of `scenario` (its own seed unless given)."""
    model, log = run_with_log(scenario, [scenario.run.seed if seed is None else seed], steps)
    return export_frame(model, log, 0, start)
