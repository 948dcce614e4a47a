"""Problem sizes and the common command-line options of the benchmark scripts."""

from __future__ import annotations

import argparse
from typing import Any

from gan_nas_env.config import Config, load_config

PRESETS: dict[str, dict[str, Any]] = {
    # paper protocol on CIFAR-10-shaped data: 50k images 3x32x32, gf 128 / df 64, 5k samples;
    # bf16 as the paper-cifar10-bf16 fast preset (the paper presets themselves run fp32)
    "paper": {"data.name": "synthetic", "data.channels": 3, "data.synthetic_images": 50_000,
              "metrics.num_samples": 5000, "metrics.real_samples": 10_000, "metrics.kid": False,
              "train.amp": True},
    # quickstart sizes (CPU): 2,048 images, gf 32 / df 32, 1k samples
    "quickstart": {"data.name": "synthetic", "data.channels": 3, "data.synthetic_images": 2048,
                   "metrics.num_samples": 1000, "metrics.real_samples": 2048, "metrics.kid": False},
    # seconds on CPU: for tests of the scripts
    "tiny": {"data.channels": 3, "data.synthetic_images": 256, "metrics.num_samples": 250,
             "metrics.kid": False},
}
BASE = {"paper": "fashion-mnist", "quickstart": "quickstart", "tiny": "tiny"}


def add_common_args(p: argparse.ArgumentParser, default_preset: str = "quickstart") -> None:
    """``--preset``, ``--device``, ``--set KEY=VALUE``, ``--out`` (JSON) and ``--md`` (Markdown)."""
    p.add_argument("--preset", choices=sorted(PRESETS), default=default_preset,
                   help="problem size: paper (GPU), quickstart (CPU) or tiny (tests)")
    p.add_argument("--device", default="auto")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override on top of the preset (repeatable)")
    p.add_argument("--out", default=None, help="JSON output (default: print only)")
    p.add_argument("--md", default=None, help="Markdown output")


def preset_config(args: argparse.Namespace) -> Config:
    """The preset's config with ``--device`` and the ``--set`` overrides applied."""
    cfg = load_config(BASE[args.preset], {**PRESETS[args.preset], "device": args.device})
    return load_config(cfg, args.overrides) if args.overrides else cfg
