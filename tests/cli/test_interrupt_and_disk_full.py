"""Ctrl-C, a full disk and a search with nothing scored: one true line, what is kept, how to go on.

Searches run the fake evaluator on the tiny config through ``gan-nas search`` in-process;
the interrupt and the full disk are injected at an exact step (no timers), the real ones
are exercised by ``scripts/reliability.py`` (docs/reliability.md).
"""

from __future__ import annotations

import errno
import sqlite3

import pytest

import agents.search
from gan_nas_env import cli
from gan_nas_env.errors import EXIT_DISK_FULL, EXIT_INTERRUPTED, disk_full
from gan_nas_env.evaluators import FakeEvaluator
from gan_nas_env.space import SPACE, Architecture

SETS = ["--set", "search.learning_starts=4", "--set", "search.explore_fraction=0.5"]


@pytest.fixture
def with_evaluator(monkeypatch):
    """``gan-nas search`` with the given evaluator (the command itself always asks for 'real')."""
    real = agents.search.run_search

    def use(make):
        monkeypatch.setattr(agents.search, "run_search", lambda *a, **k: real(*a, **{**k, "evaluator": make()}))

    return use


def search(out, *extra):
    return cli.main(["search", "--config", "tiny", *SETS, "--episodes", "3", "--no-progress",
                     "--out", str(out), *extra])


def steps(out):
    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute("SELECT episode, step, arch, reward FROM steps ORDER BY id").fetchall()
    con.close()
    return rows


def test_ctrl_c_exits_130_with_one_line_and_the_run_resumes(tmp_path, with_evaluator, capsys):
    with_evaluator(lambda: FakeEvaluator(16))
    assert search(tmp_path / "ref") == 0
    with_evaluator(lambda: FakeEvaluator(16, interrupt_at=5))  # Ctrl-C in episode 1
    out = tmp_path / "run"
    capsys.readouterr()
    assert search(out) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err == (f"gan-nas search: interrupted; finished results in {out} are kept: "
                   f"continue with gan-nas search --out {out} --resume\n")
    assert 0 < len(steps(out)) < len(steps(tmp_path / "ref"))
    with_evaluator(lambda: FakeEvaluator(16))
    assert search(out, "--resume") == 0
    assert steps(out) == steps(tmp_path / "ref")


def test_a_full_disk_exits_4_with_one_line(tmp_path, with_evaluator, capsys, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with_evaluator(lambda: FakeEvaluator(16))
    monkeypatch.setattr(agents.search, "save_checkpoint", full)
    out = tmp_path / "run"
    assert search(out) == EXIT_DISK_FULL
    err = capsys.readouterr().err
    assert err.startswith("gan-nas search: error: no space left on the device ([Errno 28]")
    assert err.endswith(f"continue with gan-nas search --out {out} --resume\n") and err.count("\n") == 1


def test_another_os_error_keeps_its_traceback(tmp_path, with_evaluator, monkeypatch):
    def denied(*a, **k):
        raise OSError(errno.EACCES, "Permission denied")

    with_evaluator(lambda: FakeEvaluator(16))
    monkeypatch.setattr(agents.search, "save_checkpoint", denied)
    with pytest.raises(PermissionError):
        search(tmp_path / "run")


def test_a_search_that_scored_nothing_does_not_claim_a_grid(tmp_path, with_evaluator, capsys):
    first_cells = {str(Architecture((c,))) for c in SPACE.cells(0)}
    with_evaluator(lambda: FakeEvaluator(16, diverge_at=first_cells))
    out = tmp_path / "run"
    assert search(out) == 0
    printed = capsys.readouterr().out
    assert "no complete architecture was scored" in printed
    assert not (out / "best_grid.png").exists()
    assert "best_grid.png" not in printed and f"wrote {out}/results.sqlite" in printed


@pytest.mark.parametrize(("exc", "full"), [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"), True),
    (RuntimeError("boom"), False),
    (ValueError("boom"), False),
])
def test_disk_full_recognises_what_a_full_disk_raises(exc, full):
    assert disk_full(exc) is full


def test_disk_full_follows_the_chain_and_sqlite():
    con = sqlite3.connect(":memory:")
    con.execute("PRAGMA max_page_count=2")  # a database that cannot grow: SQLITE_FULL
    with pytest.raises(sqlite3.OperationalError) as info:
        con.execute("CREATE TABLE t (x BLOB)")
        con.execute("INSERT INTO t VALUES (zeroblob(100000))")
    assert disk_full(info.value)
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("saving failed") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
