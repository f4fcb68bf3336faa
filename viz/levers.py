"""The live controls of the page, derived from the scenario schema.

Every lever is a row of :func:`sim.scenario.param_table`: its kind picks the control (a switch for a
bool, a slider for a number), its bounds are the slider's ends, its unit and description label it,
and its current value is read from the running model. Nothing here repeats a default or a bound, so
the page and a plain run cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.scenario import LOCAL_PATHS, ParamInfo, Scenario, param_table, section_title_zh

# The sections a researcher moves while the model runs: policy levers and staffing.
LEVER_SECTIONS = ("policies.", "staffing.")


@dataclass(frozen=True)
class Lever:
    """One control: a schema parameter plus how the page groups and labels it."""

    info: ParamInfo
    group: str
    label: str
    unit_in_group: bool = False   # the group's title already states the unit
    group_zh: str = ""            # the group's Chinese title (from the declarations)

    @property
    def label_zh(self) -> str:
        """The Chinese label declared beside the parameter (a department lever: none of its own, the
        group title says what it is)."""
        return "" if self.unit_in_group else self.info.zh

    @property
    def path(self) -> str:
        return self.info.path

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def lower(self) -> float | None:
        return self.info.lower

    @property
    def upper(self) -> float | None:
        return self.info.upper

    @property
    def local(self) -> bool:
        """Whether the lever can differ between communities (a pilot)."""
        return self.path in LOCAL_PATHS

    @property
    def tooltip(self) -> str:
        bits = [self.info.description]
        if self.info.unit:
            bits.append(f"unit: {self.info.unit}")
        if self.info.numeric:
            bits.append(f"allowed {fmt(self.lower)} to {fmt(self.upper)}")
        return "; ".join(b for b in bits if b)

    def step(self, value: float | None = None) -> float:
        return slider_step(self.kind, self.lower, self.upper, value)

    def coerce(self, value):
        """A control's raw value as the parameter's type (sliders send floats, fields may send None)."""
        if self.kind == "bool":
            return bool(value)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("empty")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("not finite")
        if self.kind == "int":
            if not number.is_integer():
                raise ValueError("not a whole number")
            return int(number)
        return number


def _humanise(name: str) -> str:
    return name.replace("_", " ").replace("10k", "10,000").capitalize()


def lever_groups(scenario: Scenario) -> dict[str, list[Lever]]:
    """The levers of a scenario, grouped for the sidebar (order: policies, grid workers, departments)."""
    groups: dict[str, list[Lever]] = {}
    for info in param_table(scenario):
        if not info.path.startswith(LEVER_SECTIONS) or info.kind == "str":
            continue
        parts = info.path.split(".")
        if parts[0] == "policies":
            group, label, zh = "Policy levers", _humanise(parts[1]), section_title_zh("policies")
        elif parts[1] == "departments":
            dept, field = parts[2], parts[3]
            group = {"staff_per_10k": "Department staff per 10,000 residents",
                     "service_rate": "Department service rate (cases per staff-day)",
                     "joined": "Departments on the platform (in addition to the share joined)",
                     }.get(field, f"Departments: {field}")
            label = _humanise(dept)
            groups.setdefault(group, []).append(Lever(info, group, label, unit_in_group=True, group_zh=info.zh))
            continue
        else:
            group, label, zh = "Grid workers", _humanise(parts[1]), section_title_zh("staffing")
        groups.setdefault(group, []).append(Lever(info, group, label, group_zh=zh))
    # Policy levers first: they are what the page is for.
    order = ["Policy levers", "Grid workers"]
    return {k: groups[k] for k in order if k in groups} | {k: v for k, v in groups.items() if k not in order}


def levers(scenario: Scenario) -> list[Lever]:
    return [lv for group in lever_groups(scenario).values() for lv in group]


def slider_step(kind: str, lower: float | None, upper: float | None, value: float | None = None) -> float:
    """A step that gives a usable slider over [lower, upper] and hits the current value exactly.

    About a thousand positions over the range, refined (down to 1e-5 of the range) until the current
    value lies on a position, so a scenario's value such as 1.15 is not rounded away by the slider.
    """
    if kind == "int":
        return 1
    if lower is None or upper is None or upper <= lower:
        return 0.01
    span = upper - lower
    step = 10.0 ** math.floor(math.log10(span)) / 1000
    if value is not None:
        while step > span * 1e-5 and not _on_grid(value - lower, step):
            step /= 10
    return float(f"{step:.10g}")


def _on_grid(x: float, step: float) -> bool:
    k = round(x / step)
    return abs(k * step - x) <= 1e-9 * max(1.0, abs(x))


def fmt(value) -> str:
    """A compact number for labels (no trailing zeros, thousands separated)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.4g}"
