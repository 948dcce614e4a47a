"""The ``gan-nas`` command line: one entry point, one module per subcommand."""

from gan_nas_env.cli.app import main

__all__ = ["main"]
