import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback, StopTrainingOnMaxEpisodes

from agents.algorithms import ALGOS, make_agent, wrap_for_algo
from agents.callbacks import E2GANSchedule
from agents.random_search import RandomSearch
from gan_nas_env.envs.search_env import ACTION_NVEC, GANCellSearchEnv
from gan_nas_env.evaluators import FakeEvaluator

SHORT = {
    "sac": {"learning_starts": 3}, "td3": {"learning_starts": 3}, "ddpg": {"learning_starts": 3},
    "tqc": {"learning_starts": 3}, "crossq": {"learning_starts": 3, "batch_size": 8},
    "dqn": {"learning_starts": 3}, "qrdqn": {"learning_starts": 3},
    "ppo": {"n_steps": 6, "batch_size": 6, "n_epochs": 1},
    "maskable_ppo": {"n_steps": 6, "batch_size": 6, "n_epochs": 1},
    "a2c": {"n_steps": 3},
    "random": {},
}


def env():
    return GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8))


@pytest.mark.parametrize("algo", ALGOS.names())
def test_every_algorithm_runs_a_few_steps(algo):
    assert algo in SHORT, f"add {algo} to SHORT"
    model = make_agent(algo, wrap_for_algo(env(), algo), seed=0, overrides=SHORT[algo])
    model.learn(total_timesteps=12)
    assert model.num_timesteps >= 12


def test_maskable_ppo_never_picks_masked_skip_bits():
    from sb3_contrib.common.maskable.utils import get_action_masks

    e = env()
    model = make_agent("maskable_ppo", e, seed=0, overrides=SHORT["maskable_ppo"])
    model.learn(total_timesteps=12)
    for _ in range(20):
        obs, _ = e.reset()
        action, _ = model.predict(obs, action_masks=e.action_masks())
        assert action[4] == 0 and action[5] == 0  # depth 0: no earlier cell to skip from
        obs, *_ = e.step(action)
        action, _ = model.predict(obs, action_masks=e.action_masks())
        assert action[5] == 0
    assert get_action_masks(model.get_env()).shape == (1, 14)


class CountMaskedPicks(gym.Wrapper):
    """Counts the actions that pick a choice the env's action mask rules out."""

    def __init__(self, env):
        super().__init__(env)
        self.picks = self.masked = 0

    def action_masks(self):
        return self.env.unwrapped.action_masks()

    def step(self, action):
        mask, offsets = self.action_masks(), np.cumsum([0, *ACTION_NVEC[:-1]])
        self.picks += 1
        self.masked += int(not all(mask[o + a] for o, a in zip(offsets, np.asarray(action))))
        return self.env.step(action)


def test_maskable_ppo_keeps_its_masks_after_the_switch_to_exploitation():
    e = CountMaskedPicks(env())
    model = make_agent("maskable_ppo", e, seed=0, overrides=SHORT["maskable_ppo"])
    sched = E2GANSchedule(total_episodes=12, explore_fraction=0.25)
    model.learn(total_timesteps=36, callback=[sched, StopTrainingOnMaxEpisodes(12)])
    assert sched.exploiting and e.picks == 36  # 3 episodes exploring, 9 exploiting
    assert e.masked == 0
    for _ in range(10):  # predict too: deterministic now, and masked
        obs, _ = e.reset()
        a1, _ = model.predict(obs, action_masks=e.action_masks())
        a2, _ = model.predict(obs, deterministic=False, action_masks=e.action_masks())
        assert np.array_equal(a1, a2) and a1[4] == 0 and a1[5] == 0


def test_random_search_is_seeded_and_stops():
    def archs(seed):
        e = env()
        seen = []

        class Rec(BaseCallback):
            def _on_step(self):
                info = self.locals["infos"][0]
                if self.locals["dones"][0]:
                    seen.append(info["arch"])
                return len(seen) < 4

        model = make_agent("random", wrap_for_algo(e, "random"), seed=seed)
        assert isinstance(model, RandomSearch)
        model.learn(total_timesteps=30, callback=[Rec()])
        return seen

    assert archs(0) == archs(0) and len(archs(0)) == 4
    assert archs(0) != archs(1)
    assert np.all([len(a.split()) == 14 for a in archs(2)])


def test_benchmark_lists_every_algorithm_and_random_search():
    from agents.algorithms import algo_class
    from agents.benchmark.run import agent_names, check_agent
    from agents.optimizers import OPTIMIZERS

    # every RL algorithm, random search, and the classic NAS baselines (ask/tell optimizers)
    assert set(agent_names()) == set(ALGOS.names()) | set(OPTIMIZERS) and "random" in agent_names()
    assert {"re", "ls", "tpe"} <= set(agent_names())
    assert algo_class("random") is RandomSearch
    with pytest.raises(KeyError, match="known: a2c"):
        check_agent("nope")
