"""The Mesa agents: the per-agent faces of the agent sets, for inspection.

The model's rules act on whole agent sets at once (:mod:`sim.population`, :mod:`sim.services`,
:mod:`sim.cases`); a Mesa agent here reads and writes one member of a set, so Mesa's tools, the
interactive view and a notebook can look at a single resident, grid team or department. Grid teams and
departments of the first run are created with the model; a resident's agent is created on demand
(``model.resident(i)``), for any size of community.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.cases import CHANNEL_KEYS, Channel, Status
from sim.ledger import GRID_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import GovernanceModel


class Resident(mesa.Agent):
    """A resident (居民): meets problems, reports or stays silent, waits, judges the service, trusts."""

    def __init__(self, model: "GovernanceModel", index: int):
        super().__init__(model)
        self.index = int(index)

    @property
    def trust(self) -> float:
        return float(self.model.residents.trust[self.index])

    @trust.setter
    def trust(self, value: float) -> None:
        self.model.residents.trust[self.index] = value

    @property
    def satisfaction(self) -> float:
        return float(self.model.residents.satisfaction[self.index])

    @satisfaction.setter
    def satisfaction(self, value: float) -> None:
        self.model.residents.satisfaction[self.index] = value

    @property
    def aged_60plus(self) -> bool:
        return bool(self.model.residents.old[self.index])

    @property
    def grid(self) -> int:
        return int(self.model.residents.grid[self.index])

    @property
    def community(self) -> int:
        return int(self.model.residents.community[self.index])

    @property
    def building(self) -> int:
        return int(self.model.residents.building[self.index])

    def channels(self) -> list[str]:
        """The reporting channels this resident can use today."""
        m = self.model
        usable = m.residents.usable_channels(np.array([self.index]), m.params.channels,
                                             m.levers.at_residents("policies.app_first")[[self.index]],
                                             m.levers.at_residents("policies.elder_friendly")[[self.index]])[0]
        return [CHANNEL_KEYS[Channel(c)] for c in range(4) if usable[c]]

    def state(self) -> dict:
        """What the view shows on a click: open problems, waits, trust, satisfaction, channels."""
        m = self.model
        c = m.cases
        mine = (c.res == self.index).nonzero()[0]
        dept = m.departments.names
        return {
            "resident": self.index, "grid": self.grid, "building": self.building, "aged_60plus": self.aged_60plus,
            "trust": round(self.trust, 3), "satisfaction": round(self.satisfaction, 3), "channels": self.channels(),
            "open_cases": [{"category": m.categories.names[c.cat[k]], "status": Status(c.status[k]).name.lower(),
                            "days_open": round(m.day - float(c.born[k]), 1),
                            "channel": Channel(c.channel[k]).name.lower(),
                            "department": dept[c.dept[k] % len(dept)] if c.dept[k] >= 0 else None}
                           for k in mine],
        }


class GridWorker(mesa.Agent):
    """The grid workers (网格员) of one grid, as one agent: patrol, discover, mediate, file."""

    def __init__(self, model: "GovernanceModel", grid: int):
        super().__init__(model)
        self.grid = int(grid)

    @property
    def community(self) -> int:
        return int(self.model.grid_teams.community[self.grid])

    @property
    def workers(self) -> float:
        return float(self.model.grid_teams.workers[self.grid])

    def state(self) -> dict:
        m = self.model
        res, c, L = m.residents, m.cases, m.ledger
        sel = res.grid == self.grid
        mine = sel[c.res]
        return {
            "grid": self.grid, "community": self.community, "residents": int(sel.sum()), "grid_workers": self.workers,
            "open_cases": int(((c.status[mine] >= Status.FILED) & (c.status[mine] < Status.RESOLVED)).sum()),
            "unreported_problems": int((c.status[mine] <= Status.PENDING).sum()),
            "satisfaction": round(float(res.satisfaction[sel].mean()), 3), "trust": round(float(res.trust[sel].mean()), 3),
            "resolved": int(L.grid[self.grid, :, GRID_COLUMNS.index("resolved")].sum()),
            "escalated": int(L.grid[self.grid, :, GRID_COLUMNS.index("escalated")].sum()),
        }


class Department(mesa.Agent):
    """A line department (职能部门, a 条): owns its categories' cases, with finite capacity."""

    def __init__(self, model: "GovernanceModel", index: int):
        super().__init__(model)
        self.index = int(index)

    @property
    def name(self) -> str:
        return self.model.departments.names[self.index % self.model.departments.per_run]

    @property
    def joined(self) -> bool:
        return bool(self.model.departments.joined[self.index])

    @property
    def capacity(self) -> float:
        return float(self.model.departments.capacity[self.index])

    @property
    def queue_length(self) -> int:
        return int(self.model.queue_lengths()[self.index])

    def state(self) -> dict:
        return {"name": self.name, "joined": self.joined, "queue": self.queue_length,
                "capacity_per_day": round(self.capacity, 3)}
