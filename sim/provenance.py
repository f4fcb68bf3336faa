"""What is written beside every output so it can be reproduced: package versions, git commit, time, command.

One implementation for runs, comparisons, sweeps and benchmarks.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PACKAGES = ("govsim", "mesa", "numpy", "scipy", "pandas", "networkx", "pydantic", "pyarrow", "SALib", "dask",
            "distributed")


def versions() -> dict[str, str]:
    """Python, the platform and the version of every package govsim's results depend on (those installed)."""
    from importlib import metadata
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    """The commit of the source tree govsim runs from ("-dirty" with uncommitted changes), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def manifest(**extra: Any) -> dict:
    """What to write beside every output: versions, commit, time, command line, and the caller's fields."""
    return {"created": now(), "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
            "versions": versions(), "git_commit": git_commit(), **extra}


__all__ = ["versions", "git_commit", "now", "manifest"]
