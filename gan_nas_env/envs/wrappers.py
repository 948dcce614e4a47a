"""Action wrappers that let any SB3 algorithm drive GANCellSearch.

Each wrapper accepts exactly the members of its own action space and refuses the rest with
an :class:`~gan_nas_env.envs.search_env.ActionError` (a ``ValueError``), as the base env
does: a float is never truncated to an index, a NaN logit never decides a choice. Each
records its constructor arguments (:class:`gymnasium.utils.RecordConstructorArgs`), so
``gym.make(env.spec)`` rebuilds a wrapped env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gan_nas_env.envs.search_env import ActionError


def _shown(action: Any) -> str:
    """``repr(action)`` on one line (numpy wraps the repr of a long array over several)."""
    return " ".join(repr(action).split())


def _nvec(env: gym.Env) -> np.ndarray:
    space = env.action_space
    if not isinstance(space, spaces.MultiDiscrete):
        raise TypeError(f"expects a MultiDiscrete action space, got {space}")
    return np.asarray(space.nvec, dtype=np.int64)


class DiscreteToContinuousAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """``Box(-1, 1, (sum(nvec),))`` logits; the argmax of each group is the discrete choice.

    For GANCellSearch the groups are (2, 3, 3, 2, 2, 2): 14 logits, as E2GAN's SAC. An
    action must be 14 finite real numbers in [-1, 1] (what SB3's agents send: they clip
    to the bounds); NaN, infinity, values outside the box, booleans, strings and other
    shapes are refused.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        self.nvec = _nvec(env)
        self._splits = np.cumsum(self.nvec)[:-1]
        self._n_logits = int(self.nvec.sum())
        self.action_space = spaces.Box(-1.0, 1.0, (self._n_logits,), np.float32)

    def action(self, action: Any) -> np.ndarray:
        """Logits -> MultiDiscrete action (argmax per group; ties pick the first)."""
        logits = np.asarray(action)
        bad = ""
        if logits.shape != (self._n_logits,):
            bad = f"shape {logits.shape}"
        elif logits.dtype == np.bool_ or not np.issubdtype(logits.dtype, np.number) \
                or np.issubdtype(logits.dtype, np.complexfloating):
            bad = f"dtype {logits.dtype}"
        elif not np.isfinite(logits).all():
            bad = "a NaN or infinite logit"
        elif (np.abs(logits) > 1.0).any():
            bad = f"a logit outside [-1, 1] ({float(logits[np.abs(logits) > 1.0][0])})"
        if bad:
            raise ActionError(
                f"action {_shown(action)} is outside the action space Box(-1, 1, ({self._n_logits},)) of "
                f"{type(self).__name__}: {bad}; expected {self._n_logits} logits (finite numbers in [-1, 1])"
            )
        groups = np.split(logits.astype(np.float64), self._splits)
        return np.array([int(np.argmax(g)) for g in groups], np.int64)


class FlatDiscreteAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """``Discrete(prod(nvec))`` for DQN-type agents; the index unravels in C order.

    An action is an integer (a Python ``int``, a numpy integer or a 0-d integer array) in
    ``[0, prod(nvec))``; floats (even 3.0), booleans, strings and arrays are refused.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        self.nvec = _nvec(env)
        self._n_actions = int(np.prod(self.nvec))
        self.action_space = spaces.Discrete(self._n_actions)

    def action(self, action: Any) -> np.ndarray:
        """Flat index -> MultiDiscrete action."""
        integral = (isinstance(action, int) and not isinstance(action, bool)) or (
            isinstance(action, (np.integer, np.ndarray)) and np.shape(action) == ()
            and np.issubdtype(np.asarray(action).dtype, np.integer))
        if not integral or not 0 <= int(action) < self._n_actions:
            raise ActionError(
                f"action {_shown(action)} is outside the action space Discrete({self._n_actions}) of "
                f"{type(self).__name__}: expected one integer in [0, {self._n_actions})"
            )
        return np.array(np.unravel_index(int(action), tuple(self.nvec)), dtype=np.int64)
