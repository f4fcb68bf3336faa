"""Evaluators: identical results whatever the back end or number of workers; dead workers' runs are
resubmitted; a sweep killed with SIGKILL and resumed ends with the table of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.experiments import load_results, parse_experiment, run_sweep
from sim.experiments.evaluators import ProcessPool

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]  # worker processes; a hang must not stall CI


def ishigami(**kw) -> dict:
    data = {"model": "ishigami", "factors": {"x1": None, "x2": None, "x3": None},
            "design": {"method": "latin", "n": 30}, "replications": 2, "seed": 3,
            "model_options": {"noise": 0.5}}
    data.update(kw)
    return data


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Everything but the run times."""
    return table.drop(columns=["elapsed"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "sweep"
    run_sweep(parse_experiment(ishigami()), out, workers=1, progress=False)
    return comparable(load_results(out))


def test_process_pool_gives_the_same_table_as_one_worker(tmp_path, reference):
    report = run_sweep(parse_experiment(ishigami()), tmp_path / "s", workers=2, progress=False)
    assert report.backend.startswith("process pool (2 workers")
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "s")), reference)


def test_dask_local_cluster_gives_the_same_table(tmp_path, reference):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from sim.experiments.evaluators import Backend

    class LoopbackDask(Backend):  # the same executor `--cluster local` builds, with our own cluster
        def __init__(self, client):
            self.workers = 2
            self.label = "dask test cluster"
            self._ex = client.get_executor(pure=False)

        def executor(self):
            return self._ex

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in client.scheduler_info()["workers"])
        run_sweep(parse_experiment(ishigami()), tmp_path / "s", backend=LoopbackDask(client), chunk_size=7,
                  progress=False)
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "s")), reference)


def test_cluster_local_option(tmp_path, reference):
    pytest.importorskip("distributed")
    report = run_sweep(parse_experiment(ishigami()), tmp_path / "s", workers=2, cluster="local", progress=False)
    assert report.backend == "dask LocalCluster (2 workers on 127.0.0.1)"
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "s")), reference)


def test_runs_of_a_dead_worker_are_resubmitted(tmp_path, reference):
    # Every run with x1 > 2.6 (4 of the 60) kills its worker process the first time it is tried.
    markers = tmp_path / "markers"
    markers.mkdir()
    exp = parse_experiment(ishigami(model_options={"noise": 0.5, "die_above": {"x1": 2.6},
                                                   "die_marker_dir": str(markers)}))
    with ProcessPool(2) as backend:
        report = run_sweep(exp, tmp_path / "s", backend=backend, chunk_size=4, progress=False)
    assert len(list(markers.iterdir())) > 0
    assert report.failed == 0 and report.complete
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "s")), reference)


def test_a_run_that_always_kills_its_worker_is_failed_after_two_tries_alone(tmp_path):
    exp = parse_experiment(ishigami(factors={"x1": {"levels": [-1.0, 0.0, 1.0, 3.0]}, "x2": {"levels": [0.0, 1.0]}},
                                    design="full_factorial", replications=1,
                                    model_options={"die_above": {"x1": 2.0}}))
    with ProcessPool(2) as backend:
        report = run_sweep(exp, tmp_path / "s", backend=backend, chunk_size=3, progress=False)
    table = load_results(tmp_path / "s")
    killer = table["x1"] == 3.0
    assert (table.loc[killer, "status"] == "failed").all() and (table.loc[~killer, "status"] == "done").all()
    assert table.loc[killer, "error"].str.startswith("worker lost while running this run alone, 2 times").all()
    assert report.failed == 2


def _chunks(out: Path) -> int:
    return len(list((out / "chunks").glob("part-*.parquet"))) if (out / "chunks").is_dir() else 0


def test_sigkill_and_resume_give_the_uninterrupted_table(tmp_path):
    spec = ishigami(design={"method": "latin", "n": 100}, model_options={"noise": 0.5, "sleep": 0.03})
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sim.experiments", "sweep", str(path), "--out", str(out), "--workers", "2",
           "--chunk-size", "5", "--no-progress"]
    # A session of its own, so the kill takes the pool's worker processes too, as `kill -9` of a job would.
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while _chunks(out) < 6:
            assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no chunk written within 60 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.parquet").exists()

    from sim.experiments.store import SweepDir
    exp = SweepDir(out).load_experiment()
    before = SweepDir(out).scan(exp.n_runs)
    assert 0 < before.done < exp.n_runs
    partial = load_results(out)  # an unfinished sweep can be read too
    assert len(partial) == before.done and (partial["status"] == "done").all()

    resumed = subprocess.run([sys.executable, "-m", "sim.experiments", "sweep", "--resume", "--out", str(out),
                              "--workers", "2", "--no-progress"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"]["done"] == exp.n_runs
    first, second = manifest["sessions"]
    assert first["interrupted"] and not second["interrupted"]
    assert second["ran"] == exp.n_runs - before.done  # finished runs were not run again

    uninterrupted = tmp_path / "whole"  # the sleep does not change results, only the time they take
    run_sweep(parse_experiment({**spec, "model_options": {"noise": 0.5}}), uninterrupted, workers=1, progress=False)
    pd.testing.assert_frame_equal(comparable(load_results(out)), comparable(load_results(uninterrupted)))


def call_runner(task):
    """A picklable task for map_resubmitting: (runner, values, seed)."""
    runner, values, seed = task
    return runner(values, seed)


def test_map_resubmitting_runs_lost_tasks_again_and_gives_up_on_a_killer(tmp_path):
    """What a calibration's points go through: a task whose worker dies once is run again (same
    result as never lost); one that kills every worker it meets ends as LostTask, the others done."""
    from sim.experiments.evaluators import LostTask, map_resubmitting
    from sim.experiments.models import IshigamiOptions, IshigamiRunner
    markers = tmp_path / "m"
    markers.mkdir()
    once = IshigamiRunner(IshigamiOptions(die_above={"x1": 2.0}, die_marker_dir=str(markers)))
    plain = IshigamiRunner(IshigamiOptions())
    tasks = [(once, {"x1": x, "x2": 1.0, "x3": 0.5}, k) for k, x in enumerate((-1.0, 3.0, 0.5, 2.5))]
    with ProcessPool(2) as backend:
        got = map_resubmitting(backend, call_runner, tasks)
    assert len(list(markers.iterdir())) == 2   # both x1 > 2 killed their worker once
    assert got == [plain(v, s) for _, v, s in tasks]
    always = IshigamiRunner(IshigamiOptions(die_above={"x1": 2.0}))
    with ProcessPool(2) as backend:
        got = map_resubmitting(backend, call_runner, [(always, {"x1": 3.0}, 1), (plain, {"x1": 0.0}, 1)],
                               max_losses=2)
    assert isinstance(got[0], LostTask) and got[1] == plain({"x1": 0.0}, 1)
