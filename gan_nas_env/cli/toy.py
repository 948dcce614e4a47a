"""``gan-nas toy``: one small MLP GAN run on a Gaussian-mixture target.

Writes ``metrics.json`` (metrics, per-generator modes, loss curve, the
resolved arguments, ``sys.argv`` and the package version) and
``samples.png`` (samples over the target density) into ``--out``, a run folder of
kind ``toy`` (:mod:`gan_nas_env.run_folder`: ``meta.json`` with the settings and
provenance; an existing toy run there is refused without ``--overwrite``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gan_nas_env.cli.app import subcommand
from gan_nas_env.config import LOSS_NAMES, SEED_MAX, ConfigError
from gan_nas_env.run_folder import OVERWRITE_NOTE, prepare_run
from gan_nas_env.toy.settings import TOY_TARGET_NAMES, ToyConfig


def _toy_args(p: argparse.ArgumentParser) -> None:
    # names and defaults from torch-free modules: --help must not import torch
    d = ToyConfig()
    p.add_argument(
        "--target",
        default=d.target,
        choices=TOY_TARGET_NAMES,
        help=f"toy target (default: {d.target})",
    )
    p.add_argument(
        "--loss", default=d.loss, choices=LOSS_NAMES, help=f"GAN loss (default: {d.loss})"
    )
    p.add_argument(
        "--generators",
        type=int,
        default=d.num_generators,
        metavar="K",
        help="number of generators against one discriminator (default: 1)",
    )
    p.add_argument(
        "--steps", type=int, default=d.steps, help=f"training steps (default: {d.steps})"
    )
    p.add_argument("--batch", type=int, default=d.batch, help=f"batch size (default: {d.batch})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default: {d.lr})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default: {d.seed})")
    p.add_argument(
        "--gp-weight",
        type=float,
        default=d.gp_weight,
        help=f"gradient-penalty weight for wgan-gp (default: {d.gp_weight})",
    )
    p.add_argument(
        "--eval-samples",
        type=int,
        default=d.eval_samples,
        help=f"samples scored at the end (default: {d.eval_samples})",
    )
    p.add_argument(
        "--out",
        default=None,
        help="run folder (kind toy; default: runs/toy-<target>-<loss>-K<K>-s<seed>)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"delete the toy run in --out and run it again (an existing one is refused otherwise; {OVERWRITE_NOTE})",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


@subcommand("toy", _toy_args)
def cmd_toy(args: argparse.Namespace) -> int:
    """Train a small MLP GAN on a toy Gaussian mixture; write metrics and a plot."""
    if args.generators < 1:
        raise ConfigError(f"--generators must be >= 1, got {args.generators}")
    if args.steps < 1 or args.eval_samples < 10:
        raise ConfigError("--steps must be >= 1 and --eval-samples >= 10")
    if not args.lr > 0:
        raise ConfigError(f"--lr must be > 0, got {args.lr}")
    if not 0 <= args.seed <= SEED_MAX:
        raise ConfigError(f"--seed must be in [0, 2**32 - 1], got {args.seed}")
    if args.batch < args.generators:
        raise ConfigError(
            f"need batch >= num_generators, got --batch {args.batch} --generators {args.generators}"
        )
    out = Path(args.out or f"runs/toy-{args.target}-{args.loss}-K{args.generators}-s{args.seed}")
    cli_args = {k: v for k, v in vars(args).items() if k not in ("func", "no_progress")}
    plan = prepare_run(out, "toy", settings=cli_args, overwrite=args.overwrite)
    print(
        f"[gan-nas] toy: target={args.target} loss={args.loss} K={args.generators} "
        f"steps={args.steps} seed={args.seed} out={out}",
        flush=True,
    )
    # torch (seconds to import) after that line, so that the command says what it does at once
    from gan_nas_env import __version__
    from gan_nas_env.toy.experiment import train_toy, write_toy_outputs

    with plan.open():
        res = train_toy(
            args.target,
            args.loss,
            args.generators,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            seed=args.seed,
            gp_weight=args.gp_weight,
            eval_samples=args.eval_samples,
            progress=not args.no_progress,
        )
        paths = write_toy_outputs(
            res, out, extra={"args": cli_args, "argv": list(sys.argv), "version": __version__}
        )
    m = res.metrics
    print(
        f"[gan-nas] modes covered {m['modes_covered']:.0f}/{m['num_modes']:.0f}, "
        f"high-quality {m['high_quality_fraction']:.3f}, precision {m['precision']:.3f}, "
        f"recall {m['recall']:.3f}{' (diverged)' if res.diverged else ''} in {res.wall_s:.1f} s"
    )
    print(f"[gan-nas] wrote {paths['metrics']} and {paths['plot']}")
    return 0
