"""Replay buffer that samples like E2GAN's ``ReplayMemory``: distinct transitions per batch.

E2GAN's released search draws every SAC batch with ``random.sample(memory, n)``
(no transition twice in one batch) and, once per episode, uses the whole memory
as the batch. SB3's :class:`~stable_baselines3.common.buffers.ReplayBuffer`
draws indices with replacement, so neither holds there. Use this class through
SB3's ``replay_buffer_class`` hyper-parameter (the agent YAMLs name it as
``importlib.import_module('agents.replay').WithoutReplacementReplayBuffer``, which
rl-zoo evaluates and :mod:`agents.hyperparams` reads as the dotted name
``agents.replay.WithoutReplacementReplayBuffer``; an override may use either).
"""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize


class WithoutReplacementReplayBuffer(ReplayBuffer):
    """A :class:`ReplayBuffer` whose batches hold distinct transitions.

    ``sample(batch_size)`` draws ``min(batch_size, n_transitions())`` different
    transitions, uniformly, with SB3's global ``np.random`` (so SB3's seeding and
    the search checkpoints' saved numpy state keep it deterministic). A batch
    size of at least :meth:`n_transitions` therefore returns every stored
    transition exactly once (E2GAN's ``min(len(memory), 256)`` batches and its
    whole-memory update). With several envs, a transition is one (position, env)
    cell of the buffer, as in SB3 (there each sample also draws its env index).
    """

    def valid_positions(self) -> np.ndarray:
        """Buffer positions that hold a complete transition (SB3's sampling range)."""
        if not self.full:
            return np.arange(self.pos)
        if self.optimize_memory_usage:  # position `pos` holds no valid next observation
            return (np.arange(1, self.buffer_size) + self.pos) % self.buffer_size
        return np.arange(self.buffer_size)

    def n_transitions(self) -> int:
        """Number of transitions a batch can draw from (positions x envs)."""
        return len(self.valid_positions()) * self.n_envs

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """``min(batch_size, n_transitions())`` distinct transitions, in random order."""
        positions = self.valid_positions()
        total = len(positions) * self.n_envs
        if total == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        flat = np.random.choice(total, size=min(int(batch_size), total), replace=False)
        batch_inds, env_indices = positions[flat // self.n_envs], flat % self.n_envs
        return self._samples_at(batch_inds, env_indices, env)

    def _samples_at(
        self, batch_inds: np.ndarray, env_indices: np.ndarray, env: VecNormalize | None
    ) -> ReplayBufferSamples:
        """SB3's ``ReplayBuffer._get_samples`` with the env indices given instead of drawn."""
        if self.optimize_memory_usage:
            next_obs = self.observations[(batch_inds + 1) % self.buffer_size, env_indices, :]
        else:
            next_obs = self.next_observations[batch_inds, env_indices, :]
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices, :], env),
            self.actions[batch_inds, env_indices, :],
            self._normalize_obs(next_obs, env),
            # dones that are not time-limit truncations (timeouts are all 0 unless handled)
            (self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))


def n_transitions(buffer: ReplayBuffer) -> int:
    """Transitions stored in any SB3 replay buffer (positions x envs)."""
    if isinstance(buffer, WithoutReplacementReplayBuffer):
        return buffer.n_transitions()
    return buffer.size() * getattr(buffer, "n_envs", 1)
