"""The actors and their rules.

Mesa agents for residents, grid workers (one agent per grid: the grid's team) and departments, plus
the governance centre's routing rule. State lives in numpy arrays owned by the model
(:class:`sim.model.GovernanceModel`); the agent objects are views that read and write through them,
and each rule is written once, vectorised over all agents of its kind, as a method of the class whose
behaviour it is. The model calls the rules in the phase order documented in ``GovernanceModel.step``.

Sources of the rules: satisfaction from expectancy–disconfirmation (Van Ryzin 2004); trust spreading
by word of mouth and bounded-confidence exchange (Deffuant et al. 2000); escalation as Epstein's (2002)
grievance rule with trust in the role of legitimacy; hand-offs between silos losing detail after
Zagorecki, Ko & Comfort (2010). Deviations are commented where they occur.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import GovernanceModel


class Status(IntEnum):
    """Where a problem is. Terminal states are counted and then dropped from the working pool."""
    SILENT = 0        # not reported (yet): the resident will not or cannot report
    PENDING = 1       # the resident will report it at `report_time`
    FILED = 2         # reported or discovered; on its way to the centre until `file_time`
    QUEUED = 3        # waiting at (or on the way to) department `dept` from `avail_time`
    MERGED = 4        # a duplicate attached to an open case of the same cause (platform merging)
    RESOLVED = 10     # settled: on the spot, by a department, or because its common cause was fixed
    UNRESOLVED = 11   # closed by a department without a real fix (detail lost, wrong handling)
    ESCALATED = 12    # grew into a dispute or incident
    ABANDONED = 13    # never reported nor found; the resident gave up after `patience_days`

    @classmethod
    def terminal(cls) -> tuple[int, ...]:
        return (cls.RESOLVED, cls.UNRESOLVED, cls.ESCALATED, cls.ABANDONED)


class Channel(IntEnum):
    """How a problem reached the centre."""
    NONE = -1
    HOTLINE = 0
    APP = 1
    WINDOW = 2
    GRID_WORKER = 3       # assisted reporting to the grid worker
    PATROL = 4            # found by a grid worker on patrol before any report
    EARLY_WARNING = 5     # found by early warning on shared data

    @classmethod
    def reporting(cls) -> tuple["Channel", ...]:
        return (cls.HOTLINE, cls.APP, cls.WINDOW, cls.GRID_WORKER)


CHANNEL_KEYS = {Channel.HOTLINE: "hotline", Channel.APP: "app", Channel.WINDOW: "window",
                Channel.GRID_WORKER: "grid_worker"}


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


# Closures judged together in a batch of at most this many are applied one by one in Python floats
# (Resident._judge_few): the same IEEE operations in the same order as the array code, without
# numpy's fixed cost per call, which dominates for the few closures of a small community's day.
FEW = 8


# --------------------------------------------------------------------------------------------------
class Resident(mesa.Agent):
    """A resident (居民): meets problems, reports or stays silent, waits, judges the service, trusts.

    The object is a view of row ``idx`` of the model's resident arrays.
    """

    def __init__(self, model: "GovernanceModel", idx: int):
        super().__init__(model)
        self.idx = int(idx)

    # --- views -------------------------------------------------------------------------------
    @property
    def trust(self) -> float:
        return float(self.model.trust[self.idx])

    @trust.setter
    def trust(self, value: float) -> None:
        self.model.trust[self.idx] = value

    @property
    def satisfaction(self) -> float:
        return float(self.model.satisfaction[self.idx])

    @satisfaction.setter
    def satisfaction(self, value: float) -> None:
        self.model.satisfaction[self.idx] = value

    @property
    def aged_60plus(self) -> bool:
        return bool(self.model.old[self.idx])

    @property
    def grid(self) -> int:
        return int(self.model.grid_of[self.idx])

    @property
    def community(self) -> int:
        return int(self.model.community_of[self.idx])

    @property
    def building(self) -> int:
        return int(self.model.building_of[self.idx])

    def state(self) -> dict:
        """What the view shows on a click: open cases, waits, trust, satisfaction, channels."""
        return self.model.resident_state(self.idx)

    # --- rules (vectorised over residents) ----------------------------------------------------
    @staticmethod
    def usable_channels(model: "GovernanceModel", res: np.ndarray) -> np.ndarray:
        """Boolean matrix (len(res), 4): which reporting channels each resident can use today.

        Elder-friendly service (适老化) gives residents aged 60+ assisted reporting through the grid
        worker and a way to the window and the hotline even when reporting has moved app-first.
        """
        sc = model.params
        ch = sc.channels
        comm = model.community_of[res]
        old = model.old[res]
        app_first = model.local["policies.app_first"][comm]
        elder = model.local["policies.elder_friendly"][comm] & old
        offline_open = ~app_first | elder
        out = np.zeros((res.size, 4), dtype=bool)
        out[:, Channel.HOTLINE] = ch.hotline.enabled & model.phone[res] & offline_open
        out[:, Channel.APP] = ch.app.enabled & model.app_user[res]
        window_reach = np.where(old, ch.window_reach_60plus, ch.window_reach_under60)
        out[:, Channel.WINDOW] = ch.window.enabled & offline_open & ((model.u_window[res] < window_reach) | elder)
        out[:, Channel.GRID_WORKER] = ch.grid_worker.enabled & ((model.u_gridworker[res] < ch.grid_worker_reach) | elder)
        return out

    @staticmethod
    def choose_channel(model: "GovernanceModel", res: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A channel per resident, by preference weight among the usable ones (-1: none usable)."""
        code, table = model._cached("channel_table", lambda: Resident.channel_table(model))
        cum = table[code[res]]
        total = cum[:, -1]
        pick = (cum < (u * total)[:, None]).sum(axis=1)
        return np.where(total > 0, np.minimum(pick, 3), -1).astype(np.int8)   # -1: Channel.NONE

    @staticmethod
    def channel_table(model: "GovernanceModel") -> tuple[np.ndarray, np.ndarray]:
        """Every resident's reporting options as a code (age group × usable channels), and per code the
        cumulative preference weights of the channels (zero weight where unusable).

        A resident's options change only with the parameters, so :meth:`choose_channel` looks the
        weights up instead of re-deriving them for each new problem.
        """
        ch = model.params.channels
        usable = Resident.usable_channels(model, np.arange(model.n_residents))
        code = (model.old.astype(np.int8) << 4) | (usable.astype(np.int8) @ np.array([1, 2, 4, 8], np.int8))
        codes = np.arange(32)
        old = codes >= 16
        w = np.empty((32, 4))
        for c, key in CHANNEL_KEYS.items():
            spec = getattr(ch, key)
            w[:, c] = np.where(old, spec.weight_60plus, spec.weight_under60)
        w *= (codes[:, None] >> np.arange(4)) & 1 == 1
        return code.astype(np.int8), np.cumsum(w, axis=1)

    @staticmethod
    def willing_to_report(model: "GovernanceModel", res: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Silence is likelier when trust is low: P(report) = propensity + slope·(trust − 0.5)."""
        d = model.params.demand
        p = np.minimum(np.maximum(d.report_propensity + d.report_trust_slope * (model.trust[res] - 0.5), 0.0), 1.0)
        return u < p

    @staticmethod
    def experience(model: "GovernanceModel", res: np.ndarray, resolved: np.ndarray, wait: np.ndarray,
                   expected: np.ndarray) -> np.ndarray:
        """Expectancy–disconfirmation (Van Ryzin 2004): judge a closed case, update satisfaction and trust.

        Returns the case satisfaction s in (0, 1). A neighbour hears of it (word of mouth) and moves
        its trust toward s by `word_of_mouth` of the resident's own step.
        """
        r = model.params.residents
        if (res.size <= FEW and isinstance(resolved, float) and isinstance(wait, np.ndarray)
                and isinstance(expected, np.ndarray) and wait.shape == expected.shape == res.shape
                and 0.0 not in (e := expected.tolist())):
            return np.array(Resident._experience_few(model, res.tolist(), resolved, wait.tolist(), e))
        disconfirmation = np.minimum(np.maximum((expected - wait) / expected, -3.0), 1.0)   # clip to [-3, 1]
        s = logistic(r.sat_intercept + r.sat_outcome * resolved + r.sat_disconfirmation * disconfirmation)
        m = r.satisfaction_memory
        if res.size <= 64:
            repeated = len(set(res.tolist())) < res.size
        else:
            srt = np.sort(res)
            repeated = bool((srt[1:] == srt[:-1]).any())
        if repeated:
            # Sequential updates of one resident's several closures in a day are folded into one mean.
            np.add.at(model._sat_acc, res, s)
            np.add.at(model._sat_cnt, res, 1.0)
            touched = np.unique(res)
            mean_s = model._sat_acc[touched] / model._sat_cnt[touched]
            model._sat_acc[touched] = 0.0
            model._sat_cnt[touched] = 0.0
        else:   # one closure each: the mean of one is the value itself
            touched, mean_s = res, s
        Resident.record_judgements(model, res, s)
        model.served[touched] = True
        model.satisfaction[touched] = (1 - m) * model.satisfaction[touched] + m * mean_s
        tt = model.trust[touched]
        model.trust[touched] = tt + r.trust_learning * (mean_s - tt)
        Resident.word_of_mouth(model, res, s)
        return s

    @staticmethod
    def _experience_few(model: "GovernanceModel", res: list[int], resolved: float, wait: list[float],
                        expected: list[float]) -> list[float]:
        """:meth:`experience` for a few closures given as lists (no expected wait of 0): the same
        arithmetic element by element in Python floats (exp stays numpy's); returns s."""
        r = model.params.residents
        base, c = r.sat_intercept + r.sat_outcome * resolved, r.sat_disconfirmation
        x = [base + c * min(max((e - w) / e, -3.0), 1.0) for w, e in zip(wait, expected)]
        s = [1.0 / (1.0 + z) for z in np.exp(-np.array(x)).tolist()]
        Resident._judge_few(model, res, s)
        return s

    @staticmethod
    def _judge_few(model: "GovernanceModel", res: list[int], s: list[float]) -> None:
        """:meth:`experience`'s updates (after s) for a few closures, in Python floats: the same values
        as the array code (same operations, same order; `benchmarks/golden_check.py` compares them)."""
        r = model.params.residents
        m, tl = r.satisfaction_memory, r.trust_learning
        sat, trust, served = model.satisfaction, model.trust, model.served
        acc, old = model.case_satisfaction, model.old
        for i, v in zip(res, s):
            g = int(old.item(i))
            acc[g, 0] += v
            acc[g, 1] += 1.0
        if len(set(res)) < len(res):   # one resident's closures of the batch fold into their mean
            total: dict[int, float] = {}
            count: dict[int, float] = {}
            for i, v in zip(res, s):
                total[i] = total.get(i, 0.0) + v
                count[i] = count.get(i, 0.0) + 1.0
            own = [(i, total[i] / count[i]) for i in total]
        else:
            own = zip(res, s)
        keep = 1 - m
        for i, v in own:
            served[i] = True
            sat[i] = keep * sat.item(i) + m * v
            t = trust.item(i)
            trust[i] = t + tl * (v - t)
        # word of mouth: every step from the trust before any of them, then added in order, clipped
        k = model.params.network.word_of_mouth * tl
        if k == 0:
            return
        indptr, indices = model.adj_indptr, model.adj_indices
        heard = [(j, v) for i, v in zip(res, s) for j in indices[indptr[i]:indptr[i + 1]].tolist()]
        steps = [k * (v - trust.item(j)) for j, v in heard]
        moved: dict[int, float] = {}
        for (j, _), d in zip(heard, steps):
            moved[j] = moved.get(j, trust.item(j)) + d
        for j, x in moved.items():
            trust[j] = min(max(x, 0.0), 1.0)

    @staticmethod
    def record_judgements(model: "GovernanceModel", res: np.ndarray, s: np.ndarray) -> None:
        """Add case judgements to the satisfaction rate by age group (the published 'satisfaction
        rate' is among residents whose problem was handled, not among all residents)."""
        old = model.old[res].astype(np.int64)
        model.case_satisfaction[:, 0] += np.bincount(old, weights=s, minlength=2)
        model.case_satisfaction[:, 1] += np.bincount(old, minlength=2)

    @staticmethod
    def word_of_mouth(model: "GovernanceModel", res: np.ndarray, s: np.ndarray) -> None:
        """Each neighbour's trust moves toward the experience s, weaker than the resident's own."""
        k = model.params.network.word_of_mouth * model.params.residents.trust_learning
        if k == 0 or res.size == 0:
            return
        indptr, indices = model.adj_indptr, model.adj_indices
        trust = model.trust
        if res.size == 1:   # one resident: its neighbours are one slice of the adjacency, all distinct
            i = res[0]
            nb = indices[indptr[i]:indptr[i + 1]]
            t = trust[nb]
            t += k * (s[0] - t)
            trust[nb] = np.minimum(np.maximum(t, 0.0), 1.0)
            return
        deg = model.adj_degree[res]
        if res.size <= 16:   # a few residents: their neighbour lists are slices
            nb = np.concatenate([indices[indptr[i]:indptr[i + 1]] for i in res.tolist()])
        else:
            end = deg.cumsum()
            nb = indices[np.arange(end[-1]) + (indptr[res] - (end - deg)).repeat(deg)]
        delta = k * (s.repeat(deg) - trust[nb])
        np.add.at(trust, nb, delta)
        trust[nb] = np.minimum(np.maximum(trust[nb], 0.0), 1.0)

    @staticmethod
    def converse(model: "GovernanceModel", rng: np.random.Generator) -> None:
        """Bounded-confidence exchange (Deffuant et al. 2000) on randomly drawn ties."""
        net = model.params.network
        n = model.n_residents
        k = rng.poisson(n * net.conversations_per_day / 2.0)
        if k == 0 or net.convergence == 0:
            return
        i = rng.integers(0, n, size=k)
        # each resident's first tie and number of ties, fetched together (one random access each)
        first_deg = model.adj_first_degree.take(i, axis=0)
        deg = first_deg[:, 1]
        ok = deg > 0
        if not ok.all():
            i, first_deg, deg = i[ok], first_deg[ok], deg[ok]
        j = model.adj_indices.take(first_deg[:, 0] + (rng.random(i.size) * deg).astype(np.int64))
        trust = model.trust
        diff = trust.take(j) - trust.take(i)
        close = np.abs(diff) < net.confidence_bound
        step = net.convergence * diff * close
        np.add.at(model.trust, i, step)
        np.add.at(model.trust, j, -step)
        # moving toward each other keeps both inside [0, 1]: no clipping needed


# --------------------------------------------------------------------------------------------------
class GridWorker(mesa.Agent):
    """The grid workers (网格员) of one grid, as one agent: patrol, discover, mediate, file.

    One agent per grid holds the grid's team (``workers`` may be fractional: 1.7 per grid is the
    published mean of full- and part-time workers).
    """

    def __init__(self, model: "GovernanceModel", grid: int):
        super().__init__(model)
        self.grid = int(grid)

    @property
    def community(self) -> int:
        return int(self.model.grid_community[self.grid])

    @property
    def workers(self) -> float:
        return float(self.model.local["staffing.grid_workers_per_grid"][self.community])

    def state(self) -> dict:
        return self.model.grid_state(self.grid)

    @staticmethod
    def detection_hazard(model: "GovernanceModel") -> np.ndarray:
        """Per grid: daily hazard that a given unreported problem is found by the patrol.

        Households visited = workers × hours × patrol share × households per hour; a visit notices the
        problem with a chance that grows with training.
        """
        sc = model.params
        comm = model.grid_community
        loc = model.local
        hours = loc["staffing.grid_workers_per_grid"][comm] * loc["staffing.grid_worker_hours"][comm] \
            * loc["policies.patrol_intensity"][comm]
        visited = hours * sc.staffing.households_per_patrol_hour
        coverage = np.minimum(1.0, visited / model.households_per_grid)
        notice = np.clip(sc.routing.discovery_base + sc.routing.discovery_training_gain
                         * loc["policies.training_level"][comm], 0.0, 1.0)
        p = np.clip(coverage * notice, 0.0, 1.0 - 1e-12)
        return -np.log1p(-p)

    @staticmethod
    def settle_chance(model: "GovernanceModel", grid: np.ndarray) -> np.ndarray:
        """Chance a grid worker mediates a small dispute on the spot, higher when trained."""
        r = model.params.routing
        train = model.local["policies.training_level"][model.grid_community[grid]]
        return np.clip(r.on_spot_settle_base + r.on_spot_training_gain * train, 0.0, 1.0)


# --------------------------------------------------------------------------------------------------
class Department(mesa.Agent):
    """A line department (职能部门, a 条): owns its categories' cases, with finite capacity.

    Capacity per day = staff × service rate (less the time spent turning up when whistled); cases
    queue and are served first-in-first-out, or earliest-deadline-first when the shared platform
    tracks deadlines and the department is joined.
    """

    def __init__(self, model: "GovernanceModel", index: int, name: str):
        super().__init__(model)
        self.index = int(index)
        self.name = name

    @property
    def joined(self) -> bool:
        return bool(self.model.joined[self.index])

    @property
    def queue_length(self) -> int:
        return int(self.model.queue_lengths()[self.index])

    @property
    def capacity(self) -> float:
        return float(self.model.capacity[self.index])

    def state(self) -> dict:
        return {"name": self.name, "joined": self.joined, "queue": self.queue_length,
                "capacity_per_day": round(self.capacity, 3)}

    @staticmethod
    def serve(model: "GovernanceModel", cand: np.ndarray, dept: np.ndarray, key: np.ndarray,
              work: np.ndarray) -> np.ndarray:
        """Which candidate visits each department completes today, within its credit of work.

        `cand` indexes the pool; the candidates are ordered by (department, priority key) and served
        while the cumulative work stays within the department's credit (capacity accrued today plus
        what is left from partly-served days; unused credit beyond one day's capacity is lost).
        """
        if cand.size == 0:
            return cand
        order = np.lexsort((cand, key, dept))
        d = dept[order]
        w = work[order]
        cum = w.cumsum()
        before = cum - w          # work ahead of each visit, nondecreasing
        first = np.empty(d.size, bool)
        first[0] = True
        np.not_equal(d[1:], d[:-1], out=first[1:])
        # work ahead of the department's first visit, carried along its visits
        base = np.maximum.accumulate(np.where(first, before, 0.0))
        within = (cum - base) <= model.credit[d] + 1e-9
        # served work per department comes off its credit
        np.subtract.at(model.credit, d[within], w[within])
        return cand[order[within]]


class GovernanceCentre:
    """The dispatch hub (综治中心): routes cases, watches deadlines, merges duplicates, early warning.

    Not a Mesa agent: it has no state of its own beyond the model's case arrays.
    """

    @staticmethod
    def misroute_chance(model: "GovernanceModel", primary: np.ndarray) -> np.ndarray:
        """Misrouting falls with training and with the primary department on the shared platform."""
        r = model.params.routing
        train = model.params.policies.training_level
        return r.misroute_base * (1 - r.misroute_training_cut * train) \
            * (1 - r.misroute_sharing_cut * model.joined[primary])
