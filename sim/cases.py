"""Problems and cases: the open-problem table and the shared causes behind duplicate reports.

A *problem* (诉求) arises for a resident; it becomes a *case* once it is reported or found, and leaves
the table when it finishes (resolved, closed unresolved, escalated or abandoned), after the ledger has
booked it. Every column is a numpy array with one row per open problem, in the order the problems
arose; rows of several runs of a batch interleave, and each run's rows keep their own order.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from scipy import special


class Status(IntEnum):
    """Where a problem is. Finished problems are booked by the ledger and dropped from the table."""
    SILENT = 0        # not reported (yet): the resident will not or cannot report
    PENDING = 1       # the resident will report it at `report_time`
    FILED = 2         # reported or discovered; on its way to the centre until `file_time`
    QUEUED = 3        # waiting at (or on the way to) department team `dept` from `avail_time`
    MERGED = 4        # a duplicate attached to an open case of the same cause (platform merging)
    SERVING = 5       # a case handler of team `dept` works on it until `done_time`
    WITH_ACTOR = 6    # with the community's own staff or another actor (`actor`), done at `done_time`
    RESOLVED = 10     # settled: on the spot, by a department, or because its common cause was fixed
    UNRESOLVED = 11   # closed by a department without a real fix (detail lost, wrong handling)
    ESCALATED = 12    # grew into a dispute or incident
    ABANDONED = 13    # never reported nor found; the resident gave up after `patience_days`


class Channel(IntEnum):
    """How a problem reached the centre (the first four are the residents' reporting channels)."""
    NONE = -1
    HOTLINE = 0
    APP = 1
    WINDOW = 2
    GRID_WORKER = 3       # assisted reporting to the grid worker
    PATROL = 4            # found by a grid worker on patrol before any report
    EARLY_WARNING = 5     # found by early warning on shared data


REPORTING_CHANNELS = (Channel.HOTLINE, Channel.APP, Channel.WINDOW, Channel.GRID_WORKER)
CHANNEL_KEYS = {Channel.HOTLINE: "hotline", Channel.APP: "app", Channel.WINDOW: "window",
                Channel.GRID_WORKER: "grid_worker"}

# Each problem's uniforms are drawn when it arises (common random numbers: a policy that changes when a
# problem is handled does not change which draws it gets). Column k of a problem's uniforms serves:
(U_WILLING, U_CHANNEL, U_DELAY, U_MULTI, U_FIX, U_DISCOVER, U_THRESHOLD, U_ROUTE, U_SETTLE, U_SECOND, U_SERVICE,
 U_RISK) = range(12)
N_UNIFORMS = 12


class Columns:
    """A table of named numpy columns with spare capacity, grown by doubling.

    ``table.name`` is the live view of the first ``len(table)`` rows of column ``name``; appending
    writes into the spare rows and dropping rows compacts them in place, keeping the order.
    """

    FIELDS: dict[str, tuple[type, object]] = {}   # name: (dtype, value of a new row when not given)

    def __init__(self, capacity: int = 256):
        self.n = 0
        self._buf = {k: np.empty((capacity,) + self._shape(k), t) for k, (t, _) in self.FIELDS.items()}
        self._views()

    def _shape(self, name: str) -> tuple:
        return ()

    def _views(self) -> None:
        n = self.n
        for k, b in self._buf.items():
            setattr(self, k, b[:n])

    def __len__(self) -> int:
        return self.n

    def __getstate__(self):   # pickle the buffers; the views are rebuilt on loading
        return {"n": self.n, "_buf": self._buf}

    def __setstate__(self, state):
        self.n, self._buf = state["n"], state["_buf"]
        self._views()

    def append(self, n: int, **columns) -> None:
        """Add `n` rows; a column may be given as an array or one value for all; others get defaults."""
        if n == 0:
            return
        n0, n1 = self.n, self.n + n
        cap = next(iter(self._buf.values())).shape[0]
        if n1 > cap:
            cap = max(2 * cap, n1)
            for k, b in self._buf.items():
                grown = np.empty((cap,) + b.shape[1:], b.dtype)
                grown[:n0] = b[:n0]
                self._buf[k] = grown
        for k, b in self._buf.items():
            b[n0:n1] = columns.get(k, self.FIELDS[k][1])
        self.n = n1
        self._views()

    def keep(self, mask: np.ndarray) -> None:
        """Keep the rows where `mask` is true, in their order."""
        rows = mask.nonzero()[0]
        for b in self._buf.values():
            b[:rows.size] = b[rows]
        self.n = rows.size
        self._views()


class Cases(Columns):
    """The open problems, one row each (reported or not)."""

    FIELDS = {
        "pid": (np.int64, 0),            # problem id, unique within the batch, in order of arising
        "run": (np.int32, 0),            # the run of a batch the problem belongs to
        "res": (np.int64, 0),            # the resident (batch-wide index)
        "cat": (np.int16, 0),            # category
        "cause": (np.int64, -1),         # shared cause (batch-wide index), -1: its own
        "born": (np.float64, 0.0),       # when it arose (days)
        "sev0": (np.float32, 0.0),       # severity when it arose
        "status": (np.int8, 0),
        "report_time": (np.float64, np.inf),   # when the resident reports it (inf: never)
        "channel": (np.int8, Channel.NONE),    # how it reached the centre
        "disc_clock": (np.float64, 0.0),       # Exp(1) clock: found by patrol when the hazard sum reaches it
        "disc_cum": (np.float64, 0.0),         # hazard of discovery accumulated so far
        "thresh": (np.float32, 1.0),           # its escalation threshold, relative to the scenario's
        "u_route": (np.float32, 0.0),          # routing uniform (misrouting)
        "u_fix": (np.float32, 0.0),            # whether the handling truly fixes it
        "u_settle": (np.float32, 0.0),         # whether a grid worker settles it on the spot
        "u_risk": (np.float32, 1.0),           # whether the risk model flags it when it is on course to escalate
        "primary": (np.int64, 0),              # responsible department team (batch-wide index)
        "second": (np.int64, -1),              # second department team of a multi-department case, -1: none
        "dept": (np.int64, -1),                # team it waits at or is served by (batch-wide index), -1: none yet
        "work": (np.float64, 0.0),             # work-hours its current visit needs
        "start_time": (np.float64, np.inf),    # when its current visit's service started
        "done_time": (np.float64, np.inf),     # when its current visit's service ends
        "server": (np.int32, -1),              # the handler serving it
        "stage": (np.int8, 0),                 # -1 misrouted, 0 at the primary, 1 at the second
        "detail": (np.float32, 1.0),           # share of the case's detail still known (信息递减)
        "file_time": (np.float64, np.inf),     # when it reaches (reached) the centre
        "avail_time": (np.float64, np.inf),    # when it reaches (reached) its department's queue
        "deadline": (np.float64, 0.0),         # days from filing
        "joint": (np.bool_, False),            # worked jointly by its departments (platform or whistle)
        "bounces": (np.int8, 0),               # times bounced back between departments
        "flagged": (np.bool_, False),          # flagged by the risk model and visited
        "closed_at": (np.float64, np.inf),     # when it finished
        "judgement": (np.float64, np.nan),     # its resident's satisfaction with how it was handled (0–1)
        "actor": (np.int8, -1),                # the non-government actor handling it, -1: none
        "reopens": (np.int16, 0),              # times it was closed and re-opened (repeat call, audit)
    }


class Causes(Columns):
    """Shared causes: one problem seen by several neighbours of a building (the basis of duplicate
    reports and of early warning)."""

    FIELDS = {
        "cat": (np.int16, 0),
        "building": (np.int64, 0),     # batch-wide building index
        "subdistrict": (np.int64, 0),  # batch-wide subdistrict of the building
        "fixed": (np.bool_, False),    # truly fixed: its further hits do not happen
        "filed": (np.int32, 0),        # its cases filed on the shared platform (for early warning)
        "master": (np.int64, -1),      # pid of the open case its duplicates merge into, -1: none
    }

    def of(self, cause: np.ndarray, column: np.ndarray, missing) -> np.ndarray:
        """`column[cause]` per problem, `missing` for a problem with no shared cause (cause -1)."""
        if column.size == 0:
            return np.full(cause.shape, missing, dtype=column.dtype)
        out = column[np.maximum(cause, 0)]
        out[cause < 0] = missing
        return out

    def among(self, causes: np.ndarray, cause: np.ndarray) -> np.ndarray:
        """Per problem: whether its cause is one of `causes` (a lookup table; -1 is never among)."""
        table = np.zeros(self.n + 1, dtype=bool)
        table[causes] = True
        return table[cause]


class Hits(Columns):
    """Scheduled further hits of shared causes: the neighbour a cause will reach, when, and the
    uniforms of the problem it will be (drawn when the cause arose)."""

    FIELDS = {
        "cause": (np.int64, 0),
        "time": (np.float64, 0.0),
        "res": (np.int64, 0),
        "u": (np.float64, 0.0),
    }

    def _shape(self, name: str) -> tuple:
        return (N_UNIFORMS,) if name == "u" else ()


class CategoryTable:
    """The problem categories as arrays (index = category), derived from the scenario."""

    def __init__(self, scenario, dept_names: list[str]):
        cats = scenario.demand.categories
        self.names = list(cats)
        share = np.array([c.share for c in cats.values()])
        self.prob = share / share.sum()
        self.severity = np.array([c.severity for c in cats.values()])
        self.deadline = np.array([c.deadline_days for c in cats.values()])
        self.settle_on_spot = np.array([c.settle_on_spot for c in cats.values()])
        self.community_settles = np.array([c.community_settles for c in cats.values()])
        self.primary = np.array([dept_names.index(c.departments[0]) for c in cats.values()], dtype=np.int64)
        self.service_hours = np.array([c.service_hours for c in cats.values()])
        self.service_cv = np.array([c.service_cv for c in cats.values()])
        self.service_kind = np.array([SERVICE_KINDS.index(c.service_distribution) for c in cats.values()])
        # second departments of multi-department problems by category (padded table), and how many each
        # has; a category with one department may need any other
        second = [[dept_names.index(d) for d in c.departments[1:]]
                  or [k for k in range(len(dept_names)) if k != self.primary[i]]
                  for i, c in enumerate(cats.values())]
        self.n_second = np.array([len(o) for o in second], dtype=np.int64)
        self.second_of = np.zeros((len(second), max(1, self.n_second.max())), dtype=np.int64)
        for i, o in enumerate(second):
            self.second_of[i, :len(o)] = o

    def work(self, cat: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Work-hours a visit to a case of category `cat` needs, from a uniform `u` (the quantile of the
        category's distribution of work: mean `service_hours`, coefficient of variation `service_cv`)."""
        mean, cv, kind = self.service_hours[cat], self.service_cv[cat], self.service_kind[cat]
        u = np.minimum(u, 1 - 1e-12)
        out = np.empty(cat.size)
        exp = kind == 0
        out[exp] = -mean[exp] * np.log1p(-u[exp])
        gam = (kind == 1) & (cv > 0)
        if gam.any():
            shape = 1.0 / cv[gam] ** 2
            out[gam] = special.gammaincinv(shape, u[gam]) * mean[gam] / shape
        logn = (kind == 2) & (cv > 0)
        if logn.any():
            s2 = np.log1p(cv[logn] ** 2)
            out[logn] = np.exp(np.log(mean[logn]) - s2 / 2 + np.sqrt(s2) * special.ndtri(u[logn]))
        fixed = (kind > 0) & (cv == 0)
        out[fixed] = mean[fixed]
        return out


SERVICE_KINDS = ("exponential", "gamma", "lognormal")
