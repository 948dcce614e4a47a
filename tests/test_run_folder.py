"""The run-folder contract (gan_nas_env/run_folder.py) as every command uses it.

Searches run the fake evaluator on the tiny config (a few episodes, seconds); the lock is
held from this process through the API (flock locks of two open files conflict even inside
one process), so no test sleeps or races.
"""

import gc
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import agents.search
from agents.checkpoint import find_checkpoint, load_state
from agents.search import run_search
from gan_nas_env import cli, user_files
from gan_nas_env.config import load_config
from gan_nas_env.errors import EXIT_BAD_INPUT
from gan_nas_env.evaluators import FakeEvaluator
from gan_nas_env.evaluators.store import KILL_AT_ENV, ResultsStore
from gan_nas_env.run_folder import (
    RunFolderError,
    RunLock,
    RunLockedError,
    folder_kind,
    open_run,
    read_meta,
    run_id,
)

SETS = {"search.learning_starts": 4, "search.explore_fraction": 0.5, "search.top_k": 20}
CLI_SETS = [x for k, v in SETS.items() for x in ("--set", f"{k}={v}")]


def tiny(**overrides):
    return load_config("tiny", {**SETS, **overrides})


def search(out, episodes=3, evaluator=None, **kw):
    return run_search(tiny(), out, algo="sac", episodes=episodes,
                      evaluator=evaluator or FakeEvaluator(16), progress=False, **kw)


def snapshot(folder):
    """Every file of ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def steps(out):
    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute("SELECT run, episode, step, arch, reward FROM steps ORDER BY id").fetchall()
    con.close()
    return rows


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 3-episode search (tiny's preset says 4)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    res = search(out)
    assert res.episodes == 3
    return out


@pytest.fixture
def fake_cli(monkeypatch):
    """``gan-nas search`` with the fake evaluator (the command itself always asks for 'real')."""
    real = agents.search.run_search
    monkeypatch.setattr(agents.search, "run_search", lambda *a, **k: real(*a, **{**k, "evaluator": "fake"}))


def cli_search(out, *extra):
    return cli.main(["search", "--config", "tiny", *CLI_SETS, "--no-progress", "--out", str(out), *extra])


# -- what a run folder records ------------------------------------------------------------------
def test_a_run_folder_records_kind_id_and_provenance(finished):
    meta = read_meta(finished)
    assert meta["kind"] == "search" and folder_kind(finished) == "search"
    assert len(meta["id"]) == 12 and meta["id"] != finished.name and run_id(finished) == meta["id"]
    for key in ("command", "seed", "version", "git_sha", "machine", "started", "proxy_hash"):
        assert key in meta, key
    assert meta["episodes"] == 3 and meta["algo"] == "sac"
    assert (finished / "config.yaml").is_file() and (finished / "run.lock").read_text() == ""
    assert {r[0] for r in steps(finished)} == {meta["id"]}  # steps keyed by the id, not the name


# -- an existing folder is never overwritten ----------------------------------------------------
def test_search_onto_a_finished_run_is_refused_and_changes_nothing(finished, capsys):
    before = snapshot(finished)
    assert cli_search(finished, "--episodes", "3") == 2
    err = capsys.readouterr().err
    assert "already holds a search run" in err and "--resume" in err and "--overwrite" in err
    assert err.count("\n") == 1
    with pytest.raises(RunFolderError, match="already holds a search run"):
        search(finished)
    assert snapshot(finished) == before


def test_overwrite_deletes_and_starts_again(tmp_path):
    out = tmp_path / "run"
    search(out, episodes=2)
    old = run_id(out)
    res = search(out, episodes=3, overwrite=True)
    assert res.episodes == 3 and run_id(out) != old
    assert {r[0] for r in steps(out)} == {run_id(out)} and len(steps(out)) == 9
    with pytest.raises(RunFolderError, match="exclude each other"):
        search(out, resume=True, overwrite=True)


def test_overwrite_keeps_the_old_run_until_the_new_one_ends(tmp_path):
    """A rerun with --overwrite that dies loses nothing: the old run waits in OUT.overwritten."""
    out = tmp_path / "run"
    search(out, episodes=2)
    before = snapshot(out)
    with pytest.raises(KeyboardInterrupt):  # killed at the rerun's first step
        search(out, episodes=3, overwrite=True, evaluator=FakeEvaluator(16, interrupt_at=1))
    aside = tmp_path / "run.overwritten"
    assert snapshot(aside) == {k: v for k, v in before.items() if k != "run.lock"}
    # a second --overwrite would replace the only copy of the finished run: refused, nothing written
    during = snapshot(out)
    with pytest.raises(RunFolderError, match=r"run.overwritten exists: .*move it back, or delete it"):
        search(out, episodes=3, overwrite=True)
    assert snapshot(out) == during and snapshot(aside) == {k: v for k, v in before.items() if k != "run.lock"}
    shutil.rmtree(aside)
    assert search(out, episodes=3, overwrite=True).episodes == 3
    assert not aside.exists()  # the rerun ended: the run it replaced is gone


def settled(folder):
    """``folder``'s files after a garbage collection: an unclosed results store would checkpoint
    its ``-wal`` file into results.sqlite right then (seen in CI as a refused command that
    "changed" a killed run's files, whenever the collector happened to run inside it)."""
    gc.collect()
    return snapshot(folder)


def held_open(folder):
    """The files under ``folder`` that this process still holds open (Linux: /proc/self/fd)."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # the listing's own descriptor, closed by now
            continue
        if target.startswith(f"{folder}{os.sep}"):
            held.add(Path(target).name)
    return held


@pytest.fixture
def no_gc():
    """No collection mid-test: what is still open stays open until the test looks."""
    gc.disable()
    yield
    gc.enable()


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


@needs_proc
def test_a_search_that_dies_has_closed_its_store(tmp_path, no_gc):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        search(out, episodes=3, evaluator=FakeEvaluator(16, interrupt_at=4))
    assert held_open(out) == set()  # neither the store nor the released lock
    files = snapshot(out)
    assert "results.sqlite-wal" not in files and settled(out) == files
    assert len(steps(out)) == 3  # the first episode, checkpointed into results.sqlite


@needs_proc
def test_a_resume_that_fails_after_opening_its_store_closes_it(tmp_path, no_gc, monkeypatch):
    out = tmp_path / "run"
    search(out, episodes=2)

    def broken(*args, **kwargs):  # any failure while the agent is restored, the store open
        raise RuntimeError("restoring failed")

    monkeypatch.setattr(agents.search, "_resume_from_checkpoint", broken)
    with pytest.raises(RuntimeError, match="restoring failed"):  # its traceback kept
        search(out, episodes=3, resume=True)
    assert "results.sqlite" not in held_open(out)
    files = snapshot(out)
    assert "results.sqlite-wal" not in files and settled(out) == files


@needs_proc
def test_a_search_of_parallel_envs_in_threads_leaves_no_store_open(tmp_path, no_gc):
    out = tmp_path / "run"
    res = run_search(tiny(), out, algo="sac", episodes=3, evaluator="fake", progress=False,
                     workers=2, vec_env="thread")
    assert "results.sqlite" not in held_open(out)
    files = snapshot(out)
    assert "results.sqlite-wal" not in files and settled(out) == files
    assert res.episodes >= 3 and len(steps(out)) == 3 * res.episodes  # 4-cell tiny episodes: 3 steps


def test_overwrite_of_the_current_folder_keeps_the_old_run_beside_it(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    search(".", episodes=2)
    with pytest.raises(KeyboardInterrupt):
        search(".", episodes=3, overwrite=True, evaluator=FakeEvaluator(16, interrupt_at=1))
    assert (tmp_path / "here.overwritten" / "top_architectures.json").is_file()


def test_a_folder_that_is_no_run_is_refused_even_with_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="neither empty nor a gan-nas run folder"):
        search(tmp_path, overwrite=True)
    assert snapshot(tmp_path) == {"notes.txt": b"mine"}


def test_empty_folder_and_a_run_killed_before_its_first_checkpoint_are_used(tmp_path):
    assert search(tmp_path, episodes=1).episodes == 1  # pytest's tmp_path exists, empty
    out = tmp_path / "early"
    with pytest.raises(KeyboardInterrupt):  # killed in its first episode: nothing to resume
        search(out, evaluator=FakeEvaluator(16, interrupt_at=2))
    rid = run_id(out)
    assert search(out, episodes=2).episodes == 2  # starts over, same id, its partial steps gone
    assert run_id(out) == rid and len(steps(out)) == 6


def test_another_kind_is_refused_even_with_resume(finished, tmp_path, capsys):
    before = snapshot(finished)
    for extra in ([], ["--resume"], ["--overwrite"]):
        assert cli.main(["retrain", "--arch", "e2gan", "--config", "tiny", "--out", str(finished),
                         "--no-progress", *extra]) == 2
        err = capsys.readouterr().err
        assert f"{finished} is a search run folder, not a retrain one" in err, err
        assert err.count("\n") == 1
    assert snapshot(finished) == before
    other = tmp_path / "retrain-run"
    open_run(other, "retrain", tiny(), extra={"arch": "x"}).close()
    (other / "checkpoint.pt").write_bytes(b"not read")
    before = snapshot(other)
    assert cli_search(other, "--resume") == 2
    assert "is a retrain run folder, not a search one" in capsys.readouterr().err
    for kind in ("benchmark", "toy", "pbt", "evaluate"):
        with pytest.raises(RunFolderError, match=f"is a retrain run folder, not an? {kind} one"):
            open_run(other, kind, settings={})
    assert snapshot(other) == before


def test_benchmark_and_toy_refuse_an_existing_run(tmp_path, capsys):
    bench = tmp_path / "bench"
    open_run(bench, "benchmark", settings={}).close()
    (bench / "summary.json").write_text("{}")
    before = snapshot(bench)
    assert cli.main(["benchmark", "--algos", "random", "--seeds", "1", "--episodes", "1",
                     "--out", str(bench), "--no-progress"]) == 2
    assert "already holds a benchmark run (summary.json)" in capsys.readouterr().err
    assert snapshot(bench) == before
    toy = tmp_path / "toy"
    args = ["toy", "--steps", "2", "--batch", "16", "--eval-samples", "10", "--out", str(toy)]
    assert cli.main(args) == 0
    before = snapshot(toy)
    assert cli.main(args) == 2
    assert "already holds a toy run (metrics.json)" in capsys.readouterr().err
    assert snapshot(toy) == before
    assert cli.main([*args, "--overwrite"]) == 0
    assert read_meta(toy)["kind"] == "toy" and read_meta(toy)["settings"]["steps"] == 2


# -- one writer at a time -----------------------------------------------------------------------
def test_a_second_writer_is_refused_while_the_lock_is_held(finished, fake_cli, capsys):
    before = snapshot(finished)
    with RunLock(finished):  # this process holds run.lock, as a running search would
        pid = os.getpid()
        for extra in (["--resume"], ["--overwrite"], []):
            assert cli_search(finished, *extra) == 2
            err = capsys.readouterr().err
            assert f"another gan-nas process is writing {finished} (pid {pid})" in err, err
        with pytest.raises(RunLockedError, match=f"pid {pid}"):
            search(finished, resume=True)
        with pytest.raises(RunLockedError):
            open_run(finished, "search", tiny(), resume=True)
    assert snapshot(finished) == before
    RunLock(finished).check()  # released


def test_the_lock_is_held_while_the_run_writes_and_released_on_an_exception(tmp_path):
    out = tmp_path / "run"
    with open_run(out, "search", tiny()) as run:
        with pytest.raises(RunLockedError):
            RunLock(out).check()
        assert (out / "run.lock").read_text() == f"{os.getpid()}\n" and run.id == run_id(out)
    RunLock(out).check()
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "killed", evaluator=FakeEvaluator(16, interrupt_at=5))
    RunLock(tmp_path / "killed").check()  # the with-block released it on the way out


# -- resume: the run's own settings -------------------------------------------------------------
def test_resume_takes_the_runs_episodes(tmp_path, fake_cli, capsys):
    out = tmp_path / "run"
    assert cli_search(out, "--episodes", "3") == 0
    before = steps(out)
    capsys.readouterr()
    assert cli.main(["search", "--resume", "--out", str(out), "--no-progress"]) == 0
    assert f"{out} has done its 3 episodes: nothing to run" in capsys.readouterr().out
    assert steps(out) == before  # nothing redone differently, no rows deleted
    assert read_meta(out)["episodes"] == 3 and len(read_meta(out)["resumes"]) == 1
    # more episodes extend the search; fewer than done are refused
    assert cli.main(["search", "--resume", "--out", str(out), "--no-progress", "--episodes", "4"]) == 0
    assert len(steps(out)) == 12 and read_meta(out)["episodes"] == 4
    assert read_meta(out)["resumes"][-1]["changed"]["episodes"] == [3, 4]
    before = snapshot(out)
    assert cli.main(["search", "--resume", "--out", str(out), "--episodes", "2"]) == 2
    assert "--episodes 2 is fewer than the" in capsys.readouterr().err
    assert snapshot(out) == before


# -- resume of a finished run: nothing finished is lost or changed --------------------------------
def resume(out, *extra):
    return cli.main(["search", "--resume", "--out", str(out), "--no-progress", *extra])


def top_file(out):
    return json.loads((out / "top_architectures.json").read_text())


def names_existing_rows(out):
    """Every entry of top_architectures.json is a step row of results.sqlite, as it was."""
    con = sqlite3.connect(out / "results.sqlite")
    found = [con.execute("SELECT COUNT(*) FROM steps WHERE run=? AND episode=? AND step=? AND "
                         "arch=? AND score=?", (t["run"], t["episode"], t["step"], t["arch"],
                                                t["score"])).fetchone()[0] for t in top_file(out)]
    con.close()
    return all(found)


def ranked(top):
    return [(t["episode"], t["step"], t["arch"], t["score"]) for t in top]  # not the timings


def finished_files(out):
    """What a finished run holds: its rows, its top list, its agent and its checkpoint."""
    return {"steps": steps(out), **{k: v for k, v in snapshot(out).items()
                                    if k in ("top_architectures.json", "model.zip")
                                    or k.startswith("checkpoint/")}}


def test_a_finished_search_is_checkpointed_at_its_end(tmp_path):
    out = tmp_path / "run"
    search(out, episodes=2)
    ckpt = find_checkpoint(out)
    assert ckpt is not None and ckpt.name == "checkpoint"
    assert load_state(ckpt)["episodes_done"] == 2


def test_resume_with_fewer_episodes_than_done_is_refused_before_anything_is_written(
        tmp_path, fake_cli, capsys):
    out = tmp_path / "run"
    assert cli_search(out, "--episodes", "2") == 0
    before = snapshot(out)
    capsys.readouterr()
    assert resume(out, "--episodes", "1") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--episodes 1 is fewer than the 2 episodes it has done" in err
    assert snapshot(out) == before
    with pytest.raises(RunFolderError, match="fewer than the 2 episodes"):
        search(out, episodes=1, resume=True)
    assert snapshot(out) == before


def test_resume_of_a_finished_run_with_its_episodes_runs_nothing(tmp_path, fake_cli, capsys):
    out = tmp_path / "run"
    assert cli_search(out, "--episodes", "2") == 0
    before = finished_files(out)
    for extra in ([], ["--episodes", "2"]):
        capsys.readouterr()
        assert resume(out, *extra) == 0
        printed = capsys.readouterr().out
        assert f"{out} has done its 2 episodes: nothing to run" in printed, printed
        assert finished_files(out) == before
    assert read_meta(out)["episodes"] == 2


def test_extending_a_finished_run_never_changes_a_finished_episode(tmp_path, fake_cli):
    out = tmp_path / "run"
    assert cli_search(out, "--episodes", "2") == 0
    rows, top2 = steps(out), top_file(out)
    assert len(rows) == 6
    assert resume(out, "--episodes", "4") == 0
    assert steps(out)[:6] == rows and len(steps(out)) == 12
    assert [t for t in top_file(out) if t["episode"] < 2] == top2  # top_k 20: every one listed
    assert load_state(find_checkpoint(out))["episodes_done"] == 4 and names_existing_rows(out)


_FAKE_SEARCH = ("import sys, agents.search as s; from gan_nas_env import cli; real = s.run_search; "
                "s.run_search = lambda *a, **k: real(*a, **{**k, 'evaluator': 'fake'}); "
                "sys.exit(cli.main(sys.argv[1:]))")


def test_a_kill_during_an_extension_keeps_every_finished_episode(tmp_path, fake_cli):
    out = tmp_path / "run"
    assert cli_search(out, "--episodes", "2") == 0
    rows, top2 = steps(out), top_file(out)
    # the extension kills itself (SIGKILL, no timer) right after its first step row is committed
    env = {**os.environ, KILL_AT_ENV: "step:1"}
    p = subprocess.run([sys.executable, "-c", _FAKE_SEARCH, "search", "--resume", "--out", str(out),
                        "--no-progress", "--episodes", "4"], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert f"{KILL_AT_ENV}: killed at step:1\n" in p.stderr, p.stderr
    assert steps(out)[:6] == rows and len(steps(out)) == 7  # the first step of episode 3
    assert top_file(out) == top2 and names_existing_rows(out)
    assert resume(out) == 0  # on to the 4 episodes the extension asked for
    assert steps(out)[:6] == rows and len(steps(out)) == 12 and names_existing_rows(out)


def test_a_run_finished_before_end_checkpoints_is_redone_exactly_before_it_is_extended(
        tmp_path, fake_cli, monkeypatch, capsys):
    save = agents.search.save_checkpoint

    def no_end_checkpoint(out, model, env, state):  # as gan-nas-env did before
        if state["episodes_done"] < 2:
            save(out, model, env, state)

    out = tmp_path / "run"
    with monkeypatch.context() as m:
        m.setattr(agents.search, "save_checkpoint", no_end_checkpoint)
        assert cli_search(out, "--episodes", "2") == 0
    assert load_state(find_checkpoint(out))["episodes_done"] == 1
    before = snapshot(out)
    rows, top2 = steps(out), top_file(out)
    capsys.readouterr()
    for fewer in ("1", "3"):  # episode 2 could not be redone as it was
        assert resume(out, "--episodes", fewer) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--episodes 2" in err, err
    assert snapshot(out) == before
    assert resume(out) == 0  # redoes episode 2 from its checkpoint: the same rows
    assert steps(out) == rows and ranked(top_file(out)) == ranked(top2)
    assert load_state(find_checkpoint(out))["episodes_done"] == 2
    assert resume(out, "--episodes", "3") == 0
    assert steps(out)[:6] == rows and len(steps(out)) == 9


def test_resume_refuses_a_change_to_the_proxy_and_to_the_search(finished, fake_cli, capsys):
    before = snapshot(finished)
    for change, needle in [("train.g_lr=0.0001", "refuses a change to the proxy"),
                           ("data.synthetic_images=128", "refuses a change to the proxy"),
                           ("env.alpha=0.5", "refuses a change to settings the run was started with"),
                           ("search.explore_fraction=0.9", "settings the run was started with")]:
        assert cli.main(["search", "--resume", "--out", str(finished), "--set", change]) == 2
        err = capsys.readouterr().err
        assert needle in err and change.split("=")[0] in err and err.count("\n") == 1, err
    assert cli.main(["search", "--resume", "--out", str(finished), "--seed", "1"]) == 2
    assert "seed: 0 (run) != 1 (now)" in capsys.readouterr().err
    assert cli.main(["search", "--resume", "--out", str(finished), "--algo", "td3"]) == 2
    assert "it searches with sac, not td3" in capsys.readouterr().err
    assert cli.main(["search", "--resume", "--out", str(finished), "--hyperparams", "tau:0.5"]) == 2
    assert "hyper-parameters" in capsys.readouterr().err
    with pytest.raises(RunFolderError, match=r"proxy hash .*train\.g_lr: 0\.0002 \(run\) != 0\.0001"):
        run_search(tiny(**{"train.g_lr": 1e-4}), finished, evaluator=FakeEvaluator(16),
                   progress=False, resume=True)
    assert snapshot(finished) == before


def test_resume_accepts_what_does_not_change_the_run(tmp_path, fake_cli):
    out = tmp_path / "run"
    assert cli_search(out, "--episodes", "3") == 0
    before = steps(out)
    assert cli.main(["search", "--resume", "--out", str(out), "--no-progress", "--device", "cpu",
                     "--set", "search.top_k=2", "--set", "metrics.batch_size=32"]) == 0
    assert steps(out) == before
    assert len(json.loads((out / "top_architectures.json").read_text())) == 2
    changed = read_meta(out)["resumes"][-1]["changed"]
    assert changed["search.top_k"] == [20, 2] and changed["metrics.batch_size"] == [64, 32]


# -- the run id, not the folder's name ----------------------------------------------------------
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    return out, search(out, episodes=6)


def _killed(out):
    with pytest.raises(KeyboardInterrupt):
        search(out, episodes=6, evaluator=FakeEvaluator(16, interrupt_at=11))
    assert (out / "checkpoint").is_dir()


def top(res):
    return [(t["arch"], t["score"]) for t in res.top]


def _compare(out, res, reference):
    ref_out, ref = reference
    assert res.episodes == 6 and top(res) == top(ref) and len(ref.top) > 3
    assert [r[1:] for r in steps(out)] == [r[1:] for r in steps(ref_out)]
    assert {r[0] for r in steps(out)} == {run_id(out)}


def test_a_moved_run_folder_resumes_with_its_top_list(tmp_path, reference):
    _killed(tmp_path / "a")
    shutil.move(tmp_path / "a", tmp_path / "b")
    res = search(tmp_path / "b", episodes=None, resume=True)
    _compare(tmp_path / "b", res, reference)
    shutil.copytree(tmp_path / "b", tmp_path / "c")  # a copy resumes too (a finished one here)
    assert top(search(tmp_path / "c", episodes=None, resume=True)) == top(reference[1])


def test_an_old_run_folder_without_id_still_resumes(tmp_path, reference):
    out = tmp_path / "old-run"
    _killed(out)
    meta = read_meta(out)  # the meta.json of a folder written before the contract
    for key in ("kind", "id", "proxy_hash"):
        meta.pop(key)
    (out / "meta.json").write_text(json.dumps(meta))
    (out / "run.lock").unlink()
    with ResultsStore(out / "results.sqlite") as store:  # its steps keyed by the folder's name
        store._con.execute("UPDATE steps SET run=?", (out.name,))
    assert folder_kind(out) == "search" and run_id(out) == out.name
    res = search(out, episodes=None, resume=True)
    _compare(out, res, reference)
    meta = read_meta(out)
    assert meta["kind"] == "search" and meta["id"] == out.name  # recorded on resume
    assert meta["started"] and meta["resumes"][-1]["at_episode"] == 3


# -- retrain and evaluate -----------------------------------------------------------------------
def test_retrain_and_evaluate_keep_to_the_contract(tmp_path, finished):
    from gan_nas_env.training.checkpoint_eval import evaluate_checkpoint
    from gan_nas_env.training.retrain import ResumeError, retrain

    cfg = load_config("tiny", {"retrain.g_iters": 2, "retrain.eval_every": 2})
    out = tmp_path / "rt"
    retrain(cfg, "e2gan", out, progress=False)
    meta = read_meta(out)
    assert meta["kind"] == "retrain" and meta["arch"] and meta["id"]
    before = snapshot(out)
    with pytest.raises(ResumeError, match="--overwrite"):
        retrain(cfg, "e2gan", out, progress=False)
    with pytest.raises(RunFolderError, match="search run folder, not a retrain one"):
        retrain(cfg, "e2gan", finished, resume=True, progress=False)
    with RunLock(out), pytest.raises(RunLockedError):
        retrain(cfg, "e2gan", out, resume=True, progress=False)
    assert snapshot(out) == before
    rec = evaluate_checkpoint(out / "best.pt", num_samples=64)
    assert rec["provenance"]["kind"] == "evaluate" and (out / "evaluation.json").is_file()
    with pytest.raises(RunFolderError, match="already holds evaluation.json"):
        evaluate_checkpoint(out / "best.pt", num_samples=64)
    evaluate_checkpoint(out / "best.pt", num_samples=64, overwrite=True)
    with pytest.raises(RunFolderError, match="search run folder, not an evaluate one"):
        evaluate_checkpoint(out / "best.pt", num_samples=64, out=finished)
    ev = tmp_path / "ev"
    evaluate_checkpoint(out / "best.pt", num_samples=64, out=ev)
    assert read_meta(ev)["kind"] == "evaluate" and (ev / "config.yaml").is_file()


def test_an_unwritable_out_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    import gan_nas_env.run_folder as rf

    # root may write anywhere, so the file system's answer is simulated; the real read-only
    # file system is a case of scripts/reliability.py (docs/reliability.md)
    real_access = rf.os.access  # only the run folder's side is unwritable (not the cache folder)
    monkeypatch.setattr(rf.os, "access", lambda path, mode: (not str(path).startswith(str(tmp_path))
                                                             and real_access(path, mode)))
    monkeypatch.setattr(user_files, "read_only_fs", lambda path: True)
    assert cli_search(tmp_path / "a" / "run") == 2
    assert capsys.readouterr().err.strip() == (
        f"gan-nas search: error: cannot write {tmp_path / 'a' / 'run'}: {tmp_path} is on a "
        "read-only file system; choose another --out")
    monkeypatch.setattr(user_files, "read_only_fs", lambda path: False)
    with pytest.raises(RunFolderError, match="no write permission"):
        rf.prepare_run(tmp_path / "run", "toy", settings={})
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_created_is_a_one_line_error(tmp_path, monkeypatch):
    # os.access can say yes where mkdir then fails (root on /proc): the first write says why
    from pathlib import Path

    import gan_nas_env.run_folder as rf

    plan = rf.prepare_run(tmp_path / "run", "toy", settings={})

    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(RunFolderError, match=r"cannot create .*run: No such file or directory; choose another --out"):
        plan.open()
    assert list(tmp_path.iterdir()) == []
