"""Handling: departments work their queues; a visit ends in a hand-off or the case closes.

A department's work accrues daily as credit (staff × service rate, less the time spent turning up when
whistled) and is spent on its queue in priority order: first come first served, or earliest deadline
first on the shared platform with deadline tracking. A case worked jointly costs `joint_work` visits.

After a visit:

* a misrouted case is handed to its responsible department;
* a multi-department case worked in silos is handed from the first department to the second by hand:
  every hand-off between silos adds days (`handoff_delay_min`–`max`), loses detail (信息递减) and may
  bounce back (推诿扯皮, at most `max_bounces` times); on the platform the delay shrinks and no detail is
  lost (after Zagorecki, Ko & Comfort 2010);
* otherwise the case closes: truly resolved with a chance that grows with training and with the detail
  still known, else closed unresolved. A real fix of a shared cause fixes the cause (its unreported
  problems are gone and its further hits do not happen); merged duplicates close with their case.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Status
from sim.mechanisms.base import Mechanism


class Handling(Mechanism):
    name = "handling"
    stream = "handle"

    def derive(self) -> None:
        depts = self.model.departments
        joint = self.model.params.routing.joint_work
        # unused credit beyond one day's capacity plus the largest visit is lost (so a small department
        # can always, in time, serve any case); false alarms may borrow at most a day
        self.credit_top = depts.capacity + joint
        self.credit_floor = -depts.capacity

    def step(self, t: int) -> None:
        model = self.model
        cases, depts = model.cases, model.departments
        depts.credit = np.minimum(depts.credit + depts.capacity, self.credit_top)
        queued = ((cases.status == Status.QUEUED) & (cases.avail_time < t + 1)).nonzero()[0]
        dept = cases.dept[queued]
        avail = cases.avail_time[queued]
        if model.params.policies.deadline_tracking:
            key = np.where(depts.joined[dept], cases.file_time[queued] + cases.deadline[queued], avail)
        else:
            key = avail
        work = np.where(cases.joint[queued], model.params.routing.joint_work, 1.0)
        done = depts.serve(queued, dept, key, work)
        depts.credit = np.maximum(depts.credit, self.credit_floor)
        if done.size:
            self.after_visit(done, t + 1.0)

    def after_visit(self, done: np.ndarray, now: float) -> None:
        model = self.model
        cases, causes, flow = model.cases, model.causes, model.flow
        r = model.params.routing
        stage = cases.stage[done]
        # a duplicate of a cause already fixed: handled separately in silos (duplicated work)
        dup = causes.of(cases.cause[done], causes.fixed, missing=False)
        final = dup | ((stage == 0) & ((cases.second[done] < 0) | cases.joint[done])) | (stage >= 1)
        model.ledger.count("duplicate_work", cases.run[done[dup]])
        hand = done[~final]
        if hand.size:
            self.hand_off(hand, now)
        fin = done[final]
        if fin.size == 0:
            return
        train = model.params.policies.training_level
        floor = r.fix_detail_floor
        p_fix = (r.fix_base + r.fix_training_gain * train) * (floor + (1 - floor) * cases.detail[fin])
        fixed = dup[final] | (cases.u_fix[fin] < np.clip(p_fix, 0, 1))
        resolved, unresolved = fin[fixed], fin[~fixed]
        flow.close(resolved, Status.RESOLVED, now)
        flow.close(unresolved, Status.UNRESOLVED, now)
        # a real fix of a shared cause stops its further hits and settles its unreported problems
        fixed_causes = cases.cause[resolved]
        fixed_causes = np.unique(fixed_causes[fixed_causes >= 0])
        fixed_causes = fixed_causes[~causes.fixed[fixed_causes]]
        if fixed_causes.size:
            flow.fix_causes(fixed_causes, now, on_platform=False)
        if model.params.policies.duplicate_merging:
            for rows, status in ((resolved, Status.RESOLVED), (unresolved, Status.UNRESOLVED)):
                closed_causes = cases.cause[rows]
                closed_causes = closed_causes[closed_causes >= 0]
                if closed_causes.size:
                    followers = (causes.among(closed_causes, cases.cause) & (cases.status == Status.MERGED)).nonzero()[0]
                    flow.close(followers, status, now)
                    causes.master[closed_causes] = -1

    def hand_off(self, hand: np.ndarray, now: float) -> None:
        """Misrouted cases go to their responsible department; silo multi-department cases to the
        second department, or bounce back to the first."""
        model = self.model
        cases, depts = model.cases, model.departments
        r = model.params.routing
        run = cases.run[hand]
        stage = cases.stage[hand]
        cur = cases.dept[hand]
        nxt = np.where(stage == -1, cases.primary[hand], cases.second[hand])
        bounce = (stage == 0) & (self.per_run(run, lambda g, k: g.random(k)) < r.bounce_probability) \
            & (cases.bounces[hand] < r.max_bounces)
        nxt = np.where(bounce, cases.primary[hand], nxt)
        both_joined = depts.joined[cur] & depts.joined[nxt]
        delay = self.per_run(run, lambda g, k: g.uniform(r.handoff_delay_min, r.handoff_delay_max, k))
        delay = np.where(both_joined, delay * r.platform_delay_share, delay)
        cases.detail[hand] *= 1 - np.where(both_joined, 0.0, r.detail_loss_per_handoff)
        cases.bounces[hand] += bounce
        model.ledger.count("bounces", run[bounce])
        model.ledger.count("handoffs", run)
        model.flow.leave_queue(hand, now)
        cases.stage[hand] = np.where(bounce, 0, stage + 1)
        cases.dept[hand] = nxt
        cases.avail_time[hand] = now + delay
        model.ledger.queue_enter(nxt)
