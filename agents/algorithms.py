"""Make any registered agent (SB3, sb3-contrib or ``random``) by name for GANCellSearch.

The names are :data:`agents.registry.ALGOS`; hyper-parameters come from
:mod:`agents.hyperparams` (``configs/agents/<algo>.yaml``, then ``overrides``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from agents.exploit import with_exploit_mode
from agents.hyperparams import (
    CLASS_PARAMS,
    check_hyperparams,
    drop_zoo_keys,
    load_hyperparams,
    resolve_class,
)
from agents.offpolicy import e2gan_off_policy
from agents.registry import ALGOS
from gan_nas_env.config import ConfigError

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = ["ALGOS", "algo_class", "env_wrapper_class", "make_agent", "wrap_for_algo"]


def algo_class(name: str) -> type[BaseAlgorithm]:
    """The SB3 class for ``name`` (case-insensitive).

    Every one has the :class:`~agents.exploit.ExploitMode` (deterministic acting, which
    :class:`~agents.callbacks.E2GANSchedule` switches on). Off-policy algorithms come with
    :class:`~agents.offpolicy.E2GANOffPolicy` mixed in: they act with their policy from the
    first step (E2GAN) unless made with ``random_warmup=True`` (SB3's uniform random
    actions before ``learning_starts``).
    """
    spec = ALGOS.get(name.lower())
    cls = getattr(importlib.import_module(spec.module), spec.cls)
    return e2gan_off_policy(cls) if spec.off_policy else with_exploit_mode(cls)


def env_wrapper_class(name: str) -> type[gym.Wrapper] | None:
    """The action wrapper ``name`` needs, or None on the native MultiDiscrete space.

    :class:`~gan_nas_env.envs.wrappers.DiscreteToContinuousAction` for the continuous
    algorithms, :class:`~gan_nas_env.envs.wrappers.FlatDiscreteAction` for DQN and
    QR-DQN: the class the agent YAML's ``env_wrapper`` (rl-zoo's key) names too
    (:data:`agents.registry.ACTION_WRAPPERS`).
    """
    dotted = ALGOS.get(name.lower()).env_wrapper
    return None if dotted is None else resolve_class(dotted, "env_wrapper")


def wrap_for_algo(env: gym.Env, name: str) -> gym.Env:
    """Wrap the MultiDiscrete env into the action space ``name`` needs."""
    wrapper = env_wrapper_class(name)
    return env if wrapper is None else wrapper(env)


def make_agent(
    name: str,
    env: gym.Env | Any,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    env_id: str = "GANCellSearch-v0",
    tensorboard_log: str | Path | None = None,
    verbose: int = 0,
) -> Any:
    """Build the SB3 agent ``name`` on ``env`` (already wrapped by :func:`wrap_for_algo`).

    :param name: algorithm name, e.g. ``sac``, ``ppo``, ``dqn`` (see ``ALGOS.names()``).
    :param env: a gymnasium env or SB3 VecEnv.
    :param overrides: hyper-parameters that win over the YAML file. Besides SB3's,
        off-policy agents take ``random_warmup`` (see :func:`algo_class`);
        ``replay_buffer_class`` may be a dotted class name. rl-zoo's own keys
        (:data:`agents.hyperparams.ZOO_ONLY_KEYS`) are checked and ignored, as in the YAML.
    """
    cls = algo_class(name)
    params = load_hyperparams(name, env_id)
    params.update(drop_zoo_keys(name, dict(overrides or {}), "overrides"))
    check_hyperparams(name, params)
    for key in CLASS_PARAMS:
        if key in params:
            params[key] = resolve_class(params[key], key)
    buffer_cls = params.get("replay_buffer_class")
    if buffer_cls is not None:
        from stable_baselines3.common.buffers import ReplayBuffer

        if not issubclass(buffer_cls, ReplayBuffer):
            raise ConfigError(f"replay_buffer_class {buffer_cls.__qualname__} is not an SB3 ReplayBuffer")
    policy = params.pop("policy", "MlpPolicy")
    try:
        return cls(
            policy, env, seed=seed, verbose=verbose,
            tensorboard_log=str(tensorboard_log) if tensorboard_log else None, **params,
        )
    except TypeError as exc:
        raise ConfigError(f"bad hyper-parameter for {name}: {exc}") from None
