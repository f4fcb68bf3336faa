"""Observed indicators from case records (a 12345 export), computed exactly as for the model's own records.

:func:`read_cases` reads a CSV export, renames its columns and recodes its values with a small mapping
(YAML; see ``docs/district.md``), and checks every row: a bad value is reported with its line number,
column and the allowed values, all at once. :func:`indicators` turns a table of canonical records into
the observed indicators, each with its standard error (Poisson for counts, binomial for shares, an
order-statistic interval for quantiles), for the whole district, per community, per category, per month
and per age group. The model's records (:mod:`sim.caselog`) go through the same :func:`indicators`, so
calibration (:mod:`sim.calibrate`) compares like with like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.caselog import AGE_GROUPS, CANONICAL_COLUMNS, OUTCOMES, REQUIRED_COLUMNS, SATISFACTION_LEVELS
from sim.district import DataError, district_residents, problems_message, read_text_csv

MAX_ROW_ERRORS = 20
Z95 = 1.959964

# Each indicator once: label (en, zh), unit, and how it is computed from the records of a scope.
INDICATORS: dict[str, tuple[str, str, str]] = {
    "contacts_per_resident_year": ("Contacts", "来电量", "per resident-year"),
    "dispatched_per_resident_year": ("Dispatched cases", "派单量", "per resident-year"),
    "resolution_rate": ("Resolution rate", "解决率", "share of closed cases"),
    "satisfaction_rate": ("Satisfaction rate", "满意率", "share (basically) satisfied"),
    "median_days": ("Median days to close", "办结用时中位数", "days from contact"),
    "p90_days": ("90th pct days to close", "办结用时P90", "days from contact"),
    "within_7_days": ("Closed within 7 days", "7日办结率", "share of closed cases"),
    "hotline_share": ("Hotline share", "热线占比", "share of contacts"),
    "app_share": ("App share", "网络/App占比", "share of contacts"),
}
# Which indicators are computed at each scope (channel mix by age group, rates by category and month).
SCOPES: dict[str, tuple[str, ...]] = {
    "district": tuple(INDICATORS),
    "community": tuple(INDICATORS),
    "category": ("contacts_per_resident_year", "dispatched_per_resident_year", "resolution_rate", "median_days"),
    "month": ("contacts_per_resident_year", "dispatched_per_resident_year"),
    "age_group": ("hotline_share", "app_share", "satisfaction_rate", "median_days"),
}
HIST_EDGES = (0, 1, 2, 3, 5, 7, 10, 15, 30, 60, math.inf)


# --------------------------------------------------------------------------------------------------
# The mapping

@dataclass(frozen=True)
class Mapping:
    """How a real export's columns and values map onto the canonical ones."""
    columns: dict            # canonical name → the export's column name
    values: dict             # canonical name → {export value: canonical value}
    ignore_columns: tuple    # the export's columns to ignore (or ("*",) for all others)
    time_format: str | None
    period: tuple | None     # (start, end) dates, end exclusive

    @classmethod
    def identity(cls) -> "Mapping":
        return cls({k: k for k in CANONICAL_COLUMNS}, {}, (), None, None)


MAPPING_KEYS = ("columns", "values", "ignore_columns", "time_format", "period")


def load_mapping(path: str | Path | None) -> Mapping:
    """The column mapping of a YAML file (None: the export already uses the canonical names)."""
    if path is None:
        return Mapping.identity()
    from sim.scenario import read_yaml
    data = read_yaml(Path(path), DataError, kind="mapping", holds="a mapping with keys " + ", ".join(MAPPING_KEYS))
    unknown = sorted(set(data) - set(MAPPING_KEYS))
    if unknown:
        raise DataError(f"{path}: unknown key '{unknown[0]}' (allowed: {', '.join(MAPPING_KEYS)})")
    cols = data.get("columns") or {}
    if not isinstance(cols, dict):
        raise DataError(f"{path}: 'columns' must map canonical names to the export's column names")
    bad = [k for k in cols if k not in CANONICAL_COLUMNS]
    if bad:
        raise DataError(f"{path}: columns: unknown canonical column '{bad[0]}' "
                        f"(allowed: {', '.join(CANONICAL_COLUMNS)})")
    columns = {k: str(cols.get(k, k)) for k in CANONICAL_COLUMNS}
    values = data.get("values") or {}
    if not isinstance(values, dict) or any(k not in CANONICAL_COLUMNS or not isinstance(v, dict) for k, v in values.items()):
        raise DataError(f"{path}: 'values' must map canonical column names ({', '.join(CANONICAL_COLUMNS)}) "
                        "to {{export value: canonical value}}")
    ignore = data.get("ignore_columns") or ()
    ignore = ("*",) if ignore == "*" else tuple(str(c) for c in ignore)
    period = data.get("period")
    if period is not None:
        try:
            period = (pd.Timestamp(str(period["start"])), pd.Timestamp(str(period["end"])))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: period must be {{start: YYYY-MM-DD, end: YYYY-MM-DD}} (end exclusive)") from None
        if period[1] <= period[0]:
            raise DataError(f"{path}: period.end must be after period.start")
    return Mapping(columns, {k: {_text(a): _text(b) for a, b in v.items()} for k, v in values.items()},
                   ignore, data.get("time_format"), period)


def _text(v) -> str:
    """A mapping value as text (YAML reads a bare yes/no as a boolean)."""
    return {True: "yes", False: "no"}.get(v, str(v)) if isinstance(v, bool) else str(v)


def to_export(frame: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """Canonical records in the export's own names and values (the mapping applied backwards)."""
    out = frame.copy()
    for col, table in mapping.values.items():
        back = {}
        for a, b in table.items():
            back.setdefault(b, a)
        out[col] = out[col].map(lambda x, t=back: t.get(x, x))
    return out.rename(columns=mapping.columns)


# --------------------------------------------------------------------------------------------------
# Reading and checking an export

def read_cases(path: str | Path, mapping: Mapping, communities: list[str] | None = None) -> pd.DataFrame:
    """A case export as canonical records, every row checked (raises one DataError listing the bad rows)."""
    path = Path(path)
    raw = read_text_csv(path, "contact")
    return canonical_cases(raw, mapping, communities, origin=str(path))


def canonical_cases(raw: pd.DataFrame, mapping: Mapping, communities: list[str] | None = None,
                    origin: str = "cases") -> pd.DataFrame:
    """Rename, recode and check raw records (all strings); rows keep their CSV line numbers in `line`."""
    inverse = {v: k for k, v in mapping.columns.items()}
    missing = [mapping.columns[k] for k in REQUIRED_COLUMNS if mapping.columns[k] not in raw.columns]
    if missing:
        raise DataError(f"{origin}: missing column(s) {', '.join(repr(m) for m in missing)} "
                        f"(the file has: {', '.join(raw.columns)}; map them in the mapping YAML under 'columns')")
    extra = [c for c in raw.columns if c not in inverse and c not in mapping.ignore_columns]
    if extra and mapping.ignore_columns != ("*",):
        raise DataError(f"{origin}: unknown column(s) {', '.join(repr(c) for c in extra)} (known: "
                        f"{', '.join(c for c in mapping.columns.values() if c in raw.columns)}; "
                        "list columns to skip under 'ignore_columns' in the mapping YAML)")
    df = pd.DataFrame({k: raw[v].str.strip() if v in raw.columns else "" for k, v in mapping.columns.items()})
    for col, table in mapping.values.items():
        df[col] = df[col].map(lambda x, t=table: t.get(x, x))
    df["line"] = np.arange(len(df)) + 2     # the header is line 1
    problems: list[str] = []

    def bad(mask, column, allowed: str) -> None:
        for line, value in zip(df["line"][mask], df[column][mask]):
            problems.append(f"line {line}, column '{mapping.columns[column]}': {value!r} ({allowed})")

    def times(column, blank_ok):
        fmt = mapping.time_format
        t = pd.to_datetime(df[column], format=fmt if fmt else "mixed", errors="coerce")
        blank = df[column] == ""
        bad(t.isna() & ~(blank & blank_ok), column,
            f"expected a date/time like 2025-03-01 14:05{f' in format {fmt}' if fmt else ''}" + ("" if not blank_ok else " or blank"))
        return t

    contact, closed = times("contact_time", False), times("closed_time", True)
    bad(closed.notna() & contact.notna() & (closed < contact), "closed_time", "closes before its contact time")
    for col, allowed, blank_ok in (("outcome", OUTCOMES, False), ("dispatched", ("yes", "no"), False),
                                   ("satisfaction", SATISFACTION_LEVELS, True), ("age_group", AGE_GROUPS, True)):
        ok = df[col].isin(allowed) | ((df[col] == "") & blank_ok)
        bad(~ok, col, f"allowed: {', '.join(allowed)}{' or blank' if blank_ok else ''}; recode under 'values' in the mapping")
    bad((df["outcome"] == "open") & closed.notna(), "outcome", "'open' but it has a closing time")
    bad((df["outcome"] != "open") & closed.isna() & (df["closed_time"] == ""), "closed_time",
        "blank but the outcome says the case closed")
    bad(df["category"] == "", "category", "must not be blank")
    if communities is not None:
        known = set(communities)
        unknown = ~df["community"].isin(known)
        if unknown.any():
            names = sorted(set(df["community"][unknown]))
            raise DataError(f"{origin}: {int(unknown.sum())} row(s) name communities the district does not have: "
                            f"{', '.join(repr(n) for n in names[:10])}{' …' if len(names) > 10 else ''} "
                            f"(the district's communities: {', '.join(communities)})")
    if problems:
        raise DataError(problems_message(origin, problems))
    df["contact_time"], df["closed_time"] = contact, closed
    return df


# --------------------------------------------------------------------------------------------------
# Indicators

def observation_period(cases: pd.DataFrame, mapping_period=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period the records cover: given, or from the first contact's day to the day after the last."""
    if mapping_period is not None:
        return mapping_period
    return cases["contact_time"].min().normalize(), cases["contact_time"].max().normalize() + pd.Timedelta(days=1)


def _rate(n: int, exposure: float) -> tuple[float, float]:
    return (n / exposure, math.sqrt(max(n, 1)) / exposure) if exposure > 0 else (math.nan, math.nan)


def _share(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = k / n
    # at p = 0 or 1 the binomial SE vanishes; use the rule of three instead (95% bound 3/n, so SE ≈ 1.5/n)
    return p, math.sqrt(p * (1 - p) / n) if 0 < k < n else 1.5 / n


def _quantile(days: np.ndarray, q: float) -> tuple[float, float]:
    n = days.size
    if n == 0:
        return math.nan, math.nan
    d = np.sort(days)
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo, hi = d[max(0, int(math.floor(n * q - half)))], d[min(n - 1, int(math.ceil(n * q + half)))]
    return float(np.quantile(d, q)), max(float(hi - lo) / (2 * Z95), 1e-3)


def scope_values(rows: pd.DataFrame, resident_years: float, which) -> dict[str, tuple[float, float, int]]:
    """The indicators `which` of one scope's records: {name: (value, standard error, n)}."""
    out = {}
    closed = rows[rows["outcome"] != "open"]
    days = ((closed["closed_time"] - closed["contact_time"]).dt.total_seconds() / 86400).to_numpy()
    cb = rows["satisfaction"][rows["satisfaction"] != ""]
    n, disp = len(rows), int((rows["dispatched"] == "yes").sum())
    calc = {
        "contacts_per_resident_year": lambda: (*_rate(n, resident_years), n),
        "dispatched_per_resident_year": lambda: (*_rate(disp, resident_years), disp),
        "resolution_rate": lambda: (*_share(int((closed["outcome"] == "resolved").sum()), len(closed)), len(closed)),
        "satisfaction_rate": lambda: (*_share(int(cb.isin(SATISFACTION_LEVELS[:2]).sum()), len(cb)), len(cb)),
        "median_days": lambda: (*_quantile(days, 0.5), days.size),
        "p90_days": lambda: (*_quantile(days, 0.9), days.size),
        "within_7_days": lambda: (*_share(int((days <= 7).sum()), days.size), days.size),
        "hotline_share": lambda: (*_share(int((rows["channel"] == "hotline").sum()), n), n),
        "app_share": lambda: (*_share(int((rows["channel"] == "app").sum()), n), n),
    }
    for name in which:
        out[name] = calc[name]()
    return out


def indicators(cases: pd.DataFrame, residents: dict[str, int], period) -> pd.DataFrame:
    """The observed indicators of canonical records: one row per indicator, scope and group, with value,
    standard error and the number of records behind it."""
    start, end = period
    cases = cases[(cases["contact_time"] >= start) & (cases["contact_time"] < end)]
    years = (end - start).total_seconds() / 86400 / 365
    total = sum(residents.values())
    rows = []

    def emit(scope, group, recs, resident_years):
        for name, (v, se, n) in scope_values(recs, resident_years, SCOPES[scope]).items():
            rows.append({"indicator": name, "scope": scope, "group": group, "value": v, "se": se, "n": n})

    emit("district", "all", cases, total * years)
    for c, pop in residents.items():
        emit("community", c, cases[cases["community"] == c], pop * years)
    for cat, recs in cases.groupby("category", sort=True):
        emit("category", str(cat), recs, total * years)
    month = cases["contact_time"].dt.to_period("M")
    for m in pd.period_range(start, end - pd.Timedelta(seconds=1), freq="M"):
        lo, hi = max(m.start_time, start), min(m.end_time + pd.Timedelta(microseconds=1), end)
        emit("month", str(m), cases[month == m], total * (hi - lo).total_seconds() / 86400 / 365)
    known_age = cases[cases["age_group"] != ""]
    for g in AGE_GROUPS:
        if (known_age["age_group"] == g).any():
            emit("age_group", g, known_age[known_age["age_group"] == g], math.nan)
    return pd.DataFrame(rows, columns=["indicator", "scope", "group", "value", "se", "n"])


def resolution_histogram(cases: pd.DataFrame) -> pd.DataFrame:
    """Closed cases by days from contact to closing, per community and for the district."""
    closed = cases[cases["outcome"] != "open"]
    days = (closed["closed_time"] - closed["contact_time"]).dt.total_seconds() / 86400
    labels = [f"{a}-{b}" if math.isfinite(b) else f"{a}+" for a, b in zip(HIST_EDGES[:-1], HIST_EDGES[1:])]
    bins = pd.cut(days, HIST_EDGES, right=False, labels=labels)
    out = []
    for group, sel in [("all", slice(None))] + [(c, closed["community"] == c) for c in sorted(closed["community"].unique())]:
        counts = bins[sel].value_counts().reindex(labels, fill_value=0)
        out += [{"community": group, "days": lab, "cases": int(n)} for lab, n in counts.items()]
    return pd.DataFrame(out)


def observe(cases_path, mapping_path=None, district=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read an export and compute its indicators. `district`: a scenario (name, path or Scenario) giving
    the residents of each community. Returns (indicators, histogram, info)."""
    residents = district_residents(district)
    mapping = load_mapping(mapping_path)
    cases = read_cases(cases_path, mapping, list(residents))
    period = observation_period(cases, mapping.period)
    info = {"cases": int(len(cases)), "period": [str(period[0].date()), str(period[1].date())],
            "communities": residents}
    return indicators(cases, residents, period), resolution_histogram(cases), info
