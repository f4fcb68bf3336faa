"""Enough replications: run more until the 95% intervals of key indicators are as narrow as asked.

``govsim run --precision median_days=0.25`` asks for a half-width of at most 0.25 days for the mean
of the median time; ``govsim compare --precision gap_days_60plus=0.5`` asks it of every scenario's
paired difference from the base; ``metric=2%`` states the target as a share of the base mean. Runs
are added in batches until every target is met or ``--max-replications`` is reached. Replication k
always has the seed ``replication_seed(root, k)``, so stopping at N gives exactly the results of a
plain run with N replications: the stopping rule changes how many, never which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.verdicts import Practical, _t_stats

MIN_REPLICATIONS = 3  # a half-width from two runs is itself too noisy to stop on


@dataclass
class PrecisionReport:
    """How many replications were run, and the half-width reached per indicator (worst scenario)."""
    replications: int
    cap: int
    targets: dict[str, float]
    reached: dict[str, float] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return all(self.reached.get(k, np.inf) <= v for k, v in self.targets.items())

    def lines(self) -> list[str]:
        head = (f"--precision: {self.replications} replications "
                + ("met every target" if self.met else f"reached the cap of {self.cap} before every target was met"))
        rows = [f"  {k}: half-width {self.reached.get(k, float('nan')):.3g} (target {v:.3g})"
                + ("" if self.reached.get(k, np.inf) <= v else "  NOT MET") for k, v in self.targets.items()]
        return [head, *rows]

    def to_dict(self) -> dict:
        return {"replications": self.replications, "cap": self.cap, "met": self.met,
                "targets": self.targets, "half_widths": self.reached}


def half_width(values: np.ndarray) -> float:
    _, lo, hi, _ = _t_stats(np.asarray(values, dtype=float))
    return (hi - lo) / 2 if np.isfinite(lo) else float("inf")


def half_widths(summaries: Mapping[str, pd.DataFrame], metrics, base: str | None) -> dict[str, float]:
    """Per metric, the widest half-width: of the mean of each scenario (no base), or of each
    scenario's paired difference from the base."""
    out = {}
    for m in metrics:
        widths = []
        for name, frame in summaries.items():
            if base is None:
                widths.append(half_width(frame[m].to_numpy(dtype=float)))
            elif name != base:
                merged = summaries[base][["replication", m]].merge(frame[["replication", m]], on="replication")
                widths.append(half_width(merged[f"{m}_y"].to_numpy(dtype=float) - merged[f"{m}_x"].to_numpy(dtype=float)))
        out[m] = max(widths) if widths else float("inf")
    return out


def absolute_targets(targets: Mapping[str, Practical], base_frame: pd.DataFrame) -> dict[str, float]:
    return {m: t.absolute(float(np.nanmean(base_frame[m].to_numpy(dtype=float)))) for m, t in targets.items()}


def next_batch(n: int, widths: Mapping[str, float], targets: Mapping[str, float], cap: int) -> int:
    """How many replications to add: the t-interval shrinks as 1/√n, so aim at the n the worst
    indicator needs, but at most double at a time (the estimate of the spread is itself noisy)."""
    need = n
    for m, target in targets.items():
        w = widths.get(m, np.inf)
        if w > target:
            need = max(need, int(np.ceil(n * (w / max(target, 1e-12)) ** 2)) if np.isfinite(w) else 2 * n)
    return int(min(cap - n, max(2, min(need - n, n))))


def run_until_precise(run_more: Callable[[int, int], Mapping[str, list]], targets: Mapping[str, Practical],
                      start: int, cap: int, base: str | None) -> tuple[dict[str, list], PrecisionReport]:
    """`run_more(first, count)` runs replications first..first+count−1 of every scenario and returns
    their results (:class:`sim.runner.RunResult`) by scenario; batches are appended until every target
    is met or `cap` is reached."""
    from sim.runner import summary_frame
    n = min(max(start, MIN_REPLICATIONS), cap)
    results = {k: list(v) for k, v in run_more(0, n).items()}
    while True:
        summaries = {k: summary_frame(v, k) for k, v in results.items()}
        ref = summaries[base] if base is not None else next(iter(summaries.values()))
        absolute = absolute_targets(targets, ref)
        report = PrecisionReport(n, cap, absolute, half_widths(summaries, list(targets), base))
        if report.met or n >= cap:
            return results, report
        add = next_batch(n, report.reached, absolute, cap)
        for k, v in run_more(n, add).items():
            results[k].extend(v)
        n += add
