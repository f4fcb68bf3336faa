"""Early warning (前瞻预判) on shared data: a cluster of reports of one cause triggers action on the cause.

When the platform's early warning is on and departments share data, a cause with
`early_warning_threshold` filed cases on the platform is acted on by its primary department (at the cost
of `warning_action_hours` of work): the cause is fixed, its cases close resolved and its unreported problems are found and
settled before more neighbours are hit. False alarms, drawn per grid every day, take department time.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism


class EarlyWarning(Mechanism):
    name = "early_warning"
    stream = "warning"

    def step(self, t: int) -> None:
        model = self.model
        pol = model.params.policies
        depts = model.departments
        G = model.layout.n_grids
        # drawn every day, used or not (common random numbers)
        false_alarms = np.array([rng.poisson(pol.false_alarm_rate, G).sum() for rng in self.rngs])
        if not pol.early_warning or not depts.joined.any():
            return
        for r, rng in enumerate(self.rngs):
            if false_alarms[r]:
                on = np.flatnonzero(depts.joined & (depts.run == r) & (depts.servers > 0))
                if on.size:
                    hit = on[rng.integers(0, on.size, false_alarms[r])]
                    model.handling.occupy(hit, np.full(hit.size, pol.false_alarm_hours), t)
        model.ledger.count_per_run("false_alarms", false_alarms)
        causes = model.causes
        warn = ((causes.filed >= pol.early_warning_threshold) & ~causes.fixed).nonzero()[0]
        if warn.size == 0:
            return
        model.ledger.count("early_warnings", causes.subdistrict[warn] // model.layout.n_subdistricts)
        lead = depts.team(causes.subdistrict[warn], model.categories.primary[causes.cat[warn]])
        model.handling.occupy(lead, np.full(lead.size, pol.warning_action_hours), t)
        model.flow.fix_causes(warn, t + 1.0, on_platform=True)
