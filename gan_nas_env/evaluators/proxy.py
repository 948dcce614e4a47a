"""The real evaluator: progressive proxy training on real data, scored with torch-fidelity."""

from __future__ import annotations

import dataclasses

import torch

from gan_nas_env.config import Config
from gan_nas_env.devices import resolve_device, torch_threads
from gan_nas_env.evaluators.base import Evaluation, Evaluator
from gan_nas_env.space import Cell


class RealEvaluator(Evaluator):
    """Progressive proxy training on real data, scored with torch-fidelity features.

    The baseline is, as in the released E2GAN code, the score of the episode's
    freshly initialised generator before its first cell (the bottom-width Linear
    output through the shared head, scored against the real data like every
    stage), with its progressive state: it depends on the episode's GAN seed.

    Its work runs with ``train.threads`` torch threads (0: torch's default), set around
    each call and restored after, so the setting does not leak into the caller.
    """

    def __init__(self, cfg: Config, device: str | torch.device | None = None) -> None:
        from gan_nas_env.data.images import ImageBank, dataset_key, load_images
        from gan_nas_env.metrics.scorer import FeatureScorer
        from gan_nas_env.training.proxy import ProxyTrainer

        self.cfg = cfg
        self.device = resolve_device(str(device or cfg.device))
        with torch_threads(cfg.train.threads):  # loading and the real statistics compute too
            images = load_images(cfg.data, "train", device=self.device, seed=cfg.seed)
            self.bank = ImageBank(images)
            # the FID reference set is independent of the training subset (data.max_images)
            ref_cfg = dataclasses.replace(cfg.data, max_images=cfg.metrics.real_samples)
            real = images if ref_cfg == cfg.data else load_images(ref_cfg, "train", self.device, cfg.seed)
            self.scorer = FeatureScorer(
                cfg.metrics, real, dataset_key(ref_cfg, "train", cfg.seed), device=self.device
            )
            self.trainer = ProxyTrainer(cfg, self.bank, self.scorer, self.device)
            self.representation_dim = self.trainer.representation_dim

    def baseline(self) -> Evaluation:
        """Metrics of the trainer's fresh generator."""
        with torch_threads(self.cfg.train.threads):
            r = self.trainer.baseline()
        return Evaluation(arch="", depth=0, metrics=r.metrics, representation=r.representation,
                          timings=r.timings)

    def reset(self, seed: int) -> None:
        """Reset the trainer with ``seed``."""
        self.trainer.reset(seed)

    def step(self, cell: Cell) -> Evaluation:
        """Grow the generator by ``cell``, train it and score it."""
        with torch_threads(self.cfg.train.threads):
            r = self.trainer.add_cell(cell)
        assert r.arch is not None  # add_cell always returns the grown architecture
        return Evaluation(
            arch=str(r.arch), depth=r.arch.depth, metrics=r.metrics,
            representation=r.representation, diverged=r.diverged, reason=r.reason,
            timings=r.timings, losses=r.losses,
        )

    def sample(self, n: int) -> torch.Tensor | None:
        """Images of the most recently trained generator (None before one exists)."""
        if self.trainer.G is None:
            return None
        with torch_threads(self.cfg.train.threads):
            return self.trainer.sample(n)
