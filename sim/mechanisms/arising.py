"""Arising: residents' problems and demands (诉求) appear, by community and category.

Problems arise at `demand.problems_per_resident_year`, split by the category shares (Beijing 12345,
2020) and multiplied in the window of a shock. A share of them are *shared causes*: one problem of a
building (a broken lift, a blocked drain) that reaches further neighbours over the following days,
each of whom may report it again (duplicate reports). Every random choice a problem will ever need is
drawn when it arises (common random numbers), and its resident decides at once whether and how to
report it (:meth:`sim.mechanisms.reporting.Reporting.decide`).
"""

from __future__ import annotations

import numpy as np

from sim.cases import N_UNIFORMS, U_DISCOVER, U_FIX, U_MULTI, U_ROUTE, U_THRESHOLD, U_DELAY
from sim.mechanisms.base import Mechanism
from sim.population import starts


class Arising(Mechanism):
    name = "arising"
    stream = "arise"

    def derive(self) -> None:
        d = self.model.params.demand
        m = d.shared_cause_size
        # a share s of causes are shared, each hitting m residents on average, so that the share of
        # problems that belong to a shared cause (duplicates) is `duplicate_share`
        self.shared_share = min(1.0, d.duplicate_share / ((m - 1) * (1 - d.duplicate_share))) if d.duplicate_share > 0 else 0.0
        cause_rate = d.problems_per_resident_year / 365.0 / (1 + self.shared_share * (m - 1))
        layout = self.model.layout
        self.base_rate = (layout.community_size[:, None] * cause_rate) * self.model.categories.prob[None, :]
        self._rate = {}   # expected causes (community × category) by the set of shocks active
        self.community_start = starts(layout.community_size)
        self.building_start = starts(layout.building_size)

    def rate(self, t: int) -> np.ndarray:
        """Expected new causes today, per community and category, shocks included."""
        shocks = self.model.base_scenario.shocks
        active = tuple(i for i, s in enumerate(shocks) if s.start <= t <= s.end)
        if active not in self._rate:
            mult = np.ones(self.base_rate.shape)
            names = self.model.categories.names
            for i in active:
                s = shocks[i]
                rows = slice(None) if s.communities is None else np.asarray(s.communities)
                cols = [names.index(c) for c in s.categories]
                mult[np.ix_(np.arange(mult.shape[0])[rows], cols)] *= s.multiplier
            self._rate[active] = self.base_rate * mult
        return self._rate[active]

    def step(self, t: int) -> None:
        model = self.model
        d = model.params.demand
        layout, causes, hits = model.layout, model.causes, model.hits
        res_of = model.residents
        lam = self.rate(t)
        m = d.shared_cause_size
        community_start, building_start = self.community_start, self.building_start
        N, B = layout.n_residents, layout.n_buildings
        parts = []
        for r, rng in enumerate(self.rngs):
            counts = rng.poisson(lam)
            # (community, category) of each new cause, in row-major order of the count matrix
            comm, cat = np.divmod(np.arange(counts.size).repeat(counts.ravel()), counts.shape[1])
            k = comm.size
            res = community_start[comm] + rng.integers(0, layout.community_size[comm], size=k) + r * N
            born = t + rng.random(k)
            shared = rng.random(k) < self.shared_share
            more = rng.poisson(m - 2, size=k)   # a shared cause reaches 1 + more further neighbours
            u = rng.random((k, N_UNIFORMS))
            cause = np.full(k, -1, dtype=np.int64)
            if shared.any():
                idx = shared.nonzero()[0]
                cause[idx] = causes.n + np.arange(idx.size)
                building = res_of.building[res[idx]]
                causes.append(idx.size, cat=cat[idx], building=building)
                n_hits = more[idx] + 1
                hb = np.repeat(building, n_hits)
                when = np.repeat(born[idx], n_hits) + rng.exponential(d.shared_cause_spread_days, size=hb.size)
                local_b = hb - r * B
                who = building_start[local_b] + rng.integers(0, layout.building_size[local_b]) + r * N
                hits.append(hb.size, cause=np.repeat(cause[idx], n_hits), time=when, res=who,
                            u=rng.random((hb.size, N_UNIFORMS)))
            parts.append((res, cat, born, cause, u))
        res, cat, born, cause, u = (np.concatenate(x) for x in zip(*parts)) if len(parts) > 1 else parts[0]
        # further hits of shared causes due today, unless their cause has been fixed meanwhile
        due = hits.time < t + 1
        if due.any():
            h = due.nonzero()[0]
            hc, hres, htime, hu = hits.cause[h], hits.res[h], hits.time[h], hits.u[h]
            hits.keep(~due)
            alive = ~causes.fixed[hc]
            if not alive.all():
                model.ledger.count("prevented_hits", res_of.run[hres[~alive]])
                hc, hres, htime, hu = hc[alive], hres[alive], htime[alive], hu[alive]
            res = np.concatenate([res, hres])
            cat = np.concatenate([cat, causes.cat[hc]])
            born = np.concatenate([born, np.maximum(htime, t)])
            cause = np.concatenate([cause, hc])
            u = np.concatenate([u, hu])
        self.add_problems(res, cat, born, cause, u)

    def add_problems(self, res, cat, born, cause, u) -> None:
        """New rows of the case table; their residents decide at once whether and how to report."""
        n = res.size
        if n == 0:
            return
        model = self.model
        cats, d = model.categories, model.params.demand
        run = model.residents.run[res]
        model.ledger.count("problems", run)
        D = model.departments.per_run
        second = np.full(n, -1, dtype=np.int64)
        multi = u[:, U_MULTI] < d.multi_department_share
        if multi.any():
            # the second department among the category's others, chosen with the fix uniform
            cm = cat[multi]
            n_others = cats.n_second[cm]
            second[multi] = cats.second_of[cm, (u[multi, U_FIX] * n_others).astype(int) % n_others] + run[multi] * D
        spread = d.escalation_threshold_spread
        cases = model.cases
        n0 = cases.n
        cases.append(n, pid=np.arange(model.next_pid, model.next_pid + n), run=run, res=res, cat=cat, cause=cause,
                     born=born, sev0=cats.severity[cat],
                     disc_clock=-np.log1p(-u[:, U_DISCOVER]),
                     thresh=(1 - spread) + 2 * spread * u[:, U_THRESHOLD],
                     u_route=u[:, U_ROUTE], u_fix=u[:, U_FIX],
                     u_settle=u[:, U_DELAY],   # the report-delay uniform: only unreported problems are settled on patrol
                     primary=cats.primary[cat] + run * D, second=second, deadline=cats.deadline[cat])
        model.next_pid += n
        model.reporting.decide(np.arange(n0, n0 + n), u)
