"""The algorithm registry: every agent ``gan-nas search`` and ``gan-nas benchmark`` can run.

One entry per name: where its class lives, the action space it acts in, and whether
it learns off-policy from a replay buffer. ``random`` (uniform random search) is an
algorithm like the SB3 ones, so every command takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gan_nas_env.registry import Registry

#: The wrapper each action kind needs around the env's native MultiDiscrete actions, as the
#: dotted class name that rl-zoo's ``env_wrapper`` hyper-parameter takes (None: no wrapper).
#: :func:`agents.algorithms.wrap_for_algo` applies it; the agent YAMLs name the same one.
ACTION_WRAPPERS: dict[str, str | None] = {
    "continuous": "gan_nas_env.envs.wrappers.DiscreteToContinuousAction",
    "multidiscrete": None,
    "discrete": "gan_nas_env.envs.wrappers.FlatDiscreteAction",
}


@dataclass(frozen=True)
class AlgoSpec:
    """Where an algorithm lives and which action space it needs."""

    module: str
    cls: str
    action: str  # continuous | multidiscrete | discrete
    off_policy: bool

    @property
    def env_wrapper(self) -> str | None:
        """Dotted name of the action wrapper this algorithm needs (None: the native space)."""
        return ACTION_WRAPPERS[self.action]


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
    "random": AlgoSpec("agents.random_search", "RandomSearch", "multidiscrete", False),
}.items():
    ALGOS.register(_name, _spec)
