"""A deterministic stand-in evaluator for fast tests: no training, metrics hashed from the prefix."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from gan_nas_env.evaluators.base import Evaluation, Evaluator
from gan_nas_env.space import Architecture, Cell


def _hash_floats(key: str, n: int) -> np.ndarray:
    digest = hashlib.sha256(key.encode()).digest()
    seed = int.from_bytes(digest[:8], "little")
    return np.random.default_rng(seed).random(n)


class FakeEvaluator(Evaluator):
    """Deterministic, training-free scores for fast tests of envs and agents.

    IS grows and FID falls with a fixed hidden preference per cell field, plus a
    small hash-based term, so agents have something learnable. ``diverge_at``
    (a set of prefix strings) injects a divergence at those prefixes;
    ``interrupt_at`` raises KeyboardInterrupt at that step (counted over the
    evaluator's life, from 1), as a search killed there.
    """

    def __init__(
        self, representation_dim: int = 8, seed_noise: float = 0.0,
        diverge_at: set[str] | None = None, interrupt_at: int | None = None,
    ) -> None:
        self.representation_dim = representation_dim
        self.seed_noise = seed_noise
        self.diverge_at = diverge_at or set()
        self.interrupt_at = interrupt_at
        self.arch: Architecture | None = None
        self.seed = 0
        self.calls = 0

    def baseline(self) -> Evaluation:
        """A fixed poor baseline (IS 1, FID 300)."""
        return Evaluation("", 0, {"IS": 1.0, "FID": 300.0, "KID": 0.3},
                          np.zeros(self.representation_dim, np.float32))

    def reset(self, seed: int) -> None:
        """Start an episode with ``seed``."""
        self.arch, self.seed = None, int(seed)
        self._fresh = True

    @staticmethod
    def quality(arch: Architecture) -> float:
        """Hidden ground-truth quality in [0, 1] of a prefix (best: all fields at their max)."""
        vec = arch.to_vector()
        score = 0.0
        for i, cell in enumerate(arch.cells):
            score += (cell.conv + cell.norm / 2 + cell.up / 2 + cell.shortcut) / 4
            if i > 0:
                score += 0.25 * (cell.skip > 0)
        return score / 3.0 + 0.02 * _hash_floats(" ".join(map(str, vec)), 1)[0]

    def step(self, cell: Cell) -> Evaluation:
        """Add ``cell`` and score the prefix from its hidden quality plus seeded noise."""
        if self.interrupt_at is not None and self.calls + 1 == self.interrupt_at:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        self.last_arch = self.arch
        key = str(self.arch)
        if key in self.diverge_at:
            return Evaluation(key, self.arch.depth, {"IS": float("nan"), "FID": float("nan")},
                              np.zeros(self.representation_dim, np.float32), diverged=True,
                              reason="injected divergence")
        q = self.quality(self.arch)
        noise = self.seed_noise * (_hash_floats(f"{key}|{self.seed}", 1)[0] - 0.5)
        is_ = 1.0 + 8.0 * q + noise
        fid = 250.0 * (1.0 - q) + 10.0 - 10 * noise
        rep = _hash_floats(key, self.representation_dim).astype(np.float32)
        return Evaluation(key, self.arch.depth, {"IS": is_, "FID": fid, "KID": fid / 1000},
                          rep, timings={"train_s": 0.0, "score_s": 0.0})

    def sample(self, n: int) -> torch.Tensor | None:
        """Deterministic pseudo-images for the last architecture (None before any step)."""
        arch = getattr(self, "last_arch", None)
        if arch is None:
            return None
        res = 4 * 2**arch.depth
        vals = torch.tensor(_hash_floats(str(arch), n * res * res), dtype=torch.float32)
        return vals.view(n, 1, res, res) * 2 - 1
