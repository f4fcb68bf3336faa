"""The model as the page drives it.

``VizModel`` is a thin subclass of :class:`sim.model.GovernanceModel` whose constructor takes
keyword-only primitives (a scenario file, a seed, a district size), so the page's Reset rebuilds it
from what the researcher typed. It adds what an interactive run needs and a batch run does not:

- lever changes made between days (``change``), serialised with stepping by a lock, since the page
  plays the model in a worker thread while the browser's events arrive on another;
- a counterfactual twin: the unchanged scenario with the same seed, stepped in lockstep, so that with
  the model's common random numbers a difference between the two is the effect of the changes;
- a notice instead of an exception when a Reset is asked for with a bad seed or scenario.

It reads the model through its public names only (``daily_frame``, ``grid_frame``,
``community_frame``, ``summary``, ``changes_log``, the Mesa agents' ``state()``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from sim.model import GovernanceModel
from sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, check_path, load_scenario, shipped_scenarios

DEFAULT_SCENARIO = "baseline.yaml"
AS_IN_FILE = "as in the scenario"
# Choices of the district-size picker (residents in all); see `sized`.
SIZE_CHOICES = (AS_IN_FILE, "2000", "8000", "20000", "40000", "100000")


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


def load_for_view(scenario_file: str | Path, residents: str | int | None = None) -> Scenario:
    """Load a scenario (name of a shipped file or a path), optionally resized to about `residents`
    residents in all. Raises ScenarioError."""
    scenario = load_scenario(scenario_file)
    if residents in (None, "", AS_IN_FILE):
        return scenario
    try:
        total = int(str(residents).replace(",", ""))
    except (TypeError, ValueError):
        raise ScenarioError(f"residents must be a whole number, got {residents!r}") from None
    return load_scenario(scenario_file, sized(scenario, total))


def sized(scenario: Scenario, total: int) -> dict:
    """Overrides that give about `total` residents: a larger district has more communities (so more
    grids on the map), each grid keeping the scenario's residents per grid; a smaller one keeps its
    communities and has fewer residents per grid. A scenario that lists its communities keeps them."""
    pop = scenario.population
    per_grid = pop.residents_per_grid
    communities = pop.communities_per_subdistrict
    if not pop.communities:
        upper = check_path("population.communities_per_subdistrict").upper
        wanted = round(total / (per_grid * pop.grids_per_community * pop.subdistricts))
        communities = int(min(upper, max(communities, wanted)))
    grids = pop.subdistricts * communities * pop.grids_per_community
    info = check_path("population.residents_per_grid")
    per_grid = int(min(info.upper, max(info.lower, round(total / grids))))
    out = {"population.residents_per_grid": per_grid}
    if communities != pop.communities_per_subdistrict:
        out["population.communities_per_subdistrict"] = communities
    return out


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
        residents: "as in the scenario" or about how many residents in all (see :func:`sized`).
    """

    def __init__(self, *, scenario_file: str = DEFAULT_SCENARIO, seed: int | str | None = None,
                 residents: str | int = AS_IN_FILE):
        notices = []
        try:
            scenario = load_for_view(scenario_file, residents)
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
        kinds = scenario.population.community_kinds
        self.kind_descriptions = {name: kind.description for name, kind in kinds.items()}

    def step(self):
        """One day of the model, and of the counterfactual twin when one is running."""
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
                twin.run_for(self.day)
                self.twin = twin

    # ----------------------------------------------------------------------------------------------
    # Reading the state for the page (under the lock, so a drawing never sees half a day)
    def _state_key(self) -> tuple:
        """What the readings below depend on: the day, the changes made, the twin."""
        return (self.day, len(self.changes_log), id(self.twin))

    def _cached(self, name: str, read):
        """A reading of the state, computed once per state (several components draw from one)."""
        with self.lock:
            key = (name, self._state_key())
            cache = self.__dict__.setdefault("_readings", {})
            if key not in cache:
                if len(cache) > 16:
                    cache.clear()
                cache[key] = read()
            return cache[key]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The daily series of this run and of the twin (None without one)."""
        return self._cached("frames", lambda: (
            self.daily_frame(), self.twin.daily_frame() if self.twin is not None else None))

    def summaries_now(self) -> tuple[dict, dict | None]:
        """The 4E indicators so far, of this run and of the twin (None without one)."""
        return self._cached("summaries", lambda: (
            self.summary(), self.twin.summary() if self.twin is not None else None))

    def district(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per-grid and per-community figures (the communities with their kind's description)."""
        def read():
            grids, comms = self.grid_frame(), self.community_frame()
            comms["kind_description"] = [self.kind_descriptions.get(k, "") for k in comms["kind"]]
            return grids, comms
        return self._cached("district", read)

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

    def grid_info(self, grid: int) -> dict:
        with self.lock:
            return self.grid_workers[int(grid)].state()

    def resident_info(self, i: int) -> dict:
        with self.lock:
            return self.resident(int(i)).state()
