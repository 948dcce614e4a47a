"""SB3 callbacks: the E2GAN explore/exploit schedule and search recording."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from agents.exploit import ExploitMode
from agents.registry import ALGOS
from agents.replay import n_transitions
from gan_nas_env.config import (
    ConfigError,
    SearchConfig,
    flatten_overrides,
    load_config,
    parse_override,
)
from gan_nas_env.run_folder import flat_keys
from gan_nas_env.space import NUM_CELLS

SCHEDULE_KEYS = ("explore_fraction", "exploit_gradient_steps", "full_buffer_update")
"""``search.*`` keys of the E2GAN schedule (:meth:`E2GANSchedule.from_search`)."""
AGENT_KEYS = ("learning_starts", "random_warmup")
"""``search.*`` keys that set the agent's hyper-parameters (:func:`search_hyperparams`)."""


def episode_budget(episodes: int, n_envs: int = 1, restarts: int = 0) -> int:
    """SB3 timesteps that ``episodes`` finished episodes take at most (``learn``'s budget).

    An episode is at most :data:`~gan_nas_env.space.NUM_CELLS` steps (a diverged one ends
    sooner); with ``n_envs`` envs stepped together the others' episodes in flight when the
    last one ends add up to ``NUM_CELLS * (n_envs - 1)``, and each of up to ``restarts``
    episodes cut short by a worker restart up to ``NUM_CELLS``. A stop callback ends
    ``learn`` at the last episode; schedules that follow the budget (DQN's exploration,
    learning-rate schedules) see the real length of the search.
    """
    return NUM_CELLS * (episodes + n_envs - 1 + restarts)


def search_hyperparams(
    search: SearchConfig, algo: str, hyperparams: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``hyperparams`` plus the search section's agent settings; given ones win.

    The settings: ``learning_starts``, and ``random_warmup`` of off-policy agents.
    """
    hp = dict(hyperparams or {})
    if search.learning_starts is not None:
        hp.setdefault("learning_starts", search.learning_starts)
    if ALGOS.get(algo).off_policy:  # E2GAN acts with the policy from the first step
        hp.setdefault("random_warmup", search.random_warmup)
    return hp


def _override_keys(overrides: Any) -> set[str]:
    """Dotted keys set by ``overrides`` (a dotted or nested dict, or ``key=value`` strings)."""
    if not overrides:
        return set()
    if isinstance(overrides, list):
        merged: dict[str, Any] = {}
        for item in overrides:
            merged.update(flat_keys(parse_override(str(item))))
        return set(merged)
    if isinstance(overrides, Mapping):
        return set(flat_keys(flatten_overrides(dict(overrides))))
    raise ConfigError(f"env overrides must be a dict or a list of key=value strings, got {overrides!r}")


def check_search_settings(command: str, env_kwargs: Mapping[str, Any], honoured: tuple[str, ...],
                          why: Mapping[str, str]) -> None:
    """Refuse ``search.*`` settings of ``env_kwargs`` that ``command`` would ignore.

    ``honoured``: the ``search`` keys ``command`` applies. Any other ``search`` key set by
    the env's ``overrides`` is refused, and so is a schedule or agent key that the env's
    ``config`` sets to other than its default; ``instead`` names, per key, what sets it
    for ``command`` (``{"episodes": "--episodes"}``).
    """
    overrides = env_kwargs.get("overrides")
    set_keys = {k.split(".", 1)[1] for k in _override_keys(overrides) if k.startswith("search.")}
    config = env_kwargs.get("config")
    if isinstance(config, str) or config is None:  # a preset or YAML; tables keep their own
        cfg = load_config(config, overrides) if config is not None else load_config(None, overrides)
        default = SearchConfig()
        set_keys |= {k for k in (*SCHEDULE_KEYS, *AGENT_KEYS)
                     if getattr(cfg.search, k) != getattr(default, k)}
    ignored = sorted(set_keys - set(honoured))
    if ignored:
        listed = "; ".join(f"search.{k}" + (f" ({why[k]})" if k in why else "") for k in ignored)
        raise ConfigError(f"{command} does not use {listed}: remove it from --env-kwargs")


class E2GANSchedule(BaseCallback):
    """The paper's schedule: explore, then exploit with more gradient steps.

    Explore with the stochastic policy for the first ``explore_fraction`` of
    episodes, then act deterministically (the agent's
    :meth:`~agents.exploit.ExploitMode.start_exploiting`: made by
    :func:`~agents.algorithms.algo_class`) with ``exploit_gradient_steps`` gradient
    updates per env step.

    Optionally (E2GAN's released code) one extra update per finished episode
    uses the whole replay buffer as its batch (every transition once with
    :class:`~agents.replay.WithoutReplacementReplayBuffer`), run even before
    ``learning_starts``.

    Order per env step, as in E2GAN's ``search.py``: SB3 stores the transition and
    makes its regular updates (``learn`` trains after ``collect_rollouts``); then,
    for an episode that ended, this callback makes the whole-buffer update and
    switches to exploiting, at the next rollout start, before the next action
    (list it before a callback that checkpoints there). At the end of ``learn`` it
    does the same for the last episode, after storing and training on its last
    step, which SB3 skips when a stop callback ends training on that step.
    On-policy agents (no replay buffer) switch at the episode's last step.

    :param total_episodes: episodes of the whole search.
    :param explore_fraction: share of episodes that explore (0.7 in the paper).
    :param exploit_gradient_steps: gradient steps per env step when exploiting.
    :param full_buffer_update: add the per-episode whole-buffer update.
    """

    @classmethod
    def from_search(cls, search: SearchConfig, total_episodes: int) -> E2GANSchedule:
        """The schedule of a config's ``search`` section over ``total_episodes`` episodes."""
        return cls(total_episodes, search.explore_fraction, search.exploit_gradient_steps,
                   search.full_buffer_update)

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
        self._ended = 0  # episodes ended in the current rollout, not yet accounted for
        self._unstored: dict[str, Any] | None = None  # the latest step, until SB3 stores it
        self._off_policy = True

    def _on_training_start(self) -> None:
        self._ended, self._unstored = 0, None
        self._off_policy = isinstance(self.model, OffPolicyAlgorithm)
        if self.episodes_done >= self.switch_episode:
            self._start_exploit()

    def _on_step(self) -> bool:
        self._ended += int(sum(bool(d) for d in self.locals.get("dones", [])))
        keys = ("replay_buffer", "buffer_actions", "new_obs", "rewards", "dones", "infos")
        if all(k in self.locals for k in keys):
            self._unstored = {k: self.locals[k] for k in keys}
        if not self._off_policy:  # no replay buffer, no per-step updates to wait for
            self._finish_episodes()
        self.logger.record("schedule/exploiting", int(self.exploiting))
        return True

    def _on_rollout_end(self) -> None:
        self._unstored = None  # collect_rollouts stored every step of the rollout

    def _on_rollout_start(self) -> None:
        self._finish_episodes()

    def _on_training_end(self) -> None:
        if self._unstored is not None and self._ended:
            self._store_and_train_last_step()
        self._unstored = None
        self._finish_episodes()

    def _finish_episodes(self) -> None:
        ended, self._ended = self._ended, 0
        for _ in range(ended):
            self.episodes_done += 1
            if self.full_buffer_update:
                self._whole_buffer_update()
            if not self.exploiting and self.episodes_done >= self.switch_episode:
                self._start_exploit()

    def _store_and_train_last_step(self) -> None:
        """What SB3's ``collect_rollouts`` and ``learn`` skip after a stop in ``on_step``."""
        model: Any = self.model
        if not hasattr(model, "_store_transition"):
            return
        step = self._unstored
        assert step is not None, "on_step stored no step to train on"
        model._store_transition(step["replay_buffer"], step["buffer_actions"], step["new_obs"],
                                step["rewards"], step["dones"], step["infos"])
        if model.num_timesteps > model.learning_starts:
            steps = model.gradient_steps if model.gradient_steps >= 0 else model.n_envs
            if steps > 0:
                model.train(batch_size=model.batch_size, gradient_steps=steps)

    def _whole_buffer_update(self) -> None:
        model: Any = self.model
        buffer = getattr(model, "replay_buffer", None)
        if buffer is None:
            return
        size = n_transitions(buffer)
        if size > 0:
            model.train(gradient_steps=1, batch_size=size)

    def _start_exploit(self) -> None:
        """Switch the model to deterministic acting with more gradient steps."""
        model: Any = self.model
        if not isinstance(model, ExploitMode):
            raise TypeError(f"{type(model).__qualname__} has no exploit mode: make the agent "
                            "with agents.algorithms.make_agent or algo_class")
        self.exploiting = True
        model.start_exploiting()
        if hasattr(model, "gradient_steps"):
            model.gradient_steps = self.exploit_gradient_steps
        if self.verbose:
            print(f"[schedule] exploit phase from episode {self.episodes_done + 1}")
