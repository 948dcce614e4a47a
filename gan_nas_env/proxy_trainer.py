"""Progressive proxy training of a partial GAN (E2GAN, SPEC section 3).

One :class:`ProxyTrainer` owns the generator and discriminator of one episode.
``reset`` re-creates both; ``add_cell`` grows them by one cell, trains the
partial GAN for the configured budget at that cell's resolution, then scores
it. Weights of earlier cells carry over between the steps of an episode.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from gan_nas_env.config import Config
from gan_nas_env.data import ImageBank
from gan_nas_env.discriminator import Discriminator
from gan_nas_env.generator import build_generator
from gan_nas_env.losses import get_loss
from gan_nas_env.metrics import FeatureScorer
from gan_nas_env.search_space import Architecture, Cell
from gan_nas_env.stage_trainer import StageTrainer

GLOBAL_RNG_LOCK = threading.Lock()


@dataclass
class StageResult:
    """What one proxy step (train + score) produced."""

    arch: Architecture
    metrics: dict[str, float]
    representation: np.ndarray
    diverged: bool = False
    reason: str = ""
    d_iters: int = 0
    g_iters: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def stage_d_iters(cfg: Config, num_images: int) -> int:
    """Discriminator iterations of one proxy step: 1 epoch = ceil(N / d_batch) by default."""
    if cfg.train.d_iters_per_cell is not None:
        return cfg.train.d_iters_per_cell
    return max(1, math.ceil(cfg.train.epochs_per_cell * num_images / cfg.train.d_batch_size))


def centre_pool(features: torch.Tensor) -> torch.Tensor:
    """Mean over the central half-size window of ``[N, C, H, W]`` features -> ``[N, C]``."""
    h, w = features.shape[-2:]
    top, left = h // 4, w // 4
    window = features[..., top : top + max(1, h // 2), left : left + max(1, w // 2)]
    return window.mean(dim=(-2, -1))


class ProxyTrainer:
    """Trains and scores the growing GAN of one episode.

    :param cfg: the run configuration (model sizes, training budget, metrics).
    :param bank: training images resident on ``device``.
    :param scorer: scores generated images against the real data.
    :param device: torch device for training.
    """

    def __init__(
        self, cfg: Config, bank: ImageBank, scorer: FeatureScorer, device: torch.device
    ) -> None:
        self.cfg = cfg
        self.bank = bank
        self.scorer = scorer
        self.device = torch.device(device)
        self.loss = get_loss(cfg.train.loss, gp_weight=cfg.train.gp_weight)
        self.G: torch.nn.Module | None = None
        self.D: Discriminator | None = None
        self.arch: Architecture | None = None
        self._seed = 0
        self._fresh = True
        self._gen = torch.Generator(device=self.device)

    # -- episode lifecycle -------------------------------------------------
    def reset(self, seed: int) -> None:
        """Start a new episode: the next ``add_cell`` builds a new GAN from ``seed``.

        The previous generator stays available to :meth:`sample` until then.
        """
        self._fresh = True
        self._seed = int(seed)
        self._gen.manual_seed(self._seed)

    def add_cell(self, cell: Cell) -> StageResult:
        """Grow G and D by ``cell``, train one proxy step and score the result."""
        m = self.cfg.model
        if self._fresh:
            self.G, self.D, self.arch = None, None, None
            self._fresh = False
        arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        # fork_rng: module init uses the global RNG; seed it locally and restore after
        # (under a lock: envs stepping in threads share the global RNG).
        with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self._seed * 1009 + arch.depth)
            if self.G is None:
                self.G = build_generator(
                    arch, m.latent_dim, m.gf, m.bottom_width, self.cfg.data.channels, m.num_generators
                ).to(self.device)
                self.D = Discriminator(m.df, self.cfg.data.channels, m.bottom_width, stage=1).to(
                    self.device
                )
            else:
                self.G.grow(cell)
                self.D.grow()
        self.arch = arch
        t0 = time.perf_counter()
        diverged, reason, losses, d_iters, g_iters = self._train_stage()
        t1 = time.perf_counter()
        if diverged:
            metrics = {"IS": float("nan"), "FID": float("nan")}
            rep = np.zeros(self.representation_dim, dtype=np.float32)
        else:
            metrics, rep, collapsed = self._score()
            if collapsed:
                diverged, reason = True, "generator collapsed (near-constant output)"
        t2 = time.perf_counter()
        return StageResult(
            arch=arch,
            metrics=metrics,
            representation=rep,
            diverged=diverged,
            reason=reason,
            d_iters=d_iters,
            g_iters=g_iters,
            losses=losses,
            timings={"train_s": t1 - t0, "score_s": t2 - t1},
        )

    @property
    def representation_dim(self) -> int:
        """Size of the progressive representation (= gf)."""
        return self.cfg.model.gf

    # -- training ------------------------------------------------------------
    def _train_stage(self) -> tuple[bool, str, dict[str, float], int, int]:
        """Train the current partial GAN; returns (diverged, reason, mean losses, d_iters, g_iters)."""
        assert self.G is not None and self.D is not None
        stage = StageTrainer(
            self.G,
            self.D,
            self.loss,
            self.bank.at_resolution(self.G.resolution),
            self.cfg.train,
            self.cfg.model.latent_dim,
            self._gen,
        )
        stats = stage.run(stage_d_iters(self.cfg, len(self.bank)))
        losses = {"d_loss": stats.d_loss, "g_loss": stats.g_loss}
        n_d, g_iters = stats.d_iters, stats.g_iters
        if not all(math.isfinite(v) for v in losses.values()):
            return True, f"non-finite loss ({losses})", losses, n_d, g_iters
        if not all(torch.isfinite(p).all() for p in self.G.parameters()):
            return True, "non-finite generator weights", losses, n_d, g_iters
        return False, "", losses, n_d, g_iters

    # -- scoring ---------------------------------------------------------------
    def _fixed_latents(self, n: int, salt: int) -> torch.Tensor:
        gen = torch.Generator(device="cpu").manual_seed(self._seed * 7919 + salt)
        return torch.randn(n, self.cfg.model.latent_dim, generator=gen).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, salt: int = 1) -> torch.Tensor:
        """``n`` images in [-1, 1] from the current generator on fixed latents."""
        assert self.G is not None, "no generator yet: add a cell first"
        self.G.eval()
        z = self._fixed_latents(n, salt)
        out = torch.cat([self.G(zb) for zb in z.split(self.cfg.metrics.batch_size)])
        self.G.train()
        return out

    @torch.no_grad()
    def _score(self) -> tuple[dict[str, float], np.ndarray, bool]:
        """Metrics on fixed latents, the progressive representation, and a collapse flag."""
        assert self.G is not None
        G, mc = self.G, self.cfg.metrics
        G.eval()
        try:
            images, feats = G(self._fixed_latents(mc.repr_samples, salt=2), return_features=True)
            rep = centre_pool(feats.float()).mean(0).cpu().numpy().astype(np.float32)
            if not bool(torch.isfinite(images).all()) or float(images.float().std()) < self.cfg.env.collapse_std:
                return {"IS": float("nan"), "FID": float("nan")}, rep, True
            z_all = self._fixed_latents(mc.num_samples, salt=3)
            offset = 0

            def sample_fn(n: int) -> torch.Tensor:
                nonlocal offset
                out = G(z_all[offset : offset + n])
                offset += n
                return out

            metrics = self.scorer.score_generator(sample_fn, mc.num_samples)
        finally:
            G.train()
        return metrics, rep, False
