"""What a benchmark run found, scored at the table's final fidelity.

A run's result on the proxy is its best proxy score; what matters is how well that
architecture trains. For every episode's best-so-far architecture (by proxy score)
this module looks up its final score in the table: measured when the table holds a
final row for it, surrogate-predicted otherwise (the share of each is reported).
Normalised like the proxy scores: 0 = mean final score of the table's measured
uniformly sampled architectures, 1 = the best of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.benchmark.report import RunLog

if TYPE_CHECKING:
    from gan_nas_env.evaluators.tabular import Table


def final_reference(table: Table) -> dict[str, Any] | None:
    """Mean and best measured final score over the table's own (uniform) architectures."""
    if table.finals is None:
        return None
    archs = table.final_uniform()
    if not archs:
        return None
    scores = np.array([table.final(a)["score"] for a in archs])  # type: ignore[index]
    best = int(np.argmax(scores))
    return {"mean": float(scores.mean()), "best": float(scores[best]), "best_arch": archs[best],
            "n": len(archs)}


def best_arch_curve(log: RunLog) -> list[str]:
    """Per episode, the architecture with the best proxy score so far ('' before any finite one)."""
    out, best, arch = [], -np.inf, ""
    for a, s in zip(log.archs, log.scores):
        if np.isfinite(s) and s > best:
            best, arch = s, a
        out.append(arch)
    return out


def final_curves(table: Table, logs: dict[str, list[RunLog]], ref: dict[str, Any]
                 ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Normalised final score of each run's best-so-far architecture ``[runs, 1, episodes]``.

    :return: the curves and, per agent, the raw final scores of each run's last best
        architecture and the share of those that were measured (not predicted).
    """
    cache: dict[str, dict[str, Any]] = {}

    def look(arch: str) -> dict[str, Any]:
        if arch not in cache:
            cache[arch] = table.final(arch) or {"score": np.nan, "measured": False}
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
        per_agent[algo] = {
            "final_score": [float(x["score"]) for x in last],
            "measured_share": float(np.mean([bool(x["measured"]) for x in last])),
            "best_archs": [best_arch_curve(r)[-1] for r in runs],
        }
    return curves, per_agent
