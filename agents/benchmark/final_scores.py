"""References of the normalisation, and what a benchmark run found scored at the final fidelity.

**References** come from the table's pre-registered uniform sample only (the first draws of
its seeded sampling order, :func:`~gan_nas_env.evaluators.tabular.sampling_order`), never
from the architectures that agents found and that were trained beside it: 0 = the mean
objective of the sample (what a random architecture gets on average), 1 = the best of it.
At the proxy the sample is the table's complete architectures in sampling order
(:func:`uniform_proxy_sample`); at the final fidelity its measured final rows
(:meth:`~gan_nas_env.evaluators.tabular.Table.final_uniform`).

**Final scores.** For every episode's best-so-far architecture (by the value the run ranks
by: the proxy score, or the final objective) the final objective comes from
:meth:`gan_nas_env.bench.GANBench.query`: a measured row (seed mean) when the table holds
one, the final surrogate's prediction otherwise; the measured share is reported per agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.benchmark.report import RunLog, probability_of_improvement
from gan_nas_env.bench import GANBench
from gan_nas_env.evaluators.tabular import TableError, sampling_order

if TYPE_CHECKING:
    from gan_nas_env.evaluators.tabular import Table


def uniform_proxy_sample(table: Table) -> list[str]:
    """The table's complete architectures that belong to its seeded uniform sample, in order.

    The table builder evaluates the sampling order from its start, so the sample is the
    longest start of that order that the table holds (repeats counted once); architectures
    added otherwise (an agent's best, say) are left out.
    """
    have = set(table.complete())
    out: dict[str, None] = {}
    draws = len(have) + 16
    while True:
        for arch in map(str, sampling_order(table.config.seed, draws)):
            if arch not in have:
                return list(out)
            out[arch] = None
        if len(out) == len(have):
            return list(out)
        draws *= 2


def _reference(archs: list[str], values: np.ndarray) -> dict[str, Any] | None:
    ok = np.isfinite(values)
    if not ok.any():
        return None
    best = int(np.nanargmax(np.where(ok, values, -np.inf)))
    return {"mean": float(values[ok].mean()), "best": float(values[best]), "best_arch": archs[best],
            "n": int(ok.sum())}


def proxy_reference(table: Table, alpha: float | None = None) -> dict[str, Any] | None:
    """Mean and best proxy score of the uniform sample (:func:`uniform_proxy_sample`)."""
    archs = uniform_proxy_sample(table)
    return _reference(archs, np.array([table.score(a, alpha) for a in archs], dtype=np.float64))


def final_reference(table: Table, alpha: float | None = None) -> dict[str, Any] | None:
    """Mean and best measured final objective of the uniform sample (None without final rows)."""
    if table.finals is None:
        return None
    archs = table.final_uniform()
    if not archs:
        return None
    bench = GANBench(table, alpha)
    values = np.array([bench.query(a, "final", cost=False)["objective"] for a in archs])
    return _reference(archs, values)


def best_arch_curve(log: RunLog) -> list[str]:
    """Per episode, the architecture with the best value so far ('' before any finite one)."""
    out, best, arch = [], -np.inf, ""
    for a, s in zip(log.archs, log.values()):
        if np.isfinite(s) and s > best:
            best, arch = s, a
        out.append(arch)
    return out


def final_curves(table: Table, logs: dict[str, list[RunLog]], ref: dict[str, Any],
                 alpha: float | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Normalised final objective of each run's best-so-far architecture ``[runs, 1, episodes]``.

    :return: the curves and, per agent, the raw final objectives of each run's last best
        architecture (``final_score``), the share of those that were measured (not
        predicted) and the architectures (``best_archs``).
    """
    bench = GANBench(table, alpha)
    cache: dict[str, dict[str, Any]] = {}

    def look(arch: str) -> dict[str, Any]:
        if arch not in cache:
            try:
                rec = bench.query(arch, "final", cost=False)
            except TableError:  # no final row and no final surrogate to predict one
                rec = {"objective": np.nan, "measured": False}
            cache[arch] = {"score": rec["objective"], "measured": rec["measured"]}
        return cache[arch]

    span = ref["best"] - ref["mean"]
    curves, per_agent = {}, {}
    for algo, runs in logs.items():
        rows, last = [], []
        for log in runs:
            archs = best_arch_curve(log)
            rows.append([(look(a)["score"] - ref["mean"]) / span if a else np.nan for a in archs])
            last.append(look(archs[-1]) if archs and archs[-1] else {"score": np.nan, "measured": False})
        curves[algo] = np.nan_to_num(np.array(rows), nan=-1.0)[:, None, :]
        measured = [bool(x["measured"]) for x in last]
        per_agent[algo] = {
            "final_score": [float(x["score"]) for x in last],
            "measured": measured,
            "measured_share": float(np.mean(measured)),
            "best_archs": [best_arch_curve(r)[-1] for r in runs],
        }
    return curves, per_agent


def normalised_at(final_scores: list[float], ref: dict[str, Any], runs: list[int]) -> np.ndarray:
    """The final scores at indices ``runs``, normalised by ``ref``, as one column.

    0 is the uniform sample's mean and 1 its best; one column is the layout rliable's probability
    of improvement takes.
    """
    span = ref["best"] - ref["mean"]
    return ((np.array(final_scores, float)[runs] - ref["mean"]) / span)[:, None]


def measured_seeds(per_agent: dict[str, Any], ref: dict[str, Any], seeds: list[int],
                   reps: int = 2000) -> dict[str, Any]:
    """The comparison no surrogate enters: the seeds at which every agent's best is measured.

    ``per_agent`` is :func:`final_curves`' (runs in ``seeds``' order). With two such seeds or
    more: per agent the mean normalised final objective of those bests and, against
    ``random`` when it ran, P(agent > random) with its interval. While the bests are trained
    seed by seed (``scripts/measure_bests.py``' default order) these seeds grow one at a time
    for every agent alike.
    """
    flags = [a["measured"] for a in per_agent.values()]
    runs = min((len(f) for f in flags), default=0)
    common = [i for i in range(runs) if all(f[i] for f in flags)]
    out: dict[str, Any] = {"seeds": [int(seeds[i]) if i < len(seeds) else i for i in common], "of": runs}
    if len(common) < 2:
        return out
    scores = {a: normalised_at(v["final_score"], ref, common) for a, v in per_agent.items()}
    out["mean"] = {a: float(x.mean()) for a, x in scores.items()}
    if "random" in scores:
        out["p_vs_random"] = {a: probability_of_improvement(x, scores["random"], reps)
                              for a, x in scores.items() if a != "random"}
    return out
