"""Department teams are multi-server queues: the vectorised queue discipline against a plain event
loop, and the whole model, stripped to one department with Poisson arrivals and exponential work,
against Erlang C (the M/M/c formulas of docs/SOURCES.md)."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from sim.model import GovernanceModel
from sim.scenario import build_scenario
from sim.services import Departments

from .conftest import tiny_scenario


def reference_schedule(team, avail, key, work, speed, free, t_end):
    """The queue discipline written as a plain event loop, one team at a time: the first free handler
    (lowest index among equals) takes the highest-priority case that has arrived by then (ties: input
    order), else the next case to arrive; stop when the next start would be at or after t_end."""
    out = {}
    for d in np.unique(team):
        rows = [i for i in np.lexsort((np.arange(team.size), key, team)) if team[i] == d]
        fr = list(free[d])
        heap = [(f, s) for s, f in enumerate(fr) if np.isfinite(f)]
        heapq.heapify(heap)
        waiting = list(rows)
        while waiting and heap:
            tau, s = heapq.heappop(heap)
            arrived = [i for i in waiting if avail[i] <= tau]
            i = arrived[0] if arrived else min(waiting, key=lambda j: avail[j])
            start = max(tau, avail[i])
            if start >= t_end:
                break
            waiting.remove(i)
            out[i] = (start, s)
            heapq.heappush(heap, (start + work[i] / speed[d], s))
    return out


@pytest.mark.parametrize("fifo", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_queue_discipline_matches_an_event_loop(fifo, seed):
    rng = np.random.default_rng(seed)
    depts = Departments(["a", "b", "c", "d"], 1, GovernanceModel(tiny_scenario(), seed=1).layout)
    depts.servers = np.array([1, 2, 3, 5])
    depts.free = np.where(np.arange(5)[None, :] < depts.servers[:, None], rng.uniform(0, 0.4, (4, 5)), np.inf)
    depts.free[1, 1] = depts.free[1, 0]                       # two handlers free at the same moment
    n = 40
    team = rng.integers(0, 4, n)
    avail = rng.uniform(0, 1, n)
    avail[:5] = 0.0                                           # some arrived before the day
    key = avail.copy() if fifo else rng.uniform(0, 10, n)
    work = rng.exponential(2.0, n)
    speed = np.array([8.0, 6.0, 12.0, 24.0])
    expected = reference_schedule(team, avail, key, work, speed, depts.free.copy(), 1.0)
    k, start, server = depts.start_services(team, avail, key, work / speed[team], 1.0, np.full(4, fifo))
    got = {int(i): (float(s), int(h)) for i, s, h in zip(k, start, server)}
    assert got.keys() == expected.keys()
    for i in got:
        assert got[i][0] == pytest.approx(expected[i][0]) and got[i][1] == expected[i][1], i


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """P(wait) and the mean wait W_q of an M/M/c queue."""
    a = lam / mu
    rho = a / c
    top = a ** c / math.factorial(c) / (1 - rho)
    p = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return p, p / (c * mu - lam)


def mmc_model(lam: float, mu: float, c: int, days: int) -> dict:
    """The model reduced to an M/M/c queue: one department of c handlers working 24 h, every problem
    reported at once by phone (a Poisson stream of λ a day), exponential work of mean 1/μ days, and no
    escalation, hand-offs, duplicates, patrol, misrouting or repeat calls (which would add arrivals)."""
    N = 1000
    return {
        "population": {"communities_per_subdistrict": 1, "grids_per_community": 1, "residents_per_grid": N,
                       "phone_access": 1.0, "app_literacy_60plus": 0.0, "app_literacy_under60": 0.0},
        "network": {"conversations_per_day": 0.0, "word_of_mouth": 0.0},
        "channels": {"window_reach_60plus": 0.0, "window_reach_under60": 0.0, "grid_worker_reach": 0.0,
                     "hotline": {"filing_delay_days": 0.0}},
        "demand": {"problems_per_resident_year": lam * 365 / N, "duplicate_share": 0.0, "multi_department_share": 0.0,
                   "report_propensity": 1.0, "report_trust_slope": 0.0, "report_delay_days": 0.0,
                   "categories": {"q": {"share": 1.0, "departments": ["desk"], "severity": 0.0,
                                        "service_hours": 24.0 / mu, "service_distribution": "exponential"}}},
        "staffing": {"grid_workers_per_grid": 0.0, "department_hours": 24.0,
                     "departments": {"desk": {"staff_per_10k": 10.0 * c}}},
        "routing": {"misroute_base": 0.0},
        "assessment": {"repeat_call_probability": 0.0},
        "run": {"steps": days},
    }


@pytest.mark.parametrize("lam, mu, c, days", [(5.0, 10.0, 1, 1000), (7.0, 2.0, 5, 2000), (10.8, 4.0, 3, 3000)],
                         ids=["rho0.5-c1", "rho0.7-c5", "rho0.9-c3"])
def test_one_department_is_an_mmc_queue(lam, mu, c, days):
    """P(wait) and the mean wait match Erlang C within 5%, over 48 seeded runs after 100 days of
    warm-up (the runs' standard errors are about 1.5% at these sizes, so 5% is three of them)."""
    warm = 100
    m = GovernanceModel(build_scenario(mmc_model(lam, mu, c, warm + days)), seeds=list(range(1, 49)))
    m.run(warm)
    L = m.ledger
    before = (L.queue_waited.copy(), L.services.copy(), L.queue_time.copy(), L.queue_exits.copy())
    m.run(days)
    waited, served, time, exits = (now - then for now, then in zip(
        (L.queue_waited, L.services, L.queue_time, L.queue_exits), before))
    p_wait, w_q = erlang_c(lam, mu, c)
    assert waited.sum() / served.sum() == pytest.approx(p_wait, rel=0.05)
    assert time.sum() / exits.sum() == pytest.approx(w_q, rel=0.05)
    assert served.sum() / (48 * days) == pytest.approx(lam, rel=0.02)   # throughput = arrivals
