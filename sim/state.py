"""Warm starts: save a model's whole state to disk, resume it, or branch policies from it.

A *state file* (``.npz``: a zip of numpy arrays, read with ``allow_pickle=False``) holds everything a
model needs to continue as if it had never stopped:

* every agent set's columns: the residents (attributes, trust, satisfaction, the social network),
  the grid teams, the department teams (handlers' free times), the levers in force, the open problems,
  shared causes and scheduled hits;
* the ledger (every count booked so far) and the daily series;
* each mechanism's arrays, and the state of every random generator (the run streams and Mesa's);
* in a JSON header: the format and govsim version, the seeds, the day, the planned days, the base
  scenario and the parameters in force (both written out in full), and the log of changes.

Two ways to use one:

* :func:`load_state` (``GovernanceModel.load_state``): *resume*. The model continues exactly where it
  was saved; run to day n it gives bit-identical results to a run never interrupted (a checkpoint).
* :func:`branch`: *warm start*. The population and its history (trust, satisfaction, open cases,
  queues, random streams) are kept, the policy's scenario takes effect at the branch point as a change
  of parameters would (:meth:`~sim.model.GovernanceModel.apply_change`), and the books open afresh
  there (the ledger and the daily series start at the branch day: the burn-in is deleted from the
  statistics, as a warm-up period is). ``run.steps`` of the policy's scenario counts the days after
  the branch point, and its timeline's days count from there too. Every policy branched from one file
  starts from an identical state.

A state from another govsim version or format version is refused, as is a policy scenario that would
build another world (population, network, categories, departments): the error names what differs.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from sim.cases import Columns
from sim.ledger import Durations, Ledger
from sim.policy import FROM_PROFILE, Levers
from sim.scenario import Scenario, ScenarioError, build_scenario, resolved_communities

if TYPE_CHECKING:  # pragma: no cover
    from sim.model import GovernanceModel

FORMAT = "govsim-state"
FORMAT_VERSION = 2   # 2: the ledger's per-grid table counts cases of the community's own staff
HEADER = "__header__"
SUFFIX = ".npz"

# Parameters that shape the world when it is built (a state keeps its world, so a policy branched
# from it must not change them): per resolved community, everything but the levers' starting values;
# and these.
WORLD_PATHS = ("network.neighbours", "network.rewire", "network.cross_grid_share", "residents.trust_spread",
               "residents.initial_satisfaction")


class StateError(ScenarioError):
    """A state file that cannot be used: unreadable, from another version, or for another world.
    (A ScenarioError, so every command reports it as bad input: one ``error:`` line, exit code 2.)"""


def govsim_version() -> str:
    try:
        return metadata.version("govsim")
    except metadata.PackageNotFoundError:  # pragma: no cover (running from a bare checkout)
        return "unknown"


# --------------------------------------------------------------------------------------------------
# What is saved: the model's state-holding parts, each attribute by its type

def _holders(model: "GovernanceModel") -> dict[str, Any]:
    """The objects whose attributes are the model's state, by a stable name."""
    out = {"residents": model.residents, "grid_teams": model.grid_teams, "departments": model.departments,
           "ledger": model.ledger, "cases": model.cases, "causes": model.causes, "hits": model.hits}
    out.update((f"phase.{p.name}", p) for p in model.phases)
    return out


def _is_plain(v) -> bool:
    return isinstance(v, (bool, int, float, str)) or v is None


def _collect(name: str, obj, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
    """Arrays and plain values of one holder. Columns tables save their live rows; a sparse matrix its
    CSR parts; a dict of arrays each array. References to other objects (the model, the layout, the
    random generators, which are saved apart) are not state of their own."""
    if isinstance(obj, Columns):
        scalars[f"{name}.n"] = obj.n
        for k, b in obj._buf.items():
            arrays[f"{name}/{k}"] = b[:obj.n]
        return
    for attr, v in vars(obj).items():
        key = f"{name}/{attr}"
        if attr.startswith("_"):   # private caches, rebuilt on demand
            continue
        if isinstance(v, np.ndarray) and v.dtype != object:
            arrays[key] = v
        elif isinstance(v, np.generic):
            scalars[key] = v.item()
        elif _is_plain(v):
            scalars[key] = v
        elif sp.issparse(v):
            csr = v.tocsr()
            for part in ("indptr", "indices", "data"):
                arrays[f"{key}/{part}"] = getattr(csr, part)
            scalars[f"{key}.shape"] = list(csr.shape)
        elif isinstance(v, Durations):
            for k, a in enumerate(v.arrays()):
                arrays[f"{key}/{k}"] = a
        elif isinstance(v, dict) and v and all(isinstance(x, np.ndarray) for x in v.values()):
            scalars[f"{key}.keys"] = list(v)
            for k, a in v.items():
                arrays[f"{key}/{k}"] = a


def _restore(name: str, obj, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
    if isinstance(obj, Columns):
        n = scalars[f"{name}.n"]
        buf = {}
        for k, b in obj._buf.items():
            saved = arrays.pop(f"{name}/{k}")
            grown = np.empty((max(n, 256),) + b.shape[1:], b.dtype)
            grown[:n] = saved
            buf[k] = grown
        obj.__setstate__({"n": n, "_buf": buf})
        return
    for attr, v in list(vars(obj).items()):
        key = f"{name}/{attr}"
        if attr.startswith("_"):
            continue
        if isinstance(v, np.ndarray) and v.dtype != object:
            setattr(obj, attr, _take(arrays, key, v))
        elif isinstance(v, np.generic):
            setattr(obj, attr, type(v)(scalars[key]))
        elif _is_plain(v):
            setattr(obj, attr, scalars[key])
        elif sp.issparse(v):
            parts = [arrays.pop(f"{key}/{p}") for p in ("data", "indices", "indptr")]
            setattr(obj, attr, sp.csr_matrix(tuple(parts), shape=tuple(scalars[f"{key}.shape"])))
        elif isinstance(v, Durations):
            d = Durations()
            parts = tuple(arrays.pop(f"{key}/{k}") for k in range(5))
            d.__setstate__({"_chunks": [parts] if parts[0].size else []})
            setattr(obj, attr, d)
        elif isinstance(v, dict) and f"{key}.keys" in scalars:
            setattr(obj, attr, {k: arrays.pop(f"{key}/{k}") for k in scalars[f"{key}.keys"]})


def _take(arrays: dict[str, np.ndarray], key: str, like: np.ndarray) -> np.ndarray:
    try:
        a = arrays.pop(key)
    except KeyError:
        raise StateError(f"the state file has no '{key}': it was written by another build of govsim") from None
    if a.dtype != like.dtype or (a.ndim != like.ndim):
        raise StateError(f"'{key}' in the state file is {a.dtype}{list(a.shape)}, this model expects "
                         f"{like.dtype} with {like.ndim} dimension(s): it was written by another build of govsim")
    return a


def _rng_states(model: "GovernanceModel") -> dict:
    return {"streams": [{k: g.bit_generator.state for k, g in s.items()} for s in model.streams],
            "mesa_rng": model.rng.bit_generator.state,
            "mesa_random": [model.random.getstate()[0], list(model.random.getstate()[1]), model.random.getstate()[2]]}


def _set_rng_states(model: "GovernanceModel", states: dict) -> None:
    for s, saved in zip(model.streams, states["streams"]):
        for k, g in s.items():
            g.bit_generator.state = saved[k]
    model.rng.bit_generator.state = states["mesa_rng"]
    v, internal, gauss = states["mesa_random"]
    model.random.setstate((v, tuple(internal), gauss))


# --------------------------------------------------------------------------------------------------
# Saving and loading

def save_state(model: "GovernanceModel", path: str | Path) -> Path:
    """Write the model's whole state to `path` (``.npz`` is added if missing); return the path.

    Written to a temporary file beside it and renamed, so an interrupted save leaves no half file.
    """
    from sim.runner import git_commit
    path = Path(path)
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for name, obj in _holders(model).items():
        _collect(name, obj, arrays, scalars)
    for key, a in model.levers.local.items():
        arrays[f"levers/{key}"] = a
    arrays["model/series"] = model.series[:model.day - model.start_day]
    arrays["model/queue_series"] = model.queue_series[:model.day - model.start_day]
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "govsim_version": govsim_version(),
        "git_commit": git_commit(), "seeds": model.seeds, "day": model.day, "start_day": model.start_day,
        "steps_planned": model.steps_planned, "next_pid": model.next_pid, "running": model.running,
        "changes_log": model.changes_log, "base_scenario": model.base_scenario.model_dump(mode="json"),
        "params": model.params.model_dump(mode="json"), "rng": _rng_states(model), "scalars": scalars,
        "residents": model.layout.n_residents, "runs": model.n_runs,
    }
    arrays[HEADER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)
    return path


def read_header(path: str | Path) -> dict:
    """The JSON header of a state file (checked: a govsim state of this format and govsim version)."""
    header, _ = _read(path, arrays=False)
    return header


def _read(path: str | Path, arrays: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise StateError(f"state file not found: '{path}'")
    if not zipfile.is_zipfile(path):
        raise StateError(f"'{path}' is not a govsim state file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if HEADER not in z.files:
                raise StateError(f"'{path}' is not a govsim state file (no header)")
            header = json.loads(z[HEADER].tobytes())
            data = {k: z[k] for k in z.files if k != HEADER} if arrays else {}
    except (zipfile.BadZipFile, OSError, ValueError, json.JSONDecodeError) as e:
        raise StateError(f"'{path}' is not a readable govsim state file: {e}") from None
    if header.get("format") != FORMAT:
        raise StateError(f"'{path}' is not a govsim state file")
    if header.get("format_version") != FORMAT_VERSION:
        raise StateError(f"'{path}' has state format {header.get('format_version')}; this govsim reads format "
                         f"{FORMAT_VERSION}: run the burn-in again with this version")
    if header.get("govsim_version") != govsim_version():
        raise StateError(f"'{path}' was saved by govsim {header.get('govsim_version')}; this is govsim "
                         f"{govsim_version()}: a state is only valid for the version that wrote it (the model's "
                         f"rules may differ); run the burn-in again")
    return header, data


def load_state(path: str | Path) -> "GovernanceModel":
    """Resume: the model exactly as it was saved (its scenario, parameters in force, day and plan)."""
    from sim.model import GovernanceModel
    header, arrays = _read(path)
    base = build_scenario(header["base_scenario"], origin=f"state {path}: base scenario")
    model = GovernanceModel(base, seeds=header["seeds"])
    model.params = build_scenario(header["params"], origin=f"state {path}: parameters in force")
    for key in list(model.levers.local):
        model.levers.local[key][:] = _take(arrays, f"levers/{key}", model.levers.local[key])
    model.derive()
    scalars = header["scalars"]
    for name, obj in _holders(model).items():
        _restore(name, obj, arrays, scalars)
    unused = sorted(arrays.keys() - {"model/series", "model/queue_series"})
    if unused:
        raise StateError(f"the state file holds {', '.join(unused[:3])}{' …' if len(unused) > 3 else ''}, which this "
                         f"model does not have: it was written by another build of govsim")
    model.day, model.start_day = header["day"], header["start_day"]
    model.steps_planned, model.next_pid = header["steps_planned"], header["next_pid"]
    model.running, model.changes_log = header["running"], header["changes_log"]
    n = model.day - model.start_day
    days = max(model.steps_planned - model.start_day, n)
    model.series = np.zeros((days,) + arrays["model/series"].shape[1:])
    model.series[:n] = arrays["model/series"]
    model.queue_series = np.zeros((days,) + arrays["model/queue_series"].shape[1:])
    model.queue_series[:n] = arrays["model/queue_series"]
    _set_rng_states(model, header["rng"])
    _set_clock(model, model.day)
    model.datacollector._collection_steps = [float(d) for d in range(model.start_day + 1, model.day + 1)]
    return model


def _set_clock(model: "GovernanceModel", day: int) -> None:
    """Mesa's clock at `day`: its time, and its recurring step event next due at day + 1. (Mesa 3.5 keeps
    the step schedule in ``_default_schedule``; a model built afresh has it due at time 1.)"""
    from mesa.time import EventGenerator, Priority, Schedule
    model._default_schedule.stop()
    model.time = float(day)
    model._default_schedule = EventGenerator(model, model._do_step, Schedule(interval=1.0, start=day + 1.0),
                                             priority=Priority.HIGH).start()


def world_differences(state_scenario: Scenario, scenario: Scenario) -> list[str]:
    """Where `scenario` would build another world than `state_scenario` (the paths, with both values)."""
    from sim.scenario import get_path
    diffs = []
    a, b = resolved_communities(state_scenario), resolved_communities(scenario)
    if len(a) != len(b):
        diffs.append(f"population: {len(a)} communities in the state, {len(b)} in the scenario")
    else:
        skip = set(FROM_PROFILE.values())
        for i, (ca, cb) in enumerate(zip(a, b)):
            da, db = dataclasses.asdict(ca), dataclasses.asdict(cb)
            for k in da:
                if k not in skip and da[k] != db.get(k):
                    diffs.append(f"community {i} ({ca.name or i}) {k}: {da[k]} in the state, {db.get(k)} in the scenario")
    for p in WORLD_PATHS:
        va, vb = get_path(state_scenario, p), get_path(scenario, p)
        if va != vb:
            diffs.append(f"{p}: {va} in the state, {vb} in the scenario")
    for p, ka, kb in (("demand.categories", state_scenario.demand.categories, scenario.demand.categories),
                      ("staffing.departments", state_scenario.staffing.departments, scenario.staffing.departments)):
        if list(ka) != list(kb):
            diffs.append(f"{p}: {', '.join(ka)} in the state, {', '.join(kb)} in the scenario")
    return diffs


def branch(path: str | Path, scenario: Scenario, *, label: str | None = None) -> "GovernanceModel":
    """Warm start: the saved model with `scenario`'s parameters and levers in force from the branch
    point, its books opened afresh there, planned to run ``scenario.run.steps`` more days."""
    return branch_model(load_state(path), scenario, label=label, where=f"the state '{path}'")


def branch_model(model: "GovernanceModel", scenario: Scenario, *, label: str | None = None,
                 where: str = "the burnt-in model") -> "GovernanceModel":
    """:func:`branch` on a model in memory (changed in place and returned)."""
    diffs = world_differences(model.base_scenario, scenario)
    if diffs:
        more = f" (and {len(diffs) - 4} more)" if len(diffs) > 4 else ""
        raise StateError(f"scenario '{scenario.name}' builds another world than {where} holds; a state "
                         f"keeps its population, network, categories and departments: " + "; ".join(diffs[:4]) + more)
    k = model.day
    model.base_scenario = scenario
    model.params = scenario
    fresh = Levers(scenario, model.n_runs, model.residents.community)
    for key, values in fresh.local.items():
        model.levers.local[key][:] = values
    model.derive()
    model.start_day = k
    model.steps_planned = k + scenario.run.steps
    model.running = model.day < model.steps_planned
    model.ledger = Ledger(model.n_runs, model.layout.n_grids, model.departments.per_run)
    model.series = np.zeros((scenario.run.steps,) + model.series.shape[1:])
    model.queue_series = np.zeros((scenario.run.steps,) + model.queue_series.shape[1:])
    model.datacollector._collection_steps = []
    model.changes_log = [{"day": k, "label": label or f"{scenario.name} from the state at day {k}",
                          "communities": None}]
    return model


def describe(path: str | Path) -> dict:
    """What to write beside the outputs of a run branched from a state file."""
    import hashlib
    header = read_header(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"file": str(Path(path).resolve()), "sha256": h.hexdigest(), "day": header["day"],
            "seeds": header["seeds"], "scenario": header["base_scenario"].get("name", ""),
            "govsim_version": header["govsim_version"], "git_commit": header["git_commit"]}
