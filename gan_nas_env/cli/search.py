"""``gan-nas search``: an RL architecture search on GANCellSearch-v0 (registered on import)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gan_nas_env.cli.app import add_config_args, config_from_args, subcommand
from gan_nas_env.config import SAME_RESULT_KEYS, ConfigError
from gan_nas_env.run_folder import CONFIG, OVERWRITE_NOTE, check_folder, read_meta, stored_config

EPILOG = (
    "run folder (--out): checked before anything is written, locked while the search runs. An "
    "existing search run is never overwritten: pass --resume to continue it or --overwrite to "
    "delete it and start again (a folder of another kind is refused even so; an empty folder, "
    "or a search killed before its first checkpoint, is used as it is). --resume takes every "
    "setting from the run's config.yaml and meta.json: config, seed, agent, hyper-parameters "
    "and episodes. It accepts --episodes N (never fewer than the episodes done; more extends "
    "the search from the checkpoint at its end; as many runs nothing), --no-progress, "
    f"--device and --set of the settings that do not change results ({', '.join(SAME_RESULT_KEYS)}), "
    "search.top_k, search.grid_samples and retrain.*; --config, --seed, --set, --algo or "
    "--hyperparams that change anything else (the proxy above all) are refused."
)


def _search_args(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    add_config_args(p)
    p.set_defaults(config=None)  # quickstart; with --resume the run's own config.yaml
    p.add_argument("--algo", default=None, help="sac (default), td3, tqc, ppo, a2c, dqn, random, ...")
    p.add_argument("--episodes", type=int, default=None,
                   help="episodes (default: from config; with --resume the run's own)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config>-<algo>-s<seed>)")
    p.add_argument("--hyperparams", nargs="*", default=[], metavar="NAME:VALUE",
                   help="agent hyper-parameters, e.g. learning_rate:1e-3")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the run in --out from its last checkpoint, with its own "
                           "settings (see below)")
    mode.add_argument("--overwrite", action="store_true",
                      help=f"delete the search run in --out and start again ({OVERWRITE_NOTE})")
    p.add_argument("--workers", type=int, default=1,
                   help="envs run in parallel (see --vec-env)")
    p.add_argument("--vec-env", choices=["ray", "thread"], default="ray",
                   help="ray: one Ray actor per env (needs the 'distributed' extra; clusters); "
                        "thread: threads of this process, one CUDA stream each (one GPU)")
    p.add_argument("--ray-address", default=None,
                   help="join this Ray cluster (e.g. HEAD_IP:6379); default: a local Ray")
    p.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPU share of each worker; a fraction lets workers share a GPU")


@subcommand("search", _search_args)
def cmd_search(args: argparse.Namespace) -> int:
    """Run an RL architecture search and write its run folder."""
    from agents.hyperparams import parse_hyperparams
    from agents.registry import ALGOS
    from agents.search import done_message, plural, run_search

    if args.out:
        check_folder(args.out, "search")  # another kind's folder or a held lock: said first
    meta: dict = {}
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs --out (the run folder of an earlier search)")
        if args.config is None:
            stored_config(args.out)  # raises when there is nothing to resume
            args.config = str(Path(args.out) / CONFIG)
        meta = read_meta(args.out)
    elif args.config is None:
        args.config = "quickstart"
    cfg = config_from_args(args)
    algo = (args.algo or meta.get("algo") or cfg.search.algo).lower()
    ALGOS.get(algo)
    if args.workers <= 0 or args.gpus_per_worker < 0:
        raise ConfigError("--workers must be > 0 and --gpus-per-worker >= 0")
    if args.vec_env == "thread" and args.ray_address:
        raise ConfigError("--ray-address needs --vec-env ray")
    if args.episodes is not None and args.episodes <= 0:
        raise ConfigError(f"--episodes must be > 0, got {args.episodes}")
    out = Path(args.out or f"runs/{cfg.name}-{algo}-s{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    episodes = args.episodes or meta.get("episodes") or cfg.search.episodes
    print(f"[gan-nas] search: config={cfg.name} algo={algo} seed={cfg.seed} "
          f"episodes={episodes} out={out}{' (resume)' if args.resume else ''}")
    hyperparams = parse_hyperparams(args.hyperparams) if args.hyperparams else None
    # on --resume, None takes the run's own agent (another one is refused)
    res = run_search(cfg, out, algo=algo if args.algo or not args.resume else None,
                     episodes=args.episodes, hyperparams=hyperparams,
                     progress=not args.no_progress, resume=args.resume, overwrite=args.overwrite,
                     workers=args.workers, ray_address=args.ray_address,
                     gpus_per_worker=args.gpus_per_worker, vec_env=args.vec_env)
    if res.nothing_to_run:
        print(f"[gan-nas] {out} has done its {plural(res.episodes, 'episode')}: nothing to run (--episodes "
              f"N > {res.episodes} extends the search); its top list and reward plot are "
              "rewritten from results.sqlite")
    else:
        print(f"[gan-nas] {done_message(res)}")
    if res.best_arch is None:
        print("[gan-nas] no complete architecture was scored (all episodes diverged?)")
    else:
        print(f"[gan-nas] best architecture: {res.best_arch}  (score IS - alpha*FID = {res.best_score:.4f})")
        for i, t in enumerate(res.top, 1):
            print(f"  {i}. {t['arch']}  score={t['score']:.4f}  IS={t['IS']:.3f}  FID={t['FID']:.2f}")
    written = [n for n in ("results.sqlite", "top_architectures.json", "best_grid.png", "rewards.png", "tb/")
               if (out / n.rstrip("/")).exists()]  # no grid when no architecture was scored
    print(f"[gan-nas] wrote {out}/{', '.join(written)}")
    return 0
