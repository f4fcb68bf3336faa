"""The 4E outcome metrics and the daily series, each declared once: its name, its labels in English and
Chinese, its unit, which direction is better, which E it measures, the smallest change that matters in
practice, and the function that computes it from the ledger and the state.

Every function takes the model and returns one value per run of its batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np

from sim.cases import Status
from sim.ledger import EVENT_INDEX, MAX_DAYS_HIST, OLD, UNDER60

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import GovernanceModel

E_ORDER = ("Economy", "Efficiency", "Effectiveness", "Equity", "Calibration")
E_LABELS_ZH = {"Economy": "经济性", "Efficiency": "效率性", "Effectiveness": "效果性", "Equity": "公平性",
               "Calibration": "校准"}


@dataclass(frozen=True)
class Metric:
    """An outcome indicator. `better`: "higher", "lower", "zero" (a signed gap: closer to parity is
    better) or "neither" (a calibration figure). `practical`: the smallest change that matters to a
    planner, in the metric's unit ("absolute") or as a share of the base value ("relative")."""
    name: str
    label: str
    label_zh: str
    unit: str
    unit_zh: str
    better: Literal["higher", "lower", "zero", "neither"]
    e: Literal["Economy", "Efficiency", "Effectiveness", "Equity", "Calibration"]
    description: str
    practical: float
    practical_kind: Literal["absolute", "relative"]
    compute: Callable[["GovernanceModel"], np.ndarray] = field(repr=False, compare=False)


_declared: list[Metric] = []


def metric(name, label, label_zh, unit, unit_zh, better, e, description="", *, practical, kind="absolute"):
    """Declare the decorated function as the metric `name` (declaration and computation in one place)."""
    def register(fn):
        _declared.append(Metric(name, label, label_zh, unit, unit_zh, better, e, description, practical, kind, fn))
        return fn
    return register


def ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def years(m) -> float:
    return max(m.day, 1) / 365.0


def open_cases(m) -> np.ndarray:
    """Per run: cases at the centre or a department (filed, queued or merged, not finished)."""
    c = m.cases
    return np.bincount(c.run[(c.status >= Status.FILED) & (c.status < Status.RESOLVED)], minlength=m.n_runs)


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
    """Quantile of whole-day durations from a histogram of counts per day."""
    total = hist.sum()
    if total == 0:
        return float("nan")
    return float(np.searchsorted(np.cumsum(hist), q * total, side="left"))


# --------------------------------------------------------------------------------------------------
# Economy

@metric("total_cost", "Total cost", "总成本", "million yuan", "百万元", "lower", "Economy",
        "staff, platform, training, services and incidents", practical=0.02, kind="relative")
def _total_cost(m):
    return m.ledger.cost / 1e6


@metric("cost_per_resolved", "Cost per resolved case", "每解决一件的成本", "yuan", "元", "lower", "Economy",
        practical=0.05, kind="relative")
def _cost_per_resolved(m):
    return ratio(m.ledger.cost, m.ledger.finished_count("resolved"))


# Efficiency

@metric("median_days", "Median time to resolution", "解决用时中位数", "days", "天", "lower", "Efficiency",
        "problem arising → resolved", practical=0.5)
def _median_days(m):
    return np.array([hist_quantile(h.sum(axis=0), 0.5) for h in m.ledger.resolved_days_hist])


@metric("p90_days", "90th percentile time to resolution", "解决用时第90百分位", "days", "天", "lower", "Efficiency",
        practical=0.5)
def _p90_days(m):
    return np.array([hist_quantile(h.sum(axis=0), 0.9) for h in m.ledger.resolved_days_hist])


@metric("backlog", "Backlog at end", "期末积压", "open cases", "件", "lower", "Efficiency",
        "cases at the centre or a department", practical=0.10, kind="relative")
def _backlog(m):
    return open_cases(m).astype(float)


@metric("within_deadline", "Closed within deadline", "按期办结率", "share", "比例", "higher", "Efficiency",
        "share of closed cases closed within their category's deadline after filing", practical=0.02)
def _within_deadline(m):
    return ratio(m.ledger.closed_in_deadline, m.ledger.cases_closed)


@metric("multi_dept_days", "Time to resolve multi-department cases", "跨部门问题解决用时", "days", "天", "lower",
        "Efficiency", "mean days from arising to resolution of problems needing more than one department", practical=0.5)
def _multi_dept_days(m):
    return ratio(m.ledger.multi_days[:, 0], m.ledger.multi_days[:, 1])


@metric("bounces", "Bounces between departments", "部门间推诿", "per case", "次/件", "lower", "Efficiency",
        "hand-offs sent back to the previous department (推诿扯皮), per filed case", practical=0.01)
def _bounces(m):
    return ratio(m.ledger.total("bounces"), m.ledger.total("filed"))


@metric("duplicate_work", "Duplicate cases handled", "重复处理的案件", "cases", "件", "lower", "Efficiency",
        "cases handled separately although their cause was already handled", practical=0.10, kind="relative")
def _duplicate_work(m):
    return m.ledger.total("duplicate_work").astype(float)


# Effectiveness

@metric("resolution_rate", "Resolution rate", "解决率", "share", "比例", "higher", "Effectiveness",
        "resolved / (resolved + closed unresolved + escalated) among finished cases", practical=0.02)
def _resolution_rate(m):
    f = m.ledger.finished[:, :3, 1, :].sum(axis=2)   # known: resolved, unresolved, escalated
    return ratio(f[:, 0], f.sum(axis=1))


@metric("satisfaction_rate", "Satisfaction rate", "满意率", "0–1", "0–1", "higher", "Effectiveness",
        "mean satisfaction with the problems that finished (resolved, closed, escalated or abandoned): "
        "comparable with published satisfaction rates, which survey residents whose case was handled", practical=0.02)
def _satisfaction_rate(m):
    j = m.ledger.judgements
    return ratio(j[:, :, 0].sum(axis=1), j[:, :, 1].sum(axis=1))


@metric("satisfaction", "Mean satisfaction", "居民平均满意度", "0–1", "0–1", "higher", "Effectiveness",
        "mean satisfaction of all residents, served or not", practical=0.01)
def _satisfaction(m):
    return m.residents.run_mean(m.residents.satisfaction)


@metric("trust", "Mean trust", "居民平均信任度", "0–1", "0–1", "higher", "Effectiveness", practical=0.01)
def _trust(m):
    return m.residents.run_mean(m.residents.trust)


@metric("escalations", "Escalations", "矛盾升级", "per 10k residents per year", "每万人每年", "lower", "Effectiveness",
        "problems that grew into a dispute or incident", practical=0.10, kind="relative")
def _escalations(m):
    return m.ledger.finished_count("escalated") / m.residents.per_run * 10_000 / years(m)


@metric("found_before_report", "Found before a report", "未诉先办比例", "share", "比例", "higher", "Effectiveness",
        "share of cases discovered by grid workers or early warning rather than reported", practical=0.02)
def _found_before_report(m):
    L = m.ledger
    found = L.total("discovered") + L.total("warned")
    return ratio(found, L.total("filed") + L.total("settled_on_spot") + L.total("warned"))


# Equity

@metric("gap_days_60plus", "Resolution-time gap, 60+ vs others", "60岁及以上与其他居民的解决用时差", "days", "天",
        "lower", "Equity", "mean days to resolution of residents aged 60+ minus others'", practical=0.5)
def _gap_days_60plus(m):
    L = m.ledger
    mean = ratio(L.resolved_days_sum, L.finished[:, 0].sum(axis=1))   # [run, age group]
    return mean[:, OLD] - mean[:, UNDER60]


@metric("gap_satisfaction_60plus", "Satisfaction gap, others vs 60+", "其他居民与60岁及以上的满意率差", "0–1", "0–1",
        "lower", "Equity",
        "satisfaction rate (per finished problem) of residents under 60 minus that of residents aged 60+", practical=0.01)
def _gap_satisfaction_60plus(m):
    j = m.ledger.judgements
    rate = ratio(j[:, :, 0], j[:, :, 1])
    return rate[:, UNDER60] - rate[:, OLD]


@metric("gini_grid_satisfaction", "Gini of satisfaction across grids", "网格间满意度基尼系数", "0–1", "0–1", "lower",
        "Equity", practical=0.01)
def _gini_grid_satisfaction(m):
    res = m.residents
    per_grid = ratio(np.bincount(res.grid, weights=res.satisfaction), np.bincount(res.grid))
    return np.array([gini(g) for g in per_grid.reshape(m.n_runs, -1)])


@metric("silent_share_60plus", "Silent problems, 60+", "60岁及以上居民未被知晓的问题比例", "share", "比例", "lower",
        "Equity", "share of 60+ residents' problems never reported nor found", practical=0.02)
def _silent_share_60plus(m):
    f = m.ledger.finished[:, :, :, OLD]   # [run, status, known]
    return ratio(f[:, :, 0].sum(axis=1), f.sum(axis=(1, 2)))


# Calibration (compared with published figures in docs/ODD.md)

@metric("dispatched_per_resident_year", "Dispatched cases", "派单量", "per resident per year", "件/人/年", "neither",
        "Calibration", "cases filed to the centre (Beijing 2020: 0.21; Dongcheng 2024: ~0.47)", practical=0.05,
        kind="relative")
def _dispatched(m):
    return m.ledger.total("filed") / m.residents.per_run / years(m)


@metric("contacts_per_resident_year", "Hotline contacts", "热线来电量", "per resident per year", "次/人/年", "neither",
        "Calibration", "hotline calls incl. consultations (Beijing 2020: 0.50)", practical=0.05, kind="relative")
def _contacts(m):
    return m.ledger.total("hotline_reports") / (1 - m.params.demand.consultation_share) / m.residents.per_run / years(m)


@metric("hotline_share", "Hotline share of reports", "热线占诉求比例", "share", "比例", "neither", "Calibration",
        "Beijing 2020: 0.907", practical=0.02)
def _hotline_share(m):
    return ratio(m.ledger.total("hotline_reports"), m.ledger.total("reports"))


@metric("incidents", "Escalated incidents", "升级事件", "count", "件", "lower", "Effectiveness",
        practical=0.10, kind="relative")
def _incidents(m):
    return m.ledger.finished_count("escalated").astype(float)


@metric("leaks", "Data leaks", "数据泄露", "count", "次", "lower", "Effectiveness", practical=0.5)
def _leaks(m):
    return m.ledger.total("leaks").astype(float)


METRICS: tuple[Metric, ...] = tuple(_declared)
METRIC_BY_NAME = {m.name: m for m in METRICS}


def metric_names() -> list[str]:
    return [m.name for m in METRICS]


# --------------------------------------------------------------------------------------------------
# The daily series: recorded at the end of every day, one value per run.

@dataclass(frozen=True)
class Series:
    name: str
    label: str
    label_zh: str
    unit: str
    description: str
    read: Callable[["GovernanceModel"], np.ndarray] = field(repr=False, compare=False)


def _event(name):
    row = EVENT_INDEX[name]
    return lambda m: m.ledger.today[row]


def _finished_today(k):
    return lambda m: m.ledger.finished_today[:, k]


def _mean_of(group):
    def read(m):
        res = m.residents
        return res.run_mean(res.satisfaction, m.age_groups[group])
    return read


SERIES: tuple[Series, ...] = (
    Series("new_problems", "New problems", "新增问题", "problems", "problems that arose that day, reported or not",
           _event("problems")),
    Series("reports", "Reports", "群众反映", "reports", "problems residents reported that day, through any channel",
           _event("reports")),
    Series("discovered", "Found on patrol", "巡查发现", "problems", "unreported problems grid workers found on patrol that day",
           _event("discovered")),
    Series("settled_on_spot", "Settled on the spot", "就地化解", "problems",
           "small disputes grid workers settled on the spot that day", _event("settled_on_spot")),
    Series("resolved", "Resolved", "已解决", "problems", "problems closed as resolved that day", _finished_today(0)),
    Series("unresolved", "Closed unresolved", "办结未解决", "problems",
           "cases closed without the problem being resolved that day", _finished_today(1)),
    Series("escalated", "Escalated", "矛盾升级", "problems",
           "problems that escalated into a dispute or incident that day", _finished_today(2)),
    Series("abandoned", "Abandoned", "放弃反映", "problems",
           "unreported, undiscovered problems given up by residents that day", _finished_today(3)),
    Series("backlog", "Backlog", "积压案件", "open cases", "cases at the centre or a department at the end of the day",
           open_cases),
    Series("silent_open", "Silent open problems", "未被知晓的问题", "problems",
           "open problems neither reported nor found, at the end of the day",
           lambda m: np.bincount(m.cases.run[m.cases.status <= Status.PENDING], minlength=m.n_runs)),
    Series("satisfaction", "Mean satisfaction", "平均满意度", "0–1",
           "mean satisfaction of all residents at the end of the day", lambda m: m.residents.run_mean(m.residents.satisfaction)),
    Series("trust", "Mean trust", "平均信任度", "0–1", "mean trust in government of all residents at the end of the day",
           lambda m: m.residents.run_mean(m.residents.trust)),
    Series("satisfaction_60plus", "Satisfaction, 60+", "60岁及以上满意度", "0–1", "mean satisfaction of residents aged 60+",
           _mean_of(OLD)),
    Series("satisfaction_under60", "Satisfaction, under 60", "60岁以下满意度", "0–1",
           "mean satisfaction of residents under 60", _mean_of(UNDER60)),
    Series("cost", "Cumulative cost", "累计成本", "million yuan",
           "cumulative cost since day 1 (staff, platform, training, services, incidents)", lambda m: m.ledger.cost / 1e6),
    Series("early_warnings", "Early warnings", "预警处置", "warnings",
           "early warnings on shared data that led to action on a common cause that day", _event("early_warnings")),
    Series("false_alarms", "False alarms", "误报", "warnings", "false early warnings that day (each costs department time)",
           _event("false_alarms")),
    Series("leaks", "Data leaks", "数据泄露", "leaks", "data leaks that became known that day", _event("leaks")),
    Series("duplicate_work", "Duplicate work", "重复处理", "cases",
           "cases handled that day although their cause was already handled", _event("duplicate_work")),
)
SERIES_BY_NAME = {s.name: s for s in SERIES}
DAILY_SERIES = tuple(s.name for s in SERIES)
SERIES_DOC: dict[str, tuple[str, str]] = {s.name: (s.unit, s.description) for s in SERIES}
QUEUE_PREFIX = "queue_"
QUEUE_DOC = ("cases", "cases waiting in the named department's queue at the end of the day")
MAX_DAYS = MAX_DAYS_HIST
