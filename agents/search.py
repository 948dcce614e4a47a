"""Run an RL architecture search: env + agent + schedule + recording + final report."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, StopTrainingOnMaxEpisodes
from stable_baselines3.common.logger import TensorBoardOutputFormat
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from tqdm.auto import tqdm

from agents.algorithms import algo_class, make_agent, wrap_for_algo
from agents.callbacks import E2GANSchedule, episode_budget, search_hyperparams
from agents.checkpoint import (
    REPLAY,
    check_checkpoint,
    find_checkpoint,
    load_replay_contents,
    load_rng,
    load_state,
    restore_rng_states,
    save_checkpoint,
)
from agents.registry import ALGOS
from gan_nas_env.config import Config, ConfigError
from gan_nas_env.devices import torch_threads
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.evaluators import Evaluator
from gan_nas_env.evaluators.store import ResultsStore, check_store, finished_episodes
from gan_nas_env.run_folder import RunFolderError, RunPlan, prepare_run
from gan_nas_env.space import NUM_CELLS

TOP = "top_architectures.json"

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

    from agents.vec_envs.ray import RayVecEnv
    from agents.vec_envs.thread import ThreadVecEnv


@dataclass
class SearchResult:
    """What a search produced."""

    out_dir: Path
    best_arch: str | None
    best_score: float | None
    top: list[dict[str, Any]]
    episodes: int
    wall_s: float
    run_id: str = ""
    """The run id its steps are keyed by in ``results.sqlite`` (``meta.json``)."""
    nothing_to_run: bool = False
    """A resumed run that had done its episodes: no episode ran, only the top list and the
    reward plot were rewritten from ``results.sqlite``."""
    new_episodes: int | None = None
    """Episodes this call ran (``episodes`` less those a resumed run had done before);
    None: all of ``episodes``."""

    @property
    def ran(self) -> int:
        """Episodes this call ran."""
        return self.episodes if self.new_episodes is None else self.new_episodes


def plural(n: int, word: str) -> str:
    """``1 episode``, ``2 episodes``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def done_message(res: SearchResult) -> str:
    """What a search did in this call, e.g. ``1 new episode (13 in all) in 205.8 s``."""
    if res.ran == res.episodes:
        return f"{plural(res.episodes, 'episode')} in {res.wall_s:.1f} s"
    return (f"{res.ran} new {'episode' if res.ran == 1 else 'episodes'} ({res.episodes} in all) "
            f"in {res.wall_s:.1f} s")


class SearchRecorder(BaseCallback):
    """Records the search: results store, best architecture, sample grid, progress bar.

    Writes every env step to the results store (and checkpoints its WAL at every episode
    end, so ``results.sqlite`` alone holds the finished episodes), keeps the best complete
    architecture, saves its sample grid, and drives a tqdm progress bar over episodes.
    Writes a search checkpoint at every episode boundary, the end of the search included
    (a finished run is extended from its end, never by redoing its last episode).
    """

    def __init__(
        self, store: ResultsStore, env: GANCellSearchEnv | None, run: str, out: Path,
        total_episodes: int, progress: bool = True, schedule: E2GANSchedule | None = None,
        state: dict[str, Any] | None = None, sampler: Callable[[dict], Any] | None = None,
        grid_samples: int = 64,
    ) -> None:
        """``env`` is the local base env, or None when the envs live in Ray workers.

        ``run`` is the run id (``meta.json``) the steps are keyed by in the store. Without
        ``env`` no checkpoints are written and ``sampler(info)`` gives the sample grid.
        ``grid_samples`` (``search.grid_samples``): images in the best architecture's grid.
        """
        super().__init__()
        self.sampler, self.grid_samples = sampler, grid_samples
        self.store, self.env, self.run, self.out = store, env, run, out
        self.total_episodes = total_episodes
        self.schedule = schedule
        state = state or {}
        self.best_score = state.get("best_score", -np.inf)
        self.best_arch: str | None = state.get("best_arch")
        self.episode_returns: list[float] = list(state.get("episode_returns", []))
        self._ret: dict[int, float] = {}  # episode return so far, per env
        self._checkpoint_due = False
        self._bar = tqdm(total=total_episodes, initial=len(self.episode_returns), desc="search",
                         unit="ep", disable=not progress)

    def state(self) -> dict[str, Any]:
        """Position of the search, stored in checkpoints."""
        sched = self.schedule
        return {
            "episodes_done": len(self.episode_returns), "episode_returns": self.episode_returns,
            "best_score": self.best_score, "best_arch": self.best_arch,
            "schedule_episodes_done": sched.episodes_done if sched else 0,
            "exploiting": sched.exploiting if sched else False,
            "episode_index": self.env.episode_index if self.env else -1,
            "gan_seed": self.env.gan_seed if self.env else 0,
        }

    def _on_step(self) -> bool:
        boundary = False
        for i, (info, reward, done) in enumerate(
            zip(self.locals["infos"], self.locals["rewards"], self.locals["dones"])
        ):
            if info.get("worker_restarted"):  # episode cut short by a dead worker; retried
                self._ret.pop(i, None)
                continue
            metrics = {k: info[k] for k in ("IS", "FID", "KID") if k in info}
            self.store.add_step(
                self.run, info["episode_index"], info["depth"], info["arch"], float(reward),
                info.get("score"), metrics, info["diverged"], dict(info["timings"]),
            )
            self._ret[i] = self._ret.get(i, 0.0) + float(reward)
            points = {f"proxy/{key}_stage{info['depth']}": float(info[key])
                      for key in ("IS", "FID") if key in info and np.isfinite(info[key])}
            if info["depth"] == NUM_CELLS and not info["diverged"] and info["score"] > self.best_score:
                self.best_score, self.best_arch = info["score"], info["arch"]
                self._save_grid(info)
            # a sign of life after every cell trained: its index and seconds
            self._bar.set_postfix(cell=f"{info['depth']}/{NUM_CELLS}",
                                  cell_s=f"{float(info['timings'].get('step_s', np.nan)):.1f}",
                                  best=f"{self.best_score:.3f}", arch=self.best_arch or "-")
            if done:
                ret = self._ret.pop(i, 0.0)
                self.episode_returns.append(ret)
                points["search/episode_return"] = ret
                points["search/episodes_done"] = len(self.episode_returns)
                if np.isfinite(self.best_score):
                    points["search/best_score"] = float(self.best_score)
                self._bar.update(1)
                self._checkpoint_due = True
                boundary = True
            self._tensorboard(points)
        if boundary:  # finished episodes into results.sqlite itself, not only its -wal file
            self.store.checkpoint_wal()
        return True

    def _tensorboard(self, points: dict[str, float]) -> None:
        """Write ``points`` to TensorBoard now, at the current env step.

        Not through ``logger.record``: SB3 dumps its logger only every ``log_interval``
        rollouts (or trainings), keeping one value per tag, so a search's episodes would be
        missing from TensorBoard between dumps. Every tag shares SB3's x axis (env steps,
        i.e. cells trained).
        """
        if not points:
            return
        for fmt in getattr(self.logger, "output_formats", []):
            if isinstance(fmt, TensorBoardOutputFormat):
                fmt.write(points, {k: () for k in points}, self.num_timesteps)

    def _on_rollout_start(self) -> None:
        # SB3 stores the last transition and trains on it after on_step; the next
        # rollout start (or the end of training, where the schedule, listed before this
        # callback, does both for the last step) is the first point where the episode is
        # fully accounted for
        if self._checkpoint_due and self.env is not None and self.env.at_episode_start:
            save_checkpoint(self.out, self.model, self.env, self.state())
            self._checkpoint_due = False

    def _save_grid(self, info: dict) -> None:
        if self.env is not None:
            images = self.env.sample_images(self.grid_samples)
        else:
            images = self.sampler(info) if self.sampler else None
        if images is None:
            return
        from PIL import Image

        from gan_nas_env.data.imageops import make_grid_uint8

        tmp = self.out / "best_grid.tmp.png"
        Image.fromarray(make_grid_uint8(images, nrow=8).numpy()).save(tmp)
        tmp.replace(self.out / "best_grid.png")

    def _on_training_end(self) -> None:
        self._on_rollout_start()  # the checkpoint of the search's end (learn ends normally only)
        self._bar.close()


def plot_rewards(returns: list[float], path: Path) -> None:
    """Episode return per episode (and its running mean) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(1, len(returns) + 1)
    ax.plot(x, returns, "o-", ms=3, lw=1, label="episode return")
    if len(returns) >= 3:
        k = max(3, len(returns) // 10)
        run = np.convolve(returns, np.ones(k) / k, mode="valid")
        ax.plot(x[k - 1 :], run, lw=2, label=f"running mean ({k})")
    ax.set_xlabel("episode")
    ax.set_ylabel("return = final score - baseline")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def worker_env(cfg: Config, evaluator: Evaluator | str, algo: str, store_path: Path) -> Any:
    """The env of one parallel worker: records its evaluations in the run's results store."""
    base = GANCellSearchEnv(cfg, evaluator=evaluator)
    base.attach_store(ResultsStore(store_path), replay=True, owned=True)  # closed with the env
    return Monitor(wrap_for_algo(base, algo))


def ray_search_env(
    cfg: Config, evaluator: Evaluator | str, algo: str, store_path: Path, workers: int,
    ray_address: str | None = None, gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0,
) -> Any:
    """A RayVecEnv of ``workers`` search envs; joins ``ray_address`` or starts a local Ray."""
    import math
    import os

    import ray

    from agents.vec_envs.ray import RayVecEnv

    if not ray.is_initialized():
        if ray_address:
            ray.init(address=ray_address)
        else:  # logical CPUs: every worker gets a slot even on a small machine
            ray.init(num_cpus=max(os.cpu_count() or 1, math.ceil(workers * cpus_per_worker)),
                     num_gpus=None if gpus_per_worker else 0, include_dashboard=False)
    fn = functools.partial(worker_env, cfg, evaluator, algo, store_path)
    return RayVecEnv([fn] * workers, num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)


def run_search(
    cfg: Config, out_dir: str | Path, algo: str | None = None, episodes: int | None = None,
    hyperparams: dict[str, Any] | None = None, evaluator: Evaluator | str = "real",
    progress: bool = True, resume: bool = False, workers: int = 1,
    ray_address: str | None = None, gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0,
    vec_env: str = "ray", overwrite: bool = False,
) -> SearchResult:
    """Search ``episodes`` architectures with ``algo`` and write the run folder.

    The folder follows :mod:`gan_nas_env.run_folder` (kind ``search``): it is checked
    before anything is written, locked while the search runs, and its steps are keyed in
    ``results.sqlite`` by the run id of its ``meta.json`` (not the folder's name).

    :param cfg: resolved configuration (seed, data, proxy budget, schedule).
    :param out_dir: run folder (created): config, results.sqlite, tb/, model.zip,
        top_architectures.json, best_grid.png, rewards.png, checkpoint/.
    :param algo: the agent (default ``cfg.search.algo``; on resume the run's own, and
        another one is refused).
    :param episodes: episodes of the search (default ``cfg.search.episodes``; on resume the
        run's own, and a larger number extends it, from the checkpoint at its end: never
        fewer than it has done, and as many as it has done runs nothing).
    :param hyperparams: agent hyper-parameters (on resume None takes the run's own; others
        than the run's are refused).
    :param resume: continue the run in ``out_dir`` from its last checkpoint (episode
        boundary); the episode in flight is redone, its finished steps answered from
        the results store, so the resumed run ends as an uninterrupted one would. A config
        that changes the proxy or any setting but those of
        :data:`~gan_nas_env.run_folder.MAY_DIFFER_ON_RESUME` is refused.
    :param overwrite: delete the search run in ``out_dir`` and start again.
    :param workers: envs run in parallel in Ray actors (``> 1`` or a ``ray_address``
        uses :class:`~agents.vec_envs.ray.RayVecEnv`; no checkpoints, so no resume).
        Off-policy agents then default to ``gradient_steps=-1`` (one update per
        collected transition). The last round may finish up to ``workers - 1`` extra
        episodes.
    :param ray_address: join this Ray cluster instead of starting a local instance.
    :param gpus_per_worker: GPU share of each worker (a fraction shares a GPU).
    :param vec_env: ``ray`` (actors; clusters) or ``thread``
        (:class:`~agents.vec_envs.thread.ThreadVecEnv`: threads of this process with
        one CUDA stream each, so several small GANs overlap on one GPU).
    :raises RunFolderError: the folder cannot be used so (another kind's, an existing run
        without ``resume``/``overwrite``, a change refused on resume, fewer episodes than
        it has done, another writer).
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    distributed = workers > 1 or ray_address is not None
    if distributed and resume:
        raise ConfigError("--resume is not supported with --workers/--ray-address")
    if vec_env not in ("ray", "thread"):
        raise ConfigError(f"unknown vec_env {vec_env!r}; use 'ray' or 'thread'")
    # check the folder and the settings, then build what can fail on bad input, before
    # anything is written
    plan = prepare_run(out, "search", cfg, resume=resume, overwrite=overwrite)
    ckpt = find_checkpoint(out) if plan.resuming else None
    if plan.resuming:  # damaged files are refused before anything is written
        check_store(out / "results.sqlite")
        if ckpt is not None:
            check_checkpoint(ckpt)
    done_before = int(load_state(ckpt).get("episodes_done", 0)) if ckpt is not None else 0
    # episodes that ended: a killed run's checkpoint may be one behind them
    finished = finished_episodes(out / "results.sqlite", plan.id) if plan.resuming else 0
    algo, episodes, hp = _search_settings(cfg, plan, algo, episodes, hyperparams, done_before,
                                          finished, ray_defaults=distributed and vec_env == "ray")
    if plan.resuming and ckpt is not None and done_before == finished == episodes:
        with plan.open({"algo": algo, "episodes": episodes, "hyperparams": hp},
                       session={"at_episode": done_before}) as run:
            with ResultsStore(out / "results.sqlite") as store:
                res = _write_results(store, load_state(ckpt).get("episode_returns", []), out,
                                     run.id, cfg.search.top_k, time.perf_counter() - t0)
        res.nothing_to_run, res.new_episodes = True, 0
        return res
    base: GANCellSearchEnv | None = None
    sampler: Callable[[dict], Any] | None = None
    env: gym.Env | VecEnv
    if not distributed:
        base = GANCellSearchEnv(cfg, evaluator=evaluator)
        env = Monitor(wrap_for_algo(base, algo))
        if ckpt is None:
            model = make_agent(algo, env, seed=cfg.seed, overrides=hp, tensorboard_log=out / "tb")
    meta = {"algo": algo, "episodes": episodes, "hyperparams": hp}
    with plan.open(meta, session={"at_episode": done_before}) as run:
        if distributed:  # its envs write to the folder's results store: after the lock
            venv = _parallel_env(cfg, evaluator, algo, out, workers, vec_env, ray_address,
                                 gpus_per_worker, cpus_per_worker)
            env, sampler = venv, (lambda info: venv.sample(info["worker"], cfg.search.grid_samples))
            model = make_agent(algo, env, seed=cfg.seed, overrides=hp, tensorboard_log=out / "tb")
        # closed however the search ends: a connection left to the garbage collector would
        # checkpoint results.sqlite-wal into results.sqlite at some later moment, changing
        # the run's files under whoever reads them next (_write_results closes it earlier)
        with ResultsStore(out / "results.sqlite") as store:
            try:
                if base is not None:
                    base.attach_store(store, replay=True)
                state: dict[str, Any] = {}
                if ckpt is not None and base is not None:
                    assert isinstance(env, gym.Env)  # the single-process Monitor
                    model, state = _resume_from_checkpoint(ckpt, algo, env, base, out)
                done = int(state.get("episodes_done", 0))
                # steps of the episode in flight are redone (and those of finished episodes past a
                # checkpoint that is behind them, exactly as they were: only with the run's own
                # episodes); a top list naming a deleted row is rewritten at once, so that a kill
                # never leaves one behind
                if store.delete_steps_after(run.id, done) and (out / TOP).exists():
                    _write_top(out, store.top_architectures(run.id, k=cfg.search.top_k))
                schedule = E2GANSchedule.from_search(cfg.search, episodes)
                schedule.episodes_done = int(state.get("schedule_episodes_done", 0))
                recorder = SearchRecorder(store, base, run.id, out, episodes, progress, schedule, state,
                                          sampler, cfg.search.grid_samples)
                with torch_threads(cfg.train.threads):  # the agent's updates too, not only the proxy's
                    _learn_remaining(model, episodes - done, distributed, workers, algo,
                                     [schedule, recorder], reset_num_timesteps=ckpt is None)
                model.save(out / "model.zip")
            finally:
                (env if base is None else base).close()  # before the run's store: workers' own first
            res = _write_results(store, recorder.episode_returns, out, run.id, cfg.search.top_k,
                                 time.perf_counter() - t0)
            res.new_episodes = res.episodes - done
        return res


def _search_settings(
    cfg: Config, plan: RunPlan, algo: str | None, episodes: int | None,
    hyperparams: dict[str, Any] | None, done: int, finished: int, ray_defaults: bool,
) -> tuple[str, int, dict[str, Any]]:
    """Agent, episodes and hyper-parameters of the search; on resume the run's own (checked).

    On resume ``done`` is the episodes of the checkpoint, ``finished`` those that ended in
    ``results.sqlite`` (more when the checkpoint is behind them): fewer than ``finished`` would
    drop finished episodes, and another count than the run's own would redo those past the
    checkpoint under another explore/exploit schedule; both are refused.
    """
    if not plan.resuming:
        algo = (algo or cfg.search.algo).lower()
        hp = search_hyperparams(cfg.search, algo, hyperparams)
        if ray_defaults and ALGOS.get(algo).off_policy:
            hp.setdefault("gradient_steps", -1)  # one update per collected transition
        return algo, episodes or cfg.search.episodes, hp
    meta, where = plan.old_meta, f"cannot resume {plan.path}"
    run_algo = str(meta.get("algo") or cfg.search.algo).lower()
    if algo is not None and algo.lower() != run_algo:
        raise RunFolderError(f"{where}: it searches with {run_algo}, not {algo.lower()} "
                             "(--resume keeps the run's agent)")
    if hyperparams is None and isinstance(meta.get("hyperparams"), dict):
        hp = dict(meta["hyperparams"])
    else:
        hp = search_hyperparams(cfg.search, run_algo, hyperparams)
        old = meta.get("hyperparams")
        if isinstance(old, dict) and json.loads(json.dumps(hp, default=str)) != old:
            raise RunFolderError(f"{where}: agent hyper-parameters {hp} differ from the run's "
                                 f"{old} (--resume keeps them)")
    run_episodes = int(meta.get("episodes") or cfg.search.episodes)
    episodes = episodes or run_episodes
    finished = max(done, finished)
    if episodes < finished:
        raise RunFolderError(f"{where}: --episodes {episodes} is fewer than the {finished} episodes "
                             f"it has done (a resume never drops them); give --episodes {finished} "
                             "or more, or start a new run in another --out")
    if done < finished and episodes != run_episodes:
        raise RunFolderError(f"{where}: its checkpoint is at episode {done} of the {finished} it "
                             f"has done, and episodes after it are redone exactly only with its own "
                             f"--episodes {run_episodes}: resume with that first, then extend it")
    return run_algo, episodes, hp


def threads_config(cfg: Config, workers: int) -> Config:
    """``cfg`` for ``workers`` envs stepping in threads of one process: without CUDA graphs on a GPU.

    On the first GPU (an H200, docs/performance.md) capturing a graph in one thread while another
    env scored failed ("operation not permitted when stream is capturing") and left the CUDA RNG
    mid-capture; graphs are a speed-only setting (same results), so they are turned off, loudly.
    """
    from gan_nas_env.config import load_config
    from gan_nas_env.devices import resolve_device

    if workers < 2 or not cfg.train.cuda_graphs or resolve_device(cfg.device).type != "cuda":
        return cfg
    logging.getLogger(__name__).warning(
        "warning: %d envs in threads on %s: CUDA graphs off (train.cuda_graphs=false); capturing "
        "while another thread runs failed on a GPU (docs/performance.md)", workers, cfg.device)
    return load_config(cfg, {"train.cuda_graphs": False})


def _parallel_env(
    cfg: Config, evaluator: Evaluator | str, algo: str, out: Path, workers: int, vec_env: str,
    ray_address: str | None, gpus_per_worker: float, cpus_per_worker: float,
) -> ThreadVecEnv | RayVecEnv:
    """The vector env of ``workers`` search envs (threads or Ray actors)."""
    if vec_env == "thread":
        from agents.vec_envs.thread import ThreadVecEnv

        cfg = threads_config(cfg, workers)
        fn = functools.partial(worker_env, cfg, evaluator, algo, out / "results.sqlite")
        return ThreadVecEnv([fn] * workers, global_episodes=True)  # streams on the config's device
    return ray_search_env(cfg, evaluator, algo, out / "results.sqlite", workers, ray_address,
                          gpus_per_worker, cpus_per_worker)


def _resume_from_checkpoint(
    ckpt: Path, algo: str, env: gym.Env, base: GANCellSearchEnv, out: Path
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """Load the agent saved in ``ckpt`` and put ``base`` at the start of its episode."""
    state = load_state(ckpt)
    venv = DummyVecEnv([lambda: env])
    model = algo_class(algo).load(ckpt / "model.zip", env=venv, force_reset=False,
                                  tensorboard_log=str(out / "tb"))
    if (ckpt / REPLAY).exists():
        assert isinstance(model, OffPolicyAlgorithm), type(model)
        load_replay_contents(model.replay_buffer, ckpt / REPLAY)
    elif (ckpt / "replay_buffer.pkl").exists():  # checkpoints written before REPLAY existed
        assert isinstance(model, OffPolicyAlgorithm), type(model)
        model.load_replay_buffer(ckpt / "replay_buffer.pkl")
    venv.reset()  # Monitor needs a reset; its draws are overwritten just below
    base.restart_episode(state["episode_index"], state["gan_seed"])
    restore_rng_states(load_rng(ckpt), base, model)
    return model, state


def _learn_remaining(
    model: BaseAlgorithm, remaining: int, distributed: bool, workers: int, algo: str,
    callbacks: list[BaseCallback], reset_num_timesteps: bool,
) -> None:
    """Train until ``remaining`` more episodes are done (nothing when none remain)."""
    if remaining <= 0:
        return
    if distributed:
        from agents.vec_envs.episodes import StopOnCompletedEpisodes

        stop: BaseCallback = StopOnCompletedEpisodes(remaining)
        # Ray workers restart (up to max_restarts each); a restarted episode is redone
        restarts = workers * int(getattr(model.get_env(), "max_restarts", 0))
        budget = episode_budget(remaining, workers, restarts)
    else:
        stop, budget = StopTrainingOnMaxEpisodes(remaining), episode_budget(remaining)
    # schedule first: its end-of-episode update precedes the recorder's checkpoint
    model.learn(total_timesteps=budget, callback=[*callbacks, stop],
                tb_log_name=algo, reset_num_timesteps=reset_num_timesteps)


def _write_top(out: Path, top: list[dict[str, Any]]) -> None:
    """Write top_architectures.json atomically (a kill leaves the old list or the new one)."""
    tmp = out / f".{TOP}.tmp"
    tmp.write_text(json.dumps(top, indent=2))
    tmp.replace(out / TOP)


def _write_results(
    store: ResultsStore, returns: list[float], out: Path, run: str, top_k: int, wall_s: float
) -> SearchResult:
    """Close ``store``; write top_architectures.json and rewards.png; the search's result."""
    top = store.top_architectures(run, k=top_k)
    store.close()
    _write_top(out, top)
    plot_rewards(returns, out / "rewards.png")
    best = top[0] if top else None
    return SearchResult(
        out, best["arch"] if best else None, best["score"] if best else None, top,
        len(returns), wall_s, run,
    )
