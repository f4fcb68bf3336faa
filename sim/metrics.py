"""The 4E outcome metrics, declared once: name, label, unit, which direction is better, and which E.

Summary metrics are computed by :meth:`sim.model.GovernanceModel.summary` from the model's state and
accumulators after a run; daily series are recorded by the model into preallocated arrays and turned
into a frame once at the end (:meth:`GovernanceModel.daily_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    better: Literal["higher", "lower", "neither"]
    e: Literal["Economy", "Efficiency", "Effectiveness", "Equity", "Calibration"]
    description: str = ""


METRICS: tuple[Metric, ...] = (
    # Economy
    Metric("total_cost", "Total cost", "million yuan", "lower", "Economy", "staff, platform, training, services and incidents"),
    Metric("cost_per_resolved", "Cost per resolved case", "yuan", "lower", "Economy"),
    # Efficiency
    Metric("median_days", "Median time to resolution", "days", "lower", "Efficiency", "problem arising → resolved"),
    Metric("p90_days", "90th percentile time to resolution", "days", "lower", "Efficiency"),
    Metric("backlog", "Backlog at end", "open cases", "lower", "Efficiency", "cases at the centre or a department"),
    Metric("within_deadline", "Closed within deadline", "share", "higher", "Efficiency",
           "share of closed cases closed within their category's deadline after filing"),
    Metric("multi_dept_days", "Time to resolve multi-department cases", "days", "lower", "Efficiency",
           "mean days from arising to resolution of problems needing more than one department"),
    Metric("bounces", "Bounces between departments", "per case", "lower", "Efficiency",
           "hand-offs sent back to the previous department (推诿扯皮), per filed case"),
    Metric("duplicate_work", "Duplicate cases handled", "cases", "lower", "Efficiency",
           "cases handled separately although their cause was already handled"),
    # Effectiveness
    Metric("resolution_rate", "Resolution rate", "share", "higher", "Effectiveness",
           "resolved / (resolved + closed unresolved + escalated) among finished cases"),
    Metric("satisfaction_rate", "Satisfaction rate", "0–1", "higher", "Effectiveness",
           "mean satisfaction with the problems that finished (resolved, closed, escalated or abandoned): "
           "comparable with published satisfaction rates, which survey residents whose case was handled"),
    Metric("satisfaction", "Mean satisfaction", "0–1", "higher", "Effectiveness",
           "mean satisfaction of all residents, served or not"),
    Metric("trust", "Mean trust", "0–1", "higher", "Effectiveness"),
    Metric("escalations", "Escalations", "per 10k residents per year", "lower", "Effectiveness",
           "problems that grew into a dispute or incident"),
    Metric("found_before_report", "Found before a report", "share", "higher", "Effectiveness",
           "share of cases discovered by grid workers or early warning rather than reported"),
    # Equity
    Metric("gap_days_60plus", "Resolution-time gap, 60+ vs others", "days", "lower", "Equity",
           "mean days to resolution of residents aged 60+ minus others'"),
    Metric("gap_satisfaction_60plus", "Satisfaction gap, others vs 60+", "0–1", "lower", "Equity",
           "satisfaction rate (per finished problem) of residents under 60 minus that of residents aged 60+"),
    Metric("gini_grid_satisfaction", "Gini of satisfaction across grids", "0–1", "lower", "Equity"),
    Metric("silent_share_60plus", "Silent problems, 60+", "share", "lower", "Equity",
           "share of 60+ residents' problems never reported nor found"),
    # Calibration (compared with published figures in docs/ODD.md)
    Metric("dispatched_per_resident_year", "Dispatched cases", "per resident per year", "neither", "Calibration",
           "cases filed to the centre (Beijing 2020: 0.21; Dongcheng 2024: ~0.47)"),
    Metric("contacts_per_resident_year", "Hotline contacts", "per resident per year", "neither", "Calibration",
           "hotline calls incl. consultations (Beijing 2020: 0.50)"),
    Metric("hotline_share", "Hotline share of reports", "share", "neither", "Calibration", "Beijing 2020: 0.907"),
    Metric("incidents", "Escalated incidents", "count", "lower", "Effectiveness"),
    Metric("leaks", "Data leaks", "count", "lower", "Effectiveness"),
)

METRIC_BY_NAME = {m.name: m for m in METRICS}

# The daily series (`GovernanceModel.daily_frame()`): unit and description of each, declared once.
SERIES_DOC: dict[str, tuple[str, str]] = {
    "new_problems": ("problems", "problems that arose that day, reported or not"),
    "reports": ("reports", "problems residents reported that day, through any channel"),
    "discovered": ("problems", "unreported problems grid workers found on patrol that day"),
    "settled_on_spot": ("problems", "small disputes grid workers settled on the spot that day"),
    "resolved": ("problems", "problems closed as resolved that day"),
    "unresolved": ("problems", "cases closed without the problem being resolved that day"),
    "escalated": ("problems", "problems that escalated into a dispute or incident that day"),
    "abandoned": ("problems", "unreported, undiscovered problems given up by residents that day"),
    "backlog": ("open cases", "cases at the centre or a department at the end of the day"),
    "silent_open": ("problems", "open problems neither reported nor found, at the end of the day"),
    "satisfaction": ("0–1", "mean satisfaction of all residents at the end of the day"),
    "trust": ("0–1", "mean trust in government of all residents at the end of the day"),
    "satisfaction_60plus": ("0–1", "mean satisfaction of residents aged 60+"),
    "satisfaction_under60": ("0–1", "mean satisfaction of residents under 60"),
    "cost": ("million yuan", "cumulative cost since day 1 (staff, platform, training, services, incidents)"),
    "early_warnings": ("warnings", "early warnings on shared data that led to action on a common cause that day"),
    "false_alarms": ("warnings", "false early warnings that day (each costs department time)"),
    "leaks": ("leaks", "data leaks that became known that day"),
    "duplicate_work": ("cases", "cases handled that day although their cause was already handled"),
}
QUEUE_PREFIX = "queue_"
QUEUE_DOC = ("cases", "cases waiting in the named department's queue at the end of the day")

E_ORDER = ("Economy", "Efficiency", "Effectiveness", "Equity", "Calibration")


def metric_names() -> list[str]:
    return [m.name for m in METRICS]


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal)."""
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0 or v.sum() <= 0:
        return 0.0
    cum = np.cumsum(v)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def hist_quantile(hist: np.ndarray, q: float) -> float:
    """Quantile of integer-day durations from a histogram (counts per whole day)."""
    total = hist.sum()
    if total == 0:
        return float("nan")
    idx = int(np.searchsorted(np.cumsum(hist), q * total, side="left"))
    return float(idx)
