"""Evaluators: how runs are executed, behind the standard ``concurrent.futures.Executor`` interface.

* :class:`InProcessExecutor` — one worker, runs tasks in this process as they are submitted;
* a ``ProcessPoolExecutor`` with an explicit ``forkserver`` (or ``spawn``) context — the default, one
  process per core; the start method is passed to the pool, never set process-wide;
* a ``dask.distributed`` cluster through ``Client.get_executor()`` — ``--cluster tcp://host:port``, or
  ``--cluster local`` for a ``LocalCluster`` on 127.0.0.1 (one single-threaded process per worker).
  Needs the optional extra ``govsim[cluster]``; the workers must be able to import ``sim``.

A task is :func:`run_chunk`: several runs, so the per-task overhead (pickling, scheduling) stays small
against the runs themselves. A run that raises is caught inside the task and comes back as a failed
record with its message; only the loss of a task itself (a worker process died, a cluster worker was
lost) surfaces as an exception from its future, and the sweep then resubmits its runs.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import sys
import time
import traceback
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import ExperimentError

MAX_ERROR_CHARS = 2000


def run_chunk(runner, runs: Sequence[tuple[int, int, dict]], outcomes: Sequence[str],
              required: Sequence[str] = ()) -> dict[str, list]:
    """Run ``runner(values, seed)`` for each ``(run_id, seed, values)``; return columns of records.

    Consecutive runs with the same values (the replications of one design point) are run as one batch
    when the runner offers ``runner.batch(values, seeds)`` (the govsim model advances a batch together,
    each run with its own random streams, so the results are those of the runs one by one: the
    per-day cost is shared, see benchmarks). Every run is independent: an exception fails that run
    only (a batch that raises is run again one by one to find which), and outcome values are stored as
    floats (NaN when the model did not return one).
    """
    cols: dict[str, list] = {"run": [], "status": [], "error": [], "elapsed": [], **{o: [] for o in outcomes}}
    nan = float("nan")

    def record(run_id, summary, error, elapsed):
        row, status = dict.fromkeys(outcomes, nan), "failed"
        if error is None:
            missing = [o for o in required if o not in summary]
            if missing:
                error = f"KeyError: the run returned no value for outcome(s) {', '.join(missing)}"
            else:
                row, status = {o: _float(summary.get(o, nan)) for o in outcomes}, "done"
        cols["run"].append(run_id)
        cols["status"].append(status)
        cols["error"].append(error)
        cols["elapsed"].append(elapsed)
        for o in outcomes:
            cols[o].append(row[o])

    def one(run_id, seed, values):
        t0 = time.perf_counter()
        try:
            summary, error = runner(values, seed), None
        except Exception as e:  # a failing run must not stop the sweep
            summary, error = None, describe_error(e)
        record(run_id, summary, error, time.perf_counter() - t0)

    batch = getattr(runner, "batch", None)
    for group in _same_values(runs):
        if batch is None or len(group) == 1:
            for run in group:
                one(*run)
            continue
        t0 = time.perf_counter()
        try:
            summaries = batch(group[0][2], [seed for _, seed, _ in group])
        except Exception:  # find the failing run(s) one by one
            for run in group:
                one(*run)
            continue
        elapsed = (time.perf_counter() - t0) / len(group)
        for (run_id, _, _), summary in zip(group, summaries):
            record(run_id, summary, None, elapsed)
    return cols


def _same_values(runs: Sequence[tuple[int, int, dict]]) -> list[list[tuple[int, int, dict]]]:
    """The runs split into groups of consecutive runs with equal values."""
    groups: list[list[tuple[int, int, dict]]] = []
    for run in runs:
        if groups and groups[-1][0][2] == run[2]:
            groups[-1].append(run)
        else:
            groups.append([run])
    return groups


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def describe_error(e: BaseException) -> str:
    msg = f"{type(e).__name__}: {e}"
    frames = traceback.extract_tb(e.__traceback__)
    if frames:
        f = frames[-1]
        msg += f" (at {os.path.basename(f.filename)}:{f.lineno} in {f.name})"
    return msg[:MAX_ERROR_CHARS]


# --------------------------------------------------------------------------------------------------
# Executors

class InProcessExecutor(Executor):
    """Runs each task in the calling process when it is submitted (one worker, no pickling)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        return fut


def lost_task_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a task was lost with its worker (so its runs are resubmitted)."""
    errs: list[type[BaseException]] = [BrokenProcessPool, CancelledError, ConnectionError, EOFError]
    if "distributed" in sys.modules:  # only a Dask back end can raise these (and importing it costs a second)
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError
        errs += [KilledWorker, CommClosedError]
    return tuple(errs)


class Backend:
    """Owns an executor; knows how many workers it has and how to replace a broken one."""

    label = "backend"
    workers = 1

    def executor(self) -> Executor:
        raise NotImplementedError

    def restart(self) -> Executor:
        """A fresh executor after the current one broke (a worker process died)."""
        return self.executor()

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def map_resubmitting(backend: Backend, fn, tasks: Sequence, max_losses: int = 3,
                     done: Callable[[int], None] | None = None) -> list:
    """``fn(task)`` for every task on the backend's workers, results in task order. Tasks lost with
    their worker (a process killed, a Dask worker gone) are run again on a fresh executor, up to
    `max_losses` times; a task lost more often gets a :class:`LostTask` in its place. ``fn`` must give
    the same result wherever it runs (the tasks carry their seeds). ``done(i)`` is called as task i's
    result comes in (for progress)."""
    out: list = [None] * len(tasks)
    todo = list(range(len(tasks)))
    losses = 0
    ex = backend.executor()
    while todo:
        futures = [(i, ex.submit(fn, tasks[i])) for i in todo]
        lost = []
        for i, fut in futures:
            try:
                out[i] = fut.result()
            except lost_task_errors():
                lost.append(i)
                continue
            if done:
                done(i)
        if lost:
            losses += 1
            if losses > max_losses:
                for i in lost:
                    out[i] = LostTask(f"worker lost while running this task, {losses} times")
                break
            ex = backend.restart()
        todo = lost
    return out


@dataclass(frozen=True)
class LostTask:
    """In place of a result: the task's worker was lost every time it was tried."""
    reason: str


class InProcess(Backend):
    def __init__(self):
        self.label = "in-process (1 worker)"
        self._ex = InProcessExecutor()

    def executor(self) -> Executor:
        return self._ex


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ProcessPool(Backend):
    def __init__(self, workers: int):
        self.workers = workers
        self._ctx = _mp_context()
        self.label = f"process pool ({workers} workers, {self._ctx.get_start_method()})"
        self._ex: ProcessPoolExecutor | None = None

    def executor(self) -> Executor:
        if self._ex is None:
            self._ex = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx)
        return self._ex

    def restart(self) -> Executor:
        self.close()
        return self.executor()

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None


class Dask(Backend):
    def __init__(self, address: str, workers: int | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExperimentError("--cluster needs dask.distributed: pip install 'govsim[cluster]'") from None
        self._cluster = None
        if address == "local":
            n = workers or os.cpu_count() or 1
            import logging
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
            self.label = f"dask LocalCluster ({n} workers on 127.0.0.1)"
        else:
            try:
                self._client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as e:
                raise ExperimentError(f"cannot reach the Dask scheduler at {address}: {e}") from None
            self.label = f"dask cluster {address}"
        self.workers = max(1, sum(self._client.nthreads().values()))
        self._ex = self._client.get_executor(pure=False)

    def executor(self) -> Executor:
        return self._ex

    def close(self) -> None:
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


CLUSTER_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss|inproc)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def check_options(workers: int | None = None, cluster: str | None = None, chunk_size: int | None = None) -> None:
    """Refuse bad back-end options before anything is written or started."""
    if workers is not None and workers < 1:
        raise ExperimentError(f"--workers must be at least 1 (got {workers})")
    if chunk_size is not None and chunk_size < 1:
        raise ExperimentError(f"--chunk-size must be at least 1 run (got {chunk_size})")
    if cluster is not None and cluster != "local" and not CLUSTER_ADDRESS.match(cluster):
        raise ExperimentError(f"--cluster '{cluster[:80]}': give a Dask scheduler address such as "
                              "tcp://host:8786, or 'local' for a cluster on this machine")


def local_workers(workers: int | None) -> int:
    """Worker processes on this machine: as asked, else one per core."""
    return workers or os.cpu_count() or 1


def make_backend(workers: int | None = None, cluster: str | None = None) -> Backend:
    check_options(workers, cluster)
    if cluster:
        return Dask(cluster, workers)
    n = local_workers(workers)
    return InProcess() if n == 1 else ProcessPool(n)


def initial_chunk(runs: int, workers: int) -> int:
    return max(1, min(8, math.ceil(runs / (4 * workers))))
