"""The one error type of the experiments package."""

from __future__ import annotations

import difflib


class ExperimentError(ValueError):
    """Bad experiment input or a sweep directory that cannot be used: the message says what to change.

    The CLI prints the message alone on stderr and exits with code 2.
    """


def closest(word: str, choices, cutoff: float = 0.5) -> str | None:
    hits = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return hits[0] if hits else None


def did_you_mean(word: str, choices) -> str:
    hint = closest(word, choices)
    return f"; did you mean '{hint}'?" if hint else ""
