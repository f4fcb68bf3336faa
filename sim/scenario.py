"""The scenario schema: the one source of truth for every model parameter.

Every parameter is declared once, here, with its default, bounds, unit, a one-line description and the
source of the default (``A`` marks a modelling assumption with no published figure; see
``docs/ODD.md``). The CLI (``govsim params``, ``--set``), the experiment files (factor paths and
bounds) and the Solara sliders are all derived from this module, so they can never disagree.

A scenario file is YAML with the sections below; it may name a base file (``extends: baseline.yaml``)
and state only its differences. :func:`load_scenario` turns a file plus ``--set`` overrides into one
validated, frozen :class:`Scenario`; every problem with the input becomes one :class:`ScenarioError`
that names the field and the allowed values.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

def _shipped_dir(name: str) -> Path:
    """A folder of shipped files: the source checkout's (scenarios/, experiments/ beside sim/), or
    the installed wheel's copy (the package govsim_data.<name>)."""
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    from importlib.util import find_spec
    spec = find_spec(f"govsim_data.{name}")   # a namespace package (a folder of data files)
    return Path(next(iter(spec.submodule_search_locations))) if spec else checkout


SCENARIO_DIR = _shipped_dir("scenarios")
EXPERIMENT_DIR = _shipped_dir("experiments")


class ScenarioError(ValueError):
    """Bad scenario input: the message names the field and the allowed values."""


def P(default, lo=None, hi=None, unit: str = "", desc: str = "", source: str = "A", typical=None, zh: str = "", *,
      label: str = "", unit_zh: str = ""):
    """A parameter: default, inclusive bounds, unit, description and the source of its default.

    ``typical`` is the plausible range (from DOMAIN.md where published) used as the default range of
    a sensitivity analysis; it defaults to the bounds. ``zh`` is its short Chinese label (a lever that
    is not a P(), such as a switch, puts it in ``json_schema_extra={"zh": ...}`` itself). ``label`` and
    ``unit_zh``: a short English name and the Chinese unit, for briefs and sentences (the levers and
    main uncertainties).
    """
    extra = {"unit": unit, "source": source, "zh": zh, **({"label": label, "unit_zh": unit_zh} if label else {})}
    if typical is not None:
        extra["typical"] = list(typical)
    return Field(default, ge=lo, le=hi, description=desc, json_schema_extra=extra)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
    title_zh: ClassVar[str] = ""   # every section states its Chinese title (tests/test_labels.py)


# --------------------------------------------------------------------------------------------------
class RunSettings(Section):
    title_zh: ClassVar[str] = "运行设置"
    steps: int = P(365, 1, 3650, "days", "days simulated (one step is one day)", zh="模拟天数")
    replications: int = P(10, 1, 10_000, "runs", "replications with seeds derived from `seed`", zh="重复次数")
    seed: int = P(20261122, 0, 2**32 - 1, "", "root seed of every random stream", zh="随机种子")
    first_replication: int = P(0, 0, 2**53, "", "index k of the first replication (replication k runs with a seed "
                               "derived from `seed` and k alone: a sweep row re-runs with its k)", zh="首个重复的编号")


class CommunityProfile(Section):
    """What a community is like: any field left out comes from its kind, then from `population`."""
    title_zh: ClassVar[str] = "社区画像"
    share_60plus: float | None = P(None, 0.0, 1.0, "fraction", "share of residents aged 60+", zh="60岁以上居民占比")
    app_literacy_60plus: float | None = P(None, 0.0, 1.0, "probability", "chance a resident aged 60+ can file through an app", zh="60岁以上居民会用App比例")
    app_literacy_under60: float | None = P(None, 0.0, 1.0, "probability", "chance a resident under 60 can file through an app", zh="60岁以下居民会用App比例")
    phone_access: float | None = P(None, 0.0, 1.0, "probability", "chance a resident can call the hotline", zh="能拨打12345热线比例")
    household_size: float | None = P(None, 1.0, 6.0, "persons", "mean household size", zh="户均人口")
    households_per_building: int | None = P(None, 1, 400, "households", "households per building (楼栋)", zh="每栋楼户数")
    grids: int | None = P(None, 1, 20, "", "grids (网格) in the community", zh="社区网格数")
    residents_per_grid: int | None = P(None, 10, 5000, "residents", "residents per grid", zh="每网格居民数")
    grid_workers_per_grid: float | None = P(None, 0.0, 10.0, "workers", "grid workers per grid (the lever's starting value)", zh="每网格网格员数")
    grid_worker_hours: float | None = P(None, 0.0, 16.0, "hours per day", "working hours of a grid worker (starting value)", zh="网格员日工作时长")
    initial_trust: float | None = P(None, 0.0, 1.0, "0–1", "mean initial trust in government of its residents", zh="初始政府信任度")
    demand_factor: float | None = P(None, 0.0, 10.0, "×", "its residents' problem rate relative to "
                                    "`demand.problems_per_resident_year` (old facilities, density, property management)", zh="诉求发生倍数")
    travel_hours: float | None = P(None, 0.0, 24.0, "work-hours", "extra work a department visit to one of its cases "
                                   "needs (travel from the subdistrict's offices)", zh="部门上门路程工时")
    community_capacity_per_10k: float | None = P(None, 0.0, 1000.0, "cases per day per 10,000 residents",
                                                 "small matters its own staff (居委会/村委会, 社区工作站) settle a day, "
                                                 "per 10,000 of its residents (小事不出社区)", zh="社区自办能力")


class CommunityKind(CommunityProfile):
    """A kind of community (housing type) and its typical profile."""
    title_zh: ClassVar[str] = "社区类型"
    description: str = Field("", description="what the kind is")
    source: str = Field("A", description="where the profile comes from")


class CommunitySpec(CommunityProfile):
    """One community of the district, listed explicitly."""
    title_zh: ClassVar[str] = "社区"
    name: str = Field("", description="the community's name (社区)")
    kind: str | None = Field(None, description="its kind (a key of `population.community_kinds`), filling fields left out")
    subdistrict: int = P(0, 0, 1000, "", "index of the subdistrict (街道) it belongs to", zh="所属街道编号")
    polygon: list[tuple[float, float]] | None = Field(
        None, description="its outline on the district map: [[x, y], ...] in any planar unit (no map tiles needed)")


def _default_kinds() -> dict[str, CommunityKind]:
    k = CommunityKind
    return {
        "old_inner_city": k(
            description="老城区老旧小区: old low-rise walk-ups in the inner city, many elderly residents living alone",
            share_60plus=0.40, app_literacy_60plus=0.20, app_literacy_under60=0.80, phone_access=0.97,
            household_size=2.3, households_per_building=18, grids=4, residents_per_grid=1200, initial_trust=0.62,
            demand_factor=1.2, travel_hours=0.0, community_capacity_per_10k=3.0,
            source="60+ share: >0.40 in old inner-city areas (Shanghai 2022; Beijing Dongcheng, Xicheng); "
                   "app use 60+: CNNIC 49th report (2021) 0.43 internet use, below average in old areas (A); size: A; "
                   "demand 1.2×: ageing facilities without property management (老旧小区改造 is a top 12345 topic, A); "
                   "own capacity 3 a day per 10,000: a long-settled residents' committee with building heads (楼门长) and "
                   "retired volunteers (A)"),
        "commodity_estate": k(
            description="商品房小区: a newer commodity-housing estate of high-rises, young families, property management",
            share_60plus=0.12, app_literacy_60plus=0.45, app_literacy_under60=0.92, phone_access=0.98,
            household_size=2.8, households_per_building=120, grids=5, residents_per_grid=1500, initial_trust=0.60,
            demand_factor=0.8, travel_hours=0.0, community_capacity_per_10k=0.5,
            source="60+ share: 2020 census, urban 15.8% (younger in new estates, A); app use: CNNIC 2021 (A for the split); "
                   "demand 0.8×: property management absorbs repairs (A); own capacity 0.5: a thin residents' committee "
                   "for a large, young population that knows it little (A)"),
        "urban_village": k(
            description="城中村: an urban village of rented rooms, migrant workers, dense small buildings",
            share_60plus=0.08, app_literacy_60plus=0.25, app_literacy_under60=0.75, phone_access=0.95,
            household_size=2.2, households_per_building=10, grids=4, residents_per_grid=1000, initial_trust=0.50,
            grid_workers_per_grid=1.0, demand_factor=1.3, travel_hours=0.0, community_capacity_per_10k=0.3,
            source="A (migrant population is young; lower digital and institutional access; trust lower; "
                   "demand 1.3×: dense rented rooms, safety hazards and disputes; one grid worker for a floating population "
                   "that staffing norms do not count; own capacity 0.3: the committee's staff are set by the registered "
                   "population, not the floating one)"),
        "rural_village": k(
            description="农村社区: a rural village of houses, ageing and partly hollowed out",
            share_60plus=0.30, app_literacy_60plus=0.10, app_literacy_under60=0.60, phone_access=0.92,
            household_size=3.0, households_per_building=2, grids=3, residents_per_grid=650, initial_trust=0.62,
            grid_workers_per_grid=1.0, demand_factor=0.8, travel_hours=3.0, community_capacity_per_10k=2.5,
            source="60+ share: 2020 census, rural 23.8% and higher in hollowed villages; internet use: CNNIC 2021, rural 0.58; "
                   "grid size and one worker per grid: Shandong 2020 (~650); demand 0.8× and 3 h travel per department "
                   "visit from the township: A; own capacity 2.5: the village committee and its mediation committee settle "
                   "village matters themselves (村民自治), far from the departments (A)"),
    }


def department_label(key: str, spec: "DepartmentSpec | None", lang: str) -> str:
    """A department's name for people: its declared Chinese name in Chinese, else its key in words."""
    if lang == "zh" and spec is not None and spec.name_zh:
        return spec.name_zh
    return key.replace("_", " ")


def kind_label(kind: str, lang: str, description: str | None = None) -> str:
    """A community kind's name for people: in Chinese, the name that opens its description (the shipped
    kind's, unless the scenario's is given: "城中村: an urban village …" → 城中村), else its key."""
    if description is None:
        shipped = _default_kinds().get(kind)
        description = shipped.description if shipped else ""
    zh, sep, _ = description.partition(":")
    if lang == "zh" and sep and zh.strip():
        return zh.strip()
    return kind.replace("_", " ")


class Population(Section):
    title_zh: ClassVar[str] = "人口与区划"
    subdistricts: int = P(1, 1, 500, "", "subdistricts (街道) simulated; each has its own governance centre",
                          "Beijing has 343 subdistricts and townships (街乡镇), Shanghai 215: up to 500 fits a megacity",
                          typical=(1, 20), zh="街道数")
    communities_per_subdistrict: int = P(
        2, 1, 40, "",
        "communities (社区) simulated per subdistrict; a real subdistrict has 12 (8–20)",
        "Dongcheng 2010 (12 per subdistrict); a smaller default keeps runs fast", typical=(1, 20), zh="每街道社区数")
    grids_per_community: int = P(4, 1, 20, "", "grids (网格) per community", "Dongcheng 2010 (2.9); Wuhan 2020 (~4.6)",
                                 typical=(3, 5), zh="每社区网格数")
    residents_per_grid: int = P(1000, 10, 5000, "residents", "residents per grid",
                                "Pei 2021; Shandong 2020 (~650); Wuhan 2020 (~890); Dongcheng 2010 (~1,560)",
                                typical=(650, 1600), zh="每网格居民数")
    household_size: float = P(2.62, 1.0, 6.0, "persons", "mean household size", "2020 census (2.62)",
                              typical=(2.3, 3.2), zh="户均人口")
    households_per_building: int = P(24, 2, 400, "households", "households per building (楼栋)", typical=(12, 60), zh="每栋楼户数")
    share_60plus: float = P(0.22, 0.0, 1.0, "fraction", "share of residents aged 60+",
                            "NBS 2024 (0.22); Shanghai 2022; >0.40 in old inner-city areas", typical=(0.15, 0.40),
        label="share aged 60+", zh="60岁及以上居民占比", unit_zh="比例")
    app_literacy_60plus: float = P(0.25, 0.0, 1.0, "probability", "chance a resident aged 60+ can file through an app",
                                   "derived from CNNIC 49th report (2021): 0.2–0.3", typical=(0.2, 0.6),
        label="app literacy of residents aged 60+", zh="60岁以上居民能用App反映的概率", unit_zh="概率")
    app_literacy_under60: float = P(0.85, 0.0, 1.0, "probability", "chance a resident under 60 can file through an app",
                                    "A (CNNIC: internet use ~0.75–0.9 below 60)", typical=(0.7, 0.95), zh="60岁以下居民会用App比例")
    phone_access: float = P(0.97, 0.0, 1.0, "probability", "chance a resident can call the hotline", typical=(0.9, 1.0), zh="能拨打12345热线比例")
    communities: list[CommunitySpec] | None = Field(
        None, description="the communities listed one by one (overrides the counts above); each may differ in size, "
                          "age, literacy, phone access and grid staffing")
    mix: dict[str, float] | None = Field(
        None, description="generate the communities from kinds: weights by kind (e.g. {old_inner_city: 1, "
                          "commodity_estate: 2}); subdistricts × communities_per_subdistrict communities in all")
    community_kinds: dict[str, CommunityKind] = Field(default_factory=_default_kinds,
                                                      description="profiles of the kinds of community, keyed by name")


class Network(Section):
    title_zh: ClassVar[str] = "邻里社会网络"
    neighbours: int = P(6, 2, 40, "ties", "ties per resident in the within-grid small-world ring (even)", typical=(4, 12), zh="每人邻里关系数")
    rewire: float = P(0.1, 0.0, 1.0, "probability", "Watts–Strogatz rewiring probability within the grid",
                      "Watts & Strogatz 1998 (small-world regime 0.01–0.2)", typical=(0.01, 0.3), zh="小世界重连概率")
    cross_grid_share: float = P(0.05, 0.0, 1.0, "fraction", "share of ties rewired to residents of other grids",
                                typical=(0.0, 0.2), zh="跨网格关系占比")
    word_of_mouth: float = P(0.3, 0.0, 1.0, "weight",
                             "how strongly a neighbour's service experience moves a resident's trust, relative to one's own",
                             typical=(0.0, 0.6), zh="口碑影响权重")
    conversations_per_day: float = P(0.2, 0.0, 5.0, "per resident per day",
                                     "conversations about government per resident per day (bounded-confidence exchange)",
                                     typical=(0.0, 1.0), zh="每日议政交谈次数")
    confidence_bound: float = P(0.3, 0.0, 1.0, "trust units", "Deffuant ε: residents whose trust differs by more do not influence each other",
                                "Deffuant et al. 2000 (ε ∈ [0.1, 0.5] typical)", typical=(0.1, 0.5), zh="有限信任阈值ε")
    convergence: float = P(0.2, 0.0, 0.5, "fraction", "Deffuant μ: how far two residents move toward each other",
                           "Deffuant et al. 2000 (μ ≤ 0.5)", typical=(0.05, 0.5), zh="观点趋同速度μ")


class CategorySpec(Section):
    title_zh: ClassVar[str] = "诉求类别"
    share: float = P(0.1, 0.0, 1.0, "weight", "relative frequency of the category (weights are normalised)", zh="类别占比权重")
    departments: list[str] = Field(
        description="responsible departments: the first is primary; a multi-department case also needs one of the others")
    severity: float = P(0.4, 0.0, 1.0, "0–1", "initial severity (hardship) of a problem of this category", zh="初始严重程度")
    deadline_days: float = P(7.0, 0.05, 60.0, "days", "service deadline",
                             "Beijing practice: emergency 2 h, utilities 24 h, general 7 d, complex 15 d", zh="办理时限")
    settle_on_spot: bool = Field(False, description="a grid worker can mediate it on the spot (small disputes)", json_schema_extra={"zh": "网格员可就地调解"})
    community_settles: bool = Field(False, description="a small matter of the category can be settled by the community's "
                                    "own staff (小事不出社区: mediation, welfare services, the compound's environment)",
                                    json_schema_extra={"zh": "社区可自办"})
    service_hours: float = P(4.0, 0.05, 200.0, "work-hours",
                             "mean department work a case of the category needs at one department (a visit)",
                             "A, calibrated with department staffing to 2 cases per staff-day (8 h)", typical=(2, 8), zh="单件办理工时")
    service_cv: float = P(1.0, 0.0, 5.0, "sd / mean", "spread of the work a case needs (coefficient of variation)",
                          "A (1 = exponential)", typical=(0.5, 1.5), zh="办理工时离散度")
    service_distribution: Literal["exponential", "gamma", "lognormal"] = Field(
        "gamma", description="distribution of the work a case needs (gamma with cv 1 is exponential)", json_schema_extra={"zh": "办理工时分布"})

    @field_validator("departments")
    @classmethod
    def _non_empty(cls, v):
        if not v:
            raise ValueError("needs at least one responsible department")
        return v


def _default_categories() -> dict[str, CategorySpec]:
    # Shares: Beijing 12345 annual report 2020, all contacts; "epidemic" (9.8%, a 2020 special) is left
    # to the epidemic shock, and "other" (44.7%) is split between city environment and welfare/other.
    # community_settles: the matters a residents' or villagers' committee handles itself by law (Organic Law
    # of Urban Residents' Committees 1989, art. 3: mediating civil disputes, public welfare and relief,
    # public health; Organic Law of Villagers' Committees, art. 2).
    c = CategorySpec
    return {
        "market": c(share=0.089, departments=["market_supervision", "urban_management"], severity=0.3),
        "utilities": c(share=0.059, departments=["housing_construction", "urban_management"], severity=0.5, deadline_days=1.0),
        "housing_property": c(share=0.055, departments=["housing_construction", "civil_affairs"], severity=0.4),
        "health": c(share=0.054, departments=["health", "civil_affairs"], severity=0.5),
        "construction": c(share=0.050, departments=["urban_management", "housing_construction"], severity=0.4),
        "traffic_parking": c(share=0.043, departments=["transport", "public_security"], severity=0.3),
        "disputes": c(share=0.042, departments=["public_security", "civil_affairs"], severity=0.6, settle_on_spot=True,
                      community_settles=True),
        "labour": c(share=0.032, departments=["human_resources", "market_supervision"], severity=0.5, deadline_days=15.0),
        "education": c(share=0.032, departments=["education", "civil_affairs"], severity=0.3, deadline_days=15.0),
        "city_environment": c(share=0.250, departments=["urban_management", "housing_construction"], severity=0.3,
                              community_settles=True),
        "welfare": c(share=0.100, departments=["civil_affairs", "health"], severity=0.4, community_settles=True),
        "other": c(share=0.097, departments=["civil_affairs", "urban_management"], severity=0.3, deadline_days=15.0),
    }


class Demand(Section):
    title_zh: ClassVar[str] = "诉求产生"
    problems_per_resident_year: float = P(
        0.36, 0.0, 10.0, "per resident per year",
        "problems and demands (诉求) that arise, reported or not; calibrated so that dispatched cases ≈ 0.3",
        "A, calibrated to dispatched demands 0.3 (0.2–0.5) per resident-year: Beijing 2020 (0.21), Dongcheng 2024 (~0.47)",
        typical=(0.3, 0.8),
        label="demand", zh="问题发生率", unit_zh="件/人/年")
    consultation_share: float = P(0.58, 0.0, 0.95, "fraction", "share of hotline contacts that are consultations answered on the call",
                                  "Beijing 2019–21", typical=(0.5, 0.75), zh="热线咨询类占比")
    categories: dict[str, CategorySpec] = Field(default_factory=_default_categories,
                                            description="problem categories, keyed by name")
    multi_department_share: float = P(0.15, 0.0, 1.0, "fraction", "share of problems needing more than one department",
                                      "A (0.10–0.20)", typical=(0.10, 0.20), zh="多部门诉求占比")
    duplicate_share: float = P(0.15, 0.0, 0.9, "fraction", "share of problems that are one shared cause seen by several neighbours",
                               "A (0.10–0.30)", typical=(0.10, 0.30), zh="同源重复诉求占比")
    shared_cause_size: float = P(4.0, 2.0, 50.0, "residents", "mean residents of a building hit by one shared cause", typical=(2, 10), zh="同源问题波及居民数")
    shared_cause_spread_days: float = P(5.0, 0.1, 60.0, "days", "mean delay before a shared cause hits each further resident",
                                        typical=(1, 15), zh="同源问题扩散间隔")
    report_propensity: float = P(0.75, 0.0, 1.0, "probability", "chance a resident with trust 0.5 reports a problem at all",
                                 typical=(0.5, 0.9), zh="居民反映问题倾向")
    report_trust_slope: float = P(0.6, 0.0, 2.0, "per trust unit", "how much higher the chance to report is per unit of trust",
                                  "A (silence is likelier when trust is low)", typical=(0.2, 1.0),
        label="effect of trust on reporting", zh="信任对反映意愿的影响", unit_zh="每单位信任")
    report_delay_days: float = P(1.5, 0.0, 30.0, "days", "mean delay between a problem and its report", typical=(0.5, 5), zh="发现到反映的延迟")
    patience_days: float = P(60.0, 1.0, 365.0, "days", "an unreported, undiscovered problem is abandoned after this long",
                             typical=(30, 120), zh="未反映问题放弃期限")
    severity_growth: float = P(0.01, 0.0, 0.2, "per day", "relative daily growth of an unresolved problem's severity",
                               "A (矛盾升级: unsettled problems grow)", typical=(0.005, 0.03), zh="矛盾日升级率")
    escalation_threshold: float = P(0.45, 0.0, 2.0, "grievance", "grievance H·(1−L) above which a problem escalates (Epstein's T)",
                                    "A, in the spirit of Epstein 2002", typical=(0.35, 0.6),
        label="escalation threshold", zh="矛盾升级阈值", unit_zh="怨气值")
    escalation_threshold_spread: float = P(
        0.4, 0.0, 1.0, "fraction",
        "problems differ in how easily they escalate: each problem's threshold is the threshold × U(1 − spread, 1 + spread)",
        "A", typical=(0.2, 0.6), zh="激化阈值个体差异")

    @model_validator(mode="after")
    def _shares(self):
        if sum(c.share for c in self.categories.values()) <= 0:
            raise ValueError("the category shares must not all be zero")
        return self


class ChannelSpec(Section):
    title_zh: ClassVar[str] = "诉求渠道"
    enabled: bool = Field(True, description="the channel accepts problem reports", json_schema_extra={"zh": "渠道受理诉求"})
    filing_delay_days: float = P(0.5, 0.0, 30.0, "days", "delay from report to a case on the centre's desk", zh="受理立案延迟")
    detail: float = P(0.8, 0.0, 1.0, "0–1", "share of the case's detail the channel captures", zh="诉求信息完整度")
    weight_under60: float = P(1.0, 0.0, 100.0, "weight", "preference of residents under 60 among channels they can use", zh="60岁以下居民渠道偏好")
    weight_60plus: float = P(1.0, 0.0, 100.0, "weight", "preference of residents aged 60+ among channels they can use", zh="60岁以上居民渠道偏好")


class Channels(Section):
    # Weights reproduce the Beijing 2020 mix (phone 0.91, online 0.09) for literate residents.
    title_zh: ClassVar[str] = "诉求渠道（12345热线、App、窗口、网格员）"
    hotline: ChannelSpec = ChannelSpec(filing_delay_days=0.5, detail=0.7, weight_under60=9.0, weight_60plus=9.0)
    app: ChannelSpec = ChannelSpec(filing_delay_days=0.2, detail=0.8, weight_under60=1.0, weight_60plus=1.0)
    window: ChannelSpec = ChannelSpec(filing_delay_days=1.0, detail=0.85, weight_under60=0.3, weight_60plus=1.5)
    grid_worker: ChannelSpec = ChannelSpec(filing_delay_days=0.5, detail=0.9, weight_under60=0.3, weight_60plus=1.0)
    window_reach_60plus: float = P(0.5, 0.0, 1.0, "probability", "chance a resident aged 60+ can get to the walk-in window",
                                   typical=(0.3, 0.8), zh="60岁以上居民可达窗口比例")
    window_reach_under60: float = P(0.3, 0.0, 1.0, "probability", "chance a resident under 60 can get to the walk-in window (hours)",
                                    typical=(0.1, 0.6), zh="60岁以下居民可达窗口比例")
    grid_worker_reach: float = P(0.3, 0.0, 1.0, "probability", "chance a resident knows and can reach the grid worker to report",
                                 typical=(0.1, 0.6), zh="居民能找到网格员比例")
    elder_hotline_delay_factor: float = P(
        0.5, 0.0, 1.0, "× filing delay",
        "with elder-friendly service, the filing delay of a hotline report by a resident aged 60+ (priority line)",
        "A", typical=(0.25, 1.0), zh="适老化热线立案延迟倍数")


class DepartmentSpec(Section):
    title_zh: ClassVar[str] = "职能部门"
    staff_per_10k: float = P(1.0, 0.0, 1000.0, "staff per 10,000 residents",
                             "case handlers working on residents' cases, per 10,000 residents of each subdistrict they serve", zh="每万人办件人员数")
    joined: bool = Field(False, description="joined to the shared data platform regardless of `policies.share_joined`", json_schema_extra={"zh": "已接入数据共享平台"})
    name_zh: str = Field("", max_length=40, description="its name in Chinese, for the view and the brief (the key when empty)",
                         json_schema_extra={"zh": "中文名称"})


def _default_departments() -> dict[str, DepartmentSpec]:
    # Order = joining order for `policies.share_joined` (largest caseload first). Staffing is set so that
    # the baseline runs at ~85–90% utilisation, leaving queues (see docs/ODD.md, calibration).
    d = DepartmentSpec
    return {
        "urban_management": d(staff_per_10k=2.2, name_zh="城市管理"), "civil_affairs": d(staff_per_10k=1.4, name_zh="民政"),
        "housing_construction": d(staff_per_10k=1.15, name_zh="住房城乡建设"),
        "market_supervision": d(staff_per_10k=0.65, name_zh="市场监管"),
        "health": d(staff_per_10k=0.55, name_zh="卫生健康"), "public_security": d(staff_per_10k=0.4, name_zh="公安"),
        "transport": d(staff_per_10k=0.4, name_zh="交通运输"), "human_resources": d(staff_per_10k=0.3, name_zh="人力资源社会保障"),
        "education": d(staff_per_10k=0.35, name_zh="教育"),
    }


class Staffing(Section):
    title_zh: ClassVar[str] = "人员配置"
    grid_workers_per_grid: float = P(1.7, 0.0, 10.0, "workers", "grid workers per grid, full- and part-time",
                                     "Shandong 2020 (269k workers / 157k grids); Dongcheng 2015 (~1.6)", typical=(1.0, 2.0),
        label="grid workers per grid", zh="每网格网格员数", unit_zh="人")
    grid_worker_hours: float = P(8.0, 0.0, 16.0, "hours per day", "working hours of a grid worker per day", typical=(6, 10), zh="网格员日工作时长")
    households_per_patrol_hour: float = P(4.0, 0.0, 50.0, "households", "households a grid worker visits per patrol hour",
                                          typical=(2, 8), zh="每巡查小时走访户数")
    departments: dict[str, DepartmentSpec] = Field(default_factory=_default_departments,
                                               description="departments (职能部门), keyed by name; every subdistrict "
                                                           "is served by its own team of each")
    department_hours: float = P(8.0, 0.1, 24.0, "hours per day", "hours a department's case handler works on cases a day",
                                typical=(6, 9), zh="部门办件人员日工时")
    overtime_max_share: float = P(0.0, 0.0, 1.0, "fraction",
                                  "surge capacity: extra hours (share of normal hours) a department works on a day its "
                                  "waiting work exceeds `surge_trigger_days`", "A", typical=(0.0, 0.5), zh="加班最大比例")
    mutual_aid_share: float = P(0.0, 0.0, 1.0, "fraction",
                                "surge capacity: share of its hours a department with little waiting work lends to "
                                "overloaded departments of its subdistrict", "A", typical=(0.0, 0.3), zh="部门间支援比例")
    surge_trigger_days: float = P(2.0, 0.1, 60.0, "days of work",
                                  "waiting work, in days of a department's normal capacity, above which it is overloaded "
                                  "(overtime, borrowing staff); below a quarter of it, it can lend staff", "A", typical=(1, 5), zh="积压超载阈值")
    community_capacity_per_10k: float = P(
        0.0, 0.0, 1000.0, "cases per day per 10,000 residents",
        "small matters a community's own staff (居委会/村委会, 社区工作站) settle themselves a day, per 10,000 residents, "
        "instead of passing them to the departments (小事不出社区); a community or its kind may set its own",
        "A (0: the calibrated baseline passes every case to the departments; the community kinds set their own. For "
        "scale, the 14th five-year plan for urban and rural community services (2021) aims at 18 community workers per "
        "10,000 urban residents)",
        typical=(0.0, 3.0), zh="社区自办能力", label="community's own capacity", unit_zh="件/日/万人")


class Policies(Section):
    title_zh: ClassVar[str] = "治理政策"
    share_joined: float = P(0.0, 0.0, 1.0, "fraction", "share of departments joined to the shared data platform (largest first)",
        label="share of departments on the shared platform", zh="接入共享平台的部门比例", unit_zh="比例")
    duplicate_merging: bool = Field(False, description="the platform merges duplicate reports of one cause into one case", json_schema_extra={"zh": "重复诉求合并"})
    deadline_tracking: bool = Field(False, description="the platform tracks deadlines: departments serve earliest deadline first", json_schema_extra={"zh": "办理时限督办"})
    early_warning: bool = Field(False, description="clusters of related reports on shared data trigger action on the common cause", json_schema_extra={"zh": "聚集诉求预警"})
    early_warning_threshold: int = P(3, 2, 50, "reports", "reports of one building and category that trigger a warning",
                                     typical=(2, 6), zh="预警触发诉求数")
    false_alarm_rate: float = P(0.01, 0.0, 1.0, "per grid per day", "false early warnings per grid per day", typical=(0.0, 0.05), zh="误报预警率")
    false_alarm_hours: float = P(4.0, 0.0, 80.0, "work-hours", "department work a false alarm costs", typical=(1, 16), zh="误报处置工时")
    warning_action_hours: float = P(4.0, 0.0, 80.0, "work-hours",
                                    "department work of acting on a common cause flagged by early warning", "A", typical=(2, 8), zh="预警处置工时")
    whistle_and_report: bool = Field(False, description="吹哨报到: multi-department cases are worked jointly within a deadline",
        json_schema_extra={"label": "whistle-and-report", "zh": "吹哨报到"})
    whistle_turnout_hours: float = P(1.5, 0.0, 40.0, "work-hours",
                                     "work each called department spends turning up for a whistled case (吹哨报到), "
                                     "charged where and when whistles are blown", "A", typical=(0.5, 4.0), zh="吹哨报到每部门工时")
    joint_deadline_days: float = P(3.0, 0.5, 30.0, "days", "deadline for departments to act jointly (platform or whistle)",
                                   typical=(1, 7), zh="联合办理时限")
    patrol_intensity: float = P(0.3, 0.0, 1.0, "fraction", "share of grid workers' hours spent on proactive patrol",
                                typical=(0.1, 0.6),
        label="patrol intensity", zh="巡查强度", unit_zh="比例")
    training_level: float = P(0.3, 0.0, 1.0, "0–1", "training of grid workers and case handlers", typical=(0.0, 1.0),
        label="training level", zh="培训水平", unit_zh="0–1")
    elder_friendly: bool = Field(False, description="适老化: assisted reporting, a priority hotline and windows for residents aged 60+",
        json_schema_extra={"label": "elder-friendly service", "zh": "适老化服务"})
    app_first: bool = Field(False, description="problem reports only through the app (hotline and window stop taking them)",
        json_schema_extra={"label": "app-first reporting", "zh": "仅限App反映"})
    privacy_safeguards: float = P(0.5, 0.0, 1.0, "0–1", "encryption, negative list of data not shared, audits", typical=(0.0, 1.0), zh="隐私保护措施")
    on_platform: bool = Field(True, description="the community's cases go through the shared platform (with the "
                                                "departments that joined it); false keeps a community off a pilot", json_schema_extra={"zh": "社区接入共享平台"})
    risk_prediction: bool = Field(False, description="前瞻预判: a risk model on shared data flags individual problems "
                                                     "likely to escalate, and staff visit them", json_schema_extra={"zh": "前瞻预判"})
    risk_recall: float = P(0.6, 0.0, 1.0, "share", "share of problems on course to escalate within the horizon that the "
                           "risk model flags", "A (published risk models of disputes report 0.5–0.8)", typical=(0.3, 0.9), zh="风险模型查全率")
    risk_precision: float = P(0.3, 0.01, 1.0, "share", "share of the risk model's flags that are problems on course to "
                              "escalate (the rest are false flags, which cost staff time too)", "A", typical=(0.1, 0.6), zh="风险模型查准率")
    risk_horizon_days: float = P(14.0, 1.0, 120.0, "days", "how far ahead the risk model looks", "A", typical=(7, 30), zh="风险预测期")
    risk_flag_hours: float = P(2.0, 0.0, 40.0, "work-hours", "grid-worker hours of visiting one flagged problem (taken from the next day's patrol)", "A",
                               typical=(1, 4), zh="风险走访工时")
    risk_mitigation: float = P(0.5, 0.0, 1.0, "fraction", "how much a visit lowers a flagged problem's hardship "
                               "(mediation, support for an elderly resident living alone)", "A", typical=(0.3, 0.8), zh="走访化解程度")


class Routing(Section):
    title_zh: ClassVar[str] = "派单与办理"
    misroute_base: float = P(0.2, 0.0, 1.0, "probability", "chance the centre first routes a case to the wrong department (untrained, silo)",
                             typical=(0.1, 0.3), zh="派错部门概率")
    misroute_training_cut: float = P(0.5, 0.0, 1.0, "fraction", "misrouting cut by full training", typical=(0.3, 0.8), zh="培训降低派错比例")
    misroute_sharing_cut: float = P(0.5, 0.0, 1.0, "fraction", "misrouting cut when the department is on the shared platform",
                                    typical=(0.3, 0.8), zh="数据共享降低派错比例")
    handoff_delay_min: float = P(2.0, 0.0, 30.0, "days", "least extra delay of a hand-off between silos", "A (2–5 days)", zh="部门转办最短延迟")
    handoff_delay_max: float = P(5.0, 0.0, 60.0, "days", "greatest extra delay of a hand-off between silos", "A (2–5 days)", zh="部门转办最长延迟")
    platform_delay_share: float = P(0.38, 0.0, 1.0, "fraction", "hand-off delay left on the shared platform",
                                    "Shanghai 一网通办 2021: −62% processing time", typical=(0.2, 0.6), zh="共享平台转办延迟留存比例")
    detail_loss_per_handoff: float = P(0.15, 0.0, 1.0, "fraction", "detail lost at each hand-off between silos (信息递减)",
                                       typical=(0.05, 0.3), zh="每次转办信息递减")
    bounce_probability: float = P(0.25, 0.0, 0.95, "probability", "chance a silo hand-off bounces back (推诿扯皮)", typical=(0.1, 0.4), zh="推诿退单概率")
    max_bounces: int = P(2, 0, 20, "bounces", "a case is bounced back between departments at most this often (推诿扯皮)",
                         "A", typical=(1, 4), zh="最多退单次数")
    joint_work: float = P(1.5, 1.0, 5.0, "visits",
                          "work of a case worked jointly by two departments, charged to the lead (its visit plus the partner's half)",
                          "A", typical=(1.2, 2.0), zh="联合办理工作量")
    fix_base: float = P(0.55, 0.0, 1.0, "probability", "chance a case handled with full detail by untrained staff is truly resolved",
                        "A, calibrated to the 2019 resolution rate 0.53 (Beijing)", typical=(0.4, 0.8), zh="实际解决基础概率")
    fix_training_gain: float = P(0.3, 0.0, 1.0, "probability", "added chance of a real fix with full training", typical=(0.1, 0.5), zh="培训提升解决概率")
    fix_detail_floor: float = P(0.4, 0.0, 1.0, "fraction",
                                "chance of a real fix with no detail left, relative to a case with full detail (信息递减)",
                                "A", typical=(0.2, 0.7), zh="信息缺失时解决概率下限")
    on_spot_settle_base: float = P(0.3, 0.0, 1.0, "probability", "chance an untrained grid worker settles a small dispute on the spot",
                                   typical=(0.1, 0.5), zh="网格员就地调解概率")
    on_spot_training_gain: float = P(0.4, 0.0, 1.0, "probability", "added chance with full training", typical=(0.1, 0.6), zh="培训提升调解概率")
    community_fix: float = P(0.8, 0.0, 1.0, "probability", "chance a small matter the community's own staff settle is "
                             "truly resolved (staff who know the residents, the whole detail, no hand-offs)",
                             "A (people's mediation committees report success rates above 0.9, a self-reported upper bound)",
                             typical=(0.6, 0.95), zh="社区自办实际解决概率")
    community_days: float = P(1.0, 0.01, 60.0, "days", "mean days the community's own staff take to settle a small matter "
                              "(exponential)", "A", typical=(0.5, 3.0), zh="社区自办天数")
    discovery_base: float = P(0.5, 0.0, 1.0, "probability", "chance an untrained grid worker visiting a household notices its problem",
                              typical=(0.3, 0.8), zh="网格员入户发现问题概率")
    discovery_training_gain: float = P(0.4, 0.0, 1.0, "probability", "added chance with full training", typical=(0.1, 0.5), zh="培训提升发现概率")


class Residents(Section):
    title_zh: ClassVar[str] = "居民"
    initial_trust: float = P(0.6, 0.0, 1.0, "0–1", "mean initial trust in government", typical=(0.4, 0.8), zh="初始政府信任度")
    trust_spread: float = P(0.15, 0.0, 0.5, "sd", "spread of initial trust", typical=(0.05, 0.25), zh="初始信任离散度")
    initial_satisfaction: float = P(0.65, 0.0, 1.0, "0–1", "initial satisfaction", "Beijing 2019 satisfaction rate 0.65",
                                    typical=(0.5, 0.8), zh="初始满意度")
    satisfaction_memory: float = P(0.5, 0.0, 1.0, "weight", "weight of the newest experience in a resident's satisfaction",
                                   typical=(0.2, 0.8), zh="满意度最新体验权重")
    trust_learning: float = P(0.15, 0.0, 1.0, "rate", "how far trust moves toward a new experience", typical=(0.05, 0.3), zh="信任更新速度")
    sat_intercept: float = P(-0.2, -5.0, 5.0, "logit", "expectancy–disconfirmation: satisfaction logit of an unresolved, on-time case",
                             "A, after Van Ryzin 2004; calibrated to the 2019 satisfaction rate 0.65 (Beijing)",
                             typical=(-1.2, 0.8), zh="满意度基准（logit）")
    sat_outcome: float = P(3.0, 0.0, 10.0, "logit", "added logit when the problem was resolved", "A, after Van Ryzin 2004",
                           typical=(1.5, 4), zh="问题解决对满意度的提升")
    sat_disconfirmation: float = P(1.0, 0.0, 10.0, "logit per unit", "logit per unit of (expected − actual wait)/expected wait",
                                   "A, after Van Ryzin 2004", typical=(0.5, 2), zh="等待落差对满意度的影响")
    elder_wait_expectation: float = P(1.0, 0.1, 5.0, "× deadline", "wait residents aged 60+ expect, as a multiple of the deadline",
                                      typical=(0.8, 1.5), zh="老年居民期望等待倍数")
    abandoned_expectation_share: float = P(
        0.25, 0.0, 1.0, "× patience",
        "a resident who gave up on an unreported problem judges it as if it had been expected within at least this share of the patience",
        "A", typical=(0.1, 0.5), zh="放弃问题的期望等待比例")


class Privacy(Section):
    title_zh: ClassVar[str] = "隐私与数据安全"
    leaks_per_year: float = P(0.3, 0.0, 10.0, "per year", "expected data leaks a year with every department sharing and no safeguards",
                              typical=(0.05, 1.0), zh="年数据泄露次数")
    safeguard_effect: float = P(0.9, 0.0, 1.0, "fraction", "share of leak risk removed by full safeguards", typical=(0.7, 0.99), zh="防护措施降险比例")
    leak_trust_hit: float = P(0.08, 0.0, 1.0, "trust units", "trust every resident loses when a leak becomes known", typical=(0.02, 0.2), zh="泄露导致信任下降")


class Costs(Section):
    title_zh: ClassVar[str] = "成本"
    grid_worker_year: float = P(70_000, 0, 1e7, "yuan per year", "cost of a grid worker", typical=(50_000, 100_000), zh="网格员年人力成本")
    staff_year: float = P(120_000, 0, 1e7, "yuan per year", "cost of a department case handler", typical=(90_000, 180_000), zh="办件人员年人力成本")
    platform_build_per_department: float = P(400_000, 0, 1e9, "yuan", "one-off cost of joining a department to the platform",
                                             typical=(200_000, 1_000_000), zh="部门接入平台建设费")
    platform_life_years: float = P(5.0, 0.5, 30.0, "years", "life over which the build cost is written off", typical=(3, 8), zh="平台折旧年限")
    platform_running_share: float = P(0.15, 0.0, 2.0, "per year", "yearly running cost as a share of build cost", typical=(0.1, 0.3), zh="平台年运维费比例")
    platform_features_year: float = P(200_000, 0, 1e9, "yuan per year", "duplicate merging, deadline tracking and early warning, each",
                                      typical=(50_000, 500_000), zh="平台功能年费（每项）")
    safeguards_year: float = P(300_000, 0, 1e9, "yuan per year", "cost of full privacy safeguards on the platform", typical=(100_000, 600_000), zh="隐私防护年费")
    training_per_worker_year: float = P(6_000, 0, 1e6, "yuan per year", "cost of full training per grid worker and handler",
                                        typical=(2_000, 15_000), zh="人均年培训费")
    elder_friendly_per_10k_year: float = P(150_000, 0, 1e8, "yuan per 10,000 residents per year", "cost of elder-friendly service",
                                           typical=(50_000, 300_000), zh="适老化服务年费（每万人）")
    incident_cost: float = P(20_000, 0, 1e8, "yuan", "cost of handling one escalated incident", typical=(5_000, 50_000), zh="每起激化事件处置费")
    overtime_premium: float = P(1.5, 1.0, 3.0, "× hourly pay", "pay of an overtime hour of a case handler, relative to a "
                                "normal hour (Labour Law art. 44: 1.5 on workdays)", "Labour Law of the PRC, art. 44",
                                typical=(1.5, 2.0), zh="加班工资倍数")


class Assessment(Section):
    """考核: departments and street offices are scored on reported indicators (the "baton" 指挥棒)."""
    title_zh: ClassVar[str] = "考核"
    pressure: float = P(0.0, 0.0, 1.0, "0–1",
                        "strength of the incentive tied to the reported indicators (0: not scored; 1: strict rewards "
                        "and penalties, 一票否决)", "A (seeds 001, 004 describe strict rewards and penalties)",
                        typical=(0.0, 1.0), zh="考核压力")
    weight_resolution: float = P(0.45, 0.0, 1.0, "weight", "weight of the reported resolution rate in the score",
                                 "Beijing 接诉即办 assessment of 响应率/解决率/满意率: 10/45/45 (secondary summaries; A)",
                                 typical=(0.2, 0.6), zh="解决率权重")
    weight_satisfaction: float = P(0.45, 0.0, 1.0, "weight", "weight of the callback satisfaction rate in the score",
                                   "Beijing 接诉即办 assessment 10/45/45 (secondary summaries; A)", typical=(0.2, 0.6), zh="满意率权重")
    weight_speed: float = P(0.10, 0.0, 1.0, "weight", "weight of response speed (closure within deadline) in the score",
                            "Beijing 接诉即办 assessment 10/45/45 (secondary summaries; A)", typical=(0.0, 0.4), zh="响应率权重")
    effort_fix_gain: float = P(0.10, 0.0, 1.0, "probability",
                               "added chance of a real fix under full pressure on resolution and satisfaction (more effort)",
                               "A", typical=(0.0, 0.2), zh="考核激励下实际解决增量")
    effort_speed_gain: float = P(0.20, 0.0, 1.0, "fraction",
                                 "extra work-hours handlers put in under full pressure on speed", "A", typical=(0.0, 0.4), zh="考核激励下加班工时")
    gaming_propensity: float = P(0.9, 0.0, 1.0, "probability",
                                 "chance a case closed without a real fix is gamed under full pressure when gaming goes "
                                 "unpunished (reported resolved, withdrawal persuaded, reclassified as a consultation; "
                                 "a leading or selective callback)", "A", typical=(0.3, 1.0), zh="数据造假倾向")
    false_closure_share: float = P(0.5, 0.0, 1.0, "fraction",
                                   "of gamed closures, the share reported as resolved (the rest: the resident is persuaded "
                                   "to withdraw, or the complaint is reclassified as a consultation, and drops out of the "
                                   "assessed cases)", "A", typical=(0.2, 0.8), zh="虚假办结占造假比例")
    audit_rate: float = P(0.02, 0.0, 1.0, "probability",
                          "chance a closure is audited (a return visit by the supervising office); an audited gamed "
                          "closure is found out", "A", typical=(0.0, 0.3), zh="回访核查比例")
    repeat_call_probability: float = P(0.25, 0.0, 1.0, "probability",
                                       "chance a resident whose problem was closed without a fix reports it again (a "
                                       "re-opened case, counted by the published data as a new contact)", "A",
                                       typical=(0.1, 0.5), zh="未解决重复来电概率")
    repeat_call_delay_days: float = P(3.0, 0.0, 60.0, "days", "mean delay before a repeat call", "A", typical=(1, 10), zh="重复来电间隔")
    repeat_linking: float = P(0.3, 0.0, 1.0, "probability",
                              "chance a repeat call is linked to the earlier closure, exposing gaming (higher on a "
                              "platform that keeps case histories)", "A", typical=(0.0, 1.0), zh="重复来电关联原工单概率")
    penalty: float = P(1.0, 0.0, 20.0, "× gain",
                       "what a found-out gamed closure costs the team, as a multiple of what gaming it gains "
                       "(expected-value deterrence, Becker 1968)", "A", typical=(0.5, 10), zh="造假处罚倍数")
    audit_cost: float = P(300.0, 0.0, 1e5, "yuan", "cost of auditing one closure (a return visit)", "A",
                          typical=(100, 1000), zh="每次核查成本")

    @model_validator(mode="after")
    def _weights(self):
        if self.weight_resolution + self.weight_satisfaction + self.weight_speed <= 0:
            raise ValueError("assessment: the weights must not all be zero")
        return self


class ActorSpec(Section):
    """A kind of non-government actor (多元主体) that can take cases the centre hands over."""
    title_zh: ClassVar[str] = "社会力量类型"
    categories: list[str] = Field(default_factory=list, description="categories of problem it can handle")
    kinds: list[str] | None = Field(None, description="community kinds it reaches (None: every community)")
    capacity_per_10k: float = P(1.0, 0.0, 1000.0, "cases per day per 10,000 residents",
                                "cases it can take a day, per 10,000 residents of the communities it reaches", "A", zh="承接能力")
    quality: float = P(0.6, 0.0, 1.0, "probability", "chance a case it handles is truly fixed", "A", zh="实际解决概率")
    service_days: float = P(2.0, 0.01, 60.0, "days", "mean days it takes to handle a case", "A", zh="办理天数")
    cost_per_case: float = P(200.0, 0.0, 1e6, "yuan", "what the government pays it per case", "A", zh="每件购买服务费用")


def _default_actors() -> dict[str, ActorSpec]:
    a = ActorSpec
    return {
        "property_company": a(categories=["housing_property", "city_environment", "utilities"], kinds=["commodity_estate"],
                              capacity_per_10k=4.0, quality=0.75, service_days=1.0, cost_per_case=0.0),
        "volunteers": a(categories=["welfare", "other"], capacity_per_10k=1.0, quality=0.5, service_days=2.0,
                        cost_per_case=50.0),
        "social_organisation": a(categories=["disputes", "welfare"], capacity_per_10k=1.0, quality=0.7,
                                 service_days=3.0, cost_per_case=400.0),
    }


class Actors(Section):
    """多元主体, 社会协同, 公众参与: actors beside the government, and residents reporting for neighbours."""
    title_zh: ClassVar[str] = "多元主体"
    delegation_share: float = P(0.0, 0.0, 1.0, "fraction",
                                "share of filed cases of an actor's categories (in communities it reaches) the centre "
                                "may hand to it instead of a department, capacity permitting", "A", typical=(0.0, 0.6), zh="可转交社会力量比例")
    types: dict[str, ActorSpec] = Field(default_factory=_default_actors,
                                        description="the kinds of actor, keyed by name")
    volunteer_assist_rate: float = P(0.0, 0.0, 1.0, "per day",
                                     "daily chance that a volunteer reaches a resident aged 60+ with an unreported "
                                     "problem and reports it for them (assisted reporting)", "A", typical=(0.0, 0.1), zh="志愿者代为反映概率")
    volunteer_cost_per_10k_year: float = P(50_000.0, 0.0, 1e8, "yuan per 10,000 residents per year",
                                           "organising volunteers for assisted reporting, at full assist rate 0.1", "A",
                                           typical=(20_000, 150_000), zh="志愿服务组织成本")
    participation_rate: float = P(0.0, 0.0, 1.0, "per day",
                                  "daily chance that a neighbour reports a resident's unreported problem on their "
                                  "behalf, times the building's mean trust (公众参与, 楼门长)", "A",
                                  typical=(0.0, 0.1), zh="邻里代为反映概率")


class Bias(Section):
    """算法偏见: automated routing and risk flags learned from past data serve groups with less data worse."""
    title_zh: ClassVar[str] = "算法偏见"
    strength: float = P(0.0, 0.0, 3.0, "exponent",
                        "how steeply an automated model's errors grow as a group's share of its training data falls "
                        "below its share of cases (0: no bias)", "A", typical=(0.0, 1.5), zh="算法偏见强度")
    data_app: float = P(1.0, 0.0, 1.0, "record units", "training data one app report leaves (structured: place, photo)", "A", zh="每件App诉求数据量")
    data_hotline: float = P(0.3, 0.0, 1.0, "record units", "training data one hotline report leaves (an operator's notes)", "A", zh="每件热线诉求数据量")
    data_window: float = P(0.2, 0.0, 1.0, "record units", "training data one walk-in report leaves (paper forms)", "A", zh="每件窗口诉求数据量")
    data_grid_worker: float = P(0.6, 0.0, 1.0, "record units", "training data one report filed by a grid worker leaves", "A", zh="每件网格员上报数据量")
    history_cases: float = P(5000.0, 0.0, 1e7, "cases", "past cases the models were trained on before the run, in the "
                             "channel mix of the first days", "A", typical=(1000, 50000), zh="历史训练案件数")
    max_error_factor: float = P(4.0, 1.0, 20.0, "×", "the most an automated model's error rate can be multiplied for a group", "A", zh="误差倍数上限")
    correction: float = P(0.0, 0.0, 1.0, "0–1", "bias correction (reweighting, collecting data from under-served groups, "
                          "audits of the models): the share of each group's data deficit made good", "A", typical=(0.0, 1.0), zh="算法纠偏程度")
    correction_cost_year: float = P(300_000.0, 0.0, 1e9, "yuan per year", "cost of full bias correction", "A",
                                    typical=(100_000, 1_000_000), zh="算法纠偏年成本")


class PlatformLife(Section):
    """重复建设, 运行生命周期短, 使用效用低: a platform's use and data decay without upkeep."""
    title_zh: ClassVar[str] = "平台生命周期"
    lifecycle: bool = Field(False, description="model the platform's life: adoption over time, decay of use and data "
                                               "quality without maintenance, abandonment (off: joined departments use it fully)", json_schema_extra={"zh": "平台生命周期"})
    adoption_innovation: float = P(0.02, 0.0, 1.0, "per day", "Bass p: daily chance a joined team starts using the "
                                   "platform on its own", "A, after Bass 1969", typical=(0.005, 0.05), zh="平台自发采纳率")
    adoption_imitation: float = P(0.10, 0.0, 1.0, "per day", "Bass q: added daily chance per share of teams already "
                                  "using it", "A, after Bass 1969", typical=(0.02, 0.3), zh="平台模仿采纳率")
    maintenance: float = P(1.0, 0.0, 1.0, "0–1", "maintenance and upkeep spending, as a share of what keeps use and data "
                           "quality up", "A", typical=(0.0, 1.0), zh="平台运维投入")
    maintenance_year_per_department: float = P(60_000.0, 0.0, 1e8, "yuan per year",
                                               "full maintenance and data upkeep per joined department", "A",
                                               typical=(20_000, 150_000), zh="每部门年运维成本")
    usage_decay: float = P(0.005, 0.0, 1.0, "per day", "daily loss of use without maintenance (staff drift back to old "
                           "habits, features break)", "A", typical=(0.002, 0.03), zh="无运维使用衰减率")
    quality_decay: float = P(0.005, 0.0, 1.0, "per day", "daily loss of data quality without upkeep (stale records)", "A",
                             typical=(0.001, 0.02), zh="无运维数据质量衰减率")
    abandon_below: float = P(0.2, 0.0, 1.0, "share", "the platform is abandoned when its use falls below this share", "A",
                             typical=(0.1, 0.4), zh="平台弃用阈值")


class Change(Section):
    """A change of parameters on a given day, optionally for some communities only (a pilot)."""
    title_zh: ClassVar[str] = "政策调整"
    day: int = P(0, 0, 3650, "day", "day (step) on which the change takes effect", zh="生效日")
    set: dict[str, Any] = Field(description="dotted parameter paths and their new values")
    communities: list[int] | None = Field(None, description="community indices (0-based) the change applies to; all if omitted")
    label: str = Field("", description="a name shown on charts")


class Shock(Section):
    """A surge of given categories over a window of days (flood, epidemic)."""
    title_zh: ClassVar[str] = "突发冲击"
    name: str = Field("shock", description="a name shown on charts")
    start: int = P(0, 0, 3650, "day", "first day of the surge", zh="冲击开始日")
    end: int = P(30, 0, 3650, "day", "last day of the surge (inclusive)", zh="冲击结束日")
    categories: list[str] = Field(description="categories that surge")
    multiplier: float = P(3.0, 0.0, 100.0, "×", "problem rate multiplier during the surge", zh="诉求倍增系数")
    communities: list[int] | None = Field(None, description="community indices hit; all if omitted")

    @model_validator(mode="after")
    def _window(self):
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        return self


# Parameters that can differ between communities (a pilot or a staged roll-out changes them locally).
LOCAL_PATHS = (
    "staffing.grid_workers_per_grid", "staffing.grid_worker_hours", "policies.patrol_intensity",
    "policies.training_level", "policies.elder_friendly", "policies.app_first", "policies.whistle_and_report",
    "policies.on_platform", "staffing.community_capacity_per_10k",
)


class Scenario(Section):
    title_zh: ClassVar[str] = "情景"
    name: str = Field("scenario", description="a short name used in tables and figures")
    description: str = Field("", description="what question the scenario answers")
    run: RunSettings = RunSettings()
    population: Population = Population()
    network: Network = Network()
    demand: Demand = Demand()
    channels: Channels = Channels()
    staffing: Staffing = Staffing()
    policies: Policies = Policies()
    routing: Routing = Routing()
    residents: Residents = Residents()
    privacy: Privacy = Privacy()
    costs: Costs = Costs()
    assessment: Assessment = Assessment()
    actors: Actors = Actors()
    bias: Bias = Bias()
    platform: PlatformLife = PlatformLife()
    timeline: list[Change] = Field(default_factory=list, description="parameter changes on given days")
    shocks: list[Shock] = Field(default_factory=list, description="surges of categories over windows of days")

    @model_validator(mode="after")
    def _cross_checks(self):
        depts = set(self.staffing.departments)
        for name, cat in self.demand.categories.items():
            for d in cat.departments:
                if d not in depts:
                    raise ValueError(_unknown("department", d, depts, f"demand.categories.{name}.departments"))
        cats = set(self.demand.categories)
        pop = self.population
        n_comm = self.n_communities
        kinds = set(pop.community_kinds)
        for i, c in enumerate(pop.communities or []):
            if c.kind is not None and c.kind not in kinds:
                raise ValueError(_unknown("community kind", c.kind, kinds, f"population.communities[{i}].kind"))
            if c.subdistrict >= pop.subdistricts:
                raise ValueError(f"population.communities[{i}].subdistrict = {c.subdistrict} is out of range "
                                 f"(allowed 0 to {pop.subdistricts - 1}; raise population.subdistricts for more)")
        if pop.mix is not None:
            for k, w in pop.mix.items():
                if k not in kinds:
                    raise ValueError(_unknown("community kind", k, kinds, "population.mix"))
                if not (w >= 0):
                    raise ValueError(f"population.mix.{k} = {w!r}: weights must be ≥ 0")
            if sum(pop.mix.values()) <= 0:
                raise ValueError("population.mix: the weights must not all be zero")
        problems: list[str] = []  # every problem of the shocks and the timeline, not only the first
        for i, s in enumerate(self.shocks):
            for c in s.categories:
                if c not in cats:
                    problems.append(_unknown("category", c, cats, f"shocks[{i}].categories"))
            problems += _community_problems(s.communities, n_comm, f"shocks[{i}].communities")
        for i, ch in enumerate(self.timeline):
            problems += _community_problems(ch.communities, n_comm, f"timeline[{i}].communities")
            for path in ch.set:
                if path.split(".")[0] in ("run", "population", "network", "timeline", "shocks", "name", "description"):
                    problems.append(f"timeline[{i}].set: '{echo(path)[1:-1]}' cannot change during a run (allowed "
                                    "sections: demand, channels, staffing, policies, routing, residents, privacy, costs, "
                                    "assessment, actors, bias, platform)")
                elif ch.communities is not None and path not in LOCAL_PATHS:
                    problems.append(f"timeline[{i}].set: '{echo(path)[1:-1]}' cannot differ between communities"
                                    f"{did_you_mean(path, LOCAL_PATHS, 0.6)} (with `communities` only these can: "
                                    f"{', '.join(LOCAL_PATHS)})")
        if self.actors.delegation_share > 0:
            for name, actor in self.actors.types.items():
                for c in actor.categories:
                    if c not in cats:
                        problems.append(_unknown("category", c, cats, f"actors.types.{name}.categories"))
                for k in actor.kinds or []:
                    if k not in kinds:
                        problems.append(_unknown("community kind", k, kinds, f"actors.types.{name}.kinds"))
        if problems:
            raise ValueError("\n  ".join(problems))
        if self.network.neighbours % 2:
            raise ValueError(f"network.neighbours must be even, got {self.network.neighbours}")
        if self.routing.handoff_delay_max < self.routing.handoff_delay_min:
            raise ValueError("routing.handoff_delay_max must be ≥ routing.handoff_delay_min")
        return self

    @property
    def n_communities(self) -> int:
        return len(self.population.communities) if self.population.communities else \
            self.population.subdistricts * self.population.communities_per_subdistrict

    @property
    def n_grids(self) -> int:
        return sum(c.grids for c in resolved_communities(self))

    @property
    def n_residents(self) -> int:
        return sum(c.grids * c.residents_per_grid for c in resolved_communities(self))


@dataclass(frozen=True)
class Community:
    """A community with every field resolved (its own value, else its kind's, else the population's)."""
    index: int
    name: str
    kind: str
    subdistrict: int
    grids: int
    residents_per_grid: int
    share_60plus: float
    app_literacy_60plus: float
    app_literacy_under60: float
    phone_access: float
    household_size: float
    households_per_building: int
    grid_workers_per_grid: float
    grid_worker_hours: float
    initial_trust: float
    demand_factor: float = 1.0
    travel_hours: float = 0.0
    community_capacity_per_10k: float = 0.0
    polygon: tuple | None = None


PROFILE_FIELDS = ("share_60plus", "app_literacy_60plus", "app_literacy_under60", "phone_access", "household_size",
                  "households_per_building", "grids", "residents_per_grid", "grid_workers_per_grid",
                  "grid_worker_hours", "initial_trust", "demand_factor", "travel_hours", "community_capacity_per_10k")


def _fallback(sc: "Scenario", name: str):
    pop = sc.population
    return {"grids": pop.grids_per_community, "grid_workers_per_grid": sc.staffing.grid_workers_per_grid,
            "grid_worker_hours": sc.staffing.grid_worker_hours, "initial_trust": sc.residents.initial_trust,
            "demand_factor": 1.0, "travel_hours": 0.0,
            "community_capacity_per_10k": sc.staffing.community_capacity_per_10k}.get(name, getattr(pop, name, None))


def mix_sequence(mix: dict[str, float], n: int) -> list[str]:
    """`n` community kinds in proportion to the weights, spread evenly (the kind furthest below its
    share comes next; ties in the order given): the same list for the same mix, every time."""
    total = sum(mix.values())
    counts = {k: 0 for k in mix}
    out = []
    for i in range(n):
        k = max(mix, key=lambda k: (mix[k] / total * (i + 1) - counts[k]))
        counts[k] += 1
        out.append(k)
    return out


def resolved_communities(sc: "Scenario") -> list[Community]:
    """The scenario's communities, every field resolved: listed ones, generated from a mix of kinds, or
    `subdistricts × communities_per_subdistrict` alike."""
    pop = sc.population
    if pop.communities:
        specs = pop.communities
    else:
        n, per = sc.n_communities, pop.communities_per_subdistrict
        kinds = mix_sequence(pop.mix, n) if pop.mix else [None] * n
        specs = [CommunitySpec(kind=k, subdistrict=i // per) for i, k in enumerate(kinds)]
    out = []
    for i, spec in enumerate(specs):
        kind = pop.community_kinds.get(spec.kind) if spec.kind else None
        values = {}
        for f in PROFILE_FIELDS:
            v = getattr(spec, f)
            if v is None and kind is not None:
                v = getattr(kind, f)
            values[f] = _fallback(sc, f) if v is None else v
        out.append(Community(index=i, name=spec.name or f"community {i}", kind=spec.kind or "",
                             subdistrict=spec.subdistrict, polygon=tuple(map(tuple, spec.polygon)) if spec.polygon else None,
                             **values))
    return out


def _community_problems(comms, n, where) -> list[str]:
    try:
        _check_communities(comms, n, where)
    except ValueError as e:
        return [str(e)]
    return []


def _check_communities(comms, n, where):
    if comms is None:
        return
    bad = [c for c in comms if not 0 <= c < n]
    if bad:
        raise ValueError(f"{where}: community indices {bad} out of range (allowed 0 to {n - 1})")


def _unknown(kind, value, allowed, where) -> str:
    hint = difflib.get_close_matches(str(value), sorted(allowed), n=1)
    msg = f"{where}: unknown {kind} '{value}'"
    if hint:
        msg += f"; did you mean '{hint[0]}'?"
    return msg + f" (allowed: {', '.join(sorted(allowed))})"


# --------------------------------------------------------------------------------------------------
# Paths, the parameter table and overrides

@dataclass(frozen=True)
class ParamInfo:
    path: str
    kind: str  # "int", "float", "bool", "str"
    default: Any
    lower: float | None
    upper: float | None
    unit: str
    description: str
    source: str
    typical: tuple[float, float] | None
    zh: str = ""   # the short Chinese label declared beside the parameter
    label: str = ""   # a short English name for briefs (levers and main uncertainties)
    unit_zh: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


def _field_bounds(field) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
    return lo, hi


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def param_table(scenario: Scenario | None = None) -> list[ParamInfo]:
    """Every scalar parameter of a scenario (the default one if None), with its metadata."""
    scenario = scenario or Scenario()
    rows: list[ParamInfo] = []

    def walk(obj: BaseModel, prefix: str):
        for name, field in type(obj).model_fields.items():
            value = getattr(obj, name)
            path = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                walk(value, path + ".")
            elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
                for key, sub in value.items():
                    walk(sub, f"{path}.{key}.")
            elif isinstance(value, (bool, int, float)) or (isinstance(value, str) and name not in ("name", "description", "source")):
                extra = field.json_schema_extra or {}
                lo, hi = _field_bounds(field)
                typ = extra.get("typical")
                rows.append(ParamInfo(path, _kind(value), value, lo, hi, extra.get("unit", ""),
                                      field.description or "", extra.get("source", "A") if _kind(value) != "bool" else "",
                                      tuple(typ) if typ else None, extra.get("zh", ""), extra.get("label", ""),
                                      extra.get("unit_zh", "")))

    for section in ("population", "network", "demand", "channels", "staffing", "policies", "routing",
                    "residents", "privacy", "costs", "assessment", "actors", "bias", "platform"):
        walk(getattr(scenario, section), section + ".")
    return rows


def section_title_zh(section: str) -> str:
    """The Chinese title of a top-level scenario section (`population` → 人口与区划)."""
    field = Scenario.model_fields.get(section)
    cls = field.annotation if field is not None else None
    return cls.title_zh if isinstance(cls, type) and issubclass(cls, Section) else ""


def param_index(scenario: Scenario | None = None) -> dict[str, ParamInfo]:
    return {p.path: p for p in param_table(scenario)}


def closest(word: str, choices, cutoff: float = 0.5) -> str | None:
    """The valid name closest to a mistyped one (for "did you mean"), or None."""
    hits = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return hits[0] if hits else None


def did_you_mean(word: str, choices, cutoff: float = 0.5) -> str:
    hint = closest(word, choices, cutoff)
    return f"; did you mean '{hint}'?" if hint else ""


def closest_path(path: str, paths) -> str | None:
    return closest(path, paths, cutoff=0.4)  # dotted paths share long prefixes: a lower cutoff finds more


def get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def set_path(data: dict, path: str, value: Any) -> None:
    """Set a dotted path in a nested dict (creating intermediate dicts)."""
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def check_path(path: str, scenario: Scenario | None = None, *, numeric: bool = False,
               index: dict[str, ParamInfo] | None = None) -> ParamInfo:
    """The parameter at a dotted path, or a ScenarioError naming the closest valid path."""
    index = param_index(scenario) if index is None else index
    if path.startswith("run.") and path[4:] in RunSettings.model_fields:
        field = RunSettings.model_fields[path[4:]]
        lo, hi = _field_bounds(field)
        extra = field.json_schema_extra or {}
        return ParamInfo(path, "int", field.default, lo, hi, extra.get("unit", ""),
                         field.description or "", "", None, extra.get("zh", ""))
    if path not in index:
        hint = closest_path(path, index)
        raise ScenarioError(f"unknown parameter path '{path}'" + (f"; did you mean '{hint}'?" if hint else "")
                            + " (`govsim params` lists them all)")
    info = index[path]
    if numeric and not info.numeric:
        raise ScenarioError(f"'{path}' is a {info.kind} parameter, not a number")
    return info


def parse_value(text: str) -> Any:
    """A `--set` value: YAML scalar syntax (numbers, true/false, lists); anything unreadable stays text."""
    try:
        value = load_yaml_text(text)
        check_shape(value, "--set value")
    except (yaml.YAMLError, RecursionError, ScenarioError):
        return text
    return value


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ScenarioError(f"--set '{item}': expected path.to.key=value")
        key, _, val = item.partition("=")
        out[key.strip()] = parse_value(val.strip())
    return out


# --------------------------------------------------------------------------------------------------
# Loading

def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_scenario_file(ref: str, relative_to: Path | None = None) -> Path:
    """The path of a scenario file: as given, relative to `relative_to`, or in the shipped scenarios/."""
    if not str(ref).strip():
        raise ScenarioError("no scenario file given (the name is empty)")
    cand = Path(ref)
    tries = [cand]
    if relative_to is not None and not cand.is_absolute():
        tries.insert(0, relative_to / cand)
    if not cand.is_absolute():
        tries.append(SCENARIO_DIR / cand)
        if cand.parts and cand.parts[0] == SCENARIO_DIR.name:   # `scenarios/x.yaml` as the README writes it, from anywhere
            tries.append(SCENARIO_DIR.joinpath(*cand.parts[1:]))
        if cand.suffix == "":
            tries.append(SCENARIO_DIR / f"{ref}.yaml")
    for t in tries:
        if t.is_file():
            return t
    raise ScenarioError(f"scenario file not found: '{ref}'"
                        + (f" (shipped scenarios: {', '.join(shipped_scenarios())})" if SCENARIO_DIR.is_dir() else ""))


# Limits on input, far above anything the schema needs, so that hostile files fail fast and clearly.
MAX_DEPTH = 24            # nesting levels (the schema has about 6)
MAX_NODES = 200_000       # values after expanding YAML aliases (an alias bomb expands to billions)
MAX_EXTENDS = 32          # files in an `extends` chain
MAX_FILE_BYTES = 10 * 2**20
MAX_NUMBER_DIGITS = 100   # longer integers are kept as text and refused by validation
ECHO_CHARS = 60           # characters of a value echoed in an error message


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader that keeps absurdly long integers as text (Python refuses to convert them)."""


def _int_or_text(loader: yaml.SafeLoader, node: yaml.Node):
    text = loader.construct_scalar(node)
    if sum(c.isdigit() for c in text) > MAX_NUMBER_DIGITS:
        return text
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)


def load_yaml_text(text: str) -> Any:
    """YAML text as data (safe: plain types only); raises yaml.YAMLError or RecursionError (also, at
    once, for flow brackets nested deeper than MAX_DEPTH: PyYAML takes seconds to hit its recursion limit)."""
    depth = 0
    for c in re.sub(r"[^\[\]{}]", "", text):
        depth += 1 if c in "[{" else -1
        if depth > MAX_DEPTH:
            raise RecursionError("nested too deep")
    return yaml.load(text, Loader=_Loader)


def echo(value: Any) -> str:
    """A short, safe rendering of an input value for an error message (never the whole of a huge one)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 300:
        return f"an integer of {len(str(value.bit_length()))}+ digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= ECHO_CHARS else repr(value[:ECHO_CHARS]) + f"… ({len(value):,} characters)"
    if isinstance(value, (list, tuple, dict)):
        n = len(value)
        if n > 5:
            kind = "mapping" if isinstance(value, dict) else "list"
            return f"a {kind} of {n:,} items"
        try:
            text = repr(value)
        except (ValueError, RecursionError):
            text = "…"
        return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"


def check_shape(data: Any, where: str, error: type[Exception] = ScenarioError) -> None:
    """Refuse data nested deeper than MAX_DEPTH or larger than MAX_NODES values once YAML aliases are
    expanded (each shared node is measured once, so an alias bomb is refused without expanding it)."""
    memo: dict[int, tuple[int, int]] = {}  # id of a list/dict -> (height, values below and at it)

    def deep() -> Exception:
        return error(f"{where}: nested too deep (more than {MAX_DEPTH} levels)")

    def visit(node, depth: int) -> tuple[int, int]:
        if not isinstance(node, (dict, list)):
            return 0, 1
        if depth > MAX_DEPTH:
            raise deep()
        key = id(node)
        if key in memo:
            if depth + memo[key][0] > MAX_DEPTH:
                raise deep()
            return memo[key]
        height, count = 0, 1
        for child in (node.values() if isinstance(node, dict) else node):
            h, n = visit(child, depth + 1)
            height, count = max(height, h + 1), count + n
            if count > MAX_NODES:
                raise error(f"{where}: too large (more than {MAX_NODES:,} values once YAML aliases are expanded)")
        memo[key] = (height, count)
        return height, count
    visit(data, 1)


def read_yaml(path: Path, error: type[Exception] = ScenarioError, kind: str = "scenario",
              holds: str = "a mapping of sections") -> dict:
    """A YAML file that must hold a mapping; every problem becomes one `error` naming the file."""
    try:
        if Path(path).stat().st_size > MAX_FILE_BYTES:
            raise error(f"'{path}' is larger than {MAX_FILE_BYTES // 2**20} MB: not a {kind} file")
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{kind} file not found: '{path}'") from None
    except UnicodeDecodeError as e:
        raise error(f"'{path}' is not UTF-8 text (byte 0x{e.object[e.start]:02x} at position {e.start}); "
                    "save it as UTF-8") from None
    except OSError as e:
        raise error(f"cannot read '{path}': {e.strerror}") from None
    try:
        data = load_yaml_text(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(e, "problem", None) or e)
        raise error(f"'{path}' is not valid YAML{where}: {problem[:200]}") from None
    except RecursionError:
        raise error(f"'{path}': nested too deep (more than {MAX_DEPTH} levels)") from None
    check_shape(data, f"'{path}'", error)
    if data is None and kind == "scenario":
        return {}   # an empty scenario file is the defaults
    if not isinstance(data, dict):
        raise error(f"'{path}' must hold {holds}, not {type(data).__name__ if data is not None else 'nothing'}")
    return data


# Maps of named entries. A file that `extends` another and names some entries changes those entries of
# the base's full map (as --set does), keeping the others; a file without `extends` defines the whole map.
NAMED_MAPS = ("population.community_kinds", "demand.categories", "staffing.departments")


def _with_named_maps(base: dict, child: dict) -> dict:
    """`base` with every named map that `child` touches written out in full (defaults included)."""
    touched = [p for p in NAMED_MAPS if isinstance(_get_raw(child, p), dict) and _get_raw(base, p) is None]
    if not touched:
        return base
    resolved = _lenient(base)
    if resolved is None:
        return base
    base = copy.deepcopy(base)
    dump = resolved.model_dump(mode="json")
    for p in touched:
        set_path(base, p, get_path(dump, p))
    return base


def _get_raw(data: dict, path: str):
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def scenario_data(path: str | Path, _seen: tuple = ()) -> dict:
    """The merged raw data of a scenario file, following `extends` chains."""
    file = resolve_scenario_file(str(path), None) if not _seen else Path(path)
    if file.resolve() in _seen:
        raise ScenarioError(f"'extends' loops back to '{file}'")
    if len(_seen) >= MAX_EXTENDS:
        raise ScenarioError(f"{file}: the 'extends' chain is longer than {MAX_EXTENDS} files")
    data = read_yaml(file)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise ScenarioError(f"{file}: 'extends' must name a scenario file, got {echo(base_ref)}")
    try:
        base_file = resolve_scenario_file(base_ref, file.parent)
    except ScenarioError as e:
        raise ScenarioError(f"{file}: extends: {e}") from None
    base = _with_named_maps(scenario_data(base_file, _seen + (file.resolve(),)), data)
    merged = _deep_merge(base, data)
    # Lists of events add up along the chain, so a variant of a shocked scenario keeps the shock.
    for key in ("timeline", "shocks"):
        if key in base and key in data:
            merged[key] = list(base[key]) + list(data[key])
    return merged


def build_scenario(data: dict, overrides: dict[str, Any] | None = None, *, origin: str = "scenario") -> Scenario:
    """Validate raw data plus dotted-path overrides into a frozen Scenario."""
    data = copy.deepcopy(data)
    if overrides:
        # Overrides go into the fully resolved scenario, so that a path into a named entry that the file
        # does not spell out (e.g. demand.categories.market.share) changes that entry, not a blank one.
        resolved = _lenient(data)
        if resolved is not None:
            data = resolved.model_dump()
        index = param_index(resolved)   # the paths do not change as scalar values are set
        for path, value in overrides.items():
            if not path.startswith(("run.", "name", "description")):
                try:
                    check_path(path, index=index)
                except ScenarioError as e:
                    raise ScenarioError(f"--set {path[:ECHO_CHARS]}: {e}") from None
            set_path(data, path, value)
    try:
        scen = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(format_validation_error(e, origin, overrides)) from None
    _check_timeline(scen, origin)
    return scen


def _check_timeline(scen: Scenario, origin: str) -> None:
    """Each timeline change must name real parameters and, applied in order, give a valid scenario."""
    state = scen.model_dump()
    index = param_index(scen) if scen.timeline else {}
    problems = []
    for i, change in enumerate(scen.timeline):
        for path in change.set:
            try:
                check_path(path, index=index)
            except ScenarioError as e:
                problems.append(f"timeline[{i}].set: {e}")
    if problems:
        raise ScenarioError(f"invalid scenario '{origin}':\n  " + "\n  ".join(problems))
    for change in sorted(scen.timeline, key=lambda c: c.day):
        for path, value in change.set.items():
            set_path(state, path, value)
        state["timeline"] = []
        try:
            Scenario.model_validate(state)
        except ValidationError as e:
            raise ScenarioError(format_validation_error(e, f"{origin}, timeline change on day {change.day}")) from None


def _lenient(data: dict) -> Scenario | None:
    """The scenario as far as it validates (for listing the paths of its own categories/departments)."""
    try:
        return Scenario.model_validate(data)
    except ValidationError:
        return None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a scenario file (following `extends`) and apply `--set` overrides."""
    data = scenario_data(path)
    own = read_yaml(resolve_scenario_file(str(path)))
    scen = build_scenario(data, overrides, origin=str(path))
    # A scenario is named after its own file unless it names itself (not after the file it extends).
    if "name" not in own and not (overrides and "name" in overrides):
        scen = scen.model_copy(update={"name": Path(str(path)).stem})
    return scen


def with_changes(scenario: Scenario, changes: dict[str, Any]) -> Scenario:
    """A new scenario with dotted-path changes applied and validated."""
    return build_scenario(scenario.model_dump(), changes, origin=scenario.name)


def shipped_scenarios() -> list[str]:
    return sorted(p.name for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_yaml(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------------
# Error messages

def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    return sorted(model.model_fields) if model else []


def _model_at(loc: tuple, root: type[BaseModel] | None = None) -> type[BaseModel] | None:
    """The schema class that holds the key at `loc` (for listing allowed keys and bounds)."""
    model: Any = root or Scenario
    skip = False  # the next part is a dict key or a list index
    for part in loc[:-1]:
        if skip or isinstance(part, int):
            skip = False
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if a is not type(None)]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            model, skip = args[-1], True
        else:
            return None
    return model


def validation_lines(err: ValidationError, root: type[BaseModel], prefix: str = "",
                     overrides: dict[str, Any] | None = None) -> list[str]:
    """Pydantic's errors, one line each: where (a --set named as such), what, and for an unknown key
    the closest allowed one. Input values are echoed short (:func:`echo`), whatever their size."""
    lines = []
    for e in err.errors(include_input=True, include_url=False):
        loc = tuple(e["loc"])
        dotted = ".".join(str(p) for p in loc)
        where = ".".join(x for x in (prefix, dotted) if x) or "(top level)"
        if overrides and dotted in overrides:
            where = f"--set {where}"
        typ = e["type"]
        if typ == "extra_forbidden":
            allowed = _allowed_keys(_model_at(loc, root))
            msg = f"{where}: unknown key '{echo(loc[-1])[1:-1]}'{did_you_mean(loc[-1], allowed, 0.6)}"
            if allowed:
                msg += f" (allowed: {', '.join(allowed)})"
            lines.append(msg)
        elif typ in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            ctx = e.get("ctx", {})
            lo, hi = _bounds_at(loc, root)
            rng = f"allowed {lo} to {hi}" if lo is not None and hi is not None else \
                f"must be {typ.replace('_', ' ')} {echo(list(ctx.values())[0])}"
            lines.append(f"{where} = {echo(e.get('input'))} is out of range ({rng})")
        elif typ == "value_error":
            msg = str(e.get("ctx", {}).get("error", e["msg"]))[:3000]
            lines.append(msg if loc == () else f"{where}: {e['msg'][:500].removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}: {e['msg'][:200]} (got {echo(e.get('input'))})")
        if len(lines) >= 20 and err.error_count() > 20:
            lines.append(f"… and {err.error_count() - 20} more")
            break
    return list(dict.fromkeys(line.removeprefix("Value error, ") for line in lines))


def format_validation_error(err: ValidationError, origin: str, overrides: dict[str, Any] | None = None) -> str:
    body = "\n  ".join(validation_lines(err, Scenario, overrides=overrides))
    return f"invalid scenario '{echo(origin)[1:-1] if len(origin) > ECHO_CHARS else origin}':\n  {body}"


def _bounds_at(loc: tuple, root: type[BaseModel] | None = None):
    model = _model_at(loc, root)
    if model is None or loc[-1] not in getattr(model, "model_fields", {}):
        return None, None
    return _field_bounds(model.model_fields[loc[-1]])


__all__ = [
    "Scenario", "ScenarioError", "ParamInfo", "LOCAL_PATHS", "load_scenario", "build_scenario", "with_changes",
    "param_table", "param_index", "check_path", "closest_path", "get_path", "parse_overrides", "scenario_yaml",
    "shipped_scenarios", "scenario_data", "SCENARIO_DIR", "resolve_scenario_file", "Community", "CommunitySpec",
    "resolved_communities", "CategorySpec", "DepartmentSpec", "ChannelSpec", "Change", "Shock",
]
