"""The `govsim` command line.

The CLI only turns flags into overrides: ``--replications/--seed/--steps`` and every ``--set
path=value`` become dotted-path overrides, :func:`sim.scenario.load_scenario` turns a file plus
overrides into one validated, frozen :class:`~sim.scenario.Scenario`, and the core
(:func:`sim.runner.run_replications`, which imports nothing of this module) runs it. What a run
leaves on disk is written by :mod:`sim.output`.

Bad input of any kind (a missing file, malformed YAML, an unknown key or path, a value out of range,
an unusable --out) ends with one message on stderr starting with ``error:`` and exit code 2, never a
traceback. The runner, the model and the plotting stack are imported only by the commands that run
something, so that ``validate``, ``params`` and ``scenarios`` start quickly.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import sim
from sim.scenario import (SCENARIO_DIR, RunSettings, Scenario, ScenarioError, check_path, closest_path, section_title_zh,
                          load_scenario, param_table, parse_overrides, shipped_scenarios, with_changes)

if TYPE_CHECKING:
    import pandas as pd

    from sim.runner import RunResult

app = typer.Typer(
    name="govsim",
    help="An agent-based sandbox for grassroots social governance: try a policy on a simulated community.",
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)

RUNS_DIR = Path("runs")
PROGRESS_DELAY = 1.0  # seconds before a progress bar appears (quick runs show none)


class CliInputError(Exception):
    """Bad command-line input that is not about the scenario itself."""


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turn bad input into one ``error:`` line and exit code 2 (bugs still raise with a traceback)."""
    try:
        yield
    except (ScenarioError, CliInputError, *extra) as e:
        if isinstance(e, OSError) and e.strerror:
            fail(f"cannot write output: {e.strerror}" + (f": '{e.filename}'" if e.filename else ""))
        fail(str(e))


def run_replications(scenario: Scenario, progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """The core: all replications of a scenario, as its ``run`` section says (seed, count, steps).

    A seam for the CLI tests, which replace it to look at the scenario that reached the core; the
    runner is imported here so that commands that run nothing do not pay for importing the model.
    """
    from sim import runner
    return runner.run_replications(scenario, progress=progress)


# --------------------------------------------------------------------------------------------------
# Flags → overrides

Replications = Annotated[int | None, typer.Option("--replications", "-r", show_default=False,
                                                  help="replications (overrides run.replications)")]
Seed = Annotated[int | None, typer.Option("--seed", show_default=False, help="root seed (overrides run.seed)")]
Steps = Annotated[int | None, typer.Option("--steps", show_default=False, help="days to simulate (overrides run.steps)")]
Sets = Annotated[list[str] | None, typer.Option("--set", show_default=False, metavar="PATH=VALUE",
                                                help="override a parameter, e.g. --set policies.training_level=0.8 "
                                                     "(repeatable; `govsim params` lists the paths)")]
Out = Annotated[Path | None, typer.Option("--out", "-o", show_default=False,
                                          help="output directory (default: runs/<name>-<YYYYmmdd-HHMMSS>)")]
Force = Annotated[bool, typer.Option("--force", help="replace a previous govsim output in --out")]
NoFigures = Annotated[bool, typer.Option("--no-figures", help="skip the PNG figures (faster)")]


def overrides_from_flags(replications: int | None, seed: int | None, steps: int | None,
                         sets: list[str] | None) -> dict[str, Any]:
    """Dotted-path overrides from the run flags and --set items (the flags win over --set run.*)."""
    over = parse_overrides(sets)
    for key, value in (("replications", replications), ("seed", seed), ("steps", steps)):
        if value is not None:
            over[f"run.{key}"] = value
    return over


def default_out(stem: str) -> Path:
    from sim.output import dir_name
    return RUNS_DIR / f"{dir_name(stem)}-{datetime.now():%Y%m%d-%H%M%S}"


# --------------------------------------------------------------------------------------------------
# Progress

def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _stdout() -> Console:
    con = Console(highlight=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con.width = 120  # piped into a file or a log: no terminal to fit, so do not squeeze the tables to 80
    return con


def _patient_progress_class():
    from rich.progress import Progress

    class PatientProgress(Progress):
        """A rich Progress that renders nothing for its first PROGRESS_DELAY seconds."""

        def __init__(self, *columns, **kwargs):
            self.shown_from = time.monotonic() + PROGRESS_DELAY  # before super(): it renders once already
            super().__init__(*columns, **kwargs)

        def get_renderables(self):
            if time.monotonic() >= self.shown_from:
                yield from super().get_renderables()

        def stop(self) -> None:
            if time.monotonic() >= self.shown_from:
                super().stop()
            else:  # never shown: leave no blank line behind
                self.live.transient = True
                self.live.stop()
    return PatientProgress


@contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr (runs done / total, elapsed, time left) that appears only if the runs
    take more than a moment. Yields ``advance(n=1, description=None)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
               TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with _patient_progress_class()(*columns, console=_stderr(), refresh_per_second=4) as bar:
        task = bar.add_task(escape(description), total=total)

        def advance(n: int = 1, description: str | None = None) -> None:
            bar.update(task, advance=n, **({"description": escape(description)} if description else {}))
        yield advance


# --------------------------------------------------------------------------------------------------
# Tables

ARROWS = {"higher": "↑", "lower": "↓", "neither": ""}
VERDICT_STYLE = {"better": "bold green", "worse": "bold red", "n.s.": "dim"}
DIRECTION_NOTE = "↑ higher is better, ↓ lower is better"


def _interval(lo: float, hi: float, signed: bool = False) -> str:
    from sim.output import format_number
    if lo != lo or hi != hi:  # NaN: one replication
        return "–"
    return f"{format_number(lo, signed)} to {format_number(hi, signed)}"


def _plus_minus(value: float, lo: float, hi: float) -> str:
    """A signed value and its symmetric interval as `+1.2 ± 0.3` (compact, for narrow terminals)."""
    from sim.output import format_number
    if lo != lo or hi != hi:  # NaN: one replication
        return format_number(value, signed=True)
    return f"{format_number(value, signed=True)} ± {format_number((hi - lo) / 2)}"


def _indicator(row) -> str:
    """A metric's arrow, its short label (declared with the metric, to fit 80 columns) and unit."""
    from sim.metrics import METRIC_BY_NAME
    m = METRIC_BY_NAME.get(row.metric)
    label = m.label_short if m is not None else row.label
    return f"{ARROWS.get(row.better) or ' '} {escape(label)} [dim]({escape(row.unit)})[/dim]"


def e_table(summary_table: pd.DataFrame, title: str) -> Table:
    """The 4E table: one row per indicator (unit, and an arrow for the better direction), grouped by
    E, with the mean and 95% interval over replications."""
    from sim.metrics import E_ORDER
    from sim.output import format_number
    # A light box without edge padding (as `compare`): every indicator fits one line of 80 columns.
    table = Table(title=title, title_justify="left", caption=DIRECTION_NOTE, caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Indicator (unit)", min_width=28)
    table.add_column("Mean", justify="right", no_wrap=True)
    table.add_column("95% interval", justify="right", no_wrap=True)
    for e in E_ORDER:
        rows = summary_table[summary_table["E"] == e]
        if rows.empty:
            continue
        table.add_row(f"[bold]{e}[/bold]")
        for r in rows.itertuples():
            table.add_row(_indicator(r), format_number(r.mean), _interval(r.ci_low, r.ci_high))
        table.add_section()
    return table


def difference_table(comp: pd.DataFrame, scenario: str, base: str, *, values: bool = True) -> Table:
    """One compared scenario's paired differences from the base, with a coloured verdict (and, if
    `values`, both scenarios' means: left out on a narrow terminal; comparison.csv has them)."""
    from sim.metrics import E_ORDER
    from sim.output import format_number
    part = comp[comp["scenario"] == scenario]
    n = int(part["replications"].iloc[0]) if len(part) else 0
    table = Table(title=f"{escape(scenario)} vs {escape(base)}: paired difference over {n} replications (same seeds)",
                  title_justify="left", caption=DIRECTION_NOTE, caption_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=values)   # narrow terminal: no edge padding, so labels do not wrap
    table.add_column("Indicator (unit)", min_width=28)
    if values:
        table.add_column(escape(base), justify="right", no_wrap=True)
        table.add_column(escape(scenario), justify="right", no_wrap=True)
    if values:
        table.add_column("Difference", justify="right", no_wrap=True)
        table.add_column("95% interval", justify="right")
    else:   # narrow terminal: the (symmetric, t-based) interval as ± its half-width, beside the difference
        table.add_column("Difference ± 95%", justify="right", no_wrap=True)
    table.add_column("Verdict", justify="center", no_wrap=True)
    for e in E_ORDER:
        rows = part[part["E"] == e]
        if rows.empty:
            continue
        table.add_row(f"[bold]{e}[/bold]")
        for r in rows.itertuples():
            style = VERDICT_STYLE.get(r.verdict, "") if r.better != "neither" else ""
            verdict = f"[{style}]{r.verdict}[/{style}]" if style else ("" if r.better == "neither" else r.verdict)
            means = (format_number(r.base), format_number(r.value)) if values else ()
            if values:
                cells = (format_number(r.difference, signed=True), _interval(r.ci_low, r.ci_high, signed=True))
            else:
                cells = (_plus_minus(r.difference, r.ci_low, r.ci_high),)
            table.add_row(_indicator(r), *means, *cells, verdict)
        table.add_section()
    return table


def _describe(scenario: Scenario) -> str:
    r = scenario.run
    return (f"{scenario.n_residents:,} residents, {r.steps} days, {r.replications} replication"
            f"{'s' if r.replications != 1 else ''}, seed {r.seed}")


# --------------------------------------------------------------------------------------------------
# Commands

@app.command()
def run(
    file: Annotated[str, typer.Argument(metavar="FILE", show_default=False,
                                      help="scenario YAML file (or the name of a shipped scenario)")],
    replications: Replications = None, seed: Seed = None, steps: Steps = None, sets: Sets = None,
    out: Out = None, force: Force = False, no_figures: NoFigures = False,
) -> None:
    """Run a scenario's replications, print the 4E table and write the results to a directory."""
    with user_errors():
        scenario = load_scenario(file, overrides_from_flags(replications, seed, steps, sets))
    from sim import output  # imported only now: bad input is refused without loading the model
    err = _stderr()
    with user_errors(output.OutputError):
        target = output.claim_out_dir(out, default_out(scenario.name), force=force)  # before a long run
    err.print(f"{escape(scenario.name)}: {_describe(scenario)}")
    with progress_bar(scenario.run.replications, scenario.name) as advance:
        results = run_replications(scenario, progress=advance)
    with user_errors(output.OutputError, OSError), output.staged_dir(target, replace=force) as tmp:
        tables = output.write_run(tmp, scenario, results, source=file, figures=not no_figures)
    con = _stdout()
    con.print(e_table(tables.summary_table, f"4E indicators — {escape(scenario.name)} "
                                            f"(mean and 95% interval over {len(results)} replications)"))
    if len(results) < 2:
        err.print("note: one replication gives no interval; use --replications 2 or more")
    con.print(f"results written to {escape(str(target))}", soft_wrap=True)


@app.command()
def compare(
    base: Annotated[str, typer.Argument(metavar="BASE", help="the base scenario (status quo)", show_default=False)],
    others: Annotated[list[str], typer.Argument(metavar="OTHER", help="scenarios to compare with the base", show_default=False)],
    replications: Replications = None, seed: Seed = None, steps: Steps = None, sets: Sets = None,
    out: Out = None, force: Force = False, no_figures: NoFigures = False,
) -> None:
    """Run scenarios with the same seeds and show each one's paired difference from the base.

    Replication k of every scenario uses the same seed (common random numbers), so a difference is an
    effect of the scenarios' differences, not noise. The run settings (steps, replications, seed) of
    BASE, after the flags, apply to all.
    """
    err = _stderr()
    with user_errors():
        scenarios = comparison_scenarios(base, others, overrides_from_flags(replications, seed, steps, sets),
                                         note=lambda text: err.print(f"note: {escape(text)}"))
    from sim import output
    names = [s.name for s in scenarios]
    common = scenarios[0].run
    dirs = {s.name: output.dir_name(s.name) for s in scenarios}
    sources = dict(zip(names, [base, *others]))
    with user_errors(output.OutputError):
        target = output.claim_out_dir(out, default_out(f"compare-{names[0]}"), force=force)
    err.print(f"{len(scenarios)} scenarios × {_describe(scenarios[0])}")
    results: dict[str, list[RunResult]] = {}
    with progress_bar(common.replications * len(scenarios), names[0]) as advance:
        for scen in scenarios:
            advance(0, description=scen.name)
            results[scen.name] = run_replications(scen, progress=advance)
    with user_errors(output.OutputError, OSError), output.staged_dir(target, replace=force) as tmp:
        tables = {s.name: output.write_run(tmp / dirs[s.name], s, results[s.name], source=sources[s.name],
                                           figures=not no_figures) for s in scenarios}
        comp = output.write_comparison(tmp, names[0], tables, dirs, seed=common.seed, steps=common.steps,
                                       sources=sources, figures=not no_figures)
    con = _stdout()
    for name in names[1:]:
        con.print(difference_table(comp, name, names[0], values=con.width >= 110))
    if common.replications < 2:
        err.print("note: one replication gives no interval, so every verdict is n.s.; use --replications 2 or more")
    con.print(f"results written to {escape(str(target))}", soft_wrap=True)


def comparison_scenarios(base: str, others: list[str], overrides: dict[str, Any],
                         note: Callable[[str], None] = lambda text: None) -> list[Scenario]:
    """The base and the other scenarios, all with the base's run settings and with unique names."""
    scenarios = [load_scenario(base, overrides)]
    common = scenarios[0].run
    for file in others:
        scen = load_scenario(file, overrides)
        if scen.run != common:
            note(f"{file}: its run settings are replaced by the base's, for a paired comparison")
            scen = with_changes(scen, {f"run.{k}": v for k, v in common.model_dump().items()})
        scenarios.append(scen)
    return unique_names(scenarios)


def unique_names(scenarios: list[Scenario]) -> list[Scenario]:
    """Scenarios whose names (and directory names) are unique: a repeated name gets -2, -3, ..."""
    from sim.output import dir_name
    seen: set[str] = set()
    out = []
    for scen in scenarios:
        name, k = scen.name, 2
        while dir_name(name).lower() in seen:
            name, k = f"{scen.name}-{k}", k + 1
        seen.add(dir_name(name).lower())
        out.append(scen if name == scen.name else with_changes(scen, {"name": name}))
    return out


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(metavar="FILE", help="scenario YAML files", show_default=False)],
    sets: Sets = None,
) -> None:
    """Check scenario files (and --set overrides) without running them; exit 2 if any is invalid."""
    bad = 0
    try:
        overrides = parse_overrides(sets)
    except ScenarioError as e:
        fail(str(e))
    for file in files:
        try:
            scen = load_scenario(file, overrides)
        except ScenarioError as e:
            typer.echo(f"error: {e}", err=True)
            bad += 1
            continue
        r = scen.run
        typer.echo(f"ok: {file} ({scen.n_residents:,} residents, {r.steps} days, {r.replications} replications)")
    if bad:
        raise typer.Exit(2)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    markdown = "markdown"


PARAM_COLUMNS = ("path", "label_zh", "type", "default", "lower", "upper", "unit", "description", "source", "typical_low",
                 "typical_high")


def _value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:g}"
    return str(v)


def parameter_rows(section: str | None = None) -> list[dict[str, str]]:
    """Every parameter (run settings first) with default, bounds, unit, description and source."""
    infos = [check_path(f"run.{k}") for k in RunSettings.model_fields] + param_table()
    if section:
        sections = list(dict.fromkeys(p.path.split(".")[0] for p in infos))
        if section not in sections:
            hint = closest_path(section, sections)
            raise CliInputError(f"--section: unknown section '{section}'" + (f"; did you mean '{hint}'?" if hint else "")
                                + f" (allowed: {', '.join(sections)})")
        infos = [p for p in infos if p.path.split(".")[0] == section]
    return [{"path": p.path, "label_zh": p.zh, "type": p.kind, "default": _value(p.default), "lower": _value(p.lower),
             "upper": _value(p.upper), "unit": p.unit, "description": p.description, "source": p.source,
             "typical_low": _value(p.typical[0]) if p.typical else "",
             "typical_high": _value(p.typical[1]) if p.typical else ""} for p in infos]


@app.command()
def params(
    section: Annotated[str | None, typer.Option("--section", "-s", show_default=False,
                                                help="only this section (run, population, network, demand, ...)")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.table,
) -> None:
    """List every parameter with its default, bounds, unit, description and the source of the default."""
    with user_errors():
        rows = parameter_rows(section)
    if format is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=PARAM_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif format is Format.markdown:
        cols = ("path", "中文", "default", "bounds", "unit", "description", "source")
        typer.echo("| " + " | ".join(cols) + " |")
        typer.echo("|" + "---|" * len(cols))
        for r in rows:
            cells = (f"`{r['path']}`", r["label_zh"], r["default"], _bounds(r), r["unit"], r["description"], r["source"])
            typer.echo("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    elif _stdout().width < 120:   # a terminal too narrow for seven columns
        _parameter_list(rows, section)
    else:
        table = Table(title=f"Parameters{f' — {escape(section)}' if section else ''} "
                            "(set them in a scenario file or with --set path=value)", title_justify="left",
                      caption="Source A: a modelling assumption with no published figure (see docs/ODD.md)",
                      caption_justify="left")
        table.add_column("Parameter", no_wrap=True)
        table.add_column("Default", justify="right", no_wrap=True)
        table.add_column("Bounds", justify="right", no_wrap=True)
        table.add_column("Unit", style="dim", max_width=18)
        table.add_column("Description", ratio=3)
        table.add_column("Source", style="dim", ratio=2)
        shown = None
        for r in rows:
            top = r["path"].split(".")[0]
            if top != shown:   # a heading row per section, in both languages
                shown = top
                table.add_row(f"[bold]{escape(top)} {escape(section_title_zh(top))}[/bold]", end_section=False)
            table.add_row(escape(r["path"]) + f"\n[dim]{escape(r['label_zh'])}[/dim]", escape(r["default"]), escape(_bounds(r)), escape(r["unit"]),
                          escape(r["description"]), escape(r["source"]))
        _stdout().print(table)


def _parameter_list(rows: list[dict[str, str]], section: str | None) -> None:
    """`govsim params` on a terminal too narrow for the table: one block per parameter, wrapped."""
    from rich.padding import Padding
    con = _stdout()
    con.print(f"Parameters{f' — {escape(section)}' if section else ''} "
              "(set them in a scenario file or with --set path=value)")
    shown = None
    for r in rows:
        top = r["path"].split(".")[0]
        if top != shown:
            shown = top
            con.print(f"\n[bold]{escape(top)} {escape(section_title_zh(top))}[/bold]")
        facts = "; ".join(x for x in (_bounds(r), r["unit"]) if x)
        con.print(Padding(f"[bold]{escape(r['path'])}[/bold]  {escape(r['label_zh'])}", (0, 0, 0, 2)))
        con.print(Padding(f"= {escape(r['default'] or '(none)')}" + (f"  [dim]({escape(facts)})[/dim]" if facts else ""),
                          (0, 0, 0, 6)))
        con.print(Padding(escape(r["description"]), (0, 0, 0, 6)))
        if r["source"]:
            con.print(Padding(f"[dim]source: {escape(r['source'])}[/dim]", (0, 0, 0, 6)))
    con.print("\nSource A: a modelling assumption with no published figure (see docs/ODD.md)")


def _bounds(row: dict[str, str]) -> str:
    if row["type"] == "bool":
        return "true/false"
    if not row["lower"] and not row["upper"]:
        return ""
    return f"{row['lower'] or '−∞'} – {row['upper'] or '∞'}"


def scenario_question(path: Path) -> str:
    """The question a scenario file answers: its leading comment, up to the first question mark."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            if lines or line.strip():
                break
            continue
        lines.append(line.lstrip("#").strip())
    text = " ".join(x for x in lines if x)
    q = text.find("?")
    return text[: q + 1] if q >= 0 else text


@app.command()
def scenarios() -> None:
    """List the shipped scenarios and the question each answers."""
    names = shipped_scenarios()
    if not names:
        typer.echo(f"no shipped scenarios in {SCENARIO_DIR}")
        return
    table = Table(title=f"Shipped scenarios ({escape(str(SCENARIO_DIR))}); run one with `govsim run NAME`",
                  title_justify="left")
    table.add_column("Scenario", no_wrap=True)
    table.add_column("Question it answers")
    for name in names:
        table.add_row(escape(name), escape(scenario_question(SCENARIO_DIR / name)))
    _stdout().print(table)


def viz_app_path() -> Path:
    """The Solara page, beside the `sim` package."""
    return Path(sim.__file__).resolve().parent.parent / "viz" / "app.py"


def _exec(argv: list[str], env: dict[str, str]) -> NoReturn:
    """Replace this process (a seam for tests)."""
    os.execve(argv[0], argv, env)


@app.command()
def viz(
    scenario: Annotated[str | None, typer.Argument(metavar="SCENARIO", show_default=False,
                                                   help="scenario file to open (default: the view's own choice)")] = None,
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8765,
) -> None:
    """Open the interactive Solara view of a scenario in the browser."""
    from sim.scenario import resolve_scenario_file  # the loader's own lookup, so `viz NAME` finds what `run NAME` finds
    with user_errors():
        env = dict(os.environ)
        if scenario is not None:
            load_scenario(scenario)  # refuse a bad scenario here, not in the browser
            env["GOVSIM_SCENARIO"] = str(resolve_scenario_file(scenario).resolve())
        if importlib.util.find_spec("solara") is None:
            raise CliInputError("the interactive view needs Solara: pip install 'govsim[viz]'")
        app_file = viz_app_path()
        if not app_file.is_file():
            raise CliInputError(f"the interactive view is missing from this installation ({app_file} not found)")
    typer.echo(f"govsim view: http://{host}:{port}  (Ctrl-C to stop)")
    _exec([sys.executable, "-m", "solara", "run", str(app_file), "--host", host, "--port", str(port), "--production"],
          env)


# --------------------------------------------------------------------------------------------------
def _mount_experiments() -> None:
    """Add the experiment commands (sweeps, sensitivity) when that part of the package exists."""
    try:
        from sim.experiments.cli import register
    except ModuleNotFoundError as e:
        if e.name in ("sim.experiments", "sim.experiments.cli"):
            return
        raise
    register(app)


_mount_experiments()


def main() -> None:
    app(prog_name="govsim")


if __name__ == "__main__":
    main()
