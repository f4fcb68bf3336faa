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
from typer.core import TyperGroup
from typer.core import _click as click  # typer's own copy of click: its exceptions are these

import sim
from sim.paths import OUTPUT_ROOT, UnsafePathError
from sim.resources import ResourceError, check_memory
from sim.scenario import (SCENARIO_DIR, RunSettings, Scenario, ScenarioError, check_path, closest_path, section_title_zh,
                          load_scenario, param_table, parse_overrides, shipped_scenarios, with_changes)

if TYPE_CHECKING:
    import pandas as pd

    from sim.runner import RunResult

class OneLineErrors(TyperGroup):
    """Usage errors (a bad option value, an unknown option) as one ``error:`` line and exit code 2,
    like every other bad input, instead of the framework's usage box."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            typer.echo(e.ctx.get_help() if e.ctx else str(e))
            sys.exit(0)
        except click.exceptions.ClickException as e:
            where = f" (see '{e.ctx.command_path} --help')" if getattr(e, "ctx", None) is not None else ""
            typer.echo(f"error: {' '.join(e.format_message().split())[:300]}{where}", err=True)
            sys.exit(2 if isinstance(e, click.exceptions.UsageError) else e.exit_code)
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    name="govsim",
    help="An agent-based sandbox for grassroots social governance: try a policy on a simulated community.",
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)

def _version(value: bool) -> None:
    if value:
        from importlib import metadata
        try:
            v = metadata.version("govsim")
        except metadata.PackageNotFoundError:
            v = "unknown (not installed)"
        typer.echo(f"govsim {v}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """An agent-based sandbox for grassroots social governance: try a policy on a simulated community."""


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
    except (ScenarioError, CliInputError, ResourceError, UnsafePathError, *extra) as e:
        if isinstance(e, OSError) and e.strerror:
            fail(f"cannot write output: {e.strerror}" + (f": '{e.filename}'" if e.filename else ""))
        fail(str(e))


def run_replications(scenario: Scenario, progress: Callable[[int], None] | None = None, *, first: int = 0,
                     count: int | None = None, workers: int = 1) -> list[RunResult]:
    """The core: the replications of a scenario, as its ``run`` section says (seed, count, steps), or
    replications first..first+count−1 (``--precision`` adds them in batches).

    A seam for the CLI tests, which replace it to look at the scenario that reached the core; the
    runner is imported here so that commands that run nothing do not pay for importing the model.
    """
    from sim import runner
    if first == 0 and count is None:
        return runner.run_replications(scenario, progress=progress, workers=workers)
    return runner.run_replications(scenario, count, progress=progress, first=first, workers=workers)


def run_from_state(state: Path, scenario: Scenario, progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """The core for warm starts: every run of a saved state branched with `scenario` (a seam, as above)."""
    from sim import runner
    return runner.run_from_state(state, scenario, progress=progress)


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
Replication = Annotated[int | None, typer.Option("--replication", show_default=False, metavar="K",
                                                 help="run replication K of the root seed only (re-runs replication K "
                                                      "of an earlier run, or the sweep row whose README names K)")]
Force = Annotated[bool, typer.Option("--force", help="replace a previous govsim output in --out")]
NoFigures = Annotated[bool, typer.Option("--no-figures", help="skip the PNG figures (faster)")]
Workers = Annotated[int | None, typer.Option("--workers", "-w", min=1, show_default=False,
                                           help="worker processes for the replications (default: one per core "
                                                "when they fill more than one batch of 200,000 residents, else 1); "
                                                "results are the same with any number")]
BurnIn = Annotated[int | None, typer.Option("--burn-in", min=1, show_default=False, metavar="DAYS",
                                            help="run DAYS days first, then open the books: results cover the "
                                                 "--steps days after the burn-in")]
SaveState = Annotated[Path | None, typer.Option("--save-state", show_default=False, metavar="FILE",
                                                help="with --burn-in: save the state after the burn-in (.npz), to "
                                                     "branch policies from with --from-state")]
FromState = Annotated[Path | None, typer.Option("--from-state", show_default=False, metavar="FILE",
                                                help="start every run from a saved state (its population, history "
                                                     "and seeds) with this scenario's parameters")]


class WarmStart:
    """The warm-start flags of `run` and `compare`, checked before anything runs or is written."""

    def __init__(self, burn_in: int | None, save_state: Path | None, from_state: Path | None,
                 replications: int | None, seed: int | None, force: bool):
        from sim import state
        self.burn_in, self.save_state, self.from_state = burn_in, save_state, from_state
        self.header: dict | None = None
        if from_state and burn_in:
            raise CliInputError("--from-state and --burn-in: a saved state is already burnt in; give one of them")
        if save_state and not burn_in:
            raise CliInputError("--save-state saves the state after --burn-in DAYS: give --burn-in too")
        if from_state:
            if replications is not None or seed is not None:
                raise CliInputError("--from-state: the state fixes the runs (its replications and seeds); "
                                    "drop --replications/--seed")
            self.header = state.read_header(from_state)
        if save_state:
            self.save_state = save_state if save_state.suffix == state.SUFFIX else save_state.with_name(
                save_state.name + state.SUFFIX)
            if self.save_state.exists():
                try:
                    state.read_header(self.save_state)
                    ours = True
                except state.StateError:
                    ours = False
                if not ours:
                    raise CliInputError(f"--save-state: '{self.save_state}' exists and is not a govsim state file; "
                                        "govsim will not replace it")
                if not force:
                    raise CliInputError(f"--save-state: '{self.save_state}' exists; use --force to replace it")

    @property
    def active(self) -> bool:
        return bool(self.burn_in or self.from_state)

    def check(self, scenario: Scenario, burnt_in: Scenario) -> None:
        """Refuse a scenario that would build another world than the saved state's, or than the
        scenario burnt in (before anything runs)."""
        from sim import state
        from sim.scenario import build_scenario
        if not self.active:
            return
        if self.header is not None:
            saved, where = build_scenario(self.header["base_scenario"], origin=f"state {self.from_state}"), \
                f"the state '{self.from_state}' holds"
        else:
            saved, where = burnt_in, f"the burnt-in scenario '{burnt_in.name}' builds"
        diffs = state.world_differences(saved, scenario)
        if diffs:
            raise state.StateError(f"scenario '{scenario.name}' builds another world than {where}: "
                                   + "; ".join(diffs[:4]))

    def runs(self, scenario: Scenario) -> int:
        return len(self.header["seeds"]) if self.header is not None else scenario.run.replications

    def describe(self, scenario: Scenario) -> str:
        r = scenario.run
        if self.header is not None:
            n = len(self.header["seeds"])
            return (f"{scenario.n_residents:,} residents, {r.steps} days from the state {self.from_state} "
                    f"(day {self.header['day']}), {n} replication{'s' if n != 1 else ''}")
        return _describe(scenario) + (f", after a {self.burn_in}-day burn-in" if self.burn_in else "")

    def prepare(self, scenario: Scenario, tmp_dir: Path, err) -> Path:
        """The state to branch from: the given one, or the burn-in run now (saved to --save-state or a
        temporary file)."""
        if self.from_state:
            return self.from_state
        from sim import runner
        err.print(f"burn-in: {escape(scenario.name)}, {self.burn_in} days × {scenario.run.replications} replications")
        model = runner.burn_in(scenario, self.burn_in)
        path = model.save_state(self.save_state or tmp_dir / "burn-in.npz")
        if self.save_state:
            err.print(f"state after the burn-in saved to {escape(str(path))}")
        return path

    def manifest(self, path: Path) -> dict:
        from sim import state
        info = {"burn_in_days": self.burn_in, "state": state.describe(path)}
        if not (self.from_state or self.save_state):
            info["state"]["file"] = None   # a temporary file, gone
        return info


Precision = Annotated[list[str] | None, typer.Option(
    "--precision", show_default=False, metavar="METRIC=HALFWIDTH",
    help="add replications until the 95% interval of METRIC (its mean; in compare, every scenario's difference "
         "from the base) has at most this half-width, in the metric's unit or as VALUE% of the base mean "
         "(repeatable); --replications is where it starts")]
MaxReplications = Annotated[int, typer.Option("--max-replications", min=2, help="cap for --precision")]
Practical = Annotated[list[str] | None, typer.Option(
    "--practical", show_default=False, metavar="METRIC=VALUE",
    help="override a metric's practical threshold (the smallest change that matters), in its unit or as VALUE% "
         "of the base mean, e.g. median_days=1 or total_cost=5% (repeatable)")]


class Multiplicity(str, Enum):
    holm = "holm"
    fdr = "fdr"
    none = "none"


class Lang(str, Enum):
    en = "en"
    zh = "zh"


def overrides_from_flags(replications: int | None, seed: int | None, steps: int | None,
                         sets: list[str] | None, replication: int | None = None) -> dict[str, Any]:
    """Dotted-path overrides from the run flags and --set items (the flags win over --set run.*)."""
    over = parse_overrides(sets)
    if replication is not None:
        over["run.first_replication"] = replication
        over["run.replications"] = 1 if replications is None else replications
    for key, value in (("replications", replications), ("seed", seed), ("steps", steps)):
        if value is not None:
            over[f"run.{key}"] = value
    return over


def check_run_memory(scenario: Scenario, workers: int) -> None:
    """Refuse, before anything is written, replications that would not fit in memory in `workers`
    processes at once."""
    from sim.runner import processes_at_once, residents_at_once
    check_memory(residents_at_once(scenario, workers), processes=processes_at_once(scenario, workers),
                 what=f"scenario '{scenario.name}'")


def default_out(stem: str) -> Path:
    from sim.output import dir_name
    return OUTPUT_ROOT / f"{dir_name(stem)}-{datetime.now():%Y%m%d-%H%M%S}"


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

ARROWS = {"higher": "↑", "lower": "↓", "zero": "→0", "neither": ""}
VERDICT_STYLE = {"better": "bold green", "worse": "bold red", "no meaningful change": "blue", "uncertain": "dim"}
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


def comparison_table(comp: pd.DataFrame, base: str, scenarios: list[str], *, lang: str = "en") -> Table:
    """All compared scenarios side by side: one row per indicator (grouped by E), the base's mean, and
    per scenario the paired difference, its 95% interval and the verdict."""
    import numpy as np

    from sim.output import format_number
    from sim.verdicts import MULTIPLICITY, by_e, e_label, label, unit, verdict_label
    n = int(comp["replications"].max()) if len(comp) else 0
    method = comp["multiplicity"].iloc[0] if len(comp) else "holm"
    zh = lang == "zh"
    title = (f"与{escape(base)}相比的配对差值（{n}次重复，相同随机种子）" if zh else
             f"Paired differences from {escape(base)} over {n} replications (same seeds)")
    caption = (("↑越高越好 ↓越低越好；每格：差值 ±95%区间半宽，判定。改善/变差：" + MULTIPLICITY[method]["zh"] + "后显著且达到实际阈值")
               if zh else (f"{DIRECTION_NOTE}; each cell: difference ± half-width of its 95% interval, then the "
                           "verdict. better/worse: clear after "
                           f"{MULTIPLICITY[method]['en']} and at least the indicator's practical threshold "
                           "(comparison.csv: threshold, p_adjusted)"))
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("指标（单位）" if zh else "Indicator (unit)", min_width=16, ratio=3)
    table.add_column(escape(base), justify="right", no_wrap=True)
    for name in scenarios:
        table.add_column(escape(name), justify="right", ratio=2, min_width=9, overflow="fold")
    for e, indicators in by_e(comp, scenarios):
        table.add_row(f"[bold]{escape(e_label(e, lang))}[/bold]")
        for row in indicators:
            m = row.metric
            cells = []
            for r in row.options:
                v = r["verdict"]
                style = VERDICT_STYLE.get(v, "")
                half = (r["ci_high"] - r["ci_low"]) / 2
                half = 0.0 if abs(half) < 1e-9 * max(1.0, abs(r["difference"])) else half  # rounding noise
                spread = f" [dim]±{format_number(half)}[/dim]" if np.isfinite(half) else ""
                word = f"\n[{style}]{escape(verdict_label(v, lang, short=True))}[/{style}]" if style else ""
                cells.append(f"{format_number(r['difference'], signed=True)}{spread}{word}")
            table.add_row(f"{ARROWS.get(m.better) or ' '} {escape(label(m, lang, short=True))} [dim]({escape(unit(m, lang))})[/dim]",
                          format_number(row.base), *cells)
        table.add_section()
    return table


def e_summary_table(comp: pd.DataFrame, scenarios: list[str], *, lang: str = "en") -> Table:
    """Per E and scenario: how many indicators are better, worse, unchanged or uncertain."""
    from sim.metrics import E_ORDER
    from sim.verdicts import VERDICTS, counts_by_e, e_label, verdict_label
    counts = counts_by_e(comp)
    zh = lang == "zh"
    table = Table(title="按4E汇总（指标个数）" if zh else "Summary by E (number of indicators)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("E")
    for name in scenarios:
        table.add_column(escape(name), ratio=1)
    for e in E_ORDER:
        if e == "Calibration":
            continue
        cells = []
        for name in scenarios:
            c = counts.loc[(name, e)] if (name, e) in counts.index else None
            parts = [f"[{VERDICT_STYLE[v]}]{c[v]} {escape(verdict_label(v, lang, short=True))}[/{VERDICT_STYLE[v]}]"
                     for v in VERDICTS if c is not None and c[v]]
            cells.append(", ".join(parts) or "–")
        table.add_row(escape(e_label(e, lang)), *cells)
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
    out: Out = None, force: Force = False, no_figures: NoFigures = False, replication: Replication = None,
    burn_in: BurnIn = None, save_state: SaveState = None, from_state: FromState = None,
    precision: Precision = None, max_replications: MaxReplications = 200, workers: Workers = None,
) -> None:
    """Run a scenario's replications, print the 4E table and write the results to a directory.

    Warm starts: --burn-in DAYS runs DAYS days before the books open (--save-state keeps that state);
    --from-state FILE starts from a saved state with this scenario's parameters.
    """
    from sim.verdicts import PracticalError, parse_practical
    with user_errors(PracticalError):
        scenario = load_scenario(file, overrides_from_flags(replications, seed, steps, sets, replication))
        targets = parse_practical(precision, "--precision")
        warm = WarmStart(burn_in, save_state, from_state, replications, seed, force)
        warm.check(scenario, scenario)
        if targets and warm.active:
            raise CliInputError("--precision adds replications, but a warm start fixes them (the state's runs): "
                                "give one of --precision and --burn-in/--from-state")
    from sim import output  # imported only now: bad input is refused without loading the model
    err = _stderr()
    from sim.runner import WorkerLost, run_workers
    n_workers = run_workers(scenario, requested=workers)
    with user_errors(output.OutputError):
        check_run_memory(scenario, n_workers)
        target = output.claim_out_dir(out, default_out(scenario.name), force=force)  # before a long run
    err.print(f"{escape(scenario.name)}: {warm.describe(scenario)}")
    warm_info = None
    report = None
    if targets:
        results = _precise({scenario.name: scenario}, targets, max_replications, None, workers)[scenario.name]
        report = _PRECISION_REPORTS[-1]
        scenario = with_changes(scenario, {"run.replications": len(results)})
    else:
        with _scratch() as scratch:
            state = warm.prepare(scenario, scratch, err) if warm.active else None
            with user_errors(WorkerLost), progress_bar(warm.runs(scenario), scenario.name) as advance:
                results = (run_from_state(state, scenario, progress=advance) if state
                           else run_replications(scenario, progress=advance, workers=n_workers))
            if state:
                warm_info = warm.manifest(state)
    with user_errors(output.OutputError, OSError), output.staged_dir(target, replace=force) as tmp:
        tables = output.write_run(tmp, scenario, results, source=file, figures=not no_figures, warm_start=warm_info,
                                  precision=report.to_dict() if report else None)
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
    burn_in: BurnIn = None, save_state: SaveState = None, from_state: FromState = None,
    practical: Practical = None,
    multiplicity: Annotated[Multiplicity, typer.Option(help="correction for testing every indicator of every "
                                                            "scenario: holm (family-wise), fdr (Benjamini–Hochberg) "
                                                            "or none")] = Multiplicity.holm,
    precision: Precision = None, max_replications: MaxReplications = 200, workers: Workers = None,
    lang: Annotated[Lang, typer.Option("--lang", help="language of the table")] = Lang.en,
) -> None:
    """Run scenarios with the same seeds and show all their paired differences from the base, side by side.

    With --burn-in DAYS (the base scenario burnt in once) or --from-state FILE, every scenario
    branches from the same saved state: the same population, history and random streams.

    Replication k of every scenario uses the same seed (common random numbers), so a difference is an
    effect of the scenarios' differences, not noise. The run settings (steps, replications, seed) of
    BASE, after the flags, apply to all. A verdict is "better" or "worse" only when the change is clear
    after the correction for multiple comparisons and at least the indicator's practical threshold.
    """
    from sim.verdicts import PracticalError, parse_practical
    err = _stderr()
    with user_errors(PracticalError):
        scenarios = comparison_scenarios(base, others, overrides_from_flags(replications, seed, steps, sets),
                                         note=lambda text: err.print(f"note: {escape(text)}"))
        warm = WarmStart(burn_in, save_state, from_state, replications, seed, force)
        for s in scenarios:
            warm.check(s, scenarios[0])
        thresholds = parse_practical(practical)
        targets = parse_practical(precision, "--precision")
        if targets and warm.active:
            raise CliInputError("--precision adds replications, but a warm start fixes them (the state's runs): "
                                "give one of --precision and --burn-in/--from-state")
    from sim import output
    names = [s.name for s in scenarios]
    common = scenarios[0].run
    dirs = {s.name: output.dir_name(s.name) for s in scenarios}
    sources = dict(zip(names, [base, *others]))
    from sim.runner import WorkerLost, run_workers
    n_workers = {s.name: run_workers(s, requested=workers) for s in scenarios}
    with user_errors(output.OutputError):
        for scen in scenarios:
            check_run_memory(scen, n_workers[scen.name])
        target = output.claim_out_dir(out, default_out(f"compare-{names[0]}"), force=force)
    err.print(f"{len(scenarios)} scenarios × {warm.describe(scenarios[0])}")
    results: dict[str, list[RunResult]] = {}
    warm_info = None
    report = None
    if targets:
        results = _precise({s.name: s for s in scenarios}, targets, max_replications, names[0], workers)
        report = _PRECISION_REPORTS[-1]
        scenarios = [with_changes(s, {"run.replications": report.replications}) for s in scenarios]
    else:
        with _scratch() as scratch:
            state = warm.prepare(scenarios[0], scratch, err) if warm.active else None
            with user_errors(WorkerLost), progress_bar(warm.runs(scenarios[0]) * len(scenarios), names[0]) as advance:
                for scen in scenarios:
                    advance(0, description=scen.name)
                    results[scen.name] = (run_from_state(state, scen, progress=advance) if state
                                          else run_replications(scen, progress=advance, workers=n_workers[scen.name]))
            if state:
                warm_info = warm.manifest(state)
    with user_errors(output.OutputError, OSError), output.staged_dir(target, replace=force) as tmp:
        tables = {s.name: output.write_run(tmp / dirs[s.name], s, results[s.name], source=sources[s.name],
                                           figures=not no_figures, warm_start=warm_info) for s in scenarios}
        comp = output.write_comparison(tmp, names[0], tables, dirs, seed=common.seed, steps=common.steps,
                                       sources=sources, figures=not no_figures, warm_start=warm_info,
                                       practical=thresholds, method=multiplicity.value,
                                       precision=report.to_dict() if report else None)
    con = _stdout()
    con.print(comparison_table(comp, names[0], names[1:], lang=lang.value))
    con.print(e_summary_table(comp, names[1:], lang=lang.value))
    if len(results[names[0]]) < 2:
        err.print("note: one replication gives no interval, so every verdict is uncertain; use --replications 2 or more")
    con.print(f"results written to {escape(str(target))}", soft_wrap=True)


@contextmanager
def _scratch() -> Iterator[Path]:
    import tempfile
    with tempfile.TemporaryDirectory(prefix="govsim-") as d:
        yield Path(d)


def _precise(scenarios: dict[str, Scenario], targets, cap: int, base: str | None,
             workers: int | None = None) -> dict[str, list[RunResult]]:
    """Replications of every scenario until the --precision targets are met or `cap` is reached;
    says how many it took (on stderr). Each round's replications run in worker processes as a run's
    do (`workers`: as asked, else chosen for the round's size)."""
    from sim.precision import run_until_precise
    from sim.runner import run_workers
    first_n = next(iter(scenarios.values())).run.replications
    if cap < first_n:
        fail(f"--max-replications {cap} is below --replications {first_n}")
    err = _stderr()
    with progress_bar(cap * len(scenarios), "--precision") as advance:
        def more(first: int, count: int) -> dict[str, list[RunResult]]:
            out = {}
            for name, scen in scenarios.items():
                advance(0, description=f"{name} (replications {first + 1}–{first + count})")
                n = run_workers(scen, requested=workers, replications=count)
                out[name] = run_replications(scen, progress=advance, first=first, count=count, workers=n)
            return out
        results, report = run_until_precise(more, targets, first_n, cap, base)
    for line in report.lines():
        err.print(escape(line))
    _PRECISION_REPORTS.append(report)
    return results


_PRECISION_REPORTS: list = []  # the last report, for the manifest of the command that asked


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
            if is_experiment_file(file):
                typer.echo(f"ok: {file} (experiment: {validate_experiment(file, overrides)})")
                continue
            scen = load_scenario(file, overrides)
        except (ScenarioError, ValueError) as e:  # ExperimentError is a ValueError
            typer.echo(f"error: {e}", err=True)
            bad += 1
            continue
        r = scen.run
        typer.echo(f"ok: {file} ({scen.n_residents:,} residents, {r.steps} days, {r.replications} replications)")
    if bad:
        raise typer.Exit(2)


EXPERIMENT_KEYS = {"factors", "design"}  # keys only an experiment file has


def is_experiment_file(file: str) -> bool:
    """Whether a file given to `validate` is an experiment (it has `factors` and `design`), not a scenario."""
    from sim.scenario import read_yaml
    path = Path(file)
    if not path.is_file():
        return False
    try:
        data = read_yaml(path)
    except ScenarioError:
        return False
    return EXPERIMENT_KEYS <= set(data)


def validate_experiment(file: str, overrides: dict[str, Any]) -> str:
    if overrides:
        raise CliInputError("--set applies to scenarios; an experiment fixes values under `settings:`")
    from sim.experiments.spec import load_experiment
    exp = load_experiment(file)
    return (f"{exp.method} design, {len(exp.factors)} factors, {exp.n_points:,} points × {exp.replications} "
            f"replications = {exp.n_runs:,} runs")


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
            raise CliInputError("the interactive view needs Solara and its front-end: run `make run` in the "
                                "source checkout (it installs the viz extra and fills the local asset cache)")
        from viz.echart import missing_assets
        if missing := missing_assets():
            raise CliInputError(f"the view's front-end is not in the local asset cache ({', '.join(missing)}): run "
                                "`make run`, or `python tools/install_solara_assets.py` with this environment's python")
        app_file = viz_app_path()
        if not app_file.is_file():
            raise CliInputError(f"the interactive view is missing from this installation ({app_file} not found)")
    typer.echo(f"govsim view: http://{host}:{port}  (Ctrl-C to stop)")
    _exec([sys.executable, "-m", "solara", "run", str(app_file), "--host", host, "--port", str(port), "--production"],
          env)


@app.command()
def brief(
    comparison: Annotated[Path, typer.Argument(metavar="DIR", show_default=False,
                                               help="a directory written by `govsim compare`")],
    lang: Annotated[Lang, typer.Option("--lang", help="language of the brief")] = Lang.en,
    robust: Annotated[Path | None, typer.Option("--robust", show_default=False,
                                                help="a cross sweep directory: add its robustness ranking")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", show_default=False,
                                             help="HTML file to write (default: DIR/brief.html, DIR/brief-zh.html)")] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="also print a PDF with Chromium, when installed")] = True,
) -> None:
    """A one-page decision brief (HTML, and PDF where Chromium is installed) from a saved comparison."""
    from sim.brief import BriefError, write_brief
    from sim.experiments.errors import ExperimentError
    with user_errors(BriefError, ExperimentError, OSError):
        b = write_brief(comparison, out, lang.value, robust, pdf=pdf)
    typer.echo(f"brief written to {b.path}" + (f" and {b.pdf}" if b.pdf else " (no PDF: Chromium not found)"
                                                if pdf else ""))


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

from sim.twin_cli import register as _register_twin  # noqa: E402  (district import, observe, calibrate)

_register_twin(app)


def main() -> None:
    app(prog_name="govsim")


if __name__ == "__main__":
    main()
