"""Risk prediction (前瞻预判) on shared data: a model flags individual problems on course to escalate.

Early warning acts on clusters of reports of one cause; most incidents, though, grow from single
problems of high severity (a dispute between neighbours, an elderly resident living alone). With
`risk_prediction` on, a risk model trained on the shared platform's data looks at the open problems of
the communities on the platform every day. A problem whose grievance would pass its escalation
threshold within `risk_horizon_days` is *on course to escalate*; the model flags such a problem with
probability `risk_recall` (once, with the problem's own uniform), and for every true flag raises
(1 − precision)/precision false flags on average (`risk_precision`). Every flag is visited by the grid
workers of the resident's grid (网格员走访; a false flag's visit falls on a grid of a true one that day):
it takes `risk_flag_hours` from their next day's patrol. A true flag's visit lowers the problem's
hardship by `risk_mitigation` and, if nobody had reported it, files it.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Channel, Status
from sim.mechanisms.base import Mechanism


class RiskPrediction(Mechanism):
    name = "risk_prediction"
    stream = "risk"

    def derive(self) -> None:
        self.on_platform = self.model.levers.at_residents("policies.on_platform")

    def step(self, t: int) -> None:
        model = self.model
        pol, d = model.params.policies, model.params.demand
        depts = model.departments
        if not pol.risk_prediction or not depts.joined.any():
            return
        cases = model.cases
        cand = ((cases.status < Status.RESOLVED) & ~cases.flagged).nonzero()[0]
        cand = cand[self.on_platform[cases.res[cand]] & depts.joined[cases.primary[cand]]]
        age = (t + 1 + pol.risk_horizon_days) - cases.born[cand]
        hardship = cases.sev0[cand] * np.exp(d.severity_growth * age)
        on_course = hardship * (1 - model.residents.trust[cases.res[cand]]) > d.escalation_threshold * cases.thresh[cand]
        # recall falls with the platform's data quality (platform life) and for groups with little data (bias)
        recall = pol.risk_recall * model.platform.quality[cases.run[cand]] / model.bias.error_factor(cand)
        recall = recall.astype(cases.u_risk.dtype)   # compared in the uniforms' precision, as a scalar would be
        flag = cand[on_course & (cases.u_risk[cand] < recall)]
        run = cases.run[flag]
        true_flags = np.bincount(run, minlength=model.n_runs)
        rates = true_flags * (1 - pol.risk_precision) / pol.risk_precision
        false_flags = np.array([rng.poisson(rate) for rng, rate in zip(self.rngs, rates)])
        model.ledger.count_per_run("risk_false_flags", false_flags)
        if flag.size == 0:
            return
        model.ledger.count("risk_flags", run)
        cases.flagged[flag] = True
        cases.sev0[flag] *= 1 - pol.risk_mitigation
        quiet = flag[cases.status[flag] <= Status.PENDING]
        if quiet.size:
            cases.channel[quiet] = Channel.EARLY_WARNING
            model.flow.file(quiet, t + 0.5, 1.0)
        # each flag, true or false, costs a grid worker's visit; false flags fall on grids of the true ones
        grids = [model.residents.grid[cases.res[flag]]]
        for r in np.flatnonzero(false_flags):
            mine = grids[0][run == r]
            grids.append(mine[np.arange(false_flags[r]) % mine.size])
        grids = np.concatenate(grids)
        model.grid_teams.visit_hours += np.bincount(grids, minlength=model.grid_teams.visit_hours.size) * pol.risk_flag_hours
