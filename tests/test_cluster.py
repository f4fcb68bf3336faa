"""A real Dask cluster: a scheduler and two workers started as separate processes on loopback
(``python -m dask scheduler`` / ``python -m dask worker``, as an operator would start them), not a
LocalCluster. A sweep of the governance model run on it gives the table of a one-process run, bit for
bit; a worker killed with SIGKILL mid-sweep loses nothing.

The tests fail if the cluster did not run the work: the scheduler's task stream must show the sweep's
tasks executed by the worker processes (none in this process)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from sim.experiments import load_results, parse_experiment, run_sweep  # noqa: E402
from sim.experiments.loopback import LoopbackCluster  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


@pytest.fixture
def cluster():
    with LoopbackCluster(2, log_dir=REPO / ".pytest_cache" / "dask-logs") as c:
        yield c


def experiment(n: int = 14):
    """A real sweep of the governance model: 14 points × 2 replications of a 120-day baseline."""
    return parse_experiment({
        "name": "cluster_check", "base": "baseline.yaml",
        "factors": {"policies.patrol_intensity": {"bounds": [0.0, 1.0]},
                    "staffing.grid_workers_per_grid": {"bounds": [0.5, 3.0]}},
        "settings": {"run.steps": 120}, "design": {"method": "latin", "n": n}, "replications": 2, "seed": 7,
        "outcomes": ["satisfaction", "resolution_rate", "median_days", "total_cost"]})


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["elapsed"])


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "sweep"
    run_sweep(experiment(), out, workers=1, progress=False)
    return comparable(load_results(out))


def _sweep_on(cluster, out, *, kill_after_chunks: int | None = None):
    """Run the sweep through the Dask back end at the cluster's address, recording the scheduler's task
    stream; optionally SIGKILL worker w0 once that many chunks are saved."""
    import threading

    from distributed import get_task_stream

    from sim.experiments.evaluators import Dask

    killed = threading.Event()

    def killer():
        chunks = Path(out) / "chunks"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if chunks.is_dir() and len(list(chunks.glob("part-*.parquet"))) >= kill_after_chunks:
                cluster.kill_worker(0)
                killed.set()
                return
            time.sleep(0.02)

    backend = Dask(cluster.address, None)
    try:
        assert backend.workers == 2 and backend.label == f"dask cluster {cluster.address}"
        with get_task_stream(backend._client) as stream:
            t = threading.Thread(target=killer, daemon=True) if kill_after_chunks else None
            if t:
                t.start()
            report = run_sweep(experiment(), out, backend=backend, chunk_size=1, progress=False)
            if t:
                t.join(timeout=5)
        workers = {k: v for k, v in backend._client.scheduler_info()["workers"].items()}
    finally:
        backend.close()
    return report, stream.data, workers, killed.is_set()


def test_a_sweep_on_a_loopback_cluster_is_the_one_process_table(tmp_path, cluster, one_process):
    report, stream, _, _ = _sweep_on(cluster, tmp_path / "s")
    assert report.complete and report.failed == 0 and report.backend == f"dask cluster {cluster.address}"
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "s")), one_process)
    # the work ran on both worker processes (one run per task here), not in this process
    chunk_tasks = [t for t in stream if "run_chunk" in t["key"]]
    assert len(chunk_tasks) == len(one_process)
    assert {t["worker"].rsplit(":", 1)[0] for t in chunk_tasks} == {"tcp://127.0.0.1"}
    assert len({t["worker"] for t in chunk_tasks}) == 2


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path, cluster, one_process):
    report, stream, workers_after, killed = _sweep_on(cluster, tmp_path / "s", kill_after_chunks=6)
    assert killed, "the worker was never killed: the sweep ended first"
    assert cluster.workers[0].wait(timeout=10) == -signal.SIGKILL
    assert len(workers_after) == 1   # the survivor finished the sweep alone
    assert report.complete and report.failed == 0
    table = load_results(tmp_path / "s")
    assert len(table) == len(one_process) and (table["status"] == "done").all()
    pd.testing.assert_frame_equal(comparable(table), one_process)
    survivor = next(iter(workers_after))
    ran = [t for t in stream if "run_chunk" in t["key"]]
    assert sum(t["worker"] == survivor for t in ran) > len(one_process) // 2
