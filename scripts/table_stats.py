#!/usr/bin/env python
"""Facts of a benchmark table for docs/benchmark.md: size, cost, surrogate error, step time."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import cast

import gymnasium as gym
import numpy as np

import gan_nas_env  # noqa: F401
from gan_nas_env.envs.bench_env import tabular_evaluator
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE, Table
from gan_nas_env.provenance import provenance
from gan_nas_env.space import AUTOGAN_ARCH, E2GAN_ARCH, NUM_CELLS
from gan_nas_env.user_files import check_outputs, run_main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--table", default=str(DEFAULT_TABLE))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--out", default=None, help="also write the facts as JSON here")
    args = p.parse_args()
    check_outputs(p, args, "--out")  # before the work, not after it
    table = Table.load(args.table)
    env = cast(GANCellSearchEnv, gym.make("GANCellSearchBench-v0", table=args.table).unwrapped)
    evaluator = tabular_evaluator(env)
    assert evaluator is not None  # the bench env answers from its table
    sur = evaluator.surrogate  # fit before timing
    space = env.action_space
    assert isinstance(space, gym.spaces.MultiDiscrete), space
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(args.steps):
        a = [int(rng.integers(n)) for n in space.nvec]
        t = time.perf_counter()
        _, _, term, _, _ = env.step(a)
        times.append(time.perf_counter() - t)
        if term:
            env.reset()
    scores = np.array([table.score(a, env.alpha) for a in table.complete()])
    best = table.complete()[int(scores.argmax())]
    facts = {
        "table": args.table,
        "file_mb": round(__import__("os").path.getsize(args.table) / 2**20, 3),
        "complete_architectures": len(table.complete()),
        "prefixes": len(table.archs) - 1,
        "diverged": int(table.diverged.sum()),
        "proxy_hash": table.meta["proxy_hash"],
        "build_cpu_seconds": float(table.seconds.sum()),
        "best_arch": best, "best_score": float(scores.max()), "mean_score": float(scores.mean()),
        "surrogate_holdout_mae": sur.holdout_mae,
        "step_ms_median": 1000 * float(np.median(times)),
        "step_ms_p95": 1000 * float(np.percentile(times, 95)), "step_count": len(times),
        "table_hits": evaluator.lookups, "surrogate_calls": evaluator.surrogate_calls,
    }
    top = sorted(zip(scores.tolist(), table.complete(), strict=True), reverse=True)[:5]
    facts["top5"] = [{"arch": a, "score": sc, **table.query(a)} for sc, a in top]
    facts["score_stats"] = {"std": float(scores.std()), "median": float(np.median(scores)),
                            "min": float(scores.min()), "max": float(scores.max())}
    complete = [table.index[a] for a in table.complete()]
    facts["metric_ranges"] = {k: [float(np.nanmin(table.metrics[complete, i])),
                                  float(np.nanmax(table.metrics[complete, i]))]
                              for i, k in enumerate(("IS", "FID", "KID"))}
    facts["baseline"] = table.query("")
    # an episode's return is its final score minus the baseline's: how often is it positive?
    facts["share_above_baseline"] = float(np.mean(scores > facts["baseline"]["score"]))
    facts["prefix_counts"] = {d: int(np.sum(table.depths() == d)) for d in range(1, NUM_CELLS + 1)}
    facts["train_hours"] = float(table.seconds[:, 0].sum() / 3600)
    facts["score_hours"] = float(table.seconds[:, 1].sum() / 3600)
    facts["seconds_per_complete_arch"] = _arch_seconds(table)
    for name, vec in (("e2gan", E2GAN_ARCH), ("autogan", AUTOGAN_ARCH)):
        facts[f"{name}_score"], facts[f"{name}_measured"] = table.proxy_score(vec)
    facts["provenance"] = provenance()
    text = json.dumps(facts, indent=1, default=float)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


def _arch_seconds(table: Table) -> dict[str, float]:
    """Proxy seconds of one complete architecture from scratch (its 3 prefixes), and its 32 px stage."""
    records = [table.query(a) for a in table.complete()]
    per = [r["cumulative_s"] for r in records]
    last = [r["train_s"] + r["score_s"] for r in records]
    return {"mean": float(np.mean(per)), "median": float(np.median(per)), "last_stage_mean": float(np.mean(last))}


if __name__ == "__main__":
    sys.exit(run_main(main, "table_stats"))
