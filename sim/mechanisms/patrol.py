"""Patrol: grid workers find problems before anyone reports them (未诉先办) and settle small disputes
on the spot.

Each unreported problem carries an Exp(1) clock drawn when it arose; every day its grid's detection
hazard is added, and it is found when the sum reaches the clock (so a change of staffing changes when a
problem is found, not which draws it gets). A found dispute of a category that can be settled on the
spot is settled with the grid team's settle chance; other found problems are filed by the grid worker
with the detail of the grid-worker channel.
"""

from __future__ import annotations

import numpy as np

from sim.cases import Channel, Status
from sim.mechanisms.base import Mechanism


class Patrol(Mechanism):
    name = "patrol"

    def derive(self) -> None:
        teams, sc = self.model.grid_teams, self.model.params
        self.hazard = self.hazard_today()
        self.settle = teams.settle_chance(sc.routing)

    def hazard_today(self) -> np.ndarray:
        """Per grid: today's detection hazard, with the hours grid workers spent yesterday on visits to
        flagged problems (risk prediction) taken from their patrol."""
        teams, sc = self.model.grid_teams, self.model.params
        return teams.detection_hazard(sc.staffing.households_per_patrol_hour, sc.population.household_size, sc.routing,
                                      taken=teams.visit_hours)

    def step(self, t: int) -> None:
        model = self.model
        cases = model.cases
        teams = model.grid_teams
        hazard = self.hazard
        if teams.visit_hours.any():
            hazard = self.hazard_today()
            teams.visit_hours[:] = 0.0
        unknown = (cases.status <= Status.PENDING).nonzero()[0]   # SILENT or PENDING
        if unknown.size == 0:
            return
        grid = model.residents.grid[cases.res[unknown]]
        cum = cases.disc_cum[unknown] + hazard[grid]
        cases.disc_cum[unknown] = cum
        hit = cum >= cases.disc_clock[unknown]
        found = unknown[hit]
        if found.size == 0:
            return
        grid = grid[hit]
        model.ledger.count("discovered", cases.run[found])
        model.ledger.patrol_found(grid)
        cases.channel[found] = Channel.PATROL
        settle = model.categories.settle_on_spot[cases.cat[found]] & (cases.u_settle[found] < self.settle[grid])
        spot = found[settle]
        if spot.size:
            model.ledger.count("settled_on_spot", cases.run[spot])
            cases.file_time[spot] = t + 0.5   # found and settled in the middle of the day
            model.flow.close(spot, Status.RESOLVED, t + 0.5)
        gw = model.params.channels.grid_worker
        model.flow.file(found[~settle], t + gw.filing_delay_days + 0.5, gw.detail)
