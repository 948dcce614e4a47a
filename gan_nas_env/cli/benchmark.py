"""``gan-nas benchmark``: several agents x seeds x episodes with rliable statistics."""

from __future__ import annotations

import argparse
from typing import Any

from gan_nas_env.cli.app import add_env_args, check_env_id, env_kwargs_from_args, subcommand
from gan_nas_env.config import ConfigError
from gan_nas_env.run_folder import OVERWRITE_NOTE


def _args(p: argparse.ArgumentParser) -> None:
    add_env_args(p)
    p.add_argument("--algos", default="sac,ppo,dqn,random",
                   help="comma-separated agents: SB3 algorithm names (sac, td3, ddpg, tqc, crossq, "
                        "ppo, a2c, maskable_ppo, dqn, qrdqn), the ask/tell baselines random, re "
                        "(regularized evolution), ls (local search), tpe (Optuna; the baselines "
                        "extra), or an outside optimizer as module:Class")
    p.add_argument("--objective", choices=("proxy", "final"), default=None,
                   help="what each run ranks by, on GANCellSearchBench-v1: the proxy score or the "
                        "final fidelity's objective (default: the --env as given, v0's proxy score)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per agent")
    p.add_argument("--episodes", type=int, default=100, help="episodes (architectures) per run")
    p.add_argument("--out", default="runs/benchmark",
                   help="run folder (kind benchmark; an existing benchmark there needs --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help=f"delete the benchmark run in --out and run it again ({OVERWRITE_NOTE})")
    p.add_argument("--hyperparams", nargs="*", default=[], metavar="AGENT:NAME:VALUE",
                   help="hyper-parameter overrides of one agent, e.g. sac:learning_starts:32 "
                        "(win over configs/agents/<agent>.yaml)")
    p.add_argument("--analyse", action="store_true",
                   help="run nothing: re-analyse the finished benchmark in --out (its curves.json) "
                        "with today's table and code (statistics, plots, report.md, summary.json)")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap replications")
    p.add_argument("--timing-steps", type=int, default=1000,
                   help="random env steps that time a tabular env for the report")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_agent_hyperparams(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["sac:learning_rate:1e-3"]`` -> ``{"sac": {"learning_rate": 0.001}}``."""
    from agents.hyperparams import parse_hyperparams

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        agent, sep, rest = item.partition(":")
        if not sep or ":" not in rest:
            raise ConfigError(f"hyper-parameter {item!r} must look like agent:name:value")
        out.setdefault(agent.strip().lower(), {}).update(parse_hyperparams([rest]))
    return out


def _reanalyse(args: argparse.Namespace) -> int:
    """``--analyse``: the statistics of a finished benchmark folder, written again."""
    from agents.benchmark.run import analyse

    res = analyse(args.out, reps=args.reps)
    print(f"[gan-nas] re-analysed {args.out} ({', '.join(res['aggregates'])}): wrote report.md, "
          "summary.json and plots")
    return 0


@subcommand("benchmark", _args)
def cmd_benchmark(args: argparse.Namespace) -> int:
    """Compare RL agents and NAS baselines on the (tabular, cached or real) search env."""
    import gan_nas_env  # noqa: F401 - registers the env ids
    from agents.benchmark.run import check_agent, check_plan, run_benchmark

    if args.seeds <= 0 or args.episodes <= 0:
        raise ConfigError("--seeds and --episodes must be > 0")
    if args.reps <= 0 or args.timing_steps <= 0:  # rliable's bootstrap; the step-time median
        raise ConfigError(f"--reps and --timing-steps must be > 0, got {args.reps} and {args.timing_steps}")
    if args.analyse:
        return _reanalyse(args)
    if args.objective is not None:
        if args.env not in ("GANCellSearchBench-v0", "GANCellSearchBench-v1"):
            raise ConfigError(f"--objective needs GANCellSearchBench-v1, not --env {args.env}")
        args.env = "GANCellSearchBench-v1"
    check_env_id(args.env)
    env_kwargs = env_kwargs_from_args(args)
    if args.objective is not None:
        env_kwargs["objective"] = args.objective
    algos = [a.strip() if ":" in a else a.strip().lower() for a in args.algos.split(",") if a.strip()]
    check_plan(algos, list(range(args.seeds)), args.episodes)
    hyperparams = parse_agent_hyperparams(args.hyperparams)
    for a in hyperparams:
        check_agent(a)
    from agents.hyperparams import check_hyperparams, load_hyperparams
    from agents.optimizers import is_optimizer, make_optimizer

    for a, hp in hyperparams.items():  # ranges checked before the benchmark folder exists
        if is_optimizer(a):
            make_optimizer(a, **hp)
        else:
            check_hyperparams(a, {**load_hyperparams(a, args.env), **hp})
    res = run_benchmark(algos, list(range(args.seeds)), args.episodes, args.out, args.env,
                        env_kwargs, hyperparams, reps=args.reps, progress=not args.no_progress,
                        timing_steps=args.timing_steps, overwrite=args.overwrite)
    seeds = f"{args.seeds} seed{'s' if args.seeds != 1 else ''}"
    episodes = f"{args.episodes} episode{'s' if args.episodes != 1 else ''}"
    print(f"[gan-nas] benchmark of {', '.join(algos)} x {seeds} x {episodes} in {res['wall_s']:.1f} s")
    for algo, agg in res["aggregates"].items():
        print(f"  {algo:>12}: IQM {agg['IQM']['value']:.3f}  optimality gap "
              f"{agg['optimality_gap']['value']:.3f}")
    print(f"[gan-nas] wrote {args.out}/report.md, summary.json, curves.csv, curves.json and plots")
    return 0
