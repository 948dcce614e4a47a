"""The ``gan-nas`` command: ``search`` (and more subcommands as they land)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gan_nas_env.config import ConfigError, load_config

SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def subcommand(name: str, add_args: Callable[[argparse.ArgumentParser], None]) -> Callable:
    """Register a subcommand: ``add_args`` fills its parser, the decorated function runs it."""

    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        SUBCOMMANDS[name] = (add_args, fn)
        return fn

    return deco


def add_env_args(p: argparse.ArgumentParser) -> None:
    """--env and --env-kwargs of the commands that train agents on a registered env id."""
    p.add_argument("--env", default="GANCellSearchBench-v0",
                   help="env id: GANCellSearchBench-v0 (tabular) or GANCellSearch-v0 (real or cached)")
    p.add_argument("--env-kwargs", default="{}",
                   help='JSON keyword arguments of gym.make, e.g. \'{"table": "my_table.npz"}\' or '
                        '\'{"config": "tiny", "mode": "cached", "results_store": "runs/cache.sqlite"}\'')


def env_kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``--env-kwargs`` parsed; invalid JSON is a :class:`ConfigError`."""
    try:
        return json.loads(args.env_kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--env-kwargs is not valid JSON: {exc}") from None


def add_config_args(p: argparse.ArgumentParser, default: str = "quickstart") -> None:
    """--config, --set, --seed, --device shared by subcommands."""
    p.add_argument("--config", default=default, help=f"preset name or YAML path (default: {default})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.loss=ns (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="random seed (overrides the config)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")


def config_from_args(args: argparse.Namespace):  # noqa: ANN201
    """Resolve the Config from --config/--set/--seed/--device."""
    overrides = list(args.overrides)
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.device is not None:
        overrides.append(f"device={args.device}")
    return load_config(args.config, overrides)


def _search_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p)
    p.add_argument("--algo", default=None, help="sac (default), td3, tqc, ppo, a2c, dqn, ...")
    p.add_argument("--episodes", type=int, default=None, help="episodes (default: from config)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config>-<algo>-s<seed>)")
    p.add_argument("--hyperparams", nargs="*", default=[], metavar="NAME:VALUE",
                   help="agent hyper-parameters, e.g. learning_rate:1e-3")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue the killed run in --out from its last checkpoint")
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
    from agents.factory import ALGOS, parse_hyperparams
    from agents.runner import run_search

    if args.resume:
        if not args.out or not (Path(args.out) / "config.yaml").exists():
            raise ConfigError(f"--resume: nothing to resume in {args.out!r} (no config.yaml); "
                              "give the run folder of an earlier search with --out")
        args.config = str(Path(args.out) / "config.yaml")
    cfg = config_from_args(args)
    algo = (args.algo or cfg.search.algo).lower()
    ALGOS.get(algo)
    if args.workers <= 0 or args.gpus_per_worker < 0:
        raise ConfigError("--workers must be > 0 and --gpus-per-worker >= 0")
    if args.vec_env == "thread" and args.ray_address:
        raise ConfigError("--ray-address needs --vec-env ray")
    if args.episodes is not None and args.episodes <= 0:
        raise ConfigError(f"--episodes must be > 0, got {args.episodes}")
    out = Path(args.out or f"runs/{cfg.name}-{algo}-s{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"[gan-nas] search: config={cfg.name} algo={algo} seed={cfg.seed} "
          f"episodes={args.episodes or cfg.search.episodes} out={out}")
    res = run_search(cfg, out, algo=algo, episodes=args.episodes,
                     hyperparams=parse_hyperparams(args.hyperparams), progress=not args.no_progress,
                     resume=args.resume, workers=args.workers, ray_address=args.ray_address,
                     gpus_per_worker=args.gpus_per_worker, vec_env=args.vec_env)
    print(f"[gan-nas] {res.episodes} episodes in {res.wall_s:.1f} s")
    if res.best_arch is None:
        print("[gan-nas] no complete architecture was scored (all episodes diverged?)")
    else:
        print(f"[gan-nas] best architecture: {res.best_arch}  (score IS - alpha*FID = {res.best_score:.4f})")
        for i, t in enumerate(res.top, 1):
            print(f"  {i}. {t['arch']}  score={t['score']:.4f}  IS={t['IS']:.3f}  FID={t['FID']:.2f}")
    print(f"[gan-nas] wrote {out}/results.sqlite, top_architectures.json, best_grid.png, rewards.png, tb/")
    return 0


# subcommands defined in their own modules register themselves on import
COMMAND_MODULES = ("gan_nas_env.cli_retrain", "gan_nas_env.cli_toy", "gan_nas_env.cli_benchmark",
                   "gan_nas_env.cli_pbt")


def _load_command_modules() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module is a real error
                raise


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    _load_command_modules()
    parser = argparse.ArgumentParser(prog="gan-nas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_args, fn) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0])
        add_args(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gan-nas``; bad input exits 2 with a one-line message."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"gan-nas {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run through the package module so subcommand modules register into the same registry
    from gan_nas_env.cli import main as _main

    sys.exit(_main())
