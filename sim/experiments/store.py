"""The sweep directory: the saved experiment, its design, the results as they arrive, and a manifest.

Layout of ``DIR``::

    experiment.yaml       the resolved experiment (itself a valid experiment file: explicit factors, seed)
    base_scenario.yaml    the base scenario it ran on, merged (so the sweep can be resumed or re-read alone)
    design.parquet        one row per point: factor values and, for sampled designs, unit coordinates u:<path>
    chunks/part-NNNNNN-SSSSSSSS.parquet
                          one file per finished chunk of runs (N: sequence number, S: the session that wrote it,
                          so two writers can never pick one name) (run, point, replication, seed, status, error,
                          elapsed, outcomes), each written atomically (temporary file, fsync, rename)
    manifest.json         the resolved experiment, its fingerprint and seed, package versions and git commit,
                          the sessions that ran it, and every run's status as half-open run-id ranges
                          ({"done": [[0, 120], ...], "failed": ..., "pending": ...}) with the error of each
                          failed run; rewritten atomically as chunks arrive (at most once a second)
    results.parquet       the consolidated table once no run is pending: one row per run, design factors
                          and outcomes row-aligned (``pd.read_parquet``), sorted by run id

Run ``r`` is replication ``r % R`` of point ``r // R``. The chunk files (and results.parquet, which
replaces them once written) are the source of truth: the manifest is a summary rebuilt from them when a
sweep resumes, so a kill between writing a chunk and updating the manifest loses nothing. When a run
appears twice (a failed run retried) the newer record wins.

Only one sweep writes to a directory at a time: a session holds an exclusive lock on ``DIR/.govsim.lock``
(``flock``, released by the system when the process dies), and a second one is refused. govsim deletes
only its own files there (the names above, the chunk files, and the files ``sensitivity/manifest.json``
lists); a directory whose manifest is not a sweep's is never written to.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sim import paths
from sim.provenance import git_commit, now, versions  # noqa: F401 (now: used by sweep)

from .errors import ExperimentError
from .spec import Experiment, load_experiment

FORMAT = "govsim-sweep/1"
STATUS_PENDING, STATUS_DONE, STATUS_FAILED = 0, 1, 2
RUN_COLUMNS = ("run", "point", "replication", "seed")
TAIL_COLUMNS = ("status", "error", "elapsed")
OWN_FILES = ("experiment.yaml", "base_scenario.yaml", "design.parquet", "manifest.json", "results.parquet",
             "results.csv", "README.txt")  # (a fresh sweep removes these, the chunk files and sensitivity's list)
LOCK_FILE = ".govsim.lock"
MAX_MANIFEST_ERRORS = 1000  # every error is in the result files; the manifest lists the first ones




# --------------------------------------------------------------------------------------------------
# Atomic writes

def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, write) -> None:
    """Write through ``write(fileobj)`` to a temporary file, fsync it, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_csv(path: Path, table: pd.DataFrame) -> None:
    """A table as CSV for a spreadsheet (sim.paths.csv_text: BOM, integers, rounded floats), atomically."""
    atomic_write_bytes(path, lambda fh: fh.write(paths.csv_text(table).encode(paths.CSV_ENCODING)))


def atomic_write_parquet(path: Path, table: pd.DataFrame) -> None:
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    atomic_write_bytes(path, lambda fh: pq.write_table(arrow, fh))


# --------------------------------------------------------------------------------------------------
# Provenance

def ranges(mask: np.ndarray) -> list[list[int]]:
    """Half-open [start, stop) run-id ranges where ``mask`` is true."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]


# --------------------------------------------------------------------------------------------------

@dataclass
class RunStatus:
    """The state of every run of a sweep, rebuilt from the result files."""

    status: np.ndarray  # int8 per run: pending / done / failed
    errors: dict[int, str]
    next_seq: int

    @property
    def done(self) -> int:
        return int((self.status == STATUS_DONE).sum())

    @property
    def failed(self) -> int:
        return int((self.status == STATUS_FAILED).sum())

    @property
    def pending(self) -> int:
        return int((self.status == STATUS_PENDING).sum())


class SweepDir:
    """One sweep's output directory (see the module docstring for the layout)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.session = uuid.uuid4().hex[:8]  # names this writer's chunk files

    # -- paths
    experiment_file = property(lambda self: self.path / "experiment.yaml")
    base_file = property(lambda self: self.path / "base_scenario.yaml")
    design_file = property(lambda self: self.path / "design.parquet")
    manifest_file = property(lambda self: self.path / "manifest.json")
    results_file = property(lambda self: self.path / "results.parquet")
    chunk_dir = property(lambda self: self.path / "chunks")

    def exists(self) -> bool:
        return self.is_sweep() and self.design_file.is_file() and self.experiment_file.is_file()

    def is_sweep(self) -> bool:
        """Whether the directory's manifest is a govsim sweep's (the only kind of directory written to)."""
        return self.read_manifest().get("format") == FORMAT

    def check_usable(self) -> None:
        """Refuse a path that is a file, or a directory of other things than a govsim sweep."""
        if self.path.exists() and not self.path.is_dir():
            raise ExperimentError(f"'{self.path}' is a file, not a directory; choose another --out")
        if self.path.is_dir() and any(not p.name.startswith(".") for p in self.path.iterdir()) \
                and not self.is_sweep():
            raise ExperimentError(f"'{self.path}' exists and is not a sweep directory (no govsim sweep manifest); "
                                  "choose another --out")

    @contextmanager
    def lock(self):
        """Hold the directory's lock while writing to it; refuse if another sweep holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        fh = open(self.path / LOCK_FILE, "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                who = fh.read().strip()
                raise ExperimentError(f"another sweep is writing to '{self.path}'"
                                      + (f" ({who})" if who else "") + "; wait for it to finish or choose another --out"
                                      ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {now()}\n")
            fh.flush()
            yield self
        finally:
            fh.close()  # closing releases the lock

    # -- creating and opening
    def initialise(self, exp: Experiment, fresh: bool = False) -> pd.DataFrame:
        """Prepare the directory for ``exp``; return the design (the saved one when resuming)."""
        self.check_usable()
        if fresh and self.is_sweep():
            self.clear()
        if self.exists():
            manifest = self.read_manifest()
            if manifest.get("fingerprint") != exp.fingerprint():
                raise ExperimentError(
                    f"'{self.path}' holds a sweep of a different experiment ({_what_changed(self, exp)}); "
                    "choose another --out, or pass --fresh to discard it")
            return pd.read_parquet(self.design_file)
        self.path.mkdir(parents=True, exist_ok=True)
        design = exp.sample_design()
        status = RunStatus(np.zeros(exp.n_runs, dtype=np.int8), {}, 0)
        self.write_manifest(exp, status, sessions=[], created=now())  # first: the directory is known as a sweep
        self.chunk_dir.mkdir(exist_ok=True)
        if exp.base_data is not None:
            atomic_write_text(self.base_file, yaml.safe_dump(exp.base_data, sort_keys=False, allow_unicode=True))
        header = (f"# Resolved experiment written by `govsim sweep` on {now()}"
                  + (f" from {exp.source}" if exp.source else "") + ".\n# It is itself a valid experiment file.\n")
        body = yaml.safe_dump(exp.to_file_dict("base_scenario.yaml" if exp.base_data is not None else None),
                              sort_keys=False, allow_unicode=True)
        atomic_write_text(self.experiment_file, header + body)
        atomic_write_parquet(self.design_file, design)
        return design

    def clear(self) -> None:
        """Delete govsim's own files (never anything else) so that the sweep can start again."""
        sens = self.path / "sensitivity"
        if sens.is_dir() and paths.own_files(sens) is not None:
            paths.remove_own_files(sens)
        for f in self.chunk_files():
            f.unlink(missing_ok=True)
        try:
            self.chunk_dir.rmdir()
        except OSError:
            pass
        for name in OWN_FILES:
            (self.path / name).unlink(missing_ok=True)

    def load_experiment(self) -> Experiment:
        if not self.experiment_file.is_file():
            raise ExperimentError(f"'{self.path}' is not a sweep directory (no experiment.yaml)")
        return load_experiment(self.experiment_file)

    def read_manifest(self) -> dict:
        try:
            return json.loads(self.manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def read_design(self) -> pd.DataFrame:
        return pd.read_parquet(self.design_file)

    # -- results
    def chunk_files(self) -> list[Path]:
        if not self.chunk_dir.is_dir():
            return []
        return sorted(self.chunk_dir.glob("part-*.parquet"), key=_chunk_order)

    def _record_files(self) -> list[Path]:
        """Result files oldest first (later records of a run win)."""
        return ([self.results_file] if self.results_file.is_file() else []) + self.chunk_files()

    def scan(self, n_runs: int) -> RunStatus:
        """Every run's status, from the result files (the source of truth)."""
        for tmp in list(self.path.glob(".*.tmp")) + list(self.chunk_dir.glob(".*.tmp") if self.chunk_dir.is_dir() else []):
            tmp.unlink(missing_ok=True)  # left by a kill in the middle of a write
        status = np.zeros(n_runs, dtype=np.int8)
        errors: dict[int, str] = {}
        seq = 0
        for f in self._record_files():
            try:
                t = pq.read_table(f, columns=["run", "status", "error"]).to_pandas()
            except Exception:  # an unreadable file cannot come from an atomic write; rerun its runs
                continue
            runs = t["run"].to_numpy()
            ok = t["status"].to_numpy() == "done"
            status[runs[ok]] = STATUS_DONE
            status[runs[~ok]] = STATUS_FAILED
            for r in runs[ok]:
                errors.pop(int(r), None)
            for r, e in zip(runs[~ok], t["error"].to_numpy()[~ok]):
                errors[int(r)] = str(e)
            if f.name.startswith("part-"):
                seq = max(seq, _chunk_order(f)[0] + 1)
        return RunStatus(status, errors, seq)

    def write_chunk(self, seq: int, rows: pd.DataFrame) -> Path:
        path = self.chunk_dir / f"part-{seq:06d}-{self.session}.parquet"
        atomic_write_parquet(path, rows)
        return path

    def write_manifest(self, exp: Experiment, status: RunStatus, *, sessions: list[dict], created: str | None = None,
                       complete: bool = False) -> None:
        old = self.read_manifest()
        errors = sorted(status.errors.items())
        manifest = {
            "format": FORMAT,
            "experiment": exp.name,
            "fingerprint": exp.fingerprint(),
            "seed": exp.seed,
            "resolved": exp.to_file_dict("base_scenario.yaml" if exp.base_data is not None else None),
            "design": {**exp.design_dict(), "factors": exp.factor_paths, "points": exp.n_points,
                       "replications": exp.replications, "runs": exp.n_runs},
            "created": created or old.get("created") or now(),
            "updated": now(),
            "complete": complete,
            "counts": {"done": status.done, "failed": status.failed, "pending": status.pending},
            "runs": {"done": ranges(status.status == STATUS_DONE), "failed": ranges(status.status == STATUS_FAILED),
                     "pending": ranges(status.status == STATUS_PENDING)},
            "errors": {str(k): v for k, v in errors[:MAX_MANIFEST_ERRORS]},
            **({"errors_not_listed": len(errors) - MAX_MANIFEST_ERRORS} if len(errors) > MAX_MANIFEST_ERRORS else {}),
            "versions": old.get("versions") or {**versions(), "git_commit": git_commit()},
            "sessions": sessions,
        }
        atomic_write_text(self.manifest_file, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")

    def read_runs(self) -> pd.DataFrame:
        """Every recorded run (done or failed), newest record per run, sorted by run id; the design's
        factor columns are left out (results.parquet carries them, chunk files do not)."""
        factors = set(pq.read_schema(self.design_file).names) - {"point"} if self.design_file.is_file() else set()
        tables = []
        for i, f in enumerate(self._record_files()):
            try:
                t = pq.read_table(f)
            except Exception:  # cannot come from an atomic write; its runs count as pending
                continue
            t = t.select([c for c in t.column_names if c not in factors])
            tables.append(t.append_column("_order", pa.array(np.full(len(t), i, dtype=np.int32))))
        if not tables:
            return pd.DataFrame({c: pd.Series(dtype="int64") for c in RUN_COLUMNS})
        table = pa.concat_tables(tables, promote_options="default").to_pandas()
        table = table.sort_values(["run", "_order"], kind="stable").drop_duplicates("run", keep="last")
        return table.drop(columns="_order").reset_index(drop=True)

    def consolidate(self) -> Path:
        """Write results.parquet (and results.csv, README.txt) from all records; drop the chunk files."""
        table = self.results_table()
        atomic_write_parquet(self.results_file, table)
        atomic_write_csv(self.path / "results.csv", table)
        atomic_write_text(self.path / "README.txt", self.readme(table))
        for f in self.chunk_files():
            f.unlink(missing_ok=True)
        return self.results_file

    def readme(self, table: pd.DataFrame) -> str:
        """What the sweep directory holds, every column of the results, and how to re-run one row."""
        exp = self.load_experiment()
        model = exp.model_obj
        factors = {f.path: f for f in exp.factors}
        k = ("its replication" if exp.common_random_numbers else "point × 10,000 + replication")
        lines = [f"govsim sweep of experiment '{exp.name}'" + (f": {exp.description}" if exp.description else ""),
                 f"{exp.method} design, {exp.n_points:,} points × {exp.replications} replications = {exp.n_runs:,} "
                 f"runs of model {exp.model}, experiment seed {exp.seed}.", "",
                 "Files",
                 "  experiment.yaml: the resolved experiment (itself a valid experiment file)",
                 *(["  base_scenario.yaml: the base scenario, every parameter written out"] if exp.base_data else []),
                 "  design.parquet: one row per point: factor values (and unit coordinates u:<path> of sampled designs)",
                 "  results.parquet: one row per run: design factors and outcomes, row-aligned",
                 "  results.csv: the same as results.parquet (UTF-8 with BOM, for spreadsheets)",
                 "  manifest.json: fingerprint, seed, versions, sessions, every run's status",
                 "  sensitivity/: indices, report and figures of `govsim sensitivity` (when run)", "",
                 "Columns of results.parquet / results.csv",
                 "  run: run id r (point r // replications, replication r % replications)",
                 "  point: design point (row of design.parquet)",
                 "  replication: replication index at the point",
                 f"  seed: seed of the run: replication k of the experiment seed, k = {k}"]
        for col in table.columns:
            if col in factors:
                f = factors[col]
                lines.append(f"  {col}" + (f" [{f.unit}]" if f.unit else "") + f": factor ({f.describe()})")
            elif col in model.outcomes:
                lines.append(f"  {col}: outcome, {model.outcome_label(col)}")
        lines += ["  status: done or failed", "  error: why a run failed (empty when done)",
                  "  elapsed: seconds the run took", ""]
        if exp.model == "govsim":
            settings = " ".join(f"--set {p}={v}" for p, v in exp.settings.items())
            lines += ["Re-run one row alone (identical outputs):",
                      f"  govsim run base_scenario.yaml {settings + ' ' if settings else ''}--set <factor>=<value> ... "
                      f"--seed {exp.seed} --replication K",
                      f"  with K = {k} of the row.", ""]
        return "\n".join(lines)

    def results_table(self) -> pd.DataFrame:
        """Runs joined with their points' factor values: experiments and outcomes row-aligned."""
        runs = self.read_runs()
        design = self.read_design()
        factor_cols = [c for c in design.columns if c != "point" and not c.startswith("u:")]
        table = runs.merge(design[["point", *factor_cols]], on="point", how="left", sort=False)
        outcome_cols = [c for c in runs.columns if c not in (*RUN_COLUMNS, *TAIL_COLUMNS)]
        cols = [*RUN_COLUMNS, *factor_cols, *outcome_cols, *TAIL_COLUMNS]
        table = table[cols].sort_values("run", kind="stable").reset_index(drop=True)
        for c in RUN_COLUMNS:
            table[c] = table[c].astype(np.int64)
        return table


def _chunk_order(path: Path) -> tuple[int, str]:
    """Chunk files in the order they were written: by sequence number (then session)."""
    parts = path.stem.split("-")
    try:
        return int(parts[1]), "-".join(parts[2:])
    except (IndexError, ValueError):
        return -1, path.stem


def _what_changed(sd: SweepDir, exp: Experiment) -> str:
    try:
        old = sd.load_experiment().identity()
    except Exception:
        return "its saved experiment cannot be read"
    new = exp.identity()
    diff = [k for k in new if json.dumps(new[k], sort_keys=True, default=str) != json.dumps(old.get(k), sort_keys=True, default=str)]
    return "changed: " + ", ".join(diff) if diff else "fingerprints differ"


def load_results(path: str | Path) -> pd.DataFrame:
    """The results table of a sweep directory: one row per finished run (status 'done' or 'failed'),
    with the run's point, replication, seed, factor values and outcomes. Works on a finished sweep
    (reads results.parquet) and on an unfinished one (reads the chunk files)."""
    sd = SweepDir(path)
    if not sd.design_file.is_file():
        raise ExperimentError(f"'{path}' is not a sweep directory (no design.parquet)")
    if sd.results_file.is_file() and not sd.chunk_files():
        return pd.read_parquet(sd.results_file)
    return sd.results_table()


def sweep_status(path: str | Path) -> dict:
    """The manifest's counts, recomputed from the result files."""
    sd = SweepDir(path)
    exp = sd.load_experiment()
    st = sd.scan(exp.n_runs)
    return {"done": st.done, "failed": st.failed, "pending": st.pending, "errors": st.errors}

