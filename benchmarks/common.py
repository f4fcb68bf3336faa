"""Shared helpers: the benchmark communities, peak memory, machine description."""

from __future__ import annotations

import math
import os
import platform
import resource
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
GRID = 1000   # residents per grid in every benchmark community (the baseline's grid size)


def structure(residents: int) -> dict[str, int]:
    """Population structure of a baseline community of `residents`: grids of 1,000 residents, 4 grids
    per community where the number of grids allows (else 5, else 1), and at most 40 communities per
    subdistrict (the schema's bound)."""
    if residents % GRID:
        raise ValueError(f"residents must be a multiple of {GRID}")
    grids = residents // GRID
    per_comm = 4 if grids % 4 == 0 else 5 if grids % 5 == 0 else 1
    comms = grids // per_comm
    subs = max(1, math.ceil(comms / 40))
    while comms % subs:
        subs += 1
    return {"subdistricts": subs, "communities_per_subdistrict": comms // subs,
            "grids_per_community": per_comm, "residents_per_grid": GRID}


def describe(residents: int) -> str:
    s = structure(residents)
    comms = s["subdistricts"] * s["communities_per_subdistrict"]
    return (f"{comms} communit{'y' if comms == 1 else 'ies'} × {s['grids_per_community']} "
            f"grid{'' if s['grids_per_community'] == 1 else 's'} × {s['residents_per_grid']:,}")


def scenario(residents: int, days: int = 365, base: Path = BASELINE, grids_per_community: int | None = None):
    """The baseline scenario at `residents`, run for `days`."""
    from sim.scenario import load_scenario
    s = structure(residents)
    if grids_per_community is not None:   # e.g. the sweep's community: 1 community of 5 grids
        s = {"subdistricts": 1, "communities_per_subdistrict": residents // GRID // grids_per_community,
             "grids_per_community": grids_per_community, "residents_per_grid": GRID}
    over = {f"population.{k}": v for k, v in s.items()}
    over["run.steps"] = days
    return load_scenario(base, over)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def rss_mib() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def machine() -> dict:
    """Where and with what the benchmark ran."""
    from importlib import metadata
    info = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "load_average_at_start": load_average()}
    try:
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        pass
    try:
        import psutil
        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:  # pragma: no cover
        pass
    for pkg in ("numpy", "mesa", "scipy", "pandas", "psutil"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            info[pkg] = None
    try:
        from sim.runner import git_commit
        info["git_commit"] = git_commit()
    except Exception:  # pragma: no cover
        info["git_commit"] = None
    return info
