#!/usr/bin/env python
"""Build or extend the tabular benchmark: evaluate architectures by the real proxy.

Resumable: every evaluation goes to a SQLite results store first (keyed by the
config's proxy hash, the prefix and the fixed GAN seed), so a killed build
continues where it stopped and never re-trains a stored prefix. ``--export``
writes the compressed table that ``GANCellSearchBench-v0`` loads.

    python scripts/build_table.py --store runs/table.sqlite --minutes 20 --worker 0
    python scripts/build_table.py --store runs/table.sqlite --export gan_nas_env/assets/table_fmnist_v1.npz
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gan_nas_env.config import load_config  # noqa: E402
from gan_nas_env.env import GANCellSearchEnv  # noqa: E402
from gan_nas_env.results_store import ResultsStore  # noqa: E402
from gan_nas_env.search_space import SPACE  # noqa: E402
from gan_nas_env.tabular import export_table  # noqa: E402


def action_of(cell, depth: int) -> list[int]:
    """Env action that decodes to ``cell`` at ``depth`` (0-based)."""
    return [cell.conv, cell.norm, cell.up, cell.shortcut, cell.skip & 1, cell.skip >> 1 & 1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="table-fmnist")
    p.add_argument("--store", default="runs/table.sqlite")
    p.add_argument("--archs", type=int, default=600, help="architectures in the sampling order")
    p.add_argument("--worker", type=int, default=0, help="this worker's index")
    p.add_argument("--workers", type=int, default=1, help="workers sharing the store")
    p.add_argument("--minutes", type=float, default=None, help="stop after this long")
    p.add_argument("--export", default=None, help="write the table file and exit")
    args = p.parse_args()
    cfg = load_config(args.config)
    store = ResultsStore(args.store)
    if args.export:
        n = export_table(store, cfg, args.export)
        print(f"wrote {args.export}: {n} complete architectures")
        return
    torch.set_num_threads(1)
    rng = np.random.default_rng(cfg.seed)
    order = [SPACE.sample(rng) for _ in range(args.archs)]  # same order for every worker
    mine = order[args.worker :: args.workers]
    env = GANCellSearchEnv(cfg, mode="cached", results_store=store)
    env.reset(seed=0)
    t0 = time.time()
    for arch in tqdm(mine, desc=f"worker {args.worker}"):
        if args.minutes is not None and time.time() - t0 > 60 * args.minutes:
            break
        env.reset()
        for depth, cell in enumerate(arch.cells):
            _, _, term, _, info = env.step(action_of(cell, depth))
            if term:
                break
        assert info["arch"] == str(arch) or info["diverged"]
    print(f"stored evaluations: {store.count_evaluations(cfg.proxy_hash())}")


if __name__ == "__main__":
    main()
