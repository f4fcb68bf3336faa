"""Where outputs go, and the rules that keep govsim from touching files it did not write.

Every directory govsim writes carries a manifest listing the files it wrote (``"files"``, paths relative
to the directory). govsim deletes or replaces only files on that list; a directory holding anything else
is refused, or left in place with only govsim's own files removed. A replaced directory is swapped in
with one atomic ``renameat2(RENAME_EXCHANGE)`` where the system has it, so at every instant either the
old or the new complete directory carries the name.

This module knows nothing of runs or sweeps: it is about paths and files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import uuid
from pathlib import Path

OUTPUT_ROOT = Path("runs")  # the default root of every command's output (runs, comparisons, experiments)
EXPERIMENTS_DIR = OUTPUT_ROOT / "experiments"
MANIFEST = "manifest.json"
FILES_KEY = "files"  # the manifest's list of the files govsim wrote
PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)-[0-9a-f]+$")


class UnsafePathError(Exception):
    """A path govsim must not write to or delete; the message says why and what to do."""


def user_path(path: str | os.PathLike | None) -> Path | None:
    """A path given by the user, with ``~`` expanded (a shell does not expand a quoted '~/x')."""
    return None if path is None else Path(os.path.expanduser(os.fspath(path)))


def dir_name(name: str, default: str = "output") -> str:
    """A name made safe for one directory level: no separators, no '..', no leading dot or '~'."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._-")
    return safe[:100] or default


# --------------------------------------------------------------------------------------------------
# The list of govsim's own files

def own_files(directory: Path) -> list[str] | None:
    """The files govsim lists as its own in `directory`'s manifest, or None if there is no such list."""
    try:
        data = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get(FILES_KEY) if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return [f for f in files if _inside(f)]


def _inside(rel: str) -> bool:
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and rel not in ("", ".")


def files_below(directory: Path) -> list[str]:
    """Every file below `directory`, as sorted relative POSIX paths."""
    directory = Path(directory)
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if not p.is_dir())


def foreign_files(directory: Path, also_own: tuple[str, ...] = ()) -> list[str]:
    """Files in `directory` that its manifest does not list (the manifest itself is govsim's)."""
    own = set(own_files(directory) or ()) | {MANIFEST, *also_own}
    return [f for f in files_below(directory) if f not in own]


def remove_own_files(directory: Path, files: list[str] | None = None) -> list[str]:
    """Delete the files govsim listed (or `files`), then the folders left empty; return what is left."""
    directory = Path(directory)
    listed = own_files(directory) if files is None else files
    for rel in [*(listed or ()), MANIFEST]:
        if _inside(rel):
            try:
                (directory / rel).unlink()
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                pass
    for d in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            d.rmdir()
        except OSError:
            pass
    left = files_below(directory) if directory.exists() else []
    if not left:
        try:
            directory.rmdir()
        except OSError:
            pass
    return left


def free_name(path: Path) -> Path:
    """`path` if nothing has that name, else the first of path-2, path-3, ... that is free."""
    cand, k = path, 2
    while cand.exists():
        cand, k = path.with_name(f"{path.name}-{k}"), k + 1
    return cand


def describe_files(files: list[str], most: int = 5) -> str:
    shown = ", ".join(f"'{f}'" for f in files[:most])
    return shown + (f" and {len(files) - most} more" if len(files) > most else "")


# --------------------------------------------------------------------------------------------------
# Writing safely

CSV_ENCODING = "utf-8-sig"  # with a byte-order mark: Excel (Chinese Windows included) then reads UTF-8
CSV_FLOAT_FORMAT = "%.10g"  # ten significant digits: exact values are in the Parquet file beside it


def csv_text(frame) -> str:
    """A table as CSV for a spreadsheet: whole-number columns as integers, floats to 10 significant digits."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype.kind == "f":
            finite = s.dropna()
            if len(finite) and (finite == finite.round()).all() and finite.abs().max() < 2**53:
                out[col] = s.astype("Int64")
    return out.to_csv(index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")


def write_csv(frame, path: Path) -> None:
    Path(path).write_text(csv_text(frame), encoding=CSV_ENCODING)


def check_writable(path: Path) -> None:
    """Refuse now, before a long simulation, a directory that could not be created or written to."""
    path = Path(path)
    probe_dir = path if path.is_dir() else path.parent
    try:
        probe_dir.mkdir(parents=True, exist_ok=True)
        probe = probe_dir / f".govsim-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with open(probe, "wb") as fh:
            fh.write(b"govsim")
        probe.unlink()
    except OSError as e:
        raise UnsafePathError(f"cannot write to '{path}': {e.strerror or e}") from None


def partial_name(final: Path) -> Path:
    """The hidden sibling a directory is written under before it takes its name (pid: see clean_partials)."""
    return final.parent / f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_partials(parent: Path, known: set[str]) -> list[Path]:
    """Remove hidden partial directories left in `parent` by killed govsim processes.

    Only directories whose name says govsim made them, whose process is gone, and which hold nothing
    but files with govsim's own names (`known`: base names) are removed.
    """
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for d in entries:
        m = PARTIAL.match(d.name)
        if not m or not d.is_dir() or d.is_symlink() or _alive(int(m["pid"])):
            continue
        files = files_below(d)
        if any(Path(f).name not in known for f in files):
            continue
        if not remove_own_files(d, files):
            removed.append(d)
    return removed


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries in one atomic step; False where the system cannot (then nothing changed)."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


__all__ = ["OUTPUT_ROOT", "EXPERIMENTS_DIR", "MANIFEST", "FILES_KEY", "UnsafePathError", "user_path", "dir_name",
           "own_files", "files_below", "foreign_files", "remove_own_files", "describe_files", "check_writable",
           "partial_name", "clean_partials", "exchange", "free_name",
           "csv_text", "write_csv", "CSV_ENCODING"]
