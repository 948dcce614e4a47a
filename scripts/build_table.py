#!/usr/bin/env python
r"""Build or extend the tabular benchmark: evaluate architectures by the real proxy.

Architectures come in one seeded order (``--archs N`` takes its first N, so a
larger N extends a table without changing its start); each is built cell by
cell in the search env, so prefixes shared with earlier architectures are
answered from the store instead of re-trained. Resumable: every evaluation goes
to a SQLite results store first (keyed by the config's proxy hash, the prefix
and the fixed GAN seed ``env.fixed_gan_seed``), so a killed build continues
where it stopped. Several workers may share one store (``--worker i --workers n``).
``--export`` writes the compressed table that ``GANCellSearchBench-v0`` loads.

    OPENBLAS_NUM_THREADS=1 nohup python scripts/build_table.py --worker 0 --workers 2 &
    OPENBLAS_NUM_THREADS=1 nohup python scripts/build_table.py --worker 1 --workers 2 &
    python scripts/build_table.py --export gan_nas_env/assets/table_fmnist_v2.npz \
        --finals docs/validity/finals.json   # with the final fidelity (scripts/build_finals.py)
    # a fresh clone: the committed table's proxy rows back into a store, then re-export it
    python scripts/build_table.py --restore gan_nas_env/assets/table_fmnist_v2.npz \
        --export gan_nas_env/assets/table_fmnist_v2.npz --finals docs/validity/finals.json
    # another proxy budget (the fidelity ladder of docs/validity.md), in its own store:
    python scripts/build_table.py --archs 62 --set train.d_iters_per_cell=64 --store runs/ladder.sqlite
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gan_nas_env.config import load_config  # noqa: E402
from gan_nas_env.envs.search_env import GANCellSearchEnv  # noqa: E402
from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402
from gan_nas_env.evaluators.tabular import Table, export_table, restore_store, sampling_order  # noqa: E402
from gan_nas_env.space import action_from_cell  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="table-fmnist", help="proxy preset or YAML (needs env.fixed_gan_seed)")
    p.add_argument("--store", default="runs/table.sqlite", help="SQLite results store")
    p.add_argument("--archs", type=int, default=600, help="architectures in the sampling order")
    p.add_argument("--skip", type=int, default=0,
                   help="leave out the first N of those (measured elsewhere, e.g. the committed ladder)")
    p.add_argument("--worker", type=int, default=0, help="this worker's index")
    p.add_argument("--workers", type=int, default=1, help="workers sharing the store")
    p.add_argument("--minutes", type=float, default=None, help="stop after this long")
    p.add_argument("--export", default=None, help="write the table file and exit")
    p.add_argument("--restore", default=None, metavar="NPZ",
                   help="first store the proxy rows of this table file (of the same proxy), "
                        "such as the committed one on a fresh clone")
    p.add_argument("--finals", default=None, help="with --export: final rows JSON (build_finals.py --export)")
    p.add_argument("--final-uniform", type=int, default=150, metavar="N",
                   help="with --finals: the uniform final rows are the first N of the sampling order "
                        "(scripts/build_finals.py --archs); the others, such as agents' bests, are not")
    p.add_argument("--final-budget", type=int, default=None, metavar="ITERS",
                   help="with --finals of a learning-curve protocol (v2): the checkpoint that is the "
                        "final fidelity (default: the last one every row reaches); any other stays "
                        "queryable with Table.final(arch, iters=...)")
    p.add_argument("--no-surrogate", action="store_true",
                   help="with --export: do not store the fitted surrogates' predictions")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    args = p.parse_args()
    cfg = load_config(args.config, args.set)
    if cfg.env.fixed_gan_seed is None:
        p.error(f"{args.config} must set env.fixed_gan_seed so that evaluations can be stored and reused")
    finals = None
    if args.finals:
        from gan_nas_env.errors import UserError
        from gan_nas_env.evaluators.final import CheckpointError, FinalRows
        from gan_nas_env.user_files import read_json_file

        try:
            data = read_json_file(args.finals, "--finals")
        except UserError as exc:
            p.error(str(exc))
        if args.final_budget is not None and not any(r.get("curve") for r in data["rows"]):
            p.error(f"--final-budget: {args.finals} holds no learning curves (a v1 export)")
        try:
            finals = FinalRows.from_records(data["rows"], data["final_hash"], data["config"],
                                            budget=args.final_budget)
        except CheckpointError as exc:
            p.error(f"--final-budget: {exc}")
    restored = Table.load(args.restore, expect_hash=cfg.proxy_hash()) if args.restore else None  # before writing
    store = ResultsStore(args.store)
    if restored is not None:
        print(f"restored {restore_store(restored, store)} of {len(restored.archs)} rows from {args.restore}")
    if args.export:
        n = export_table(store, cfg, args.export, finals=finals, surrogate=not args.no_surrogate,
                         uniform_draws=args.final_uniform if finals is not None else None)
        size = os.path.getsize(args.export) / 2**20
        print(f"wrote {args.export}: {n} complete architectures, {size:.2f} MB")
        return
    torch.set_num_threads(1)
    order = sampling_order(cfg.seed, args.archs)[args.skip:]  # the same order for every worker
    mine = order[args.worker :: args.workers]
    env = GANCellSearchEnv(cfg, mode="cached", results_store=store)
    env.reset(seed=0)
    t0 = time.time()
    for arch in tqdm(mine, desc=f"worker {args.worker}", mininterval=30):
        if args.minutes is not None and time.time() - t0 > 60 * args.minutes:
            break
        env.reset()
        for cell in arch.cells:
            _, _, term, _, info = env.step(action_from_cell(cell))
            if term:
                break
        assert info["arch"] == str(arch) or info["diverged"]
    print(f"stored evaluations: {store.count_evaluations(cfg.proxy_hash())}")


if __name__ == "__main__":
    main()
