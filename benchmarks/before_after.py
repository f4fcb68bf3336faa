"""Time the model as it was at a git commit against the working tree, interleaved in one process.

    python -m benchmarks.before_after                      # commit c7e65f8 (before the core rebuild)
    python -m benchmarks.before_after --ref HEAD --sizes 5000 100000 --reps 5

The old ``sim`` package is extracted from git into a temporary directory as ``sim_before`` and
both versions run the same scenarios and seeds alternately, so machine load hits both alike. Also
checks that both give the same outputs: equal counts and indicators equal to 1e-9 (the rebuilt core sums
some means in another order, so the last bits of a mean may differ).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, structure

BEFORE = "c7e65f8"   # the last commit before the core rebuild (issue 8)


def extract(ref: str, into: Path) -> None:
    pkg = into / "sim_before"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", ref, "sim"],
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if not f.endswith(".py"):
            continue
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{f}"], capture_output=True, text=True,
                              check=True).stdout
        text = re.sub(r"\bfrom sim(\.|\s)", r"from sim_before\1", text)
        text = re.sub(r"\bimport sim\.", "import sim_before.", text)
        out = pkg / Path(f).relative_to("sim")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


def same_outputs(a, b) -> bool:
    """Equal indicators (to 1e-9), equal daily series (to 1e-9) and equal per-grid tables."""
    import numpy as np
    keys = set(a.summary) & set(b.summary)
    close = all(np.isclose(float(a.summary[k]), float(b.summary[k]), rtol=1e-9, equal_nan=True) for k in keys)
    cols = [c for c in a.daily.columns if c in b.daily.columns]
    return close and np.allclose(a.daily[cols].to_numpy(float), b.daily[cols].to_numpy(float), rtol=1e-9,
                                 equal_nan=True) \
        and a.grids.shape == b.grids.shape \
        and np.allclose(a.grids.to_numpy(float), b.grids.to_numpy(float), rtol=1e-9, equal_nan=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default=BEFORE)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000, 8_000, 100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=5, help="runs per version and size (1 at 1,000,000)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        extract(a.ref, Path(tmp))
        sys.path.insert(0, tmp)
        versions = {"before": importlib.import_module("sim_before.runner"), "after": importlib.import_module("sim.runner")}
        scen = {"before": importlib.import_module("sim_before.scenario"), "after": importlib.import_module("sim.scenario")}
        for n in a.sizes:
            if n == 5_000:
                over = {"population.communities_per_subdistrict": 1, "population.grids_per_community": 5}
            elif n == 8_000:
                over = {}   # the shipped baseline: 2 communities × 4 grids × 1,000
            else:
                over = {f"population.{k}": v for k, v in structure(n).items()}
            reps = 1 if n >= 1_000_000 else a.reps
            times = {"before": [], "after": []}
            same = True
            for k in range(reps):
                results = {}
                for v in ("before", "after"):
                    sc = scen[v].load_scenario(ROOT / "scenarios" / "baseline.yaml", over)
                    w0, c0 = time.perf_counter(), time.process_time()
                    r = versions[v].run_one(sc, k + 1)
                    times[v].append((time.perf_counter() - w0, time.process_time() - c0))
                    results[v] = r
                same &= same_outputs(results["before"], results["after"])
            best = {v: min(t[1] for t in times[v]) for v in times}
            rows.append({"residents": n, "reps": reps, "before_cpu_s": best["before"], "after_cpu_s": best["after"],
                         "speedup": best["before"] / best["after"], "identical_outputs": same,
                         "times": times})
            print(f"{n:>9,} residents × 365 days: before {best['before']:.3f} s, after {best['after']:.3f} s "
                  f"(CPU, best of {reps}, run_one end to end): {best['before'] / best['after']:.2f}× faster; "
                  f"outputs {'identical' if same else 'DIFFERENT'}", flush=True)
    if a.out:
        a.out.write_text(json.dumps({"ref": a.ref, "rows": rows}, indent=1) + "\n")
    return 0 if all(r["identical_outputs"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
