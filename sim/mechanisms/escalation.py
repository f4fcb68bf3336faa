"""Escalation (矛盾升级): a problem not settled in time grows, and may become a dispute or an incident.

Epstein's (2002) grievance rule with trust in government in the role of legitimacy: grievance =
hardship × (1 − trust), where hardship is the problem's severity grown by `severity_growth` a day of its
age; it escalates when the grievance exceeds the escalation threshold (each problem's own multiple of
`escalation_threshold`, drawn when it arose). An unreported, undiscovered problem older than the
residents' patience is abandoned: the resident gives up.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism


class Escalation(Mechanism):
    name = "escalation"

    def step(self, t: int) -> None:
        model = self.model
        cases, flow = model.cases, model.flow
        d = model.params.demand
        open_ = (cases.status < Status.RESOLVED).nonzero()[0]
        if open_.size == 0:
            return
        age = (t + 1) - cases.born[open_]
        hardship = cases.sev0[open_] * np.exp(d.severity_growth * age)
        grievance = hardship * (1 - model.residents.trust[cases.res[open_]])
        hit = grievance > d.escalation_threshold * cases.thresh[open_]
        if hit.any():
            esc = open_[hit]
            known = cases.status[esc] >= Status.FILED
            # known cases are judged first, then the others (as two batches of judgements)
            flow.close(esc[known], Status.ESCALATED, t + 1.0)
            flow.close(esc[~known], Status.ESCALATED, t + 1.0)
        gone = open_[(cases.status[open_] <= Status.PENDING) & (age > d.patience_days)]
        flow.close(gone, Status.ABANDONED, t + 1.0)
