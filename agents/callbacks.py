"""SB3 callbacks: the E2GAN explore/exploit schedule and search recording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback


class E2GANSchedule(BaseCallback):
    """The paper's schedule: explore with the stochastic policy for the first
    ``explore_fraction`` of episodes, then act deterministically with
    ``exploit_gradient_steps`` gradient updates per env step.

    Optionally (E2GAN's released code) one extra update per finished episode
    uses the whole replay buffer as its batch.

    :param total_episodes: episodes of the whole search.
    :param explore_fraction: share of episodes that explore (0.7 in the paper).
    :param exploit_gradient_steps: gradient steps per env step when exploiting.
    :param full_buffer_update: add the per-episode whole-buffer update.
    """

    def __init__(
        self, total_episodes: int, explore_fraction: float = 0.7,
        exploit_gradient_steps: int = 10, full_buffer_update: bool = False, verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        self.total_episodes = total_episodes
        self.switch_episode = int(round(explore_fraction * total_episodes))
        self.exploit_gradient_steps = exploit_gradient_steps
        self.full_buffer_update = full_buffer_update
        self.episodes_done = 0
        self.exploiting = False

    def _on_training_start(self) -> None:
        if self.episodes_done >= self.switch_episode:
            self._start_exploit()

    def _on_step(self) -> bool:
        for done in self.locals.get("dones", []):
            if not done:
                continue
            self.episodes_done += 1
            if self.full_buffer_update:
                self._whole_buffer_update()
            if not self.exploiting and self.episodes_done >= self.switch_episode:
                self._start_exploit()
        self.logger.record("schedule/exploiting", int(self.exploiting))
        return True

    def _whole_buffer_update(self) -> None:
        model: Any = self.model
        buffer = getattr(model, "replay_buffer", None)
        if buffer is None or model.num_timesteps < getattr(model, "learning_starts", 0):
            return
        if buffer.size() > 0:
            model.train(gradient_steps=1, batch_size=buffer.size())

    def _start_exploit(self) -> None:
        """Switch the model to deterministic acting with more gradient steps."""
        model: Any = self.model
        policy = model.policy
        self.exploiting = True
        _force_deterministic(policy, "_predict")
        _force_deterministic(policy, "forward")
        if hasattr(model, "gradient_steps"):
            model.gradient_steps = self.exploit_gradient_steps
        if getattr(model, "action_noise", None) is not None:
            model.action_noise = None
        if hasattr(model, "exploration_rate"):  # DQN family
            model.exploration_schedule = _zero_schedule
            model.exploration_rate = 0.0
        if self.verbose:
            print(f"[schedule] exploit phase from episode {self.episodes_done + 1}")


def _zero_schedule(_progress: float) -> float:
    return 0.0


def _force_deterministic(policy: Any, method: str) -> None:
    """Make ``policy.method(obs, deterministic=...)`` always deterministic (instance-level)."""
    orig: Callable[..., Any] | None = getattr(policy, method, None)
    if orig is None or getattr(orig, "_forced_deterministic", False):
        return

    def wrapped(obs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("deterministic", None)
        return orig(obs, deterministic=True)

    wrapped._forced_deterministic = True  # type: ignore[attr-defined]
    setattr(policy, method, wrapped)
