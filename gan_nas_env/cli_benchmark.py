"""``gan-nas benchmark``: several agents x seeds x episodes with rliable statistics."""

from __future__ import annotations

import argparse
import json

from gan_nas_env.cli import subcommand
from gan_nas_env.config import ConfigError


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="GANCellSearchBench-v0",
                   help="env id: GANCellSearchBench-v0 (tabular) or GANCellSearch-v0")
    p.add_argument("--algos", default="sac,ppo,dqn,random", help="comma-separated agent names")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per agent")
    p.add_argument("--episodes", type=int, default=100, help="episodes per run")
    p.add_argument("--out", default="runs/benchmark", help="output folder")
    p.add_argument("--env-kwargs", default="{}",
                   help='JSON keyword arguments of gym.make, e.g. \'{"config": "tiny", "mode": "cached", '
                        '"results_store": "runs/cache.sqlite"}\'')
    p.add_argument("--reps", type=int, default=2000, help="bootstrap replications")
    p.add_argument("--no-progress", action="store_true")


@subcommand("benchmark", _args)
def cmd_benchmark(args: argparse.Namespace) -> int:
    """Compare RL agents on the (tabular, cached or real) search env."""
    import gan_nas_env  # noqa: F401 - registers the env ids
    from agents.benchmark import run_benchmark

    if args.seeds <= 0 or args.episodes <= 0:
        raise ConfigError("--seeds and --episodes must be > 0")
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--env-kwargs is not valid JSON: {exc}") from None
    algos = [a.strip().lower() for a in args.algos.split(",") if a.strip()]
    res = run_benchmark(algos, list(range(args.seeds)), args.episodes, args.out, args.env,
                        env_kwargs, reps=args.reps, progress=not args.no_progress)
    print(f"[gan-nas] benchmark of {', '.join(algos)} x {args.seeds} seeds x {args.episodes} "
          f"episodes in {res['wall_s']:.1f} s")
    for algo, agg in res["aggregates"].items():
        print(f"  {algo:>12}: IQM {agg['IQM']['value']:.3f}  optimality gap "
              f"{agg['optimality_gap']['value']:.3f}")
    print(f"[gan-nas] wrote {args.out}/report.md, summary.json, curves.json and plots")
    return 0
