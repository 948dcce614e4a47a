#!/usr/bin/env python
"""Thin wrapper: ``python scripts/evaluate.py ...`` == ``gan-nas evaluate ...``."""

import sys

import gan_nas_env.cli.retrain  # noqa: F401  (registers the subcommand)
from gan_nas_env.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
