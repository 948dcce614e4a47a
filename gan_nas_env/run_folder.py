"""The run-folder contract shared by every command (search, retrain, evaluate, benchmark, pbt, toy).

A run folder holds one run of one **kind** (:data:`KINDS`). Its ``meta.json`` records the kind,
a random **run id** (what a search's steps are keyed by in ``results.sqlite``, so a renamed or
copied folder keeps its results), the command line, seed, package version, git SHA, machine
and start time; ``config.yaml`` holds the resolved :class:`~gan_nas_env.config.Config` of the
kinds that have one (the others record their settings in ``meta.json``). ``run.lock`` is held
with :func:`fcntl.flock` while a process writes the folder.

Rules (:func:`prepare_run` checks them all before anything is written):

- A missing or empty folder is used as it is (and created only when the run opens).
- A folder of another kind is refused, even with ``resume`` or ``overwrite``; so is a
  non-empty folder that is not a gan-nas run folder.
- A folder of the same kind holding results or a checkpoint (:data:`RESULT_FILES`) is
  refused unless ``resume`` (continue it) or ``overwrite`` (start again; the old run waits
  in ``OUT.overwritten`` until the new one ends without an error, so a killed rerun loses
  nothing) is given. One that holds none (a run killed before its first checkpoint: nothing
  to resume) starts over with its run id.
- ``resume`` compares the new config with the run's ``config.yaml`` and refuses any change
  to the proxy (:meth:`~gan_nas_env.config.Config.proxy_hash`) and to every other setting
  except those of :data:`MAY_DIFFER_ON_RESUME` for the kind.
- A folder whose ``run.lock`` another process holds is refused (``another gan-nas process
  is writing RUN (pid N)``). The lock dies with its process, so a killed run leaves none.

Old folders (written before this contract) have no kind or id in ``meta.json``: the kind is
inferred from their files, the id is the folder's name, and both are recorded on resume.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from types import TracebackType
from typing import Any

from gan_nas_env.config import SAME_RESULT_KEYS, Config, load_config, save_config
from gan_nas_env.errors import MissingFileError, UserError
from gan_nas_env.provenance import provenance
from gan_nas_env.user_files import nearest_existing, unwritable

KINDS = ("search", "retrain", "evaluate", "benchmark", "pbt", "toy")
"""The kinds of run folder, one per command."""

RESUMABLE = ("search", "retrain")
"""Kinds that can be continued with ``--resume``."""

LOCK, META, CONFIG = "run.lock", "meta.json", "config.yaml"

RESULT_FILES: dict[str, tuple[str, ...]] = {
    "search": ("checkpoint", "checkpoint.old", "model.zip", "top_architectures.json"),
    "retrain": ("checkpoint.pt", "best.pt", "report.json"),
    "evaluate": ("evaluation.json",),
    "benchmark": ("curves.json", "summary.json"),
    "pbt": ("pbt_summary.json", "pbt"),
    "toy": ("metrics.json",),
}
"""Per kind: the files of a run that got somewhere (a checkpoint or results). A folder of the
kind holding none of them has nothing to lose and may start over without ``--overwrite``."""

MAY_DIFFER_ON_RESUME: dict[str, tuple[str, ...]] = {
    # the budget may grow; the top list's length and sample grid; the retraining section is
    # not the search's
    "search": (*SAME_RESULT_KEYS, "search.episodes", "search.top_k", "search.grid_samples", "retrain.*"),
    # the budget may grow; the env and search sections are not the retraining's
    "retrain": (*SAME_RESULT_KEYS, "retrain.g_iters", "env.*", "search.*"),
}
"""Config keys (``fnmatch`` patterns) that may differ from the run's ``config.yaml`` on resume:
the settings that do not change results (:data:`gan_nas_env.config.SAME_RESULT_KEYS`) and
each kind's budget and sections it does not read. Every other difference, above all one that
changes the proxy hash, is refused (by ``gan-nas search`` and ``gan-nas retrain`` alike)."""


def may_differ_on_resume(kind: str, key: str) -> bool:
    """Whether config ``key`` (dotted) of a run of ``kind`` may change on ``--resume``."""
    return any(fnmatchcase(key, p) for p in MAY_DIFFER_ON_RESUME.get(kind, ()))


class RunFolderError(UserError, ValueError):
    """A run folder that cannot be used as asked (or lacks what the command reads from it)."""


class RunLockedError(RunFolderError):
    """Another process holds the run folder's ``run.lock``."""


# ----------------------------------------------------------------------------- reading


def read_meta(folder: str | Path) -> dict[str, Any]:
    """``meta.json`` of ``folder`` ({} when there is none)."""
    path = Path(folder) / META
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise RunFolderError(f"{path} is not a JSON object")
    return meta


def folder_kind(folder: str | Path, meta: Mapping[str, Any] | None = None) -> str | None:
    """The kind of run ``folder`` holds: from ``meta.json``, else inferred from its files.

    None for a folder that is no gan-nas run folder (or does not exist).
    """
    folder = Path(folder)
    meta = read_meta(folder) if meta is None else meta
    for key in ("kind", "command_kind"):  # command_kind: retrain folders before the contract
        if meta.get(key) in KINDS:
            return str(meta[key])
    if not folder.is_dir():
        return None
    for kind in ("retrain", "search", "benchmark", "pbt", "evaluate"):
        if any((folder / f).exists() for f in RESULT_FILES[kind]):
            return kind
    if (folder / "results.sqlite").exists() or "algo" in meta:
        return "search"
    if (folder / "metrics.json").exists() and (folder / "samples.png").exists():
        return "toy"
    return None


def run_id(folder: str | Path) -> str:
    """The run id recorded in ``folder/meta.json``; the folder's name for an old folder."""
    return str(read_meta(folder).get("id") or Path(folder).name)


def stored_config(folder: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Config:
    """The run's own ``config.yaml`` (plus ``overrides``): the config of a resumed run."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise MissingFileError(
            f"--resume: nothing to resume in {str(folder)!r} (no {CONFIG}); give the run folder "
            "of an earlier run with --out"
        )
    return load_config(path, overrides)


def flat_keys(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"loss": "ns"}}`` -> ``{"train.loss": "ns"}`` (a config dict, dotted keys)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(flat_keys(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(old: Config, new: Config) -> dict[str, tuple[Any, Any]]:
    """``key -> (old, new)`` for every config value that differs."""
    a, b = flat_keys(old.to_dict()), flat_keys(new.to_dict())
    missing = "<missing>"
    return {k: (a.get(k, missing), b.get(k, missing)) for k in sorted(set(a) | set(b))
            if a.get(k, missing) != b.get(k, missing)}


def check_resume_config(folder: Path, kind: str, old: Config, new: Config) -> dict[str, tuple[Any, Any]]:
    """Raise :class:`RunFolderError` for a change ``resume`` refuses; the allowed changes."""
    changes = config_changes(old, new)
    refused = {k: v for k, v in changes.items() if not may_differ_on_resume(kind, k)}
    if not refused:
        return changes
    listed = "; ".join(f"{k}: {o!r} (run) != {n!r} (now)" for k, (o, n) in refused.items())
    if old.proxy_hash() != new.proxy_hash():
        what = f"a change to the proxy (proxy hash {old.proxy_hash()} -> {new.proxy_hash()})"
    else:
        what = "a change to settings the run was started with"
    raise RunFolderError(f"cannot resume {folder}: --resume refuses {what}: {listed}; "
                         "start a new run in another --out")


# ----------------------------------------------------------------------------- the lock


class RunLock:
    """``run.lock`` of a folder held with :func:`fcntl.flock` (released on close or by the kernel).

    ``name`` picks another lock file in ``folder``: the builders' row claims
    (``scripts/build_finals.py --claim``) are locks of this kind, one file per row.
    """

    def __init__(self, folder: str | Path, name: str = LOCK) -> None:
        self.folder = Path(folder)
        self.name = name
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        """The lock file."""
        return self.folder / self.name

    def _refuse(self) -> RunLockedError:
        try:
            pid = self.path.read_text().strip() or "unknown"
        except OSError:
            pid = "unknown"
        return RunLockedError(f"another gan-nas process is writing {self.folder} (pid {pid}); "
                              "wait for it to finish or choose another --out")

    def check(self) -> None:
        """Raise :class:`RunLockedError` if another process holds the lock (writes nothing)."""
        if not self.path.is_file():
            return
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise self._refuse() from None
        finally:
            os.close(fd)  # closing releases the probe's lock

    def acquire(self) -> RunLock:
        """Take the lock (creating ``run.lock``) and write this process's pid into it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._refuse() from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the flock

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self if self.held else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# ----------------------------------------------------------------------------- the folder


def _new_id() -> str:
    return secrets.token_hex(6)  # os.urandom: draws from no seeded RNG of the run


def _provenance_meta(kind: str, rid: str, seed: Any) -> dict[str, Any]:
    prov = provenance()
    return {"kind": kind, "id": rid, "command": prov["command"], "seed": seed,
            "version": prov["version"], "git_sha": prov["git_sha"], "machine": prov["machine"],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


@dataclass
class RunFolder:
    """An open run folder: its lock is held until :meth:`close` (or the ``with`` block ends)."""

    path: Path
    kind: str
    id: str
    meta: dict[str, Any]
    config: Config | None
    resumed: bool
    """Continues an earlier session of the run (``resume``)."""
    restarted: bool
    """Starts over a run of the same kind that never reached a checkpoint."""
    lock: RunLock = field(repr=False)
    previous: Path | None = None
    """The run that ``overwrite`` replaced (:func:`previous_run`), deleted when the ``with`` block
    ends without an error; a rerun that fails or is killed leaves it there to restore."""

    def close(self) -> None:
        """Release the lock."""
        self.lock.release()

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None and self.previous is not None:
            shutil.rmtree(self.previous, ignore_errors=True)
        self.close()


@dataclass
class RunPlan:
    """A checked run folder, nothing written yet: :meth:`open` creates, locks and records it."""

    path: Path
    kind: str
    config: Config | None
    settings: dict[str, Any] | None
    mode: str
    """``new`` (missing or empty folder), ``resume``, ``restart`` or ``overwrite``."""
    id: str
    old_meta: dict[str, Any]
    stored: Config | None
    changes: dict[str, tuple[Any, Any]]

    @property
    def resuming(self) -> bool:
        """Whether the run continues an earlier session."""
        return self.mode == "resume"

    def open(self, extra: Mapping[str, Any] | None = None,
             session: Mapping[str, Any] | None = None) -> RunFolder:
        """Create the folder, take its lock, then write ``config.yaml`` and ``meta.json``.

        :param extra: fields of ``meta.json`` (a resumed run merges them into its meta and
            records what changed in ``meta["resumes"]``).
        :param session: fields of this session's entry in ``meta["resumes"]`` (resume only;
            e.g. the step it resumes at).
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # where os.access said yes (e.g. /proc for root): the first write fails
            raise RunFolderError(f"cannot create {self.path}: {exc.strerror}; choose another --out") from None
        lock = RunLock(self.path).acquire()
        try:
            previous = _set_aside(self.path) if self.mode == "overwrite" else None
            extra = dict(extra or {})
            given = self.settings or {}
            seed = self.config.seed if self.config is not None else given.get("seed", given.get("seeds"))
            if self.resuming:
                meta = {**self.old_meta, "kind": self.kind, "id": self.id}
                changed = {k: [o, n] for k, (o, n) in self.changes.items()}
                changed.update({k: [self.old_meta.get(k), v] for k, v in extra.items()
                                if k in self.old_meta and self.old_meta[k] != v})
                fresh = _provenance_meta(self.kind, self.id, seed)
                session_meta = {k: fresh[k] for k in ("command", "version", "git_sha", "machine",
                                                      "started")}
                entry = {**session_meta, **(session or {}), "changed": changed}
                meta["resumes"] = [*self.old_meta.get("resumes", []), entry]
                meta.update(extra)
            else:
                meta = {**_provenance_meta(self.kind, self.id, seed), **extra}
            if self.config is not None:
                meta["proxy_hash"] = self.config.proxy_hash()
                save_config(self.config, self.path / CONFIG)
            elif self.settings is not None:
                meta["settings"] = self.settings
            _write_json(self.path / META, meta)
        except BaseException:
            lock.release()
            raise
        return RunFolder(self.path, self.kind, self.id, meta, self.config, self.resuming,
                         self.mode == "restart", lock, previous)


OVERWRITE_NOTE = "the old run waits in OUT.overwritten until the new one ends without an error"
"""What every ``--overwrite`` help says of :func:`previous_run`."""


def previous_run(path: Path) -> Path:
    """Where ``--overwrite`` keeps the run it replaces until the new run's ``with`` block ends.

    Beside the folder, named after it (``--out .`` included: the current folder's own name).
    """
    path = path.resolve()
    if not path.name:
        raise RunFolderError(f"{path} has no parent to keep the old run in; choose another --out")
    return path.with_name(f"{path.name}.overwritten")


def _set_aside(path: Path) -> Path | None:
    """Move the run in ``path`` (all but its lock) to :func:`previous_run`; return that folder.

    :func:`prepare_run` checked that it does not exist. The old run is deleted only when the new
    one ends without an error, so that a rerun killed before producing anything loses nothing.
    Where the parent cannot take it (read-only, ``path`` a mount point) the old run is deleted at
    once, as before, and None is returned.
    """
    items = [item for item in path.iterdir() if item.name != LOCK]
    if not items:
        return None
    aside, made = previous_run(path), False
    try:
        aside.mkdir()
        made = True
        for item in items:
            item.rename(aside / item.name)
    except OSError:
        if made:  # what was moved before the failure goes too
            shutil.rmtree(aside, ignore_errors=True)
        for item in path.iterdir():
            if item.name != LOCK:
                _remove(item)
        return None
    return aside


def _remove(item: Path) -> None:
    if item.is_dir() and not item.is_symlink():
        shutil.rmtree(item)
    elif item.exists() or item.is_symlink():
        item.unlink()


def check_folder(out: str | Path, kind: str) -> None:
    """Refuse ``out`` early if another process writes it or it holds another kind's run."""
    path = Path(out)
    RunLock(path).check()
    found = folder_kind(path) if path.is_dir() else None
    if found is not None and found != kind:
        raise _other_kind(path, found, kind)


def check_writable(path: Path) -> None:
    """Refuse ``path`` (or, while it does not exist, its nearest existing parent) if it cannot be written."""
    where = nearest_existing(path)
    if not where.is_dir():
        raise RunFolderError(f"cannot create {path}: {where} is a file, not a folder; choose another --out")
    if why := unwritable(where, os.W_OK | os.X_OK):
        raise RunFolderError(f"cannot write {path}: {where} is on {why}; choose another --out")


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _other_kind(path: Path, found: str, kind: str) -> RunFolderError:
    return RunFolderError(f"{path} is {_a(found)} run folder, not {_a(kind)} one: {_a(kind)} run "
                          "cannot write into it (not even with --resume or --overwrite); "
                          "choose another --out")


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK)


def prepare_run(
    out: str | Path, kind: str, cfg: Config | None = None, *, resume: bool = False,
    overwrite: bool = False, settings: Mapping[str, Any] | None = None,
) -> RunPlan:
    """Check ``out`` for a ``kind`` run against the rules of this module; write nothing.

    :param cfg: the run's config (``config.yaml``; compared with the stored one on resume),
        or None for kinds without one, which pass their ``settings`` (recorded in ``meta.json``).
    :param resume: continue the run in ``out`` (search and retrain).
    :param overwrite: start again in ``out``: the same kind's run there is moved aside to
        :func:`previous_run` and deleted when the new run ends without an error.
    :raises RunFolderError: the folder cannot be used as asked (one line saying why).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}; known: {', '.join(KINDS)}")
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite exclude each other")
    if resume and kind not in RESUMABLE:
        raise RunFolderError(f"{_a(kind)} run cannot be resumed")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{path} is a file, not a run folder; choose another --out")
    check_writable(path)
    RunLock(path).check()
    settings = dict(settings) if settings is not None else None
    entries = _entries(path) if path.is_dir() else []
    if not entries:
        if resume:
            raise MissingFileError(f"--resume: nothing to resume in {str(path)!r} (no {META}); "
                                   "give the run folder of an earlier run with --out")
        return RunPlan(path, kind, cfg, settings, "new", _new_id(), {}, None, {})
    meta = read_meta(path)
    found = folder_kind(path, meta)
    if found is None:
        raise RunFolderError(f"{path} is neither empty nor a gan-nas run folder (no {META}); "
                             "choose another --out")
    if found != kind:
        raise _other_kind(path, found, kind)
    rid = str(meta.get("id") or path.name)  # old folders: the name their steps are keyed by
    if overwrite:
        if (aside := previous_run(path)).exists():
            raise RunFolderError(
                f"{aside} exists: it holds the run an earlier --overwrite of {path} set "
                "aside, and that rerun did not finish; move it back, or delete it, then run again"
            )
        return RunPlan(path, kind, cfg, settings, "overwrite", _new_id(), {}, None, {})
    if resume:
        stored = load_config(path / CONFIG) if (path / CONFIG).is_file() else None
        changes = (check_resume_config(path, kind, stored, cfg)
                   if stored is not None and cfg is not None else {})
        return RunPlan(path, kind, cfg, settings, "resume", rid, meta, stored, changes)
    results = [f for f in RESULT_FILES[kind] if (path / f).exists()]
    if results:
        how = "pass --resume to continue it, " if kind in RESUMABLE else ""
        raise RunFolderError(
            f"{path} already holds {_a(kind)} run ({', '.join(results)}); {how}pass --overwrite "
            "to delete it and start again, or choose another --out"
        )
    return RunPlan(path, kind, cfg, settings, "restart", rid, meta, None, {})


def open_run(
    out: str | Path, kind: str, cfg: Config | None = None, *, resume: bool = False,
    overwrite: bool = False, settings: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RunFolder:
    """Check and open a run folder (:func:`prepare_run`, then :meth:`RunPlan.open`).

    Use as ``with open_run(out, kind, cfg) as run:``; the lock is released when the block ends.
    """
    return prepare_run(out, kind, cfg, resume=resume, overwrite=overwrite,
                       settings=settings).open(extra)


# ----------------------------------------------------------------------------- additions


@dataclass
class RunAddition:
    """Files one command adds to another kind's run folder (an evaluation next to a checkpoint)."""

    folder: Path
    kind: str
    files: tuple[str, ...]
    locked: bool
    id: str = field(default_factory=_new_id)
    lock: RunLock | None = None

    def open(self) -> RunAddition:
        """Take the host folder's lock (a run folder only); nothing else is written."""
        if self.locked:
            self.lock = RunLock(self.folder).acquire()
        return self

    def provenance(self, seed: Any = None) -> dict[str, Any]:
        """Kind, id, command, seed, version, git SHA, machine and time of the addition."""
        return _provenance_meta(self.kind, self.id, seed)

    def close(self) -> None:
        """Release the host folder's lock."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> RunAddition:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_addition(
    folder: str | Path, kind: str, files: Iterable[str], hosts: Iterable[str],
    overwrite: bool = False,
) -> RunAddition:
    """Check that ``kind`` may write ``files`` into ``folder``; write nothing.

    ``folder`` must exist and be a run folder of one of ``hosts`` kinds (or no run folder at
    all: then no lock is taken); ``files`` that exist are refused without ``overwrite``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"{folder} is not a folder")
    RunLock(folder).check()
    found = folder_kind(folder)
    hosts = tuple(hosts)
    if found is not None and found not in hosts:
        raise RunFolderError(f"{folder} is {_a(found)} run folder: {_a(kind)} run cannot write "
                             "into it; give --out")
    files = tuple(files)
    present = [f for f in files if (folder / f).exists()]
    if present and not overwrite:
        raise RunFolderError(f"{folder} already holds {', '.join(present)} (of an earlier {kind}); "
                             "pass --overwrite to replace it, or give --out")
    return RunAddition(folder, kind, files, locked=found is not None)
