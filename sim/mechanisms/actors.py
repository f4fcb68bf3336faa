"""Many actors (多元主体, 社会协同, 公众参与): the community's own staff, property companies, volunteers and
social organisations take part beside the departments, and residents report for their neighbours.

* **The community's own staff** (居委会/村委会, 社区工作站: 小事不出社区). Every community settles small
  matters itself: filed cases of the categories marked `community_settles` (mediation, welfare services,
  the compound's environment), up to its own capacity (`community_capacity_per_10k` cases a day per
  10,000 of its residents: the community's own value, else its kind's, else
  `staffing.community_capacity_per_10k`), before the centre passes them to anyone else. They take every
  such case they have capacity for (no delegation share), take Exp(`routing.community_days`) days and
  truly fix it with chance `routing.community_fix`, at no price (their staff are paid whatever they
  do); the rest of the rule is an actor's (capacity, carry-over, closing). Communities differ in this
  capacity, so their small matters end differently (fixed the first time, or re-opened and passed on)
  although they share their subdistrict's departments.
* **Delegation.** The centre may hand a filed case to a non-government actor instead of a department
  (`actors.delegation_share` of the cases an actor could take). Each kind of actor (`actors.types`)
  handles some categories (a property company: housing and property, city environment and utilities in
  commodity-housing estates; volunteers: welfare; social organisations: disputes and welfare), in the
  communities of the kinds it reaches, with its own capacity (cases a day per 10,000 residents
  reached; unused capacity carries over for one day, and an actor with less than a case a day saves
  up to one whole case), quality (the chance of a real fix), time to
  handle a case (exponential, mean `service_days`) and price per case. A case goes to the first kind
  in the list that can take it and has capacity left in its community that day (the community's own
  staff first); the others go to the departments (routing). A real fix of a shared cause fixes the
  cause, as a department's does.
* **Assisted reporting by volunteers.** Every day, an unreported problem of a resident aged 60+ who
  would not or could not report it is reported for them by a volunteer with chance
  `volunteer_assist_rate` (filed as assisted reporting, with the grid-worker channel's detail).
* **Public participation.** Every day, any unreported problem a resident will not report is reported
  for them by a neighbour with chance `participation_rate` × the mean trust of their building (楼门长:
  building heads and neighbours who trust the government speak up for others), by the hotline.

The phase runs after patrols and before routing, so cases reported for others today can be delegated.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Channel, Status
from sim.mechanisms.base import Mechanism
from sim.scenario import resolved_communities


COMMUNITY = "community"   # the name of row 0: the community's own staff


class Actors(Mechanism):
    name = "actors"
    stream = "actors"

    def __init__(self, model):
        super().__init__(model)
        self.credit = None

    def derive(self) -> None:
        model = self.model
        sc = model.params
        a, routing = sc.actors, sc.routing
        layout, R = model.layout, model.n_runs
        comms = resolved_communities(sc)
        kinds = np.array([c.kind for c in comms] * R)
        size = np.tile(layout.community_size, R).astype(float)
        cats = model.categories.names
        types = list(a.types.values())
        # row 0: the community's own staff (every community, its own capacity); then the kinds of actor
        self.names = [COMMUNITY] + list(a.types)
        self.cat_ok = np.vstack([model.categories.community_settles[None, :]]
                                + [[c in t.categories for c in cats] for t in types]).astype(bool)
        self.reach = np.vstack([np.ones((1, kinds.size), bool)]
                               + [np.ones(kinds.size, bool) if t.kinds is None else np.isin(kinds, t.kinds)
                                  for t in types])
        per_10k = np.vstack([model.levers.local["staffing.community_capacity_per_10k"][None, :]]
                            + [np.full(kinds.size, t.capacity_per_10k) for t in types])
        self.capacity = per_10k * size[None, :] / 10_000
        self.quality = np.array([routing.community_fix] + [t.quality for t in types])
        self.service_days = np.array([routing.community_days] + [t.service_days for t in types])
        self.price = np.array([0.0] + [t.cost_per_case for t in types])
        self.community_settles = bool(self.capacity[0].any() and self.cat_ok[0].any())
        if self.credit is None or self.credit.shape != self.capacity.shape:
            self.credit = np.zeros_like(self.capacity)
        ch = model.params.channels
        self.assisted_detail, self.hotline_detail = ch.grid_worker.detail, ch.hotline.detail
        self.volunteer_daily = np.full(R, a.volunteer_cost_per_10k_year * (a.volunteer_assist_rate / 0.1)
                                       * layout.n_residents / 10_000 / 365)

    def step(self, t: int) -> None:
        model = self.model
        a = model.params.actors
        self.finish(t)
        if a.volunteer_assist_rate > 0:
            self.report_for(self.silent(old_only=True), lambda rows: a.volunteer_assist_rate,
                            "volunteer_reports", Channel.GRID_WORKER, self.assisted_detail, t)
            model.ledger.add_costs({"volunteers": self.volunteer_daily})
        if a.participation_rate > 0:
            res = model.residents
            trust = np.bincount(res.building, weights=res.trust) / np.maximum(np.bincount(res.building), 1)
            self.report_for(self.silent(old_only=False),
                            lambda rows: a.participation_rate * trust[res.building[model.cases.res[rows]]],
                            "participation_reports", Channel.HOTLINE, self.hotline_detail, t)
        if a.delegation_share > 0 or self.community_settles:
            self.delegate(t)

    def silent(self, old_only: bool) -> np.ndarray:
        cases = self.model.cases
        rows = (cases.status == Status.SILENT).nonzero()[0]
        return rows[self.model.residents.old[cases.res[rows]]] if old_only else rows

    def report_for(self, rows, chance, event: str, channel: Channel, detail: float, t: int) -> None:
        """Unreported problems `rows` are reported for their residents today with `chance(rows)`."""
        if rows.size == 0:
            return
        model = self.model
        cases = model.cases
        u = self.per_run(cases.run[rows], lambda g, k: g.random(k))
        hit = rows[u < chance(rows)]
        if hit.size:
            cases.channel[hit] = channel
            model.ledger.count(event, cases.run[hit])
            model.flow.file(hit, t + 0.5, detail)

    def delegate(self, t: int) -> None:
        """The community's own staff take the small matters filed today that they have capacity for; the
        centre hands a share of the other filed cases to actors with capacity left in their community."""
        model = self.model
        cases = model.cases
        self.credit = np.minimum(self.credit + self.capacity, 2 * self.capacity + 1)
        filed = ((cases.status == Status.FILED) & (cases.file_time < t + 1)).nonzero()[0]
        if filed.size == 0:
            return
        share = model.params.actors.delegation_share
        handed = np.zeros(filed.size, bool)   # the cases the centre may hand to an actor
        if share > 0:
            handed = self.per_run(cases.run[filed], lambda g, k: g.random(k)) < share
        comm = model.residents.community[cases.res[filed]]
        cat = cases.cat[filed]
        free = np.ones(filed.size, bool)
        for k in range(len(self.names)):
            offered = free if k == 0 else free & handed   # the community's own staff see every filed case
            ok = (offered & self.cat_ok[k, cat] & self.reach[k, comm]).nonzero()[0]
            if ok.size == 0:
                continue
            # the earliest filed first, within each community, up to its whole cases of credit
            order = ok[np.lexsort((cases.file_time[filed[ok]], comm[ok]))]
            c = comm[order]
            start = np.r_[0, (np.diff(c) != 0).nonzero()[0] + 1]
            rank = np.arange(c.size) - np.repeat(start, np.diff(np.r_[start, c.size]))
            take = order[rank < np.floor(self.credit[k, c])]
            if take.size == 0:
                continue
            free[take] = False
            self.credit[k] -= np.bincount(comm[take], minlength=self.credit.shape[1])
            rows = filed[take]
            run = cases.run[rows]
            cases.status[rows] = Status.WITH_ACTOR
            cases.actor[rows] = k
            cases.done_time[rows] = np.maximum(cases.file_time[rows], t) \
                + self.per_run(run, lambda g, n: g.exponential(self.service_days[k], n))
            model.ledger.count("community_cases" if k == 0 else "actor_cases", run)
            if self.price[k] > 0:
                model.ledger.add_costs({"actors": np.bincount(run, minlength=model.n_runs) * self.price[k]})

    def finish(self, t: int) -> None:
        """Actors finish the cases due today: truly fixed with their quality's chance, else closed unresolved."""
        model = self.model
        cases = model.cases
        done = ((cases.status == Status.WITH_ACTOR) & (cases.done_time < t + 1)).nonzero()[0]
        if done.size == 0:
            return
        when = cases.done_time[done]
        fixed = cases.u_fix[done] < self.quality[cases.actor[done]]
        model.flow.close(done[fixed], Status.RESOLVED, when[fixed])
        model.flow.close(done[~fixed], Status.UNRESOLVED, when[~fixed])
        model.handling.fix_shared_causes(done[fixed], when[fixed])
