"""Random search with the interface the benchmark uses for SB3 agents."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback


class RandomSearch:
    """Uniform random actions; ``learn`` runs episodes, callbacks see SB3-style locals.

    :param env: a gymnasium env (any action space).
    :param seed: seeds the action sampler and the env's first reset.
    """

    def __init__(self, env: gym.Env, seed: int = 0) -> None:
        self.env = env
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.num_timesteps = 0

    def predict(self, observation: Any, deterministic: bool = False) -> tuple[Any, None]:
        """A uniformly random action (``deterministic`` is ignored)."""
        space = self.env.action_space
        if isinstance(space, gym.spaces.MultiDiscrete):
            return np.array([self.rng.integers(n) for n in space.nvec]), None
        space.seed(int(self.rng.integers(2**31)))
        return space.sample(), None

    def learn(self, total_timesteps: int, callback: BaseCallback | list | None = None) -> RandomSearch:
        """Step the env ``total_timesteps`` times; a callback returning False stops early."""
        callbacks = callback if isinstance(callback, list) else [callback] if callback else []
        obs, _ = self.env.reset(seed=self.seed)
        for _ in range(total_timesteps):
            action, _ = self.predict(obs)
            obs, reward, term, trunc, info = self.env.step(action)
            self.num_timesteps += 1
            done = term or trunc
            locals_ = {"infos": [info], "rewards": [reward], "dones": [done]}
            stop = False
            for cb in callbacks:
                cb.locals = locals_
                if cb._on_step() is False:
                    stop = True
            if done:
                obs, _ = self.env.reset()
            if stop:
                break
        return self
