from __future__ import annotations

import pytest

from sim.scenario import Scenario, build_scenario


def small_scenario(**sections) -> Scenario:
    """A small community (2 communities × 2 grids × 250 residents) for unit tests, plus overrides.

    Keyword arguments are section dicts, e.g. ``small_scenario(policies={"share_joined": 1.0})``.
    """
    data = {"population": {"communities_per_subdistrict": 2, "grids_per_community": 2, "residents_per_grid": 250},
            "run": {"steps": 120, "replications": 2}}
    for key, value in sections.items():
        data.setdefault(key, {})
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    return build_scenario(data)


@pytest.fixture
def small():
    return small_scenario
