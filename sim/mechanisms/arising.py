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

from sim.cases import (N_UNIFORMS, U_DISCOVER, U_FIX, U_MULTI, U_RISK, U_ROUTE, U_SECOND, U_SERVICE, U_SETTLE,
                       U_THRESHOLD)
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
        self.base_rate = ((layout.community_size * layout.community_demand)[:, None] * cause_rate) \
            * self.model.categories.prob[None, :]
        self._rate = {}   # expected causes (community × category) by the set of shocks active
        self.community_start = starts(layout.community_size)
        self.building_start = starts(layout.building_size)

    def rate(self, t: int) -> np.ndarray:
        """Expected new causes today, per community and category, shocks included."""
        shocks = self.model.base_scenario.shocks
        d = t - self.model.start_day   # shock days count from the first day of the books (as the timeline's)
        active = tuple(i for i, s in enumerate(shocks) if s.start <= d <= s.end)
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
        N, B, R = layout.n_residents, layout.n_buildings, len(self.rngs)
        # each run draws from its own stream: how many causes arise, and the uniforms of each
        counts = np.stack([rng.poisson(lam) for rng in self.rngs])      # (run, community, category)
        per_run = counts.reshape(R, -1).sum(axis=1)
        U = np.concatenate([rng.random((k, N_UNIFORMS + 3)) for rng, k in zip(self.rngs, per_run)])
        cell = np.arange(counts.size).repeat(counts.ravel())
        run, rest = np.divmod(cell, lam.size)
        comm, cat = np.divmod(rest, lam.shape[1])
        u, u_pick, u_born, u_shared = U[:, :N_UNIFORMS], U[:, -3], U[:, -2], U[:, -1]
        res = self.community_start[comm] + (u_pick * layout.community_size[comm]).astype(np.int64) + run * N
        born = t + u_born
        cause = np.full(res.size, -1, dtype=np.int64)
        shared = (u_shared < self.shared_share).nonzero()[0]
        if shared.size:
            # a shared cause reaches 1 + Poisson(size − 2) further neighbours of its building over the
            # next days, each drawn (with the uniforms of the problem it will be) now
            cause[shared] = causes.n + np.arange(shared.size)
            building = res_of.building[res[shared]]
            causes.append(shared.size, cat=cat[shared], building=building, subdistrict=res_of.subdistrict[res[shared]])
            sr = run[shared]
            n_sh = np.bincount(sr, minlength=R)
            more = np.concatenate([rng.poisson(m - 2, size=k) for rng, k in zip(self.rngs, n_sh)])
            n_hits = more + 1
            n_hr = np.bincount(sr, weights=n_hits, minlength=R).astype(np.int64)
            H = np.concatenate([rng.random((k, N_UNIFORMS + 2)) for rng, k in zip(self.rngs, n_hr)])
            hb = np.repeat(building, n_hits)
            local_b = hb % B
            when = np.repeat(born[shared], n_hits) - d.shared_cause_spread_days * np.log1p(-H[:, -1])
            who = self.building_start[local_b] + (H[:, -2] * layout.building_size[local_b]).astype(np.int64) \
                + (hb // B) * N
            hits.append(hb.size, cause=np.repeat(cause[shared], n_hits), time=when, res=who, u=H[:, :N_UNIFORMS])
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
        D = model.departments.per_subdistrict
        team = model.residents.subdistrict[res] * D          # the first team of the resident's subdistrict
        second = np.full(n, -1, dtype=np.int64)
        multi = u[:, U_MULTI] < d.multi_department_share
        if multi.any():
            # the second department among the category's others
            cm = cat[multi]
            n_others = cats.n_second[cm]
            second[multi] = team[multi] + cats.second_of[cm, (u[multi, U_SECOND] * n_others).astype(int) % n_others]
        spread = d.escalation_threshold_spread
        cases = model.cases
        n0 = cases.n
        cases.append(n, pid=np.arange(model.next_pid, model.next_pid + n), run=run, res=res, cat=cat, cause=cause,
                     born=born, sev0=cats.severity[cat],
                     disc_clock=-np.log1p(-u[:, U_DISCOVER]),
                     thresh=(1 - spread) + 2 * spread * u[:, U_THRESHOLD],
                     u_route=u[:, U_ROUTE], u_fix=u[:, U_FIX], u_settle=u[:, U_SETTLE], u_risk=u[:, U_RISK],
                     primary=team + cats.primary[cat], second=second, deadline=cats.deadline[cat],
                     work=model.visit_work(cat, u[:, U_SERVICE], res))
        model.next_pid += n
        model.reporting.decide(np.arange(n0, n0 + n), u)
