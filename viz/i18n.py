"""The page's words in Chinese and English.

Names of metrics and daily series come from their declarations (:mod:`sim.metrics`: ``label`` /
``label_zh``, ``unit`` / ``unit_zh``), shared with the CLI and the brief; only the page's own words (its
buttons and headings) are declared here, once, in both languages.
"""

from __future__ import annotations

import math

from sim.metrics import E_LABELS_ZH, METRIC_BY_NAME, SERIES_BY_NAME

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"

# The page's own words: key -> (English, 中文).
WORDS: dict[str, tuple[str, str]] = {
    "title": ("govsim · grassroots governance sandbox", "govsim · 基层治理沙盘"),
    "day": ("Day", "第"), "day_suffix": ("", "天"), "of_days": ("of {n} planned", "/ 计划 {n} 天"),
    "play": ("Play", "运行"), "pause": ("Pause", "暂停"), "step": ("Step", "单步"), "reset": ("Reset", "重置"),
    "speed": ("speed", "速度"), "days_per_s": ("days/s", "天/秒"), "max_speed": ("as fast as possible", "尽可能快"),
    "scenario": ("scenario", "情景"), "seed": ("seed", "随机种子"), "size": ("residents", "居民人数"),
    "as_in_file": ("as in the scenario", "按情景文件"),
    "run_settings": ("Run (applied on Reset)", "运行设置（重置后生效）"),
    "compare": ("Compare with the unchanged scenario (same seed)", "与未改动的情景对比（同一随机种子）"),
    "now": ("now", "当前"), "unchanged": ("unchanged", "未改动"),
    "map": ("District map", "民情地图"), "colour_by": ("colour by", "着色指标"),
    "map_hint": ("Hover a grid for its figures, click it to inspect it.", "悬停查看网格数据，点击查看详情。"),
    "communities": ("communities", "个社区"), "grids": ("grids", "个网格"), "residents": ("residents", "居民"),
    "cases_chart": ("Problems and cases per day", "每日问题与案件"),
    "mood_chart": ("Satisfaction and trust", "满意度与信任度"),
    "dept_chart": ("Department queues (cases waiting)", "部门待办队列（件）"),
    "outcome_chart": ("Escalations, warnings and risk flags per day", "每日矛盾升级、预警与风险处置"),
    "assessment_chart": ("Assessment: reported and true rates", "考核：上报与实际"),
    "levers": ("Levers", "政策杠杆"), "lever_note": ("A change takes effect from the next day.", "改动自次日起生效。"),
    "apply_to": ("apply to", "作用范围"), "all_communities": ("all communities", "全部社区"),
    "community": ("community", "社区"),
    "changes": ("Changes made", "已做的改动"),
    "no_changes": ("None yet. Move a lever: it is marked on the charts from the next day.",
                   "尚无改动。调整杠杆后，自次日起在图中标注。"),
    "from_day": ("from day {d}", "自第 {d} 天起"),
    "inspect": ("Inspect", "详情"), "grid": ("grid", "网格"), "resident": ("resident", "居民"),
    "inspect_hint": ("Click a grid on the map, or type a grid or resident number.", "在地图上点击网格，或输入网格、居民编号。"),
    "experiment": ("Experiment", "对比实验"),
    "experiment_note": ("Runs the scenario as it is now for each value of one lever, a few seeds each, in the "
                        "background; bands are 95% intervals over the seeds.",
                        "对一个杠杆的几个取值各运行若干随机种子（后台运行），色带为各种子间的95%区间。"),
    "lever": ("lever", "杠杆"), "values": ("values", "取值"), "replications": ("replications", "重复次数"),
    "days": ("days", "天数"), "run_experiment": ("Run experiment", "运行实验"),
    "outcome": ("outcome", "结果指标"), "with_changes": ("with your changes", "含你的改动"),
    "aged_60plus": ("aged 60+", "60岁及以上"), "under_60": ("under 60", "60岁以下"), "yes": ("yes", "是"), "no": ("no", "否"),
    "language": ("language", "语言"),
    "mean_days": ("Mean days to resolution, from need", "平均解决用时（自问题发生）"),
    "open_problems": ("Open problems (reported or not)", "未结问题（含未反映的）"),
    "share_60plus": ("Share aged 60+", "60岁及以上居民占比"),
    "no_data": ("no days yet: press Play or Step", "尚无数据：请点击运行或单步"),
}


def t(key: str, lang: str, **fields) -> str:
    en, zh = WORDS[key]
    text = zh if lang == "zh" else en
    return text.format(**fields) if fields else text


def metric_label(name: str, lang: str) -> str:
    m = METRIC_BY_NAME[name]
    return m.label_zh if lang == "zh" else m.label


def metric_unit(name: str, lang: str) -> str:
    m = METRIC_BY_NAME[name]
    return m.unit_zh if lang == "zh" else m.unit


def e_label(e: str, lang: str) -> str:
    return E_LABELS_ZH[e] if lang == "zh" else e


def series_label(name: str, lang: str) -> str:
    s = SERIES_BY_NAME[name]
    return s.label_zh if lang == "zh" else s.label


def series_unit(name: str, lang: str) -> str:
    s = SERIES_BY_NAME[name]
    return s.unit_zh if lang == "zh" else s.unit


# Decimals by unit, so that every number of one unit reads alike wherever it is shown.
PERCENT_UNITS = {"share"}
DECIMALS = {"0–1": 3, "days": 1, "million yuan": 2, "yuan": 0, "open cases": 0, "count": 0, "cases": 0,
            "per 10k residents per year": 1, "ratio": 2, "per case": 2, "per resident per year": 2}


def fmt_value(value, unit: str) -> str:
    """A value in its unit's format: shares as percentages, the rest with the unit's decimals."""
    if value is None or not math.isfinite(float(value)):
        return "–"
    if unit in PERCENT_UNITS:
        return f"{100 * value:.1f}%"
    d = DECIMALS.get(unit, 2)
    return f"{value:,.{d}f}"


def fmt_metric(name: str, value, lang: str) -> tuple[str, str]:
    """(number, unit) of a metric as the page shows it; a share's unit is the % sign in the number."""
    m = METRIC_BY_NAME[name]
    unit = "" if m.unit in PERCENT_UNITS or m.unit == "0–1" else metric_unit(name, lang)
    return fmt_value(value, m.unit), unit
