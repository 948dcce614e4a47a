"""ThreadVecEnv steps envs concurrently and gives exactly DummyVecEnv's results."""

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.vec_envs.thread import ThreadVecEnv
from gan_nas_env.config import load_config
from gan_nas_env.envs.search_env import GANCellSearchEnv


def rollout(venv_cls, steps=6):
    cfg = load_config("tiny")
    venv = venv_cls([lambda: GANCellSearchEnv(cfg, evaluator="real") for _ in range(2)])
    venv.seed(11)
    venv.action_space.seed(3)
    obs = [venv.reset()]
    out = []
    for _ in range(steps):
        o, r, d, infos = venv.step(np.stack([venv.action_space.sample() for _ in range(2)]))
        obs.append(o)
        out.append((r, d, [(i["arch"], i["IS"], i["FID"], "terminal_observation" in i) for i in infos]))
    venv.close()
    return obs, out


def test_thread_vec_env_matches_dummy_vec_env():
    torch.manual_seed(0)
    a_obs, a = rollout(DummyVecEnv)
    torch.manual_seed(0)
    b_obs, b = rollout(ThreadVecEnv)
    for x, y in zip(a_obs, b_obs):
        np.testing.assert_array_equal(x, y)
    for (ra, da, ia), (rb, db, ib) in zip(a, b):
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(da, db)
        assert ia == ib
    assert any(d.any() for _, d, _ in b)  # episodes ended and auto-reset inside the rollout


def test_search_with_thread_workers_records_every_episode_once(tmp_path):
    from agents.search import run_search
    from gan_nas_env.evaluators.store import ResultsStore

    res = run_search(load_config("tiny"), tmp_path / "run", episodes=4, workers=2, vec_env="thread",
                     progress=False)
    assert res.episodes >= 4 and res.best_arch is not None
    with ResultsStore(tmp_path / "run" / "results.sqlite") as store:
        steps = list(store.steps(res.run_id))  # keyed by the run id of meta.json
    keys = [(s["episode"], s["step"]) for s in steps]
    assert len(keys) == len(set(keys)) == 3 * res.episodes  # run-wide episode numbers
    assert sorted({e for e, _ in keys}) == list(range(res.episodes))
    assert (tmp_path / "run" / "best_grid.png").exists()


def test_cli_rejects_a_ray_address_with_thread_workers(tmp_path, capsys):
    from gan_nas_env.cli import main

    code = main(["search", "--config", "tiny", "--workers", "2", "--vec-env", "thread",
                 "--ray-address", "1.2.3.4:6379", "--out", str(tmp_path / "r")])
    assert code == 2 and "--ray-address needs --vec-env ray" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("graphs", [
    False,  # what `gan-nas search --vec-env thread` runs on a GPU (agents.search.threads_config)
    pytest.param(True, marks=pytest.mark.xfail(
        reason="first H200 (2026-12-04): a capture in one thread while another scored failed "
               "with 'operation not permitted when stream is capturing'", strict=False)),
])
def test_thread_vec_env_on_cuda_streams_matches_dummy_vec_env(graphs):
    """Concurrent envs on one GPU, each on its own stream (with graphs: captured while others run)."""
    def run(cls):
        cfg = load_config("tiny", {"device": "cuda", "train.d_iters_per_cell": 40, "train.cuda_graphs": graphs})
        venv = cls([lambda: GANCellSearchEnv(cfg, evaluator="real") for _ in range(3)])
        venv.seed(5)
        venv.action_space.seed(2)
        venv.reset()
        out = []
        for _ in range(6):
            _, r, _, infos = venv.step(np.stack([venv.action_space.sample() for _ in range(3)]))
            out.append([(i["arch"], i["IS"], i["FID"]) for i in infos])
        venv.close()
        return out

    for a, b in zip(run(DummyVecEnv), run(ThreadVecEnv)):
        for (arch_a, is_a, fid_a), (arch_b, is_b, fid_b) in zip(a, b):
            assert arch_a == arch_b
            assert is_a == pytest.approx(is_b, rel=1e-2) and fid_a == pytest.approx(fid_b, rel=5e-2)


def test_envs_in_threads_on_a_gpu_run_without_cuda_graphs(monkeypatch, caplog):
    """Capturing in one thread while another scores failed on a real GPU: graphs go off, loudly,
    for 2+ envs on CUDA only (a speed-only switch: the proxy hash stays)."""
    from agents import search as search_module
    from gan_nas_env import devices

    cfg = load_config("tiny", {"device": "cuda"})
    assert cfg.train.cuda_graphs
    monkeypatch.setattr(devices, "resolve_device", lambda d: torch.device(d))  # no GPU needed
    with caplog.at_level("WARNING"):
        off = search_module.threads_config(cfg, 2)
    assert not off.train.cuda_graphs and off.proxy_hash() == cfg.proxy_hash()
    assert "CUDA graphs off" in caplog.text
    assert search_module.threads_config(cfg, 1) is cfg  # one env: nothing runs beside a capture
    cpu = load_config("tiny", {"device": "cpu"})
    assert search_module.threads_config(cpu, 4) is cpu
