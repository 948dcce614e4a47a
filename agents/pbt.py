"""Population-based training (PBT) of SB3 search agents with Ray Tune.

Each trial is one SB3 agent (SAC, PPO, ...) on the real, cached or tabular
search env; Ray Tune's :class:`~ray.tune.schedulers.PopulationBasedTraining`
copies the weights of good agents into bad ones and perturbs their
``learning_rate`` (log-uniform in [1e-5, 3e-4]) and ``ent_coef`` (log-uniform
in [2e-3, 1e-1]), as the SPIRAL population did. Tune does the scheduling and
checkpointing; the agent is extended only through its public API.

Members train with their stochastic policy throughout: PBT's exploit/explore rounds take the
place of the E2GAN explore/exploit schedule, so the env config's ``search.explore_fraction``,
``search.exploit_gradient_steps`` and ``search.full_buffer_update`` are refused
(:func:`check_pbt_settings`); ``search.learning_starts`` and ``search.random_warmup`` set
every member's agent as they set ``gan-nas search``'s.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from ray import tune
from ray.tune.schedulers import PopulationBasedTraining
from stable_baselines3.common.callbacks import BaseCallback, StopTrainingOnMaxEpisodes
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import get_schedule_fn

from agents.callbacks import AGENT_KEYS, check_search_settings, episode_budget, search_hyperparams
from gan_nas_env.run_folder import open_run
from gan_nas_env.space import NUM_CELLS

LR_RANGE = (1e-5, 3e-4)
ENT_RANGE = (2e-3, 1e-1)


class EpisodeScores(BaseCallback):
    """Collects each finished episode's return and final architecture score."""

    def __init__(self) -> None:
        super().__init__()
        self.returns: list[float] = []
        self.best_score, self.best_arch = -np.inf, None
        self._ret = 0.0

    def _on_step(self) -> bool:
        for info, reward, done in zip(self.locals["infos"], self.locals["rewards"], self.locals["dones"]):
            self._ret += float(reward)
            if info.get("depth") == NUM_CELLS and not info.get("diverged") and info["score"] > self.best_score:
                self.best_score, self.best_arch = float(info["score"]), info["arch"]
            if done:
                self.returns.append(self._ret)
                self._ret = 0.0
        return True


def set_hyperparams(model: Any, learning_rate: float, ent_coef: float) -> None:
    """Put PBT's ``learning_rate`` and ``ent_coef`` into a live SB3 model."""
    model.learning_rate = learning_rate
    model.lr_schedule = get_schedule_fn(learning_rate)
    if hasattr(model, "ent_coef_tensor") and getattr(model, "log_ent_coef", None) is None:
        import torch

        model.ent_coef_tensor = torch.tensor(float(ent_coef), device=model.device)
    model.ent_coef = ent_coef


def clip_to_ranges(config: dict[str, Any]) -> dict[str, Any]:
    """PBT's explore step multiplies by 0.8/1.2; keep the values inside their ranges."""
    config["learning_rate"] = float(np.clip(config["learning_rate"], *LR_RANGE))
    config["ent_coef"] = float(np.clip(config["ent_coef"], *ENT_RANGE))
    return config


class SB3Trainable(tune.Trainable):
    """One population member: an SB3 agent, checkpointed as the SB3 ``model.zip``.

    It trains ``episodes_per_iter`` episodes per Tune iteration.

    Config keys: ``algo``, ``env_id``, ``env_kwargs``, ``episodes_per_iter``, ``seed``,
    ``hyperparams`` (fixed SB3 overrides), ``learning_rate``, ``ent_coef``.
    """

    def setup(self, config: dict[str, Any]) -> None:
        """Build the env and the SB3 agent from ``config``."""
        import gan_nas_env  # noqa: F401 - registers the env ids
        from agents.algorithms import make_agent, wrap_for_algo

        self.algo = config["algo"]
        self.env = Monitor(wrap_for_algo(gym.make(config["env_id"], **config["env_kwargs"]), self.algo))
        overrides = {**config.get("hyperparams", {}), "learning_rate": config["learning_rate"],
                     "ent_coef": config["ent_coef"]}
        env_cfg = getattr(self.env.unwrapped, "cfg", None)  # the search env's config
        if env_cfg is not None:
            overrides = search_hyperparams(env_cfg.search, self.algo, overrides)
        self.model = make_agent(self.algo, self.env, seed=int(config["seed"]), overrides=overrides)
        self.scores = EpisodeScores()

    def step(self) -> dict[str, Any]:
        """Train ``episodes_per_iter`` episodes; report mean return and best architecture."""
        n = int(self.config["episodes_per_iter"])
        before = len(self.scores.returns)
        self.model.learn(episode_budget(n), callback=[self.scores, StopTrainingOnMaxEpisodes(n)],
                         reset_num_timesteps=False)
        returns = self.scores.returns[before:]
        return {
            "episode_return_mean": float(np.mean(returns)) if returns else float("nan"),
            "best_score": float(self.scores.best_score), "best_arch": self.scores.best_arch,
            "episodes": len(self.scores.returns),
        }

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        """Save the model and the best score/architecture to ``checkpoint_dir``."""
        self.model.save(Path(checkpoint_dir) / "model.zip")
        best = {"best_score": float(self.scores.best_score), "best_arch": self.scores.best_arch}
        (Path(checkpoint_dir) / "scores.json").write_text(json.dumps(best))

    # Ray passes the checkpoint folder (a str) since save_checkpoint returns None; its
    # signature only declares the dict form
    def load_checkpoint(self, checkpoint_dir: str) -> None:  # type: ignore[override]
        """Load the model and its best score/architecture, keeping this trial's hyperparameters."""
        from agents.algorithms import algo_class

        ckpt = Path(checkpoint_dir)
        self.model = algo_class(self.algo).load(ckpt / "model.zip", env=self.env, device="cpu")
        set_hyperparams(self.model, self.config["learning_rate"], self.config["ent_coef"])
        best = json.loads((ckpt / "scores.json").read_text())  # the weights' lineage
        self.scores.best_score, self.scores.best_arch = best["best_score"], best["best_arch"]

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Take the new hyperparameters in place (actor reuse) and start a fresh score record."""
        set_hyperparams(self.model, new_config["learning_rate"], new_config["ent_coef"])
        self.config = new_config
        self.scores = EpisodeScores()  # a reused actor starts a new member's record
        return True

    def cleanup(self) -> None:
        """Close the env."""
        self.env.close()


def check_pbt_settings(env_kwargs: dict[str, Any]) -> None:
    """Refuse the ``search.*`` settings in ``env_kwargs`` that PBT would ignore (ConfigError)."""
    pbt_round = "PBT's exploit/explore rounds replace the E2GAN schedule"
    check_search_settings("gan-nas pbt", env_kwargs, AGENT_KEYS, {
        "episodes": "use --iterations and --episodes-per-iter", "algo": "use --algo",
        "explore_fraction": pbt_round, "exploit_gradient_steps": pbt_round,
        "full_buffer_update": pbt_round,
    })


@dataclass
class PBTResult:
    """The best agent of a population, and every member's last result."""

    best_hyperparams: dict[str, float]
    best_return: float
    best_score: float
    best_arch: str | None
    best_checkpoint: str | None
    members: list[dict[str, Any]]
    wall_s: float


def run_pbt(
    out_dir: str | Path, population: int = 10, algo: str = "sac",
    env_id: str = "GANCellSearchBench-v0", env_kwargs: dict[str, Any] | None = None,
    iterations: int = 10, episodes_per_iter: int = 10, perturbation_interval: int = 2,
    hyperparams: dict[str, Any] | None = None, cpus_per_member: float = 1.0,
    gpus_per_member: float = 0.0, seed: int = 0, overwrite: bool = False,
) -> PBTResult:
    """Train a population of ``algo`` agents with PBT; write ``out_dir/pbt_summary.json``.

    :param population: number of agents (Tune samples).
    :param iterations: Tune iterations per agent, each ``episodes_per_iter`` episodes.
    :param perturbation_interval: iterations between PBT exploit/explore rounds.
    :param hyperparams: fixed SB3 overrides of every agent (e.g. ``learning_starts``).
    :param cpus_per_member: CPUs per agent (a fraction runs more agents at once).
    :param overwrite: delete the PBT run in ``out_dir`` and run it again (an existing one is
        refused otherwise: ``out_dir`` is a run folder of kind ``pbt``,
        :mod:`gan_nas_env.run_folder`, locked while the population trains).
    """
    check_pbt_settings(dict(env_kwargs or {}))
    t0 = time.perf_counter()
    out = Path(out_dir).resolve()
    settings = {"population": population, "algo": algo, "env_id": env_id,
                "env_kwargs": dict(env_kwargs or {}), "iterations": iterations,
                "episodes_per_iter": episodes_per_iter,
                "perturbation_interval": perturbation_interval,
                "hyperparams": dict(hyperparams or {}), "cpus_per_member": cpus_per_member,
                "gpus_per_member": gpus_per_member, "seed": seed}
    with open_run(out, "pbt", settings=settings, overwrite=overwrite):
        rng = np.random.default_rng(seed)
        space = {
            "algo": algo, "env_id": env_id, "env_kwargs": dict(env_kwargs or {}),
            "episodes_per_iter": episodes_per_iter, "hyperparams": dict(hyperparams or {}),
            "seed": tune.sample_from(lambda _: int(rng.integers(2**31 - 1))),
            "learning_rate": tune.loguniform(*LR_RANGE), "ent_coef": tune.loguniform(*ENT_RANGE),
        }
        pbt = PopulationBasedTraining(
            time_attr="training_iteration", perturbation_interval=perturbation_interval,
            hyperparam_mutations={"learning_rate": tune.loguniform(*LR_RANGE),
                                  "ent_coef": tune.loguniform(*ENT_RANGE)},
            quantile_fraction=0.25, custom_explore_fn=clip_to_ranges,
        )
        trainable = tune.with_resources(SB3Trainable, {"cpu": cpus_per_member, "gpu": gpus_per_member})
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(scheduler=pbt, num_samples=population,
                                        metric="episode_return_mean", mode="max", reuse_actors=True),
            run_config=tune.RunConfig(
                name="pbt", storage_path=str(out), stop={"training_iteration": iterations}, verbose=0,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_at_end=True),
            ),
        )
        grid = tuner.fit()
        if grid.errors:
            raise RuntimeError(f"{len(grid.errors)} PBT members failed; first: {grid.errors[0]}")
        best = grid.get_best_result(metric="episode_return_mean", mode="max", scope="last")
        results = [grid[i] for i in range(len(grid))]  # ResultGrid declares no __iter__
        members = [
            {"learning_rate": (r.config or {})["learning_rate"],
             "ent_coef": (r.config or {})["ent_coef"],
             **{k: r.metrics.get(k) for k in ("episode_return_mean", "best_score", "best_arch",
                                              "episodes", "training_iteration")}}
            for r in results if r.metrics
        ]
        best_config, best_metrics = best.config or {}, best.metrics or {}
        res = PBTResult(
            best_hyperparams={k: best_config[k] for k in ("learning_rate", "ent_coef")},
            best_return=float(best_metrics["episode_return_mean"]),
            best_score=float(best_metrics["best_score"]), best_arch=best_metrics.get("best_arch"),
            best_checkpoint=best.checkpoint.path if best.checkpoint else None,
            members=members, wall_s=time.perf_counter() - t0,
        )
        (out / "pbt_summary.json").write_text(json.dumps(asdict(res), indent=2))
        return res
