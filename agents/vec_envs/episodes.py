"""Episode bookkeeping shared by the vector envs that run search envs in parallel."""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback


class EpisodeNumbering:
    """Run-wide episode indices for a vector env of search envs.

    With ``global_episodes``, ``info["episode_index"]`` is rewritten to a counter over
    all envs, so episodes of different envs never share an index in the results store
    (an env's own index stays in ``info["worker_episode_index"]``); ``info["worker"]``
    is always the env's index.
    """

    def _init_numbering(self, num_envs: int, global_episodes: bool) -> None:
        self.global_episodes = global_episodes
        self._episode_ids = [-1] * num_envs
        self._next_episode = 0

    def _new_episode(self, i: int, info: dict) -> dict:
        self._episode_ids[i] = self._next_episode
        self._next_episode += 1
        return self._tag(i, info)

    def _tag(self, i: int, info: dict) -> dict:
        info["worker"] = i
        if self.global_episodes and "episode_index" in info:
            info.setdefault("worker_episode_index", info["episode_index"])
            info["episode_index"] = self._episode_ids[i]
        return info


class StopOnCompletedEpisodes(BaseCallback):
    """Stop after ``max_episodes`` finished episodes.

    Episodes cut short by a worker restart (``info["worker_restarted"]``) do not
    count; those are retried.
    """

    def __init__(self, max_episodes: int) -> None:
        super().__init__()
        self.max_episodes = max_episodes
        self.n_episodes = 0

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if done and not info.get("worker_restarted"):
                self.n_episodes += 1
        return self.n_episodes < self.max_episodes
