"""The one error type of the experiments package (and govsim's one "did you mean" helper, re-exported)."""

from __future__ import annotations

from sim.scenario import closest, did_you_mean  # noqa: F401


class ExperimentError(ValueError):
    """Bad experiment input or a sweep directory that cannot be used: the message says what to change.

    The CLI prints the message alone on stderr and exits with code 2.
    """
