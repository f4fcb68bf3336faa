"""``govsim brief``: a one-page decision brief from a saved comparison (and, optionally, a robustness
analysis), in English or Chinese.

The brief reads only saved results (comparison.parquet, each scenario's scenario.yaml and
communities.parquet, a cross sweep's robust/ranking.csv) and writes brief.html (plus brief.pdf when
Chromium is installed to print it). Labels of metrics, E's and verdicts come from where they are
declared (:mod:`sim.metrics`, :mod:`sim.verdicts`); the sentences of the brief are declared once, in
both languages, in :data:`TEXT`.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.metrics import E_ORDER, METRIC_BY_NAME
from sim.scenario import kind_label
from sim.verdicts import (BETTER, MULTIPLICITY, NO_CHANGE, UNCERTAIN, VERDICT_LABELS, WORSE, _t_stats, by_e, counts_by_e,
                          e_label, label, unit, verdict_label)

# The headline indicators of the one-page table, per E (the full table is comparison.csv).
HEADLINE: dict[str, tuple[str, ...]] = {
    "Economy": ("total_cost", "cost_per_resolved"),
    "Efficiency": ("median_days", "within_deadline"),
    "Effectiveness": ("resolution_rate_all", "satisfaction_all", "escalations"),
    "Equity": ("gap_days_60plus", "silent_share_60plus", "gini_community_days"),
}

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Decision brief", "zh": "决策简报"},
    "question": {"en": "The question", "zh": "问题"},
    "question_body": {"en": "Should we move from “{base}” to one of these options? Each was simulated {reps} times "
                            "with the same random draws as the status quo, over {days} days in a district of "
                            "{residents:,} residents.",
                      "zh": "是否应从“{base}”（现状）转向以下方案之一？每个方案与现状使用相同的随机数各模拟{reps}次，"
                            "模拟{days}天，辖区居民{residents:,}人。"},
    "options": {"en": "The options", "zh": "备选方案"},
    "changes": {"en": "changes from the status quo", "zh": "相对现状的改变"},
    "no_changes": {"en": "same parameters as the status quo", "zh": "参数与现状相同"},
    "table": {"en": "4E outcomes: difference from the status quo (95% interval) and verdict",
              "zh": "4E结果：与现状的差值（95%区间）及判定"},
    "indicator": {"en": "Indicator", "zh": "指标"},
    "status_quo": {"en": "Status quo", "zh": "现状"},
    "others": {"en": "All {n} indicators of this E", "zh": "该维度全部{n}项指标"},
    "verdict_rule": {"en": "Better/worse: clear after {method}, and at least the smallest change that matters "
                           "(the indicator's practical threshold). No meaningful change: the whole interval lies within "
                           "that threshold. Uncertain: the simulation cannot tell yet.",
                     "zh": "改善/变差：经{method}后仍显著，且变化不小于该指标的实际阈值（有实际意义的最小变化）。"
                           "无实质变化：整个区间都在该阈值之内。尚不确定：模拟结果尚不足以判断。"},
    "tradeoffs": {"en": "Trade-offs in plain words", "zh": "利弊权衡"},
    "gains": {"en": "better on", "zh": "改善："},
    "losses": {"en": "worse on", "zh": "变差："},
    "nothing_clear": {"en": "no indicator clearly better or worse", "zh": "没有指标明确改善或变差"},
    "n_uncertain": {"en": "{n} indicators uncertain", "zh": "{n}项指标尚不确定"},
    "who": {"en": "Who gains and who loses", "zh": "谁受益，谁受损"},
    "older": {"en": "Residents aged 60+", "zh": "60岁及以上居民"},
    "communities": {"en": "Communities", "zh": "社区"},
    "community_gain": {"en": "{name}{kind}: {what} {diff}", "zh": "{name}{kind}：{what} {diff}"},
    "no_community_change": {"en": "no community clearly gains or loses (time to resolution, satisfaction)",
                            "zh": "没有社区在解决用时或满意度上明确受益或受损"},
    "days_faster": {"en": "days to resolution", "zh": "解决用时（天）"},
    "satisfaction_change": {"en": "satisfaction", "zh": "满意度"},
    "robustness": {"en": "Robustness across futures", "zh": "在不同未来情景下的稳健性"},
    "not_assessed": {"en": "Not assessed: these results hold for one set of conditions (demand, ageing, behaviour as "
                           "in the scenario files). Run a cross experiment (levers × uncertainties) and `govsim robust` "
                           "to rank policies by regret across futures.",
                     "zh": "未评估：以上结果仅适用于一组条件（需求、老龄化与居民行为按情景文件设定）。请运行交叉实验"
                           "（政策杠杆×不确定因素）并用 `govsim robust` 按后悔值对政策排序。"},
    "robust_body": {"en": "In experiment “{name}”, {policies} policies were each run in the same {futures} sampled "
                          "futures. Most robust (meeting the requirements most often, then smallest regret; {req}):",
                    "zh": "在实验“{name}”中，{policies}个政策组合在相同的{futures}个抽样未来情景中分别运行。最稳健的政策"
                          "（先看达标比例，再看后悔值；{req}）："},
    "no_requirements": {"en": "no requirements stated", "zh": "未设定达标要求"},
    "satisficing": {"en": "meets the requirements in {share} of futures", "zh": "在{share}的未来情景中达标"},
    "cost": {"en": "Cost", "zh": "成本"},
    "cost_body": {"en": "{name}: total cost {diff} million yuan ({pct} of the status quo's {base} million yuan): {verdict}.",
                  "zh": "{name}：总成本变化 {diff} 百万元（为现状 {base} 百万元的 {pct}）：{verdict}。"},
    "limits": {"en": "What the model cannot say", "zh": "模型无法回答的问题"},
    "limit_items": {
        "en": "It is a simulation of a stylised district, not a forecast: parameters without a published source are "
              "assumptions (docs/ODD.md marks them A).|Published resolution and satisfaction rates are self-reported "
              "administrative figures; the model's residents' view can differ from them.|It says nothing about "
              "costs and effects outside its mechanisms (political feasibility, staff morale, long-term platform "
              "maintenance beyond the write-off).|“Uncertain” verdicts need more replications (`govsim compare "
              "--precision`), not a looser test.",
        "zh": "这是对一个典型化辖区的模拟，而非预测：没有公开来源的参数均为假设（docs/ODD.md 中标记为A）。|"
              "公开的解决率与满意率是行政自报数据；模型中居民视角的结果可能与之不同。|模型不涉及其机制以外的成本与影响"
              "（政治可行性、人员士气、折旧期之后的平台长期维护）。|“尚不确定”的判定需要更多重复次数"
              "（`govsim compare --precision`），而不是放宽检验。"},
    "replications_note": {"en": "Based on {reps} paired replications; {n_judged} indicator × option verdicts, "
                                "corrected for multiple comparisons together.",
                          "zh": "基于{reps}次配对重复；共{n_judged}项“指标×方案”判定，一并做多重比较校正。"},
    "source": {"en": "Source: {path}; written by govsim {version} from saved results.",
               "zh": "来源：{path}；由 govsim {version} 根据已保存结果生成。"},
    "none": {"en": "none", "zh": "无"},
    "vs": {"en": "vs", "zh": "对比"},
    "appendix": {"en": "Appendix: every indicator (difference from the status quo, verdict; comparison.csv has the "
                       "intervals and thresholds)",
                 "zh": "附录：全部指标（与现状的差值及判定；区间与阈值见 comparison.csv）"},
    "threshold": {"en": "Threshold", "zh": "阈值"},
}
def _kind(kind: str, lang: str) -> str:
    if not kind or kind == "default":
        return ""
    name = kind_label(kind, lang)
    return f"（{name}）" if lang == "zh" else f" ({name})"


def t(key: str, lang: str, **kw) -> str:
    return TEXT[key][lang].format(**kw)


class BriefError(Exception):
    """A directory that holds no comparison, or a brief that cannot be written; the message says why."""


@dataclass
class Brief:
    html: str
    path: Path
    pdf: Path | None


# --------------------------------------------------------------------------------------------------
# Reading

def _flat(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def read_comparison(path: Path) -> tuple[dict, pd.DataFrame]:
    path = Path(path)
    try:
        info = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BriefError(f"'{path}' holds no govsim comparison (no readable manifest.json); "
                         "give the directory `govsim compare` wrote") from None
    if info.get("kind") != "comparison":
        raise BriefError(f"'{path}' holds a govsim {info.get('kind', 'output')}, not a comparison; "
                         "run `govsim compare BASE OTHER...` first")
    comp = pd.read_parquet(path / "comparison.parquet")
    if "threshold" not in comp:
        raise BriefError(f"'{path}' was written by an older govsim without practical thresholds; run the comparison again")
    return info, comp


def scenario_changes(path: Path, info: dict, name: str) -> list[tuple[str, object, object]]:
    """Parameters where the scenario differs from the base (path, base value, scenario value)."""
    dirs = info["directories"]
    base = _flat(yaml.safe_load((path / dirs[info["base"]] / "scenario.yaml").read_text(encoding="utf-8")))
    other = _flat(yaml.safe_load((path / dirs[name] / "scenario.yaml").read_text(encoding="utf-8")))
    skip = ("name", "description", "run.")
    return [(k, base.get(k), v) for k, v in other.items()
            if base.get(k) != v and not k.startswith(skip)]


def community_changes(path: Path, info: dict, name: str) -> pd.DataFrame:
    """Per community: paired difference (scenario − base) of mean days and satisfaction, with a flag
    where the 95% interval excludes 0 and the change reaches the matching metric's practical threshold."""
    dirs = info["directories"]
    b = pd.read_parquet(path / dirs[info["base"]] / "communities.parquet")
    o = pd.read_parquet(path / dirs[name] / "communities.parquet")
    m = b.merge(o, on=["replication", "community"], suffixes=("_b", "_o"))
    rows = []
    rules = {"mean_days": METRIC_BY_NAME["median_days"].practical,
             "satisfaction_all": METRIC_BY_NAME["satisfaction_all"].practical}
    for c, g in m.groupby("community"):
        for col, thr in rules.items():
            mean, lo, hi, _ = _t_stats((g[f"{col}_o"] - g[f"{col}_b"]).to_numpy(dtype=float))
            clear = np.isfinite(lo) and (lo > 0 or hi < 0) and abs(mean) >= thr
            good = (mean < 0) if col == "mean_days" else (mean > 0)
            rows.append({"community": c, "name": g["name_b"].iloc[0], "kind": g["kind_b"].iloc[0], "column": col,
                         "difference": mean, "ci_low": lo, "ci_high": hi, "clear": bool(clear), "gains": bool(good)})
    return pd.DataFrame(rows)


def robustness_summary(sweep: Path) -> dict:
    from sim.experiments.robust import analyse_robustness
    ranking_file = Path(sweep) / "robust" / "ranking.csv"
    info_file = Path(sweep) / "robust" / "robust.json"
    if not ranking_file.is_file():
        analyse_robustness(sweep, figures=False)
    ranking = pd.read_csv(ranking_file, index_col=0)
    info = json.loads(info_file.read_text(encoding="utf-8"))
    return {"ranking": ranking, "futures": info["futures"], "policies": info["policies"], "name": info["experiment"],
            "requirements": info["requirements"]}


# --------------------------------------------------------------------------------------------------
# Writing

def _fmt(x: float, signed: bool = False) -> str:
    from sim.output import format_number
    return format_number(x, signed=signed)


def _cell(r: pd.Series, lang: str) -> str:
    v = r["verdict"]
    cls = {BETTER: "better", WORSE: "worse", NO_CHANGE: "same", UNCERTAIN: "unsure"}.get(v, "nj")
    interval = "" if not np.isfinite(r["ci_low"]) else f" <small>({_fmt(r['ci_low'], True)} … {_fmt(r['ci_high'], True)})</small>"
    word = f"<br><b>{html.escape(verdict_label(v, lang))}</b>" if cls != "nj" else ""
    return f'<td class="{cls}">{_fmt(r["difference"], True)}{interval}{word}</td>'


def render(path: Path, lang: str = "en", robust_dir: Path | None = None) -> str:
    """The brief as one self-contained HTML page."""
    if lang not in ("en", "zh"):
        raise BriefError(f"--lang: '{lang}' is not a language of govsim (allowed: en, zh)")
    path = Path(path)
    info, comp = read_comparison(path)
    base = info["base"]
    options = [s for s in info["scenarios"] if s != base]
    # as the run counted them (communities of kinds or listed one by one have their own sizes)
    residents = int(json.loads((path / info["directories"][base] / "manifest.json").read_text(encoding="utf-8"))
                    ["n_residents"])
    reps = int(comp["replications"].max())
    method = comp["multiplicity"].iloc[0]
    e = html.escape
    parts: list[str] = []
    add = parts.append
    add(f"<h1>{e(t('title', lang))}: {e(', '.join(options))} {e(t('vs', lang))} {e(base)}</h1>")

    add(f"<h2>1. {e(t('question', lang))}</h2><p>" + e(t("question_body", lang, base=base, reps=reps,
                                                           days=info.get("steps", "?"), residents=residents)) + "</p>")
    add(f"<h2>2. {e(t('options', lang))}</h2><ul>")
    for name in options:
        desc = yaml.safe_load((path / info["directories"][name] / "scenario.yaml").read_text(encoding="utf-8")).get(
            "description", "")
        ch = scenario_changes(path, info, name)
        ch_text = "; ".join(f"{k}: {b} → {v}" for k, b, v in ch[:6]) + (" …" if len(ch) > 6 else "")
        add(f"<li><b>{e(name)}</b>" + (f" — {e(str(desc).strip())}" if desc else "")
            + f" <small>({e(t('changes', lang))}: {e(ch_text) if ch else e(t('no_changes', lang))})</small></li>")
    add("</ul>")

    add(f"<h2>3. {e(t('table', lang))}</h2><table><tr><th>{e(t('indicator', lang))}</th>"
        f"<th>{e(t('status_quo', lang))}<br><small>{e(base)}</small></th>"
        + "".join(f"<th>{e(n)}</th>" for n in options) + "</tr>")
    counts = counts_by_e(comp)
    for E in E_ORDER:
        if E not in HEADLINE:
            continue
        add(f'<tr class="e"><td colspan="{2 + len(options)}">{e(e_label(E, lang))}</td></tr>')
        for metric in HEADLINE[E]:
            rows = comp[comp["metric"] == metric].set_index("scenario")
            if rows.empty:
                continue
            m = METRIC_BY_NAME[metric]
            arrow = {"higher": "↑", "lower": "↓", "zero": "→0"}.get(m.better, "")
            add(f"<tr><td>{arrow} {e(label(m, lang))} <small>({e(unit(m, lang))})</small></td>"
                f"<td>{_fmt(rows['base'].iloc[0])}</td>" + "".join(_cell(rows.loc[n], lang) for n in options) + "</tr>")
        n_e = comp.loc[(comp["E"] == E) & (comp["scenario"] == options[0]), "metric"].nunique()
        cells = []
        for n in options:
            c = counts.loc[(n, E)] if (n, E) in counts.index else None
            cells.append("<td class='count'>" + ", ".join(f"{int(c[v])} {e(VERDICT_LABELS[v]['zh' if lang == 'zh' else 'en_short'])}"
                                                          for v in (BETTER, WORSE, NO_CHANGE, UNCERTAIN)
                                                          if c is not None and c[v]) + "</td>")
        add(f"<tr class='count'><td><small>{e(t('others', lang, n=n_e))}</small></td><td></td>{''.join(cells)}</tr>")
    add("</table>")
    add(f"<p class='note'>{e(t('verdict_rule', lang, method=MULTIPLICITY[method][lang]))} "
        f"{e(t('replications_note', lang, reps=reps, n_judged=int((comp['better'] != 'neither').sum())))}</p>")

    add(f"<h2>4. {e(t('tradeoffs', lang))}</h2><ul>")
    sep = "、" if lang == "zh" else ", "
    for name in options:
        part = comp[(comp["scenario"] == name) & (comp["E"] != "Calibration")]
        good = [label(METRIC_BY_NAME[x], lang) for x in part.loc[part["verdict"] == BETTER, "metric"]]
        bad = [label(METRIC_BY_NAME[x], lang) for x in part.loc[part["verdict"] == WORSE, "metric"]]
        bits = []
        if good:
            bits.append(f"<span class='better'>{e(t('gains', lang))} {e(sep.join(good))}</span>")
        if bad:
            bits.append(f"<span class='worse'>{e(t('losses', lang))} {e(sep.join(bad))}</span>")
        if not bits:
            bits.append(e(t("nothing_clear", lang)))
        n_unc = int((part["verdict"] == UNCERTAIN).sum())
        add(f"<li><b>{e(name)}</b>: " + "; ".join(bits) + f"; <small>{e(t('n_uncertain', lang, n=n_unc))}</small></li>")
    add("</ul>")

    add(f"<h2>5. {e(t('who', lang))}</h2><ul>")
    for name in options:
        part = comp[comp["scenario"] == name].set_index("metric")
        older = []
        for metric in ("gap_days_60plus", "gap_satisfaction_60plus", "silent_share_60plus"):
            if metric in part.index:
                r = part.loc[metric]
                older.append(f"{label(METRIC_BY_NAME[metric], lang)} {_fmt(r['difference'], True)} "
                             f"({verdict_label(r['verdict'], lang)})")
        cc = community_changes(path, info, name)
        clear = cc[cc["clear"]]
        if clear.empty:
            comm = t("no_community_change", lang)
        else:
            comm = "; ".join(t("community_gain", lang, name=r["name"], kind=_kind(r["kind"], lang),
                               what=t("days_faster" if r["column"] == "mean_days" else "satisfaction_change", lang),
                               diff=_fmt(r["difference"], True)) for _, r in clear.iterrows())
        add(f"<li><b>{e(name)}</b> — {e(t('older', lang))}: {e(sep.join(older))}. "
            f"{e(t('communities', lang))}: {e(comm)}.</li>")
    add("</ul>")

    add(f"<h2>6. {e(t('robustness', lang))}</h2>")
    if robust_dir is None:
        add(f"<p>{e(t('not_assessed', lang))}</p>")
    else:
        rs = robustness_summary(Path(robust_dir))
        req = ("; ".join(rs["requirements"]) if rs["requirements"] else t("no_requirements", lang))
        add(f"<p>{e(t('robust_body', lang, name=rs['name'], policies=rs['policies'], futures=rs['futures'], req=req))}</p><ol>")
        for pid, row in rs["ranking"].head(3).iterrows():
            sat = (" — " + t("satisficing", lang, share=f"{row['satisficing']:.0%}")) if "satisficing" in row else ""
            add(f"<li>{e(str(row['label']))}{e(sat)}</li>")
        add("</ol>")

    add(f"<h2>7. {e(t('cost', lang))}</h2><ul>")
    for name in options:
        r = comp[(comp["scenario"] == name) & (comp["metric"] == "total_cost")].iloc[0]
        pct = f"{100 * r['value'] / r['base']:.0f}%" if r["base"] else "–"
        add(f"<li>{e(t('cost_body', lang, name=name, diff=_fmt(r['difference'], True), pct=pct, base=_fmt(r['base']), verdict=verdict_label(r['verdict'], lang)))}</li>")
    add("</ul>")

    add(f"<h2>8. {e(t('limits', lang))}</h2><ul>"
        + "".join(f"<li>{e(x)}</li>" for x in TEXT["limit_items"][lang].split("|")) + "</ul>")
    add(appendix(comp, base, options, lang))
    add(f"<p class='src'>{e(t('source', lang, path=str(path), version=info.get('versions', {}).get('govsim', '?')))}</p>")
    return PAGE.format(lang="zh-CN" if lang == "zh" else "en", title=e(t("title", lang)), body="\n".join(parts))


def appendix(comp: pd.DataFrame, base: str, options: list[str], lang: str) -> str:
    """Every indicator on a second page: base value, threshold, and each option's difference and verdict."""
    e = html.escape
    out = [f"<div class='appendix'><h2>{e(t('appendix', lang))}</h2><table><tr><th>{e(t('indicator', lang))}</th>"
           f"<th>{e(t('status_quo', lang))}</th><th>{e(t('threshold', lang))}</th>"
           + "".join(f"<th>{e(n)}</th>" for n in options) + "</tr>"]
    for E, indicators in by_e(comp, options):
        out.append(f'<tr class="e"><td colspan="{3 + len(options)}">{e(e_label(E, lang))}</td></tr>')
        for row in indicators:
            m = row.metric
            cells = []
            for r in row.options:
                v = verdict_label(r["verdict"], lang, short=True)
                cls = {BETTER: "better", WORSE: "worse", NO_CHANGE: "same", UNCERTAIN: "unsure"}.get(r["verdict"], "nj")
                cells.append(f"<td class='{cls}'>{_fmt(r['difference'], True)} {e(v)}</td>")
            thr = "" if m.better == "neither" else _fmt(row.threshold)
            out.append(f"<tr><td>{e(label(m, lang))} <small>({e(unit(m, lang))})</small></td>"
                       f"<td>{_fmt(row.base)}</td><td>{thr}</td>{''.join(cells)}</tr>")
    out.append("</table></div>")
    return "".join(out)


PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
@page {{ size: A4; margin: 9mm; }}
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans", Arial, sans-serif; font-size: 10.5px;
        line-height: 1.35; color: #222; max-width: 190mm; margin: 0 auto; }}
h1 {{ font-size: 16px; margin: 0 0 4px; }}
h2 {{ font-size: 12px; margin: 8px 0 3px; border-bottom: 1px solid #ccc; }}
p, ul, ol {{ margin: 2px 0 4px; }} li {{ margin: 1px 0; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ddd; padding: 2px 4px; vertical-align: top; }}
td:not(:first-child), th:not(:first-child) {{ text-align: right; }}
tr.e td {{ background: #eee; font-weight: bold; }}
tr.count td {{ color: #555; font-size: 9.5px; }}
td.better, span.better {{ color: #146c2e; }} td.better {{ background: #e7f5ea; }}
td.worse, span.worse {{ color: #a61b1b; }} td.worse {{ background: #fbe9e9; }}
td.same {{ color: #1d4f91; }} td.unsure {{ color: #666; }}
small {{ color: #666; }} .note, .src {{ font-size: 9.5px; color: #555; }}
.appendix {{ break-before: page; margin-top: 14px; }} .appendix td, .appendix th {{ padding: 1px 3px; }}
@media print {{ body {{ font-size: 8.8px; line-height: 1.25; }} h1 {{ font-size: 12px; }} h2 {{ font-size: 9.5px; margin-top: 4px; }}
  th, td {{ padding: 1px 3px; }} tr.count td {{ font-size: 8px; }} .note, .src {{ font-size: 8px; }} }}
</style></head><body>
{body}
</body></html>
"""


def write_brief(path: Path, out: Path | None = None, lang: str = "en", robust_dir: Path | None = None,
                pdf: bool = True) -> Brief:
    """Write brief[-zh].html (and .pdf if Chromium is available) into the comparison directory or `out`."""
    page = render(path, lang, robust_dir)
    out = Path(out) if out else Path(path) / ("brief.html" if lang == "en" else f"brief-{lang}.html")
    out.write_text(page, encoding="utf-8")
    pdf_path = None
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if pdf and chromium:
        pdf_path = out.with_suffix(".pdf")
        try:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                            f"--print-to-pdf={pdf_path}", out.resolve().as_uri()],
                           capture_output=True, timeout=120, check=True)
        except (OSError, subprocess.SubprocessError):
            pdf_path = None
    return Brief(page, out, pdf_path if pdf_path and pdf_path.is_file() else None)
