"""A Dask cluster of separate processes on this machine: ``dask scheduler`` and ``dask worker``, started
as an operator starts them on real hosts, listening on 127.0.0.1 only.

Used by the cluster tests and the cluster benchmark (``--cluster local`` builds a ``LocalCluster``
inside the calling process instead). The workers import ``sim`` from the directory that holds this
package, so they run the same code as the caller.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]   # the directory holding the `sim` package


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """A scheduler and `workers` single-threaded workers, each its own process group.

    ``nanny=False`` makes each worker the very process started here, so killing ``workers[k]`` kills
    that worker for good (a nanny would restart it). Logs go to ``log_dir`` (a temporary folder by
    default). Use as a context manager; :meth:`close` stops only the processes it started.
    """

    def __init__(self, workers: int = 2, *, nanny: bool = False, log_dir: str | Path | None = None,
                 timeout: float = 60):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        path = os.pathsep.join(p for p in (str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, "PYTHONPATH": path}
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="govsim-dask-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen] = []
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard",
                                     name="scheduler")
        try:
            for k in range(workers):
                self.add_worker(nanny=nanny)
            self.wait_for(workers, timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, *args: str, name: str) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "w") as log:
            return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=SOURCE_ROOT, env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def add_worker(self, nanny: bool = False) -> subprocess.Popen:
        k = len(self.workers)
        p = self._start("worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                        "--nanny" if nanny else "--no-nanny", "--no-dashboard", "--name", f"w{k}", name=f"w{k}")
        self.workers.append(p)
        return p

    def wait_for(self, n: int, timeout: float = 60) -> None:
        """Wait until `n` workers are connected to the scheduler."""
        from distributed import Client
        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.address, timeout="5s") as c:
                    c.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the loopback cluster did not start {n} workers in {timeout:.0f} s; "
                                       f"logs in {self.log_dir}") from None
                time.sleep(0.5)

    def kill_worker(self, k: int) -> None:
        """SIGKILL worker k (as a crash or an out-of-memory kill would)."""
        os.kill(self.workers[k].pid, signal.SIGKILL)

    def close(self) -> None:
        procs = [*self.workers, self.scheduler]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self) -> "LoopbackCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
