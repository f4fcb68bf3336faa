"""From paired differences to verdicts a planner can act on.

A comparison pairs replication k of a scenario with replication k of the base (same seed), so each
indicator gives one difference per replication. This module turns those into a table with one
verdict per scenario and indicator:

* **better** / **worse**: the change is statistically clear *after the multiplicity correction across
  the whole table* (Holm by default) and at least as large as the indicator's practical threshold
  (``practical=`` beside the metric in :mod:`sim.metrics`, overridable);
* **no meaningful change**: the 95% interval of the difference lies within ± the practical threshold
  (an equivalence judgement: whatever the change is, it is too small to matter);
* **uncertain**: neither (the interval is too wide to tell; more replications would say, see
  ``govsim compare --precision``).

Gaps between groups are judged by their distance from parity: an indicator declared ``better="zero"``
is compared as |scenario| − |base| per replication. Indicators with ``better="neither"`` (calibration
figures, signed gaps shown beside their distance) get no verdict.

The labels of the verdicts are declared here once, in English and Chinese; tables, figures and the
brief read them from :data:`VERDICT_LABELS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.metrics import E_LABELS_ZH, E_ORDER, METRIC_BY_NAME, METRICS, Metric

ALPHA = 0.05
BETTER, WORSE, NO_CHANGE, UNCERTAIN, NOT_JUDGED = "better", "worse", "no meaningful change", "uncertain", "not judged"
VERDICTS = (BETTER, WORSE, NO_CHANGE, UNCERTAIN)
VERDICT_LABELS: dict[str, dict[str, str]] = {  # "short" forms fit a table cell of an 80-column terminal
    BETTER: {"en": "better", "zh": "改善", "en_short": "better", "zh_short": "改善"},
    WORSE: {"en": "worse", "zh": "变差", "en_short": "worse", "zh_short": "变差"},
    NO_CHANGE: {"en": "no meaningful change", "zh": "无实质变化", "en_short": "no change", "zh_short": "无实质变化"},
    UNCERTAIN: {"en": "uncertain", "zh": "尚不确定", "en_short": "uncertain", "zh_short": "不确定"},
    NOT_JUDGED: {"en": "not judged", "zh": "不作评判", "en_short": "", "zh_short": ""},
}
MULTIPLICITY = {
    "holm": {"en": "Holm's step-down correction (family-wise error ≤ 5%) across every judged row of the table",
             "zh": "对表中全部评判项做Holm逐步校正（族错误率≤5%）"},
    "fdr": {"en": "Benjamini–Hochberg false-discovery control (≤ 5% of 'better'/'worse' verdicts expected false) "
                  "across every judged row of the table",
            "zh": "对表中全部评判项做Benjamini–Hochberg错误发现率控制（≤5%）"},
    "none": {"en": "no correction for multiple comparisons (each row tested alone at 5%)",
             "zh": "未做多重比较校正（每项单独以5%检验）"},
}


class PracticalError(ValueError):
    """A malformed practical-threshold override; the message names the metric and the allowed form."""


def label(metric: Metric, lang: str = "en", short: bool = False) -> str:
    """The metric's label in `lang`; `short`: the short English label declared beside it, for tables
    that must fit 80 columns."""
    return metric.label_zh if lang == "zh" else metric.label_short if short else metric.label


def unit(metric: Metric, lang: str = "en") -> str:
    return metric.unit_zh if lang == "zh" else metric.unit


def e_label(e: str, lang: str = "en") -> str:
    return E_LABELS_ZH.get(e, e) if lang == "zh" else e


def verdict_label(verdict: str, lang: str = "en", short: bool = False) -> str:
    labels = VERDICT_LABELS.get(verdict if isinstance(verdict, str) else NOT_JUDGED, VERDICT_LABELS[NOT_JUDGED])
    return labels[f"{lang}_short" if short else lang]


# --------------------------------------------------------------------------------------------------
# Practical thresholds

@dataclass(frozen=True)
class Practical:
    """The smallest change that matters: `value` in the metric's unit ("absolute") or as a share of
    the base mean ("relative")."""
    value: float
    kind: str

    def absolute(self, base_mean: float, other_mean: float = float("nan")) -> float:
        if self.kind == "absolute":
            return self.value
        # A relative threshold of a base that is ~0 (no incidents at all) would make every change
        # matter; take it relative to the larger of the two means instead.
        scale = abs(base_mean) if np.isfinite(base_mean) else 0.0
        if scale < 1e-12 and np.isfinite(other_mean):
            scale = abs(other_mean)
        return self.value * scale

    def describe(self) -> str:
        return f"{100 * self.value:g}% of the base" if self.kind == "relative" else f"{self.value:g}"


def declared_practical(name: str) -> Practical:
    m = METRIC_BY_NAME[name]
    return Practical(m.practical, m.practical_kind)


def parse_practical(items: Sequence[str] | None, flag: str = "--practical") -> dict[str, Practical]:
    """``metric=value`` (in the metric's unit) or ``metric=value%`` (share of the base) items."""
    out: dict[str, Practical] = {}
    for item in items or ():
        name, sep, text = str(item).partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise PracticalError(f"{flag}: '{item}' is not METRIC=VALUE or METRIC=VALUE% "
                                 "(e.g. median_days=1 or total_cost=5%)")
        if name not in METRIC_BY_NAME:
            from difflib import get_close_matches
            hint = get_close_matches(name, METRIC_BY_NAME, n=1)
            raise PracticalError(f"{flag}: unknown metric '{name}'" + (f"; did you mean '{hint[0]}'?" if hint else "")
                                 + f" (allowed: {', '.join(METRIC_BY_NAME)})")
        kind = "relative" if text.endswith("%") else "absolute"
        try:
            value = float(text.rstrip("%")) / (100 if kind == "relative" else 1)
        except ValueError:
            raise PracticalError(f"{flag} {name}: '{text}' is not a number (give e.g. 0.5, or 5% of the base)") from None
        if not np.isfinite(value) or value < 0:
            raise PracticalError(f"{flag} {name}: the value must be a number ≥ 0 (got '{text}')")
        out[name] = Practical(value, kind)
    return out


# --------------------------------------------------------------------------------------------------
# The table

def _t_stats(d: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, 95% t interval (:func:`sim.runner.mean_ci`) and two-sided p-value of paired differences
    (NaN-aware)."""
    from scipy.special import stdtr
    from sim.runner import mean_ci
    d = d[np.isfinite(d)]
    if d.size == 0:
        return (float("nan"),) * 4
    mean = float(d.mean())
    if d.size < 2:
        return mean, float("nan"), float("nan"), float("nan")
    sd = float(d.std(ddof=1))
    if sd == 0:
        return mean, mean, mean, (1.0 if mean == 0 else 0.0)
    _, lo, hi = mean_ci(d)
    p = float(2 * stdtr(d.size - 1, -abs(mean) / (sd / np.sqrt(d.size))))
    return mean, lo, hi, p


def paired_rows(base: pd.DataFrame, other: pd.DataFrame,
                practical: Mapping[str, Practical] | None = None) -> pd.DataFrame:
    """Per metric: base and scenario means, the paired difference (other − base) with its 95% interval
    and p-value, and the practical threshold in the metric's unit. For ``better="zero"`` metrics the
    judged difference is |other| − |base| per replication (columns ``judged_*``)."""
    practical = practical or {}
    merged = base.merge(other, on="replication", suffixes=("_base", "_other"))
    rows = []
    for m in METRICS:
        b, o = f"{m.name}_base", f"{m.name}_other"
        if b not in merged or o not in merged:
            continue
        bv, ov = merged[b].to_numpy(dtype=float), merged[o].to_numpy(dtype=float)
        mean, lo, hi, p = _t_stats(ov - bv)
        jmean, jlo, jhi, jp = _t_stats(np.abs(ov) - np.abs(bv)) if m.better == "zero" else (mean, lo, hi, p)
        bm = float(np.nanmean(bv)) if np.isfinite(bv).any() else float("nan")
        om = float(np.nanmean(ov)) if np.isfinite(ov).any() else float("nan")
        prac = practical.get(m.name) or declared_practical(m.name)
        scale_b, scale_o = (abs(bm), abs(om)) if m.better == "zero" else (bm, om)
        rows.append({"metric": m.name, "E": m.e, "label": m.label, "label_zh": m.label_zh, "unit": m.unit,
                     "unit_zh": m.unit_zh, "better": m.better, "base": bm, "value": om, "difference": mean, "ci_low": lo, "ci_high": hi,
                     "judged_difference": jmean, "judged_ci_low": jlo, "judged_ci_high": jhi, "p_value": jp,
                     "threshold": prac.absolute(scale_b, scale_o), "threshold_rule": prac.describe(),
                     "replications": int(np.isfinite(bv - ov).sum())})
    return pd.DataFrame(rows)


def adjust(p: np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values of a family (NaN entries are left out of the family and stay NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    if q.size == 0 or method == "none":
        out[ok] = q
        return out
    if method == "fdr":
        from scipy.stats import false_discovery_control
        out[ok] = false_discovery_control(q, method="bh")
        return out
    if method != "holm":
        raise PracticalError(f"--multiplicity: unknown method '{method}' (allowed: {', '.join(MULTIPLICITY)})")
    order = np.argsort(q)
    n = q.size
    stepped = np.maximum.accumulate(np.minimum(1.0, (n - np.arange(n)) * q[order]))
    adj = np.empty(n)
    adj[order] = stepped
    out[ok] = adj
    return out


def verdict(better: str, diff: float, lo: float, hi: float, p_adj: float, threshold: float,
            alpha: float = ALPHA) -> str:
    """The verdict of one row (see the module docstring). `diff`, `lo`, `hi` are in the metric's unit
    (|·| − |·| for a gap judged by its distance from parity)."""
    if better == "neither":
        return NOT_JUDGED
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(threshold)):
        return UNCERTAIN
    gain = diff if better == "higher" else -diff  # "lower" and "zero" (distance from parity)
    if np.isfinite(p_adj) and p_adj < alpha and abs(diff) >= threshold and threshold >= 0 and abs(diff) > 0:
        return BETTER if gain > 0 else WORSE
    if -threshold <= lo and hi <= threshold:
        return NO_CHANGE
    return UNCERTAIN


def judge(table: pd.DataFrame, method: str = "holm", alpha: float = ALPHA) -> pd.DataFrame:
    """Add ``p_adjusted`` (across every judged row of `table`) and ``verdict``."""
    out = table.copy()
    judged = (out["better"] != "neither").to_numpy()
    p = np.where(judged, out["p_value"].to_numpy(dtype=float), np.nan)
    out["p_adjusted"] = adjust(p, method)
    out["verdict"] = [verdict(r.better, r.judged_difference, r.judged_ci_low, r.judged_ci_high, r.p_adjusted,
                              r.threshold, alpha) for r in out.itertuples()]
    out["multiplicity"] = method
    return out


def comparison_table(base: str, summaries: Mapping[str, pd.DataFrame], *,
                     practical: Mapping[str, Practical] | None = None, method: str = "holm") -> pd.DataFrame:
    """Every scenario's paired difference from `base`, judged together (one family for the correction)."""
    frames = []
    for name, frame in summaries.items():
        if name == base:
            continue
        d = paired_rows(summaries[base], frame, practical)
        d.insert(0, "base_scenario", base)
        d.insert(0, "scenario", name)
        frames.append(d)
    return judge(pd.concat(frames, ignore_index=True), method)


def counts_by_e(comp: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and E: how many indicators are better, worse, unchanged or uncertain."""
    j = comp[comp["verdict"].isin(VERDICTS)]
    c = j.groupby(["scenario", "E", "verdict"]).size().unstack("verdict", fill_value=0)
    return c.reindex(columns=list(VERDICTS), fill_value=0)


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator of a comparison as the tables show it: its base value, its practical threshold and
    each compared scenario's row (difference, interval, verdict) in the order asked for."""
    metric: Metric
    base: float
    threshold: float
    options: list[pd.Series]


def by_e(comp: pd.DataFrame, scenarios: Sequence[str]):
    """The rows of a comparison table (:func:`comparison_table`) grouped as every table of it shows them
    (the CLI's and the brief's): per E in order, that E's indicators in table order."""
    for e in E_ORDER:
        part = comp[comp["E"] == e]
        if part.empty:
            continue
        rows = []
        for metric in dict.fromkeys(part["metric"]):
            of = part[part["metric"] == metric].set_index("scenario")
            rows.append(IndicatorRow(METRIC_BY_NAME[metric], of["base"].iloc[0], of["threshold"].iloc[0],
                                     [of.loc[name] for name in scenarios]))
        yield e, rows
