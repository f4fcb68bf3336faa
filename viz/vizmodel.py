"""The model as the page drives it.

``VizModel`` is a thin subclass of :class:`sim.model.GovernanceModel` whose constructor takes
keyword-only primitives (a scenario file, a seed, a community size), so SolaraViz's Reset,
``type(model)(**params)``, rebuilds it. It adds what an interactive run needs and a batch run does not:

- lever changes made between days (``change``), serialised with stepping by a lock, since SolaraViz
  plays the model in a worker thread while the browser's events arrive on another;
- a hook the page sets (``before_step``) so that playing never runs ahead of what the page can draw;
- a counterfactual twin: the unchanged scenario with the same seed, stepped in lockstep, so that with
  the model's common random numbers a difference between the two is the effect of the changes;
- a notice instead of an exception when a Reset is asked for with a bad seed or scenario (SolaraViz's
  Reset button has nowhere to show an exception).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sim.cases import Status
from sim.model import GovernanceModel
from sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, check_path, load_scenario, shipped_scenarios

DEFAULT_SCENARIO = "baseline.yaml"
AS_IN_FILE = "as in the scenario"
# Choices of the community-size picker (residents per grid); all within the schema's bounds, which
# load_scenario checks again. Small sizes give the network view, large ones the grid map.
SIZE_CHOICES = (AS_IN_FILE, "50", "150", "250", "500", "1000", "2000", "5000")
NETWORK_MAX_RESIDENTS = 2_000   # above this the page draws the grid map, never the network


def scenario_label(path: str | Path) -> str:
    """How the scenario picker names a file: a shipped file by its name, any other by its path."""
    p = Path(path)
    if p.parent.resolve() == SCENARIO_DIR.resolve() and p.name in shipped_scenarios():
        return p.name
    return str(p)


def scenario_choices(current: str | Path | None = None) -> list[str]:
    """The shipped scenarios, plus the file the page was started with when it is not one of them."""
    names = shipped_scenarios()
    if current is not None:
        label = scenario_label(current)
        if label not in names:
            names = [label, *names]
    return names


def load_for_view(scenario_file: str | Path, residents_per_grid: str | int | None = None) -> Scenario:
    """Load a scenario (name of a shipped file or a path), optionally resized. Raises ScenarioError."""
    overrides = {}
    if residents_per_grid not in (None, "", AS_IN_FILE):
        try:
            overrides["population.residents_per_grid"] = int(residents_per_grid)
        except (TypeError, ValueError):
            raise ScenarioError(f"residents per grid must be a whole number, got {residents_per_grid!r}") from None
    return load_scenario(scenario_file, overrides)


def parse_seed(seed, scenario: Scenario) -> int:
    """The seed typed in the page: blank means the scenario's own ``run.seed``."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return scenario.run.seed
    info = check_path("run.seed")
    try:
        value = int(str(seed).strip())
    except ValueError:
        raise ScenarioError(f"seed must be a whole number, got {seed!r}") from None
    if not info.lower <= value <= info.upper:
        raise ScenarioError(f"seed {value} is out of range (allowed {info.lower} to {info.upper})")
    return value


class VizModel(GovernanceModel):
    """GovernanceModel with the page's needs (see the module docstring).

    Args:
        scenario_file: a shipped scenario's file name or a path to a scenario file.
        seed: root seed; blank or None means the scenario's ``run.seed``.
        residents_per_grid: "as in the scenario" or a number of residents per grid.
    """

    def __init__(self, *, scenario_file: str = DEFAULT_SCENARIO, seed: int | str | None = None,
                 residents_per_grid: str | int = AS_IN_FILE):
        notices = []
        try:
            scenario = load_for_view(scenario_file, residents_per_grid)
        except ScenarioError as e:
            # Reset with a bad choice: keep the page alive on the default and say why.
            notices.append(f"{e}\n(showing {DEFAULT_SCENARIO} instead)")
            scenario_file = DEFAULT_SCENARIO
            scenario = load_for_view(DEFAULT_SCENARIO)
        try:
            root_seed = parse_seed(seed, scenario)
        except ScenarioError as e:
            notices.append(f"{e} (using the scenario's seed {scenario.run.seed})")
            root_seed = scenario.run.seed
        super().__init__(scenario, seed=root_seed)
        self.scenario_file = str(scenario_file)
        self.notices: list[str] = notices
        self.lock = threading.RLock()
        self.twin: GovernanceModel | None = None
        # Set by the page: waits until the previous day is drawn before the next one is computed.
        self.before_step: Callable[[], None] | None = None

    # ----------------------------------------------------------------------------------------------
    # The page reads the one run of this model through these names.
    @property
    def n_grids(self) -> int:
        return self.layout.n_grids

    @property
    def n_communities(self) -> int:
        return self.layout.n_communities

    @property
    def grid_of(self) -> np.ndarray:
        return self.residents.grid

    @property
    def old(self) -> np.ndarray:
        return self.residents.old

    @property
    def satisfaction(self) -> np.ndarray:
        return self.residents.satisfaction

    @property
    def trust(self) -> np.ndarray:
        return self.residents.trust

    @property
    def adjacency(self):
        return self.residents.adjacency

    @property
    def dept_names(self) -> list[str]:
        return self.departments.names

    @property
    def local(self) -> dict[str, np.ndarray]:
        return self.levers.local

    @property
    def network_view_possible(self) -> bool:
        return self.n_residents <= NETWORK_MAX_RESIDENTS

    def step(self):
        """One day of the model, and of the counterfactual twin when one is running."""
        if self.before_step is not None:
            self.before_step()
        with self.lock:
            super().step()
            if self.twin is not None:
                self.twin.step()

    def change(self, changes: dict, communities: list[int] | None = None, label: str = "") -> None:
        """Change levers from the next day on (between two steps, never during one)."""
        with self.lock:
            self.apply_change(changes, communities, label)

    def set_counterfactual(self, on: bool) -> None:
        """Start (caught up to today) or drop the twin running the unchanged scenario, same seed."""
        with self.lock:
            if not on:
                self.twin = None
                return
            if self.twin is None:
                twin = GovernanceModel(self.base_scenario, seed=self.seed)
                for _ in range(self.day):
                    twin.step()
                self.twin = twin

    # ----------------------------------------------------------------------------------------------
    # Reading the state for the page (under the lock, so a drawing never sees half a day)
    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The daily series of this run and of the twin (None without one)."""
        with self.lock:
            return self.daily_frame(), (self.twin.daily_frame() if self.twin is not None else None)

    def change_marks(self) -> list[tuple[int, str]]:
        """Changes grouped by day, latest value per parameter: (day, label) for chart markers."""
        with self.lock:
            log = list(self.changes_log)
        by_day: dict[int, dict[str, str]] = {}
        for entry in log:
            labels = by_day.setdefault(entry["day"], {})
            comms = entry["communities"]
            where = "" if comms is None else \
                f" in communit{'y' if len(comms) == 1 else 'ies'} {', '.join(map(str, comms))}"
            label = entry["label"]
            if "=" not in label:   # a change named in the scenario file
                labels[label] = label
                continue
            for part in label.split(", "):   # path=value, ...: the latest value per parameter
                labels[part.split("=")[0] + where] = part + where
        return [(day, "; ".join(labels.values())) for day, labels in sorted(by_day.items())]

    def grid_values(self, kind: str) -> np.ndarray:
        """Per grid: 'backlog' (open cases at the centre or a department), 'satisfaction' or 'trust'."""
        with self.lock:
            if kind == "backlog":
                st = self.cases.status
                res = self.cases.res
                open_ = (st >= Status.FILED) & (st < Status.RESOLVED)
                return np.bincount(self.grid_of[res[open_]], minlength=self.n_grids).astype(float)
            values = {"satisfaction": self.satisfaction, "trust": self.trust}[kind]
            return np.bincount(self.grid_of, weights=values, minlength=self.n_grids) / \
                np.bincount(self.grid_of, minlength=self.n_grids)

    def open_case_residents(self) -> tuple[np.ndarray, np.ndarray]:
        """Residents with an open case (reported or found) and with a problem still unreported."""
        with self.lock:
            st = self.cases.status
            res = self.cases.res
            filed = np.unique(res[(st >= Status.FILED) & (st < Status.RESOLVED)])
            silent = np.unique(res[st <= Status.PENDING])
            return filed, silent

    def grid_info(self, grid: int) -> dict:
        with self.lock:
            return next(a for a in self.grid_workers if a.grid == int(grid)).state()

    def resident_info(self, i: int) -> dict:
        with self.lock:
            return self.resident(int(i)).state()
