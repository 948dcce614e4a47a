"""Benchmark RL agents on GAN NAS: algorithms x seeds x episodes, rliable statistics.

Each SB3 agent runs with its ``configs/agents`` hyper-parameters and the E2GAN
explore/exploit schedule (as ``gan-nas search``); random search samples
uniformly. Each run records the best complete-architecture score found so far
after every episode. Scores are normalised against the table (tabular env) as
``(best - mean score of the table's architectures) / (table best - that mean)``:
0 is what a typical architecture gets, 1 the best architecture in the table.
Aggregates use rliable: IQM, mean, optimality gap with stratified bootstrap
confidence intervals, probability of improvement, sample-efficiency curves and
performance profiles.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from agents.callbacks import E2GANSchedule
from agents.factory import ALGOS, make_agent, wrap_for_algo
from agents.random_search import RandomSearch


class EpisodeScores(BaseCallback):
    """Collects the score of every finished episode; stops after ``episodes``."""

    def __init__(self, episodes: int) -> None:
        super().__init__()
        self.episodes = episodes
        self.scores: list[float] = []

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done:
                self.scores.append(float(info.get("score", np.nan)))
        return len(self.scores) < self.episodes


def run_one(algo: str, seed: int, episodes: int, make_env: Any,
            hyperparams: dict[str, Any] | None = None) -> list[float]:
    """Scores of the ``episodes`` episodes of one agent run (NaN for diverged episodes)."""
    env = make_env()
    cb = EpisodeScores(episodes)
    if algo == "random":
        RandomSearch(env, seed).learn(total_timesteps=3 * episodes, callback=[cb])
    else:
        model = make_agent(algo, wrap_for_algo(env, algo), seed=seed, overrides=hyperparams)
        # the same explore/exploit schedule as `gan-nas search` (SPEC section 3)
        model.learn(total_timesteps=3 * episodes, callback=[E2GANSchedule(episodes), cb])
    env.close()
    return cb.scores[:episodes]


def best_so_far(scores: list[float]) -> np.ndarray:
    """Running maximum, ignoring NaNs (diverged episodes)."""
    arr = np.array(scores, dtype=np.float64)
    arr = np.where(np.isfinite(arr), arr, -np.inf)
    return np.maximum.accumulate(arr)


def rliable_summary(final: dict[str, np.ndarray], curves: dict[str, np.ndarray],
                    reps: int = 2000) -> dict[str, Any]:
    """IQM / mean / optimality gap with 95% stratified-bootstrap CIs, probability of improvement."""
    from rliable import library as rly
    from rliable import metrics

    def agg(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x)])

    point, ci = rly.get_interval_estimates(final, agg, reps=reps)
    out: dict[str, Any] = {"aggregates": {}, "probability_of_improvement": {}}
    for algo in final:
        out["aggregates"][algo] = {
            name: {"value": float(point[algo][i]), "ci": [float(ci[algo][0][i]), float(ci[algo][1][i])]}
            for i, name in enumerate(("IQM", "mean", "optimality_gap"))
        }
    algos = list(final)
    pairs = {f"{a},{b}": (final[a], final[b]) for a in algos for b in algos if a != b}
    if pairs:
        p_point, p_ci = rly.get_interval_estimates(
            pairs, lambda x, y: np.array([metrics.probability_of_improvement(x, y)]), reps=reps)
        for k in pairs:
            out["probability_of_improvement"][k] = {
                "value": float(p_point[k][0]), "ci": [float(p_ci[k][0][0]), float(p_ci[k][1][0])]}
    frames = next(iter(curves.values())).shape[-1]
    iqm_curve = lambda s: np.array([metrics.aggregate_iqm(s[..., f]) for f in range(frames)])  # noqa: E731
    c_point, c_ci = rly.get_interval_estimates(curves, iqm_curve, reps=max(200, reps // 10))
    out["curves"] = {a: {"iqm": c_point[a].tolist(), "ci": np.asarray(c_ci[a]).tolist()} for a in curves}
    return out


def plot_benchmark(final: dict[str, np.ndarray], summary: dict[str, Any], out: Path) -> list[Path]:
    """Sample-efficiency curves and performance profiles as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from rliable import library as rly
    from rliable import plot_utils

    paths = []
    algos = list(final)
    palette = plt.get_cmap("tab10")
    colors = {a: palette(i % 10) for i, a in enumerate(algos)}
    handles = [Line2D([0], [0], color=colors[a], lw=2, label=a) for a in algos]
    frames = np.arange(1, len(summary["curves"][algos[0]]["iqm"]) + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plot_utils.plot_sample_efficiency_curve(
        frames, {a: np.array(summary["curves"][a]["iqm"]) for a in algos},
        {a: np.array(summary["curves"][a]["ci"]) for a in algos}, algorithms=algos,
        colors=colors, xlabel="episodes", ylabel="IQM normalised best score", ax=ax)
    ax.legend(handles=handles, loc="lower right")
    fig.tight_layout()
    paths.append(out / "sample_efficiency.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    taus = np.linspace(-0.5, 1.2, 61)
    prof, prof_ci = rly.create_performance_profile(final, taus)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plot_utils.plot_performance_profiles(prof, taus, performance_profile_cis=prof_ci, colors=colors,
                                         xlabel=r"normalised best score $\tau$", ax=ax)
    ax.legend(handles=handles, loc="lower left")
    fig.tight_layout()
    paths.append(out / "performance_profile.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_report(out: Path, info: dict[str, Any], summary: dict[str, Any]) -> Path:
    """A Markdown report of a benchmark."""
    lines = [
        "# Benchmark report", "",
        f"- env: `{info['env_id']}`; episodes per run: {info['episodes']}; seeds: {info['seeds']}",
        f"- normalisation: 0 = mean score of the table's architectures ({info['ref_mean']:.4f}), "
        f"1 = best architecture in the table ({info['ref_best']:.4f}); score = IS - alpha * FID",
        f"- wall time: {info['wall_s']:.1f} s", "",
        "| agent | IQM [95% CI] | mean [95% CI] | optimality gap [95% CI] |", "|---|---|---|---|",
    ]
    for algo, agg in summary["aggregates"].items():
        cells = [f"{agg[k]['value']:.3f} [{agg[k]['ci'][0]:.3f}, {agg[k]['ci'][1]:.3f}]"
                 for k in ("IQM", "mean", "optimality_gap")]
        lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    lines += ["", "Probability of improvement P(X > Y):", "", "| X,Y | P [95% CI] |", "|---|---|"]
    for k, v in summary["probability_of_improvement"].items():
        lines.append(f"| {k} | {v['value']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}] |")
    lines += ["", "![sample efficiency](sample_efficiency.png)", "",
              "![performance profile](performance_profile.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def run_benchmark(algos: list[str], seeds: list[int], episodes: int, out: str | Path,
                  env_id: str = "GANCellSearchBench-v0", env_kwargs: dict[str, Any] | None = None,
                  hyperparams: dict[str, dict[str, Any]] | None = None, reps: int = 2000,
                  progress: bool = True) -> dict[str, Any]:
    """Run every algorithm with every seed; write curves, summary JSON, plots and a report.

    :param algos: names from ``ALGOS`` plus ``random``.
    :param env_id: a registered id (``GANCellSearchBench-v0`` for the table, or
        ``GANCellSearch-v0`` with ``env_kwargs`` such as ``mode="cached"``).
    """
    for a in algos:
        if a != "random":
            ALGOS.get(a)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    kwargs = dict(env_kwargs or {})

    def make_env() -> gym.Env:
        return gym.make(env_id, **kwargs).unwrapped

    ref_env = make_env()
    table = getattr(ref_env.evaluator, "table", None)
    alpha = ref_env.alpha
    if table is not None:
        ref_scores = np.array([table.score(a, alpha) for a in table.complete()])
        ref_mean, ref_best = float(ref_scores.mean()), float(ref_scores.max())
    else:
        ref_mean, ref_best = 0.0, 1.0  # raw scores when no table is there
    curves: dict[str, np.ndarray] = {}
    raw: dict[str, list[list[float]]] = {}
    bar = tqdm(total=len(algos) * len(seeds), desc="benchmark", unit="run", disable=not progress)
    for algo in algos:
        runs = []
        for seed in seeds:
            bar.set_postfix(algo=algo, seed=seed)
            scores = run_one(algo, seed, episodes, make_env, (hyperparams or {}).get(algo))
            runs.append(scores)
            bar.update(1)
        raw[algo] = runs
        norm = (np.stack([best_so_far(s) for s in runs]) - ref_mean) / (ref_best - ref_mean)
        curves[algo] = norm[:, None, :]  # [runs, tasks=1, episodes]
    bar.close()
    final = {a: c[:, :, -1] for a, c in curves.items()}
    summary = rliable_summary(final, curves, reps=reps)
    info = {"env_id": env_id, "episodes": episodes, "seeds": list(seeds), "algos": algos,
            "ref_mean": ref_mean, "ref_best": ref_best, "wall_s": time.perf_counter() - t0}
    (out / "curves.json").write_text(json.dumps({"raw_scores": raw, **info}, indent=1))
    (out / "summary.json").write_text(json.dumps({**info, **summary}, indent=1))
    plot_benchmark(final, summary, out)
    write_report(out, info, summary)
    return {**info, **summary}
