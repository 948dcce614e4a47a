"""The one GAN training step: a discriminator update and a generator update.

The proxy's stage loop (:mod:`gan_nas_env.training.stage`), full retraining
(:mod:`gan_nas_env.training.retrain`), the toy GANs (:mod:`gan_nas_env.toy.experiment`)
and the step-time benchmark all train through :class:`GANStep`. Where the batches and
latent codes come from (pre-drawn buffers for CUDA graphs, a data bank, a toy
target) stays with the caller; what is computed on them is defined once, here:

- bf16 autocast of the forward passes (``amp``; its cast cache off when the step is
  captured as a CUDA graph),
- the loss's gradient penalty, drawing from the caller's RNG (never the global one),
- gradient-norm clipping (``grad_clip``),
- no discriminator weight gradients in the generator update (they would be thrown
  away by the next discriminator update's ``zero_grad``).

Both updates only read and write the tensors they are given and the models'
parameters and optimiser state, so they can be captured as CUDA graphs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor, nn

from gan_nas_env.training.losses import GANLoss


class GANStep:
    """Updates of ``D`` and ``G`` under one loss and one set of step options.

    :param G: the generator (or a Stackelberg multi-generator).
    :param D: the discriminator.
    :param opt_g: the generator's optimiser.
    :param opt_d: the discriminator's optimiser.
    :param loss: the GAN loss (and its penalty).
    :param amp: bf16 autocast of the forward passes on ``device_type``.
    :param device_type: ``"cpu"`` or ``"cuda"`` (for autocast).
    :param grad_clip: clip each model's gradient norm to this before its update.
    :param autocast_cache: autocast's weight-cast cache (off when capturing graphs:
        cached casts would outlive a capture's memory pool).
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        loss: GANLoss,
        amp: bool = False,
        device_type: str = "cpu",
        grad_clip: float | None = None,
        autocast_cache: bool = True,
    ) -> None:
        self.G, self.D, self.opt_g, self.opt_d, self.loss = G, D, opt_g, opt_d, loss
        self.amp = amp
        self.device_type = device_type
        self.grad_clip = grad_clip
        self.autocast_cache = autocast_cache

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast when ``amp`` is on (a no-op context otherwise)."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.amp,
                              cache_enabled=self.autocast_cache)

    def d_update(
        self, real: Tensor, generate: Callable[[], Tensor],
        penalty_generator: torch.Generator | None = None,
    ) -> Tensor:
        """One discriminator update on ``real`` and ``generate()``'s fakes (made without grad).

        :param real: a batch of real images (or points).
        :param generate: makes the fake batch; called under ``no_grad`` and autocast.
        :param penalty_generator: RNG of the loss's penalty; required when the loss has
            one (``loss.has_penalty``), so that no update draws from the global RNG.
        :return: the discriminator loss (attached to nothing that is still needed).
        :raises ValueError: a loss with a penalty and no ``penalty_generator``.
        """
        if self.loss.has_penalty and penalty_generator is None:
            raise ValueError(
                f"the {self.loss.name} loss's penalty draws random numbers: pass penalty_generator "
                "(a seeded torch.Generator on the data's device)"
            )
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            with torch.no_grad():
                fake = generate()
            d_loss = self.loss.discriminator_loss(self.D(real), self.D(fake))
        if self.loss.has_penalty:
            d_loss = d_loss + self.loss.penalty(self.D, real, fake.float(), generator=penalty_generator)
        d_loss.backward()
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.D.parameters(), self.grad_clip)
        self.opt_d.step()
        return d_loss

    def g_update(self, generate: Callable[[], Tensor], real: Tensor | None = None) -> Tensor:
        """One generator update on ``generate()``'s fakes (made with grad, under autocast).

        :param real: the real batch, for losses that compare with it
            (``loss.needs_real_for_generator``); ignored otherwise.
        :return: the generator loss.
        """
        self.opt_g.zero_grad(set_to_none=True)
        self.D.requires_grad_(False)  # D's weight gradients are not needed here: skip them
        try:
            with self.autocast():
                d_fake = self.D(generate())
                d_real = self.D(real) if self.loss.needs_real_for_generator and real is not None else None
                g_loss = self.loss.generator_loss(d_fake, d_real)
            g_loss.backward()
        finally:
            self.D.requires_grad_(True)
        if self.grad_clip:
            nn.utils.clip_grad_norm_(self.G.parameters(), self.grad_clip)
        self.opt_g.step()
        return g_loss
