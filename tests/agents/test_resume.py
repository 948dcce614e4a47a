"""Kill a search with SIGKILL at exact store events, resume it, compare with an uninterrupted run.

No timers: each kill is triggered inside the child by the test hook of
``gan_nas_env.evaluators.store.kill_point`` (``GAN_NAS_ENV_TEST_KILL_AT=EVENT:N``: the child
kills itself right after its N-th EVENT), and the test blocks on the child's exit. So every
kill lands at the same point on every machine, however slow or busy.
"""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from agents.checkpoint import CKPT, OLD, TMP, find_checkpoint, load_state
from gan_nas_env.evaluators.store import KILL_AT_ENV, read_rows

EPISODES = 5
ARGS = ["--config", "tiny", "--episodes", str(EPISODES), "--set", "search.learning_starts=4",
        "--set", "search.explore_fraction=0.6", "--no-progress"]

# (kill at, what the killed process had done, step rows then, checkpoint folder, its episodes_done)
# Counts are per process: a resumed process counts its own events from 0. 3 steps per episode.
KILLS = [
    ("step:1", "first step of episode 0 committed, no checkpoint yet", 1, None, None),
    ("evaluation:1", "episode 0 restarted (no checkpoint); step 2's evaluation committed, "
     "its step row not", 1, None, None),
    ("step:4", "episode 0 redone, checkpoint 1 swapped in, first step of episode 1 committed",
     4, CKPT, 1),
    ("checkpoint:1", "episode 1 redone; checkpoint 2 complete in checkpoint.tmp/, not renamed",
     6, CKPT, 1),
    ("checkpoint-swap:1", "episode 1 redone; checkpoint 1 moved to checkpoint.old/, "
     "checkpoint 2 not yet renamed into place", 6, OLD, 1),
    ("step:4", "from checkpoint.old/: episode 1 redone, checkpoint 2, first step of episode 2",
     7, CKPT, 2),
    ("step:6", "episode 2 redone, checkpoint 3, episode 3 complete but not yet checkpointed",
     12, CKPT, 3),
]


def search(out, *extra, kill_at=None):
    cmd = [sys.executable, "-m", "gan_nas_env.cli", "search", *ARGS, "--out", str(out), *extra]
    env = {k: v for k, v in os.environ.items() if k != KILL_AT_ENV}
    if kill_at is not None:
        env[KILL_AT_ENV] = kill_at
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def killed_at(out, kill_at, *extra):
    """Run a search that kills itself at ``kill_at``; block until it is dead."""
    p = search(out, *extra, kill_at=kill_at)
    _, err = p.communicate(timeout=900)
    assert p.returncode == -signal.SIGKILL, f"not killed at {kill_at} (rc {p.returncode}): {err}"
    assert f"{KILL_AT_ENV}: killed at {kill_at}\n" in err, err


def steps(out, db="results.sqlite"):
    return read_rows(out / db, 'SELECT episode, step, arch, reward, "IS", FID FROM steps ORDER BY id')


def evaluations(out, db="results.sqlite"):
    return read_rows(out / db, "SELECT arch, seed, metrics, representation FROM evaluations "
                 "ORDER BY arch, seed")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    p = search(out)
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    return out


@pytest.mark.slow  # ~45 s on 2 cores: a reference search and five killed subprocess searches
def test_kill_and_resume_matches_uninterrupted_run(reference, tmp_path):
    ref_steps = steps(reference)
    assert len(ref_steps) == 3 * EPISODES
    out = tmp_path / "run"
    n_evals = []
    for i, (kill_at, what, rows, ckpt_name, done) in enumerate(KILLS):
        killed_at(out, kill_at, *(["--resume"] if i else []))
        where = f"kill {i + 1} at {kill_at} ({what})"
        assert len(steps(out)) == rows, where
        assert steps(out) == ref_steps[:rows], where  # what is committed is already final
        ckpt = find_checkpoint(out)
        assert (ckpt.name if ckpt else None) == ckpt_name, where
        assert ckpt is None or load_state(ckpt)["episodes_done"] == done, where
        if kill_at.startswith("checkpoint"):  # the next checkpoint is complete, not in place
            assert load_state(out / TMP)["episodes_done"] == done + 1, where
        n_evals.append(len(evaluations(out)))
    assert n_evals[1] == n_evals[0] + 1, "kill 2: an evaluation without its step row"
    p = search(out, "--resume")
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    assert not (out / TMP).exists() and not (out / OLD).exists()
    assert steps(out) == ref_steps
    assert evaluations(out) == evaluations(reference)


@pytest.mark.slow  # ~12 s on 2 cores, beside the reference search above
def test_a_copy_without_the_wal_file_keeps_the_finished_episodes(reference, tmp_path):
    """The store's advice: a copy of results.sqlite alone holds every finished episode."""
    out = tmp_path / "run"
    killed_at(out, "step:7")  # the first step of episode 2 (index 2) committed
    wal = out / "results.sqlite-wal"
    assert wal.exists() and wal.stat().st_size > 0  # the killed process left rows in the WAL
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("results.sqlite-wal",
                                                             "results.sqlite-shm"))
    assert not (copy / "results.sqlite-wal").exists()
    ref_steps = steps(reference)
    assert steps(out) == ref_steps[:7]
    assert steps(copy) == ref_steps[:6]  # episodes 0 and 1, every row
    evaluated = {arch for arch, *_ in evaluations(copy)}
    assert {arch for _, _, arch, *_ in steps(copy)} <= evaluated
    assert set(evaluations(copy)) <= set(evaluations(out))
    # and the copy resumes to the uninterrupted run
    p = search(copy, "--resume")
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    assert steps(copy) == ref_steps
    assert evaluations(copy) == evaluations(reference)


def test_resume_of_a_finished_run_changes_nothing(reference, tmp_path):
    before = steps(reference)
    p = search(reference, "--resume")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert steps(reference) == before


def test_resume_without_a_run_folder_is_an_error(tmp_path):
    p = search(tmp_path / "missing", "--resume")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 2 and "nothing to resume" in err
