"""What every mechanism module has: its parameters, its random stream, its derived quantities, a step.

A mechanism is one phase of the day (see :meth:`sim.model.GovernanceModel.step` for their order). It
reads the current parameters from ``model.params``, draws from its own random stream (one per run of
the batch: ``self.rngs[r]``), keeps the quantities it derives from the parameters up to date in
:meth:`derive` (called when the model is built and after every change of parameters, and only then),
and acts on the agent sets in :meth:`step`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import GovernanceModel


class Mechanism:
    name: str = ""               # the phase's name in GovernanceModel.step
    stream: str | None = None    # the name of its random stream

    def __init__(self, model: "GovernanceModel"):
        self.model = model
        self.rngs = [streams[self.stream] for streams in model.streams] if self.stream else []

    def derive(self) -> None:
        """Recompute the quantities this mechanism derives from the parameters."""

    def step(self, t: int) -> None:
        raise NotImplementedError

    def per_run(self, runs: np.ndarray, draw: Callable[[np.random.Generator, int], np.ndarray],
                width: int | None = None) -> np.ndarray:
        """One draw per entry of `runs` (the run of each entry): run r's entries get, in their order,
        ``draw(rngs[r], count)`` from run r's own stream, so a run draws the same alone or in a batch.
        With `width`, each draw is a row of that many values."""
        if len(self.rngs) == 1:
            return draw(self.rngs[0], runs.size)
        # the draws made run by run, then put in place: entries sorted by run (stable, so each run's
        # entries keep their order) receive the concatenated draws
        counts = np.bincount(runs, minlength=len(self.rngs))
        drawn = [draw(rng, int(k)) for rng, k in zip(self.rngs, counts) if k]
        out = np.empty(runs.size if width is None else (runs.size, width))
        if drawn:
            out[np.argsort(runs, kind="stable")] = np.concatenate(drawn)
        return out
