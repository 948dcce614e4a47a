"""Statistics, plots and the Markdown report of a benchmark run (see :mod:`agents.benchmark.run`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.space import SPACE


@dataclass
class RunLog:
    """Per-episode record of one agent run (written by :mod:`agents.benchmark.run`)."""

    scores: list[float] = field(default_factory=list)  # NaN for diverged episodes
    archs: list[str] = field(default_factory=list)
    surrogate: list[bool] = field(default_factory=list)  # final answer came from the surrogate
    proxy_s: list[float] = field(default_factory=list)  # (simulated) proxy seconds of the episode
    # what the run ranks by (``info["objective"]`` of GANCellSearchBench-v1) and whether a
    # stored row answered it; empty in runs recorded before (then: the proxy score, and
    # measured = not answered by the surrogate)
    objective: list[float] = field(default_factory=list)
    measured: list[bool] = field(default_factory=list)

    def values(self) -> list[float]:
        """Per episode, the value the run is ranked by: the objective, else the proxy score."""
        return self.objective if len(self.objective) == len(self.scores) else self.scores

    def measured_flags(self) -> list[bool]:
        """Per episode, whether a stored (measured) row gave :meth:`values`."""
        if len(self.measured) == len(self.scores):
            return self.measured
        return [not s for s in self.surrogate]

    def best_episode(self) -> int | None:
        """Index of the first episode with the best value (None when every one diverged)."""
        v = np.array(self.values(), dtype=np.float64)
        return int(np.nanargmax(v)) if np.isfinite(v).any() else None


@contextmanager
def seeded_numpy(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the block, then restore its state.

    rliable's stratified bootstrap resamples with ``np.random.choice`` (its
    ``random_state`` argument does not reach the resampling), so this is how its
    intervals become reproducible without disturbing anyone else's draws.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int = 2000,
                               seed: int = 0) -> dict[str, Any]:
    """P(X > Y) of runs ``x`` over runs ``y`` (``[runs, tasks]``): rliable's, with an interval.

    The interval is a seeded stratified-bootstrap 95% one; returns ``{"value", "ci"}``.
    """
    from rliable import library as rly
    from rliable import metrics

    with seeded_numpy(seed):
        p, c = rly.get_interval_estimates(
            {"pair": (np.asarray(x, float), np.asarray(y, float))},
            lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=reps)
    return {"value": float(p["pair"][0]), "ci": [float(c["pair"][0][0]), float(c["pair"][1][0])]}


def rliable_summary(final: dict[str, np.ndarray], curves: dict[str, np.ndarray],
                    reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """IQM / mean / optimality gap with 95% stratified-bootstrap CIs, probability of improvement.

    :param final: agent -> ``[runs, tasks]`` normalised final scores.
    :param curves: agent -> ``[runs, tasks, episodes]`` normalised best-so-far scores.
    :param seed: seeds the bootstrap (the same scores give the same intervals).
    """
    from rliable import library as rly
    from rliable import metrics

    def agg(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x)])

    def interval(scores: dict[str, Any], func: Callable[..., np.ndarray], n: int) -> tuple[dict, dict]:
        # one freshly seeded bootstrap per entry: an agent's interval does not depend on
        # which other agents are in the benchmark
        point, ci = {}, {}
        for k, v in scores.items():
            with seeded_numpy(seed):
                p, c = rly.get_interval_estimates({k: v}, func, reps=n)
            point[k], ci[k] = p[k], c[k]
        return point, ci

    point, ci = interval(final, agg, reps)
    out: dict[str, Any] = {"aggregates": {}, "probability_of_improvement": {}}
    for algo in final:
        out["aggregates"][algo] = {
            name: {"value": float(point[algo][i]), "ci": [float(ci[algo][0][i]), float(ci[algo][1][i])]}
            for i, name in enumerate(("IQM", "mean", "optimality_gap"))
        }
    algos = list(final)
    for a in algos:
        for b in algos:
            if a != b:
                out["probability_of_improvement"][f"{a},{b}"] = probability_of_improvement(
                    final[a], final[b], reps, seed)
    frames = next(iter(curves.values())).shape[-1]

    def iqm_curve(s: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(s[..., f]) for f in range(frames)])

    c_point, c_ci = interval(curves, iqm_curve, max(200, reps // 10))
    out["curves"] = {a: {"iqm": c_point[a].tolist(), "ci": np.asarray(c_ci[a]).tolist()} for a in curves}
    return out


def plot_benchmark(final: dict[str, np.ndarray], summary: dict[str, Any], out: Path,
                   normalised: bool = True) -> list[Path]:
    """Sample-efficiency curves and performance profiles as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from rliable import library as rly
    from rliable import plot_utils

    what = "normalised best score" if normalised else "best score"
    algos = list(final)
    palette = plt.get_cmap("tab10" if len(algos) <= 10 else "tab20")
    colors = {a: palette(i % palette.N) for i, a in enumerate(algos)}
    handles = [Line2D([0], [0], color=colors[a], lw=2, label=a) for a in algos]
    frames = np.arange(1, len(summary["curves"][algos[0]]["iqm"]) + 1)
    paths = [out / "sample_efficiency.png", out / "performance_profile.png"]
    many = len(algos) > 5  # legend beside the axes, not over the curves
    size = (8.5, 4) if many else (6.5, 4)

    def legend(ax: Any, loc: str) -> None:
        if many:
            ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        else:
            ax.legend(handles=handles, loc=loc)

    fig, ax = plt.subplots(figsize=size)
    plot_utils.plot_sample_efficiency_curve(
        frames, {a: np.array(summary["curves"][a]["iqm"]) for a in algos},
        {a: np.array(summary["curves"][a]["ci"]) for a in algos}, algorithms=algos,
        colors=colors, xlabel="episodes (architectures evaluated)", ylabel=f"IQM {what}", ax=ax,
        marker="", labelsize="large", ticklabelsize="large")
    legend(ax, "lower right")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    values = np.concatenate([v.ravel() for v in final.values()])
    lo, hi = float(values.min()), float(values.max())
    if normalised:
        lo, hi = min(0.0, lo), max(1.0, hi)
    pad = 0.05 * (hi - lo) + 1e-9
    taus = np.linspace(lo - pad, hi + pad, 101)
    with seeded_numpy(0):
        prof, prof_ci = rly.create_performance_profile(final, taus)
    fig, ax = plt.subplots(figsize=size)
    plot_utils.plot_performance_profiles(prof, taus, performance_profile_cis=prof_ci, colors=colors,
                                         xlabel=rf"{what} $\tau$", ax=ax, labelsize="large",
                                         ticklabelsize="large")
    legend(ax, "lower left")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths


def sample_sd(values: Any) -> float:
    """Sample standard deviation (ddof 1) of the finite values; NaN below two of them."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.std(v, ddof=1)) if v.size > 1 else float("nan")


def agent_stats(logs: dict[str, list[RunLog]], ref_best_arch: str) -> dict[str, dict[str, float]]:
    """Per-agent statistics of its runs, as the report and ``docs/benchmark.md`` show them.

    Raw best value (mean, sample standard deviation over runs; the run's objective, :meth:`RunLog.values`), the share of runs
    whose best value came from a measured row (not a surrogate prediction), runs that found
    the table's best architecture, share of episodes the surrogate answered, distinct
    architectures per run and the (simulated) proxy hours of one run.
    """
    out = {}
    for algo, runs in logs.items():
        best = np.array([np.nanmax(r.values()) if np.isfinite(r.values()).any() else np.nan for r in runs])
        at = [r.best_episode() for r in runs]
        measured = [i is not None and bool(r.measured_flags()[i]) for r, i in zip(runs, at)]
        out[algo] = {"best_mean": float(np.nanmean(best)), "best_std": sample_sd(best), "best_std_ddof": 1,
                     "measured_share": float(np.mean(measured)),
                     "found_best": int(sum(ref_best_arch in r.archs for r in runs)), "runs": len(runs),
                     "surrogate_share": float(np.mean([np.mean(r.surrogate) for r in runs])),
                     "distinct": float(np.mean([len(set(r.archs)) for r in runs])),
                     "proxy_hours": float(np.mean([sum(r.proxy_s) for r in runs]) / 3600)}
    return out


def _fmt(v: dict[str, Any]) -> str:
    return f"{v['value']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]"


def _pct(share: float | None) -> str:
    """A share as a percentage ('-' when the summary predates it)."""
    return "-" if share is None else f"{100 * share:.0f}%"


def _final_fidelity_lines(ff: dict[str, Any]) -> list[str]:
    """The report's section on the final fidelity (nothing when the table has none)."""
    if not ff:
        return []
    ref, sur = ff["reference"], ff["surrogate"]
    lines = [
        "", "## At the final fidelity", "",
        f"Each run's best architecture (by the value it ranked by: {ff.get('ranked_by', 'proxy score')}) "
        f"scored by the table's final protocol "
        f"(`{ff['final_hash']}`): measured when the table holds its final row, predicted by the "
        f"final surrogate otherwise (out-of-fold Spearman {sur.get('score_spearman', np.nan):.3f} "
        f"over {sur.get('n', 0)} measured architectures). Normalised: 0 = mean final objective of the "
        f"{ref['n']} measured uniform architectures ({ref['mean']:.4f}), 1 = the best of them "
        f"({ref['best']:.4f}, `{ref['best_arch']}`).", "",
        "| agent | final score (raw, mean +- sample sd) | measured | IQM [95% CI] | mean [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for algo, agg in ff["aggregates"].items():
        a = ff["agents"][algo]
        raw = np.array(a["final_score"], float)
        lines.append(f"| {algo} | {np.nanmean(raw):.4f} +- {sample_sd(raw):.4f} | "
                     f"{100 * a['measured_share']:.0f}% | {_fmt(agg['IQM'])} | {_fmt(agg['mean'])} |")
    lines += ["", "| X, Y | P(X > Y) at the final fidelity |", "|---|---|"]
    for k, v in ff["probability_of_improvement"].items():
        lines.append(f"| {k.replace(',', ', ')} | {_fmt(v)} |")
    return [*lines, "", measured_seeds_line(ff.get("measured_seeds"))]


def measured_seeds_line(ms: dict[str, Any] | None) -> str:
    """One sentence on the seeds at which every agent's best is measured (no surrogate at all)."""
    if not ms:
        return "Measured seeds: not recorded (re-analyse with `gan-nas benchmark --analyse`)."
    seeds = ms["seeds"]
    if len(seeds) < 2:
        return (f"Measured bests only: every agent's best is measured at {len(seeds)} of {ms['of']} seeds "
                f"({', '.join(map(str, seeds)) or 'none'}); a comparison without the surrogate needs two or more "
                "(`scripts/measure_bests.py` trains the bests seed by seed).")
    parts = [f"{a} {m:.3f}" + (f" (P > random {_fmt(ms['p_vs_random'][a])})" if a in ms.get("p_vs_random", {}) else "")
             for a, m in sorted(ms["mean"].items(), key=lambda kv: -kv[1])]
    return (f"Measured bests only, at the {len(seeds)} of {ms['of']} seeds where every agent's best is "
            f"measured ({', '.join(map(str, seeds))}): normalised mean final objective " + "; ".join(parts) + ".")


def write_report(out: Path, info: dict[str, Any], summary: dict[str, Any]) -> Path:
    """A Markdown report of a benchmark (aggregates, raw scores, costs, plots)."""
    if info["normalised"]:
        norm = (f"0 = mean score of the table's architectures ({info['ref_mean']:.4f}), "
                f"1 = best architecture in the table ({info['ref_best']:.4f}, `{info['ref_best_arch']}`)")
    else:
        norm = "none (no table): raw scores"
    objective = info.get("objective", "proxy")
    if objective == "final":
        what = ("objective = the final fidelity's objective of an episode's architecture "
                "(`GANBench.query(arch, fidelity='final')`, measured when the table holds its final "
                "rows); each run's result is its best objective after the last episode")
        sur = (summary.get("final_fidelity") or {}).get("surrogate") or {}
        if sur:  # what the runs optimise where the table has no measured final row
            what += (f"; an architecture without a final row is answered by the final surrogate "
                     f"(out-of-fold Spearman {sur.get('score_spearman', np.nan):.3f} over {sur.get('n', 0)} "
                     "measured architectures), so a run's best is often a prediction, and the largest of "
                     "many predictions is biased upwards: `scripts/measure_bests.py` trains "
                     "them before a result is published")
        if info["normalised"]:
            norm = (f"0 = mean final objective of the table's measured uniform sample ({info['ref_mean']:.4f}), "
                    f"1 = the best of them ({info['ref_best']:.4f}, `{info['ref_best_arch']}`)")
    else:
        what = (f"score = IS - {info['alpha']} * FID of an episode's final architecture at the proxy; "
                "each run's result is its best score after the last episode")
    lines = [
        "# Benchmark report", "",
        f"- env: `{info['env_id']}`; objective: {objective}; episodes (architectures evaluated) per "
        f"run: {info['episodes']}; seeds: {info['seeds']}",
        f"- {what}",
        f"- normalisation: {norm}",
        f"- wall time: {info['wall_s']:.1f} s",
    ]
    if info["table"]:
        t = info["table"]
        h3 = t["holdout"].get("3", {})
        lines += [
            f"- table: `{t['path']}` (proxy `{t['proxy_hash']}`): {t['complete_architectures']} complete "
            f"architectures, {t['prefixes']} prefixes, {t['proxy_hours']:.2f} h of real proxy time",
            f"- proxy surrogate ({t['surrogate']}), held-out at depth 3: score MAE {h3.get('score_mae', np.nan):.4f} "
            f"(mean predictor {h3.get('score_mae_mean_predictor', np.nan):.4f}), "
            f"Spearman {h3.get('score_spearman', np.nan):.3f}",
            f"- proxy score landscape over all {len(SPACE)} architectures (table where measured, "
            f"surrogate elsewhere): mean {t['space_score']['mean']:.4f}, 99th percentile "
            f"{t['space_score']['q99']:.4f}, max {t['space_score']['max']:.4f} (`{t['space_score']['argmax']}`)",
            f"- env step: median {t['step_ms']['median']:.3f} ms, mean {t['step_ms']['mean']:.3f} ms, "
            f"p95 {t['step_ms']['p95']:.3f} ms (after a one-off {t['warmup_s']:.1f} s surrogate fit "
            "and prediction)",
        ]
    lines += [
        "", "\"measured\": the share of runs whose best value came from a stored row of the table "
        "rather than a surrogate prediction.", "",
        "| agent | IQM [95% CI] | mean [95% CI] | optimality gap [95% CI] | measured |",
        "|---|---|---|---|---|",
    ]
    for algo, agg in summary["aggregates"].items():
        share = summary["agents"].get(algo, {}).get("measured_share")
        lines.append(f"| {algo} | " + " | ".join(_fmt(agg[k]) for k in ("IQM", "mean", "optimality_gap"))
                     + f" | {_pct(share)} |")
    lines += ["", f"Per agent, over runs: raw best {'objective' if objective == 'final' else 'score'} "
              "(mean +- sample sd over runs), how often the run found the table's best architecture, share of "
              "episodes answered by the surrogate, distinct architectures per run, and the "
              "(simulated) proxy time of one run.", "",
              "| agent | best value | measured | found table best | surrogate episodes | distinct archs "
              "| proxy time per run |",
              "|---|---|---|---|---|---|---|"]
    for algo, a in summary["agents"].items():
        lines.append(f"| {algo} | {a['best_mean']:.4f} +- {a['best_std']:.4f} | {_pct(a.get('measured_share'))} "
                     f"| {a['found_best']}/{a['runs']} "
                     f"| {100 * a['surrogate_share']:.1f}% | {a['distinct']:.0f} | {a['proxy_hours']:.2f} h |")
    lines += ["", "Probability of improvement P(X > Y) [95% CI]:", "", "| X, Y | P(X > Y) |", "|---|---|"]
    for k, v in summary["probability_of_improvement"].items():
        lines.append(f"| {k.replace(',', ', ')} | {_fmt(v)} |")
    lines += _final_fidelity_lines(summary.get("final_fidelity") or {})
    lines += ["", "![sample efficiency](sample_efficiency.png)", "",
              "![performance profile](performance_profile.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
