"""Ray: envs in actors (RayVecEnv), worker crash recovery, population-based training.

CPU only, one local Ray instance per module (``ray.init(num_cpus=2)``).
"""

from __future__ import annotations

import json
import os
import select
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

from agents.algorithms import make_agent  # noqa: E402
from agents.search import SearchRecorder, ray_search_env, run_search  # noqa: E402
from agents.vec_envs.ray import RayVecEnv, StopOnCompletedEpisodes  # noqa: E402
from gan_nas_env.config import load_config  # noqa: E402
from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _tables(path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_two_workers_make_the_same_store_as_one(tmp_path):
    cfg = load_config("tiny")
    one = run_search(cfg, tmp_path / "one", algo="sac", episodes=4, evaluator="fake",
                     progress=False)
    two = run_search(cfg, tmp_path / "two", algo="sac", episodes=4, evaluator="fake",
                     progress=False, workers=2, cpus_per_worker=0.5)
    assert one.episodes == two.episodes == 4
    assert two.best_arch is not None and (tmp_path / "two" / "top_architectures.json").exists()
    assert _tables(tmp_path / "one" / "results.sqlite") == _tables(tmp_path / "two" / "results.sqlite")
    with ResultsStore(tmp_path / "two" / "results.sqlite") as store:
        steps = list(store.steps(two.run_id))  # keyed by the run id of meta.json
        per_episode = Counter(s["episode"] for s in steps)
        assert per_episode == {e: 3 for e in range(4)}
        assert all(sorted(s["step"] for s in steps if s["episode"] == e) == [1, 2, 3] for e in range(4))
        # both workers recorded their evaluations (each worker draws its own GAN seeds)
        seeds = {r["seed"] for r in store.evaluations(cfg.proxy_hash()) if r["depth"] > 0}
        assert len(seeds) >= 2


def _kill_and_wait(actor, timeout: float = 60.0) -> None:
    """SIGKILL the actor's worker process and block until it has exited.

    ``ray.kill`` is asynchronous (the next call may still reach the actor); a process that
    has exited cannot answer, so the next call to the actor fails for certain. The wait
    blocks on a pidfd, no polling; ``timeout`` only bounds a hang.
    """
    pid = ray.get(actor.__ray_call__.remote(lambda self: os.getpid()))
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    assert ready, f"actor process {pid} did not exit"


def test_ray_vec_env_restarts_a_killed_worker(tmp_path):
    cfg = load_config("tiny")
    venv = ray_search_env(cfg, "fake", "ppo", tmp_path / "r.sqlite", 2, cpus_per_worker=0.5)
    try:
        venv.seed(0)
        obs = venv.reset()
        assert obs.shape[0] == 2
        act = [venv.action_space.sample() for _ in range(2)]
        _, _, dones, infos = venv.step(act)
        assert not dones.any() and {i["worker"] for i in infos} == {0, 1}
        seed0 = infos[0]["gan_seed"]
        _kill_and_wait(venv.actors[0])  # worker 0 dies mid-episode
        obs, rewards, dones, infos = venv.step(act)
        assert dones[0] and infos[0]["worker_restarted"] and infos[0]["TimeLimit.truncated"]
        assert obs[0][0] == 0  # the retried episode starts at depth 0
        assert not dones[1] and "worker_restarted" not in infos[1]
        assert venv.restarts == [1, 0]
        for _ in range(3):  # the retried episode runs to its end, with the same GAN seed
            _, _, dones, infos = venv.step(act)
        assert infos[0]["gan_seed"] == seed0 and "arch" in infos[0]
        assert venv.env_method("action_masks", indices=[0])[0].shape == (14,)
        assert venv.get_attr("alpha") == [cfg.env.alpha] * 2
    finally:
        venv.close()


class KillOnce(BaseCallback):
    """Kills worker 0 after the first env step of the second episode (its next step fails)."""

    def __init__(self, venv: RayVecEnv) -> None:
        super().__init__()
        self.venv, self.killed = venv, False

    def _on_step(self) -> bool:
        if not self.killed and self.num_timesteps == 8:  # 2 envs x 4 steps: mid-episode
            _kill_and_wait(self.venv.actors[0])
            self.killed = True
        return True


def test_search_survives_a_killed_worker(tmp_path):
    cfg = load_config("tiny")
    venv = ray_search_env(cfg, "fake", "sac", tmp_path / "results.sqlite", 2, cpus_per_worker=0.5)
    store = ResultsStore(tmp_path / "results.sqlite")
    try:
        model = make_agent("sac", venv, overrides={"learning_starts": 4, "gradient_steps": -1,
                                                   "batch_size": 8})
        recorder = SearchRecorder(store, None, "run", tmp_path, 6, progress=False)
        kill = KillOnce(venv)
        model.learn(200, callback=[kill, recorder, StopOnCompletedEpisodes(6)])
        assert kill.killed and venv.restarts == [1, 0]
        assert len(recorder.episode_returns) >= 6
        per_episode = Counter(s["episode"] for s in store.steps("run"))
        complete = [e for e, n in per_episode.items() if n == 3]
        assert len(complete) >= 6
        # partial: the interrupted episode, and the other worker's episode in flight at the stop
        assert len(per_episode) - len(complete) <= 2
    finally:
        venv.close()
        store.close()


@pytest.mark.slow  # Ray Tune PBT: 10-45 s on 2 busy cores
def test_pbt_population_of_four_reports_its_best(tmp_path, small_table):
    from agents.pbt import ENT_RANGE, LR_RANGE, run_pbt

    table, _, _ = small_table
    res = run_pbt(tmp_path / "pbt", population=4, algo="sac", env_id="GANCellSearchBench-v0",
                  env_kwargs={"table": str(table)}, iterations=4, episodes_per_iter=3,
                  perturbation_interval=2, hyperparams={"learning_starts": 3, "batch_size": 8},
                  cpus_per_member=0.5)
    assert len(res.members) == 4
    assert all(m["training_iteration"] == 4 for m in res.members)
    for m in res.members:
        assert LR_RANGE[0] <= m["learning_rate"] <= LR_RANGE[1]
        assert ENT_RANGE[0] <= m["ent_coef"] <= ENT_RANGE[1]
    assert res.best_return == max(m["episode_return_mean"] for m in res.members)
    assert np.isfinite(res.best_score) and res.best_arch is not None
    assert res.best_checkpoint and (Path(res.best_checkpoint) / "model.zip").exists()
    assert json.loads((tmp_path / "pbt" / "pbt_summary.json").read_text())["best_arch"] == res.best_arch


def test_cli_search_passes_workers(monkeypatch, tmp_path):
    import agents.search
    from gan_nas_env.cli import main

    seen = {}

    def fake_run_search(cfg, out, **kw):
        seen.update(kw)
        raise RuntimeError("stop here")

    monkeypatch.setattr(agents.search, "run_search", fake_run_search)
    with pytest.raises(RuntimeError, match="stop here"):  # not bad input: it propagates
        main(["search", "--config", "tiny", "--out", str(tmp_path / "r"), "--workers", "3",
              "--ray-address", "1.2.3.4:6379", "--gpus-per-worker", "0.25"])
    assert seen["workers"] == 3 and seen["ray_address"] == "1.2.3.4:6379"
    assert seen["gpus_per_worker"] == 0.25
    assert main(["search", "--config", "tiny", "--workers", "0"]) == 2


@pytest.mark.slow  # Ray Tune PBT: 10-45 s on 2 busy cores
def test_cli_pbt(tmp_path, capsys):
    from gan_nas_env.cli import main

    rc = main(["pbt", "--population", "2", "--algo", "ppo", "--env", "GANCellSearch-v0",
               "--env-kwargs", '{"config": "tiny", "evaluator": "fake"}', "--iterations", "2",
               "--episodes-per-iter", "2", "--perturbation-interval", "1",
               "--cpus-per-member", "0.5", "--out", str(tmp_path / "pbt")])
    assert rc == 0
    assert "best agent: learning_rate=" in capsys.readouterr().out
    assert (tmp_path / "pbt" / "pbt_summary.json").exists()
