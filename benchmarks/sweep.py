"""Sweep throughput: runs per minute of a 5,000-resident, 365-day community with 1 and 2 workers.

Workers are a ``ProcessPoolExecutor`` with an explicit ``forkserver`` context (``spawn`` where
forkserver is unavailable), warmed before timing: each has imported govsim and finished a run. Each
task is what a sensitivity sweep does per sample: ``run_one`` (build, run, outputs) and return the
summary; it also reports its own end-to-end time, the "warm worker" time of one run.

    python -m benchmarks.sweep --runs 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, wait

RESIDENTS = 5_000
GRIDS_PER_COMMUNITY = 5   # one community of 5 grids of 1,000 residents
DAYS = 365

_SCENARIO = None


def _scenario():
    global _SCENARIO
    if _SCENARIO is None:
        from benchmarks.common import scenario
        _SCENARIO = scenario(RESIDENTS, DAYS, grids_per_community=GRIDS_PER_COMMUNITY)
    return _SCENARIO


def one_run(seed: int) -> dict:
    """One sweep task in a worker: a full run end to end; returns the summary and its own timing."""
    import os

    from sim.runner import run_one
    sc = _scenario()
    w0, c0 = time.perf_counter(), time.process_time()
    r = run_one(sc, seed)
    return {"seed": seed, "pid": os.getpid(), "wall_s": time.perf_counter() - w0,
            "cpu_s": time.process_time() - c0, "satisfaction": r.summary["satisfaction"]}


def spin(_: int = 0) -> dict:
    """A pure-Python CPU-bound task of about the same length (no numpy, no memory traffic): what the
    machine itself gives a second worker at this moment."""
    import os
    w0, c0 = time.perf_counter(), time.process_time()
    x = 0
    for i in range(3_000_000):
        x += i * i % 7
    return {"seed": 0, "pid": os.getpid(), "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}


def _warm(pause: float) -> int:
    import os
    one_run(10_000)
    time.sleep(pause)   # hold this worker so the next warm-up task goes to another one
    return os.getpid()


def context() -> mp.context.BaseContext:
    try:
        return mp.get_context("forkserver")
    except ValueError:  # pragma: no cover (no forkserver on this platform)
        return mp.get_context("spawn")


def throughput(workers: int, runs: int, first_seed: int = 1, task=one_run) -> dict:
    ctx = context()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        warmed = {f.result() for f in [ex.submit(_warm, 0.5) for _ in range(workers)]}
        t0 = time.perf_counter()
        futures = [ex.submit(task, first_seed + k) for k in range(runs)]
        wait(futures)
        wall = time.perf_counter() - t0
        res = [f.result() for f in futures]
    per_run = [r["wall_s"] for r in res]
    return {"workers": workers, "runs": runs, "start_method": ctx.get_start_method(),
            "warmed_workers": len(warmed), "wall_s": wall, "runs_per_min": runs / wall * 60,
            "run_s_median": statistics.median(per_run), "run_s_best": min(per_run),
            "run_cpu_s_median": statistics.median(r["cpu_s"] for r in res),
            "pids": len({r["pid"] for r in res})}


def measure(runs: int = 20, workers: tuple[int, ...] = (1, 2)) -> dict:
    out = {"residents": RESIDENTS, "structure": f"1 community × {GRIDS_PER_COMMUNITY} grids × 1,000",
           "days": DAYS, "runs": runs, "by_workers": {}}
    for w in workers:
        out["by_workers"][str(w)] = throughput(w, runs)
    if "1" in out["by_workers"] and "2" in out["by_workers"]:
        out["scaling_2_vs_1"] = out["by_workers"]["2"]["runs_per_min"] / out["by_workers"]["1"]["runs_per_min"]
        # the same measurement with a pure-Python task: the ceiling the machine allows right now
        one, two = (throughput(w, runs, task=spin) for w in (1, 2))
        out["machine_scaling_2_vs_1"] = two["runs_per_min"] / one["runs_per_min"]
        out["machine_calibration"] = {"1": one, "2": two}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args(argv)
    print(json.dumps(measure(a.runs), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
