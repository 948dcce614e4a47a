#!/usr/bin/env python
"""Thin wrapper of ``gan-nas benchmark`` (same arguments), e.g. the run of docs/benchmark.md:

    python scripts/benchmark.py --algos sac,ppo,dqn,random --seeds 10 --episodes 100 --out runs/bench
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

import gan_nas_env.cli.benchmark  # noqa: E402,F401 - registers the subcommand
from gan_nas_env.cli import main  # noqa: E402

if __name__ == "__main__":
    torch.set_num_threads(1)  # tiny MLP agents: one thread is fastest
    sys.exit(main(["benchmark", *sys.argv[1:]]))
