"""One generator iteration of full retraining as a CUDA graph (``train.cuda_graphs``).

A final-protocol row on a GPU is launch-bound: a gf 16 / df 16 GAN at batch 32 runs about a
thousand small kernels per generator iteration (two discriminator updates, a generator update,
the EMA), and one worker managed only 10-14 iterations a second on an H200
(``docs/perf/final_rows_gpu.md``). :class:`GraphedIteration` captures the iteration's work once
and replays it, so that an iteration costs a handful of launches.

Same numbers as the plain loop (:func:`gan_nas_env.training.retrain.train_iteration`): before
each replay it draws, from the run's generator and in the plain loop's order, each
discriminator step's batch indices and latent codes, then the generator step's latent codes,
into fixed buffers that the captured work reads. That is exact only where the step itself draws
nothing (no gradient penalty, one generator: :func:`~gan_nas_env.training.stage.can_graph`),
the only case where graphs are used. The EMA's warm-up decay, which changes every update, is a
device scalar filled before each replay. With ``capture=False`` the same work runs eagerly
(the first :data:`WARMUP_ITERS` iterations always do, on a side stream: lazy initialisation
must not happen inside a capture); a capture that fails falls back to it with a warning.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import torch
from torch import Tensor

from gan_nas_env.data.imageops import to_float
from gan_nas_env.devices import GLOBAL_RNG_LOCK
from gan_nas_env.models.generator import generate
from gan_nas_env.training.stage import CAPTURE_LOCK

log = logging.getLogger(__name__)

WARMUP_ITERS = 3  # eager iterations before the capture (optimizer state, cuDNN autotuning)


class GraphedIteration:
    """``train_iteration``'s work on fixed buffers, captured once and replayed on CUDA.

    :param run: the :class:`~gan_nas_env.training.retrain.RetrainRun` to train (its
        optimisers built capturable, its :class:`GANStep` without autocast's cast cache).
    :param t: the retraining's train config (batch sizes, ``n_critic``).
    :param res: the image resolution.
    :param latent: the latent size.
    :param capture: capture a CUDA graph after the warm-up (False: run eagerly, same numbers).
    """

    def __init__(self, run: Any, t: Any, res: int, latent: int, capture: bool = True) -> None:
        dev = run.dev
        self.run, self.t = run, t
        self.images = run.bank.at_resolution(res)  # uint8, fixed for the run
        self.fmt = torch.channels_last if run.cfg.retrain.channels_last else torch.contiguous_format
        self.idx = torch.zeros(t.n_critic, t.d_batch_size, dtype=torch.long, device=dev)
        self.z_d = torch.zeros(t.n_critic, t.d_batch_size, latent, device=dev)
        self.z_g = torch.zeros(t.g_batch_size, latent, device=dev)
        self.ema_weight = torch.zeros((), device=dev)  # 1 - the EMA's decay at this update
        self.d_out = torch.zeros((), device=dev)
        self.g_out = torch.zeros((), device=dev)
        self.capture = capture and dev.type == "cuda"
        self.graph: torch.cuda.CUDAGraph | None = None
        self.warmup_left = WARMUP_ITERS
        self.side = torch.cuda.Stream(dev) if self.capture else None

    def draw(self) -> None:
        """This iteration's random numbers, drawn as the plain loop draws them."""
        gen, n = self.run.gen, len(self.images)
        for k in range(self.t.n_critic):
            torch.randint(0, n, (self.t.d_batch_size,), generator=gen, device=self.run.dev, out=self.idx[k])
            torch.randn(self.t.d_batch_size, self.z_d.shape[-1], generator=gen, device=self.run.dev,
                        out=self.z_d[k])
        torch.randn(*self.z_g.shape, generator=gen, device=self.run.dev, out=self.z_g)

    def work(self) -> None:
        """The iteration on the buffers: what the graph holds (reads and writes only them)."""
        run, step = self.run, self.run.gan_step
        self.d_out.zero_()
        real = None
        for k in range(self.t.n_critic):
            real = to_float(self.images.index_select(0, self.idx[k])).contiguous(memory_format=self.fmt)
            d_loss = step.d_update(real, functools.partial(generate, run.G, self.z_d[k], run.gen),
                                   penalty_generator=run.gen)
            self.d_out.add_(d_loss.detach().float())
        self.d_out.div_(self.t.n_critic)
        g_loss = step.g_update(functools.partial(generate, run.G, self.z_g, run.gen), real)
        self.g_out.copy_(g_loss.detach().float())
        run.ema.blend(run.G, self.ema_weight)

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One generator iteration; the mean discriminator loss and the generator loss (copies)."""
        self.draw()
        self.ema_weight.fill_(1.0 - self.run.ema.current_decay())
        if self.graph is None and self.capture and self.warmup_left == 0:
            self._capture()  # records without running: the replay below runs it
        if self.graph is not None:
            self.graph.replay()
        elif self.capture and self.side is not None:  # a warm-up iteration
            self.warmup_left -= 1
            cur = torch.cuda.current_stream(self.run.dev)
            self.side.wait_stream(cur)
            with torch.cuda.stream(self.side):
                self.work()
            cur.wait_stream(self.side)
        else:
            self.work()
        self.run.ema.num_updates += 1
        return self.d_out.clone(), self.g_out.clone()

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            # rows trained in threads (build_finals.py --threads): one capture at a time, and
            # none while another thread seeds the global RNG (a new row's weights)
            with GLOBAL_RNG_LOCK, CAPTURE_LOCK, torch.cuda.graph(graph, capture_error_mode="thread_local"):
                self.work()  # recorded, not run
        except RuntimeError as err:  # an op that cannot be captured: fall back, loudly
            log.warning("CUDA graph capture of the retraining iteration failed (%s); running eagerly", err)
            self.capture = False
            return
        self.graph = graph
