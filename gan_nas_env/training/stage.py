"""The inner loop of one proxy training stage, built to be captured as CUDA graphs.

One stage is ``n_d`` discriminator steps with a generator step after every
``n_critic``-th of them, as in E2GAN's search (docs/architecture.md, "One env step").
Every random number of a chunk of
iterations (batch indices, latent codes) is drawn up front into fixed buffers, and
each step reads its slot through a counter held on the device. The two step
functions therefore read and write only tensors that live for the whole stage and
never sync with the host, so on CUDA (``train.cuda_graphs``) each is captured once
per stage and replayed; elsewhere they run eagerly. Both modes run the same code on
the same numbers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gan_nas_env.config import TrainConfig
from gan_nas_env.data.imageops import to_float
from gan_nas_env.models.generator import generate
from gan_nas_env.training.losses import GANLoss
from gan_nas_env.training.step import GANStep

log = logging.getLogger(__name__)

CHUNK_BLOCKS = 32  # generator steps whose randomness is drawn at once
WARMUP_STEPS = {"d": 3, "g": 2}  # eager steps before capture (lazy init: optimizer state, cuDNN)
CAPTURE_LOCK = threading.Lock()  # one capture at a time across threads


@dataclass
class StageStats:
    """What one stage did: mean losses and step counts."""

    d_loss: float
    g_loss: float
    d_iters: int
    g_iters: int
    graphed: bool


def _on(flag: bool | None, device: torch.device) -> bool:
    """A speed flag: None means on CUDA only."""
    return device.type == "cuda" if flag is None else bool(flag)


def can_graph(loss: GANLoss, G: nn.Module) -> bool:
    """Whether a stage of this loss and generator can be captured.

    Gradient penalties draw noise and differentiate twice; the Stackelberg
    multi-generator routes samples with a host-side ``nonzero``. Both run eagerly.
    """
    return not loss.has_penalty and getattr(G, "num_generators", 1) == 1


def use_graphs(cfg: TrainConfig, device: torch.device, loss: GANLoss, G: nn.Module) -> bool:
    """Whether the stage steps are captured as CUDA graphs (``train.cuda_graphs``, CUDA, capturable)."""
    return bool(cfg.cuda_graphs) and device.type == "cuda" and can_graph(loss, G)


def make_optimizers(
    G: nn.Module, D: nn.Module, cfg: TrainConfig, device: torch.device, loss: GANLoss
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for ``G`` and ``D`` with the speed options the stage steps need.

    Fused on CUDA (``train.fused_adam``), capturable when the steps are graphed.
    Parameters added later (a grown cell) go in with ``opt.add_param_group``.
    """
    opt_kw: dict = {"betas": (cfg.beta1, cfg.beta2)}
    if _on(cfg.fused_adam, device):
        opt_kw["fused"] = True
    if use_graphs(cfg, device, loss, G):
        opt_kw["capturable"] = True
    return (
        torch.optim.Adam(G.parameters(), lr=cfg.g_lr, **opt_kw),
        torch.optim.Adam(D.parameters(), lr=cfg.d_lr, **opt_kw),
    )


class StageTrainer:
    """Trains ``G`` and ``D`` for one proxy stage on uint8 images at the stage resolution.

    :param G: the partial generator (already grown to this stage).
    :param D: the discriminator at this stage.
    :param loss: the GAN loss.
    :param images: uint8 ``[N, C, R, R]`` training images on ``device``.
    :param cfg: training settings (batch sizes, ``n_critic``, optimiser, speed flags).
    :param latent_dim: size of the latent codes.
    :param generator: the episode's RNG on ``device``; all draws come from it (batches,
        latent codes, the penalty's interpolation weights, a multi-generator's split).
    :param optimizers: ``(opt_g, opt_d)`` that outlive the stage (E2GAN keeps one Adam
        each per episode, across its stages; see :func:`make_optimizers`); new ones
        over ``G`` and ``D`` when None.
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        loss: GANLoss,
        images: Tensor,
        cfg: TrainConfig,
        latent_dim: int,
        generator: torch.Generator,
        optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    ) -> None:
        dev = images.device
        self.G, self.D, self.loss, self.images, self.cfg, self.gen = G, D, loss, images, cfg, generator
        self.device = dev
        self.memory_format = torch.channels_last if _on(cfg.channels_last, dev) else torch.contiguous_format
        G.to(memory_format=self.memory_format)  # keeps the Parameter objects (optimizers stay valid)
        D.to(memory_format=self.memory_format)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = cfg.cudnn_benchmark  # process-wide setting
        self.graphs = use_graphs(cfg, dev, loss, G)
        if optimizers is None:
            optimizers = make_optimizers(G, D, cfg, dev, loss)
        self.opt_g, self.opt_d = optimizers
        # cached casts would outlive a capture's memory pool: no cast cache when graphing
        self.step = GANStep(G, D, self.opt_g, self.opt_d, loss, amp=cfg.amp, device_type=dev.type,
                            grad_clip=cfg.grad_clip, autocast_cache=not self.graphs)
        chunk_d = CHUNK_BLOCKS * cfg.n_critic
        self._idx = torch.zeros(chunk_d, cfg.d_batch_size, dtype=torch.long, device=dev)
        self._z_d = torch.zeros(chunk_d, cfg.d_batch_size, latent_dim, device=dev)
        self._z_g = torch.zeros(CHUNK_BLOCKS, cfg.g_batch_size, latent_dim, device=dev)
        self._d_at = torch.zeros(1, dtype=torch.long, device=dev)  # slot counters
        self._g_at = torch.zeros(1, dtype=torch.long, device=dev)
        self._d_sum = torch.zeros((), device=dev)
        self._g_sum = torch.zeros((), device=dev)
        res = images.shape[-1]
        self._real = torch.zeros(cfg.d_batch_size, images.shape[1], res, res, device=dev).to(
            memory_format=self.memory_format
        )
        self._graphs: dict[str, torch.cuda.CUDAGraph] = {}
        self._eager_left = dict(WARMUP_STEPS)
        self._side = torch.cuda.Stream(dev) if self.graphs else None

    # -- the two steps (captured as they are) ---------------------------------
    def _d_step(self) -> None:
        idx = self._idx.index_select(0, self._d_at)[0]
        real = to_float(self.images.index_select(0, idx)).contiguous(memory_format=self.memory_format)
        z = self._z_d.index_select(0, self._d_at)[0]
        d_loss = self.step.d_update(
            real, lambda: generate(self.G, z, self.gen), penalty_generator=self.gen
        )
        self._d_sum.add_(d_loss.detach().float())
        if self.loss.needs_real_for_generator:
            self._real.copy_(real)
        self._d_at.add_(1)

    def _g_step(self) -> None:
        z = self._z_g.index_select(0, self._g_at)[0]
        g_loss = self.step.g_update(lambda: generate(self.G, z, self.gen), self._real)
        self._g_sum.add_(g_loss.detach().float())
        self._g_at.add_(1)

    # -- running ----------------------------------------------------------------
    def _draw(self, n_d: int, n_g: int) -> None:
        """Fill the first slots of the random buffers for the next chunk; rewind the counters."""
        self._idx[:n_d].random_(0, len(self.images), generator=self.gen)
        self._z_d[:n_d].normal_(generator=self.gen)
        if n_g:
            self._z_g[:n_g].normal_(generator=self.gen)
        self._d_at.zero_()
        self._g_at.zero_()

    def _run(self, key: str, step: Callable[[], None]) -> None:
        if not self.graphs:
            step()
            return
        graph = self._graphs.get(key)
        if graph is None:
            if self._eager_left[key] > 0:
                # Warm-up steps are real training steps, run eagerly on a side stream.
                self._eager_left[key] -= 1
                side = self._side
                assert side is not None  # made whenever graphs are on
                side.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(side):
                    step()
                torch.cuda.current_stream(self.device).wait_stream(side)
                return
            graph = self._capture(key, step)
            if graph is None:
                step()
                return
        graph.replay()

    def _capture(self, key: str, step: Callable[[], None]) -> torch.cuda.CUDAGraph | None:
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: envs stepping in other threads (ThreadVecEnv) may keep running;
            # the lock keeps captures, which empty the allocator's cache, one at a time.
            with CAPTURE_LOCK, torch.cuda.graph(graph, capture_error_mode="thread_local"):
                step()  # recorded, not run: the caller replays it
        except RuntimeError as err:  # an op that cannot be captured: fall back, loudly
            log.warning("CUDA graph capture of the %s step failed (%s); running eagerly", key, err)
            self.graphs = False
            return None
        self._graphs[key] = graph
        return graph

    def run(self, n_d: int) -> StageStats:
        """Train ``n_d`` discriminator steps (and ``n_d // n_critic`` generator steps)."""
        n_c = self.cfg.n_critic
        self._d_sum.zero_()
        self._g_sum.zero_()
        self.G.train()
        self.D.train()
        g_iters = 0
        try:
            for start in range(0, n_d, CHUNK_BLOCKS * n_c):
                n_chunk = min(CHUNK_BLOCKS * n_c, n_d - start)
                self._draw(n_chunk, n_chunk // n_c)
                for i in range(n_chunk):
                    self._run("d", self._d_step)
                    if (i + 1) % n_c == 0:
                        self._run("g", self._g_step)
                        g_iters += 1
        finally:
            graphed = bool(self._graphs)
            self._release()
        return StageStats(
            d_loss=float(self._d_sum) / max(n_d, 1),
            g_loss=float(self._g_sum) / max(g_iters, 1),
            d_iters=n_d,
            g_iters=g_iters,
            graphed=graphed,
        )

    def _release(self) -> None:
        """Drop the graphs and the gradients that live in their memory pools."""
        self._graphs.clear()
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
