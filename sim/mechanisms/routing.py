"""Routing: the governance centre (综治中心) sends the cases that reached it today to departments.

* On the shared platform with duplicate merging, a report whose cause already has an open case waits
  for that case instead of being worked again.
* A case needing two departments is worked jointly, within the joint deadline, when both departments
  are on the shared platform or when its community uses whistle-and-report (吹哨报到); otherwise it will
  be handed from one silo to the other by hand (see handling).
* The centre misroutes a share of cases to a wrong department first; training and the responsible
  department being on the shared platform cut the share.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism


class Routing(Mechanism):
    name = "routing"

    def derive(self) -> None:
        model = self.model
        r, train = model.params.routing, model.params.policies.training_level
        joined = model.departments.joined
        self.misroute = r.misroute_base * (1 - r.misroute_training_cut * train) * (1 - r.misroute_sharing_cut * joined)
        self.whistle = model.levers.local["policies.whistle_and_report"]

    def step(self, t: int) -> None:
        model = self.model
        cases, causes, depts = model.cases, model.causes, model.departments
        pol = model.params.policies
        idx = ((cases.status == Status.FILED) & (cases.file_time < t + 1)).nonzero()[0]
        if idx.size == 0:
            return
        joined = depts.joined
        if pol.duplicate_merging:
            idx = self.merge_duplicates(idx)
        # the platform counts each cause's filed cases (early warning reads the counts)
        cause = cases.cause[idx]
        on_platform = (cause >= 0) & joined[cases.primary[idx]]
        if on_platform.any():
            np.add.at(causes.filed, cause[on_platform], 1)
        if pol.duplicate_merging:
            idx = self.first_of_each_cause(idx, on_platform)
        primary, second = cases.primary[idx], cases.second[idx]
        multi = second >= 0
        if multi.any():
            whistle = self.whistle[model.residents.community[cases.res[idx]]]
            joint = multi & ((joined[primary] & joined[np.maximum(second, 0)]) | whistle)
            cases.joint[idx] = joint
            cases.deadline[idx] = np.where(joint, np.minimum(cases.deadline[idx], pol.joint_deadline_days), cases.deadline[idx])
        else:
            cases.joint[idx] = False
        u = cases.u_route[idx]
        wrong = u < self.misroute[primary]
        D = depts.per_run
        if wrong.any():
            # a misrouted case first goes to another department of its run, chosen with the same uniform
            # (a deterministic spread of u over the other departments)
            shift = 1 + (u * 7919).astype(np.int64) % max(1, D - 1)
            local = primary % D
            dept = np.where(wrong, primary - local + (local + shift) % D, primary)
            cases.stage[idx] = np.where(wrong, -1, 0)
        else:
            dept = primary
            cases.stage[idx] = 0
        cases.dept[idx] = dept
        cases.status[idx] = Status.QUEUED
        cases.avail_time[idx] = np.maximum(cases.file_time[idx], t)
        model.ledger.queue_enter(dept)

    def merge_duplicates(self, idx: np.ndarray) -> np.ndarray:
        """Cases whose cause already has an open case on the platform wait for it (MERGED); the rest
        are returned."""
        model = self.model
        cases, causes = model.cases, model.causes
        cause = cases.cause[idx]
        has_master = (cause >= 0) & model.departments.joined[cases.primary[idx]]
        has_master[has_master] = causes.master[cause[has_master]] >= 0
        merged = idx[has_master]
        if merged.size:
            cases.status[merged] = Status.MERGED
            model.ledger.count("merged", cases.run[merged])
        return idx[~has_master]

    def first_of_each_cause(self, idx: np.ndarray, on_platform: np.ndarray) -> np.ndarray:
        """Of several new cases of one cause on the platform, the first becomes the cause's open case
        (its master) and the others merge into it; the rest of `idx` is returned."""
        model = self.model
        cases, causes = model.cases, model.causes
        cause = cases.cause[idx]
        first = on_platform & (causes.of(cause, causes.master, missing=-1) < 0)
        cf, pos = np.unique(cause[first], return_index=True)
        causes.master[cf] = cases.pid[idx[first][pos]]
        later = first.nonzero()[0]
        later = np.setdiff1d(later, later[pos])
        if later.size == 0:
            return idx
        cases.status[idx[later]] = Status.MERGED
        model.ledger.count("merged", cases.run[idx[later]])
        keep = np.ones(idx.size, bool)
        keep[later] = False
        return idx[keep]
