"""Golden check: the model's outputs must stay bit-identical through speed and memory work.

For every shipped scenario (``scenarios/*.yaml``) at 300 residents per grid and 200 days, seeds 1
and 2, plus a few longer/larger runs, it hashes ``run_one(...)``'s daily, summary, grid and
department tables (CSV text, so every float is written to full precision) and compares the hashes
with ``benchmarks/golden_hashes.json``.

It also checks that ``Resident.experience``'s path for a few closures (Python floats) gives the
same bits as its array path on random batches.

    python -m benchmarks.golden_check            # compare (exit 1 on any difference)
    python -m benchmarks.golden_check --write    # record the hashes (only before changing the model)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
HASHES = HERE / "golden_hashes.json"
SCENARIO_DIR = HERE.parent / "scenarios"
SEEDS = (1, 2)


def cases() -> list[tuple[str, str, dict, int]]:
    """(key, scenario file, overrides, seed) of every checked run."""
    out = []
    for f in sorted(SCENARIO_DIR.glob("*.yaml")):
        for seed in SEEDS:
            out.append((f"{f.stem}/300x200/seed{seed}", f.name,
                        {"population.residents_per_grid": 300, "run.steps": 200}, seed))
    # Longer and larger runs: full-size baseline for a year, and three years (the shared-cause
    # arrays and the pool go through many more growth and compaction cycles).
    out.append(("baseline/1000x365/seed1", "baseline.yaml", {"run.steps": 365}, 1))
    out.append(("baseline/300x1095/seed3", "baseline.yaml",
                {"population.residents_per_grid": 300, "run.steps": 1095}, 3))
    out.append(("data_sharing_all/1000x730/seed4", "data_sharing_all.yaml", {"run.steps": 730}, 4))
    out.append(("flood_shock_platform/1000x365/seed5", "flood_shock_platform.yaml", {"run.steps": 365}, 5))
    # Large communities (batches of many closures a day take the array code paths)
    out.append(("baseline/100k/4x1000x25x4/60d/seed6", "baseline.yaml",
                {"population.communities_per_subdistrict": 25, "run.steps": 60}, 6))
    out.append(("data_sharing_all/40k/4x1000x10x4/90d/seed7", "data_sharing_all.yaml",
                {"population.communities_per_subdistrict": 10, "run.steps": 90}, 7))
    return out


def digest(scenario_file: str, overrides: dict, seed: int) -> str:
    from sim.runner import run_one
    from sim.scenario import load_scenario
    sc = load_scenario(SCENARIO_DIR / scenario_file, overrides)
    r = run_one(sc, seed)
    h = hashlib.sha256()
    h.update(r.daily.to_csv().encode())
    h.update(json.dumps(r.summary, sort_keys=True).encode())
    h.update(r.grids.to_csv().encode())
    h.update(r.departments.to_csv().encode())
    return h.hexdigest()


def _one(case):
    key, f, over, seed = case
    return key, digest(f, over, seed)


def compute(workers: int = 2) -> dict[str, str]:
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as ex:
        return dict(ex.map(_one, cases()))


def check_paths(cases: int = 3000, seed: int = 0) -> int:
    """`Resident.experience` on a few closures (the Python-float path) against its array path, on
    random batches: repeated residents, residents who are each other's neighbours, trust at and
    beyond the bounds. Returns the number of batches whose results differ in any bit."""
    import numpy as np

    from sim import agents
    from sim.agents import Resident
    from sim.model import GovernanceModel
    from sim.scenario import load_scenario
    rng = np.random.default_rng(seed)
    base = GovernanceModel(load_scenario(SCENARIO_DIR / "baseline.yaml", {"population.residents_per_grid": 60}),
                           seed=seed, resident_agents="none")
    n = base.n_residents
    bad = 0
    few = agents.FEW
    try:
        for _ in range(cases):
            size = int(rng.integers(1, few + 1))
            if rng.random() < 0.3:   # neighbours of one another, and repeats
                i0 = int(rng.integers(0, n))
                pool = np.r_[i0, base.adj_indices[base.adj_indptr[i0]:base.adj_indptr[i0 + 1]]]
                res = rng.choice(pool, size=size).astype(np.int32)
            else:
                res = rng.integers(0, n, size=size).astype(np.int32)
            resolved = float(rng.random() < 0.5)
            wait = rng.exponential(10, size) * (rng.random(size) < 0.9)
            expected = rng.choice([1.0, 3.0, 7.0, 15.0, 22.5], size)
            # at and (to exercise the clipping) just beyond the bounds, and -0.0
            edge = rng.choice([0.0, -0.0, 1.0, -0.5, 1.5], n)
            trust = np.where(rng.random(n) < 0.15, edge, rng.random(n))
            sat = rng.random(n)
            out = []
            for threshold in (few, 0):
                agents.FEW = threshold
                m = base
                m.trust, m.satisfaction, m.served = trust.copy(), sat.copy(), np.zeros(n, bool)
                s = Resident.experience(m, res, resolved, wait, expected)
                out.append((s.tobytes(), m.trust.tobytes(), m.satisfaction.tobytes(), m.served.tobytes()))
            bad += out[0] != out[1]
    finally:
        agents.FEW = few
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record the hashes instead of checking them")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    bad_paths = check_paths()
    print(f"experience: few-closure path vs array path: {'identical' if not bad_paths else f'{bad_paths} batches differ'}")
    if bad_paths:
        return 1
    t0 = time.perf_counter()
    got = compute(args.workers)
    if args.write:
        HASHES.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(got)} hashes to {HASHES} ({time.perf_counter() - t0:.1f} s)")
        return 0
    want = json.loads(HASHES.read_text())
    bad = [k for k in want if got.get(k) != want[k]]
    missing = [k for k in got if k not in want]
    for k in bad:
        print(f"DIFFERENT  {k}")
    for k in missing:
        print(f"not recorded  {k}")
    print(f"{len(want) - len(bad)}/{len(want)} identical ({time.perf_counter() - t0:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
