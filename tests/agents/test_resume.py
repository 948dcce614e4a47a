"""Kill a search with SIGKILL at random points, resume it, compare with an uninterrupted run."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

EPISODES = 5
ARGS = ["--config", "tiny", "--episodes", str(EPISODES), "--set", "search.learning_starts=4",
        "--set", "search.explore_fraction=0.6", "--no-progress"]


def search(out, *extra):
    cmd = [sys.executable, "-m", "gan_nas_env.cli", "search", *ARGS, "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def steps(out):
    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute('SELECT episode, step, arch, reward, "IS", FID FROM steps ORDER BY id').fetchall()
    con.close()
    return rows


def evaluations(out):
    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute("SELECT arch, seed, metrics, representation FROM evaluations ORDER BY arch, seed").fetchall()
    con.close()
    return rows


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    p = search(out)
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    return out


def test_kill_and_resume_matches_uninterrupted_run(reference, tmp_path):
    ref_steps = steps(reference)
    assert len(ref_steps) == 3 * EPISODES
    out = tmp_path / "run"
    rng = np.random.default_rng(0)
    p = search(out)
    kills = 0
    while True:
        time.sleep(float(rng.uniform(2.0, 6.0)))
        if p.poll() is not None:
            break
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        kills += 1
        p = search(out, "--resume")
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    assert kills >= 1, "the run finished before any kill; raise EPISODES"
    assert steps(out) == ref_steps
    assert evaluations(out) == evaluations(reference)


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
