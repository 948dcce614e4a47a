"""Uniform random search as an SB3 algorithm, so ``search``, ``benchmark`` and resume take it.

:class:`RandomSearch` is a :class:`~stable_baselines3.common.base_class.BaseAlgorithm`
whose policy ignores the observation: every callback, ``save``/``load`` and the
search checkpoints work as for the learning agents. Actions are drawn from the action
space's seeded RNG (seeded by ``seed`` like every SB3 agent), one integer per
dimension, so the checkpoint's RNG states resume it exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import MaybeCallback

from agents.exploit import ExploitMode


class UniformPolicy(BasePolicy):
    """Uniformly random actions from the action space; nothing to learn."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, **kwargs: Any) -> None:
        super().__init__(observation_space, action_space, **kwargs)

    def _draw(self) -> np.ndarray:
        space = self.action_space
        if isinstance(space, spaces.MultiDiscrete):  # one integer per dimension
            rng = space.np_random
            return np.array([rng.integers(n) for n in space.nvec.ravel()]).reshape(space.shape)
        return np.asarray(space.sample())

    def _predict(self, observation: Any, deterministic: bool = False) -> torch.Tensor:
        n = 1
        if isinstance(observation, torch.Tensor):
            n = observation.shape[0]
        elif isinstance(observation, dict):
            n = next(iter(observation.values())).shape[0]
        return torch.as_tensor(np.stack([self._draw() for _ in range(n)]))


class RandomSearch(ExploitMode, BaseAlgorithm):
    """Random search: each step takes a uniformly random action (exploiting too).

    :param policy: ``"UniformPolicy"`` (or ``"MlpPolicy"``, the same here).
    :param env: the search env (MultiDiscrete or any other action space).
    :param seed: seeds the action space's RNG and the env's first reset.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "UniformPolicy": UniformPolicy, "MlpPolicy": UniformPolicy,
    }

    def __init__(
        self, policy: str | type[BasePolicy], env: Any, seed: int | None = None,
        tensorboard_log: str | None = None, verbose: int = 0, device: str = "cpu",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(policy, env, learning_rate=0.0, tensorboard_log=tensorboard_log,
                         verbose=verbose, device=device, support_multi_env=True, seed=seed)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space)

    def learn(
        self, total_timesteps: int, callback: MaybeCallback = None, log_interval: int = 100,
        tb_log_name: str = "random", reset_num_timesteps: bool = True, progress_bar: bool = False,
    ) -> RandomSearch:
        """Step the env until ``total_timesteps``; a callback returning False stops early.

        Every step is its own rollout (callbacks see ``on_rollout_start`` before each
        action, as with an off-policy agent trained every step).
        """
        total_timesteps, cb = self._setup_learn(total_timesteps, callback, reset_num_timesteps,
                                                tb_log_name, progress_bar)
        cb.on_training_start(locals(), globals())
        assert self.env is not None
        while self.num_timesteps < total_timesteps:
            cb.on_rollout_start()
            actions, _ = self.predict(self._last_obs)  # type: ignore[arg-type]
            new_obs, rewards, dones, infos = self.env.step(actions)
            self.num_timesteps += self.env.num_envs
            cb.update_locals(locals())
            if not cb.on_step():
                break
            self._update_info_buffer(infos, dones)
            self._last_obs = new_obs  # type: ignore[assignment]
            cb.on_rollout_end()
        cb.on_training_end()
        return self


__all__ = ["BaseCallback", "RandomSearch", "UniformPolicy"]
