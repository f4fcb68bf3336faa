"""Experience and trust: residents judge how their problems were handled, and talk to each other.

When a problem finishes, its resident judges it by expectancy–disconfirmation (Van Ryzin 2004): the
satisfaction logit rises with a real fix and with a wait shorter than expected (the category's
deadline; residents aged 60+ expect `elder_wait_expectation` times it). The wait is counted from when
the problem arose, not from a report: a resident who could not report, or whose problem was never
found, waited all the same; a problem given up on is judged unresolved after the whole wait. The
judgement moves the
resident's satisfaction and trust, and the trust of its neighbours by word of mouth. Every day,
residents also exchange views on government with random neighbours (bounded confidence, Deffuant et
al. 2000): this phase.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism
from sim.population import logistic


class Experience(Mechanism):
    name = "conversation"
    stream = "trust"

    def derive(self) -> None:
        model = self.model
        r = model.params.residents
        self.expectation = np.where(model.residents.old, r.elder_wait_expectation, 1.0)

    def judge(self, rows: np.ndarray, status: Status, when: np.ndarray) -> None:
        """The residents of finished problems `rows` judge the service; their neighbours hear of it."""
        model = self.model
        cases, res_set = model.cases, model.residents
        sc = model.params
        r = sc.residents
        res = cases.res[rows]
        wait = when - cases.born[rows]
        expected = model.categories.deadline[cases.cat[rows]] * self.expectation[res]
        if status == Status.ABANDONED:
            expected = np.maximum(expected, sc.demand.patience_days * r.abandoned_expectation_share)
        disconfirmation = np.clip((expected - wait) / expected, -3.0, 1.0)
        s = logistic(r.sat_intercept + r.sat_outcome * float(status == Status.RESOLVED)
                     + r.sat_disconfirmation * disconfirmation)
        cases.judgement[rows] = s
        res_set.judge(res, s, r.satisfaction_memory, r.trust_learning)
        res_set.hear(res, s, sc.network.word_of_mouth * r.trust_learning)

    def step(self, t: int) -> None:
        net = self.model.params.network
        self.model.residents.converse(self.rngs, net.conversations_per_day, net.confidence_bound, net.convergence)
