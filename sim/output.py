"""Writing results: run directories, comparison directories, their figures and their README.

A run directory holds everything one ``govsim run`` produced, each table in Parquet (for analysis) and
CSV (for a spreadsheet), the resolved scenario, a manifest (seeds, versions, commit) and PNG figures.
Figures are drawn from the same frames that are written, so a figure never shows what the files do
not hold. Directories are written under a hidden sibling name and renamed into place at the end
(:func:`staged_dir`), so a directory that carries the final name is always complete.

This module knows nothing of the command line: it takes a scenario and results and writes files.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import paths
from sim.maps import MAP_FILE, MAP_FILES, plot_maps
from sim.metrics import E_ORDER, METRIC_BY_NAME, QUEUE_DOC, QUEUE_PREFIX, SERIES_DOC
from sim.runner import RunResult, daily_long, manifest, summarise, summary_frame
from sim.paths import MANIFEST, UnsafePathError
from sim.plotting import cjk_fonts, fixed_margins
from sim.scenario import Scenario, department_label, scenario_yaml

BAND = (0.025, 0.975)  # quantiles across replications drawn as the band around the mean

# --------------------------------------------------------------------------------------------------
# What every file and column means (the README of each directory is written from these).

RUN_FILES: dict[str, str] = {
    "README.txt": "this description of the files and their columns",
    "scenario.yaml": "the resolved scenario: every parameter as run (base file, `extends` and --set applied)",
    MANIFEST: "seed and per-replication seeds, package versions, git commit, time, command line, files",
    "summary.parquet": "one row per replication: its seed and every 4E indicator",
    "summary.csv": "the same as summary.parquet",
    "summary_table.csv": "mean and 95% confidence interval over replications of every 4E indicator",
    "daily.parquet": "one row per replication and day: the daily series",
    "daily.csv": "the same as daily.parquet",
    "grids.parquet": "one row per replication and grid: residents, staffing and outcomes at the end of the run",
    "grids.csv": "the same as grids.parquet",
    "departments.parquet": "one row per replication and department: queue statistics (Little's law L = λW)",
    "departments.csv": "the same as departments.parquet",
    "communities.parquet": "one row per replication and community: its kind, 60+ share and outcomes, with the 60+ gaps",
    "communities.csv": "the same as communities.parquet",
    "perspectives.parquet": "resolution, time and satisfaction seen by the administration (known cases, from filing) "
                            "and by residents (all problems, from need), by age group",
    "perspectives.csv": "the same as perspectives.parquet",
    "figures/backlog.png": "open cases at the centre or a department, by day",
    "figures/satisfaction.png": "satisfaction with the problems finished so far (unmet ones count), residents "
                                "aged 60+ and the others, by day (columns satisfaction_all_60plus, _under60)",
    "figures/trust.png": "mean trust in government, by day",
    "figures/cost.png": "cumulative cost, by day",
    "figures/resolved_escalated.png": "problems resolved and problems escalated per day (7-day mean)",
    "figures/department_queues.png": "cases waiting in each department's queue, by day",
    **MAP_FILES,
}

COMPARISON_FILES: dict[str, str] = {
    "README.txt": "this description of the files and their columns",
    MANIFEST: "seed, replications, scenarios and their directories, package versions, git commit, command line",
    "comparison.parquet": "one row per compared scenario and indicator: paired difference from the base with 95% interval",
    "comparison.csv": "the same as comparison.parquet",
    "comparison_forest.png": "differences from the base with 95% intervals, in multiples of each indicator's practical "
                             "threshold (shared scale), one panel per E",
    "comparison_daily.png": "daily backlog, satisfaction, trust and cumulative cost of every scenario (mean and band)",
    "<scenario>/": "a full run directory per scenario (see its README.txt), run with the same seeds",
}

ID_COLUMNS: dict[str, str] = {
    "scenario": "scenario name",
    "replication": "replication index k (0-based); its seed is derived from the root seed and k alone",
    "seed": "seed of this replication (the same k gets the same seed in every scenario)",
    "day": "day of the simulation (1 = the end of the first day)",
}

# Daily series recorded by GovernanceModel (sim.model.DAILY_SERIES): unit and meaning.

GRID_DOC: dict[str, tuple[str, str]] = {
    "grid": ("", "grid index (0-based)"),
    "community": ("", "community index (0-based) the grid belongs to"),
    "subdistrict": ("", "subdistrict index (0-based)"),
    "residents": ("residents", "residents of the grid"),
    "share_60plus": ("0–1", "share of the grid's residents aged 60+"),
    "grid_workers": ("workers", "grid workers of the grid at the end of the run"),
    "satisfaction": ("0–1", "mean satisfaction of the grid's residents at the end"),
    "trust": ("0–1", "mean trust of the grid's residents at the end"),
    "problems_finished": ("problems", "problems of the grid's residents that finished (resolved, unresolved, escalated or abandoned)"),
    "resolved": ("problems", "problems of the grid's residents resolved during the run"),
    "escalated": ("problems", "problems that escalated during the run"),
    "abandoned": ("problems", "problems abandoned unreported during the run"),
    "found_by_patrol": ("problems", "problems found by grid workers before a report"),
    "resolved_share": ("0–1", "resolved among all finished problems (reported or not)"),
    "mean_days": ("days", "mean days from a problem arising to its resolution"),
    "served_satisfaction": ("0–1", "mean satisfaction judgement of residents whose case was handled"),
    "satisfaction_all": ("0–1", "mean judgement over all finished problems (silent ones count as unmet)"),
    "reported_gap_satisfaction": ("0–1", "served_satisfaction minus satisfaction_all: how much better the "
                                  "administration's records look than what residents lived"),
    "satisfaction_60plus": ("0–1", "satisfaction_all of the grid's residents aged 60+"),
    "satisfaction_under60": ("0–1", "satisfaction_all of the grid's residents under 60"),
    "gap_satisfaction_60plus": ("0–1", "satisfaction over all problems, others minus 60+ (signed; 0 is parity)"),
    "gap_days_60plus": ("days", "mean days to resolution, 60+ minus others (signed; 0 is parity)"),
    "open_problems": ("problems", "problems still open at the end (reported or not)"),
}

COMMUNITY_DOC: dict[str, tuple[str, str]] = {
    "community": ("", "community index (0-based)"),
    "name": ("", "community name (from the scenario, or 'community k')"),
    "kind": ("", "community kind (population.community_kinds), or 'default'"),
    "subdistrict": ("", "subdistrict index (0-based)"),
    "residents": ("residents", "residents of the community"),
    "share_60plus": ("0–1", "share of the community's residents aged 60+"),
    "problems_finished": ("problems", "problems that finished during the run (reported or not)"),
    "resolved_share": ("0–1", "resolved among all finished problems"),
    "mean_days": ("days", "mean days from need to resolution"),
    "served_satisfaction": ("0–1", "mean judgement of residents whose case was handled"),
    "satisfaction_all": ("0–1", "mean judgement over all finished problems (silent ones count as unmet)"),
    "escalated": ("problems", "problems that escalated during the run"),
    "community_staff": ("problems", "finished problems the community's own staff handled (小事不出社区; "
                        "staffing.community_capacity_per_10k)"),
    "community_settled": ("problems", "of those, problems the community's own staff resolved"),
    "gap_days_60plus": ("days", "mean days to resolution, 60+ minus others (signed; 0 is parity)"),
    "gap_satisfaction_60plus": ("0–1", "satisfaction over all problems, others minus 60+ (signed; 0 is parity)"),
}

PERSPECTIVE_DOC: dict[str, tuple[str, str]] = {
    "view": ("", "administration: cases it knew of, time from filing; residents: all problems, time from need"),
    "age_group": ("", "all, 60+ or under 60"),
    "problems": ("problems", "problems counted in this view"),
    "resolved_share": ("0–1", "resolved among the problems counted"),
    "mean_days": ("days", "mean days to resolution"),
    "median_days": ("days", "median days to resolution (from the actual times)"),
    "p90_days": ("days", "90th percentile of days to resolution"),
    "satisfaction": ("0–1", "mean satisfaction judgement"),
}

DEPARTMENT_DOC: dict[str, tuple[str, str]] = {
    "department": ("", "department name"),
    "subdistrict": ("", "subdistrict whose team this is (0-based)"),
    "joined": ("", "joined to the shared data platform at the end of the run"),
    "staff": ("staff", "staff of the team (per 10,000 residents × residents)"),
    "handlers": ("servers", "case handlers serving the queue in parallel (c of M/M/c)"),
    "hours_per_handler": ("hours per day", "working hours of one handler per day"),
    "capacity_hours_per_day": ("hours per day", "handler-hours available per day (before overtime)"),
    "arrivals": ("cases", "cases that entered the department's queue during the run"),
    "departures": ("cases", "cases that left the queue during the run (served, fixed at the cause, escalated)"),
    "services": ("cases", "cases taken into service during the run"),
    "mean_in_queue": ("cases", "time-averaged number of cases in the queue (L)"),
    "arrival_rate": ("cases per day", "arrivals per day (λ)"),
    "mean_time_in_queue": ("days", "mean time a case spent in the queue (W)"),
    "share_waited": ("0–1", "share of services that had to wait for a free handler (Erlang C's P(wait))"),
    "utilisation": ("0–1", "work-days done over handler-days available"),
    "overtime_hours": ("hours", "overtime worked during the run (surge capacity)"),
    "queue_at_end": ("cases", "cases in the queue at the end of the run"),
}

SUMMARY_TABLE_DOC: dict[str, tuple[str, str]] = {
    "metric": ("", "indicator name (a column of summary.csv)"),
    "E": ("", "which E of the 4E framework (Economy, Efficiency, Effectiveness, Equity) or Calibration"),
    "label": ("", "indicator label"),
    "label_zh": ("", "indicator label in Chinese"),
    "unit": ("", "unit of the indicator"),
    "unit_zh": ("", "unit of the indicator in Chinese"),
    "better": ("", "which direction is better: higher, lower or neither"),
    "mean": ("unit", "mean over replications"),
    "ci_low": ("unit", "lower end of the 95% confidence interval of the mean (t-based; empty with one replication)"),
    "ci_high": ("unit", "upper end of the 95% confidence interval of the mean"),
}

COMPARISON_DOC: dict[str, tuple[str, str]] = {
    "scenario": ("", "the compared scenario"),
    "base_scenario": ("", "the base it is compared with"),
    "metric": ("", "indicator name"),
    "E": ("", "which E of the 4E framework, or Calibration"),
    "label": ("", "indicator label"),
    "label_zh": ("", "indicator label in Chinese"),
    "unit": ("", "unit of the indicator"),
    "unit_zh": ("", "unit of the indicator in Chinese"),
    "better": ("", "which direction is better: higher, lower, zero (parity) or neither"),
    "base": ("unit", "mean of the base over replications"),
    "value": ("unit", "mean of the compared scenario over replications"),
    "difference": ("unit", "mean over replications of (scenario − base), paired by replication (same seed)"),
    "ci_low": ("unit", "lower end of the 95% interval of the paired difference"),
    "ci_high": ("unit", "upper end of the 95% interval of the paired difference"),
    "judged_difference": ("unit", "the difference judged: as `difference`, or |scenario| − |base| for a gap judged by its "
                                  "distance from parity"),
    "judged_ci_low": ("unit", "lower end of the 95% interval of the judged difference"),
    "judged_ci_high": ("unit", "upper end of the 95% interval of the judged difference"),
    "p_value": ("", "two-sided paired t-test of the judged difference (uncorrected)"),
    "p_adjusted": ("", "p-value corrected for multiple comparisons across every judged row of this table"),
    "threshold": ("unit", "practical threshold: the smallest change that matters (declared with the metric, or --practical)"),
    "threshold_rule": ("", "how the threshold was set: a value in the unit, or a % of the base mean"),
    "verdict": ("", "better / worse (clear after the correction and at least the threshold), no meaningful change "
                    "(95% interval within ± threshold), uncertain (neither), not judged (no better direction)"),
    "multiplicity": ("", "the correction for multiple comparisons: holm, fdr (Benjamini–Hochberg) or none"),
    "replications": ("runs", "paired replications"),
}


OutputError = UnsafePathError  # an output directory that cannot be used; the message says why


@dataclass(frozen=True)
class RunTables:
    """The frames a run directory holds (what the CLI prints is read from these)."""
    summary: pd.DataFrame
    summary_table: pd.DataFrame
    daily: pd.DataFrame
    grids: pd.DataFrame
    departments: pd.DataFrame
    communities: pd.DataFrame
    perspectives: pd.DataFrame


# --------------------------------------------------------------------------------------------------
# Directories

def dir_name(name: str) -> str:
    """A scenario name made safe for a directory name."""
    return paths.dir_name(name, "scenario")


def is_output_dir(path: Path) -> bool:
    """Whether `path` holds a complete govsim run or comparison (its manifest says so and lists its files)."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") in ("run", "comparison", "observe") and paths.own_files(path) is not None


def _check_replaceable(out: Path) -> None:
    """A previous output may be replaced only if it holds nothing but the files govsim listed in it."""
    if not is_output_dir(out):
        raise OutputError(f"--out '{out}' exists and does not hold a govsim output; "
                          "choose a new or empty directory")
    foreign = paths.foreign_files(out)
    if foreign:
        raise OutputError(f"--out '{out}' holds files govsim did not write ({paths.describe_files(foreign)}); "
                          "move them away or choose another directory")


def claim_out_dir(out: Path | None, default: Path, *, force: bool = False) -> Path:
    """The directory to write to, checked to be writable (before a long run).

    Without `out`, `default` (suffixed -2, -3, ... if taken). An existing `out` must be empty, or
    hold a previous govsim output with nothing but govsim's own files in it and `force` be given;
    anything else is refused, so that a mistyped --out can never delete a directory of other files.
    """
    if out is None:
        path = paths.free_name(default)
        paths.check_writable(path)
        return path
    out = paths.user_path(out)
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"--out '{out}' is a file, not a directory")
        if any(out.iterdir()):
            _check_replaceable(out)
            if not force:
                raise OutputError(f"--out '{out}' already holds a previous run; "
                                  "use --force to replace it, or choose another directory")
    paths.check_writable(out)
    return out


# The base names of every file a run or comparison directory holds (a stale partial directory holding
# only these may be removed).
KNOWN_NAMES = {Path(f).name for f in (*RUN_FILES, *COMPARISON_FILES)} | {MANIFEST}


def write_own_manifest(directory: Path, info: dict, files: Sequence[str]) -> None:
    """Write the manifest last, with the list of the files govsim wrote (the only ones it may remove)."""
    _write_json(Path(directory) / MANIFEST, {**info, paths.FILES_KEY: sorted(files)})


@contextmanager
def staged_dir(final: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a hidden sibling directory to write into; move it to `final` when the block succeeds.

    On any error (or Ctrl-C) the partial directory is removed, so nothing that looks complete is left;
    partial directories of killed runs are removed on the next run. A previous output at `final` is
    replaced only with `replace` (see :func:`claim_out_dir`), and only once the new one is complete.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    paths.clean_partials(final.parent, KNOWN_NAMES)
    tmp = paths.partial_name(final)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_in(tmp, final, replace)


def _swap_in(tmp: Path, final: Path, replace: bool) -> None:
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()
    if not final.exists():
        os.rename(tmp, final)
        return
    if not (replace and is_output_dir(final)) or paths.foreign_files(final):
        # Something took the name while this ran, or the user added files: keep both, say where the results are.
        alt = paths.free_name(final)
        os.rename(tmp, alt)
        raise OutputError(f"'{final}' was changed by something else while this ran; "
                          f"it is untouched and the results are in '{alt}'")
    own = paths.own_files(final)
    if paths.exchange(tmp, final):  # one atomic step: the old or the new directory is always in place
        old = tmp
    else:  # no renameat2 here: two renames, the old copy kept (hidden) until the new one is in place
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(final, old)
        try:
            os.rename(tmp, final)
        except OSError:
            os.rename(old, final)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    left = paths.remove_own_files(old, own)
    if left:  # files added to the old output while this ran: never deleted, moved into view
        alt = paths.free_name(final.with_name(f"{final.name}-previous"))
        os.rename(old, alt)
        raise OutputError(f"the results are in '{final}'; files added to the previous output while this ran "
                          f"({paths.describe_files(left)}) were moved to '{alt}'")


# --------------------------------------------------------------------------------------------------
# Run directories

def run_tables(scenario: Scenario, results: Sequence[RunResult]) -> RunTables:
    """The frames of a run directory, from the results of its replications."""
    name = scenario.name
    first = scenario.run.first_replication
    summary = summary_frame(list(results), name, first)

    def stacked(attr: str) -> pd.DataFrame:
        frames = []
        for k, r in enumerate(results, start=first):
            f = getattr(r, attr).copy()
            f.insert(0, "seed", r.seed)
            f.insert(0, "replication", k)
            f.insert(0, "scenario", name)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    return RunTables(summary=summary, summary_table=summarise(summary), daily=daily_long(list(results), name, first),
                     grids=stacked("grids"), departments=stacked("departments"),
                     communities=stacked("communities"), perspectives=stacked("perspectives"))


def write_run(directory: Path, scenario: Scenario, results: Sequence[RunResult], *,
              source: str | None = None, figures: bool = True, tables: RunTables | None = None,
              warm_start: dict | None = None, precision: dict | None = None) -> RunTables:
    """Write a run directory: tables, resolved scenario, figures, README and (last) the manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = tables or run_tables(scenario, results)
    _write_frame(tables.summary, directory / "summary")
    paths.write_csv(tables.summary_table, directory / "summary_table.csv")
    _write_frame(tables.daily, directory / "daily")
    _write_frame(tables.grids, directory / "grids")
    _write_frame(tables.departments, directory / "departments")
    _write_frame(tables.communities, directory / "communities")
    _write_frame(tables.perspectives, directory / "perspectives")
    (directory / "scenario.yaml").write_text(scenario_yaml(scenario), encoding="utf-8")
    files = dict(RUN_FILES)
    if figures:
        plot_run(directory / "figures", scenario, tables.daily)
        plot_maps(directory / MAP_FILE, scenario, tables.grids, tables.communities, len(results))
    else:
        files = {k: v for k, v in files.items() if not k.startswith("figures/")}
    (directory / "README.txt").write_text(run_readme(scenario, tables, files), encoding="utf-8")
    info = manifest(kind="run", scenario_name=scenario.name, source=source, seed=scenario.run.seed,
                    replications=len(results), steps=scenario.run.steps, seeds=[int(r.seed) for r in results],
                    n_residents=scenario.n_residents, outputs=files,
                    **({"warm_start": warm_start} if warm_start else {}),
                    **({"precision": precision} if precision else {}))
    write_own_manifest(directory, info, paths.files_below(directory))
    return tables


def _write_frame(frame: pd.DataFrame, stem: Path) -> None:
    frame.to_parquet(stem.with_suffix(".parquet"), index=False)
    paths.write_csv(frame, stem.with_suffix(".csv"))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _columns_doc(columns, docs: Mapping[str, tuple[str, str]]) -> list[str]:
    lines = []
    for col in columns:
        if col in ID_COLUMNS:
            unit, text = "", ID_COLUMNS[col]
        elif col in docs:
            unit, text = docs[col]
        elif col.startswith(QUEUE_PREFIX):
            unit, text = QUEUE_DOC
            text = f"{text} ({col.removeprefix(QUEUE_PREFIX)})"
        elif col in METRIC_BY_NAME:
            m = METRIC_BY_NAME[col]
            unit, text = m.unit, f"{m.label} [{m.e}; {m.better} is better]" + (f": {m.description}" if m.description else "")
        else:
            unit, text = "", "(undocumented)"
        if unit == "unit":  # a value in the unit named by the row's own `unit` column
            unit = "in the row's unit"
        lines.append(f"  {col}" + (f" [{unit}]" if unit else "") + f": {text}")
    return lines


def undocumented_columns(frame: pd.DataFrame, docs: Mapping[str, tuple[str, str]]) -> list[str]:
    """Columns a README would list as undocumented (a test keeps this empty)."""
    return [c for c in frame.columns if "(undocumented)" in _columns_doc([c], docs)[0]]


def run_readme(scenario: Scenario, tables: RunTables, files: Mapping[str, str]) -> str:
    r = scenario.run
    out = [f"govsim run of scenario '{scenario.name}'",
           *( [f"  {scenario.description.strip()}"] if scenario.description.strip() else []),
           f"{scenario.n_residents:,} residents, {r.steps} days, {len(tables.summary)} replications, root seed {r.seed}.",
           "Rerun with: govsim run scenario.yaml --out DIR   (same seed, same results)",
           "",
           "Files",
           *[f"  {name}: {text}" for name, text in files.items()],
           "",
           "Figures show the mean over replications and a band from the 2.5th to the 97.5th percentile across",
           "replications (the spread of single runs, not a confidence interval of the mean).",
           "",
           "Columns of summary.parquet / summary.csv", *_columns_doc(tables.summary.columns, {}),
           "",
           "Columns of summary_table.csv", *_columns_doc(tables.summary_table.columns, SUMMARY_TABLE_DOC),
           "",
           "Columns of daily.parquet / daily.csv", *_columns_doc(tables.daily.columns, SERIES_DOC),
           "",
           "Columns of grids.parquet / grids.csv", *_columns_doc(tables.grids.columns, GRID_DOC),
           "",
           "Columns of departments.parquet / departments.csv", *_columns_doc(tables.departments.columns, DEPARTMENT_DOC),
           "", "Columns of communities.parquet / communities.csv", *_columns_doc(tables.communities.columns, COMMUNITY_DOC),
           "", "Columns of perspectives.parquet / perspectives.csv", *_columns_doc(tables.perspectives.columns, PERSPECTIVE_DOC),
           ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# Comparisons

def comparison_frame(base: str, summaries: Mapping[str, pd.DataFrame], *, practical=None,
                     method: str = "holm") -> pd.DataFrame:
    """Each scenario's paired difference from `base`, judged as one table (:mod:`sim.verdicts`)."""
    from sim.verdicts import comparison_table
    return comparison_table(base, summaries, practical=practical, method=method)


def write_comparison(directory: Path, base: str, tables: Mapping[str, RunTables], dirs: Mapping[str, str], *,
                     seed: int, steps: int, sources: Mapping[str, str] | None = None,
                     figures: bool = True, warm_start: dict | None = None, practical=None, method: str = "holm",
                     precision: dict | None = None) -> pd.DataFrame:
    """Write the comparison files beside the per-scenario run directories (already written)."""
    from sim.verdicts import MULTIPLICITY
    directory = Path(directory)
    comp = comparison_frame(base, {name: t.summary for name, t in tables.items()}, practical=practical, method=method)
    _write_frame(comp, directory / "comparison")
    files = dict(COMPARISON_FILES)
    if figures:
        plot_forest(directory / "comparison_forest.png", comp)
        plot_comparison_daily(directory / "comparison_daily.png", {n: t.daily for n, t in tables.items()})
    else:
        files = {k: v for k, v in files.items() if not k.endswith(".png")}
    readme = [f"govsim comparison with base '{base}'",
              "Scenarios (directory): " + ", ".join(f"{n} ({dirs[n]}/)" for n in tables),
              f"{len(next(iter(tables.values())).summary)} replications of {steps} days per scenario, root seed {seed}; "
              "replication k of every scenario uses the same seed (common random numbers), so differences are paired.",
              "Verdicts: better/worse = clear after " + MULTIPLICITY[method]["en"] + " and at least the indicator's",
              "practical threshold; no meaningful change = the 95% interval lies within ± that threshold; uncertain = neither.",
              *([f"Replications chosen by --precision: {precision}"] if precision else []),
              "", "Files", *[f"  {name}: {text}" for name, text in files.items()],
              "", "Columns of comparison.parquet / comparison.csv", *_columns_doc(comp.columns, COMPARISON_DOC), ""]
    (directory / "README.txt").write_text("\n".join(readme), encoding="utf-8")
    info = manifest(kind="comparison", base=base, scenarios=list(tables), directories=dict(dirs),
                    sources=dict(sources or {}), seed=seed, steps=steps, multiplicity=method,
                    practical_overrides={k: {"value": v.value, "kind": v.kind} for k, v in (practical or {}).items()},
                    **({"precision": precision} if precision else {}),
                    replications=len(next(iter(tables.values())).summary), outputs=files,
                    **({"warm_start": warm_start} if warm_start else {}))
    write_own_manifest(directory, info, paths.files_below(directory))
    return comp


# --------------------------------------------------------------------------------------------------
# Figures (matplotlib Figure objects rendered with Agg by savefig: no display, no pyplot state)

def _subplots(*grid, figsize, **kwargs):
    """A figure and its axes without pyplot: no global backend or figure registry is touched."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **kwargs)


def _tab10(i: int):
    import matplotlib
    return matplotlib.colormaps["tab10"](i % 10)


def band(daily: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean and 2.5–97.5% quantiles across replications of a daily column, by day."""
    g = daily.groupby("day")[column]
    return pd.DataFrame({"mean": g.mean(), "lo": g.quantile(BAND[0]), "hi": g.quantile(BAND[1])})


def _rolling(daily: pd.DataFrame, column: str, window: int = 7) -> pd.DataFrame:
    f = daily[["replication", "day", column]].sort_values(["replication", "day"]).copy()
    f[column] = f.groupby("replication")[column].transform(lambda s: s.rolling(window, min_periods=1).mean())
    return f


def _draw(ax, b: pd.DataFrame, label: str | None = None, color=None, alpha: float = 0.2):
    line, = ax.plot(b.index, b["mean"], label=label, color=color, lw=1.6)
    ax.fill_between(b.index, b["lo"], b["hi"], color=line.get_color(), alpha=alpha, lw=0)
    return line


def _events(ax, scenario: Scenario, offset: int = 0) -> None:
    """Shade shocks and mark timeline changes, so a jump in a series can be read against its cause.
    Their days count from the first day of the books (`offset`: a run branched from a saved state)."""
    for s in scenario.shocks:
        ax.axvspan(offset + s.start + 0.5, offset + s.end + 1.5, color="tab:red", alpha=0.08, lw=0)
        ax.text(offset + s.start + 1, 0.98, s.name, transform=ax.get_xaxis_transform(), va="top", fontsize=7,
                color="tab:red")
    for c in scenario.timeline:
        ax.axvline(offset + c.day + 0.5, color="0.4", ls="--", lw=0.8)
        ax.text(offset + c.day + 1, 0.02, c.label or f"change, day {c.day}", transform=ax.get_xaxis_transform(),
                rotation=90, va="bottom", fontsize=7, color="0.3")


def _finish(fig, ax, path: Path, title: str, ylabel: str, n_reps: int, legend: bool = False) -> None:
    ax.set_title(title)
    ax.set_xlabel("day")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.margins(x=0)
    ax.set_ylim(*next((r for u, r in Y_RANGE.items() if u in ylabel), (0.0, None)))
    if legend:
        ax.legend(fontsize=8, loc="best")
    fig.text(0.99, 0.01, f"mean of {n_reps} replications; band: 2.5–97.5% across replications",
             ha="right", va="bottom", fontsize=7, color="0.4")
    fixed_margins(fig)
    fig.savefig(path, dpi=110)


def plot_run(directory: Path, scenario: Scenario, daily: pd.DataFrame) -> list[Path]:
    """The PNG figures of a run directory (see RUN_FILES)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n = int(daily["replication"].nunique())
    name = scenario.name
    paths = []
    offset = int(daily["day"].min()) - 1 if len(daily) else 0   # > 0: branched from a saved state

    def single(file, column, title, ylabel):
        fig, ax = _subplots(figsize=(7, 4))
        _draw(ax, band(daily, column))
        _events(ax, scenario, offset)
        _finish(fig, ax, directory / file, f"{title} — {name}", ylabel, n)
        paths.append(directory / file)

    single("backlog.png", "backlog", "Backlog", "open cases")
    single("trust.png", "trust", "Mean trust in government", "trust (0–1)")
    single("cost.png", "cost", "Cumulative cost", "million yuan")

    # Satisfaction as the equity metrics judge it: every problem finished so far, by age. (The mean
    # satisfaction of all residents barely moves: most are never served in a year.)
    fig, ax = _subplots(figsize=(7, 4))
    _draw(ax, band(daily, "satisfaction_all_60plus"), "aged 60+", "tab:purple")
    _draw(ax, band(daily, "satisfaction_all_under60"), "under 60", "tab:green")
    _events(ax, scenario, offset)
    _finish(fig, ax, directory / "satisfaction.png", f"Satisfaction with problems finished so far, by age — {name}",
            "satisfaction (0–1)", n, True)
    paths.append(directory / "satisfaction.png")

    fig, axes = _subplots(1, 2, figsize=(10, 4))
    for ax, col, color in zip(axes, ("resolved", "escalated"), ("tab:blue", "tab:red")):
        _draw(ax, band(_rolling(daily, col), col), color=color)
        _events(ax, scenario, offset)
        ax.set_title(f"Problems {col} per day (7-day mean)")
        ax.set_xlabel("day")
        ax.set_ylabel("problems per day")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.margins(x=0)
    fig.suptitle(name)
    fig.text(0.99, 0.01, f"mean of {n} replications; band: 2.5–97.5% across replications",
             ha="right", va="bottom", fontsize=7, color="0.4")
    fixed_margins(fig, top=0.75, wspace=0.25)
    fig.savefig(directory / "resolved_escalated.png", dpi=110)
    paths.append(directory / "resolved_escalated.png")

    # One small panel per department: nine overlapping bands in one panel cannot be read.
    queues = [c for c in daily.columns if c.startswith(QUEUE_PREFIX)]
    ncols = min(3, max(1, len(queues)))
    nrows = max(1, -(-len(queues) // ncols))
    with cjk_fonts():   # the panels are named in English and Chinese
        fig, axes = _subplots(nrows, ncols, figsize=(3.4 * ncols, 2.1 * nrows + 0.6), sharex=True, squeeze=False)
        for ax, col in zip(axes.flat, queues):
            _draw(ax, band(daily, col), color="tab:blue")
            _events(ax, scenario, offset)
            key = col.removeprefix(QUEUE_PREFIX)
            en, zh = (department_label(key, scenario.staffing.departments.get(key), lang) for lang in ("en", "zh"))
            ax.set_title(en if zh == en else f"{en} {zh}", fontsize=9)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.margins(x=0)
            ax.tick_params(labelsize=8)
        for ax in axes.flat[len(queues):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("cases waiting", fontsize=8)
        for ax in axes[-1, :]:
            ax.set_xlabel("day", fontsize=8)
        fig.suptitle(f"Department queues (cases waiting at the end of the day) — {name}", fontsize=11)
        fig.text(0.99, 0.005, f"mean of {n} replications; band: 2.5–97.5% across replications",
                 ha="right", va="bottom", fontsize=7, color="0.4")
        fixed_margins(fig, left=0.65, top=0.75, bottom=0.6, wspace=0.25, hspace=0.4)
        fig.savefig(directory / "department_queues.png", dpi=110)
    paths.append(directory / "department_queues.png")
    return paths


VERDICT_COLORS = {"better": "tab:green", "worse": "tab:red", "no meaningful change": "tab:blue",
                  "uncertain": "0.55", "not judged": "0.35"}
FOREST_LIMIT = 10.0  # widest x-range, in thresholds; a change beyond is drawn at the edge with its value


def in_thresholds(comp: pd.DataFrame) -> pd.DataFrame:
    """The judged difference and its interval in multiples of the row's practical threshold (columns
    ``x``, ``x_low``, ``x_high``), and ``why_not`` where that cannot be drawn."""
    out = comp.copy()
    t = out["threshold"].to_numpy(dtype=float)
    ok = np.isfinite(t) & (t > 0)
    for col, src in (("x", "judged_difference"), ("x_low", "judged_ci_low"), ("x_high", "judged_ci_high")):
        out[col] = np.where(ok, out[src].to_numpy(dtype=float) / np.where(ok, t, 1.0), np.nan)
    why = np.full(len(out), "", dtype=object)
    both_zero = (out["base"].abs() < 1e-12) & (out["value"].abs() < 1e-12)
    why[~ok & both_zero.to_numpy()] = "0 in both: no change to draw"
    why[~ok & ~both_zero.to_numpy()] = "no threshold (relative to a base of 0)"
    why[ok & ~np.isfinite(out["x"].to_numpy(dtype=float))] = "no value (not enough finished problems)"
    out["why_not"] = why
    return out


def plot_forest(path: Path, comp: pd.DataFrame, lang: str = "en") -> Path:
    with font_context(lang):
        return _plot_forest(path, comp, lang)


def _plot_forest(path: Path, comp: pd.DataFrame, lang: str) -> Path:
    """Dot-and-whisker plot of every indicator's difference from the base, one panel per E.

    Indicators have different units, so differences are drawn in multiples of each indicator's
    practical threshold: the shaded band (±1) is "too small to matter", and every panel shares the
    same scale, so a long bar means a large change wherever it is. Every indicator has a row; one
    that cannot be drawn says why.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    from sim.verdicts import MULTIPLICITY, VERDICTS, e_label, verdict_label
    zh = lang == "zh"
    rel = in_thresholds(comp)
    es = [e for e in E_ORDER if e in set(rel["E"])]
    scenarios = list(dict.fromkeys(rel["scenario"]))
    base = comp["base_scenario"].iloc[0]
    markers = "os^Dv<>Ph*"
    counts = [rel.loc[rel["E"] == e, "metric"].nunique() for e in es]
    per_row = 0.30 + 0.13 * len(scenarios)
    fig, axes = _subplots(len(es), 1, figsize=(10, 1.8 + per_row * sum(counts) + 0.55 * len(es)),
                          gridspec_kw={"height_ratios": counts}, squeeze=False, sharex=True)
    finite = np.abs(rel[["x_low", "x_high", "x"]].to_numpy(dtype=float))
    finite = finite[np.isfinite(finite)]
    lim = float(min(FOREST_LIMIT, max(2.0, 1.1 * finite.max()))) if finite.size else 2.0
    step = 0.7 / len(scenarios)
    arrows = {"higher": "↑ ", "lower": "↓ ", "zero": "→0 ", "neither": "· "}
    for ax, e in zip(axes[:, 0], es):
        part = rel[rel["E"] == e]
        metrics = list(dict.fromkeys(part["metric"]))
        left = blended_transform_factory(ax.transAxes, ax.transData)
        ax.axvspan(-1, 1, color="tab:blue", alpha=0.08, lw=0)
        for j, scen in enumerate(scenarios):
            rows = part[part["scenario"] == scen].set_index("metric").reindex(metrics)
            y = np.arange(len(metrics)) + (j - (len(scenarios) - 1) / 2) * step
            for yi, (metric, r) in zip(y, rows.iterrows()):
                value = f"{format_number(r['difference'], signed=True)} " + (METRIC_BY_NAME[metric].unit_zh if zh else r["unit"])
                if r["why_not"]:
                    ax.text(0.01, yi, f"{r['why_not']} ({value})", transform=left, fontsize=7, color="0.4", va="center")
                    continue
                color = VERDICT_COLORS.get(r["verdict"], "0.5")
                lo, hi = r["x_low"], r["x_high"]
                if np.isfinite(lo):
                    ax.plot([max(lo, -lim), min(hi, lim)], [yi, yi], color=color, lw=1.8)
                x = float(np.clip(r["x"], -lim, lim))
                clipped = abs(r["x"]) > lim
                ax.plot(x, yi, (">" if x > 0 else "<") if clipped else markers[j % len(markers)], color=color, ms=6)
                if len(scenarios) == 1 or clipped:
                    ax.annotate(value + (f" ({r['x']:+.0f}×)" if clipped else ""), (x, yi), xytext=(0, 5),
                                textcoords="offset points", fontsize=7, ha="right" if x > 0 else "left", color="0.25")
        labels = [arrows[METRIC_BY_NAME[m].better] + (METRIC_BY_NAME[m].label_zh if lang == "zh" else METRIC_BY_NAME[m].label)
                  for m in metrics]
        ax.set_yticks(np.arange(len(metrics)), labels, fontsize=8)
        ax.set_ylim(len(metrics) - 0.5, -0.5)
        ax.axvline(0, color="0.2", lw=0.8)
        ax.set_xlim(-lim, lim)
        ax.set_title(e_label(e, lang), fontsize=10, loc="left", fontweight="bold")
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8, labelbottom=True)
    axes[-1, 0].set_xlabel(f"与{base}的差值，以该指标实际阈值的倍数表示（阴影：±1以内，变化太小而无实际意义）" if zh else
                           f"difference from {base}, in multiples of the indicator's practical threshold "
                           "(shaded: within ±1, too small to matter)", fontsize=8)
    handles = [Line2D([], [], color=VERDICT_COLORS[v], marker="o", ls="-", label=verdict_label(v, lang)) for v in VERDICTS]
    handles.append(Line2D([], [], color=VERDICT_COLORS["not judged"], marker="o", ls="-",
                          label=verdict_label("not judged", lang)))
    handles.append(Patch(color="tab:blue", alpha=0.15, label="±1倍阈值" if zh else "±1 threshold"))
    if len(scenarios) > 1:
        handles += [Line2D([], [], color="0.3", marker=markers[j % len(markers)], ls="", label=s)
                    for j, s in enumerate(scenarios)]
    fig.legend(handles=handles, loc="lower center", fontsize=8, ncol=min(5, len(handles)), frameon=False)
    who = scenarios[0] if len(scenarios) == 1 else ", ".join(scenarios)
    method = comp["multiplicity"].iloc[0] if "multiplicity" in comp else "holm"
    fig.suptitle(f"{who} 与 {base}：配对差值及95%区间\n（↑越高越好，↓越低越好，·不作评判；判定："
                 f"{MULTIPLICITY[method]['zh']}，并要求达到实际阈值）" if zh else
                 f"{who} vs {base}: paired differences with 95% intervals\n"
                 f"(↑ higher is better, ↓ lower is better, · not judged; verdicts after {method} correction "
                 "and the practical threshold)", fontsize=10, x=0.01, ha="left")
    height = fig.get_figheight()
    n_legend_rows = -(-len(handles) // 5)
    fig.tight_layout(rect=(0, (0.15 + 0.22 * n_legend_rows) / height, 1, 1 - 0.55 / height))
    fig.savefig(path, dpi=110)
    return Path(path)


def font_context(lang: str):
    """Matplotlib settings for text in `lang`: with a CJK fallback font for Chinese (see
    :func:`sim.plotting.cjk_fonts`), none needed otherwise."""
    return cjk_fonts() if lang == "zh" else nullcontext()


KEY_SERIES = (("backlog", "Backlog", "open cases"), ("satisfaction", "Mean satisfaction", "0–1"),
              ("trust", "Mean trust", "0–1"), ("cost", "Cumulative cost", "million yuan"))
# Honest y-axes: counts and costs from zero, scores on their whole 0–1 scale, so that a change of 0.006
# does not look like a steep climb.
Y_RANGE = {"0–1": (0.0, 1.0)}


def plot_comparison_daily(path: Path, dailies: Mapping[str, pd.DataFrame]) -> Path:
    """Key daily series of every compared scenario, mean and band, one panel per series."""
    fig, axes = _subplots(2, 2, figsize=(11, 7))
    for ax, (col, title, unit) in zip(axes.flat, KEY_SERIES):
        for i, (name, daily) in enumerate(dailies.items()):
            _draw(ax, band(daily, col), name, _tab10(i), alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("day")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.margins(x=0)
        ax.set_ylim(*Y_RANGE.get(unit, (0.0, None)))
    axes.flat[0].legend(fontsize=8)
    n = int(next(iter(dailies.values()))["replication"].nunique())
    fig.text(0.99, 0.01, f"mean of {n} replications per scenario (same seeds); band: 2.5–97.5% across replications",
             ha="right", va="bottom", fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    return Path(path)


# --------------------------------------------------------------------------------------------------
def format_number(x: float, signed: bool = False) -> str:
    """A number for tables: thousands separators from 1,000 up, else three significant digits."""
    if x is None or not np.isfinite(x):
        return "–"
    s = "+" if signed else ""
    if abs(x) >= 1000:
        return f"{x:{s},.0f}"
    if x == 0:
        return "0"
    return f"{x:{s}.3g}"


__all__ = ["OutputError", "RunTables", "claim_out_dir", "staged_dir", "is_output_dir", "dir_name", "run_tables",
           "write_run", "write_comparison", "comparison_frame", "plot_run", "plot_forest", "plot_comparison_daily",
           "format_number", "SERIES_DOC", "RUN_FILES", "COMPARISON_FILES"]
