"""The evaluator interface: "given this architecture prefix, train it by the proxy and score it".

The env orchestrates and an evaluator computes. Implementations:
:class:`~gan_nas_env.evaluators.proxy.RealEvaluator` (the progressive proxy),
:class:`~gan_nas_env.evaluators.fake.FakeEvaluator` (a deterministic stand-in for
fast tests), :class:`~gan_nas_env.evaluators.cached.CachedEvaluator` (a results
store in front of another evaluator) and
:class:`~gan_nas_env.evaluators.tabular.TabularEvaluator` (the benchmark table).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gan_nas_env.space import Cell

if TYPE_CHECKING:
    import torch


@dataclass
class Evaluation:
    """The result of one proxy step (or of the fixed pre-first-cell baseline)."""

    arch: str  # canonical prefix string ("" for the baseline)
    depth: int
    metrics: dict[str, float]  # IS, FID and, when computed, KID, IS_std, KID_std
    representation: np.ndarray  # float32 [representation_dim]
    diverged: bool = False
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    cached: bool = False


class Evaluator(ABC):
    """Trains and scores architecture prefixes for the env, one cell at a time."""

    representation_dim: int

    @abstractmethod
    def baseline(self) -> Evaluation:
        """The fixed reference before the first cell (depth 0)."""

    @abstractmethod
    def reset(self, seed: int) -> None:
        """Start a new episode: forget the current GAN; ``seed`` fixes its initialisation."""

    @abstractmethod
    def step(self, cell: Cell) -> Evaluation:
        """Add ``cell`` to the current prefix, train by the proxy, return its evaluation."""

    def sample(self, n: int) -> torch.Tensor | None:
        """``n`` images in [-1, 1] from the current generator, or None if there is none."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources."""
