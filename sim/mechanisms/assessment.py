"""Assessment (考核, the "baton" 指挥棒): reported indicators, the effort and the gaming they bring.

Departments (and the street and community offices that answer for them) are scored on *reported*
indicators: the resolution rate of closed cases, the satisfaction of residents called back after a
closure, and response speed. The incentive on indicator i is ``pressure × wᵢ / max(w)``: the indicator
that weighs most carries the full pressure, the others in proportion.

Effort, one way (read by :mod:`sim.mechanisms.handling`): under pressure on resolution or satisfaction
handlers fix more cases for real (`effort_fix_gain`), under pressure on speed they put in more hours
(`effort_speed_gain`).

Gaming, the other way. When a known case closes without a real fix, its team games the closure with
chance ``gaming_propensity × incentive_resolution × deterrence``: it reports the case resolved (a share
`false_closure_share`), or persuades the resident to withdraw it or reclassifies it as a consultation
(the rest), so that it leaves the assessed cases. Deterrence is the expected-value rule (Becker 1968):
``max(0, 1 − penalty × p_found)``, where a gamed closure is found out when it is audited
(`audit_rate`) or when the resident calls again (`repeat_call_probability`) and the call is linked to
the closure (`repeat_linking`). A callback after any closure is leading or selective (the resident is
recorded satisfied) with chance ``gaming_propensity × incentive_satisfaction × max(0, 1 − penalty ×
audit_rate)``.

A resident whose problem was closed without a fix, gamed or not, reports it again with chance
`repeat_call_probability` after an exponential delay: the problem is a *re-opened case*, a new contact
in the published data. An audit that finds a gamed closure re-opens the case at once (the centre sends
it back). A found-out closure counts as unresolved in the reported indicators.

The phase runs after escalation, when every closure of the day is known, and books each closure of a
known case twice in the ledger (:meth:`sim.ledger.Ledger.book_closures`): as it truly was and as the
assessment saw it. Without pressure the two agree exactly.
"""

from __future__ import annotations

import numpy as np

from sim.cases import REPORTING_CHANNELS, Channel, Status
from sim.mechanisms.base import Mechanism

# Columns of each closure's uniforms (drawn from the assessment stream for every closure of a known case)
U_GAME, U_KIND, U_AUDIT, U_REPEAT, U_LINK, U_CALLBACK, U_DELAY, U_WORK, U_FIX, U_ROUTE = range(10)


class Assessment(Mechanism):
    name = "assessment"
    stream = "assess"

    def derive(self) -> None:
        a = self.model.params.assessment
        w = np.array([a.weight_resolution, a.weight_satisfaction, a.weight_speed])
        incentive = a.pressure * w / w.max()
        self.incentive = dict(zip(("resolution", "satisfaction", "speed"), incentive))
        # effort (read by handling)
        self.fix_gain = a.effort_fix_gain * max(incentive[0], incentive[1])
        self.speed_factor = 1.0 + a.effort_speed_gain * incentive[2]
        # gaming, deterred by the expected penalty
        self.p_found = 1 - (1 - a.audit_rate) * (1 - a.repeat_call_probability * a.repeat_linking)
        self.p_game = a.gaming_propensity * incentive[0] * max(0.0, 1 - a.penalty * self.p_found)
        self.p_lead = a.gaming_propensity * incentive[1] * max(0.0, 1 - a.penalty * a.audit_rate)

    def step(self, t: int) -> None:
        model = self.model
        cases, ledger = model.cases, model.ledger
        a = model.params.assessment
        st = cases.status
        rows = (((st == Status.RESOLVED) | (st == Status.UNRESOLVED) | (st == Status.ESCALATED))
                & np.isfinite(cases.file_time)).nonzero()[0]
        if rows.size == 0:
            return
        run = cases.run[rows]
        u = self.per_run(run, lambda g, k: g.random((k, 10)), width=10)
        resolved = cases.status[rows] == Status.RESOLVED
        unfixed = cases.status[rows] == Status.UNRESOLVED      # closed without a fix (escalations cannot be hidden)
        gamed = unfixed & (u[:, U_GAME] < self.p_game)
        audited = u[:, U_AUDIT] < a.audit_rate
        repeat = unfixed & (u[:, U_REPEAT] < a.repeat_call_probability)
        found = gamed & (audited | (repeat & (u[:, U_LINK] < a.repeat_linking)))
        hidden = gamed & ~found
        false_closure = hidden & (u[:, U_KIND] < a.false_closure_share)
        in_pool = ~(hidden & ~false_closure)              # withdrawn or reclassified cases leave the pool
        reported_resolved = resolved | false_closure
        true_score = cases.judgement[rows]
        led = in_pool & (u[:, U_CALLBACK] < self.p_lead)
        reported_score = np.where(led, 1.0, true_score)
        ledger.book_closures(run, resolved, in_pool, reported_resolved, in_pool, true_score, reported_score)
        ledger.count("audits", run[audited])
        ledger.count("gamed", run[gamed])
        ledger.count("gaming_found", run[found])
        ledger.count("gamed_callbacks", run[led & (true_score < 1.0)])
        if a.audit_rate > 0:
            ledger.add_costs({"audits": np.bincount(run[audited], minlength=model.n_runs) * a.audit_cost})
        # re-opened cases: an audit that found gaming sends the case back; otherwise a repeat call
        back = found & audited
        again = repeat & ~back
        ledger.count("audit_reopened", run[back])
        ledger.count("repeat_calls", run[again])
        self.reopen(rows[back], rows[again], u[back], u[again], t)

    def reopen(self, back: np.ndarray, again: np.ndarray, u_back: np.ndarray, u_again: np.ndarray, t: int) -> None:
        """Re-open closed cases: `back` goes back to the centre tomorrow; `again` will be reported again
        by its resident after a delay (through the channel it used, the hotline if it was found)."""
        model = self.model
        cases = model.cases
        a = model.params.assessment
        both = np.concatenate([back, again])
        if both.size == 0:
            return
        u = np.concatenate([u_back, u_again])
        closed = cases.closed_at[again]
        cat = cases.cat[both]
        cases.reopens[both] += 1
        cases.dept[both] = -1
        cases.stage[both] = 0
        cases.joint[both] = False
        cases.bounces[both] = 0
        cases.deadline[both] = model.categories.deadline[cat]
        cases.work[both] = model.visit_work(cat, u[:, U_WORK], cases.res[both])
        cases.u_fix[both] = u[:, U_FIX]          # a new case: new chances of a real fix and of misrouting
        cases.u_route[both] = u[:, U_ROUTE]
        cases.start_time[both] = np.inf
        cases.done_time[both] = np.inf
        cases.server[both] = -1
        cases.actor[both] = -1
        cases.closed_at[both] = np.inf
        cases.judgement[both] = np.nan
        if back.size:
            cases.status[back] = Status.FILED
            cases.file_time[back] = t + 1.0
        if again.size:
            when = closed - a.repeat_call_delay_days * np.log1p(-u_again[:, U_DELAY])
            cases.status[again] = Status.PENDING
            cases.report_time[again] = when
            reporting = np.isin(cases.channel[again], np.array(REPORTING_CHANNELS, dtype=np.int8))
            cases.channel[again] = np.where(reporting, cases.channel[again], Channel.HOTLINE)
