"""RayVecEnv: an SB3 ``VecEnv`` whose environments live in Ray actors.

Each env runs in its own actor (``num_cpus``/``num_gpus`` per worker, a GPU
fraction lets several small GANs share one GPU), so its episodes run in
parallel on one machine or across a Ray cluster. Ray does the scheduling and
transport; this module only maps the VecEnv API onto actor calls.

A worker that dies (actor crash, node lost) is replaced by a fresh actor that
retries the interrupted episode from its start with the same GAN seed; the
interrupted episode is reported as truncated with ``info["worker_restarted"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
import ray
from ray.exceptions import RayActorError
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from agents.vec_envs.episodes import EpisodeNumbering, StopOnCompletedEpisodes

if TYPE_CHECKING:
    from gan_nas_env.envs.search_env import GANCellSearchEnv

__all__ = ["EnvWorker", "RayVecEnv", "StopOnCompletedEpisodes"]

log = logging.getLogger(__name__)

try:  # a temporarily unreachable actor (node lost) counts as dead, too
    from ray.exceptions import ActorUnavailableError

    WORKER_ERRORS: tuple[type[BaseException], ...] = (RayActorError, ActorUnavailableError)
except ImportError:  # pragma: no cover - older Ray
    WORKER_ERRORS = (RayActorError,)


class EnvWorker:
    """Holds one env in a Ray actor; steps it and auto-resets it like ``DummyVecEnv``."""

    def __init__(self, env_fn: Callable[[], gym.Env]) -> None:
        self.env = env_fn()

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """The env's observation and action spaces."""
        return self.env.observation_space, self.env.action_space

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Reset the env (``options`` only passed when given)."""
        return self.env.reset(seed=seed, **({"options": options} if options else {}))

    def restart_episode(self, seed: int | None, episode_index: int, gan_seed: int) -> tuple[Any, dict]:
        """Reset (wrappers need it), then put the env at the start of that episode."""
        self.env.reset(seed=seed)
        return cast("GANCellSearchEnv", self.env.unwrapped).restart_episode(episode_index, gan_seed)

    def step(self, action: Any) -> tuple[Any, float, bool, dict, dict | None]:
        """Step the env; on episode end store ``terminal_observation`` and auto-reset."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        done = terminated or truncated
        info["TimeLimit.truncated"] = truncated and not terminated
        reset_info = None
        if done:
            info["terminal_observation"] = obs
            obs, reset_info = self.env.reset()
        return obs, float(reward), done, info, reset_info

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the env (or wrapper) method ``name``."""
        return self.env.get_wrapper_attr(name)(*args, **kwargs)

    def get(self, name: str) -> Any:
        """The env (or wrapper) attribute ``name``."""
        return self.env.get_wrapper_attr(name)

    def set(self, name: str, value: Any) -> None:
        """Set the env (or wrapper) attribute ``name``."""
        self.env.set_wrapper_attr(name, value)

    def is_wrapped(self, wrapper_class: type[gym.Wrapper]) -> bool:
        """Whether the env is wrapped in ``wrapper_class``."""
        from stable_baselines3.common.env_util import is_wrapped

        return is_wrapped(self.env, wrapper_class)

    def render(self) -> Any:
        """Render the env."""
        return self.env.render()

    def sample(self, n: int) -> Any:
        """Images of the env's most recently trained generator (or None)."""
        return cast("GANCellSearchEnv", self.env.unwrapped).sample_images(n)

    def close(self) -> None:
        """Close the env."""
        self.env.close()


class RayVecEnv(EpisodeNumbering, VecEnv):
    """``num_envs`` envs, each in a Ray actor.

    :param env_fns: one picklable factory per env (run inside the actor).
    :param num_cpus: CPUs each worker asks Ray for (a fraction is allowed).
    :param num_gpus: GPUs each worker asks for (e.g. 0.25: four workers share a GPU).
    :param global_episodes: rewrite ``info["episode_index"]`` to a run-wide episode
        counter, so episodes of different workers never share an index (the worker's
        own index stays in ``info["worker_episode_index"]``); ``info["worker"]`` is
        the env's index.
    :param max_restarts: restarts per worker before the error is raised.
    """

    def __init__(
        self, env_fns: Sequence[Callable[[], gym.Env]], num_cpus: float = 1.0,
        num_gpus: float = 0.0, global_episodes: bool = True, max_restarts: int = 100,
    ) -> None:
        if not ray.is_initialized():
            ray.init()
        self._fns = list(env_fns)
        # Ray types actor handles loosely (method.remote is not visible to mypy)
        self._actor_cls: Any = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(EnvWorker)
        self.actors: list[Any] = [self._actor_cls.remote(fn) for fn in self._fns]
        obs_space, act_space = ray.get(self.actors[0].spaces.remote())
        super().__init__(len(self._fns), obs_space, act_space)
        self._init_numbering(self.num_envs, global_episodes)
        self.max_restarts = max_restarts
        self.restarts = [0] * self.num_envs
        self._last_obs: list[Any] = [None] * self.num_envs
        self._last_info: list[dict] = [{} for _ in range(self.num_envs)]
        self._first_seeds: list[int | None] = [None] * self.num_envs
        self._actions: np.ndarray | None = None
        self._futures: list[Any] = []

    # -- VecEnv API ------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        """Reset every worker's env (restarting dead ones); return the stacked observations."""
        self._first_seeds = [s if f is None else f for s, f in zip(self._seeds, self._first_seeds)]
        futures = [a.reset.remote(seed=self._seeds[i], options=self._options[i])
                   for i, a in enumerate(self.actors)]
        for i, fut in enumerate(futures):
            try:
                obs, info = ray.get(fut)
            except WORKER_ERRORS as exc:
                obs, info = self._restart(i, exc)
            self._last_obs[i] = obs
            self.reset_infos[i] = self._last_info[i] = self._new_episode(i, info)
        self._reset_seeds()
        self._reset_options()
        return np.stack(self._last_obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Send ``actions`` to the workers without waiting."""
        self._actions = actions
        self._futures = [a.step.remote(act) for a, act in zip(self.actors, actions)]

    def step_wait(self) -> VecEnvStepReturn:
        """Collect the workers' steps; a dead worker is restarted and its episode ends truncated."""
        rewards = np.zeros(self.num_envs, np.float32)
        dones = np.zeros(self.num_envs, bool)
        infos: list[dict] = []
        for i, fut in enumerate(self._futures):
            try:
                obs, reward, done, info, reset_info = ray.get(fut)
            except WORKER_ERRORS as exc:
                info = {"worker_restarted": True, "TimeLimit.truncated": True,
                        "terminal_observation": self._last_obs[i], "worker": i,
                        "episode_index": self._episode_ids[i]}
                obs, reset_info = self._restart(i, exc)
                reward, done = 0.0, True
            else:
                info = self._tag(i, info)
            if done:
                self.reset_infos[i] = self._last_info[i] = self._new_episode(i, reset_info)
            rewards[i], dones[i] = reward, done
            self._last_obs[i] = obs
            infos.append(info)
        self._futures = []
        return np.stack(self._last_obs), rewards, dones, infos

    def _restart(self, i: int, exc: BaseException) -> tuple[Any, dict]:
        """Replace the dead actor ``i``; retry its episode from the start (same GAN seed)."""
        self.restarts[i] += 1
        if self.restarts[i] > self.max_restarts:
            raise RuntimeError(f"worker {i} died {self.restarts[i]} times; giving up") from exc
        log.warning("worker %d died (%s); restarting it and retrying its episode", i,
                    type(exc).__name__)
        try:
            ray.kill(self.actors[i])
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.actors[i] = self._actor_cls.remote(self._fns[i])
        last = self._last_info[i]
        # a fresh seed stream, so the new actor does not replay the dead one's episodes
        first = self._first_seeds[i]
        seed = None if first is None else int(first) + 100_003 * self.restarts[i]
        if "gan_seed" in last:
            local = last.get("worker_episode_index", last.get("episode_index", 0))
            return ray.get(self.actors[i].restart_episode.remote(seed, local, last["gan_seed"]))
        return ray.get(self.actors[i].reset.remote(seed=seed))

    def close(self) -> None:
        """Close and kill every worker."""
        for a in self.actors:
            try:
                ray.get(a.close.remote())
                ray.kill(a)
            except WORKER_ERRORS:
                pass
        self.actors = []

    def _targets(self, indices: VecEnvIndices) -> list[Any]:
        return [self.actors[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute ``attr_name`` of the envs at ``indices``."""
        return ray.get([a.get.remote(attr_name) for a in self._targets(indices)])

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set attribute ``attr_name`` of the envs at ``indices``."""
        ray.get([a.set.remote(attr_name, value) for a in self._targets(indices)])

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """Call method ``method_name`` of the envs at ``indices``."""
        return ray.get([a.call.remote(method_name, *method_args, **method_kwargs)
                        for a in self._targets(indices)])

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Whether each env at ``indices`` is wrapped in ``wrapper_class``."""
        return ray.get([a.is_wrapped.remote(wrapper_class) for a in self._targets(indices)])

    def sample(self, index: int, n: int) -> Any:
        """``n`` images from the latest generator of env ``index`` (None if there is none)."""
        try:
            return ray.get(self.actors[index].sample.remote(n))
        except WORKER_ERRORS:
            return None

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Each worker's rendered frame."""
        return ray.get([a.render.remote() for a in self.actors])

