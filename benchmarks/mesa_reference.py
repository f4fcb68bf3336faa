"""The plain Mesa reference: govsim's daily resident update written the idiomatic way.

Each resident is a ``mesa.Agent`` whose ``step()`` does, for one day, what the vectorised model does
for every resident at once, with the baseline's parameters and the same small-world network:

1. a problem may arise (the daily rate of ``demand.problems_per_resident_year``); the resident decides
   whether to report it, silence being likelier with low trust (``Resident.willing_to_report``), and
   picks a channel by preference weight among the channels it can use (``Resident.choose_channel``);
2. an open problem's grievance is checked against the escalation threshold (Epstein's rule, as in
   ``GovernanceModel.escalate``), an unreported one is abandoned after ``patience_days``, and a
   reported one closes when its service time is up; a closed case is judged by expectancy–
   disconfirmation, moving the resident's satisfaction and trust and, by word of mouth, its
   neighbours' trust (``Resident.experience`` / ``word_of_mouth``);
3. with the daily chance of a conversation, it exchanges views with a random neighbour under bounded
   confidence (``Resident.converse``).

The model's ``step()`` calls ``self.agents.shuffle_do("step")`` and records the day's mean trust and
satisfaction (as the vectorised model's ``account`` does). The case flow through departments is not
modelled here: it is per-case work, not per-resident, and would only make the reference slower.
"""

from __future__ import annotations

import math
import time

import mesa
import numpy as np

CHANNELS = ("hotline", "app", "window", "grid_worker")


class Citizen(mesa.Agent):
    def __init__(self, model: "MesaReference", trust: float, old: bool, usable: tuple[bool, ...]):
        super().__init__(model)
        self.trust = trust
        self.satisfaction = model.initial_satisfaction
        self.old = old
        self.usable = usable
        self.neighbours: list[Citizen] = []
        self.problem: list | None = None   # [born, reported, due, severity, threshold]

    def step(self) -> None:
        m = self.model
        rnd = self.random
        day = m.day
        # 1. a problem arises; report it or stay silent; the channel by preference weight
        if self.problem is None and rnd.random() < m.p_arise:
            p = min(1.0, max(0.0, m.propensity + m.trust_slope * (self.trust - 0.5)))
            reported = rnd.random() < p
            if reported:
                weights = [w if ok else 0.0 for w, ok in zip(m.weights[self.old], self.usable)]
                total = sum(weights)
                reported = total > 0
                if reported:
                    u, acc = rnd.random() * total, 0.0
                    for c, w in enumerate(weights):
                        acc += w
                        if u < acc:
                            break
            due = day + m.report_delay + rnd.expovariate(1.0 / m.service_days)
            self.problem = [day + rnd.random(), reported, due, m.severity, 0.6 + 0.8 * rnd.random()]
        # 2. the open problem: escalation, abandonment, or its case closes
        if self.problem is not None:
            born, reported, due, severity, thresh = self.problem
            age = day + 1 - born
            grievance = severity * math.exp(m.severity_growth * age) * (1 - self.trust)
            if grievance > m.escalation_threshold * thresh:
                self.close(0.0, age, m.deadline)
            elif reported and day + 1 >= due:
                self.close(float(rnd.random() < m.p_fix), day + 1 - born, m.deadline)
            elif not reported and age > m.patience:
                self.close(0.0, age, max(m.deadline, m.patience / 4))
        # 3. a conversation with a random neighbour, under bounded confidence
        if self.neighbours and rnd.random() < m.p_talk:
            other = rnd.choice(self.neighbours)
            diff = other.trust - self.trust
            if abs(diff) < m.confidence_bound:
                self.trust += m.convergence * diff
                other.trust -= m.convergence * diff

    def close(self, resolved: float, wait: float, expected: float) -> None:
        m = self.model
        self.problem = None
        d = min(1.0, max(-3.0, (expected - wait) / expected))
        s = 1.0 / (1.0 + math.exp(-(m.sat_intercept + m.sat_outcome * resolved + m.sat_disconfirmation * d)))
        self.satisfaction = (1 - m.memory) * self.satisfaction + m.memory * s
        self.trust += m.trust_learning * (s - self.trust)
        k = m.word_of_mouth
        for o in self.neighbours:
            o.trust = min(1.0, max(0.0, o.trust + k * (s - o.trust)))


class MesaReference(mesa.Model):
    """The reference model on `scenario`'s population and network (built by govsim itself)."""

    def __init__(self, scenario, seed: int = 1):
        super().__init__(rng=seed)
        from sim.model import GovernanceModel
        g = GovernanceModel(scenario, seed=seed)   # same people, same ties
        res = g.residents
        sc = scenario
        d, r, net, ch = sc.demand, sc.residents, sc.network, sc.channels
        self.day = 0
        self.p_arise = d.problems_per_resident_year / 365.0
        self.propensity, self.trust_slope = d.report_propensity, d.report_trust_slope
        self.report_delay = d.report_delay_days
        self.service_days = float(np.mean([c.deadline_days for c in d.categories.values()]))
        self.deadline = self.service_days
        self.severity = float(np.mean([c.severity for c in d.categories.values()]))
        self.severity_growth, self.escalation_threshold = d.severity_growth, d.escalation_threshold
        self.patience = d.patience_days
        self.p_fix = sc.routing.fix_base
        self.initial_satisfaction = r.initial_satisfaction
        self.sat_intercept, self.sat_outcome = r.sat_intercept, r.sat_outcome
        self.sat_disconfirmation, self.memory = r.sat_disconfirmation, r.satisfaction_memory
        self.trust_learning = r.trust_learning
        self.word_of_mouth = net.word_of_mouth * r.trust_learning
        self.p_talk = net.conversations_per_day / 2.0
        self.confidence_bound, self.convergence = net.confidence_bound, net.convergence
        self.weights = {False: [getattr(ch, c).weight_under60 for c in CHANNELS],
                        True: [getattr(ch, c).weight_60plus for c in CHANNELS]}
        usable = res.usable_channels(np.arange(res.n), ch, g.levers.at_residents("policies.app_first"),
                                     g.levers.at_residents("policies.elder_friendly"))
        people = [Citizen(self, float(t), bool(o), tuple(bool(x) for x in u))
                  for t, o, u in zip(res.trust, res.old, usable)]
        indptr, indices = res.adjacency.indptr, res.adjacency.indices
        for i, a in enumerate(people):
            a.neighbours = [people[j] for j in indices[indptr[i]:indptr[i + 1]]]
        self.n = len(people)
        self.mean_trust: list[float] = []
        self.mean_satisfaction: list[float] = []

    def step(self) -> None:
        self.agents.shuffle_do("step")
        self.mean_trust.append(self.agents.agg("trust", np.mean))
        self.mean_satisfaction.append(self.agents.agg("satisfaction", np.mean))
        self.day += 1


def measure(residents: int = 10_000, days: int = 10, reps: int = 3, seed: int = 1) -> dict:
    """Build the reference `reps` times and run each for `days`; agent-steps per second (median, best)."""
    import statistics

    from benchmarks.common import scenario
    sc = scenario(residents, days)
    builds, runs = [], []
    for k in range(reps):
        t0 = time.perf_counter()
        m = MesaReference(sc, seed + k)
        t1 = time.perf_counter()
        m.run_for(days)
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        runs.append(t2 - t1)
    steps = m.n * days
    med, best = statistics.median(runs), min(runs)
    return {"residents": m.n, "days": days, "reps": reps, "build_s": statistics.median(builds),
            "run_s": med, "run_s_best": best, "run_s_all": runs,
            "agent_steps_per_s": steps / med, "agent_steps_per_s_best": steps / best,
            "step_us": med / steps * 1e6, "final_mean_trust": float(m.mean_trust[-1])}


def mesa_step_overhead(steps: int = 20_000) -> float:
    """Microseconds per ``run_for`` step of a Mesa model whose step does nothing (the event machinery)."""
    class Empty(mesa.Model):
        def __init__(self):
            super().__init__(rng=1)

        def step(self):
            pass
    m = Empty()
    t0 = time.perf_counter()
    m.run_for(steps)
    return (time.perf_counter() - t0) / steps * 1e6


def govsim_step_overhead(residents: int = 5_000, days: int = 365, steps: int = 20_000) -> dict:
    """Mesa's share of a govsim run: the cost per step of ``run_for`` on a GovernanceModel whose own
    step does nothing (the event list, time and step bookkeeping), against a real run's time per day."""
    from benchmarks.common import scenario
    from sim.model import GovernanceModel
    sc = scenario(residents, days, grids_per_community=5)
    m = GovernanceModel(sc, seed=1)
    t0 = time.process_time()
    m.run(days)
    per_day = (time.process_time() - t0) / days
    idle = GovernanceModel(sc, seed=1)
    idle._user_step = lambda: None   # Mesa's wrapper calls the model's step through this
    t0 = time.process_time()
    idle.run_for(steps)
    per_step = (time.process_time() - t0) / steps
    return {"residents": residents, "overhead_us_per_step": per_step * 1e6, "day_us": per_day * 1e6,
            "share": per_step / per_day}


def paired_ratio(residents: int = 10_000, days: int = 10, against: int = 100_000, pairs: int = 5) -> dict:
    """The speed-up measured in pairs at the same moment: a govsim year at `against` residents, then
    the Mesa reference, alternately; the ratio of resident-days/s to agent-steps/s in each pair."""
    import statistics

    from benchmarks.common import scenario
    from sim.model import GovernanceModel
    g_sc, m_sc = scenario(against, 365), scenario(residents, days)
    GovernanceModel(g_sc, seed=99).run(30)   # warm up both first
    MesaReference(m_sc, 99).run_for(2)
    ratios, g_rates, m_rates = [], [], []
    for k in range(pairs):
        g = GovernanceModel(g_sc, seed=k + 1)
        t0 = time.perf_counter()
        g.run(365)
        g_rate = against * 365 / (time.perf_counter() - t0)
        m = MesaReference(m_sc, k + 1)
        t0 = time.perf_counter()
        m.run_for(days)
        m_rate = m.n * days / (time.perf_counter() - t0)
        ratios.append(g_rate / m_rate)
        g_rates.append(g_rate)
        m_rates.append(m_rate)
    return {"govsim_residents": against, "mesa_residents": residents, "mesa_days": days, "pairs": pairs,
            "ratio": statistics.median(ratios), "ratios": ratios, "govsim_resident_days_per_s": g_rates,
            "mesa_agent_steps_per_s": m_rates}


def main(argv=None) -> int:
    import argparse
    import json
    ap = argparse.ArgumentParser(description="the plain Mesa reference (prints JSON)")
    ap.add_argument("--residents", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--against", type=int, default=0, help="also measure the speed-up in pairs with a govsim "
                    "year at this many residents")
    a = ap.parse_args(argv)
    out = measure(a.residents, a.days, a.reps)
    out["mesa_step_overhead_us"] = mesa_step_overhead()
    out["govsim_run_for"] = govsim_step_overhead()
    if a.against:
        out["paired"] = paired_ratio(a.residents, a.days, a.against)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
