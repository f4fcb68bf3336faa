"""Routing: the governance centre (综治中心) sends the cases that reached it today to departments.

* On the shared platform with duplicate merging, a report whose cause already has an open case waits
  for that case instead of being worked again.
* A case needing two departments is worked jointly, within the joint deadline, when both departments
  are on the shared platform or when its community uses whistle-and-report (吹哨报到); otherwise it will
  be handed from one silo to the other by hand (see handling).
* The centre misroutes a share of cases to a wrong department first; training and the responsible
  department being on the shared platform cut the share.

A case is on the platform when its community uses the shared platform (`policies.on_platform`, which
a pilot sets per community) and the department has joined it. Whistling costs the called departments
`whistle_turnout_hours` each time, where and when it is used.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism


class Routing(Mechanism):
    name = "routing"

    def derive(self) -> None:
        model = self.model
        self.whistle = model.levers.local["policies.whistle_and_report"]
        self.on_platform = model.levers.at_residents("policies.on_platform")

    def step(self, t: int) -> None:
        model = self.model
        cases, causes, depts = model.cases, model.causes, model.departments
        pol, r = model.params.policies, model.params.routing
        idx = ((cases.status == Status.FILED) & (cases.file_time < t + 1)).nonzero()[0]
        if idx.size == 0:
            return
        if pol.duplicate_merging:
            idx = self.merge_duplicates(idx)
        # the platform counts each cause's filed cases (early warning reads the counts)
        cause = cases.cause[idx]
        platform = self.on_platform[cases.res[idx]]
        on_platform = platform & depts.joined[cases.primary[idx]]
        shared = (cause >= 0) & on_platform
        if shared.any():
            np.add.at(causes.filed, cause[shared], 1)
        if pol.duplicate_merging:
            keep = self.first_of_each_cause(idx, shared)
            idx, platform = idx[keep], platform[keep]
        primary, second = cases.primary[idx], cases.second[idx]
        multi = second >= 0
        joint = np.zeros(idx.size, bool)
        if multi.any():
            community = model.residents.community[cases.res[idx]]
            by_platform = multi & platform & depts.joined[primary] & depts.joined[np.maximum(second, 0)]
            whistled = multi & ~by_platform & self.whistle[community]
            joint = by_platform | whistled
            cases.deadline[idx] = np.where(joint, np.minimum(cases.deadline[idx], pol.joint_deadline_days),
                                           cases.deadline[idx])
            if whistled.any():   # both departments turn up (吹哨报到)
                called = np.concatenate([primary[whistled], second[whistled]])
                model.ledger.count("whistles", cases.run[np.concatenate([idx[whistled]] * 2)])
                model.handling.occupy(called, np.full(called.size, pol.whistle_turnout_hours), t)
        cases.joint[idx] = joint
        cases.work[idx] *= np.where(joint, r.joint_work, 1.0)
        u = cases.u_route[idx]
        shared_route = depts.joined[primary] & platform
        wrong = u < self.misroute_chance(shared_route, model.platform.quality[cases.run[idx]],
                                         np.where(shared_route, model.bias.error_factor(idx), 1.0))
        D = depts.per_subdistrict
        if wrong.any():
            # a misrouted case first goes to another department of its subdistrict, chosen with the same
            # uniform (a deterministic spread of u over the other departments)
            shift = 1 + (u * 7919).astype(np.int64) % max(1, D - 1)
            local = primary % D
            dept = np.where(wrong, primary - local + (local + shift) % D, primary)
        else:
            dept = primary
        cases.stage[idx] = np.where(wrong, -1, 0)
        cases.dept[idx] = dept
        cases.status[idx] = Status.QUEUED
        cases.avail_time[idx] = np.maximum(cases.file_time[idx], t)
        model.ledger.queue_enter(dept)

    def misroute_chance(self, on_platform: np.ndarray, quality=1.0, error=1.0) -> np.ndarray:
        """The chance the centre first sends a case to a wrong department: it falls with training and
        with the responsible department on the shared platform, as far as the platform's data are kept
        up (`quality`, platform life); `error` multiplies it for groups the platform's automated routing
        serves worse (algorithmic bias)."""
        r, train = self.model.params.routing, self.model.params.policies.training_level
        return np.clip(r.misroute_base * (1 - r.misroute_training_cut * train)
                       * (1 - r.misroute_sharing_cut * on_platform * quality) * error, 0.0, 1.0)

    def merge_duplicates(self, idx: np.ndarray) -> np.ndarray:
        """Cases whose cause already has an open case on the platform wait for it (MERGED); the rest
        are returned."""
        model = self.model
        cases, causes = model.cases, model.causes
        cause = cases.cause[idx]
        has_master = (cause >= 0) & model.departments.joined[cases.primary[idx]] & self.on_platform[cases.res[idx]]
        has_master[has_master] = causes.master[cause[has_master]] >= 0
        merged = idx[has_master]
        if merged.size:
            cases.status[merged] = Status.MERGED
            model.ledger.count("merged", cases.run[merged])
        return idx[~has_master]

    def first_of_each_cause(self, idx: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """Of several new cases of one cause on the platform, the first becomes the cause's open case
        (its master) and the others merge into it; returns the mask of `idx` kept."""
        model = self.model
        cases, causes = model.cases, model.causes
        cause = cases.cause[idx]
        first = shared & (causes.of(cause, causes.master, missing=-1) < 0)
        cf, pos = np.unique(cause[first], return_index=True)
        causes.master[cf] = cases.pid[idx[first][pos]]
        later = first.nonzero()[0]
        later = np.setdiff1d(later, later[pos])
        keep = np.ones(idx.size, bool)
        if later.size:
            cases.status[idx[later]] = Status.MERGED
            model.ledger.count("merged", cases.run[idx[later]])
            keep[later] = False
        return keep
