"""Samplers: how the points of an experiment are chosen.

Every sampled design is drawn in the unit hypercube by SALib with the design's own seed and mapped to
parameter values by the factors (:mod:`space`); the unit coordinates are kept in the design table
(columns ``u:<path>``) because Morris and RBD-FAST analyse them. A full factorial is the product of
the factors' levels.

=============== ============================ ==================================== ===================
method          ``n`` means                  points                               analysed with
=============== ============================ ==================================== ===================
full_factorial  (not used)                   product of the levels                main-effect shares
latin           points                       n                                    RBD-FAST S1
sobol           base samples (power of two)  n(k+2), or n(2k+2) with second order Sobol' S1, ST (S2)
morris          trajectories                 n(k+1)                               Morris μ*, σ
fast            samples per factor (> 4M²)   n·k                                  eFAST S1, ST
rbd_fast        points                       n                                    RBD-FAST S1
cross           futures                      policies × n (levers × uncertainties) robustness, discover
=============== ============================ ==================================== ===================

``latin`` and ``rbd_fast`` draw the same Latin hypercube: ``latin`` is meant for exploring the outcome
surface (the results table is the product), ``rbd_fast`` for first-order indices with a chosen
interference factor ``M``; both are analysed with RBD-FAST (Borgonovo's delta would suit ``latin``
better but SALib's takes tens of seconds per outcome even for a few factors).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd

from .errors import ExperimentError, closest
from .space import Factor

METHODS = ("full_factorial", "latin", "sobol", "morris", "fast", "rbd_fast", "cross")
ALIASES = {
    "factorial": "full_factorial", "grid": "full_factorial", "full-factorial": "full_factorial",
    "lhs": "latin", "latin_hypercube": "latin", "latin-hypercube": "latin",
    "saltelli": "sobol", "efast": "fast", "rbd-fast": "rbd_fast", "rbdfast": "rbd_fast",
    "policies_x_futures": "cross", "levers_x_uncertainties": "cross", "crossed": "cross",
}
SAMPLED = ("latin", "sobol", "morris", "fast", "rbd_fast")
DEFAULT_MORRIS_LEVELS = 4
DEFAULT_FACTORIAL_LEVELS = 3
DEFAULT_M = {"fast": 4, "rbd_fast": 10}


def canonical_method(name: str) -> str:
    key = str(name).strip().lower()
    if key in METHODS:
        return key
    if key in ALIASES:
        return ALIASES[key]
    hint = closest(key, [*METHODS, *ALIASES], cutoff=0.4)
    hint = ALIASES.get(hint, hint)
    raise ExperimentError(f"design.method: unknown design '{name}'" + (f"; did you mean '{hint}'?" if hint else "")
                          + f" (designs: {', '.join(METHODS)})")


def n_points(method: str, n: int | None, k: int, *, levels: list[int] | None = None,
             second_order: bool = False) -> int:
    if method == "full_factorial":
        return math.prod(levels or [])
    if method == "sobol":
        return n * ((2 * k + 2) if second_order else (k + 2))
    if method == "morris":
        return n * (k + 1)
    if method == "fast":
        return n * k
    return n


def check(method: str, n: int | None, factors: list[Factor], *, num_levels: int | None, M: int | None,
          second_order: bool) -> int:
    """Validate the design's settings; return its number of points."""
    k = len(factors)
    if k == 0:
        raise ExperimentError("factors: the experiment varies nothing (give at least one factor)")
    if method == "full_factorial":
        if n is not None:
            raise ExperimentError("design.n is not used by a full factorial: give each factor `levels`, "
                                  "or set design.levels (how many evenly spaced levels a bounded factor takes)")
        return n_points(method, None, k, levels=[len(f.levels) for f in factors])
    if n is None:
        raise ExperimentError(f"design.n is required for a {method} design ({_N_MEANING[method]})")
    bad_kind = [f.path for f in factors if f.kind == "str" and f.levels is None]
    if bad_kind:
        raise ExperimentError(f"factor '{bad_kind[0]}' is text; a {method} design needs `levels` for it")
    if method == "sobol":
        if n < 2 or n & (n - 1):
            lo = 2 ** max(1, int(math.floor(math.log2(max(n, 2)))))
            hi = lo * 2
            alts = " or ".join(f"{m} ({n_points('sobol', m, k, second_order=second_order):,} points)"
                               for m in dict.fromkeys((lo, hi)) if m != n)
            raise ExperimentError(
                f"design.n = {n}: a Sobol' (Saltelli) design needs a power of two, or the sequence loses its "
                f"balance and the indices their accuracy; use {alts}")
    elif method == "morris":
        if n < 2:
            raise ExperimentError(f"design.n = {n}: Morris needs at least 2 trajectories (10–20 is usual)")
        if num_levels is not None and (num_levels < 2 or num_levels % 2):
            raise ExperimentError(f"design.levels = {num_levels}: Morris needs an even number of grid levels (4 is usual)")
    elif method == "fast":
        m = M or DEFAULT_M["fast"]
        if n <= 4 * m * m:
            raise ExperimentError(f"design.n = {n}: FAST needs more than 4·M² = {4 * m * m} samples per factor "
                                  f"(M = {m}); use at least {4 * m * m + 1}")
    elif method == "rbd_fast":
        m = M or DEFAULT_M["rbd_fast"]
        if n <= 2 * m:
            raise ExperimentError(f"design.n = {n}: RBD-FAST needs more than 2·M = {2 * m} points (M = {m}); "
                                  "a few hundred is usual")
    elif method == "latin" and n < 2:
        raise ExperimentError(f"design.n = {n}: a Latin hypercube needs at least 2 points")
    if second_order and method != "sobol":
        raise ExperimentError("design.second_order applies to Sobol' designs only")
    if M is not None and method not in ("fast", "rbd_fast"):
        raise ExperimentError("design.M (interference factor) applies to fast and rbd_fast designs only")
    return n_points(method, n, k, second_order=second_order)


_N_MEANING = {
    "latin": "the number of points", "sobol": "base samples, a power of two such as 256",
    "morris": "the number of trajectories, 10–20 is usual", "fast": "samples per factor, above 4·M²",
    "rbd_fast": "the number of points",
}


def problem(factors: list[Factor]) -> dict:
    """SALib's problem in the unit hypercube (values are mapped by the factors afterwards)."""
    return {"num_vars": len(factors), "names": [f.path for f in factors], "bounds": [[0.0, 1.0]] * len(factors)}


def unit_sample(method: str, n: int, factors: list[Factor], seed: int, *, num_levels: int | None = None,
                M: int | None = None, second_order: bool = False) -> np.ndarray:
    prob = problem(factors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sizes are validated by check(); SALib's own warnings would repeat them
        if method in ("latin", "rbd_fast"):
            from SALib.sample import latin
            return latin.sample(prob, n, seed=seed)
        if method == "sobol":
            from SALib.sample import sobol
            return sobol.sample(prob, n, calc_second_order=second_order, seed=seed)
        if method == "morris":
            from SALib.sample import morris
            return morris.sample(prob, n, num_levels=num_levels or DEFAULT_MORRIS_LEVELS, seed=seed)
        if method == "fast":
            from SALib.sample import fast_sampler
            return fast_sampler.sample(prob, n, M=M or DEFAULT_M["fast"], seed=seed)
    raise ValueError(method)


def sample(method: str, n: int | None, factors: list[Factor], seed: int, **kw) -> pd.DataFrame:
    """The design table: one row per point, a column per factor (values) and, for sampled designs,
    the unit coordinates as ``u:<path>`` columns."""
    if method == "full_factorial":
        rows = list(itertools.product(*[f.levels for f in factors]))
        data = {f.path: f._typed(np.array([r[i] for r in rows], dtype=object)) for i, f in enumerate(factors)}
        table = pd.DataFrame(data)
    else:
        unit = unit_sample(method, n, factors, seed, **kw)
        data = {f.path: f.from_unit(unit[:, i]) for i, f in enumerate(factors)}
        data.update({f"u:{f.path}": unit[:, i] for i, f in enumerate(factors)})
        table = pd.DataFrame(data)
    table.insert(0, "point", np.arange(len(table), dtype=np.int64))
    return table


def cross(levers: list[Factor], uncertainties: list[Factor], n_futures: int, n_policies: int | None,
          seed: int) -> pd.DataFrame:
    """Every policy in every future: policies are the combinations of the levers' levels (or a Latin
    hypercube of `n_policies`), futures a Latin hypercube of `n_futures` over the uncertainties. Row
    ``point = policy × n_futures + future``; the unit coordinates of the futures are kept (``u:<path>``)."""
    rng = np.random.SeedSequence(seed).generate_state(2)
    if n_policies is None:
        pol = sample("full_factorial", None, levers, int(rng[0])).drop(columns="point")
    else:
        pol = sample("latin", n_policies, levers, int(rng[0])).drop(columns="point")
        pol = pol[[f.path for f in levers]]
    fut = sample("latin", n_futures, uncertainties, int(rng[1])).drop(columns="point")
    table = pol.loc[np.repeat(np.arange(len(pol)), len(fut))].reset_index(drop=True)
    table = pd.concat([table, pd.concat([fut] * len(pol), ignore_index=True)], axis=1)
    table.insert(0, "point", np.arange(len(table), dtype=np.int64))
    return table


def block_size(method: str, k: int, second_order: bool = False) -> int | None:
    """Points that must be analysed together (a Sobol' base sample, a Morris trajectory); None when the
    whole design is one block (FAST), 1 when points stand alone."""
    if method == "sobol":
        return (2 * k + 2) if second_order else (k + 2)
    if method == "morris":
        return k + 1
    if method == "fast":
        return None
    return 1
