"""``gan-nas retrain`` and ``gan-nas evaluate`` subcommands (registered on import)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gan_nas_env.cli.app import add_config_args, config_from_args, subcommand
from gan_nas_env.config import SAME_RESULT_KEYS, ConfigError
from gan_nas_env.errors import EXIT_BAD_INPUT, EXIT_DIVERGED, MissingFileError
from gan_nas_env.run_folder import OVERWRITE_NOTE, RunFolderError, check_folder
from gan_nas_env.space import NAMED_ARCHITECTURES, resolve_architecture


def best_searched_architecture(run_dir: str | Path) -> str:
    """The best architecture of a search run folder (``top_architectures.json``, first entry)."""
    path = Path(run_dir) / "top_architectures.json"
    if not path.exists():
        raise MissingFileError(
            f"--from-search {run_dir}: {path} does not exist (is this a finished `gan-nas search` "
            "run folder?)"
        )
    try:
        top = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"--from-search: {path} is not valid JSON ({exc})") from None
    if not isinstance(top, list) or not top or "arch" not in top[0]:
        raise RunFolderError(
            f"--from-search: {path} lists no complete architecture (every episode diverged?)"
        )
    return str(top[0]["arch"])


def _retrain_args(p: argparse.ArgumentParser) -> None:
    p.epilog = (
        "run folder (--out): checked before anything is written, locked while the run trains. "
        "An existing retraining run is never overwritten: pass --resume to continue it or "
        "--overwrite to delete it and start again (a folder of another kind is refused even so; "
        "an empty folder, or a run killed before its first checkpoint, is used as it is). "
        "--resume takes the architecture from the checkpoint and, without --config, the config "
        "from the run's config.yaml. It accepts --iters N (more extends the training), "
        "--no-progress, --device and --set of the settings that do not change results "
        f"({', '.join(SAME_RESULT_KEYS)}), env.* and search.*; a --config, --seed, --set "
        "or --arch that changes anything else (the architecture, seed, data, model, train, "
        "metrics or retrain settings) is refused. "
        f"Exit status: 0 done; {EXIT_BAD_INPUT} bad input (one-line error); {EXIT_DIVERGED} the training "
        "diverged (a non-finite loss; one-line message, checkpoint.pt keeps the last good state)"
    )
    add_config_args(p)
    p.set_defaults(config=None)  # resolved in cmd_retrain (run folder / search run / quickstart)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--arch", default=None,
                     help=f"14 integers (\"0 1 0 1 0 1 2 1 0 0 1 0 1 2\") or a name: "
                          f"{', '.join(NAMED_ARCHITECTURES)}")
    src.add_argument("--from-search", default=None, metavar="RUN_DIR",
                     help="retrain the best architecture of a search run folder "
                          "(its config.yaml is the default --config)")
    p.add_argument("--out", default=None, help="run folder (default: runs/retrain-<arch>-<config>-s<seed>)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue from OUT/checkpoint.pt (config and arch default to the run's own)")
    mode.add_argument("--overwrite", action="store_true",
                      help=f"delete the retraining run in OUT and start again ({OVERWRITE_NOTE})")
    p.add_argument("--iters", type=int, default=None, help="generator iterations (retrain.g_iters)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


@subcommand("retrain", _retrain_args)
def cmd_retrain(args: argparse.Namespace) -> int:
    """Train an architecture at full size with EMA, periodic evaluation and checkpoints."""
    from gan_nas_env.training.retrain import RetrainDiverged, retrain

    out = Path(args.out) if args.out else None
    if out is not None:
        check_folder(out, "retrain")  # another kind's folder or a held lock: said first
    if args.resume and out is None:
        raise ConfigError("--resume needs --out (the run folder holding checkpoint.pt)")
    arch_spec, label = args.arch, args.arch
    if args.from_search:
        arch_spec, label = best_searched_architecture(args.from_search), Path(args.from_search).name
    if args.config is None:
        candidates = [out / "config.yaml"] if args.resume and out else []
        candidates += [Path(args.from_search) / "config.yaml"] if args.from_search else []
        args.config = next((str(c) for c in candidates if c.exists()), "quickstart")
    if args.iters is not None:
        if args.iters <= 0:
            raise ConfigError(f"--iters must be > 0, got {args.iters}")
        args.overrides = [*args.overrides, f"retrain.g_iters={args.iters}"]
    cfg = config_from_args(args)
    if arch_spec is None:
        if not (args.resume and out and (out / "checkpoint.pt").exists()):
            raise ConfigError("give --arch or --from-search (or --resume an existing run)")
        from gan_nas_env.training.retrain import read_checkpoint

        arch_spec = read_checkpoint(out / "checkpoint.pt").get("arch")
    arch = resolve_architecture(arch_spec)
    if out is None:
        tag = label if label in NAMED_ARCHITECTURES or args.from_search else str(arch).replace(" ", "")
        out = Path(f"runs/retrain-{tag}-{cfg.name}-s{cfg.seed}")
    print(f"[gan-nas] retrain: arch={arch} config={cfg.name} seed={cfg.seed} "
          f"iters={cfg.retrain.g_iters} out={out}{' (resume)' if args.resume else ''}")
    try:
        res = retrain(cfg, arch, out, resume=args.resume, progress=not args.no_progress,
                      overwrite=args.overwrite)
    except RetrainDiverged as exc:  # valid input, unstable training: neither exit 2 nor a traceback
        print(f"gan-nas retrain: diverged: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    best = res.best_metrics
    print(f"[gan-nas] {res.iterations} generator iterations in {res.wall_s:.1f} s")
    if best:
        print(f"[gan-nas] best FID {best['FID']:.3f} (IS {best['IS']:.3f}) at iteration {res.best_iter}")
    print(f"[gan-nas] wrote {out}/report.md, best.pt, checkpoint.pt, metrics.csv, samples/, tb/")
    return 0


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="best.pt or checkpoint.pt of a retrain run")
    p.add_argument("--num-samples", type=int, default=None,
                   help="generated images (default: the run's retrain.eval_samples)")
    p.add_argument("--features", choices=("domain", "inception"), default=None,
                   help="feature extractor (default: the run's metrics.features)")
    p.add_argument("--out", default=None,
                   help="run folder of the evaluation (config.yaml, meta.json, evaluation.json/.md; "
                        "default: evaluation.json/.md next to the checkpoint, in its retrain run)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier evaluation (next to the checkpoint, or the --out run)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the stored config, e.g. metrics.real_samples=10000 "
                        "(data.name, data.image_size and the model sizes are the checkpoint's own: "
                        "another value is refused)")
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")


@subcommand("evaluate", _evaluate_args)
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score a trained generator: IS, FID, KID, precision/recall; writes JSON + Markdown."""
    from gan_nas_env.training.checkpoint_eval import evaluate_checkpoint

    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    rec = evaluate_checkpoint(args.checkpoint, overrides, args.num_samples, args.features, args.out,
                              overwrite=args.overwrite)
    folder = Path(args.out) if args.out else Path(args.checkpoint).parent
    print(f"[gan-nas] {rec['architecture']} (iter {rec['iteration']}), {rec['num_samples']} samples, "
          f"{rec['features']} features:")
    print("  " + "  ".join(f"{k}={v:.4g}" for k, v in rec["metrics"].items()))
    print(f"[gan-nas] wrote {folder}/evaluation.json, evaluation.md")
    return 0
