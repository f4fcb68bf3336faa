"""Costs and accounts: what the day cost, and the day's books.

Costs (yuan) accrue daily: grid workers and department staff, the platform (its build cost written off
over its life, plus running costs, sized to the share of residents whose community uses it), platform
features, privacy safeguards, training, elder-friendly service, overtime hours, and each escalated
incident. The phase then books the problems that finished today in the
ledger, records the daily series, and drops the finished rows from the case table.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism


class Costs(Mechanism):
    name = "costs"

    def derive(self) -> None:
        """The daily running costs of each run, by item (the same every day until a change)."""
        model = self.model
        sc = model.params
        c, pol, st = sc.costs, sc.policies, sc.staffing
        R, layout, lv = model.n_runs, model.layout, model.levers
        depts = model.departments

        def per_run(values: np.ndarray) -> np.ndarray:
            return values.reshape(R, -1).sum(axis=1)

        gpc = np.tile(np.bincount(layout.grid_community, minlength=layout.n_communities), R)
        size = np.tile(layout.community_size, R)
        workers = per_run(lv.local["staffing.grid_workers_per_grid"] * gpc)
        staff = per_run(depts.staff)
        # the platform is sized to the residents it serves: a pilot community pays its share
        coverage = per_run(lv.local["policies.on_platform"] * size) / layout.n_residents
        n_join = depts.joined.reshape(R, -1)[:, :depts.per_subdistrict].sum(axis=1)   # kinds joined
        build = n_join * c.platform_build_per_department * coverage
        in_use = (n_join > 0) & (coverage > 0)
        features = np.where(in_use, pol.duplicate_merging + pol.deadline_tracking + pol.early_warning
                            + pol.risk_prediction, 0) * coverage
        trained = per_run(lv.local["policies.training_level"] * lv.local["staffing.grid_workers_per_grid"] * gpc) \
            + pol.training_level * staff
        elder = per_run(lv.local["policies.elder_friendly"] * size)
        self.daily = {
            "grid_workers": workers * c.grid_worker_year / 365,
            "staff": staff * c.staff_year / 365,
            "platform": build / (c.platform_life_years * 365) + build * c.platform_running_share / 365,
            "features": features * c.platform_features_year / 365,
            "safeguards": np.where(in_use, pol.privacy_safeguards * c.safeguards_year / 365 * coverage, 0.0),
            "training": trained * c.training_per_worker_year / 365,
            "elder_friendly": elder / 10_000 * c.elder_friendly_per_10k_year / 365,
        }
        # a handler's hour: a year's pay over 250 working days of `department_hours`
        self.overtime_hour = c.staff_year / (250 * st.department_hours) * c.overtime_premium

    def step(self, t: int) -> None:
        model = self.model
        cases, ledger = model.cases, model.ledger
        finished = (cases.status >= Status.RESOLVED).nonzero()[0]
        res = cases.res[finished]
        ledger.book_finished(cases, finished, model.residents.old[res], model.residents.grid[res])
        escalated = ledger.finished_today[:, 2]
        overtime = model.handling.overtime_hours.reshape(model.n_runs, -1).sum(axis=1)
        ledger.add_costs({**self.daily, "overtime": overtime * self.overtime_hour,
                          "incidents": escalated * model.params.costs.incident_cost})
        if finished.size:
            cases.keep(cases.status < Status.RESOLVED)
