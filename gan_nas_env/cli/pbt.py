"""``gan-nas pbt``: population-based training of SB3 agents with Ray Tune."""

from __future__ import annotations

import argparse

from gan_nas_env.cli.app import add_env_args, check_env_id, env_kwargs_from_args, subcommand
from gan_nas_env.config import SEED_MAX, ConfigError
from gan_nas_env.run_folder import OVERWRITE_NOTE, check_folder


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--population", type=int, default=10, help="number of agents (default 10)")
    p.add_argument("--algo", default="sac", help="SB3 agent of every member (sac, ppo, ...)")
    add_env_args(p)
    p.add_argument("--iterations", type=int, default=10, help="Tune iterations per agent")
    p.add_argument("--episodes-per-iter", type=int, default=10, help="episodes per iteration")
    p.add_argument("--perturbation-interval", type=int, default=2,
                   help="iterations between PBT exploit/explore rounds")
    p.add_argument("--cpus-per-member", type=float, default=1.0)
    p.add_argument("--gpus-per-member", type=float, default=0.0)
    p.add_argument("--ray-address", default=None, help="join this Ray cluster; default: a local Ray")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/pbt",
                   help="run folder (kind pbt; an existing PBT run there needs --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help=f"delete the PBT run in --out and run it again ({OVERWRITE_NOTE})")


@subcommand("pbt", _args)
def cmd_pbt(args: argparse.Namespace) -> int:
    """Population-based training of RL agents (Ray Tune PBT) on the search env."""
    import ray

    from agents.pbt import check_pbt_settings, run_pbt
    from agents.registry import ALGOS

    ALGOS.get(args.algo.lower())
    if args.population <= 0 or args.iterations <= 0 or args.episodes_per_iter <= 0:
        raise ConfigError("--population, --iterations and --episodes-per-iter must be > 0")
    if args.perturbation_interval <= 0 or args.cpus_per_member <= 0 or args.gpus_per_member < 0:
        raise ConfigError("--perturbation-interval and --cpus-per-member must be > 0 and "
                          "--gpus-per-member >= 0")
    if not 0 <= args.seed <= SEED_MAX:
        raise ConfigError(f"--seed must be in [0, 2**32 - 1], got {args.seed}")
    check_env_id(args.env)
    env_kwargs = env_kwargs_from_args(args)
    check_pbt_settings(env_kwargs)
    check_folder(args.out, "pbt")  # before Ray starts
    if not ray.is_initialized():
        ray.init(address=args.ray_address, include_dashboard=False)
    res = run_pbt(args.out, args.population, args.algo.lower(), args.env, env_kwargs,
                  args.iterations, args.episodes_per_iter, args.perturbation_interval,
                  cpus_per_member=args.cpus_per_member, gpus_per_member=args.gpus_per_member,
                  seed=args.seed, overwrite=args.overwrite)
    hp = res.best_hyperparams
    print(f"[gan-nas] PBT of {args.population} {args.algo} agents in {res.wall_s:.1f} s")
    print(f"[gan-nas] best agent: learning_rate={hp['learning_rate']:.3g} ent_coef={hp['ent_coef']:.3g} "
          f"return={res.best_return:.4f} best score={res.best_score:.4f} arch={res.best_arch}")
    print(f"[gan-nas] wrote {args.out}/pbt_summary.json; best model: {res.best_checkpoint}")
    return 0
