"""Make any stable-baselines3 (or sb3-contrib) agent by name for GANCellSearch.

Hyper-parameters live in ``configs/agents/<algo>.yaml`` keyed by env id (with a
``default`` entry), rl-zoo style; precedence: YAML < ``overrides``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import yaml

from agents.offpolicy import e2gan_off_policy
from gan_nas_env.config import CONFIG_DIR, ConfigError, parse_scalar
from gan_nas_env.envs.wrappers import DiscreteToContinuousAction, FlatDiscreteAction
from gan_nas_env.registry import Registry

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

AGENT_CONFIG_DIR = CONFIG_DIR / "agents"


@dataclass(frozen=True)
class AlgoSpec:
    """Where an algorithm lives and which action space it needs."""

    module: str
    cls: str
    action: str  # continuous | multidiscrete | discrete
    off_policy: bool


ALGOS: Registry[AlgoSpec] = Registry("algorithm")
for _name, _spec in {
    "sac": AlgoSpec("stable_baselines3", "SAC", "continuous", True),
    "td3": AlgoSpec("stable_baselines3", "TD3", "continuous", True),
    "ddpg": AlgoSpec("stable_baselines3", "DDPG", "continuous", True),
    "tqc": AlgoSpec("sb3_contrib", "TQC", "continuous", True),
    "crossq": AlgoSpec("sb3_contrib", "CrossQ", "continuous", True),
    "ppo": AlgoSpec("stable_baselines3", "PPO", "multidiscrete", False),
    "a2c": AlgoSpec("stable_baselines3", "A2C", "multidiscrete", False),
    "maskable_ppo": AlgoSpec("sb3_contrib", "MaskablePPO", "multidiscrete", False),
    "dqn": AlgoSpec("stable_baselines3", "DQN", "discrete", True),
    "qrdqn": AlgoSpec("sb3_contrib", "QRDQN", "discrete", True),
}.items():
    ALGOS.register(_name, _spec)


def algo_class(name: str) -> type[BaseAlgorithm]:
    """The SB3 class for ``name`` (case-insensitive).

    Off-policy algorithms come with :class:`~agents.offpolicy.E2GANOffPolicy` mixed
    in: they act with their policy from the first step (E2GAN) unless made with
    ``random_warmup=True`` (SB3's uniform random actions before ``learning_starts``).
    """
    spec = ALGOS.get(name.lower())
    cls = getattr(importlib.import_module(spec.module), spec.cls)
    return e2gan_off_policy(cls) if spec.off_policy else cls


CLASS_PARAMS = ("replay_buffer_class",)  # hyper-parameters that name a class (dotted path)


def resolve_class(value: Any, key: str = "class") -> Any:
    """``"agents.replay.WithoutReplacementReplayBuffer"`` -> that class (classes pass through)."""
    if not isinstance(value, str):
        return value
    module, _, attr = value.rpartition(".")
    if not module:
        raise ConfigError(f"{key} {value!r} must be a dotted name, e.g. "
                          "agents.replay.WithoutReplacementReplayBuffer")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"unknown {key} {value!r}: {exc}") from None
    if not isinstance(obj, type):
        raise ConfigError(f"{key} {value!r} is not a class")
    return obj


def wrap_for_algo(env: gym.Env, name: str) -> gym.Env:
    """Wrap the MultiDiscrete env into the action space ``name`` needs."""
    spec = ALGOS.get(name.lower())
    if spec.action == "continuous":
        return DiscreteToContinuousAction(env)
    if spec.action == "discrete":
        return FlatDiscreteAction(env)
    return env


def load_hyperparams(name: str, env_id: str = "GANCellSearch-v0") -> dict[str, Any]:
    """Hyper-parameters of ``name`` for ``env_id`` from ``configs/agents/<name>.yaml``.

    Every algorithm in :data:`ALGOS` has its file; a missing one is a broken install or
    checkout (a :class:`ConfigError`), never a silent fall-back to SB3's defaults.
    """
    ALGOS.get(name.lower())  # unknown name: the registry's error, listing the algorithms
    path = AGENT_CONFIG_DIR / f"{name.lower()}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"hyper-parameter file {str(path)!r} for algorithm {name.lower()!r} is missing; "
            f"every algorithm in ALGOS needs configs/agents/{name.lower()}.yaml (with a "
            "'default' entry). Restore it from the checkout, or reinstall the package "
            "(pip install . ships configs/ as gan_nas_env/configs)."
        )
    table = yaml.safe_load(path.read_text()) or {}
    params = dict(table.get("default", {}))
    params.update(table.get(env_id, {}))
    return params


def parse_hyperparams(items: list[str]) -> dict[str, Any]:
    """``["learning_rate:1e-3", "batch_size:32"]`` -> dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if ":" not in item:
            raise ConfigError(f"hyper-parameter {item!r} must look like name:value")
        key, raw = item.split(":", 1)
        out[key.strip()] = parse_scalar(raw)
    return out


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
        ``replay_buffer_class`` may be a dotted class name.
    """
    cls = algo_class(name)
    params = load_hyperparams(name, env_id)
    params.update(overrides or {})
    params.pop("n_timesteps", None)
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
