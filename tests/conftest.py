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


def tiny_scenario(residents: int = 10, **sections) -> Scenario:
    """A hand-checkable community: one grid of `residents` residents, one department ("office") and one
    category ("dispute") owned by it; every section may be overridden as in `small_scenario`."""
    data = {
        "population": {"communities_per_subdistrict": 1, "grids_per_community": 1, "residents_per_grid": residents,
                       "households_per_building": 2, "household_size": 2.5},
        "network": {"neighbours": 2, "rewire": 0.0, "cross_grid_share": 0.0},
        "demand": {"categories": {"dispute": {"share": 1.0, "departments": ["office"], "severity": 0.5,
                                              "deadline_days": 7.0, "settle_on_spot": True}}},
        "staffing": {"departments": {"office": {"staff_per_10k": 1000.0}}},
        "run": {"steps": 30, "replications": 1},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, dict) and isinstance(data.get(key, {}).get(k), dict):
                    data[key][k] = {**data[key][k], **v}
                else:
                    data.setdefault(key, {})[k] = v
        else:
            data[key] = value
    return build_scenario(data)
