"""The toy run's settings and target names, without torch (``gan-nas toy --help`` reads them).

The samplers live in :mod:`gan_nas_env.toy.data` (registry ``TOY_TARGETS``), which needs torch;
``TOY_TARGET_NAMES`` lists the same names (``tests/cli/test_help.py`` checks both agree).
A new target is registered there and named here.
"""

from __future__ import annotations

from dataclasses import dataclass

TOY_TARGET_NAMES = ("clusters1d", "mog5", "ring8")


@dataclass(frozen=True)
class ToyConfig:
    """Arguments of :func:`~gan_nas_env.toy.experiment.train_toy` (recorded in its result)."""

    target: str = "ring8"
    loss: str = "ns"
    num_generators: int = 1
    steps: int = 3000
    batch: int = 256
    lr: float = 2e-3
    seed: int = 0
    latent_dim: int = 8
    hidden: int = 64
    layers: int = 3
    gp_weight: float = 10.0
    eval_samples: int = 2000
    log_every: int = 100
    threads: int = 1
    """torch intra-op threads during the run (restored after): tiny MLPs are launch-bound."""
