"""Cluster scaling: a govsim sweep on a real Dask cluster (``dask scheduler`` + ``dask worker``
processes on loopback) with 1 and 2 workers, against the machine's own ceiling.

The ceiling is what two *independent* numpy processes get on this machine at this moment: the same
runs, split in two halves run by two plain Python processes that start together (no Dask, no
scheduler), against one process running all of them. On a shared 2-core machine other load and
memory bandwidth cap a second process below 2×; the cluster's efficiency is its 2-worker speed-up
divided by that ceiling.

Every configuration runs the same runs (a Latin hypercube over two levers of a 5,000-resident,
365-day community) through the sweep's own code (``run_sweep`` with the Dask back end, results saved
as they arrive), with warmed workers. The configurations are interleaved over ``--rounds`` rounds, and
medians reported.

    python -m benchmarks.cluster                 # 16 runs, 2 rounds; table + JSON
    python -m benchmarks.cluster --runs 24 --rounds 3 --out benchmarks/results/cluster.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import ROOT, load_average, machine

HERE = Path(__file__).resolve().parent
DAYS = 365


def experiment(runs: int):
    from sim.experiments import parse_experiment
    return parse_experiment({
        "name": "cluster_bench", "base": "baseline.yaml",
        "factors": {"policies.patrol_intensity": {"bounds": [0.0, 1.0]},
                    "staffing.grid_workers_per_grid": {"bounds": [0.5, 3.0]}},
        "settings": {"run.steps": DAYS, "population.subdistricts": 1, "population.communities_per_subdistrict": 1,
                     "population.grids_per_community": 5, "population.residents_per_grid": 1000},
        "design": {"method": "latin", "n": runs}, "replications": 1, "seed": 11, "outcomes": ["satisfaction"]})


def _payload(exp, part: int, parts: int) -> list:
    from sim.experiments.space import plain_values
    design = exp.sample_design()
    cols = [c for c in design.columns if c != "point" and not c.startswith("u:")]
    points = [plain_values(r) for r in design[cols].to_dict("records")]
    return [(r, exp.run_seed(r, 0), points[r]) for r in range(len(points)) if r % parts == part]


# --- the ceiling: plain processes -------------------------------------------------------------------

def plain_child(runs: int, part: int, parts: int) -> None:
    """In a plain process: warm up, say ready, wait for "go", run this part's runs, report the time."""
    from sim.experiments.evaluators import run_chunk
    exp = experiment(runs)
    runner = exp.runner()
    payload = _payload(exp, part, parts)
    run_chunk(runner, payload[:1], ("satisfaction",))   # warm: imports, caches
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    cols = run_chunk(runner, payload, ("satisfaction",))
    wall = time.perf_counter() - t0
    assert all(s == "done" for s in cols["status"]), cols["error"]
    print(json.dumps({"runs": len(payload), "wall_s": wall}), flush=True)


def plain(runs: int, procs: int) -> dict:
    children = [subprocess.Popen([sys.executable, "-m", "benchmarks.cluster", "--plain-child", str(k), str(procs),
                                  "--runs", str(runs)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True) for k in range(procs)]
    for c in children:
        assert c.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for c in children:
        c.stdin.write("go\n")
        c.stdin.flush()
    res = [json.loads(c.stdout.readline()) for c in children]
    wall = time.perf_counter() - t0
    for c in children:
        c.wait()
    return {"processes": procs, "runs": runs, "wall_s": wall, "runs_per_min": runs / wall * 60,
            "process_wall_s": [r["wall_s"] for r in res]}


# --- the cluster ------------------------------------------------------------------------------------

def _warm() -> int:
    import os

    from sim.experiments.evaluators import run_chunk
    exp = experiment(2)
    run_chunk(exp.runner(), _payload(exp, 0, 1)[:1], ("satisfaction",))
    return os.getpid()


def on_cluster(runs: int, workers: int) -> dict:
    from sim.experiments import run_sweep
    from sim.experiments.evaluators import Dask
    from sim.experiments.loopback import LoopbackCluster
    with LoopbackCluster(workers) as cluster, tempfile.TemporaryDirectory() as tmp:
        backend = Dask(cluster.address, None)
        try:
            pids = backend._client.run(_warm)   # every worker imports govsim and finishes a run first
            report = run_sweep(experiment(runs), Path(tmp) / "s", backend=backend, progress=False)
        finally:
            backend.close()
    assert report.complete and report.failed == 0, report.errors
    return {"workers": workers, "runs": runs, "wall_s": report.seconds, "runs_per_min": runs / report.seconds * 60,
            "warmed_workers": len(set(pids.values())), "backend": report.backend}


def measure(runs: int = 16, rounds: int = 2) -> dict:
    samples: dict[str, list[dict]] = {"plain_1": [], "plain_2": [], "dask_1": [], "dask_2": []}
    for r in range(rounds):
        print(f"round {r + 1}/{rounds}: plain 1, plain 2, dask 1, dask 2 …", flush=True)
        samples["plain_1"].append(plain(runs, 1))
        samples["plain_2"].append(plain(runs, 2))
        samples["dask_1"].append(on_cluster(runs, 1))
        samples["dask_2"].append(on_cluster(runs, 2))
    med = {k: statistics.median(s["runs_per_min"] for s in v) for k, v in samples.items()}
    ceiling = med["plain_2"] / med["plain_1"]
    scaling = med["dask_2"] / med["dask_1"]
    return {"runs": runs, "rounds": rounds, "residents": 5_000, "days": DAYS,
            "runs_per_min_median": med, "ceiling_2_vs_1": ceiling, "dask_scaling_2_vs_1": scaling,
            "efficiency_vs_ceiling": scaling / ceiling,
            "dask_2_vs_plain_2": med["dask_2"] / med["plain_2"], "samples": samples}


def table(res: dict) -> str:
    m = res["runs_per_min_median"]
    rows = [("", "1 process/worker", "2 processes/workers", "2 vs 1"),
            ("plain processes (ceiling)", f"{m['plain_1']:.1f}", f"{m['plain_2']:.1f}", f"{res['ceiling_2_vs_1']:.2f}×"),
            ("dask cluster, loopback", f"{m['dask_1']:.1f}", f"{m['dask_2']:.1f}", f"{res['dask_scaling_2_vs_1']:.2f}×")]
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"Runs per minute, {res['residents']:,} residents × {res['days']} days, {res['runs']} runs, "
             f"median of {res['rounds']} rounds"]
    lines += ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows]
    lines.append(f"Cluster scaling / machine ceiling: {res['efficiency_vs_ceiling']:.0%}; "
                 f"2-worker cluster / 2 plain processes: {res['dask_2_vs_plain_2']:.0%}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/cluster-<time>.json)")
    ap.add_argument("--plain-child", nargs=2, type=int, metavar=("PART", "PARTS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.plain_child:
        plain_child(a.runs, *a.plain_child)
        return 0
    res = {"machine": machine(), "command": "python -m benchmarks.cluster " + " ".join(argv or sys.argv[1:])}
    res.update(measure(a.runs, a.rounds))
    res["load_average_at_end"] = load_average()
    out = a.out or HERE / "results" / f"cluster-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(table(res))
    print(f"load average {res['machine']['load_average_at_start']} at start, {res['load_average_at_end']} at end")
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
