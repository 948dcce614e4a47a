"""Benchmark NAS methods on GAN NAS: agents x seeds x episodes, rliable statistics.

Two kinds of agent, one budget (episodes = architectures evaluated) and one env:

- RL agents (:data:`agents.registry.ALGOS`) run with their ``configs/agents``
  hyper-parameters (keyed by env id) and the E2GAN explore/exploit schedule (as
  ``gan-nas search``);
- ask/tell optimizers (:data:`agents.optimizers.OPTIMIZERS`: ``random``, ``re``,
  ``ls``, ``tpe``, or an outside ``module:Class``) build each asked architecture
  cell by cell in the same env (:func:`run_optimizer`). A name in both registries
  (``random``) runs as the optimizer; it asks the same architectures as the SB3-style
  agent of the same seed.

Each run records, after every episode, the episode's proxy score ``IS - alpha FID``
and its objective: what the run ranks by, the proxy score or, with
``GANCellSearchBench-v1(objective="final")``, the final objective
(``GANBench.query(arch, fidelity="final")["objective"]``), and whether a measured row
gave it.

Normalisation (tabular env): ``(best so far - mean) / (best - mean)`` over the
table's pre-registered uniform sample at the objective's fidelity
(:mod:`agents.benchmark.final_scores`): 0 is what a random architecture gets on
average, 1 the best architecture of the sample (above 1 for an architecture outside
it). Envs without a table report raw scores.

Aggregates use rliable: IQM, mean and optimality gap (gap to 1) with 95%
stratified-bootstrap confidence intervals, probability of improvement,
sample-efficiency curves (IQM over runs per episode) and performance profiles.

Outputs in ``out``: ``curves.csv`` (one row per run and episode), ``curves.json``,
``summary.json``, ``sample_efficiency.png``, ``performance_profile.png``, ``report.md``.
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from agents.algorithms import ALGOS, make_agent, wrap_for_algo
from agents.benchmark.report import (
    RunLog,
    agent_stats,
    plot_benchmark,
    rliable_summary,
    write_report,
)
from agents.callbacks import (
    AGENT_KEYS,
    SCHEDULE_KEYS,
    E2GANSchedule,
    check_search_settings,
    episode_budget,
    search_hyperparams,
)
from agents.optimizers import OPTIMIZERS, is_optimizer, make_optimizer, optimizer_class
from gan_nas_env.config import ConfigError, SearchConfig
from gan_nas_env.envs.bench_env import tabular_evaluator
from gan_nas_env.provenance import provenance
from gan_nas_env.registry import UnknownNameError
from gan_nas_env.run_folder import RunFolderError, RunLock, prepare_run, read_meta
from gan_nas_env.space import SPACE, Architecture, action_from_cell

if TYPE_CHECKING:
    from gan_nas_env.envs.search_env import GANCellSearchEnv

def agent_names() -> list[str]:
    """Every agent name: :data:`~agents.registry.ALGOS` and :data:`~agents.optimizers.OPTIMIZERS`.

    Outside optimizers run as ``module:Class`` besides these.
    """
    return sorted({*ALGOS.names(), *OPTIMIZERS.names()})


def check_agent(name: str) -> None:
    """Raise :class:`~gan_nas_env.registry.UnknownNameError` listing all agents for an unknown name.

    A ``module:Class`` that is no optimizer is a :class:`~gan_nas_env.config.ConfigError`.
    """
    if is_optimizer(name):
        optimizer_class(name)
    elif name not in ALGOS:
        raise UnknownNameError(f"unknown agent {name!r}; known: {', '.join(agent_names())} "
                               "or an ask/tell optimizer as module:Class")


def check_plan(algos: list[str], seeds: list[int], episodes: int) -> None:
    """Refuse a benchmark that would run nothing or the same run twice, before anything is written.

    An empty agent or seed list, a repeated agent or seed (a run would overwrite its twin's
    curves) or ``episodes < 1`` is a :class:`~gan_nas_env.config.ConfigError`; unknown agents
    are checked by :func:`check_agent`.
    """
    if not algos:
        raise ConfigError("no agent to run: give at least one in --algos (e.g. sac,random)")
    if not seeds or episodes < 1:
        raise ConfigError(f"a benchmark needs at least one seed and one episode, got {len(seeds)} "
                          f"seed(s) and {episodes} episode(s)")
    for what, items in (("agent", algos), ("seed", seeds)):
        repeated = sorted({str(x) for x in items if list(items).count(x) > 1})
        if repeated:
            raise ConfigError(f"{what} {', '.join(repeated)} given more than once; each "
                              f"{what} runs once")
    for a in algos:
        check_agent(a)


class EpisodeScores(BaseCallback):
    """Records every finished episode into a :class:`RunLog`; stops after ``episodes``."""

    def __init__(self, episodes: int) -> None:
        super().__init__()
        self.episodes = episodes
        self.log = RunLog()
        self._cost = 0.0

    @property
    def scores(self) -> list[float]:
        """Scores of the finished episodes."""
        return self.log.scores

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            self._cost += _step_cost(info)
            if done and len(self.log.scores) < self.episodes:
                _record(self.log, info, self._cost)
                self._cost = 0.0
        return len(self.log.scores) < self.episodes


def _step_cost(info: dict[str, Any]) -> float:
    t = info.get("timings", {})
    return float(t["simulated_s"] if "simulated_s" in t else t.get("train_s", 0.0) + t.get("score_s", 0.0))


def _record(log: RunLog, info: dict[str, Any], cost: float) -> None:
    """Append a finished episode's ``info`` to ``log``."""
    score = float(info.get("score", np.nan))
    log.scores.append(score)
    log.archs.append(str(info.get("arch", "")))
    log.surrogate.append(info.get("reason") == "surrogate")
    log.proxy_s.append(cost)
    log.objective.append(float(info.get("objective", score)))
    log.measured.append(bool(info.get("measured", info.get("reason") != "surrogate")))


def evaluate_architecture(env: gym.Env, arch: Architecture) -> tuple[dict[str, Any], float]:
    """Build ``arch`` in a (native MultiDiscrete) search env: one episode, cell by cell.

    :return: the last step's ``info`` and the episode's (simulated) proxy seconds.
    """
    env.reset()
    cost, info = 0.0, dict[str, Any]()
    for cell in arch.cells:
        _, _, terminated, truncated, info = env.step(action_from_cell(cell))
        cost += _step_cost(info)
        if terminated or truncated:
            break
    return info, cost


def run_optimizer(name: str, seed: int, episodes: int, make_env: Callable[[], gym.Env],
                  hyperparams: dict[str, Any] | None = None) -> RunLog:
    """One run of the ask/tell optimizer ``name``: ``episodes`` asks, each built in the env.

    The optimizer is told the episode's objective (``info["objective"]``, else the proxy
    score; NaN when the architecture diverged).

    :param hyperparams: keyword arguments of the optimizer's constructor.
    """
    env = make_env()
    env.reset(seed=seed)
    opt = make_optimizer(name, seed=seed, **(hyperparams or {}))
    log = RunLog()
    for _ in range(episodes):
        arch = opt.ask()
        info, cost = evaluate_architecture(env, arch)
        _record(log, {**info, "arch": info.get("arch", str(arch))}, cost)
        opt.tell(arch, float("nan") if info.get("diverged") else log.objective[-1])
    env.close()
    return log


def run_one(algo: str, seed: int, episodes: int, make_env: Callable[[], gym.Env],
            hyperparams: dict[str, Any] | None = None, env_id: str = "GANCellSearch-v0") -> RunLog:
    """One agent run of ``episodes`` episodes.

    :param algo: a name from :func:`agent_names` (an optimizer runs by :func:`run_optimizer`).
    :param make_env: builds a fresh (unwrapped) search env.
    :param hyperparams: overrides of the agent's YAML hyper-parameters.
    """
    if is_optimizer(algo):
        return run_optimizer(algo, seed, episodes, make_env, hyperparams)
    env = make_env()
    cb = EpisodeScores(episodes)
    # the explore/exploit schedule and agent settings of `gan-nas search`, from the env
    # config's search section (docs/architecture.md)
    env_cfg = getattr(env.unwrapped, "cfg", None)
    search = env_cfg.search if env_cfg is not None else SearchConfig()
    model = make_agent(algo, wrap_for_algo(env, algo), seed=seed,
                       overrides=search_hyperparams(search, algo, hyperparams), env_id=env_id)
    schedule = E2GANSchedule.from_search(search, episodes)
    model.learn(total_timesteps=episode_budget(episodes), callback=[schedule, cb])
    env.close()
    return cb.log


def time_env_steps(env: gym.Env, steps: int = 1000, seed: int = 0) -> dict[str, float]:
    """Milliseconds per ``env.step`` with uniform random actions (median, mean, p95, max)."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    times = []
    for _ in range(steps):
        space = env.action_space
        assert isinstance(space, gym.spaces.MultiDiscrete), space
        action = [int(rng.integers(n)) for n in space.nvec]
        t = time.perf_counter()
        _, _, term, trunc, _ = env.step(action)
        times.append(1000 * (time.perf_counter() - t))
        if term or trunc:
            env.reset()
    return {"median": float(np.median(times)), "mean": float(np.mean(times)),
            "p95": float(np.percentile(times, 95)), "max": float(np.max(times)), "steps": steps}


def table_facts(env: GANCellSearchEnv, timing_steps: int = 1000) -> dict[str, Any]:
    """Size, proxy, surrogate held-out error, score landscape and step time of a tabular env.

    Step time is measured after the surrogate is fitted and its predictions are
    filled in (``warmup_s``, paid once per process).
    """
    from gan_nas_env.evaluators.tabular import landscape

    tab = tabular_evaluator(env)
    assert tab is not None, f"{env} is not answered from a table"
    table = tab.table
    t0 = time.perf_counter()
    scores = landscape(table)
    warmup_s = time.perf_counter() - t0
    table_scores = np.array([table.score(a) for a in table.complete()])
    return {
        "path": table.path, "proxy_hash": table.meta["proxy_hash"],
        "complete_architectures": len(table.complete()), "prefixes": len(table.archs) - 1,
        "proxy_hours": float(table.seconds.sum()) / 3600, "surrogate": table.surrogate().kind,
        "holdout": {str(d): h for d, h in table.surrogate().holdout.items()},
        "table_score": {"mean": float(np.nanmean(table_scores)), "max": float(np.nanmax(table_scores))},
        "space_score": {"mean": float(scores.mean()), "max": float(scores.max()),
                        "argmax": str(SPACE.from_index(int(scores.argmax()))),
                        "q99": float(np.quantile(scores, 0.99))},
        "warmup_s": warmup_s, "step_ms": time_env_steps(env, timing_steps),
    }


def best_so_far(scores: list[float]) -> np.ndarray:
    """Running maximum, ignoring NaNs (diverged episodes)."""
    arr = np.array(scores, dtype=np.float64)
    arr = np.where(np.isfinite(arr), arr, -np.inf)
    return np.maximum.accumulate(arr)


def _write_curves_csv(path: Path, logs: dict[str, list[RunLog]], seeds: list[int],
                      ref_mean: float, ref_best: float) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["agent", "seed", "episode", "arch", "score", "best_so_far", "normalised_best",
                    "surrogate", "proxy_s", "objective", "measured"])
        for algo, runs in logs.items():
            for seed, log in zip(seeds, runs):
                best = best_so_far(log.values())
                for e, (arch, s, b, sur, c, o, m) in enumerate(
                        zip(log.archs, log.scores, best, log.surrogate, log.proxy_s, log.values(),
                            log.measured_flags())):
                    w.writerow([algo, seed, e + 1, arch, f"{s:.6g}", f"{b:.6g}",
                                f"{(b - ref_mean) / (ref_best - ref_mean):.6g}", int(sur), f"{c:.4g}",
                                f"{o:.6g}", int(m)])


def run_benchmark(algos: list[str], seeds: list[int], episodes: int, out: str | Path,
                  env_id: str = "GANCellSearchBench-v0", env_kwargs: dict[str, Any] | None = None,
                  hyperparams: dict[str, dict[str, Any]] | None = None, reps: int = 2000,
                  progress: bool = True, timing_steps: int = 1000,
                  overwrite: bool = False) -> dict[str, Any]:
    """Run every agent with every seed; write curves, summary JSON, plots and a report.

    :param algos: names from :func:`agent_names` (SB3 algorithms, ask/tell optimizers) or
        ``module:Class`` of an outside :class:`~agents.optimizers.Optimizer`.
    :param seeds: one run per seed and agent.
    :param episodes: episodes (architectures) per run.
    :param out: run folder of kind ``benchmark`` (:mod:`gan_nas_env.run_folder`: checked
        before anything is written, locked while the benchmark runs, its settings in
        ``meta.json``); an existing benchmark there is refused without ``overwrite``.
    :param env_id: a registered id (``GANCellSearchBench-v0`` for the table,
        ``GANCellSearchBench-v1`` with ``env_kwargs={"objective": "final"}`` to rank by the
        final objective, or ``GANCellSearch-v0`` with ``env_kwargs`` such as ``mode="cached"``).
    :param hyperparams: agent -> hyper-parameter overrides (an optimizer's: constructor
        keyword arguments).
    :param reps: bootstrap replications of the confidence intervals.
    :param timing_steps: random steps that time the tabular env for the report.
    :param overwrite: delete the benchmark in ``out`` and run it again.
    :return: the summary (also in ``out/summary.json``).
    """
    check_plan(algos, seeds, episodes)
    out = Path(out)
    kwargs = dict(env_kwargs or {})
    check_search_settings("gan-nas benchmark", kwargs, (*SCHEDULE_KEYS, *AGENT_KEYS),
                          {"episodes": "use --episodes", "algo": "use --algos"})
    settings = {"algos": algos, "seeds": list(seeds), "episodes": episodes, "env_id": env_id,
                "env_kwargs": kwargs, "hyperparams": hyperparams or {}, "reps": reps,
                "timing_steps": timing_steps}
    plan = prepare_run(out, "benchmark", settings=settings, overwrite=overwrite)
    t0 = time.perf_counter()

    def make_env() -> gym.Env:
        with warnings.catch_warnings():
            # v0 is chosen on purpose (the published runs' env): gymnasium's "v0 is out of
            # date, consider v1" would only turn one-line errors into two
            warnings.filterwarnings("ignore", message=".*is out of date.*")
            return gym.make(env_id, **kwargs).unwrapped

    ref_env = cast("GANCellSearchEnv", make_env())  # bad env arguments fail here, before writing
    with plan.open():
        tab = tabular_evaluator(ref_env)
        table = tab.table if tab is not None else None
        alpha = float(ref_env.alpha)
        ref_best_arch = ""
        facts = table_facts(ref_env, timing_steps) if table is not None else {}
        objective = str(getattr(ref_env, "objective", "proxy"))
        if table is not None:
            from agents.benchmark.final_scores import final_reference, proxy_reference

            ref = (final_reference if objective == "final" else proxy_reference)(table, alpha)
            if ref is None:
                raise RunFolderError(f"table {table.path} holds no uniform sample at the "
                                     f"{objective} fidelity to normalise against")
            ref_mean, ref_best, ref_best_arch = ref["mean"], ref["best"], ref["best_arch"]
        else:
            ref_mean, ref_best = 0.0, 1.0  # raw scores when no table is there
        ref_env.close()
        logs: dict[str, list[RunLog]] = {}
        bar = tqdm(total=len(algos) * len(seeds), desc="benchmark", unit="run", disable=not progress)
        for algo in algos:
            logs[algo] = []
            for seed in seeds:
                bar.set_postfix(agent=algo, seed=seed)
                logs[algo].append(run_one(algo, seed, episodes, make_env,
                                          (hyperparams or {}).get(algo), env_id))
                bar.update(1)
        bar.close()
        info = {"env_id": env_id, "env_kwargs": kwargs, "episodes": episodes, "seeds": list(seeds),
                "algos": algos, "objective": objective, "alpha": alpha, "normalised": table is not None, "ref_mean": ref_mean,
                "ref_best": ref_best, "ref_best_arch": ref_best_arch, "hyperparams": hyperparams or {},
                "table": facts, "wall_s": time.perf_counter() - t0}
        _write_curves_csv(out / "curves.csv", logs, list(seeds), ref_mean, ref_best)
        (out / "curves.json").write_text(json.dumps(
            {**info, "runs": {a: [asdict(r) for r in runs] for a, runs in logs.items()}}, indent=1))
        return analyse(out, info, logs, reps)


def _final_fidelity(info: dict[str, Any], logs: dict[str, list[RunLog]], reps: int) -> dict[str, Any]:
    """The runs' best architectures scored at the table's final fidelity (empty without one)."""
    from agents.benchmark.final_scores import final_curves, final_reference, measured_seeds
    from gan_nas_env.evaluators.tabular import load_table

    path = (info.get("table") or {}).get("path")
    if not path:
        return {}
    table = load_table(path)
    alpha = info.get("alpha")
    ref = final_reference(table, alpha)
    if ref is None:
        return {}
    curves, per_agent = final_curves(table, logs, ref, alpha)
    stats = rliable_summary({a: c[:, :, -1] for a, c in curves.items()}, curves, reps=reps)
    ranked_by = "final objective" if info.get("objective") == "final" else "proxy score"
    final = table.meta["final"]
    return {"reference": ref, "agents": per_agent, "final_hash": table.finals.final_hash,  # type: ignore[union-attr]
            "final_config": (final.get("config") or {}).get("name"), "final_budget": final.get("budget"),
            "surrogate": final.get("surrogate", {}), "ranked_by": ranked_by,
            "measured_seeds": measured_seeds(per_agent, ref, list(info.get("seeds") or []), reps),
            **stats}


def analyse(out: str | Path, info: dict[str, Any] | None = None,
            logs: dict[str, list[RunLog]] | None = None, reps: int = 2000) -> dict[str, Any]:
    """Statistics, plots and report of finished runs.

    Without ``info``/``logs`` they are read from ``out/curves.json`` (re-analyse a
    benchmark folder without re-running it).
    """
    out = Path(out)
    if info is None or logs is None:  # a re-analysis writes into a finished run: take its lock
        if not (out / "curves.json").is_file():
            raise RunFolderError(f"{out} holds no curves.json: not a finished benchmark folder")
        with RunLock(out).acquire():
            data = json.loads((out / "curves.json").read_text())
            logs = {a: [RunLog(**r) for r in runs] for a, runs in data.pop("runs").items()}
            return analyse(out, data, logs, reps)
    ref_mean, ref_best = info["ref_mean"], info["ref_best"]
    curves = {a: ((np.stack([best_so_far(r.values()) for r in runs]) - ref_mean)
                  / (ref_best - ref_mean))[:, None, :]  # [runs, tasks=1, episodes]
              for a, runs in logs.items()}
    final = {a: c[:, :, -1] for a, c in curves.items()}
    summary = rliable_summary(final, curves, reps=reps)
    summary["agents"] = agent_stats(logs, info["ref_best_arch"])
    summary["final_fidelity"] = _final_fidelity(info, logs, reps)
    meta = read_meta(out)  # the run itself (command, git SHA, machine): kept when re-analysed
    run = {k: meta[k] for k in ("command", "git_sha", "version", "machine", "started") if k in meta}
    (out / "summary.json").write_text(json.dumps({**info, **summary, "run": run, "provenance": provenance()},
                                                 indent=1))
    plot_benchmark(final, summary, out, normalised=info["normalised"])
    write_report(out, info, summary)
    return {**info, **summary}
