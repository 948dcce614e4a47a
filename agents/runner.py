"""Run an RL architecture search: env + agent + schedule + recording + final report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, StopTrainingOnMaxEpisodes
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm.auto import tqdm

import gan_nas_env
from agents.callbacks import E2GANSchedule
from agents.checkpoint import (
    find_checkpoint,
    load_rng,
    load_state,
    restore_rng_states,
    save_checkpoint,
)
from agents.factory import algo_class, make_agent, wrap_for_algo
from gan_nas_env.config import Config, save_config
from gan_nas_env.env import GANCellSearchEnv
from gan_nas_env.evaluators import Evaluator
from gan_nas_env.results_store import ResultsStore


@dataclass
class SearchResult:
    """What a search produced."""

    out_dir: Path
    best_arch: str | None
    best_score: float | None
    top: list[dict[str, Any]]
    episodes: int
    wall_s: float


def git_sha() -> str:
    """The repository's commit, or 'unknown' outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_run_metadata(out: Path, cfg: Config, extra: dict[str, Any]) -> None:
    """Resolved config, command line, seed, version and git SHA of a run folder."""
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    meta = {
        "command": sys.argv, "seed": cfg.seed, "version": gan_nas_env.__version__,
        "git_sha": git_sha(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))


class SearchRecorder(BaseCallback):
    """Writes every env step to the results store, keeps the best complete architecture,
    saves its sample grid, and drives a tqdm progress bar over episodes."""

    def __init__(
        self, store: ResultsStore, env: GANCellSearchEnv, run: str, out: Path,
        total_episodes: int, progress: bool = True, schedule: E2GANSchedule | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.store, self.env, self.run, self.out = store, env, run, out
        self.total_episodes = total_episodes
        self.schedule = schedule
        state = state or {}
        self.best_score = state.get("best_score", -np.inf)
        self.best_arch: str | None = state.get("best_arch")
        self.episode_returns: list[float] = list(state.get("episode_returns", []))
        self._ret = 0.0
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
            "episode_index": self.env.episode_index, "gan_seed": self.env.gan_seed,
        }

    def _on_step(self) -> bool:
        for info, reward, done in zip(self.locals["infos"], self.locals["rewards"], self.locals["dones"]):
            metrics = {k: info[k] for k in ("IS", "FID", "KID") if k in info}
            self.store.add_step(
                self.run, info["episode_index"], info["depth"], info["arch"], float(reward),
                info.get("score"), metrics, info["diverged"], dict(info["timings"]),
            )
            self._ret += float(reward)
            for key in ("IS", "FID"):
                if key in info and np.isfinite(info[key]):
                    self.logger.record(f"proxy/{key}_stage{info['depth']}", info[key])
            if info["depth"] == 3 and not info["diverged"] and info["score"] > self.best_score:
                self.best_score, self.best_arch = info["score"], info["arch"]
                self._save_grid()
            if done:
                self.episode_returns.append(self._ret)
                self.logger.record("search/episode_return", self._ret)
                self._ret = 0.0
                self._bar.update(1)
                self._bar.set_postfix(best=f"{self.best_score:.3f}", arch=self.best_arch or "-")
                self._checkpoint_due = True
        return True

    def _on_rollout_start(self) -> None:
        # SB3 stores the last transition and trains on it after on_step; the next
        # rollout start is the first point where the episode is fully accounted for
        if self._checkpoint_due and self.env.at_episode_start:
            save_checkpoint(self.out, self.model, self.env, self.state())
            self._checkpoint_due = False

    def _save_grid(self) -> None:
        images = self.env.evaluator.sample(64)
        if images is None:
            return
        from PIL import Image

        from gan_nas_env.imageops import make_grid_uint8

        tmp = self.out / "best_grid.tmp.png"
        Image.fromarray(make_grid_uint8(images, nrow=8).numpy()).save(tmp)
        tmp.replace(self.out / "best_grid.png")

    def _on_training_end(self) -> None:
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


def run_search(
    cfg: Config, out_dir: str | Path, algo: str | None = None, episodes: int | None = None,
    hyperparams: dict[str, Any] | None = None, evaluator: Evaluator | str = "real",
    progress: bool = True, resume: bool = False,
) -> SearchResult:
    """Search ``episodes`` architectures with ``algo`` and write the run folder.

    :param cfg: resolved configuration (seed, data, proxy budget, schedule).
    :param out_dir: run folder (created): config, results.sqlite, tb/, model.zip,
        top_architectures.json, best_grid.png, rewards.png, checkpoint/.
    :param resume: continue the run in ``out_dir`` from its last checkpoint (episode
        boundary); the episode in flight is redone, its finished steps answered from
        the results store, so the resumed run ends as an uninterrupted one would.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    algo = (algo or cfg.search.algo).lower()
    episodes = episodes or cfg.search.episodes
    hp = dict(hyperparams or {})
    if cfg.search.learning_starts is not None:
        hp.setdefault("learning_starts", cfg.search.learning_starts)
    # build everything that can fail on bad input before anything is written
    base = GANCellSearchEnv(cfg, evaluator=evaluator)
    env = Monitor(wrap_for_algo(base, algo))
    ckpt = find_checkpoint(out) if resume else None
    state: dict[str, Any] = {}
    if ckpt is None:
        model = make_agent(algo, env, seed=cfg.seed, overrides=hp, tensorboard_log=out / "tb")
        if not resume or not (out / "meta.json").exists():
            write_run_metadata(out, cfg, {"algo": algo, "episodes": episodes, "hyperparams": hp})
    store = ResultsStore(out / "results.sqlite")
    base.attach_store(store, replay=True)
    if ckpt is not None:
        state = load_state(ckpt)
        venv = DummyVecEnv([lambda: env])
        model = algo_class(algo).load(ckpt / "model.zip", env=venv, force_reset=False,
                                      tensorboard_log=str(out / "tb"))
        if (ckpt / "replay_buffer.pkl").exists():
            model.load_replay_buffer(ckpt / "replay_buffer.pkl")
        venv.reset()  # Monitor needs a reset; its draws are overwritten just below
        base.restart_episode(state["episode_index"], state["gan_seed"])
        restore_rng_states(load_rng(ckpt), base, model)
    done = int(state.get("episodes_done", 0))
    store.delete_steps_after(out.name, done)  # steps of the episode in flight are redone
    schedule = E2GANSchedule(
        episodes, cfg.search.explore_fraction, cfg.search.exploit_gradient_steps,
        cfg.search.full_buffer_update,
    )
    schedule.episodes_done = int(state.get("schedule_episodes_done", 0))
    recorder = SearchRecorder(store, base, out.name, out, episodes, progress, schedule, state)
    remaining = episodes - done
    try:
        if remaining > 0:
            callbacks = [schedule, recorder, StopTrainingOnMaxEpisodes(remaining)]
            model.learn(total_timesteps=3 * remaining, callback=callbacks, tb_log_name=algo,
                        reset_num_timesteps=ckpt is None)
        model.save(out / "model.zip")
    finally:
        base.close()
    top = store.top_architectures(out.name, k=cfg.search.top_k)
    store.close()
    (out / "top_architectures.json").write_text(json.dumps(top, indent=2))
    plot_rewards(recorder.episode_returns, out / "rewards.png")
    best = top[0] if top else None
    return SearchResult(
        out, best["arch"] if best else None, best["score"] if best else None, top,
        len(recorder.episode_returns), time.perf_counter() - t0,
    )
