"""GAN losses by name: ``hinge`` (default), ``ns``, ``wgan-gp``, ``rpgan``.

Every loss takes raw discriminator scores (``[N]`` tensors, any float dtype;
computed in float32) and returns a scalar. Use :func:`get_loss` to build one
by name; an unknown name lists the known ones.

==========  ==============================================  ==============================
name        discriminator loss                              generator loss
==========  ==============================================  ==============================
hinge       mean relu(1 - D(x)) + mean relu(1 + D(G(z)))    -mean D(G(z))
ns          mean softplus(-D(x)) + mean softplus(D(G(z)))   mean softplus(-D(G(z)))
wgan-gp     mean D(G(z)) - mean D(x) (+ gradient penalty)   -mean D(G(z))
rpgan       mean softplus(-(D(x_i) - D(G(z)_i)))            mean softplus(-(D(G(z)_i) - D(x_i)))
==========  ==============================================  ==============================

``rpgan`` is the relativistic pairing GAN (RpGAN; RS-GAN, "The GAN is dead;
long live the GAN"): real and fake scores are paired by index, using the first
``min(len(real), len(fake))`` of each; its generator loss needs real scores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_nas_env.config import ConfigError
from gan_nas_env.registry import Registry


def _flat(x: Tensor) -> Tensor:
    return x.reshape(-1).float()


def _paired(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    a, b = _flat(a), _flat(b)
    n = min(a.numel(), b.numel())
    if n == 0:
        raise ValueError("rpgan needs at least one real and one fake score")
    return a[:n], b[:n]


class GANLoss:
    """Base class: a GAN objective over discriminator scores.

    :param gp_weight: weight of the gradient penalty (used by ``wgan-gp`` only).
    """

    name = "base"
    needs_real_for_generator = False
    """True when :meth:`generator_loss` needs the real scores (``rpgan``)."""

    def __init__(self, gp_weight: float = 10.0) -> None:
        if gp_weight < 0:
            raise ConfigError(f"gp_weight must be >= 0, got {gp_weight}")
        self.gp_weight = float(gp_weight)

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """Scalar loss the discriminator minimises.

        :param d_real: scores of real images ``[N]``.
        :param d_fake: scores of generated images ``[M]``.
        """
        raise NotImplementedError

    def generator_loss(self, d_fake: Tensor, d_real: Tensor | None = None) -> Tensor:
        """Scalar loss the generator minimises.

        :param d_fake: scores of generated images ``[M]``.
        :param d_real: scores of real images; required when
            :attr:`needs_real_for_generator` is True.
        """
        raise NotImplementedError

    has_penalty = False  # True when :meth:`penalty` is not identically zero

    def penalty(
        self, D: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Extra discriminator regulariser to add to its loss; zero by default.

        :param generator: RNG for any noise the penalty draws (the global RNG when None).
        """
        return torch.zeros((), device=real.device, dtype=torch.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class HingeLoss(GANLoss):
    """Hinge loss (SNGAN, AutoGAN, E2GAN)."""

    name = "hinge"

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """Hinge loss of the discriminator."""
        return F.relu(1.0 - _flat(d_real)).mean() + F.relu(1.0 + _flat(d_fake)).mean()

    def generator_loss(self, d_fake: Tensor, d_real: Tensor | None = None) -> Tensor:
        """Hinge loss of the generator (``d_real`` unused)."""
        return -_flat(d_fake).mean()


class NonSaturatingLoss(GANLoss):
    """Non-saturating GAN loss (Goodfellow et al.) in softplus form."""

    name = "ns"

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """Non-saturating loss of the discriminator."""
        return F.softplus(-_flat(d_real)).mean() + F.softplus(_flat(d_fake)).mean()

    def generator_loss(self, d_fake: Tensor, d_real: Tensor | None = None) -> Tensor:
        """Non-saturating loss of the generator (``d_real`` unused)."""
        return F.softplus(-_flat(d_fake)).mean()


class WGANGPLoss(GANLoss):
    """Wasserstein loss with gradient penalty (Gulrajani et al.; SPIRAL's critic).

    :meth:`penalty` = ``gp_weight * mean((||grad_x D(x_hat)||_2 - 1)^2)`` on random
    interpolates ``x_hat = eps * real + (1 - eps) * fake``, one ``eps ~ U[0, 1]``
    per sample (first ``min(len(real), len(fake))`` samples of each).
    """

    name = "wgan-gp"

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """Wasserstein loss of the critic (without the penalty)."""
        return _flat(d_fake).mean() - _flat(d_real).mean()

    def generator_loss(self, d_fake: Tensor, d_real: Tensor | None = None) -> Tensor:
        """Wasserstein loss of the generator (``d_real`` unused)."""
        return -_flat(d_fake).mean()

    has_penalty = True

    def penalty(
        self, D: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """The gradient penalty described in the class docstring."""
        n = min(real.shape[0], fake.shape[0])
        real = real[:n].detach().float()
        fake = fake[:n].detach().float()
        eps = torch.rand((n,) + (1,) * (real.dim() - 1), device=real.device, generator=generator)
        x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
        scores = D(x_hat)
        (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
        norms = grad.reshape(n, -1).norm(2, dim=1)
        return self.gp_weight * ((norms - 1.0) ** 2).mean()


class RpGANLoss(GANLoss):
    """Relativistic pairing GAN loss (RpGAN): scores of real/fake pairs are compared."""

    name = "rpgan"
    needs_real_for_generator = True

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """RpGAN loss of the discriminator on real/fake pairs."""
        r, f = _paired(d_real, d_fake)
        return F.softplus(-(r - f)).mean()

    def generator_loss(self, d_fake: Tensor, d_real: Tensor | None = None) -> Tensor:
        """RpGAN loss of the generator on fake/real pairs (needs ``d_real``)."""
        if d_real is None:
            raise ValueError("rpgan's generator loss needs d_real (needs_real_for_generator=True)")
        f, r = _paired(d_fake, d_real)
        return F.softplus(-(f - r)).mean()


LOSSES: Registry[type[GANLoss]] = Registry("loss")
for _cls in (HingeLoss, NonSaturatingLoss, WGANGPLoss, RpGANLoss):
    LOSSES.register(_cls.name, _cls)

DEFAULT_LOSS = "hinge"


def get_loss(name: str = DEFAULT_LOSS, gp_weight: float = 10.0) -> GANLoss:
    """Build the loss registered as ``name``.

    :param name: one of ``LOSSES.names()``.
    :param gp_weight: gradient-penalty weight (``wgan-gp``).
    :raises UnknownNameError: for an unknown name; the message lists the known ones.
    """
    return LOSSES.get(name)(gp_weight=gp_weight)
