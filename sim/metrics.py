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
from sim.ledger import EVENT_INDEX, OLD, UNDER60

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
    short: str = ""   # a shorter English label for 80-column tables, where `label` is too long

    @property
    def label_short(self) -> str:
        """The label for a terminal table: `short` if declared, else `label` (with the unit ≤ 42 characters)."""
        return self.short or self.label


_declared: list[Metric] = []


def metric(name, label, label_zh, unit, unit_zh, better, e, description="", *, practical, kind="absolute", short=""):
    """Declare the decorated function as the metric `name` (declaration and computation in one place)."""
    def register(fn):
        _declared.append(Metric(name, label, label_zh, unit, unit_zh, better, e, description, practical, kind, fn, short))
        return fn
    return register


def ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def years(m) -> float:
    return max(m.day - m.start_day, 1) / 365.0


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


def _quantile(m, q: float, **which) -> np.ndarray:
    out = []
    for r in range(m.n_runs):
        d = m.ledger.resolution_days(r, **which)
        out.append(float(np.quantile(d, q)) if d.size else np.nan)
    return np.array(out)


def _grid_values(m, column: str, per: str = "grid") -> np.ndarray:
    """Per run (rows) and grid or community (columns): mean days to resolution from need ("days"),
    share of finished problems resolved ("resolution") or satisfaction of those served ("satisfaction")."""
    g = m.ledger.grid.sum(axis=1)                             # [batch-wide grid, column]
    if per == "community":
        lay = m.layout
        comm = np.tile(lay.grid_community, m.n_runs) + np.repeat(np.arange(m.n_runs) * lay.n_communities, lay.n_grids)
        g = np.array([np.bincount(comm, weights=g[:, k], minlength=lay.n_communities * m.n_runs)
                      for k in range(g.shape[1])]).T
    num, den = {"days": (4, 1), "resolution": (1, 0), "satisfaction": (5, 6)}[column]
    return ratio(g[:, num], g[:, den]).reshape(m.n_runs, -1)


def _gini_of(m, column: str, per: str = "grid") -> np.ndarray:
    return np.array([gini(v) for v in _grid_values(m, column, per)])


def max_min(values: np.ndarray) -> float:
    """Ratio of the largest to the smallest value (finite values; NaN if the smallest is not > 0)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.max() / v.min()) if v.size and v.min() > 0 else float("nan")


def _by_age(m, per: str) -> np.ndarray:
    """[run, age group]: mean days to resolution from need ("days") or satisfaction with all
    problems ("satisfaction")."""
    L = m.ledger
    if per == "days":
        g = L.grid.reshape(m.n_runs, -1, 2, L.grid.shape[2]).sum(axis=1)   # [run, age, column]
        return ratio(g[:, :, 4], g[:, :, 1])
    j = L.judgements.sum(axis=2)                                          # [run, age, (sum, count)]
    return ratio(j[:, :, 0], j[:, :, 1])


# --------------------------------------------------------------------------------------------------
# Economy

@metric("total_cost", "Total cost", "总成本", "million yuan", "百万元", "lower", "Economy",
        "staff, platform, training, services, overtime and incidents", practical=0.02, kind="relative")
def _total_cost(m):
    return m.ledger.cost / 1e6


def _cost_of(m, *parts: str) -> np.ndarray:
    return sum((m.ledger.cost_parts.get(k, np.zeros(m.n_runs)) for k in parts), np.zeros(m.n_runs)) / 1e6


@metric("staff_cost", "Staff and services cost", "人员与服务成本", "million yuan", "百万元", "lower", "Economy",
        "grid workers, department staff, overtime, training and elder-friendly service", practical=0.02, kind="relative")
def _staff_cost(m):
    return _cost_of(m, "grid_workers", "staff", "overtime", "training", "elder_friendly")


@metric("platform_cost", "Platform cost", "平台成本", "million yuan", "百万元", "lower", "Economy",
        "the shared platform's build (written off) and running costs, its features, privacy safeguards, maintenance "
        "and bias correction",
        practical=0.02, kind="relative")
def _platform_cost(m):
    return _cost_of(m, "platform", "features", "safeguards", "maintenance", "bias_correction")


@metric("incident_cost", "Cost of incidents", "事件处置成本", "million yuan", "百万元", "lower", "Economy",
        "handling escalated incidents", practical=0.05, kind="relative")
def _incident_cost(m):
    return _cost_of(m, "incidents")


@metric("cost_per_resolved", "Cost per resolved problem", "每解决一件的成本", "yuan", "元", "lower", "Economy",
        practical=0.05, kind="relative")
def _cost_per_resolved(m):
    return ratio(m.ledger.cost, m.ledger.finished_count("resolved"))


# Efficiency

@metric("median_days", "Median time to resolution", "解决用时中位数", "days", "天", "lower", "Efficiency",
        "from the problem arising to its resolution, among all resolved problems (residents' view)", practical=0.5)
def _median_days(m):
    return _quantile(m, 0.5)


@metric("p90_days", "90th percentile time to resolution", "解决用时第90百分位", "days", "天", "lower", "Efficiency",
        "from the problem arising to its resolution (residents' view)", practical=0.5)
def _p90_days(m):
    return _quantile(m, 0.9)


@metric("median_days_reported", "Median time to resolution, from filing", "解决用时中位数（自立案）", "days", "天",
        "lower", "Efficiency", "from filing at the centre to resolution, among known cases (administration's view)",
        short="Median time to resolve, from filing", practical=0.5)
def _median_days_reported(m):
    return _quantile(m, 0.5, from_filing=True)


@metric("backlog", "Backlog at end", "期末积压", "open cases", "件", "lower", "Efficiency",
        "cases at the centre or a department", practical=0.10, kind="relative")
def _backlog(m):
    return open_cases(m).astype(float)


@metric("within_deadline", "Closed within deadline", "按期办结率", "share", "比例", "higher", "Efficiency",
        "share of closed cases closed within their category's deadline after filing", practical=0.02)
def _within_deadline(m):
    return ratio(m.ledger.closed_in_deadline, m.ledger.cases_closed)


@metric("multi_dept_days", "Time to resolve multi-department problems", "跨部门问题解决用时", "days", "天", "lower",
        "Efficiency", "mean days from arising to resolution of problems needing more than one department", short="Time to resolve, multi-department", practical=0.5)
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


@metric("utilisation", "Department utilisation", "部门工作负荷", "share", "比例", "neither", "Efficiency",
        "share of case handlers' hours spent on cases and other work (all teams)", practical=0.02)
def _utilisation(m):
    L, depts = m.ledger, m.departments
    work = L.work_days.reshape(m.n_runs, -1).sum(axis=1)
    return ratio(work, depts.servers.reshape(m.n_runs, -1).sum(axis=1) * max(m.day - m.start_day, 1))


# Effectiveness

@metric("resolution_rate", "Resolution rate, known cases", "解决率（已知案件）", "share", "比例", "higher",
        "Effectiveness", "resolved / (resolved + closed unresolved + escalated) among cases the administration knew "
        "of: the published indicator", practical=0.02)
def _resolution_rate(m):
    f = m.ledger.finished[:, :3, 1, :].sum(axis=2)   # known: resolved, unresolved, escalated
    return ratio(f[:, 0], f.sum(axis=1))


@metric("resolution_rate_all", "Resolution rate, all problems", "解决率（全部问题）", "share", "比例", "higher",
        "Effectiveness", "resolved / all problems that finished, reported or not (residents' view)", practical=0.02)
def _resolution_rate_all(m):
    f = m.ledger.finished.sum(axis=(2, 3))
    return ratio(f[:, 0], f.sum(axis=1))


@metric("satisfaction_rate", "Satisfaction rate, known cases", "满意率（已知案件）", "0–1", "0–1", "higher",
        "Effectiveness", "mean satisfaction of residents with the cases the administration knew of: comparable with "
        "published satisfaction rates, which survey residents whose case was handled", practical=0.02)
def _satisfaction_rate(m):
    j = m.ledger.judgements[:, :, 1, :].sum(axis=1)
    return ratio(j[:, 0], j[:, 1])


@metric("satisfaction_all", "Satisfaction, all problems", "满意度（全部问题）", "0–1", "0–1", "higher", "Effectiveness",
        "mean satisfaction of residents with every problem that finished, reported or not, found or given up "
        "(residents' view)", practical=0.02)
def _satisfaction_all(m):
    j = m.ledger.judgements.sum(axis=(1, 2))
    return ratio(j[:, 0], j[:, 1])


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
        "share of cases discovered by grid workers, early warning or risk prediction rather than reported", practical=0.02)
def _found_before_report(m):
    L = m.ledger
    found = L.total("discovered") + L.total("warned") + L.total("risk_flags")
    return ratio(found, L.total("filed") + L.total("settled_on_spot") + L.total("warned"))


@metric("incidents", "Escalated incidents", "升级事件", "count", "件", "lower", "Effectiveness",
        practical=0.10, kind="relative")
def _incidents(m):
    return m.ledger.finished_count("escalated").astype(float)


@metric("leaks", "Data leaks", "数据泄露", "count", "次", "lower", "Effectiveness", practical=0.5)
def _leaks(m):
    return m.ledger.total("leaks").astype(float)


# Equity: gaps are distances from parity (closer to 0 is better), the signed value beside

@metric("gap_days_60plus", "Resolution-time gap, 60+ vs others", "60岁以上与其他居民解决用时差距", "days", "天",
        "lower", "Equity", "|mean days from need to resolution of residents aged 60+ − others'|", practical=0.5)
def _gap_days_60plus(m):
    return np.abs(_gap_days_60plus_signed(m))


@metric("gap_days_60plus_signed", "Resolution-time gap, 60+ minus others (signed)", "60岁以上减其他居民解决用时",
        "days", "天", "neither", "Equity", "positive: residents aged 60+ wait longer", short="Signed time gap, 60+ minus others", practical=0.5)
def _gap_days_60plus_signed(m):
    d = _by_age(m, "days")
    return d[:, OLD] - d[:, UNDER60]


@metric("gap_satisfaction_60plus", "Satisfaction gap, 60+ vs others", "60岁以上与其他居民满意度差距", "0–1", "0–1",
        "lower", "Equity", "|satisfaction with all problems of residents under 60 − of residents aged 60+|",
        practical=0.01)
def _gap_satisfaction_60plus(m):
    return np.abs(_gap_satisfaction_60plus_signed(m))


@metric("gap_satisfaction_60plus_signed", "Satisfaction gap, others minus 60+ (signed)", "其他居民减60岁以上满意度",
        "0–1", "0–1", "neither", "Equity", "positive: residents aged 60+ are less satisfied", short="Signed sat. gap, others minus 60+", practical=0.01)
def _gap_satisfaction_60plus_signed(m):
    s = _by_age(m, "satisfaction")
    return s[:, UNDER60] - s[:, OLD]


@metric("silent_share_60plus", "Silent problems, 60+", "60岁以上居民未被知晓的问题比例", "share", "比例", "lower",
        "Equity", "share of 60+ residents' problems never reported nor found", practical=0.02)
def _silent_share_60plus(m):
    f = m.ledger.finished[:, :, :, OLD]   # [run, status, known]
    return ratio(f[:, :, 0].sum(axis=1), f.sum(axis=(1, 2)))


@metric("gini_grid_days", "Gini of time to resolution across grids", "网格间解决用时基尼系数", "0–1", "0–1", "lower",
        "Equity", "of each grid's mean days from need to resolution", short="Gini of resolution time across grids", practical=0.01)
def _gini_grid_days(m):
    return _gini_of(m, "days")


@metric("gini_grid_resolution", "Gini of resolution across grids", "网格间解决率基尼系数", "0–1", "0–1", "lower",
        "Equity", "of each grid's share of finished problems resolved", practical=0.01)
def _gini_grid_resolution(m):
    return _gini_of(m, "resolution")


@metric("gini_grid_satisfaction", "Gini of satisfaction across grids", "网格间满意度基尼系数", "0–1", "0–1", "lower",
        "Equity", "of each grid's satisfaction of those served (known cases)", practical=0.01)
def _gini_grid_satisfaction(m):
    return _gini_of(m, "satisfaction")


@metric("maxmin_grid_days", "Slowest grid ÷ fastest grid", "最慢网格与最快网格用时之比", "ratio", "倍", "lower",
        "Equity", "largest over smallest mean days to resolution across grids", practical=0.05, kind="relative")
def _maxmin_grid_days(m):
    return np.array([max_min(v) for v in _grid_values(m, "days")])


@metric("maxmin_grid_resolution", "Best grid ÷ worst grid, resolution", "网格间解决率最高与最低之比", "ratio", "倍",
        "lower", "Equity", short="Best ÷ worst grid, resolution", practical=0.05, kind="relative")
def _maxmin_grid_resolution(m):
    return np.array([max_min(v) for v in _grid_values(m, "resolution")])


@metric("maxmin_grid_satisfaction", "Best grid ÷ worst grid, satisfaction", "网格间满意度最高与最低之比", "ratio", "倍",
        "lower", "Equity", short="Best ÷ worst grid, satisfaction", practical=0.05, kind="relative")
def _maxmin_grid_satisfaction(m):
    return np.array([max_min(v) for v in _grid_values(m, "satisfaction")])


@metric("gini_community_days", "Gini of time to resolution across communities", "社区间解决用时基尼系数", "0–1", "0–1",
        "lower", "Equity", short="Gini of resolution time, communities", practical=0.01)
def _gini_community_days(m):
    return _gini_of(m, "days", "community")


@metric("gini_community_resolution", "Gini of resolution across communities", "社区间解决率基尼系数", "0–1", "0–1",
        "lower", "Equity", short="Gini of resolution, communities", practical=0.01)
def _gini_community_resolution(m):
    return _gini_of(m, "resolution", "community")


@metric("gini_community_satisfaction", "Gini of satisfaction across communities", "社区间满意度基尼系数", "0–1",
        "0–1", "lower", "Equity", short="Gini of satisfaction, communities", practical=0.01)
def _gini_community_satisfaction(m):
    return _gini_of(m, "satisfaction", "community")


# Assessment (考核): reported indicators beside what they stand for. Closures are counted as the
# published data count them: every closure of a known case, a re-opened case's earlier closures too.

@metric("reported_resolution_rate", "Resolution rate, reported", "解决率（考核上报）", "share", "比例", "neither",
        "Effectiveness", "resolved / assessed closures as the assessment sees them: gamed closures reported resolved, "
        "withdrawn and reclassified cases left out (the published indicator)", practical=0.02)
def _reported_resolution_rate(m):
    c = m.ledger.closures
    return ratio(c[:, 3], c[:, 2])


@metric("true_resolution_rate", "Resolution rate of closures, true", "解决率（办结实际）", "share", "比例", "higher",
        "Effectiveness", "truly resolved / all closures of known cases, re-opened cases' closures included: what the "
        "reported rate stands for", practical=0.02)
def _true_resolution_rate(m):
    c = m.ledger.closures
    return ratio(c[:, 1], c[:, 0])


@metric("gap_resolution_reported", "Resolution rate, reported minus true", "解决率上报与实际之差", "share", "比例",
        "lower", "Effectiveness", "how far the reported resolution rate runs ahead of the true one (0 without gaming)",
        short="Resolution, reported − true", practical=0.02)
def _gap_resolution_reported(m):
    return _reported_resolution_rate(m) - _true_resolution_rate(m)


@metric("reported_satisfaction_rate", "Satisfaction rate, reported", "满意率（考核上报）", "0–1", "0–1", "neither",
        "Effectiveness", "mean score of satisfaction callbacks as recorded (leading or selective callbacks count as "
        "satisfied)", practical=0.02)
def _reported_satisfaction_rate(m):
    c = m.ledger.callbacks
    return ratio(c[:, 2], c[:, 0])


@metric("true_satisfaction_rate", "Satisfaction of those called back, true", "回访满意度（实际）", "0–1", "0–1",
        "higher", "Effectiveness", "mean true satisfaction of the residents called back after a closure", short="Callback satisfaction, true", practical=0.02)
def _true_satisfaction_rate(m):
    c = m.ledger.callbacks
    return ratio(c[:, 1], c[:, 0])


@metric("gap_satisfaction_reported", "Satisfaction rate, reported minus true", "满意率上报与实际之差", "0–1", "0–1",
        "lower", "Effectiveness", "how far the reported satisfaction rate runs ahead of the true one (0 without gaming)",
        short="Satisfaction, reported − true", practical=0.02)
def _gap_satisfaction_reported(m):
    return _reported_satisfaction_rate(m) - _true_satisfaction_rate(m)


@metric("gamed_share", "Gamed closures", "数据造假（虚假办结）比例", "share", "比例", "lower", "Effectiveness",
        "share of closures of known cases that were gamed (reported resolved without a fix, withdrawal persuaded, "
        "reclassified)", practical=0.02)
def _gamed_share(m):
    return ratio(m.ledger.total("gamed"), m.ledger.closures[:, 0])


@metric("gaming_found_share", "Gaming found out", "查出的数据造假比例", "share of closures", "占办结比例", "neither",
        "Effectiveness", "share of closures of known cases found out as gamed, by an audit or a linked repeat call "
        "(of the gamed ones: divide by gamed_share)", practical=0.01)
def _gaming_found_share(m):
    return ratio(m.ledger.total("gaming_found"), m.ledger.closures[:, 0])


@metric("reopened_share", "Re-opened cases", "重复诉求（重新启动）比例", "share", "比例", "lower", "Effectiveness",
        "closures of known cases followed by a repeat call or an audit that re-opened the case", practical=0.02)
def _reopened_share(m):
    L = m.ledger
    return ratio(L.total("repeat_calls") + L.total("audit_reopened"), L.closures[:, 0])


@metric("audit_cost", "Cost of audits", "核查成本", "million yuan", "百万元", "lower", "Economy",
        "return visits auditing closures", practical=0.02, kind="relative")
def _audit_cost(m):
    return _cost_of(m, "audits")


# Many actors (多元主体)

@metric("actor_share", "Cases handled by other actors", "社会力量承接案件比例", "share", "比例", "neither",
        "Effectiveness", "share of filed cases handed to property companies, volunteers or social organisations",
        practical=0.02)
def _actor_share(m):
    return ratio(m.ledger.total("actor_cases"), m.ledger.total("filed"))


@metric("community_share", "Cases settled in the community", "社区自办案件比例", "share", "比例", "neither",
        "Effectiveness", "share of filed cases the community's own staff took (小事不出社区)", practical=0.02)
def _community_share(m):
    return ratio(m.ledger.total("community_cases"), m.ledger.total("filed"))


@metric("reported_for_others", "Problems reported for residents", "代为反映的问题", "per 10k per year",
        "每万人每年", "higher", "Effectiveness",
        "unreported problems reported for residents by volunteers (60+) or neighbours", short="Reported for others", practical=0.10, kind="relative")
def _reported_for_others(m):
    L = m.ledger
    return (L.total("volunteer_reports") + L.total("participation_reports")) / m.residents.per_run * 10_000 / years(m)


@metric("actor_cost", "Cost of other actors", "社会力量成本", "million yuan", "百万元", "lower", "Economy",
        "payments to actors per case and the organisation of volunteers", practical=0.02, kind="relative")
def _actor_cost(m):
    return _cost_of(m, "actors", "volunteers")


# Algorithmic bias (算法偏见): reporters by phone and by app

def _by_channel(m, column: str) -> np.ndarray:
    """[run, channel]: mean days from need to resolution ("days") or resolved share ("resolution")."""
    b = m.ledger.by_channel
    return ratio(b[:, :, 2], b[:, :, 1]) if column == "days" else ratio(b[:, :, 1], b[:, :, 0])


@metric("gap_days_phone_app", "Resolution-time gap, phone vs app reporters", "电话与APP反映者解决用时差距", "days", "天",
        "lower", "Equity", "|mean days from need to resolution of problems reported by hotline − by app|", short="Time gap, phone vs app", practical=0.25)
def _gap_days_phone_app(m):
    return np.abs(_gap_days_phone_app_signed(m))


@metric("gap_days_phone_app_signed", "Resolution-time gap, phone minus app (signed)", "电话减APP反映者解决用时", "days",
        "天", "neither", "Equity", "positive: hotline reporters wait longer", short="Signed time gap, phone minus app",
        practical=0.25)
def _gap_days_phone_app_signed(m):
    d = _by_channel(m, "days")
    return d[:, 0] - d[:, 1]


@metric("gap_resolution_app_phone", "Resolution gap, app vs phone reporters", "APP与电话反映者解决率差距", "share",
        "比例", "lower", "Equity", "|resolved share of problems reported by app − by hotline|", short="Resolution gap, app vs phone", practical=0.01)
def _gap_resolution_app_phone(m):
    r = _by_channel(m, "resolution")
    return np.abs(r[:, 1] - r[:, 0])


# Platform life (重复建设, 使用效用低)

@metric("platform_use", "Platform use", "平台使用率", "share", "比例", "higher", "Efficiency",
        "mean share of joined department teams using the shared platform, over the days it existed", practical=0.05)
def _platform_use(m):
    p = m.platform
    return ratio(p.use_days, p.platform_days)


@metric("platform_quality", "Platform data quality at end", "平台数据质量（期末）", "0–1", "0–1", "higher", "Efficiency",
        "share of the platform's data still current at the end", practical=0.05)
def _platform_quality(m):
    return m.platform.quality.copy()


@metric("platform_abandoned", "Platform abandoned", "平台弃用", "0/1", "0/1", "lower", "Efficiency",
        "1 if the platform fell out of use and was abandoned", practical=0.5)
def _platform_abandoned(m):
    return m.platform.abandoned.astype(float)


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

    @property
    def unit_zh(self) -> str:
        return SERIES_UNITS_ZH[self.unit]


def _event(name):
    row = EVENT_INDEX[name]
    return lambda m: m.ledger.today[row]


def _finished_today(k):
    return lambda m: m.ledger.finished_today[:, k]


def _mean_of(group):
    return lambda m: m.satisfaction_by_age[:, group]


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
    Series("satisfaction_all_60plus", "Satisfaction with finished problems, 60+", "60岁及以上已结问题满意度", "0–1",
           "mean judgement of the problems of residents aged 60+ finished so far (unmet ones count); at the end, "
           "the 60+ side of gap_satisfaction_60plus", lambda m: _by_age(m, "satisfaction")[:, OLD]),
    Series("satisfaction_all_under60", "Satisfaction with finished problems, under 60", "60岁以下已结问题满意度", "0–1",
           "mean judgement of the problems of residents under 60 finished so far (unmet ones count)",
           lambda m: _by_age(m, "satisfaction")[:, UNDER60]),
    Series("cost", "Cumulative cost", "累计成本", "million yuan",
           "cumulative cost since day 1 (staff, platform, training, services, incidents)", lambda m: m.ledger.cost / 1e6),
    Series("risk_flags", "Risk flags", "风险预判处置", "problems",
           "problems the risk model flagged as on course to escalate, and staff visited, that day", _event("risk_flags")),
    Series("early_warnings", "Early warnings", "预警处置", "warnings",
           "early warnings on shared data that led to action on a common cause that day", _event("early_warnings")),
    Series("false_alarms", "False alarms", "误报", "warnings", "false early warnings that day (each costs department time)",
           _event("false_alarms")),
    Series("leaks", "Data leaks", "数据泄露", "leaks", "data leaks that became known that day", _event("leaks")),
    Series("duplicate_work", "Duplicate work", "重复处理", "cases",
           "cases handled that day although their cause was already handled", _event("duplicate_work")),
    Series("reported_resolution_rate", "Resolution rate, reported", "解决率（考核上报）", "share",
           "resolution rate of closures so far as the assessment sees them", _reported_resolution_rate),
    Series("true_resolution_rate", "Resolution rate of closures, true", "解决率（办结实际）", "share",
           "true resolution rate of the same closures so far", _true_resolution_rate),
    Series("reported_satisfaction_rate", "Satisfaction rate, reported", "满意率（考核上报）", "0–1",
           "callback satisfaction so far as recorded", _reported_satisfaction_rate),
    Series("true_satisfaction_rate", "Satisfaction of those called back, true", "回访满意度（实际）", "0–1",
           "true satisfaction of the residents called back so far", _true_satisfaction_rate),
    Series("repeat_calls", "Repeat calls", "重复来电", "calls",
           "residents reporting again a problem closed without a fix that day", _event("repeat_calls")),
    Series("gamed", "Gamed closures", "虚假办结", "closures", "closures without a fix gamed that day", _event("gamed")),
    Series("platform_use", "Platform use", "平台使用率", "share", "share of joined department teams using the platform",
           lambda m: m.platform.in_use()),
    Series("platform_quality", "Platform data quality", "平台数据质量", "0–1", "share of the platform's data still current",
           lambda m: m.platform.quality.copy()),
)
# The daily series' units in Chinese (as the metrics' unit_zh), for the view's axes and the figures.
SERIES_UNITS_ZH = {"problems": "件", "reports": "次", "open cases": "件", "0–1": "0–1", "million yuan": "百万元",
                   "warnings": "次", "leaks": "次", "cases": "件", "share": "比例", "calls": "次", "closures": "件"}
SERIES_BY_NAME = {s.name: s for s in SERIES}
DAILY_SERIES = tuple(s.name for s in SERIES)
SERIES_DOC: dict[str, tuple[str, str]] = {s.name: (s.unit, s.description) for s in SERIES}
QUEUE_PREFIX = "queue_"
QUEUE_DOC = ("cases", "cases waiting in the named department's queue at the end of the day")
