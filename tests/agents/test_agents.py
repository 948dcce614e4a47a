import json

import numpy as np
import pytest
from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes

from agents.algorithms import ALGOS, make_agent, wrap_for_algo
from agents.callbacks import E2GANSchedule
from agents.hyperparams import load_hyperparams, parse_hyperparams
from agents.search import run_search
from gan_nas_env.config import ConfigError, load_config
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.evaluators import FakeEvaluator
from gan_nas_env.registry import UnknownNameError


def env_for(algo):
    return wrap_for_algo(GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8)), algo)


def test_sac_defaults_follow_e2gan():
    hp = load_hyperparams("sac")
    assert hp["learning_rate"] == 3e-4 and hp["gamma"] == 1.0 and hp["tau"] == 0.005
    assert hp["ent_coef"] == 0.1 and hp["learning_starts"] == 63  # first update at 64 stored
    assert hp["batch_size"] == 256
    model = make_agent("sac", env_for("sac"))
    assert model.ent_coef_tensor.item() == pytest.approx(0.1)  # fixed, not learned
    assert model.policy.actor.latent_pi[0].out_features == 128
    assert model.action_space.shape == (14,)


@pytest.mark.parametrize("algo", ["sac", "ppo", "dqn"])
def test_agents_learn_a_few_episodes(algo):
    overrides = {"learning_starts": 6} if ALGOS.get(algo).off_policy else {}
    model = make_agent(algo, env_for(algo), seed=0, overrides=overrides)
    model.learn(total_timesteps=30, callback=StopTrainingOnMaxEpisodes(10))
    assert model.num_timesteps >= 27


def test_ppo_uses_native_multidiscrete():
    model = make_agent("ppo", env_for("ppo"))
    assert list(model.action_space.nvec) == [2, 3, 3, 2, 2, 2]


def test_unknown_algorithm_and_bad_hyperparameter():
    with pytest.raises(UnknownNameError, match="unknown algorithm 'sacc'; known: .*sac"):
        ALGOS.get("sacc")
    with pytest.raises(ConfigError, match="bad hyper-parameter for sac"):
        make_agent("sac", env_for("sac"), overrides={"not_a_param": 1})
    with pytest.raises(ConfigError, match="name:value"):
        parse_hyperparams(["lr=3"])
    assert parse_hyperparams(["learning_rate:1e-3"]) == {"learning_rate": 1e-3}


def test_schedule_switches_to_deterministic_exploit():
    env = env_for("sac")
    model = make_agent("sac", env, seed=0, overrides={"learning_starts": 3})
    sched = E2GANSchedule(total_episodes=4, explore_fraction=0.5, exploit_gradient_steps=10)
    model.learn(total_timesteps=12, callback=[sched, StopTrainingOnMaxEpisodes(4)])
    assert sched.episodes_done == 4 and sched.exploiting
    assert model.gradient_steps == 10
    obs = np.zeros((1, 11), np.float32)
    a1 = model.predict(obs, deterministic=False)[0]
    a2 = model.predict(obs, deterministic=False)[0]
    assert np.array_equal(a1, a2)  # stochastic requests now act deterministically


def test_schedule_stays_stochastic_while_exploring():
    model = make_agent("sac", env_for("sac"), seed=0, overrides={"learning_starts": 3})
    sched = E2GANSchedule(total_episodes=10, explore_fraction=0.7)
    model.learn(total_timesteps=12, callback=[sched, StopTrainingOnMaxEpisodes(4)])
    assert not sched.exploiting and model.gradient_steps == 1
    obs = np.zeros((1, 11), np.float32)
    acts = {tuple(model.predict(obs)[0].ravel().round(4)) for _ in range(5)}
    assert len(acts) > 1


def test_run_search_writes_run_folder(tmp_path):
    cfg = load_config("tiny", {"search.learning_starts": 6, "search.top_k": 3})
    res = run_search(cfg, tmp_path / "run", algo="sac", episodes=6,
                     evaluator=FakeEvaluator(16), progress=False)
    out = tmp_path / "run"
    for name in ("config.yaml", "meta.json", "results.sqlite", "model.zip", "rewards.png",
                 "top_architectures.json", "best_grid.png"):
        assert (out / name).exists(), name
    top = json.loads((out / "top_architectures.json").read_text())
    assert len(top) >= 1 and top[0]["arch"] == res.best_arch
    assert res.episodes == 6
    assert [t["score"] for t in top] == sorted([t["score"] for t in top], reverse=True)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["algo"] == "sac" and meta["seed"] == 0 and "git_sha" in meta
