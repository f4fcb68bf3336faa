"""Many actors (多元主体, 社会协同, 公众参与): property companies, volunteers and social organisations
take part beside the departments, and residents report for their neighbours.

* **Delegation.** The centre may hand a filed case to a non-government actor instead of a department
  (`actors.delegation_share` of the cases an actor could take). Each kind of actor (`actors.types`)
  handles some categories (a property company: housing and property, city environment and utilities in
  commodity-housing estates; volunteers: welfare; social organisations: disputes and welfare), in the
  communities of the kinds it reaches, with its own capacity (cases a day per 10,000 residents
  reached; unused capacity carries over for one day, and an actor with less than a case a day saves
  up to one whole case), quality (the chance of a real fix), time to
  handle a case (exponential, mean `service_days`) and price per case. A case goes to the first kind
  in the list that can take it and has capacity left in its community that day; the others go to the
  departments (routing). A real fix of a shared cause fixes the cause, as a department's does.
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


class Actors(Mechanism):
    name = "actors"
    stream = "actors"

    def __init__(self, model):
        super().__init__(model)
        self.credit = None

    def derive(self) -> None:
        model = self.model
        a = model.params.actors
        layout, R = model.layout, model.n_runs
        kinds = np.array([c.kind for c in resolved_communities(model.base_scenario)] * R)
        size = np.tile(layout.community_size, R).astype(float)
        cats = model.categories.names
        types = list(a.types.values())
        self.names = list(a.types)
        self.cat_ok = np.array([[c in t.categories for c in cats] for t in types], dtype=bool).reshape(len(types), len(cats))
        self.reach = np.array([np.ones(kinds.size, bool) if t.kinds is None else np.isin(kinds, t.kinds)
                               for t in types], dtype=bool).reshape(len(types), kinds.size)
        self.capacity = np.array([t.capacity_per_10k for t in types])[:, None] * size[None, :] / 10_000
        self.quality = np.array([t.quality for t in types])
        self.service_days = np.array([t.service_days for t in types])
        self.price = np.array([t.cost_per_case for t in types])
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
        if a.delegation_share > 0:
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
        """Hand filed cases to actors with capacity left in their community today."""
        model = self.model
        cases = model.cases
        self.credit = np.minimum(self.credit + self.capacity, 2 * self.capacity + 1)
        filed = ((cases.status == Status.FILED) & (cases.file_time < t + 1)).nonzero()[0]
        if filed.size == 0:
            return
        u = self.per_run(cases.run[filed], lambda g, k: g.random(k))
        cand = filed[u < model.params.actors.delegation_share]
        comm = model.residents.community[cases.res[cand]]
        cat = cases.cat[cand]
        free = np.ones(cand.size, bool)
        for k in range(len(self.names)):
            ok = (free & self.cat_ok[k, cat] & self.reach[k, comm]).nonzero()[0]
            if ok.size == 0:
                continue
            # the earliest filed first, within each community, up to its whole cases of credit
            order = ok[np.lexsort((cases.file_time[cand[ok]], comm[ok]))]
            c = comm[order]
            start = np.r_[0, (np.diff(c) != 0).nonzero()[0] + 1]
            rank = np.arange(c.size) - np.repeat(start, np.diff(np.r_[start, c.size]))
            take = order[rank < np.floor(self.credit[k, c])]
            if take.size == 0:
                continue
            free[take] = False
            self.credit[k] -= np.bincount(comm[take], minlength=self.credit.shape[1])
            rows = cand[take]
            run = cases.run[rows]
            cases.status[rows] = Status.WITH_ACTOR
            cases.actor[rows] = k
            cases.done_time[rows] = np.maximum(cases.file_time[rows], t) \
                + self.per_run(run, lambda g, n: g.exponential(self.service_days[k], n))
            model.ledger.count("actor_cases", run)
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
