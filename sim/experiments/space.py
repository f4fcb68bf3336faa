"""The parameter space: what an experiment varies, and how a unit-cube coordinate becomes a value.

Samplers (``designs.py``) work in the unit hypercube [0, 1]^k; a :class:`Factor` maps a coordinate
``u`` to a parameter value:

* a factor with ``levels`` takes one of them with equal probability (``u`` is cut into equal bins);
  booleans are the levels ``[false, true]``, so in a sampled design a boolean is a 0/1 uniform
  thresholded at 0.5;
* a numeric factor is drawn from ``dist`` over ``[lower, upper]`` (uniform, log-uniform, or triangular
  with its peak at the base value);
* an integer factor, or one with a ``step``, takes values on the grid ``lower, lower + step, ...``;
  with the uniform distribution every grid value is equally likely (so the end points are not
  under-weighted as they would be by rounding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Factor:
    path: str
    kind: str  # "int", "float", "bool", "str" (as in sim.scenario.ParamInfo)
    lower: float | None = None
    upper: float | None = None
    levels: tuple | None = None
    dist: str = "uniform"
    step: float | None = None
    default: Any = None
    unit: str = ""

    @property
    def discrete(self) -> bool:
        return self.levels is not None

    def grid(self) -> np.ndarray | None:
        """The admissible values of an integer or stepped factor, else None."""
        step = self.step if self.step is not None else (1 if self.kind == "int" else None)
        if step is None or self.levels is not None:
            return None
        k = int(math.floor((self.upper - self.lower) / step + 1e-9))
        return self.lower + step * np.arange(k + 1)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Values for unit-cube coordinates ``u`` (a 1-D array)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.levels is not None:
            idx = np.minimum(np.floor(u * len(self.levels)).astype(int), len(self.levels) - 1)
            return self._typed(np.array(self.levels, dtype=object)[idx])
        lo, hi = float(self.lower), float(self.upper)
        grid = self.grid()
        if self.dist == "uniform":
            if grid is not None:
                idx = np.minimum(np.floor(u * len(grid)).astype(int), len(grid) - 1)
                return self._typed(grid[idx])
            return lo + u * (hi - lo)
        if self.dist == "loguniform":
            x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        elif self.dist == "triangular":
            from scipy.stats import triang
            mode = min(max(float(self.default), lo), hi)
            x = triang.ppf(u, c=(mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
        else:  # validated when the experiment is loaded
            raise ValueError(f"unknown distribution {self.dist!r}")
        if grid is not None:
            idx = np.clip(np.round((x - lo) / (grid[1] - grid[0] if len(grid) > 1 else 1)), 0, len(grid) - 1)
            x = grid[idx.astype(int)]
        return self._typed(x)

    def _typed(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "int":
            return np.round(np.asarray(values, dtype=float)).astype(np.int64)
        if self.kind == "float":
            return np.asarray(values, dtype=float)
        if self.kind == "bool":
            return np.asarray(values, dtype=bool)
        return np.asarray(values, dtype=object)

    def describe(self) -> str:
        if self.levels is not None:
            return "levels " + ", ".join(_fmt(v) for v in self.levels)
        text = f"{self.dist} {_fmt(self.lower)} to {_fmt(self.upper)}"
        if self.step is not None:
            text += f" step {_fmt(self.step)}"
        return text + (f" {self.unit}" if self.unit else "")

    def to_dict(self) -> dict:
        """The factor as it would be written in an experiment file (fully resolved)."""
        if self.levels is not None:
            return {"levels": [_plain(v) for v in self.levels]}
        out: dict[str, Any] = {"bounds": [_plain(self.lower), _plain(self.upper)]}
        if self.dist != "uniform":
            out["dist"] = self.dist
        if self.step is not None:
            out["step"] = _plain(self.step)
        return out


def _plain(v):
    """A Python scalar (YAML and JSON cannot hold numpy types)."""
    return v.item() if isinstance(v, np.generic) else v


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v).lower() if isinstance(v, bool) else str(v)


def plain_values(row: dict) -> dict:
    return {k: _plain(v) for k, v in row.items()}
