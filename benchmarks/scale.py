"""Issue 15's scale targets: a megacity on one machine, small runs fast, a thousand-run sweep.

    python -m benchmarks.scale                      # all (the megacity takes minutes and ~7 GiB)
    python -m benchmarks.scale --skip-megacity      # the small-run targets only
    python -m benchmarks.scale --megacity 5000000   # a smaller "megacity" (e.g. on a laptop)

Measured:

* **megacity**: Beijing's 21.8 million residents for 365 days in a fresh process
  (:mod:`benchmarks.size_run`): build and run seconds (wall and CPU) and peak RSS. Targets: build
  < 60 s, run < 120 s, peak < 8 GiB.
* **small runs**: the 8,000-resident baseline year in a warm process, alone and as one batch of 10
  (CPU seconds per run; the batch shares the per-day cost). Target < 0.1 s per run.
* **govsim run, 10 replications**: wall seconds of ``python -m sim.cli run baseline --replications
  10`` end to end (interpreter start and imports included). Target < 2 s.
* **a district, 10 replications** (no target): wall seconds of ``govsim run`` for a 100,000-resident
  district with 10 replications (five batches), ``--no-figures``, in one process (``--workers 1``) and
  with the default workers (one per core): what worker processes buy a planner on this machine.
* **1,000-run sweep**: wall seconds of a sweep of 100 points × 10 replications of the baseline on 2
  worker processes (``sim.experiments.run_sweep``). Target < 120 s.

On a shared machine wall-clock times include other processes' load (recorded at start and end); CPU
seconds are given beside. Results: a table on stdout and ``benchmarks/results/scale-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import ROOT, load_average, machine

HERE = Path(__file__).resolve().parent
MEGACITY = 21_800_000
T_BUILD, T_RUN, T_RSS = 60.0, 120.0, 8 * 1024    # s, s, MiB
T_SMALL = 0.1      # CPU s per 8,000-resident year in a warm worker
T_CLI10 = 2.0      # s, govsim run with 10 replications
T_SWEEP = 120.0    # s, 1,000 runs on 2 workers


def megacity(residents: int) -> dict:
    from benchmarks.suite import run_size
    return run_size(residents, 365, reps=1)


def small_runs(batch: int = 10) -> dict:
    from sim.model import GovernanceModel
    from sim.scenario import load_scenario
    sc = load_scenario("baseline.yaml")
    GovernanceModel(sc, seeds=[1]).run()   # warm: imports, caches
    t = time.process_time()
    GovernanceModel(sc, seeds=[2]).run()
    alone = time.process_time() - t
    t = time.process_time()
    GovernanceModel(sc, seeds=list(range(3, 3 + batch))).run()
    batched = (time.process_time() - t) / batch
    return {"residents": sc.n_residents, "alone_cpu_s": alone, "batched_cpu_s_per_run": batched, "batch": batch}


def cli_replications(reps: int = 10, extra: tuple[str, ...] = ()) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sim.cli", "run", "baseline", "--replications", str(reps), "--out",
               str(Path(tmp) / "out"), *extra]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return {"replications": reps, "wall_s": wall, "options": list(extra)}


def district_replications(residents: int = 100_000, reps: int = 10) -> dict:
    from benchmarks.common import structure
    sets = [a for k, v in structure(residents).items() for a in ("--set", f"population.{k}={v}")]
    one = cli_replications(reps, (*sets, "--no-figures", "--workers", "1"))
    auto = cli_replications(reps, (*sets, "--no-figures"))
    return {"residents": residents, "replications": reps, "one_worker_wall_s": one["wall_s"],
            "default_workers_wall_s": auto["wall_s"], "speedup": one["wall_s"] / auto["wall_s"]}


def sweep(points: int = 100, replications: int = 10, workers: int = 2) -> dict:
    from sim.experiments import parse_experiment, run_sweep
    text = textwrap.dedent(f"""
        name: scale_benchmark
        base: baseline.yaml
        factors:
          policies.share_joined: [0.0, 1.0]
          staffing.grid_workers_per_grid: [1.0, 3.0]
        design: {{method: latin, n: {points}}}
        replications: {replications}
        seed: 7
    """)
    with tempfile.TemporaryDirectory() as tmp:
        import yaml
        exp = parse_experiment(yaml.safe_load(text), relative_to=ROOT / "experiments")
        t, c = time.perf_counter(), time.process_time()
        run_sweep(exp, out=Path(tmp) / "out", workers=workers, progress=False)
        wall = time.perf_counter() - t
    return {"runs": points * replications, "workers": workers, "wall_s": wall, "runs_per_min": points * replications / wall * 60}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n\n")[0])
    ap.add_argument("--megacity", type=int, default=MEGACITY, help="residents of the megacity run (default 21,800,000)")
    ap.add_argument("--skip-megacity", action="store_true")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    res: dict = {"machine": machine(), "command": " ".join(["python -m benchmarks.scale", *(argv or sys.argv[1:])])}
    rows = []

    def row(target, value, goal, ok, unit):
        rows.append({"target": target, "value": value, "goal": goal, "unit": unit, "pass": bool(ok)})
        print(f"{target:<52} {value:>9.2f} {unit:<5} {goal:<9} {'PASS' if ok else 'FAIL'}", flush=True)

    print(f"{'target':<52} {'value':>9} {'unit':<5} {'goal':<9} result")
    s = res["small_runs"] = small_runs()
    row("8,000-resident year, alone (CPU)", s["alone_cpu_s"], "< 0.1", s["alone_cpu_s"] < T_SMALL, "s")
    row(f"8,000-resident year, batch of {s['batch']} (CPU per run)", s["batched_cpu_s_per_run"], "< 0.1",
        s["batched_cpu_s_per_run"] < T_SMALL, "s")
    c = res["cli_replications"] = cli_replications()
    row("govsim run baseline, 10 replications (wall)", c["wall_s"], "< 2", c["wall_s"] < T_CLI10, "s")
    d = res["district_replications"] = district_replications()
    print(f"{'100,000-resident district, 10 replications (wall):':<52} {d['one_worker_wall_s']:.1f} s in one process, "
          f"{d['default_workers_wall_s']:.1f} s with the default workers ({d['speedup']:.2f}×)", flush=True)
    if not args.skip_sweep:
        w = res["sweep"] = sweep()
        row("1,000-run sweep on 2 workers (wall)", w["wall_s"], "< 120", w["wall_s"] < T_SWEEP, "s")
    if not args.skip_megacity:
        m = res["megacity"] = megacity(args.megacity)
        n = f"{args.megacity / 1e6:g} M residents"
        row(f"{n}: build (wall)", m["build_s"], "< 60", m["build_s"] < T_BUILD, "s")
        row(f"{n}: run 365 days (wall)", m["run_s"], "< 120", m["run_s"] < T_RUN, "s")
        row(f"{n}: run 365 days (CPU)", m["run_cpu_s"], "< 120", m["run_cpu_s"] < T_RUN, "s")
        row(f"{n}: peak RSS", m["peak_rss_mib"] / 1024, "< 8", m["peak_rss_mib"] < T_RSS, "GiB")
    res["targets"] = rows
    res["load_average_at_end"] = load_average()
    out = args.out or HERE / "results" / f"scale-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(f"load average {res['machine'].get('load_average_at_start')} → {res['load_average_at_end']}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
