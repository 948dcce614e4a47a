"""Bad input gets one clear message; the same seed reproduces a search bit for bit."""

import sqlite3
import subprocess
import sys

import pytest
import torch

from gan_nas_env.config import load_config
from gan_nas_env.devices import resolve_device
from gan_nas_env.evaluators import RealEvaluator
from gan_nas_env.evaluators.store import ResultsStore, ResultsStoreError


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU is available; use device='cpu'"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        RealEvaluator(load_config("tiny", {"device": "cuda"}))


def test_corrupted_results_store(tmp_path):
    p = tmp_path / "results.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ResultsStoreError, match="cannot be used .*move it away"):
        ResultsStore(p)


def test_locked_results_store_times_out_with_a_message(tmp_path):
    p = tmp_path / "results.sqlite"
    ResultsStore(p).close()
    holder = sqlite3.connect(p, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ResultsStoreError, match="cannot be used .*locked"):
            ResultsStore(p, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_results_store_keeps_committed_rows(tmp_path):
    p = tmp_path / "r.sqlite"
    s = ResultsStore(p)
    s.add_step("run", 0, 1, "0 0 0 0", 1.0, 2.0, {"IS": 1.0, "FID": 3.0}, False)
    # no close(): a killed process never closes; rows are committed as written
    assert list(ResultsStore(p).steps("run"))[0]["arch"] == "0 0 0 0"


def _search(out):
    cmd = [sys.executable, "-m", "gan_nas_env.cli", "search", "--config", "tiny", "--episodes", "3",
           "--set", "search.learning_starts=3", "--seed", "11", "--no-progress", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute('SELECT episode, step, arch, reward, "IS", FID, KID FROM steps ORDER BY id').fetchall()
    evs = con.execute("SELECT arch, seed, metrics, representation FROM evaluations ORDER BY arch").fetchall()
    con.close()
    return rows, evs


@pytest.mark.slow  # ~17 s on 2 cores: two subprocess searches
def test_two_processes_same_seed_same_results_bit_for_bit(tmp_path):
    a = _search(tmp_path / "a")
    b = _search(tmp_path / "b")
    assert len(a[0]) == 9
    assert a == b


def test_results_store_of_older_model_code_is_refused(tmp_path):
    """Evaluations made by other model code are never replayed: the store is refused."""
    import numpy as np

    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        store.put_evaluation("h", "", 0, 0, {"IS": 1.0, "FID": 2.0}, np.zeros(2))
    with ResultsStore(path) as store:  # this code's own store opens again
        assert store.count_evaluations() == 1
    con = sqlite3.connect(path)
    con.execute("DELETE FROM meta WHERE key='model_code'")  # a store from before the version
    con.commit()
    con.close()
    with pytest.raises(ResultsStoreError, match="model code v1.*new output folder"):
        ResultsStore(path)
    empty = tmp_path / "e.sqlite"
    ResultsStore(empty).close()
    con = sqlite3.connect(empty)
    con.execute("UPDATE meta SET value='7' WHERE key='model_code'")
    con.commit()
    con.close()
    with pytest.raises(ResultsStoreError, match="model code v7"):
        ResultsStore(empty)
