"""Time the baseline scenario at one size, in this process, and print one JSON line.

    python -m benchmarks.size_run --residents 100000 --days 365 --reps 3

Run by :mod:`benchmarks.suite` in a fresh subprocess per size, so the peak RSS it reports belongs to
that size alone. Build = constructing the model (population, network, departments); run =
``model.run(days)``; outputs = the summary and the daily, grid and department tables (what
:func:`sim.runner.run_one` returns). Times are wall-clock (``perf_counter``) with CPU time beside.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time

from benchmarks.common import describe, peak_rss_mib, rss_mib, scenario


def measure(residents: int, days: int, reps: int, seed: int = 1) -> dict:
    import numpy as np

    from sim.model import GovernanceModel
    sc = scenario(residents, days)
    rss_import = rss_mib()
    rows = []
    for k in range(reps):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        m = GovernanceModel(sc, seed=seed + k)
        w1, c1 = time.perf_counter(), time.process_time()
        m.run(days)
        w2, c2 = time.perf_counter(), time.process_time()
        m.summary(), m.daily_frame(), m.grid_frame(), m.department_frame()
        w3 = time.perf_counter()
        c = m.counts()
        closed = c["resolved"] + c["unresolved"] + c["escalated"] + c["abandoned"]
        rows.append({"build_s": w1 - w0, "run_s": w2 - w1, "run_cpu_s": c2 - c1, "build_cpu_s": c1 - c0,
                     "outputs_s": w3 - w2, "problems": c["problems"], "cases_closed": closed,
                     "cases_filed": c["filed"], "open_at_end": len(m.cases), "causes": len(m.causes),
                     "pending_hits": len(m.hits), "rss_end_mib": rss_mib()})
        del m
    run_s = [r["run_s"] for r in rows]
    med = statistics.median(run_s)
    out = {"residents": residents, "structure": describe(residents), "days": days, "reps": reps,
           "build_s": statistics.median(r["build_s"] for r in rows),
           "run_s": med, "run_s_best": min(run_s), "run_s_all": run_s,
           "run_cpu_s": statistics.median(r["run_cpu_s"] for r in rows),
           "outputs_s": statistics.median(r["outputs_s"] for r in rows),
           "resident_days_per_s": residents * days / med,
           "problems": int(np.median([r["problems"] for r in rows])),
           "cases_closed": int(np.median([r["cases_closed"] for r in rows])),
           "cases_per_s": statistics.median(r["cases_closed"] / r["run_s"] for r in rows),
           "rss_after_import_mib": rss_import, "peak_rss_mib": peak_rss_mib(),
           "end_state": {k: rows[-1][k] for k in ("open_at_end", "causes", "pending_hits", "rss_end_mib")}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, required=True)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    print(json.dumps(measure(a.residents, a.days, a.reps, a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
