"""The ``gan-nas`` command: the subcommand table, shared arguments and the entry point.

Each subcommand lives in its own module of this package and registers itself with
:func:`subcommand` when imported; :data:`COMMAND_MODULES` is the explicit list.

The exit statuses are listed in :data:`DESCRIPTION`, the text of ``gan-nas --help``: bad
input is a :class:`~gan_nas_env.errors.UserError`. ``--help`` of the command and of every
subcommand imports no torch (``tests/cli/test_help.py``): a subcommand module imports its
heavy dependencies inside the function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

from gan_nas_env.config import ConfigError, load_config
from gan_nas_env.errors import (
    EXIT_BAD_INPUT,
    EXIT_DISK_FULL,
    EXIT_INTERRUPTED,
    UserError,
    disk_full,
)
from gan_nas_env.training.stop import StoppedOnRequest

DESCRIPTION = """\
Search GAN generator architectures with reinforcement learning (the GANCellSearch-v0
environment), then retrain and score what the search found.
Run 'gan-nas COMMAND --help' for the options of one command.

exit status:
  0    success
  2    bad input: one line 'gan-nas COMMAND: error: MESSAGE' on stderr, nothing written
  3    a retraining diverged (checkpoint.pt keeps the last good state)
  4    no space left on the device
  130  interrupted (Ctrl-C)
  1    anything else: a bug, printed with its traceback
On 4 and 130 one line says what was kept and how to continue.
"""

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


def check_env_id(env_id: str) -> None:
    """An ``--env`` that gymnasium does not know is a :class:`ConfigError` (before any work)."""
    import gymnasium as gym

    import gan_nas_env  # noqa: F401 - registers the env ids

    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        raise ConfigError(f"--env {env_id!r}: {exc}") from None


def check_env_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """Keys of ``--env-kwargs`` that the env's constructor does not take are a :class:`ConfigError`."""
    import inspect

    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    spec = gym.spec(env_id)
    creator = spec.entry_point if callable(spec.entry_point) else load_env_creator(str(spec.entry_point))
    params = inspect.signature(creator).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [n for n in params if n != "self"] + ["max_episode_steps", "disable_env_checker"]
    unknown = [k for k in kwargs if k not in known]
    if unknown:
        raise ConfigError(f"--env-kwargs: {env_id} takes no keyword {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(known)}")


def env_kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``--env-kwargs`` parsed; invalid JSON (or not an object) is a :class:`ConfigError`."""
    try:
        kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--env-kwargs is not valid JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise ConfigError(f"--env-kwargs must be a JSON object of keyword arguments, got {args.env_kwargs!r}")
    if getattr(args, "env", None):
        check_env_id(args.env)
        check_env_kwargs(args.env, kwargs)
    return kwargs


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
    cfg = load_config(args.config, overrides)
    check_cache_dir(cfg.metrics.cache_dir)
    return cfg


def check_cache_dir(configured: str) -> None:
    """A cache folder that cannot be created or written is a :class:`ConfigError` (before any work).

    :param configured: ``metrics.cache_dir`` (moved under ``$GAN_NAS_ENV_CACHE`` when that is set).
    """
    import os

    from gan_nas_env.resources import CACHE_ENV, cache_path

    path = cache_path(configured)
    where = f"cache folder {path} (metrics.cache_dir" + (f", ${CACHE_ENV}" if os.environ.get(CACHE_ENV) else "") + ")"
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{where}: {probe} is a file, not a folder; point it at a writable folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{where}: {probe} is not writable; point it at a writable folder")


# subcommands defined in their own modules register themselves on import
COMMAND_MODULES = ("gan_nas_env.cli.search", "gan_nas_env.cli.retrain", "gan_nas_env.cli.toy",
                   "gan_nas_env.cli.benchmark", "gan_nas_env.cli.pbt")


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
    parser = argparse.ArgumentParser(prog="gan-nas", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_args, fn) in SUBCOMMANDS.items():
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        p = sub.add_parser(name, help=summary, description=summary)
        add_args(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gan-nas``; bad input exits 2 with a one-line message.

    Only a :class:`~gan_nas_env.errors.UserError` is caught; any other exception (a bug, an
    out-of-memory error, ...) propagates with its traceback, so it is never mistaken for bad
    input.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"gan-nas {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:  # Ctrl-C, or a retraining stopped by a signal (it says where)
        detail = f" ({exc})" if isinstance(exc, StoppedOnRequest) else ""
        print(f"gan-nas {args.command}: interrupted{detail}; {_how_to_continue(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if not disk_full(exc):
            raise
        print(f"gan-nas {args.command}: error: no space left on the device ({exc}); "
              f"{_how_to_continue(args)}", file=sys.stderr)
        return EXIT_DISK_FULL


def _how_to_continue(args: argparse.Namespace) -> str:
    """What an interrupted or disk-full run keeps, and the command that continues it."""
    out = getattr(args, "out", None)
    where = f" in {out}" if out else ""
    if hasattr(args, "resume"):
        again = f"gan-nas {args.command} --out {out} --resume" if out else "--resume"
        return f"finished results{where} are kept: continue with {again}"
    return (f"what was written{where} is incomplete and this command cannot continue a run: run it "
            "again (with --overwrite to replace the folder)")
