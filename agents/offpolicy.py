"""Off-policy SB3 algorithms with E2GAN's acting and batch rules.

SB3's off-policy algorithms take uniformly random actions (``action_space.sample()``)
while ``num_timesteps < learning_starts``; E2GAN's released search samples its
(stochastic) policy from episode 1. :func:`e2gan_off_policy` gives, for any SB3 /
sb3-contrib off-policy class, a subclass that acts with its policy from the first
step, with SB3's warm-up kept as the option ``random_warmup=True``.
``learning_starts`` still decides when training starts; DQN's epsilon-greedy
exploration is untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.exploit import ExploitMode, mixed_subclass
from agents.replay import WithoutReplacementReplayBuffer


class E2GANOffPolicy(ExploitMode):
    """Mixin (before the SB3 class), with the :class:`~agents.exploit.ExploitMode` of every agent.

    - no uniform random warm-up unless ``random_warmup``;
    - with a :class:`~agents.replay.WithoutReplacementReplayBuffer`, ``train`` asks for
      ``min(batch_size, stored transitions)``, the batch that buffer returns (TQC,
      CrossQ and QRDQN reshape by the requested size).

    :param random_warmup: keep SB3's uniform random actions while
        ``num_timesteps < learning_starts``. Saved with the model.
    """

    random_warmup: bool = False

    def __init__(self, *args: Any, random_warmup: bool = False, **kwargs: Any) -> None:
        self.random_warmup = bool(random_warmup)
        super().__init__(*args, **kwargs)

    def _sample_action(
        self, learning_starts: int, action_noise: Any = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        # SB3 samples the action space while num_timesteps < learning_starts: 0 disables that
        return super()._sample_action(  # type: ignore[misc]
            learning_starts if self.random_warmup else 0, action_noise, n_envs
        )

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        """SB3's update; ``batch_size`` is capped at a without-replacement buffer's size."""
        buffer = getattr(self, "replay_buffer", None)
        if isinstance(buffer, WithoutReplacementReplayBuffer):
            batch_size = min(batch_size, buffer.n_transitions())
        super().train(gradient_steps=gradient_steps, batch_size=batch_size)  # type: ignore[misc]


_CLASSES: dict[type, type] = {}


def e2gan_off_policy(cls: type) -> type:
    """``cls`` (an SB3 off-policy algorithm) with :class:`E2GANOffPolicy` mixed in.

    The subclass keeps ``cls``'s name and is registered in this module, so it
    pickles by reference once made (e.g. by :func:`agents.algorithms.algo_class`).
    """
    return mixed_subclass(E2GANOffPolicy, cls, _CLASSES, globals())
