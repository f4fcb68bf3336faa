"""The case flow's transitions, shared by the mechanisms: a case is filed, finishes, or its common cause
is fixed. Each is written here once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.cases import Channel, Status

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import GovernanceModel


class CaseFlow:
    def __init__(self, model: "GovernanceModel"):
        self.model = model

    def file(self, rows: np.ndarray, when, detail) -> None:
        """Cases reach the centre at `when` with the share `detail` of their detail."""
        if rows.size == 0:
            return
        cases = self.model.cases
        cases.status[rows] = Status.FILED
        cases.file_time[rows] = when
        cases.detail[rows] = detail
        self.model.ledger.count("filed", cases.run[rows])

    def close(self, rows: np.ndarray, status: Status, when) -> None:
        """Problems finish with `status` at `when` (one time, or one per row; never before a problem
        arose); their residents judge how they were served. A case waiting in a queue leaves it; a
        handler working on a case that ends early is freed. The ledger books the problems at the end of
        the day; a problem that reached the centre is *known*."""
        if rows.size == 0:
            return
        model = self.model
        cases = model.cases
        when = np.maximum(when, cases.born[rows])          # one time or one per row: an array per row
        st = cases.status[rows]
        waiting = st == Status.QUEUED
        if waiting.any():
            w = rows[waiting]
            model.ledger.queue_leave(cases.dept[w], np.maximum(when[waiting] - cases.avail_time[w], 0.0))
        early = (st == Status.SERVING) & (cases.done_time[rows] > when)   # ended before its visit's work was done
        if early.any():
            s = rows[early]
            unspent = model.departments.release(cases.dept[s], cases.server[s], cases.done_time[s], when[early])
            model.ledger.other_work(cases.dept[s], -unspent)
        cases.status[rows] = status
        cases.closed_at[rows] = when
        model.experience.judge(rows, status, when)

    def fix_causes(self, fixed: np.ndarray, when, *, on_platform: bool) -> None:
        """Common causes are fixed at `when` (one time, or one per cause): their unreported problems are
        gone. Acted on through the shared platform (early warning), those problems count as found and
        the cases of the causes close too."""
        if fixed.size == 0:
            return
        model = self.model
        cases, causes = model.cases, model.causes
        causes.fixed[fixed] = True
        at = np.zeros(causes.n + 1)
        at[fixed] = when
        mine = causes.among(fixed, cases.cause)
        quiet = (mine & (cases.status <= Status.PENDING)).nonzero()[0]   # SILENT or PENDING
        if on_platform:
            cases.channel[quiet] = Channel.EARLY_WARNING
            model.ledger.count("warned", cases.run[quiet])
            cases.file_time[quiet] = np.maximum(at[cases.cause[quiet]], cases.born[quiet])
            self.close(quiet, Status.RESOLVED, at[cases.cause[quiet]])
            open_cases = (mine & (cases.status >= Status.FILED) & (cases.status < Status.RESOLVED)).nonzero()[0]
            self.close(open_cases, Status.RESOLVED, at[cases.cause[open_cases]])
        else:
            self.close(quiet, Status.RESOLVED, at[cases.cause[quiet]])
