"""Progressive proxy training of a partial GAN, as E2GAN's search does (docs/fidelity.md).

One :class:`ProxyTrainer` owns the generator, the discriminator and their two Adam
optimizers for one episode, as the released E2GAN search does. ``reset`` starts a
new episode: G (at stage 0: Linear + head), D and the optimizers are created at
its first use. ``baseline`` scores the fresh stage-0 generator (the episode's
reference, state 0); ``add_cell`` grows G and D by one cell, trains the partial
GAN for the configured budget at that cell's resolution, then scores it. Weights
of earlier cells, and the optimizers' state, carry over between the steps of an
episode.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from gan_nas_env.config import Config
from gan_nas_env.data.images import ImageBank
from gan_nas_env.devices import isolated_global_rng
from gan_nas_env.metrics.scorer import FeatureScorer
from gan_nas_env.models.discriminator import Discriminator
from gan_nas_env.models.generator import (
    Generator,
    MultiGenerator,
    build_generator,
    generate,
    progressive_state,
)
from gan_nas_env.space import Architecture, Cell
from gan_nas_env.training.losses import get_loss
from gan_nas_env.training.stage import StageTrainer, make_optimizers

_SPLIT_SEED = 10_007  # + salt: seeds of a multi-generator's split on the fixed latents


@dataclass
class StageResult:
    """What one proxy step (train + score) produced."""

    arch: Architecture | None  # None for the stage-0 baseline
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
        self.G: Generator | MultiGenerator | None = None
        self.D: Discriminator | None = None
        self.optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None
        self.arch: Architecture | None = None
        self._seed = 0
        self._fresh = True
        self._gen = torch.Generator(device=self.device)
        self._latents: dict[tuple[int, int], torch.Tensor] = {}  # the same in every episode
        # the generator of the latest add_cell: a new episode's baseline does not replace it,
        # so sample grids taken after an auto-reset show the architecture just trained
        self._trained: torch.nn.Module | None = None

    # -- episode lifecycle -------------------------------------------------
    def reset(self, seed: int) -> None:
        """Start a new episode: its GAN is built from ``seed`` at the next baseline or cell.

        The previous generator stays available to :meth:`sample` until then.
        """
        self._fresh = True
        self._seed = int(seed)
        self._gen.manual_seed(self._seed)

    @contextlib.contextmanager
    def _seeded_init(self, salt: int) -> Iterator[None]:
        """Module init draws from the global RNG: seed it locally and restore it after.

        Under :data:`~gan_nas_env.devices.GLOBAL_RNG_LOCK`: envs stepping in threads share
        the global RNG.
        """
        with isolated_global_rng(self.device, seed=self._seed * 1009 + salt):
            yield

    def _begin_episode(self) -> None:
        """Build the episode's stage-0 generator, stage-1 discriminator and optimizers."""
        if not self._fresh:
            return
        m = self.cfg.model
        with self._seeded_init(0):
            self.G = build_generator(
                None, m.latent_dim, m.gf, m.bottom_width, self.cfg.data.channels, m.num_generators
            ).to(self.device)
            self.D = Discriminator(m.df, self.cfg.data.channels, m.bottom_width, stage=1).to(self.device)
        self.optimizers = make_optimizers(self.G, self.D, self.cfg.train, self.device, self.loss)
        self.arch = None
        self._fresh = False

    def baseline(self) -> StageResult:
        """Score the episode's freshly initialised generator before its first cell (stage 0)."""
        self._begin_episode()
        t0 = time.perf_counter()
        metrics, rep, _ = self._score(check_collapse=False)
        return StageResult(arch=None, metrics=metrics, representation=rep,
                           timings={"score_s": time.perf_counter() - t0})

    def add_cell(self, cell: Cell) -> StageResult:
        """Grow G and D by ``cell``, train one proxy step and score the result."""
        self._begin_episode()
        assert self.G is not None and self.D is not None and self.optimizers is not None
        arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        with self._seeded_init(arch.depth):
            new_params = self.G.grow(cell)
            if arch.depth > 1:
                self.D.grow()
        self.optimizers[0].add_param_group({"params": new_params})
        self.arch = arch
        self._trained = self.G
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
            optimizers=self.optimizers,
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
        """The same latent codes in every episode; ``salt`` tells the sets apart.

        The released search scores every episode on one fixed set, "to stabilise the
        training". Drawn once per trainer and kept on the device.
        """
        key = (n, salt)
        if key not in self._latents:
            gen = torch.Generator(device="cpu").manual_seed(salt)
            self._latents[key] = torch.randn(n, self.cfg.model.latent_dim, generator=gen).to(self.device)
        return self._latents[key]

    @staticmethod
    def _fixed_split(salt: int) -> torch.Generator:
        """RNG of a multi-generator's member indices on the fixed latents of ``salt``.

        Seeded afresh at every scoring (CPU: the same split on every device), so the
        split, like the latents, is the same in every episode; a single generator
        draws nothing from it.
        """
        return torch.Generator(device="cpu").manual_seed(_SPLIT_SEED + salt)

    @torch.no_grad()
    def sample(self, n: int, salt: int = 1) -> torch.Tensor:
        """``n`` images in [-1, 1] on fixed latents from the most recently trained generator.

        That is the generator of the latest :meth:`add_cell`, even after a new episode's
        :meth:`baseline` has built the next one (the fresh stage-0 generator before any
        cell was ever added).
        """
        G = self._trained if self._trained is not None else self.G
        assert G is not None, "no generator yet: score a baseline or add a cell first"
        G.eval()
        z = self._fixed_latents(n, salt)
        split = self._fixed_split(salt)
        out = torch.cat([generate(G, zb, split) for zb in z.split(self.cfg.metrics.batch_size)])
        G.train()
        return out

    @torch.no_grad()
    def _score(self, check_collapse: bool = True) -> tuple[dict[str, float], np.ndarray, bool]:
        """Metrics on fixed latents, the progressive state, and a collapse flag.

        As released, the state is the mean over the *scoring* latents of the newest
        cell's features interpolated to 1x1 (:func:`progressive_state`); the collapse
        check looks at the first scoring batch before anything is scored.
        """
        assert self.G is not None
        G, mc = self.G, self.cfg.metrics
        G.eval()
        try:
            z_all = self._fixed_latents(mc.num_samples, salt=3)
            split = self._fixed_split(salt=3)
            # the first scoring batch, computed once: checked for collapse, then scored
            first = generate(G, z_all[: min(mc.batch_size, mc.num_samples)], split, return_features=True)
            if check_collapse and (
                not bool(torch.isfinite(first[0]).all())
                or float(first[0].float().std()) < self.cfg.env.collapse_std
            ):
                return {"IS": float("nan"), "FID": float("nan")}, np.zeros(
                    self.representation_dim, np.float32
                ), True
            state_sum = torch.zeros(self.representation_dim, dtype=torch.float64, device=self.device)
            offset = 0

            def sample_fn(n: int) -> torch.Tensor:
                nonlocal offset, state_sum
                if offset == 0 and n == len(first[0]):
                    images, feats = first
                else:
                    images, feats = generate(G, z_all[offset : offset + n], split, return_features=True)
                state_sum += progressive_state(feats.float()).sum(0).double()
                offset += n
                return images

            metrics = self.scorer.score_generator(sample_fn, mc.num_samples)
            rep = (state_sum / offset).float().cpu().numpy()
        finally:
            G.train()
        return metrics, rep, False
