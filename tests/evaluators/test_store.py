"""ResultsStore: WAL checkpoints (a copy of results.sqlite alone), the copy advice, the kill hook."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from gan_nas_env.evaluators.store import (
    KILL_AT_ENV,
    ResultsStore,
    ResultsStoreError,
    kill_point,
    read_rows,
)


def _add_steps(store, episode):
    for step in (1, 2, 3):
        store.add_step("run", episode, step, "0 0 0 0 0 0"[: 4 * step], 0.1 * step, 0.2, {"IS": 1.0},
                       False)


def _steps_in_copy(src, dst):
    shutil.copy(src, dst)  # the main file only, no -wal
    con = sqlite3.connect(dst)
    try:
        return con.execute("SELECT episode, step FROM steps ORDER BY id").fetchall()
    finally:
        con.close()


def test_a_checkpointed_wal_leaves_every_row_in_the_main_file(tmp_path):
    p = tmp_path / "results.sqlite"
    store = ResultsStore(p)
    _add_steps(store, 0)
    # committed, but only in the -wal file: a copy of the main file alone lacks them
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        _steps_in_copy(p, tmp_path / "before.sqlite")
    assert store.checkpoint_wal()
    _add_steps(store, 1)  # the next episode, in flight: in the -wal file again
    assert _steps_in_copy(p, tmp_path / "copy.sqlite") == [(0, 1), (0, 2), (0, 3)]
    assert store.checkpoint_wal()
    assert len(_steps_in_copy(p, tmp_path / "copy2.sqlite")) == 6
    store.close()


def test_a_reader_of_the_last_snapshot_does_not_stop_the_checkpoint(tmp_path):
    p = tmp_path / "results.sqlite"
    store = ResultsStore(p, timeout=0.2)
    _add_steps(store, 0)
    reader = sqlite3.connect(p, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM steps").fetchone()  # holds this snapshot open
    assert store.checkpoint_wal()  # the reader sees the latest rows: nothing to wait for
    assert _steps_in_copy(p, tmp_path / "copy.sqlite") == [(0, 1), (0, 2), (0, 3)]
    _add_steps(store, 1)
    # now the reader's snapshot is older than the log: the checkpoint cannot finish
    assert not store.checkpoint_wal()
    assert len(list(store.steps("run"))) == 6  # the rows are safe in the -wal file
    reader.execute("COMMIT")
    reader.close()
    assert store.checkpoint_wal()
    assert len(_steps_in_copy(p, tmp_path / "copy2.sqlite")) == 6
    store.close()


def test_the_copy_advice_names_the_wal_file(tmp_path):
    p = tmp_path / "results.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ResultsStoreError, match="resume from a copy") as err:
        ResultsStore(p)
    assert "results.sqlite-wal" in str(err.value) and "results.sqlite-shm" in str(err.value)


def test_kill_point_is_off_without_the_variable(monkeypatch):
    monkeypatch.delenv(KILL_AT_ENV, raising=False)
    for _ in range(3):
        kill_point("step")  # returns: nothing is counted or killed


@pytest.mark.parametrize("spec, event, n", [("evaluation:2", "evaluation", 2), ("3", "step", 3)])
def test_kill_point_kills_at_the_nth_event(spec, event, n):
    code = (
        "import sys\n"
        "from gan_nas_env.evaluators.store import kill_point\n"
        "for e in ['step', 'evaluation', 'checkpoint'] * 5:\n"
        "    kill_point(e)\n"
        "    print(e, flush=True)\n"
        "sys.exit(0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, KILL_AT_ENV: spec})
    assert r.returncode == -signal.SIGKILL, r
    assert r.stderr.endswith(f"{KILL_AT_ENV}: killed at {event}:{n}\n")
    printed = r.stdout.split()
    assert printed.count(event) == n - 1  # killed right at its n-th event, before printing it
    assert len(printed) == 3 * (n - 1) + ["step", "evaluation", "checkpoint"].index(event)


def test_check_store_reads_the_wal_and_writes_nothing(tmp_path):
    """Rows only in the -wal file (a killed run) pass; a corrupt page does not."""
    from gan_nas_env.evaluators.store import ResultsStoreError, check_store

    db = tmp_path / "results.sqlite"
    store = ResultsStore(db)
    for i in range(50):
        store.put_evaluation("h", f"{i}", 0, 1, {"IS": 1.0, "FID": 2.0}, np.zeros(4))
    # the connection stays open, so nothing is checkpointed into the main file yet
    assert (tmp_path / "results.sqlite-wal").stat().st_size > db.stat().st_size
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    check_store(db)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # read_rows looks into a live run: it sees the WAL's rows and leaves the data files alone
    # (only the -shm index, SQLite's shared memory, records the reader)
    assert read_rows(db, "SELECT count(*) FROM evaluations") == [(50,)]
    data_files = ("results.sqlite", "results.sqlite-wal")
    assert {n: (tmp_path / n).read_bytes() for n in data_files} == {n: before[n] for n in data_files}
    store.close()
    data = bytearray(db.read_bytes())
    data[4096:8192] = b"Z" * 4096
    db.write_bytes(bytes(data))
    with pytest.raises(ResultsStoreError, match="cannot be used"):
        check_store(db)
    check_store(tmp_path / "missing.sqlite")  # nothing to check
