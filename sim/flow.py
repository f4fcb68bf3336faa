"""The case flow's transitions, shared by the mechanisms: a case is filed, leaves a queue, finishes,
or its common cause is fixed. Each is written here once."""

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

    def leave_queue(self, rows: np.ndarray, when: float) -> None:
        """Cases leave their department's queue at `when` (served, or closed while waiting)."""
        cases = self.model.cases
        self.model.ledger.queue_leave(cases.dept[rows], np.maximum(when - cases.avail_time[rows], 0.0))

    def close(self, rows: np.ndarray, status: Status, when: float) -> None:
        """Problems finish with `status` at `when`; their residents judge how they were served. The
        ledger books them at the end of the day (a problem that reached the centre is *known*)."""
        if rows.size == 0:
            return
        cases = self.model.cases
        waiting = rows[cases.status[rows] == Status.QUEUED]
        if waiting.size:
            self.leave_queue(waiting, when)
        cases.status[rows] = status
        cases.closed_at[rows] = when
        self.model.experience.judge(rows, status, when)

    def fix_causes(self, fixed: np.ndarray, when: float, *, on_platform: bool) -> None:
        """Common causes are fixed at `when`: their unreported problems are gone. Acted on through the
        shared platform (early warning), those problems count as found and their cases close too."""
        if fixed.size == 0:
            return
        model = self.model
        cases, causes = model.cases, model.causes
        causes.fixed[fixed] = True
        mine = causes.among(fixed, cases.cause)
        quiet = (mine & (cases.status <= Status.PENDING)).nonzero()[0]   # SILENT or PENDING
        if on_platform:
            cases.channel[quiet] = Channel.EARLY_WARNING
            model.ledger.count("warned", cases.run[quiet])
            cases.file_time[quiet] = when
            self.close(quiet, Status.RESOLVED, when)
            open_cases = (mine & (cases.status >= Status.FILED) & (cases.status <= Status.MERGED)).nonzero()[0]
            self.close(open_cases, Status.RESOLVED, when)
        else:
            self.close(quiet, Status.RESOLVED, when)
