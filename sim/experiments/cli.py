"""``govsim sweep`` and ``govsim sensitivity``: turn flags into calls of the core, print the outcome.

The lead's CLI mounts these with :func:`register`; ``python -m sim.experiments`` uses the same
commands. Bad input (a wrong factor path, bounds outside the schema's, an unknown design or outcome,
malformed YAML, a missing file) is one message on stderr and exit code 2, never a traceback.
"""

import functools
from pathlib import Path
from typing import List, Optional

import typer

from sim.paths import UnsafePathError, user_path
from sim.resources import ResourceError
from sim.scenario import ScenarioError

from .errors import ExperimentError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _clean_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ExperimentError, ScenarioError, UnsafePathError, ResourceError) as e:
            _fail(str(e))
        except OSError as e:  # a full or read-only disk, a path under a file: one line, no traceback
            if not e.strerror:
                raise
            _fail(f"cannot write output: {e.strerror}" + (f": '{e.filename}'" if e.filename else ""))
    return wrapper


def _experiment(file: Optional[Path], out: Optional[Path], resume: bool):
    from .spec import load_experiment
    from .store import SweepDir
    if file is None:
        if not (resume and out):
            _fail("give an experiment file, or --resume with --out DIR to continue a sweep from its directory")
        return SweepDir(user_path(out)).load_experiment()
    return load_experiment(file)


def _run(exp, out, workers, cluster, fresh, retry_failed, chunk_size, progress):
    from .evaluators import check_options
    from .store import SweepDir
    from .sweep import default_out_dir, run_sweep
    check_options(workers, cluster, chunk_size)
    out = user_path(out) if out else default_out_dir(exp)
    sd = SweepDir(out)
    if sd.exists() and not fresh:
        st = sd.scan(exp.n_runs) if sd.read_manifest().get("fingerprint") == exp.fingerprint() else None
        if st is not None and st.pending < exp.n_runs:
            typer.echo(f"resuming {out}: {st.done:,} runs done, {st.failed:,} failed, {st.pending:,} to do", err=True)
    try:
        report = run_sweep(exp, out, workers=workers, cluster=cluster, fresh=fresh, retry_failed=retry_failed,
                           chunk_size=chunk_size, progress=progress)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; finished runs are saved. Continue with: govsim sweep --resume --out {out}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    where = out / "results.parquet" if report.complete else out
    took = f" in {report.seconds:.1f} s on {report.backend}" if report.ran else " (nothing left to run)"
    typer.echo(f"{exp.name}: {report.done:,} runs done, {report.failed:,} failed, {report.pending:,} pending"
               f"{took} → {where}")
    if report.failed:
        typer.echo(f"warning: {report.failed} runs failed; first errors:", err=True)
        for run, err in list(sorted(report.errors.items()))[:3]:
            typer.echo(f"  run {run}: {err}", err=True)
    return out


def _print_analysis(sweep_dir, outcomes, conf_level, resamples, figures):
    from .analysis import analyse
    result = analyse(sweep_dir, outcomes=outcomes or None, conf_level=conf_level, resamples=resamples,
                     figures=figures)
    typer.echo(result.report, nl=False)
    if result.files:
        typer.echo(f"wrote {', '.join(p.name for p in result.files)} to {Path(sweep_dir) / 'sensitivity'}")
    return result


def sweep(
    file: Optional[Path] = typer.Argument(None, help="Experiment file (experiments/*.yaml)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes (default: all cores; 1 runs in this process)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Dask scheduler tcp://host:port, or 'local' for a LocalCluster on 127.0.0.1."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory (default: runs/experiments/NAME)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the sweep in --out (the experiment file may be omitted)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard results already in --out and start again."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run failed runs again."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", help="Runs per task (default: adaptive, ~2 s of runs)."),
    analyse: bool = typer.Option(False, "--analyse", help="Run the sensitivity analysis when the sweep is complete."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate the experiment and print its plan; run nothing."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    from_state: Optional[Path] = typer.Option(None, "--from-state", help="Branch every run from this saved state "
                                              "(govsim run --burn-in DAYS --save-state FILE); replication k continues "
                                              "the state's run k. On a cluster, every worker must read the same path."),
) -> None:
    """Run an experiment's design (results saved as they arrive; re-running resumes)."""
    _clean_errors(_sweep)(file, workers, cluster, out, resume, fresh, retry_failed, chunk_size, analyse, dry_run,
                          progress, from_state)


def _sweep(file, workers, cluster, out, resume, fresh, retry_failed, chunk_size, analyse, dry_run, progress,
           from_state=None):
    if resume and fresh:
        _fail("--resume and --fresh contradict each other")
    exp = _experiment(file, out, resume)
    if from_state is not None:
        from .spec import with_state
        exp = with_state(exp, from_state)
    if dry_run:
        typer.echo("\n".join(exp.plan_lines()))
        return
    out = _run(exp, out, workers, cluster, fresh, retry_failed, chunk_size, progress)
    if analyse:
        _print_analysis(out, None, None, None, True)


def sensitivity(
    target: Optional[Path] = typer.Argument(None, help="Experiment file (its sweep is run or resumed first), or a sweep directory."),
    analyse_dir: Optional[Path] = typer.Option(None, "--analyse", help="Only analyse this sweep directory."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Sweep directory for an experiment file (default: runs/experiments/NAME)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker processes for the sweep."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Dask scheduler address, or 'local'."),
    outcome: Optional[List[str]] = typer.Option(None, "--outcome", help="Analyse only this outcome (repeatable)."),
    conf_level: Optional[float] = typer.Option(None, "--conf-level", help="Confidence level of the intervals (default: the experiment's, 0.95)."),
    resamples: Optional[int] = typer.Option(None, "--resamples", min=10, help="Bootstrap resamples."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write figures."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar while sweeping."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate the experiment and print its plan; run nothing."),
) -> None:
    """Sensitivity indices with confidence intervals, as a table, CSV and figures."""
    _clean_errors(_sensitivity)(target, analyse_dir, out, workers, cluster, outcome, conf_level, resamples, figures,
                                progress, dry_run)


def _sensitivity(target, analyse_dir, out, workers, cluster, outcome, conf_level, resamples, figures, progress,
                 dry_run=False):
    if analyse_dir is not None and target is not None:
        _fail("give either an experiment file / sweep directory or --analyse DIR, not both")
    sweep_dir = analyse_dir
    from .designs import check_analysable
    if sweep_dir is None:
        if target is None:
            _fail("give an experiment file or a sweep directory (or --analyse DIR)")
        if target.is_dir():
            sweep_dir = user_path(target)
            if dry_run:
                from .store import SweepDir
                exp = SweepDir(sweep_dir).load_experiment()
                check_analysable(exp.method, exp.n, exp.M)
                typer.echo("\n".join(exp.plan_lines()))
                return
        else:
            from .spec import load_experiment
            exp = load_experiment(target)
            check_analysable(exp.method, exp.n, exp.M)  # before a sweep whose analysis would be meaningless
            if dry_run:
                typer.echo("\n".join(exp.plan_lines()))
                return
            sweep_dir = _run(exp, out, workers, cluster, False, False, None, progress)
    _print_analysis(sweep_dir, outcome, conf_level, resamples, figures)


def robust(
    sweep_dir: Path = typer.Argument(..., help="Directory of a cross sweep (levers × uncertainties)."),
    outcome: Optional[List[str]] = typer.Option(None, "--outcome", help="Only this outcome (repeatable; default: all)."),
    satisfice: Optional[List[str]] = typer.Option(None, "--satisfice", metavar="OUTCOME<=VALUE",
                                                  help="A requirement every future should meet, e.g. "
                                                       "gap_days_60plus<=2 (repeatable)."),
    top: int = typer.Option(10, "--top", min=1, help="Policies to print."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write robust/regret.png."),
) -> None:
    """Rank the policies of a cross sweep by regret (minimax) and satisficing across its futures."""
    _clean_errors(_robust)(sweep_dir, outcome, satisfice, top, figures)


def _robust(sweep_dir, outcome, satisfice, top, figures):
    from .robust import analyse_robustness
    r = analyse_robustness(sweep_dir, outcome, satisfice, figures=figures)
    typer.echo(f"{len(r.policies)} policies × {r.n_futures} futures; regret = shortfall from the best policy in "
               "the same future (same random draws)")
    if r.requirements:
        typer.echo("satisficing: share of futures meeting " + " and ".join(map(str, r.requirements)))
    typer.echo("rank  " + ("satisficing  " if r.requirements else "") + "mean regret rank  policy")
    for k, (pid, row) in enumerate(r.ranking.head(top).iterrows(), 1):
        sat = f"{row['satisficing']:>11.0%}  " if r.requirements else ""
        typer.echo(f"{k:>4}  {sat}{row['mean_rank']:>16.1f}  [{pid}] {row['label']}")
    typer.echo(f"largest regret per outcome: {Path(sweep_dir) / 'robust' / 'regret.csv'}; "
               f"wrote {', '.join(p.name for p in r.files)}")


def discover(
    sweep_dir: Path = typer.Argument(..., help="Directory of a cross sweep (levers × uncertainties)."),
    outcome: str = typer.Option(..., "--outcome", help="The outcome that defines failure."),
    above: Optional[float] = typer.Option(None, "--above", help="Failure: the outcome is above this value."),
    below: Optional[float] = typer.Option(None, "--below", help="Failure: the outcome is below this value."),
    policy: Optional[int] = typer.Option(None, "--policy", help="Only this policy (its number in `govsim robust`); "
                                                                "default: every policy, levers join the explanations."),
    min_coverage: float = typer.Option(0.6, "--min-coverage", help="Choose the densest PRIM box that still covers "
                                                                   "this share of the failures."),
    lang: str = typer.Option("en", "--lang", help="Language of the sentence: en or zh."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write the coverage–density figure."),
) -> None:
    """Scenario discovery: the conditions under which a policy fails (PRIM and CART)."""
    _clean_errors(_discover)(sweep_dir, outcome, above, below, policy, min_coverage, lang, figures)


def _discover(sweep_dir, outcome, above, below, policy, min_coverage, lang, figures):
    from .discover import discover as run_discovery
    if lang not in ("en", "zh"):
        _fail(f"--lang: '{lang}' is not a language of govsim (allowed: en, zh)")
    d = run_discovery(sweep_dir, outcome, above=above, below=below, policy=policy, min_coverage=min_coverage,
                      figures=figures)
    typer.echo(f"{d.policy}: {d.n_failures} of {d.n_runs} runs fail ({d.rule})")
    typer.echo("PRIM: " + d.sentences[lang])
    if len(d.trajectory):
        typer.echo("coverage–density trade-off (PRIM peeling trajectory, every 3rd box):")
        for i, row in d.trajectory.iloc[::3].iterrows():
            mark = "  <- chosen" if d.box is not None and i == d.box.index else ""
            typer.echo(f"  box {i:>3}: coverage {row['coverage']:.0%}, density {row['density']:.0%}, "
                       f"restricts {int(row['res_dim'])}{mark}")
    for k, rule in enumerate(d.cart_rules[:3], 1):
        conds = " and ".join(f"{c} {op} {v:.3g}" for c, op, v in rule["conditions"]) or "(all runs)"
        typer.echo(f"CART leaf {k}: {conds}: coverage {rule['coverage']:.0%}, density {rule['density']:.0%}")
    typer.echo(f"wrote {', '.join(p.name for p in d.files)} to {Path(sweep_dir) / 'discover'}")


def search_cmd(
    file: Path = typer.Argument(..., help="A cross experiment file: its levers are searched, its uncertainties give "
                                          "the futures."),
    objective: Optional[List[str]] = typer.Option(None, "--objective", help="An outcome to optimise (repeatable; "
                                                                            "default: median_days, satisfaction_all, "
                                                                            "gap_days_60plus)."),
    budget: float = typer.Option(5.0, "--budget", help="Feasible: mean total cost within ± this % of the status quo's."),
    trials: int = typer.Option(40, "--trials", help="Policies to evaluate (each in every future)."),
    futures_n: int = typer.Option(4, "--futures", help="How many of the experiment's futures each policy is run in."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory (default: out/search/NAME)."),
    force: bool = typer.Option(False, "--force", help="Replace a previous search in --out."),
) -> None:
    """Search the levers for the Pareto set of 4E outcomes at equal budget (Optuna NSGA-II)."""
    _clean_errors(_search)(file, objective, budget, trials, futures_n, out, force)


def _search(file, objective, budget, trials, futures_n, out, force):
    from .search import RESULT_MARK, search
    from .spec import load_experiment
    exp = load_experiment(file)
    out = Path(out) if out else Path("out") / "search" / exp.name
    if out.exists() and any(out.iterdir()):
        if not (out / RESULT_MARK).is_file():
            _fail(f"--out '{out}' exists and does not hold a govsim search; choose a new or empty directory")
        if not force:
            _fail(f"--out '{out}' already holds a search; use --force to replace it, or choose another directory")
    typer.echo(f"searching {len(exp.levers)} levers: {trials} policies × {futures_n} futures × {exp.replications} "
               "replications", err=True)
    r = search(exp, out, objectives=objective, budget=budget, trials=trials, n_futures=futures_n)
    sq = r.status_quo
    typer.echo(f"status quo: total cost {sq['total_cost']:.3g} million yuan; feasible: within ±{budget:g}%")
    typer.echo(f"{int(r.trials['feasible'].sum())} of {len(r.trials)} policies within budget; "
               f"Pareto set: {len(r.pareto)}")
    objs = [c for c in r.pareto.columns if c in (objective or []) or c in ("median_days", "satisfaction_all",
                                                                          "gap_days_60plus")]
    for _, row in r.pareto.iterrows():
        levers = ", ".join(f"{p.rsplit('.', 1)[-1]}={row[p]}" for p in exp.levers)
        vals = ", ".join(f"{o}={row[o]:.3g}" for o in objs)
        typer.echo(f"  {levers}: {vals}, cost {row['cost_change_pct']:+.1f}%")
    typer.echo(f"wrote {', '.join(p.name for p in r.files)} to {out}")


def register(app: typer.Typer) -> None:
    """Add the experiment commands (sweep, sensitivity, robust, discover, search) to a typer app."""
    app.command("sweep")(sweep)
    app.command("sensitivity")(sensitivity)
    app.command("robust")(robust)
    app.command("discover")(discover)
    app.command("search")(search_cmd)
