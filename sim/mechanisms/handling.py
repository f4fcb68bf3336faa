"""Handling: department teams work their queues; a visit ends in a hand-off or the case closes.

Each subdistrict's team of each department is a multi-server queue (:class:`sim.services.Departments`):
its case handlers take waiting cases in priority order (first come first served, or earliest deadline
first for cases on the shared platform when it tracks deadlines), and a case keeps a handler busy for
the work its visit needs. Surge capacity: on a day a team's waiting work exceeds `surge_trigger_days`
of its capacity it works up to `overtime_max_share` extra hours (paid at the overtime premium) and
borrows hours from teams of its subdistrict with little to do (`mutual_aid_share`).

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
        model = self.model
        self.on_platform = model.levers.at_residents("policies.on_platform")
        self.overtime_hours = np.zeros(model.departments.n)

    def occupy(self, teams: np.ndarray, hours: np.ndarray, at: float) -> None:
        """Work that is not a case takes a handler of each team (booked as work done)."""
        depts = self.model.departments
        ok = depts.servers[teams] > 0
        teams, hours = teams[ok], hours[ok]
        depts.occupy(teams, hours, at)
        self.model.ledger.other_work(teams, hours / depts.speed[teams])

    def speed_today(self, waiting_work: np.ndarray) -> np.ndarray:
        """Handlers' work-hours per day today: normal hours, plus overtime and hours lent by teams of the
        subdistrict with little to do when a team is overloaded."""
        model = self.model
        depts, st = model.departments, model.params.staffing
        speed = depts.speed * model.assessment.speed_factor   # effort under assessment pressure on speed
        if st.overtime_max_share == 0 and st.mutual_aid_share == 0:
            return speed
        capacity = depts.capacity_hours
        backlog_days = np.divide(waiting_work, capacity, out=np.full(depts.n, np.inf), where=capacity > 0)
        over = backlog_days > st.surge_trigger_days
        if st.overtime_max_share > 0:
            extra = np.where(over & (depts.servers > 0), st.overtime_max_share, 0.0)
            self.overtime_hours = extra * capacity
            speed = speed * (1 + extra)
        if st.mutual_aid_share > 0 and over.any():
            idle = backlog_days < st.surge_trigger_days / 4
            lendable = np.where(idle, st.mutual_aid_share * capacity, 0.0)
            need = np.where(over, waiting_work - st.surge_trigger_days * capacity, 0.0)
            sub = depts.subdistrict
            supply = np.bincount(sub, weights=lendable, minlength=sub.max() + 1)
            demand = np.bincount(sub, weights=need, minlength=sub.max() + 1)
            share = np.divide(np.minimum(supply, demand), demand, out=np.zeros_like(demand), where=demand > 0)
            lent_frac = np.divide(np.minimum(supply, demand), supply, out=np.zeros_like(supply), where=supply > 0)
            gained = need * share[sub]
            given = lendable * lent_frac[sub]
            servers = np.maximum(depts.servers, 1)
            speed = speed + (gained - given) / servers
        return speed

    def step(self, t: int) -> None:
        model = self.model
        cases, depts, ledger = model.cases, model.departments, model.ledger
        t_end = t + 1.0
        depts.open_day(float(t))
        self.overtime_hours[:] = 0.0
        waiting = ((cases.status == Status.QUEUED) & (cases.avail_time < t_end)).nonzero()[0]
        if waiting.size:
            team = cases.dept[waiting]
            avail = cases.avail_time[waiting]
            work = cases.work[waiting]
            speed = self.speed_today(np.bincount(team, weights=work, minlength=depts.n))
            ledger.overtime_hours += self.overtime_hours
            fifo = np.ones(depts.n, bool)
            if model.params.policies.deadline_tracking:
                edf = depts.joined[team] & self.on_platform[cases.res[waiting]]
                # the platform's priority score: its urgency estimate errs for groups with little data
                deadline = cases.deadline[waiting] * model.bias.error_factor(waiting)
                key = np.where(edf, cases.file_time[waiting] + deadline, avail)
                fifo[team[edf]] = False
            else:
                key = avail
            busy = work / speed[team]          # days of a handler's time each case takes
            k, start, server = depts.start_services(team, avail, key, busy, t_end, fifo)
            if k.size:
                rows, tm, busy = waiting[k], team[k], busy[k]
                cases.status[rows] = Status.SERVING
                cases.start_time[rows] = start
                cases.done_time[rows] = start + busy
                cases.server[rows] = server
                ledger.service_started(tm, start - avail[k], busy)
        done = ((cases.status == Status.SERVING) & (cases.done_time < t_end)).nonzero()[0]
        if done.size:
            self.after_visit(done, cases.done_time[done])

    def after_visit(self, done: np.ndarray, now: np.ndarray) -> None:
        model = self.model
        cases, causes, flow = model.cases, model.causes, model.flow
        r = model.params.routing
        stage = cases.stage[done]
        # a duplicate of a cause already fixed: handled separately in silos (duplicated work)
        dup = causes.of(cases.cause[done], causes.fixed, missing=False)
        final = dup | ((stage == 0) & ((cases.second[done] < 0) | cases.joint[done])) | (stage >= 1)
        model.ledger.count("duplicate_work", cases.run[done[dup]])
        if (~final).any():
            self.hand_off(done[~final], now[~final])
        fin, when = done[final], now[final]
        if fin.size == 0:
            return
        train = model.params.policies.training_level
        floor = r.fix_detail_floor
        p_fix = (r.fix_base + r.fix_training_gain * train + model.assessment.fix_gain) \
            * (floor + (1 - floor) * cases.detail[fin])
        fixed = dup[final] | (cases.u_fix[fin] < np.clip(p_fix, 0, 1))
        flow.close(fin[fixed], Status.RESOLVED, when[fixed])
        flow.close(fin[~fixed], Status.UNRESOLVED, when[~fixed])
        self.fix_shared_causes(fin[fixed], when[fixed])
        if model.params.policies.duplicate_merging:
            # merged duplicates close with their case, at the same time and with its outcome
            for status, mask in ((Status.RESOLVED, fixed), (Status.UNRESOLVED, ~fixed)):
                closed = fin[mask]
                cs, cw = cases.cause[closed], when[mask]
                has = cs >= 0
                cs, cw = cs[has], cw[has]
                if cs.size:
                    followers = (causes.among(cs, cases.cause) & (cases.status == Status.MERGED)).nonzero()[0]
                    at = np.zeros(causes.n + 1)
                    at[cs] = cw
                    flow.close(followers, status, at[cases.cause[followers]])
                    causes.master[cs] = -1

    def fix_shared_causes(self, rows: np.ndarray, when: np.ndarray) -> None:
        """A real fix of cases `rows` at `when` fixes their shared causes (the earliest fix of each): it
        stops their further hits and settles their unreported problems."""
        cases, causes, flow = self.model.cases, self.model.causes, self.model.flow
        fc, fw = cases.cause[rows], when
        new = fc >= 0
        fc, fw = fc[new], fw[new]
        new = ~causes.fixed[fc]
        if new.any():
            fc, fw = fc[new], fw[new]
            order = np.lexsort((fw, fc))          # the earliest fix of each cause
            fc, fw = fc[order], fw[order]
            first = np.r_[True, fc[1:] != fc[:-1]]
            flow.fix_causes(fc[first], fw[first], on_platform=False)

    def hand_off(self, hand: np.ndarray, now: np.ndarray) -> None:
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
        both_joined = depts.joined[cur] & depts.joined[nxt] & self.on_platform[cases.res[hand]]
        delay = self.per_run(run, lambda g, k: g.uniform(r.handoff_delay_min, r.handoff_delay_max, k))
        delay = np.where(both_joined, delay * r.platform_delay_share, delay)
        work = model.visit_work(cases.cat[hand], self.per_run(run, lambda g, k: g.random(k)), cases.res[hand])
        # on the platform no detail is lost, as far as its data are kept up (platform life)
        loss = np.where(both_joined, 1 - model.platform.quality[run], 1.0) * r.detail_loss_per_handoff
        cases.detail[hand] *= 1 - loss
        cases.bounces[hand] += bounce
        model.ledger.count("bounces", run[bounce])
        model.ledger.count("handoffs", run)
        cases.stage[hand] = np.where(bounce, 0, stage + 1)
        cases.dept[hand] = nxt
        cases.status[hand] = Status.QUEUED
        cases.avail_time[hand] = now + delay
        cases.work[hand] = work
        cases.start_time[hand] = np.inf
        cases.done_time[hand] = np.inf
        cases.server[hand] = -1
        model.ledger.queue_enter(nxt)
