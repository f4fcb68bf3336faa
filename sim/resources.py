"""Refuse, before it starts, a run that cannot fit in memory (instead of dying part-way through).

The estimate is linear in the residents held at once: a batch of runs of one scenario holds
``batch × n_residents`` residents (:func:`sim.runner.batches`). Measured peak resident memory of
``run_batch`` (baseline, 30 days, one run; ``ru_maxrss`` before and after): 492 B per resident at
100,000 residents, 423 B at 400,000 and 419 B at 1,000,000. ``BYTES_PER_RESIDENT`` rounds this up to
allow for longer runs (the case ledger grows with the days); ``BASE_BYTES`` is the interpreter with
numpy, pandas and Mesa loaded (about 200 MB).
"""

from __future__ import annotations

import os

BYTES_PER_RESIDENT = 700
BASE_BYTES = 250 * 2**20


class ResourceError(Exception):
    """The work asked for does not fit in this machine's memory; the message gives the estimate."""


def available_bytes() -> int | None:
    """Memory available to a new process now (Linux MemAvailable; else physical memory), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_bytes(residents_at_once: int, processes: int = 1) -> int:
    return processes * (BASE_BYTES + BYTES_PER_RESIDENT * int(residents_at_once))


def gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def check_memory(residents_at_once: int, *, processes: int = 1, what: str = "this run") -> None:
    """Refuse work whose estimated memory exceeds what is available, with the estimate and what to change."""
    need = estimate_bytes(residents_at_once, processes)
    have = available_bytes()
    if have is not None and need > have:
        per = f" in each of {processes} processes" if processes > 1 else ""
        raise ResourceError(f"{what} needs about {gb(need)} of memory ({residents_at_once:,} residents at once{per}, "
                            f"~{BYTES_PER_RESIDENT} bytes each) but {gb(have)} is available; lower the population "
                            "(population.* parameters)" + (" or --workers" if processes > 1 else ""))


__all__ = ["ResourceError", "check_memory", "estimate_bytes", "available_bytes", "BYTES_PER_RESIDENT"]
