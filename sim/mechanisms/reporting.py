"""Reporting: residents report a problem through a channel they can use, or stay silent.

When a problem arises its resident decides at once (:meth:`Reporting.decide`) whether to report it
(silence is likelier when trust is low), through which channel (by preference among the channels the
resident can use: the elderly and the less literate can use fewer; app-first reporting closes the
hotline and the window; elder-friendly service opens assisted reporting for residents aged 60+) and
after what delay. The phase then files every report that is due: the case reaches the centre after
the channel's filing delay, with the share of the detail the channel captures.
"""

from __future__ import annotations

import numpy as np

from sim.cases import CHANNEL_KEYS, Channel, Status, U_CHANNEL, U_DELAY, U_WILLING
from sim.mechanisms.base import Mechanism


class Reporting(Mechanism):
    name = "reporting"

    def derive(self) -> None:
        model = self.model
        ch = model.params.channels
        res = model.residents
        lv = model.levers
        everyone = np.arange(res.n)
        usable = res.usable_channels(everyone, ch, lv.at_residents("policies.app_first"),
                                     lv.at_residents("policies.elder_friendly"))
        # A resident's options change only with the levers. Each resident's options are coded as
        # (aged 60+, usable channels) in 5 bits; per code, the cumulative preference weights of the
        # channels (zero weight where unusable) are looked up for each new problem.
        self.code = ((res.old.astype(np.int8) << 4) | (usable.astype(np.int8) @ np.array([1, 2, 4, 8], np.int8))).astype(np.int8)
        codes = np.arange(32)
        bits = (codes[:, None] >> np.arange(4)) & 1
        self.cum_weights = np.cumsum(res.channel_weights(ch, codes >= 16) * bits, axis=1)
        delay = np.zeros(len(Channel))   # by channel code; index -1 (no channel) is the last entry
        detail = np.ones(len(Channel))
        for c, key in CHANNEL_KEYS.items():
            delay[c] = getattr(ch, key).filing_delay_days
            detail[c] = getattr(ch, key).detail
        self.filing_delay, self.detail = delay, detail
        self.elder_priority = lv.at_residents("policies.elder_friendly") & res.old

    def decide(self, rows: np.ndarray, u: np.ndarray) -> None:
        """The residents of new problems `rows` decide whether, how and when to report them (`u`: the
        problems' uniforms)."""
        model = self.model
        cases, d = model.cases, model.params.demand
        res = cases.res[rows]
        willing = model.residents.willing_to_report(res, u[:, U_WILLING], d.report_propensity, d.report_trust_slope)
        cum = self.cum_weights[self.code[res]]
        total = cum[:, -1]
        pick = (cum < (u[:, U_CHANNEL] * total)[:, None]).sum(axis=1)
        channel = np.where(total > 0, np.minimum(pick, 3), Channel.NONE)
        reports = willing & (channel >= 0)
        cases.status[rows] = np.where(reports, Status.PENDING, Status.SILENT)
        cases.report_time[rows] = np.where(reports, cases.born[rows] - d.report_delay_days * np.log1p(-u[:, U_DELAY]), np.inf)
        cases.channel[rows] = np.where(reports, channel, Channel.NONE)

    def step(self, t: int) -> None:
        model = self.model
        cases = model.cases
        due = ((cases.status == Status.PENDING) & (cases.report_time < t + 1)).nonzero()[0]
        if due.size == 0:
            return
        chan = cases.channel[due]
        delay = self.filing_delay[chan]
        hotline = chan == Channel.HOTLINE
        if self.elder_priority.any():   # a priority hotline for the elderly
            elder = self.elder_priority[cases.res[due]]
            delay = np.where(elder & hotline, model.params.channels.elder_hotline_delay_factor * delay, delay)
        run = cases.run[due]
        model.ledger.count("reports", run)
        model.ledger.count("hotline_reports", run[hotline])
        model.flow.file(due, cases.report_time[due] + delay, self.detail[chan])
