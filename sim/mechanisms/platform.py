"""Platform life (重复建设, 运行生命周期短, 使用效用低): a platform is worth what it is used and kept up.

With `platform.lifecycle` on, the departments that joined the shared platform (`policies.share_joined`)
do not all use it from the first day, nor for ever:

* **adoption** follows the Bass (1969) curve: the share A of joined teams using it grows by
  (p + q·A)(1 − A) a day (`adoption_innovation` p, `adoption_imitation` q); each team has its own
  place in the queue of adopters (a uniform drawn once), and uses the platform while that place is
  below the share in use;
* **use** decays without maintenance: the share in use is A·u, with u shrinking by
  `usage_decay` × (1 − maintenance) a day (staff drift back to their own systems, features break);
* **data quality** Q decays by `quality_decay` × (1 − maintenance) a day (stale records): the
  platform's benefits that rest on its data shrink with it (misrouting cut, no detail lost at a
  hand-off, the risk model's recall);
* **abandonment**: when u falls below `abandon_below` the platform is abandoned for good.

A team that joined but does not use the platform works as a silo: this phase sets the teams' platform
membership (``departments.joined``) every day before anything else happens. The build and running
costs are paid for every joined department all the same, and maintenance costs
`maintenance_year_per_department` × maintenance a year per joined department. Without the lifecycle,
joined teams use the platform fully (A = u = Q = 1).
"""

from __future__ import annotations

import numpy as np

from sim.mechanisms.base import Mechanism


class PlatformLife(Mechanism):
    name = "platform"
    stream = "platform"

    def __init__(self, model):
        super().__init__(model)
        R = model.n_runs
        depts = model.departments
        # each team's place in the queue of adopters, drawn once from its run's stream
        self.place = np.concatenate([rng.random(depts.per_run) for rng in self.rngs])
        self.adoption = np.zeros(R)
        self.usage = np.ones(R)
        self.quality = np.ones(R)
        self.abandoned = np.zeros(R, dtype=bool)
        self.use_days = np.zeros(R)       # sum over days of the share of joined teams using it
        self.platform_days = np.zeros(R)  # days with any department joined

    def derive(self) -> None:
        model = self.model
        pl = model.params.platform
        self.declared = model.departments.joined.copy()
        self.on = pl.lifecycle
        if not self.on:
            self.adoption[:], self.usage[:], self.quality[:] = 1.0, 1.0, 1.0
        n_join = self.declared.reshape(model.n_runs, -1).sum(axis=1)
        per_kind = n_join / model.layout.n_subdistricts    # joined departments (kinds) per run, as costs counts them
        self.daily_cost = per_kind * pl.maintenance * pl.maintenance_year_per_department / 365 if pl.lifecycle \
            else np.zeros(model.n_runs)

    def in_use(self) -> np.ndarray:
        """Per run: the share of joined teams using the platform."""
        return np.where(self.abandoned, 0.0, self.adoption * self.usage)

    def step(self, t: int) -> None:
        model = self.model
        depts = model.departments
        R = model.n_runs
        any_joined = self.declared.reshape(R, -1).any(axis=1)
        self.platform_days += any_joined
        if not self.on:
            self.use_days += any_joined
            return
        pl = model.params.platform
        decay = 1 - pl.maintenance
        a = self.adoption
        self.adoption = np.where(any_joined, a + (pl.adoption_innovation + pl.adoption_imitation * a) * (1 - a), a)
        self.usage = np.where(any_joined, self.usage * (1 - pl.usage_decay * decay), self.usage)
        self.quality = np.where(any_joined, self.quality * (1 - pl.quality_decay * decay), self.quality)
        self.abandoned |= any_joined & (self.usage < pl.abandon_below)
        share = self.in_use()
        self.use_days += np.where(any_joined, share, 0.0)
        depts.joined = self.declared & (self.place < share[depts.run])
        if self.daily_cost.any():
            model.ledger.add_costs({"maintenance": np.where(any_joined, self.daily_cost, 0.0)})
