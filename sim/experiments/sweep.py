"""Run an experiment's design: submit chunks of runs to an evaluator and save results as they arrive.

Resuming: the runs still to do are those the result files do not record (see :mod:`store`), so a sweep
killed at any moment, SIGKILL included, loses only the chunks in flight; because each run's seed is
fixed by (experiment seed, point, replication), the resumed sweep ends with exactly the table an
uninterrupted one would have written.

Chunking: tasks start with one point each (its replications, advanced as one batch); once runs have
been timed, a task takes about ``TARGET_TASK_SECONDS`` of runs (so per-task overhead is negligible),
but never more than half a worker's share of what is left (so the workers finish together), rounded up
to whole points, unless ``chunk_size`` fixes it.

Lost tasks: when a worker dies, its task's runs are resubmitted one run per task. A dead process also
takes down whatever else was in the pool, so a loss in company proves nothing about a run; a run lost
twice is therefore retried alone, with nothing else in flight, and only a run that kills its worker
twice while running alone is recorded as failed ("worker lost"). One run that crashes its process can
neither stall the sweep nor take other runs with it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim import paths

from .evaluators import (Backend, check_options, describe_error, local_workers, lost_task_errors, make_backend,
                         run_chunk)
from .space import plain_values
from .spec import Experiment
from .store import STATUS_DONE, STATUS_FAILED, STATUS_PENDING, RunStatus, SweepDir, now

TARGET_TASK_SECONDS = 2.0
MAX_CHUNK = 10_000
LOSSES_BEFORE_ISOLATION = 2
ISOLATED_LOSSES_TO_FAIL = 2
MANIFEST_INTERVAL = 1.0  # seconds between manifest rewrites (chunk files are written at once)


@dataclass
class SweepReport:
    out: Path
    runs: int
    done: int
    failed: int
    pending: int
    ran: int = 0
    seconds: float = 0.0
    backend: str = ""
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.pending == 0


@dataclass
class _Task:
    runs: list[int]
    losses: int = 0  # lost together with other tasks
    alone: bool = False  # runs with nothing else in flight
    alone_losses: int = 0


def default_out_dir(exp: Experiment) -> Path:
    """Where a sweep goes without --out: always one directory below the experiments root, whatever its name."""
    return paths.EXPERIMENTS_DIR / paths.dir_name(exp.name, "experiment")


def run_sweep(exp: Experiment, out: str | Path | None = None, *, workers: int | None = None,
              cluster: str | None = None, backend: Backend | None = None, fresh: bool = False,
              retry_failed: bool = False, chunk_size: int | None = None, progress: bool = True,
              console=None) -> SweepReport:
    """Run every run of ``exp`` not yet recorded in ``out``; return the counts."""
    check_options(workers, cluster, chunk_size)
    exp.model_obj.preflight()
    if backend is None and cluster is None:   # worker processes on this machine: refuse, before anything is
        from sim.resources import check_memory   # written, a sweep that cannot fit in its memory
        check_memory(exp.model_obj.residents_at_once(exp.base_data, exp.settings, exp.sample_design(), exp.replications),
                     processes=local_workers(workers), what=f"sweep '{exp.name}'")
    sd = SweepDir(paths.user_path(out) or default_out_dir(exp))
    sd.check_usable()  # before the lock file is made: never write into a directory that is not a sweep
    with sd.lock():
        return _run_locked(exp, sd, workers=workers, cluster=cluster, backend=backend, fresh=fresh,
                           retry_failed=retry_failed, chunk_size=chunk_size, progress=progress, console=console)


def _run_locked(exp: Experiment, sd: SweepDir, *, workers, cluster, backend, fresh, retry_failed, chunk_size,
                progress, console) -> SweepReport:
    design = sd.initialise(exp, fresh=fresh)
    status = sd.scan(exp.n_runs)
    sessions = list(sd.read_manifest().get("sessions", []))
    todo_mask = status.status == STATUS_PENDING
    if retry_failed:
        todo_mask |= status.status == STATUS_FAILED
    todo = np.flatnonzero(todo_mask).tolist()
    failed_start = int(((status.status == STATUS_FAILED) & ~todo_mask).sum())
    if not todo:
        if status.pending == 0 and (sd.chunk_files() or not sd.results_file.is_file()):
            sd.consolidate()
        sd.write_manifest(exp, status, sessions=sessions, complete=status.pending == 0)
        return SweepReport(sd.path, exp.n_runs, status.done, status.failed, status.pending, errors=status.errors)

    own_backend = backend is None
    backend = backend or make_backend(workers, cluster)
    session = {"started": now(), "backend": backend.label, "workers": backend.workers, "runs_to_do": len(todo),
               "ran": 0, "interrupted": True}
    sessions.append(session)
    sd.write_manifest(exp, status, sessions=sessions)
    t0 = time.monotonic()
    try:
        runner = _Runner(exp, sd, design, status, backend, todo, chunk_size or exp.chunk_size, session, sessions,
                         failed_start)
        with _progress_bar(progress, console, exp, len(todo), failed_start) as bar:
            runner.bar = bar
            runner.loop()
        session["interrupted"] = False
    finally:
        session["ended"] = now()
        if own_backend:
            backend.close()
        complete = status.pending == 0 and not session["interrupted"]
        if complete:
            sd.consolidate()
        sd.write_manifest(exp, status, sessions=sessions, complete=complete)
    return SweepReport(sd.path, exp.n_runs, status.done, status.failed, status.pending, ran=session["ran"],
                       seconds=time.monotonic() - t0, backend=backend.label, errors=status.errors)


class _Runner:
    """The submit / collect loop of one sweep session."""

    def __init__(self, exp: Experiment, sd: SweepDir, design: pd.DataFrame, status: RunStatus, backend: Backend,
                 todo: list[int], fixed_chunk: int | None, session: dict, sessions: list[dict], failed_start: int):
        self.exp, self.sd, self.status, self.backend = exp, sd, status, backend
        self.todo, self.pos, self.fixed_chunk = todo, 0, fixed_chunk
        self.session, self.sessions = session, sessions
        factor_cols = [c for c in design.columns if c != "point" and not c.startswith("u:")]
        self.points = [plain_values(r) for r in design[factor_cols].to_dict("records")]
        self.R = exp.replications
        self.model_outcomes = tuple(exp.model_obj.outcomes)
        self.runner = exp.runner()
        self.retry: deque[_Task] = deque()
        self.isolate: deque[_Task] = deque()
        self.seq = status.next_seq
        self.time_sum, self.time_n = 0.0, 0
        self.last_manifest = 0.0
        self.failed_now = failed_start
        self.bar = None
        self.lost_errors = lost_task_errors()

    # -- tasks
    def _chunk(self) -> int:
        if self.fixed_chunk:
            return self.fixed_chunk
        left = len(self.todo) - self.pos
        cap = max(1, math.ceil(left / (2 * self.backend.workers)))
        if self.time_n == 0:
            return 1
        mean = self.time_sum / self.time_n
        k = int(TARGET_TASK_SECONDS / mean) if mean > 0 else MAX_CHUNK
        return max(1, min(k, cap, MAX_CHUNK))

    def _next_task(self) -> _Task | None:
        if self.retry:
            return self.retry.popleft()
        if self.pos < len(self.todo):
            end = min(self.pos + self._chunk(), len(self.todo))
            if not self.fixed_chunk:
                # a point's replications stay together: run_chunk advances them as one batch, ~5× cheaper
                # per run than alone at 8,000 residents (benchmarks.scale)
                last = self.todo[end - 1] // self.R
                while end < len(self.todo) and self.todo[end] // self.R == last:
                    end += 1
            task = _Task(self.todo[self.pos:end])
            self.pos = end
            return task
        return None

    def _payload(self, task: _Task) -> list[tuple[int, int, dict]]:
        R = self.R
        return [(r, self.exp.run_seed(r // R, r % R), self.points[r // R]) for r in task.runs]

    def _submit(self, task: _Task, in_flight: dict) -> None:
        try:
            fut = self.ex.submit(run_chunk, self.runner, self._payload(task), self.model_outcomes, self.exp.outcomes)
        except BrokenProcessPool:  # the pool broke since the last collection: this task never left
            self.retry.appendleft(task)
            self._recover(in_flight)
            return
        in_flight[fut] = task

    def _recover(self, in_flight: dict) -> None:
        """A dead process breaks the whole pool: every task still in it is lost too. Collect them, then
        start a fresh pool."""
        wait(list(in_flight))
        for fut in list(in_flight):
            self._collect(fut, in_flight.pop(fut))
        self.ex = self.backend.restart()

    # -- the loop
    def loop(self) -> None:
        self.ex = self.backend.executor()
        in_flight: dict = {}
        limit = 2 * self.backend.workers
        while True:
            while len(in_flight) < limit:
                task = self._next_task()
                if task is None:
                    if self.isolate and not in_flight:  # a suspect runs alone: a loss then names it
                        suspect = self.isolate.popleft()
                        suspect.alone = True
                        self._submit(suspect, in_flight)
                    break
                self._submit(task, in_flight)
            if not in_flight:
                if self.retry or self.isolate:
                    continue
                break
            done, _ = wait(list(in_flight), timeout=0.5, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                broken |= self._collect(fut, in_flight.pop(fut))
            if broken:
                self._recover(in_flight)
            self._maybe_manifest()

    def _collect(self, fut, task: _Task) -> bool:
        """Record a finished task; return True when its executor broke."""
        try:
            cols = fut.result()
        except self.lost_errors as e:
            self._lost(task, e)
            return isinstance(e, BrokenProcessPool)
        except Exception as e:  # the task could not run at all (e.g. it could not be pickled)
            self._record_failed(task.runs, f"task failed: {describe_error(e)}")
            return False
        self._record(cols)
        return False

    def _lost(self, task: _Task, err: BaseException) -> None:
        if len(task.runs) > 1:
            self.retry.extend(_Task([r], losses=1) for r in task.runs)
        elif task.alone:
            task.alone_losses += 1
            if task.alone_losses >= ISOLATED_LOSSES_TO_FAIL:
                self._record_failed(task.runs, f"worker lost while running this run alone, {task.alone_losses} "
                                               f"times (last: {type(err).__name__}: {err})")
            else:
                self.isolate.appendleft(task)
        else:
            task.losses += 1
            (self.isolate if task.losses >= LOSSES_BEFORE_ISOLATION else self.retry).append(task)

    def _record_failed(self, runs: list[int], message: str) -> None:
        n = len(runs)
        cols = {"run": list(runs), "status": ["failed"] * n, "error": [message] * n, "elapsed": [float("nan")] * n,
                **{o: [float("nan")] * n for o in self.model_outcomes}}
        self._record(cols)

    def _record(self, cols: dict) -> None:
        R = self.R
        runs = np.asarray(cols["run"], dtype=np.int64)
        table = pd.DataFrame({
            "run": runs, "point": runs // R, "replication": runs % R,
            "seed": np.array([self.exp.run_seed(int(r) // R, int(r) % R) for r in runs], dtype=np.int64),
            **{o: np.asarray(cols[o], dtype=float) for o in self.model_outcomes},
            "status": pd.array(cols["status"], dtype="string"), "error": pd.array(cols["error"], dtype="string"),
            "elapsed": np.asarray(cols["elapsed"], dtype=float)})
        self.sd.write_chunk(self.seq, table)
        self.seq += 1
        ok = table["status"].to_numpy() == "done"
        st = self.status
        st.status[runs[ok]] = STATUS_DONE
        st.status[runs[~ok]] = STATUS_FAILED
        for r in runs[ok]:
            st.errors.pop(int(r), None)
        for r, e in zip(runs[~ok], table["error"].to_numpy()[~ok]):
            st.errors[int(r)] = str(e)
        el = table["elapsed"].to_numpy()[ok]
        self.time_sum += float(np.nansum(el))
        self.time_n += int(np.isfinite(el).sum())
        self.session["ran"] += len(runs)
        self.failed_now += int((~ok).sum())
        if self.bar is not None:
            self.bar.advance(len(runs), self.failed_now)

    def _maybe_manifest(self) -> None:
        t = time.monotonic()
        if t - self.last_manifest >= MANIFEST_INTERVAL:
            self.sd.write_manifest(self.exp, self.status, sessions=self.sessions)
            self.last_manifest = t


# --------------------------------------------------------------------------------------------------
# Progress

class _Bar:
    def __init__(self, progress, task_id):
        self.progress, self.task_id = progress, task_id

    def advance(self, n: int, failed: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task_id, advance=n, failed=failed)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()


def _progress_bar(enabled: bool, console, exp: Experiment, todo: int, failed: int) -> _Bar:
    if not enabled:
        return _Bar(None, None)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("runs · [red]{task.fields[failed]} failed"), TimeElapsedColumn(), TextColumn("· left"),
        TimeRemainingColumn(), console=console, transient=False)
    task_id = progress.add_task(exp.name, total=exp.n_runs, completed=exp.n_runs - todo, failed=failed)
    return _Bar(progress, task_id)
