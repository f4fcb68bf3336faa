"""Command line of the district twin: ``govsim district import|export-cases``, ``govsim observe`` and
``govsim calibrate`` (registered on the main app by :func:`register`).

As everywhere in the CLI, bad input ends with one ``error:`` message and exit code 2, and nothing is
written: tables and calibration files are checked in full before any output is created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sim.district import DataError

district_app = typer.Typer(help="Build a district from data: import its structure, export case records.",
                           no_args_is_help=True)


def _cli():
    from sim import cli
    return cli


def _claim(out: Path, force: bool, what: str) -> None:
    """A single output file: refuse to replace anything unless --force (and never a directory)."""
    if out.is_dir():
        raise DataError(f"--out '{out}' is a directory; give the {what} file to write")
    if out.exists() and not force:
        raise DataError(f"--out '{out}' exists; use --force to replace it")


@district_app.command("import")
def district_import(
    table: Annotated[Path, typer.Argument(help="CSV (one row per community or grid) or GeoJSON FeatureCollection")],
    out: Annotated[Path, typer.Option("--out", "-o", help="scenario YAML to write")],
    name: Annotated[str | None, typer.Option(help="scenario name (default: the table's file name)")] = None,
    extends: Annotated[str, typer.Option(help="base scenario the district extends")] = "baseline.yaml",
    description: Annotated[str, typer.Option(help="what the scenario is")] = "",
    question: Annotated[str, typer.Option(help="the question the scenario answers (its first comment line)")] = "",
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out file")] = False,
) -> None:
    """Read a district's communities from a table and write a validated scenario."""
    cli = _cli()
    with cli.user_errors(DataError, OSError):
        _claim(out, force, "scenario")
        data, text = import_text(table, name, extends, description, question)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    comms = data["population"]["communities"]
    cli._stdout().print(f"{len(comms)} communities imported from {escape(str(table))}; scenario written to "
                        f"{escape(str(out))}", soft_wrap=True)


def import_text(table, name, extends, description, question):
    from sim.district import import_table
    return import_table(table, name=name, extends=extends, description=description, question=question)


@district_app.command("export-cases")
def export_cases(
    scenario: Annotated[str, typer.Argument(help="scenario file or shipped name")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write")],
    seed: Annotated[int | None, typer.Option(help="seed of the run (default: the scenario's run.seed)")] = None,
    steps: Annotated[int | None, typer.Option(help="days (default: the scenario's run.steps)")] = None,
    start: Annotated[str, typer.Option(help="calendar date of day 0")] = "2025-01-01",
    mapping: Annotated[Path | None, typer.Option("--map", "-m", help="write the export's own column names and "
                                                 "values, as this mapping YAML reads them")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing --out file")] = False,
) -> None:
    """Run a scenario once and write its case records as a 12345-style export (synthetic data)."""
    cli = _cli()
    import pandas as pd

    from sim.observe import load_mapping, to_export
    with cli.user_errors(DataError, OSError):
        _claim(out, force, "CSV")
        sc = cli.load_scenario(scenario)
        names = load_mapping(mapping)
        try:
            pd.Timestamp(start)
        except ValueError:
            raise DataError(f"--start {start!r} is not a date (YYYY-MM-DD)") from None
    from sim.caselog import case_export, write_export
    frame = to_export(case_export(sc, seed, steps, start), names)
    from sim.runner import manifest
    with cli.user_errors(OSError):
        out.parent.mkdir(parents=True, exist_ok=True)
        write_export(frame, out)
        # the seed, the resolved scenario and the versions beside the export
        out.with_name(out.name + ".manifest.json").write_text(json.dumps(manifest(
            kind="case_export", scenario_name=sc.name, seed=seed if seed is not None else sc.run.seed,
            steps=steps or sc.run.steps, start=start, mapping=str(mapping) if mapping else None, records=len(frame),
            scenario=sc.model_dump(mode="json")), indent=1, ensure_ascii=False), encoding="utf-8")
    cli._stdout().print(f"{len(frame):,} case records of {escape(sc.name)} (seed {seed or sc.run.seed}, "
                        f"{steps or sc.run.steps} days) written to {escape(str(out))}", soft_wrap=True)


OBSERVE_FILES = {
    "indicators.csv": "one row per indicator, scope (district, community, category, month, age_group) and group: "
                      "value, se (standard error: Poisson for rates, binomial for shares, order statistics for "
                      "quantiles) and n (records behind it)",
    "resolution_days.csv": "closed cases by days from contact to closing, per community and for the district",
    "manifest.json": "the inputs, the period covered, residents per community, versions, command line",
    "README.txt": "this description",
}


def observe_cmd(
    cases: Annotated[Path, typer.Argument(metavar="CASES.csv", help="case export: one row per contact")],
    district: Annotated[str, typer.Option("--district", "-d", help="the district's scenario (residents per community)")],
    mapping: Annotated[Path | None, typer.Option("--map", "-m", help="column mapping YAML (default: canonical names)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory (default: runs/observed-<time>)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace a previous govsim output in --out")] = False,
) -> None:
    """Observed indicators from a case export, as the model also produces them."""
    cli = _cli()
    from sim import output
    from sim.observe import INDICATORS, observe
    with cli.user_errors(DataError, output.OutputError):
        target = output.claim_out_dir(out, cli.default_out("observed"), force=force)
        ind, hist, info = observe(cases, mapping, district)
    with cli.user_errors(output.OutputError, OSError), output.staged_dir(target, replace=force) as tmp:
        ind.to_csv(tmp / "indicators.csv", index=False)
        hist.to_csv(tmp / "resolution_days.csv", index=False)
        (tmp / "README.txt").write_text(
            f"Observed indicators of {cases} ({info['cases']} records, {info['period'][0]} to {info['period'][1]}, "
            "end exclusive).\n\n" + "\n".join(f"{k}: {v}" for k, v in OBSERVE_FILES.items())
            + "\n\nIndicators:\n" + "\n".join(f"  {k}: {en} / {zh} ({u})" for k, (en, zh, u) in INDICATORS.items()) + "\n",
            encoding="utf-8")
        from sim.runner import manifest
        (tmp / "manifest.json").write_text(json.dumps(manifest(
            kind="observe", cases_file=str(cases), mapping=str(mapping) if mapping else None, district=district,
            records=info["cases"], period=info["period"], communities=info["communities"]),
            indent=2, ensure_ascii=False), encoding="utf-8")
    con = cli._stdout()
    con.print(indicator_table(ind, info))
    con.print(f"indicators written to {escape(str(target))}", soft_wrap=True)


def indicator_table(ind, info) -> Table:
    from sim.observe import INDICATORS
    t = Table(title=f"Observed — {info['cases']:,} records, {info['period'][0]} to {info['period'][1]}",
              title_justify="left")
    t.add_column("indicator")
    t.add_column("district", justify="right")
    t.add_column("communities (min–max)", justify="right")
    d = ind[ind["scope"] == "district"].set_index("indicator")
    c = ind[ind["scope"] == "community"]
    for name, (label, zh, unit) in INDICATORS.items():
        v, se = d.loc[name, "value"], d.loc[name, "se"]
        cv = c[c["indicator"] == name]["value"]
        t.add_row(f"{label} {zh}", f"{v:.3g} ± {1.96 * se:.2g}", f"{cv.min():.3g}–{cv.max():.3g}")
    return t


def calibrate_cmd(
    file: Annotated[Path, typer.Argument(metavar="CALIBRATION.yaml", help="what to fit, to what, with what budget")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output directory; an unfinished calibration "
                                             "there resumes (default: runs/calibration-<time>)")] = None,
    budget: Annotated[int | None, typer.Option(help="points to run in all (overrides the file's budget)")] = None,
    workers: Annotated[int | None, typer.Option(help="processes (overrides the file's workers)")] = None,
) -> None:
    """Fit a scenario's parameters to observed indicators (Optuna): best scenario, ranges consistent with the data, fit-check figure, indicators not matched."""
    cli = _cli()
    from sim import calibrate as calib
    from sim import output
    with cli.user_errors(DataError):
        cal = calib.load_calibration(file)
        if budget is not None:
            if budget < 1:
                raise DataError("--budget must be at least 1")
            cal.budget = budget
        if workers is not None:
            if workers < 1:
                raise DataError("--workers must be at least 1")
            cal.workers = workers
        target = out or cli.default_out(f"calibration-{cal.base.name}")
        if target.exists() and any(target.iterdir()):
            kind = _manifest_kind(target)
            if kind != "calibration":
                raise DataError(f"--out '{target}' exists and does not hold a govsim calibration; "
                                "choose a new or empty directory")
    err = cli._stderr()
    err.print(f"{escape(cal.base.name)}: {len(cal.parameters)} parameter(s), {len(cal.targets)} observed "
              f"indicator(s), {cal.replications} replications × {cal.steps} days per point, budget {cal.budget}")
    with cli.user_errors(OSError):
        target.mkdir(parents=True, exist_ok=True)
        calib.write_manifest(target, cal, "running")
    with cli.progress_bar(cal.budget, "calibration") as advance:
        with cli.user_errors(DataError):
            result = calib.run_calibration(cal, target, progress=lambda n: advance(n))
    calib.write_manifest(target, cal, "done", {"best": result["best"], "deviance": result["deviance"],
                                               "trials": result["trials"]})
    con = cli._stdout()
    t = Table(title=f"Calibration — {result['trials']} points; ranges consistent with the data ({cal.level:.0%})",
              title_justify="left")
    for col in ("parameter", "best", "consistent range", "searched"):
        t.add_column(col, justify="left" if col == "parameter" else "right")
    for r in result["ranges"].itertuples():
        t.add_row(r.parameter, f"{r.best:.4g}", f"{r.low:.4g} – {r.high:.4g}", f"{r.searched_low:g} – {r.searched_high:g}")
    con.print(t)
    fit = result["fit"]
    con.print(f"{int(fit['matched'].sum())} of {len(fit)} indicators matched (|z| ≤ 2)"
              + ("; not matched:" if result["unmatched"] else ""))
    for line in result["unmatched"]:
        con.print(f"  {escape(line)}", soft_wrap=True)
    con.print(f"results written to {escape(str(target))} (best_scenario.yaml, ranges.csv, fit.csv, fit_check.png)",
              soft_wrap=True)


def _manifest_kind(path: Path) -> str | None:
    try:
        return json.loads((path / "manifest.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(district_app, name="district")
    app.command("observe")(observe_cmd)
    app.command("calibrate")(calibrate_cmd)
