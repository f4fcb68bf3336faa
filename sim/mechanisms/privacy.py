"""Privacy: sharing data carries a risk of leaks (of personal, commercial and administrative secrets).

The daily chance of a leak grows with the share of departments on the shared platform and of residents
whose community uses it, and is cut by
privacy safeguards (encryption, a negative list of data not to share, audits); a leak that becomes
known lowers every resident's trust.
"""

from __future__ import annotations

import numpy as np

from sim.mechanisms.base import Mechanism


class Privacy(Mechanism):
    name = "privacy"
    stream = "privacy"

    def derive(self) -> None:
        model = self.model
        sc = model.params
        pr = sc.privacy
        depts, layout = model.departments, model.layout
        joined = depts.joined[:depts.per_subdistrict].mean()
        coverage = (model.levers.local["policies.on_platform"][:layout.n_communities] * layout.community_size).sum() \
            / layout.n_residents   # the same in every run
        self.leak_probability = pr.leaks_per_year / 365.0 * joined * coverage \
            * (1 - pr.safeguard_effect * sc.policies.privacy_safeguards)

    def step(self, t: int) -> None:
        model = self.model
        leak = np.array([rng.random() < self.leak_probability for rng in self.rngs])   # drawn every day
        if not leak.any():
            return
        model.ledger.count_per_run("leaks", leak.astype(np.int64))
        res = model.residents
        hit = model.params.privacy.leak_trust_hit
        for r in leak.nonzero()[0]:
            trust = res.trust[r * res.per_run:(r + 1) * res.per_run]
            trust -= hit
            np.clip(trust, 0.0, 1.0, out=trust)
