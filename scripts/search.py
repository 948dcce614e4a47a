#!/usr/bin/env python
"""Thin wrapper: ``python scripts/search.py ...`` == ``gan-nas search ...``."""

import sys

from gan_nas_env.cli import main

if __name__ == "__main__":
    sys.exit(main(["search", *sys.argv[1:]]))
