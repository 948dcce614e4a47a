#!/usr/bin/env python
"""Facts of a benchmark table for docs/benchmark.md: size, cost, surrogate error, step time."""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np

import gan_nas_env  # noqa: F401
from gan_nas_env.tabular import DEFAULT_TABLE, Table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--table", default=str(DEFAULT_TABLE))
    p.add_argument("--steps", type=int, default=3000)
    args = p.parse_args()
    table = Table.load(args.table)
    env = gym.make("GANCellSearchBench-v0", table=args.table).unwrapped
    sur = env.evaluator.surrogate  # fit before timing
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(args.steps):
        a = [int(rng.integers(n)) for n in env.action_space.nvec]
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
        "step_ms_p95": 1000 * float(np.percentile(times, 95)),
        "table_hits": env.evaluator.lookups, "surrogate_calls": env.evaluator.surrogate_calls,
    }
    print(json.dumps(facts, indent=1))


if __name__ == "__main__":
    main()
