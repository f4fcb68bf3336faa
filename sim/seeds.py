"""The one seed scheme of govsim: run, compare, sweeps and the API derive seeds the same way.

Replication k of root seed S runs with ``replication_seed(S, k)``, whatever command runs it. So
replication k of every scenario of a comparison shares its draws (common random numbers), and any row
of a sweep re-runs alone with ``govsim run ... --seed S --replication k`` to identical outputs (the
sweep's README says which k). Other random streams of an experiment (its design sample, the bootstrap
of its analysis) are :func:`stream_seed` of the experiment seed with a purpose key, apart from the runs.
"""

from __future__ import annotations

import numpy as np

MAX_SEED = 2**32 - 1


def replication_seed(root: int, replication: int) -> int:
    """The seed of replication k: derived from the root seed and k alone (the same for every scenario)."""
    return int(np.random.SeedSequence([root, replication]).generate_state(1, dtype=np.uint32)[0])


def stream_seed(root: int, *key: int) -> int:
    """A 32-bit seed for one purpose other than a run (a design sample, a bootstrap), from the root seed."""
    return int(np.random.SeedSequence(root, spawn_key=key).generate_state(1)[0])


__all__ = ["replication_seed", "stream_seed", "MAX_SEED"]
