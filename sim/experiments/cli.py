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
        except (ExperimentError, ScenarioError, UnsafePathError) as e:
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


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` and ``sensitivity`` commands to a typer app."""
    app.command("sweep")(sweep)
    app.command("sensitivity")(sensitivity)
