"""The community and its residents: the layout (subdistrict → community → grid → building), the
residents' columns, their social network, and the residents' own rules.

A batch holds several runs of one scenario side by side. Every run has the same layout; run r's
residents, grids, communities and buildings are numbered after run r−1's ("batch-wide" indices), and
the social network is block-diagonal, so no rule can ever mix runs. Each run draws its residents and
its network from its own random streams, so a run gives the same residents alone or in a batch.

Sources of the rules: satisfaction from expectancy–disconfirmation (Van Ryzin 2004); trust spreading
by word of mouth and bounded-confidence exchange (Deffuant et al. 2000).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sim.cases import CHANNEL_KEYS, Channel
from sim.scenario import Scenario, resolved_communities


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Layout:
    """Where everyone lives in one run: communities of grids of buildings of residents.

    Residents of a grid and grids of a community are contiguous.
    """
    community_subdistrict: np.ndarray   # (C,) subdistrict of each community
    grid_community: np.ndarray          # (G,) community of each grid
    grid_size: np.ndarray               # (G,) residents of each grid
    building_grid: np.ndarray           # (B,) grid of each building
    building_size: np.ndarray           # (B,) residents of each building
    community_demand: np.ndarray        # (C,) problem rate relative to the district's
    community_travel: np.ndarray        # (C,) extra work-hours of a department visit to its cases

    @classmethod
    def from_scenario(cls, sc: Scenario) -> "Layout":
        comms = resolved_communities(sc)
        community_subdistrict = np.array([c.subdistrict for c in comms], dtype=np.int64)
        grid_community = np.repeat(np.arange(len(comms)), [c.grids for c in comms])
        grid_size = np.repeat([c.residents_per_grid for c in comms], [c.grids for c in comms]).astype(np.int64)
        per_building = np.repeat([max(1, round(c.households_per_building * c.household_size)) for c in comms],
                                 [c.grids for c in comms])
        # each grid's residents fill buildings of `per_building` in turn (the last one partly)
        n_build = -(-grid_size // per_building)
        building_grid = np.repeat(np.arange(grid_size.size), n_build)
        building_size = np.repeat(per_building, n_build)
        last = np.cumsum(n_build) - 1
        building_size[last] = grid_size - (n_build - 1) * per_building
        return cls(community_subdistrict, grid_community, grid_size, building_grid, building_size,
                   np.array([c.demand_factor for c in comms], dtype=float),
                   np.array([c.travel_hours for c in comms], dtype=float))

    @property
    def n_subdistricts(self) -> int:
        return int(self.community_subdistrict.max()) + 1 if self.community_subdistrict.size else 0

    @property
    def n_residents(self) -> int:
        return int(self.grid_size.sum())

    @property
    def n_grids(self) -> int:
        return self.grid_size.size

    @property
    def n_communities(self) -> int:
        return self.community_subdistrict.size

    @property
    def n_buildings(self) -> int:
        return self.building_size.size

    @property
    def grid_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_grids), self.grid_size)

    @property
    def building_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_buildings), self.building_size)

    @property
    def community_size(self) -> np.ndarray:
        return np.bincount(self.grid_community, weights=self.grid_size, minlength=self.n_communities).astype(np.int64)

    @property
    def community_of(self) -> np.ndarray:
        return self.grid_community[self.grid_of]

    @property
    def subdistrict_size(self) -> np.ndarray:
        return np.bincount(self.community_subdistrict, weights=self.community_size,
                           minlength=self.n_subdistricts).astype(np.int64)


def starts(sizes: np.ndarray) -> np.ndarray:
    """First index of each block of consecutive blocks of the given sizes."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def batch_wide(per_run: np.ndarray, n_runs: int, offset: int) -> np.ndarray:
    """A per-run index array repeated for every run, run r's indices shifted by r × offset."""
    return (np.tile(per_run.astype(np.int64), n_runs)
            + np.repeat(np.arange(n_runs, dtype=np.int64) * offset, per_run.size))


class Residents:
    """The residents (居民) of every run of a batch, one row each.

    Columns: ``run``, ``grid``, ``community``, ``building`` (batch-wide indices), ``old`` (aged 60+),
    ``app_user`` (can file through the app), ``phone`` (can call the hotline), ``u_window`` and
    ``u_gridworker`` (fixed draws compared with the reach of the window and of the grid worker, which
    a policy may change), ``trust`` (in government), ``satisfaction``, ``served`` (has had a problem
    handled). The social network is ``adjacency`` (CSR, block-diagonal over runs).
    """

    def __init__(self, sc: Scenario, layout: Layout, population_rngs, network_rngs):
        self.layout = layout
        self.n_runs = R = len(population_rngs)
        self.per_run = N = layout.n_residents
        self.n = R * N
        self.run = np.repeat(np.arange(R), N)
        self.grid = batch_wide(layout.grid_of, R, layout.n_grids)
        self.community = batch_wide(layout.grid_community[layout.grid_of], R, layout.n_communities)
        self.building = batch_wide(layout.building_of, R, layout.n_buildings)
        self.subdistrict = batch_wide(layout.community_subdistrict[layout.community_of], R, layout.n_subdistricts)
        r = sc.residents
        # each resident draws its attributes against its community's profile
        comms = resolved_communities(sc)
        of = layout.community_of
        profile = {f: np.array([getattr(c, f) for c in comms], dtype=float)[of]
                   for f in ("share_60plus", "app_literacy_60plus", "app_literacy_under60", "phone_access", "initial_trust")}
        cols = {k: [] for k in ("old", "app_user", "phone", "u_window", "u_gridworker", "trust")}
        for rng in population_rngs:
            old = rng.random(N) < profile["share_60plus"]
            cols["old"].append(old)
            cols["app_user"].append(rng.random(N) < np.where(old, profile["app_literacy_60plus"],
                                                              profile["app_literacy_under60"]))
            cols["phone"].append(rng.random(N) < profile["phone_access"])
            cols["u_window"].append(rng.random(N))
            cols["u_gridworker"].append(rng.random(N))
            cols["trust"].append(np.clip(rng.normal(profile["initial_trust"], r.trust_spread, N), 0.0, 1.0))
        for k, parts in cols.items():
            setattr(self, k, np.concatenate(parts))
        old = self.old.reshape(R, N)
        self.old_rows = [np.flatnonzero(o) + r * N for r, o in enumerate(old)]   # residents aged 60+, per run
        self.n_old = old.sum(axis=1)
        self.satisfaction = np.full(self.n, r.initial_satisfaction)
        self.served = np.zeros(self.n, dtype=bool)
        blocks = [small_world(layout, sc.network, rng) for rng in network_rngs]
        self.adjacency = sp.block_diag(blocks, format="csr", dtype=np.int8) if R > 1 else blocks[0]
        self.adjacency.sort_indices()
        self.degree = np.diff(self.adjacency.indptr)

    # --- per run ---------------------------------------------------------------------------------
    def run_mean(self, values: np.ndarray) -> np.ndarray:
        """Mean of a resident column per run (each run computed alone: the same in any batch)."""
        return values.reshape(self.n_runs, self.per_run).mean(axis=1)

    def age_means(self, values: np.ndarray) -> np.ndarray:
        """Mean of a resident column per run (rows) and age group (columns: under 60, 60+). The 60+
        sum is gathered and the under-60 sum is the run's total less it (1.2 passes over the column
        instead of 2); each run is computed alone, so it is the same in any batch."""
        total = values.reshape(self.n_runs, self.per_run).sum(axis=1)
        old = np.array([values.take(ix).sum() for ix in self.old_rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.stack([(total - old) / (self.per_run - self.n_old), old / self.n_old], axis=1)

    # --- reporting ---------------------------------------------------------------------------------
    def willing_to_report(self, idx: np.ndarray, u: np.ndarray, propensity: float, trust_slope: float) -> np.ndarray:
        """Silence is likelier when trust is low: P(report) = propensity + slope·(trust − 0.5)."""
        p = np.clip(propensity + trust_slope * (self.trust[idx] - 0.5), 0.0, 1.0)
        return u < p

    def usable_channels(self, idx: np.ndarray, channels, app_first: np.ndarray, elder_friendly: np.ndarray) -> np.ndarray:
        """Boolean matrix (len(idx), 4): which reporting channels each resident can use.

        `app_first` and `elder_friendly` are the levers of each resident's community. Elder-friendly
        service (适老化) gives residents aged 60+ assisted reporting through the grid worker and a way
        to the window and the hotline even when reporting has moved app-first.
        """
        old = self.old[idx]
        elder = elder_friendly & old
        offline_open = ~app_first | elder
        out = np.zeros((idx.size, 4), dtype=bool)
        out[:, Channel.HOTLINE] = channels.hotline.enabled & self.phone[idx] & offline_open
        out[:, Channel.APP] = channels.app.enabled & self.app_user[idx]
        window_reach = np.where(old, channels.window_reach_60plus, channels.window_reach_under60)
        out[:, Channel.WINDOW] = channels.window.enabled & offline_open & ((self.u_window[idx] < window_reach) | elder)
        out[:, Channel.GRID_WORKER] = channels.grid_worker.enabled & (
            (self.u_gridworker[idx] < channels.grid_worker_reach) | elder)
        return out

    @staticmethod
    def channel_weights(channels, old: np.ndarray) -> np.ndarray:
        """Preference weight of each reporting channel (columns) for residents aged 60+ or not."""
        w = np.empty((old.size, 4))
        for c, key in CHANNEL_KEYS.items():
            spec = getattr(channels, key)
            w[:, c] = np.where(old, spec.weight_60plus, spec.weight_under60)
        return w

    # --- experience and trust ----------------------------------------------------------------------
    def judge(self, idx: np.ndarray, s: np.ndarray, memory: float, learning: float) -> None:
        """Residents take in case judgements s: satisfaction moves `memory` of the way to s, trust
        `learning` of the way. One resident's several judgements in a batch count as their mean."""
        ordered = np.sort(idx)
        if (ordered[1:] == ordered[:-1]).any():   # someone judged several (np.unique only then: it is slow)
            touched, inverse = np.unique(idx, return_inverse=True)
            s = np.bincount(inverse, weights=s) / np.bincount(inverse)
            idx = touched
        self.served[idx] = True
        self.satisfaction[idx] = (1 - memory) * self.satisfaction[idx] + memory * s
        t = self.trust[idx]
        self.trust[idx] = t + learning * (s - t)

    def hear(self, idx: np.ndarray, s: np.ndarray, weight: float) -> None:
        """Word of mouth: each neighbour of a resident who judged a case moves its trust `weight` of
        the way toward that judgement (all steps from the trust before any of them)."""
        if weight == 0 or idx.size == 0:
            return
        a = self.adjacency
        deg = self.degree[idx]
        if deg.sum() == 0:
            return
        end = deg.cumsum()
        nb = a.indices[np.arange(end[-1]) + (a.indptr[idx] - (end - deg)).repeat(deg)]
        delta = weight * (s.repeat(deg) - self.trust[nb])
        np.add.at(self.trust, nb, delta)
        self.trust[nb] = np.minimum(np.maximum(self.trust[nb], 0.0), 1.0)   # np.clip, without its overhead

    def converse(self, rngs, rate: float, bound: float, convergence: float) -> None:
        """Bounded-confidence exchange (Deffuant et al. 2000) on randomly drawn ties: two residents
        whose trust differs by less than `bound` move `convergence` of the way toward each other.

        The talkers are drawn in ascending order (the exchange is simultaneous, so order does not
        matter): every column read for them is then read front to back, which at city scale is what a
        day's conversations cost (1.7× faster than in random order at 2,000,000 residents)."""
        N = self.per_run
        counts = [rng.poisson(N * rate / 2.0) for rng in rngs]   # drawn even when no one moves (common random numbers)
        if convergence == 0 or not any(counts):
            return
        # each run draws its talkers, then the uniforms picking each one's partner, from its own stream
        i = np.concatenate([sorted_uniform_integers(rng, k, N) + r * N for r, (rng, k) in enumerate(zip(rngs, counts)) if k])
        deg = self.degree.take(i)
        talkers = counts   # per run
        if not deg.all():   # residents without ties do not talk
            i, deg = i[deg > 0], deg[deg > 0]
            if i.size == 0:
                return
            talkers = np.bincount(i // N, minlength=len(rngs))
        u = np.concatenate([rng.random(k) for rng, k in zip(rngs, talkers) if k])
        a = self.adjacency
        j = a.indices.take(a.indptr.take(i) + (u * deg).astype(np.int64))
        self.exchange(i, j, bound, convergence)

    def exchange(self, i: np.ndarray, j: np.ndarray, bound: float, convergence: float) -> None:
        """Pairs (i, j) talk: if their trust differs by less than `bound`, each moves `convergence` of
        the difference toward the other (all steps from the trust before any of them)."""
        diff = self.trust.take(j) - self.trust.take(i)
        step = convergence * diff * (np.abs(diff) < bound)
        np.add.at(self.trust, i, step)
        np.add.at(self.trust, j, -step)
        # moving toward each other keeps both inside [0, 1]: no clipping needed


def sorted_uniform_integers(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """k independent uniform draws from 0 … n−1, in ascending order, without sorting: the order
    statistics of k uniforms are the partial sums of k+1 exponential spacings over their total
    (Devroye 1986, ch. V.2)."""
    c = np.cumsum(rng.standard_exponential(k + 1))
    out = (c[:-1] * (n / c[-1])).astype(np.int64)
    return np.minimum(out, n - 1, out=out)   # rounding can reach n only with probability ~1e-16


def small_world(layout: Layout, net, rng: np.random.Generator) -> sp.csr_matrix:
    """One run's social network: a Watts–Strogatz small world within each grid (vectorised), with a
    share of ties rewired to residents anywhere in the run.

    The ties are made symmetric and deduplicated by sorting one int64 key per directed tie (row × n +
    column) rather than by adding the matrix to its transpose: the same network with a third of the
    peak memory, which bounds the size of city that fits on one machine (benchmarks: peak RSS)."""
    n = layout.n_residents
    idx = np.int32 if n < 2**31 - 1 else np.int64
    grid = layout.grid_of
    size = layout.grid_size[grid].astype(idx)
    start = starts(layout.grid_size)[grid].astype(idx)
    half = np.minimum(net.neighbours // 2, np.maximum(1, (size - 1) // 2))
    i = np.repeat(np.arange(n, dtype=idx), half)
    off = (np.arange(i.size, dtype=idx) - np.repeat(starts(half).astype(idx), half) + 1)
    s, z = start[i], size[i]
    del start, size, half
    j = s + (i - s + off) % z
    del off
    rewire = rng.random(i.size) < net.rewire
    j[rewire] = s[rewire] + rng.integers(0, z[rewire])
    del s, z, rewire
    cross = rng.random(i.size) < net.cross_grid_share
    j[cross] = rng.integers(0, n, cross.sum())
    del cross
    keep = i != j
    i, j = i[keep], j[keep]
    del keep
    key = np.concatenate([i.astype(np.int64) * n + j, j.astype(np.int64) * n + i])
    del i, j
    key.sort()                                 # by row, then column (np.unique is 80× slower here)
    first = np.empty(key.size, dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    key = key[first]                           # duplicates gone
    del first
    rows = (key // n).astype(idx)
    cols = (key % n).astype(idx)
    del key
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(idx)
    del rows
    return sp.csr_matrix((np.ones(cols.size, dtype=np.int8), cols, indptr), shape=(n, n))


__all__ = ["Layout", "Residents", "small_world", "logistic", "batch_wide", "starts"]
