"""Action wrappers that let any SB3 algorithm drive GANCellSearch."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _nvec(env: gym.Env) -> np.ndarray:
    space = env.action_space
    if not isinstance(space, spaces.MultiDiscrete):
        raise TypeError(f"expects a MultiDiscrete action space, got {space}")
    return np.asarray(space.nvec, dtype=np.int64)


class DiscreteToContinuousAction(gym.ActionWrapper):
    """``Box(-1, 1, (sum(nvec),))`` logits; the argmax of each group is the discrete choice.

    For GANCellSearch the groups are (2, 3, 3, 2, 2, 2): 14 logits, as E2GAN's SAC.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.nvec = _nvec(env)
        self._splits = np.cumsum(self.nvec)[:-1]
        self._n_logits = int(self.nvec.sum())
        self.action_space = spaces.Box(-1.0, 1.0, (self._n_logits,), np.float32)

    def action(self, action: Any) -> np.ndarray:
        """Logits -> MultiDiscrete action (argmax per group; ties pick the first)."""
        logits = np.asarray(action, dtype=np.float64).reshape(-1)
        if logits.shape[0] != self._n_logits:
            raise ValueError(
                f"expected {self._n_logits} logits, got shape {np.shape(action)}"
            )
        return np.array([int(np.argmax(g)) for g in np.split(logits, self._splits)], np.int64)


class FlatDiscreteAction(gym.ActionWrapper):
    """``Discrete(prod(nvec))`` for DQN-type agents; the index unravels in C order."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.nvec = _nvec(env)
        self._n_actions = int(np.prod(self.nvec))
        self.action_space = spaces.Discrete(self._n_actions)

    def action(self, action: Any) -> np.ndarray:
        """Flat index -> MultiDiscrete action."""
        idx = int(np.asarray(action).reshape(()))
        if not 0 <= idx < self._n_actions:
            raise ValueError(f"action {idx} outside Discrete({self._n_actions})")
        return np.array(np.unravel_index(idx, tuple(self.nvec)), dtype=np.int64)
