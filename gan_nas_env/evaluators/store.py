"""Durable results store: every proxy evaluation and every search step, in SQLite (WAL).

Rows are committed as they are written, so a killed run never loses finished
results. Evaluations are keyed by (config hash, architecture prefix, GAN seed):
the cached evaluator replays them instead of training.

The file is in WAL mode: a commit lands in ``results.sqlite-wal`` first and is copied
into ``results.sqlite`` by a WAL checkpoint. :meth:`ResultsStore.checkpoint_wal` runs
one at every episode boundary of a search, so ``results.sqlite`` alone (a copy made
without its ``-wal`` file, even after ``kill -9``) holds every finished episode (unless
another process held an old snapshot open through the boundary); the rows of the
episode in flight may still be only in the ``-wal`` file.

:func:`kill_point` is a test hook (off unless ``GAN_NAS_ENV_TEST_KILL_AT`` is set).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.config import MODEL_CODE_VERSION
from gan_nas_env.errors import UserError, disk_full
from gan_nas_env.space import NUM_CELLS

SCHEMA_VERSION = 1

KILL_AT_ENV = "GAN_NAS_ENV_TEST_KILL_AT"
"""``EVENT:N[:SIGNAL]`` (or ``N`` for ``step:N``): :func:`kill_point` signals the process at its N-th EVENT."""
_kill_counts: Counter[str] = Counter()


def kill_point(event: str) -> None:
    """Test hook: signal this process at its N-th ``event`` when ``GAN_NAS_ENV_TEST_KILL_AT=event:N``.

    Off (nothing but an environment look-up) unless the variable is set; the resume tests
    (tests/agents/test_resume.py) and ``scripts/reliability.py`` set it to kill a search at an
    exact point instead of after a timer. Events: ``step`` (a search step's row is committed),
    ``evaluation`` (an evaluation's row is committed), ``checkpoint`` (a search checkpoint is
    complete in ``checkpoint.tmp/``, nothing renamed yet), ``checkpoint-swap`` (the old
    checkpoint is moved to ``checkpoint.old/``, the new one not yet renamed into place). The
    signal is SIGKILL unless a third field names another (``step:4:INT`` is a Ctrl-C there).
    The process writes ``GAN_NAS_ENV_TEST_KILL_AT: killed at EVENT:N`` to stderr first.
    """
    spec = os.environ.get(KILL_AT_ENV)
    if not spec:
        return
    parts = spec.split(":")
    if len(parts) == 1:
        parts = ["step", *parts]
    name, n, sig = parts[0], parts[1], (parts[2] if len(parts) > 2 else "KILL")
    if name != event:
        return
    _kill_counts[event] += 1
    if _kill_counts[event] == int(n):
        sys.stderr.write(f"{KILL_AT_ENV}: killed at {event}:{n}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS evaluations (
    config_hash TEXT NOT NULL, arch TEXT NOT NULL, seed INTEGER NOT NULL,
    depth INTEGER NOT NULL, metrics TEXT NOT NULL, representation BLOB NOT NULL,
    diverged INTEGER NOT NULL, reason TEXT, timings TEXT, losses TEXT, created REAL,
    PRIMARY KEY (config_hash, arch, seed)
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, episode INTEGER NOT NULL,
    step INTEGER NOT NULL, arch TEXT NOT NULL, reward REAL, score REAL,
    "IS" REAL, FID REAL, KID REAL, diverged INTEGER NOT NULL, timings TEXT, created REAL
);
"""


class ResultsStoreError(UserError, RuntimeError):
    """The results file cannot be used (corrupted, locked, wrong schema)."""


def corrupted(path: Path, exc: BaseException) -> ResultsStoreError:
    """The error for a results store SQLite cannot read, with how to recover."""
    name = path.name
    return ResultsStoreError(
        f"results store {path} cannot be used ({exc}); if it is corrupted, move it "
        f"away and start a new run, or resume from a copy made before: copy {name} "
        f"together with {name}-wal and {name}-shm where they exist (a search checkpoints "
        "the -wal file into the main file at every episode boundary, but the rows of the "
        "episode in flight may be only in the -wal file)"
    )


def _quick_check(con: sqlite3.Connection) -> None:
    # corrupt pages would otherwise surface mid-run, at the first query that reads them
    check = con.execute("PRAGMA quick_check").fetchall()
    if check != [("ok",)]:
        found = " ".join(" ".join(str(r[0]).split()) for r in check[:3])  # one line
        raise sqlite3.DatabaseError(f"quick_check: {found}")


@contextmanager
def _copy_of(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a copy of the store ``path`` and its ``-wal`` in a temporary folder.

    The rows of a killed run may be only in the ``-wal`` file, which an ``immutable`` or
    read-only open of the store itself would ignore or have to write to.
    """
    with tempfile.TemporaryDirectory(prefix="gan-nas-store-check-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        con = sqlite3.connect(str(copy))
        try:
            yield con
        finally:
            con.close()


def check_store(path: str | Path) -> None:
    """Raise :class:`ResultsStoreError` if the existing store ``path`` is corrupted; writes nothing.

    Checks a copy of the file and its ``-wal`` (:func:`_copy_of`). A missing file passes.
    """
    path = Path(path)
    if not path.exists():
        return
    try:
        with _copy_of(path) as con:
            _quick_check(con)
    except sqlite3.DatabaseError as exc:
        raise corrupted(path, exc) from None


def finished_episodes(path: str | Path, run: str) -> int:
    """Episodes of ``run`` in the store ``path`` that ended; writes nothing.

    An episode ended with a row of its last cell or a diverged one. Reads a copy
    (:func:`_copy_of`); 0 for a missing file. What a resumed search must keep: its
    checkpoint may be an episode behind (a run killed between an episode's end and its
    checkpoint, or one finished before finished searches were checkpointed at their end).
    """
    path = Path(path)
    if not path.exists():
        return 0
    try:
        with _copy_of(path) as con:
            return int(con.execute(
                "SELECT COUNT(DISTINCT episode) FROM steps WHERE run=? AND (step=? OR diverged=1)",
                (run, NUM_CELLS)).fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise corrupted(path, exc) from None


def read_rows(path: str | Path, query: str) -> list[tuple[Any, ...]]:
    """Rows of ``query`` on the store ``path``, opened read-only.

    For looking into a run from outside (tests, ``scripts/reliability.py``): a read-write
    connection would checkpoint the ``-wal`` file when it closes, changing the run's files.
    """
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


class ResultsStore:
    """SQLite results file; safe to open from several processes.

    :param path: the ``.sqlite`` file (created if missing).
    :param timeout: seconds to wait for a lock held by another process.
    """

    def __init__(self, path: str | Path, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.time() + timeout
        while True:  # several processes may create the same new file at once
            try:
                version = self._open(timeout)
                break
            except sqlite3.OperationalError as exc:
                if disk_full(exc):
                    raise  # the machine's failure, not the store's: the CLI says so (exit 4)
                locked = "locked" in str(exc)
                if not locked or time.time() > deadline:
                    why = ("another process holds it locked: wait for it or use another output folder"
                           if locked else "check that it is a writable file, or use another output folder")
                    raise ResultsStoreError(f"results store {self.path} cannot be used ({exc}); {why}") from None
                time.sleep(0.05)
        if int(version) != SCHEMA_VERSION:
            raise ResultsStoreError(
                f"results store {self.path} has schema version {version}, this code writes "
                f"{SCHEMA_VERSION}; use a new output folder"
            )
        self._check_model_code()

    def _check_model_code(self) -> None:
        """Refuse a store whose evaluations were made by other model code (never mixed)."""
        row = self._con.execute("SELECT value FROM meta WHERE key='model_code'").fetchone()
        if row is None:
            if self.count_evaluations() == 0:  # new (or empty) store: this code's
                self._con.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('model_code', ?)", (str(MODEL_CODE_VERSION),)
                )
                return
            stored = "1"  # stores from before the version was recorded
        else:
            stored = row[0]
        if stored != str(MODEL_CODE_VERSION):
            raise ResultsStoreError(
                f"results store {self.path} holds evaluations made by model code v{stored}; this "
                f"version of gan-nas-env builds, trains and scores with model code v{MODEL_CODE_VERSION} "
                "(docs/fidelity.md), so they cannot be reused: use a new output folder or store"
            )

    def _open(self, timeout: float) -> str:
        try:
            # check_same_thread off: an env built in the main thread records from a
            # ThreadVecEnv worker thread (one thread at a time uses a connection)
            self._con = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None,
                                        check_same_thread=False)
            self._con.execute("PRAGMA journal_mode=WAL")
            # corrupt pages would otherwise surface mid-run, at the first query that reads them
            _quick_check(self._con)
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)
            self._con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            return self._con.execute(
                "SELECT value FROM meta WHERE key='schema_version'"
            ).fetchone()[0]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise corrupted(self.path, exc) from None

    def close(self) -> None:
        """Close the connection."""
        self._con.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- evaluations --------------------------------------------------------------
    def put_evaluation(
        self, config_hash: str, arch: str, seed: int, depth: int, metrics: dict[str, float],
        representation: np.ndarray, diverged: bool = False, reason: str = "",
        timings: dict[str, Any] | None = None, losses: dict[str, float] | None = None,
    ) -> None:
        """Insert or replace one evaluation."""
        rep = np.ascontiguousarray(representation, dtype=np.float32)
        self._con.execute(
            "INSERT OR REPLACE INTO evaluations VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (config_hash, arch, int(seed), int(depth), json.dumps(metrics), rep.tobytes(),
             int(diverged), reason, json.dumps(timings or {}), json.dumps(losses or {}),
             time.time()),
        )
        kill_point("evaluation")

    def get_evaluation(self, config_hash: str, arch: str, seed: int) -> dict[str, Any] | None:
        """The stored evaluation or None."""
        row = self._con.execute(
            "SELECT depth, metrics, representation, diverged, reason, timings, losses "
            "FROM evaluations WHERE config_hash=? AND arch=? AND seed=?",
            (config_hash, arch, int(seed)),
        ).fetchone()
        if row is None:
            return None
        return {
            "arch": arch, "seed": int(seed), "depth": row[0], "metrics": json.loads(row[1]),
            "representation": np.frombuffer(row[2], dtype=np.float32).copy(),
            "diverged": bool(row[3]), "reason": row[4] or "", "timings": json.loads(row[5] or "{}"),
            "losses": json.loads(row[6] or "{}"),
        }

    def evaluations(self, config_hash: str) -> list[dict[str, Any]]:
        """Every stored evaluation of one proxy config."""
        rows = self._con.execute(
            "SELECT arch, seed FROM evaluations WHERE config_hash=? ORDER BY arch, seed", (config_hash,)
        ).fetchall()
        evals = (self.get_evaluation(config_hash, a, s) for a, s in rows)
        return [e for e in evals if e is not None]

    def count_evaluations(self, config_hash: str | None = None) -> int:
        """Number of stored evaluations (for one config hash if given)."""
        if config_hash is None:
            return self._con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
        return self._con.execute(
            "SELECT COUNT(*) FROM evaluations WHERE config_hash=?", (config_hash,)
        ).fetchone()[0]

    # -- search steps -----------------------------------------------------------------
    def add_step(
        self, run: str, episode: int, step: int, arch: str, reward: float, score: float | None,
        metrics: dict[str, float], diverged: bool, timings: dict[str, float] | None = None,
    ) -> None:
        """Append one env step of a search run."""
        self._con.execute(
            'INSERT INTO steps (run, episode, step, arch, reward, score, "IS", FID, KID, diverged, '
            "timings, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (run, int(episode), int(step), arch, float(reward), score, metrics.get("IS"),
             metrics.get("FID"), metrics.get("KID"), int(diverged), json.dumps(timings or {}),
             time.time()),
        )
        kill_point("step")

    def checkpoint_wal(self) -> bool:
        """Copy every committed row from the ``-wal`` file into the main file (a FULL checkpoint).

        Called at episode boundaries, so a copy of ``results.sqlite`` without its ``-wal``
        file keeps every finished episode. It waits (up to the store's ``timeout``) only
        for another connection's read transaction on an older snapshot, and returns False
        when one kept it from copying everything: the rows are then safe in the ``-wal``
        file, but ``results.sqlite`` alone is no complete copy until a later checkpoint.
        """
        busy, log, copied = self._con.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        return busy == 0 and log == copied

    def delete_steps_after(self, run: str, episodes_done: int) -> int:
        """Drop the steps of ``run`` from episode index ``episodes_done`` on (resume)."""
        cur = self._con.execute(
            "DELETE FROM steps WHERE run=? AND episode>=?", (run, int(episodes_done))
        )
        return cur.rowcount

    def steps(self, run: str | None = None) -> Iterator[dict[str, Any]]:
        """All recorded steps in insertion order (of one run if given)."""
        q = 'SELECT run, episode, step, arch, reward, score, "IS", FID, KID, diverged, timings FROM steps'
        args: tuple[Any, ...] = ()
        if run is not None:
            q, args = q + " WHERE run=?", (run,)
        for r in self._con.execute(q + " ORDER BY id", args):
            yield {
                "run": r[0], "episode": r[1], "step": r[2], "arch": r[3], "reward": r[4],
                "score": r[5], "IS": r[6], "FID": r[7], "KID": r[8], "diverged": bool(r[9]),
                "timings": json.loads(r[10] or "{}"),
            }

    def top_architectures(self, run: str | None = None, k: int = 5) -> list[dict[str, Any]]:
        """Best complete (3-cell) architectures by score, each listed once."""
        best: dict[str, dict[str, Any]] = {}
        for s in self.steps(run):
            if s["step"] != NUM_CELLS or s["diverged"] or s["score"] is None:
                continue
            if s["arch"] not in best or s["score"] > best[s["arch"]]["score"]:
                best[s["arch"]] = s
        return sorted(best.values(), key=lambda s: s["score"], reverse=True)[:k]
