"""ThreadVecEnv: an SB3 ``DummyVecEnv`` whose envs step at the same time, in threads.

One small proxy GAN leaves most of a large GPU idle. Processes sharing a GPU
(``SubprocVecEnv``, Ray actors) are time-sliced by the driver unless MPS runs;
threads of one process share one CUDA context, so with one CUDA stream per env
their kernels (and CUDA-graph replays, which release the GIL) really overlap.
PyTorch ops release the GIL too, so on CPU the envs share the cores as well.

Everything else is ``DummyVecEnv``: the same auto-reset, ``terminal_observation``
and ``env_method``/``get_attr`` pass-through, and the same results for the same
seeds (each env owns its RNGs; the proxy trainer serialises its short use of the
global RNG).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import TYPE_CHECKING, Any, SupportsFloat, cast

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from agents.vec_envs.episodes import EpisodeNumbering
from gan_nas_env.devices import resolve_device

if TYPE_CHECKING:
    from gan_nas_env.envs.search_env import GANCellSearchEnv


def _env_device(env: gym.Env) -> torch.device:
    """Where a search env trains (its config's device); CPU for other envs."""
    cfg = getattr(env.unwrapped, "cfg", None)
    return resolve_device(cfg.device) if cfg is not None else torch.device("cpu")


class ThreadVecEnv(EpisodeNumbering, DummyVecEnv):
    """Steps its envs concurrently, one thread and (on CUDA) one CUDA stream each.

    :param env_fns: functions that build the envs (called in this thread, in order).
    :param device: where the envs train; on CUDA each env gets its own stream.
        ``None`` takes each env's configured device (CPU for envs without a config).
    :param global_episodes: number episodes over all envs (see
        :class:`~agents.vec_envs.episodes.EpisodeNumbering`); ``info["worker"]`` is always set.
    """

    def __init__(
        self, env_fns: list[Callable[[], gym.Env]], device: str | torch.device | None = None,
        global_episodes: bool = False,
    ) -> None:
        super().__init__(env_fns)
        self._init_numbering(self.num_envs, global_episodes)
        self._pool = ThreadPoolExecutor(max_workers=self.num_envs, thread_name_prefix="env")
        self._streams: list[torch.cuda.Stream | None] = []
        for env in self.envs:
            dev = torch.device(device) if device is not None else _env_device(env)
            self._streams.append(torch.cuda.Stream(dev) if dev.type == "cuda" else None)

    def _step_one(
        self, i: int
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any], Any, dict[str, Any] | None]:
        stream = self._streams[i]
        if stream is not None:
            stream.wait_stream(torch.cuda.current_stream(stream.device))
        with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
            obs, reward, terminated, truncated, info = self.envs[i].step(self.actions[i])
            reset_obs, reset_info = (None, None)
            if terminated or truncated:
                reset_obs, reset_info = self.envs[i].reset()
        if stream is not None:
            stream.synchronize()  # the caller reads what this env wrote
        return obs, reward, terminated, truncated, info, reset_obs, reset_info

    def reset(self) -> Any:
        """Reset every env and start its episode numbering."""
        obs = super().reset()
        for i in range(self.num_envs):
            self._new_episode(i, self.reset_infos[i])
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step the envs in the thread pool; finished envs are auto-reset."""
        results = list(self._pool.map(self._step_one, range(self.num_envs)))
        for i, (obs, reward, terminated, truncated, info, reset_obs, reset_info) in enumerate(results):
            self.buf_rews[i] = reward
            self.buf_dones[i] = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            self._tag(i, info)
            if self.buf_dones[i]:
                info["terminal_observation"] = obs
                assert reset_info is not None  # _step_one resets a finished env
                obs, self.reset_infos[i] = reset_obs, self._new_episode(i, reset_info)
            self.buf_infos[i] = info
            self._save_obs(i, obs)
        return self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones), deepcopy(self.buf_infos)

    def sample(self, index: int, n: int) -> Any:
        """``n`` images from the latest generator of env ``index`` (None if there is none)."""
        return cast("GANCellSearchEnv", self.envs[index].unwrapped).sample_images(n)

    def close(self) -> None:
        """Shut down the thread pool and close the envs."""
        self._pool.shutdown(wait=True)
        super().close()
