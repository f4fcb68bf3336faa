"""Algorithmic bias (算法偏见): automated parts of the platform learned from past data serve groups who
leave less data worse.

The platform's automated parts are its routing (the share of misrouted cases it avoids), its priority
score (the urgency it estimates when it orders a queue by deadline) and the risk model's flags. Each is
learned from the cases of the past, and a case leaves training data according to the channel it came
through: an app report is structured (place, photo, category), a hotline call leaves an operator's
notes, a walk-in report a paper form (`data_app`, `data_hotline`, ...). The groups are the reporting
channels (problems found on patrol count with the grid workers'; residents aged 60+, rural residents
and the less literate report by phone or at the window more, so they inherit those groups' accuracy).

For group g, with Dₘ its training data and Cₘ its cases so far (the run's own cases added to
`history_cases` past cases in the expected channel mix), the representation ratio is
ρₘ = (Dₘ / ΣD) / (Cₘ / ΣC): its share of the data over its share of the cases. An automated model's
error rate for the group is multiplied by the *error factor* ρₘ^(−strength), bounded by
`max_error_factor` both ways: a group with less than its share of the data is served worse, one with
more is served better. Bias correction c (reweighting, collecting data from under-served groups)
reweights the data toward parity: ρ is replaced by ρ^(1−c), at `correction_cost_year` × c a year.

Where the factor acts: the platform's misroute chance is multiplied by it (:mod:`routing`), its
priority score stretches a case's deadline by it (:mod:`handling`), the risk model's recall is divided
by it (:mod:`risk`). A problem nobody reported left no data of its own: the risk model sees it with the
worst group's factor.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Channel
from sim.mechanisms.base import Mechanism

GROUPS = ("hotline", "app", "window", "grid_worker")
# Channel code → group (patrol: the grid workers'; early warning acts on the platform's own data: none)
GROUP_OF_CHANNEL = np.array([0, 1, 2, 3, 3, -1, -1])   # indexed by channel code; NONE (-1) is the last entry


class Bias(Mechanism):
    name = "bias"

    def __init__(self, model):
        super().__init__(model)
        R = model.n_runs
        self.data = np.zeros((R, len(GROUPS)))
        self.cases = np.zeros((R, len(GROUPS)))
        self.factor = np.ones((R, len(GROUPS)))
        self.seeded = False

    def derive(self) -> None:
        model = self.model
        b = model.params.bias
        self.weights = np.array([b.data_hotline, b.data_app, b.data_window, b.data_grid_worker])
        self.active = b.strength > 0
        cost = b.correction * b.correction_cost_year / 365
        self.daily_cost = np.full(model.n_runs, cost if model.departments.joined.any() else 0.0)
        if not self.seeded:
            # past cases in the channel mix the residents' options give (Reporting's preference weights)
            rep = model.reporting
            w = np.diff(np.concatenate([np.zeros((rep.cum_weights.shape[0], 1)), rep.cum_weights], axis=1), axis=1)
            share = w[rep.code] / np.maximum(w[rep.code].sum(axis=1, keepdims=True), 1e-12)
            mix = share.reshape(model.n_runs, -1, len(GROUPS)).mean(axis=1)
            self.cases = b.history_cases * mix
            self.data = self.cases * self.weights
            self.seeded = True
        self.update()

    def update(self) -> None:
        b = self.model.params.bias
        if not self.active:
            self.factor[:] = 1.0
            return
        data = self.data / np.maximum(self.data.sum(axis=1, keepdims=True), 1e-12)
        cases = self.cases / np.maximum(self.cases.sum(axis=1, keepdims=True), 1e-12)
        rho = np.divide(data, cases, out=np.ones_like(data), where=cases > 0)
        rho = np.maximum(rho, 1e-12) ** (1 - b.correction)
        self.factor = np.clip(rho ** -b.strength, 1 / b.max_error_factor, b.max_error_factor)

    def error_factor(self, rows: np.ndarray) -> np.ndarray:
        """Per case: how much the platform's automated models' error rates are multiplied for its group
        (1 without bias; the worst group's factor for a problem nobody reported)."""
        if not self.active:
            return np.ones(rows.size)
        cases = self.model.cases
        run = cases.run[rows]
        group = GROUP_OF_CHANNEL[cases.channel[rows]]
        worst = self.factor.max(axis=1)
        out = np.where(group >= 0, self.factor[run, np.maximum(group, 0)], 1.0)
        return np.where(cases.channel[rows] == Channel.NONE, worst[run], out)

    def step(self, t: int) -> None:
        """Learn from the cases that reached the centre today; pay for the correction."""
        model = self.model
        if self.daily_cost.any():
            model.ledger.add_costs({"bias_correction": self.daily_cost})
        if not self.active:
            return
        cases = model.cases
        new = ((cases.file_time >= t) & (cases.file_time < t + 1)).nonzero()[0]
        group = GROUP_OF_CHANNEL[cases.channel[new]]
        ok = group >= 0
        if ok.any():
            k = cases.run[new[ok]] * len(GROUPS) + group[ok]
            n = np.bincount(k, minlength=self.cases.size).reshape(self.cases.shape)
            self.cases += n
            self.data += n * self.weights
        self.update()
