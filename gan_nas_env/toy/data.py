"""Low-dimensional Gaussian-mixture targets of the seed papers' toy experiments.

Every sampler is a pure function of its arguments: randomness comes only from
the ``rng`` argument (a seed or a local :class:`torch.Generator`), never from
the global RNG. Each returns a :class:`ToySample` with the samples, the mode
each sample came from, the mode centres and the (shared, isotropic) std.
Mixtures are uniform over their modes.

============  ===========================  ========================================  =====
name          seed paper                   modes                                     std
============  ===========================  ========================================  =====
clusters1d    RS-GAN / RpGAN (1-D)         2 clusters at -1 and +1                   0.05
mog5          RS-GAN / RpGAN (2-D)         5 on a regular pentagon of radius 1       0.05
ring8         Stackelberg GAN              8 on a circle of radius 1                 0.01
============  ===========================  ========================================  =====

The papers give the shape of each target (two clusters; five Gaussians; eight
Gaussians on a circle with std 0.01) but our centres, radii and the std of the
first two are our own choice, made so that every mode is separated from its
neighbours by well over 6 std (``3 std`` balls never overlap).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from gan_nas_env.registry import Registry


@dataclass(frozen=True)
class ToySample:
    """Samples of a Gaussian mixture and its description.

    :param samples: ``[n, d]`` float32 points.
    :param labels: ``[n]`` int64 index of the mode each point was drawn from.
    :param centres: ``[k, d]`` float32 mode centres.
    :param std: isotropic std of every mode.
    """

    samples: Tensor
    labels: Tensor
    centres: Tensor
    std: float

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the points."""
        return int(self.centres.shape[1])

    @property
    def num_modes(self) -> int:
        """Number of modes ``k``."""
        return int(self.centres.shape[0])


def _generator(rng: torch.Generator | int) -> torch.Generator:
    if isinstance(rng, torch.Generator):
        return rng
    return torch.Generator().manual_seed(int(rng))


def sample_mixture(
    centres: Tensor, std: float, n: int, rng: torch.Generator | int = 0
) -> ToySample:
    """``n`` points of the uniform isotropic Gaussian mixture with the given centres.

    :param centres: ``[k, d]`` mode centres.
    :param std: std of every mode (> 0).
    :param n: number of points (>= 0).
    :param rng: seed or local CPU generator.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    centres = torch.as_tensor(centres, dtype=torch.float32)
    if centres.dim() != 2 or centres.shape[0] < 1:
        raise ValueError(f"centres must be [k, d] with k >= 1, got {tuple(centres.shape)}")
    gen = _generator(rng)
    labels = torch.randint(centres.shape[0], (n,), generator=gen)
    noise = torch.randn(n, centres.shape[1], generator=gen)
    samples = centres[labels] + float(std) * noise
    return ToySample(samples, labels, centres, float(std))


def circle_centres(k: int, radius: float, phase: float = 0.0) -> Tensor:
    """``[k, 2]`` points evenly spaced on a circle, the first at angle ``phase``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    angles = phase + 2.0 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1).float()


def two_clusters_1d(
    n: int,
    rng: torch.Generator | int = 0,
    centres: Sequence[float] = (-1.0, 1.0),
    std: float = 0.05,
) -> ToySample:
    """RS-GAN's 1-D two-cluster target: equal-weight Gaussians at ``centres`` (``[n, 1]``)."""
    return sample_mixture(torch.tensor(centres, dtype=torch.float32)[:, None], std, n, rng)


def gaussian_mixture_2d(
    n: int, rng: torch.Generator | int = 0, k: int = 5, radius: float = 1.0, std: float = 0.05
) -> ToySample:
    """RS-GAN's 2-D mixture: ``k`` Gaussians on a regular polygon (first mode at the top)."""
    return sample_mixture(circle_centres(k, radius, phase=math.pi / 2), std, n, rng)


def ring_of_gaussians(
    n: int, rng: torch.Generator | int = 0, k: int = 8, radius: float = 1.0, std: float = 0.01
) -> ToySample:
    """Stackelberg GAN's ring: ``k`` Gaussians on a circle of ``radius``, std 0.01."""
    return sample_mixture(circle_centres(k, radius), std, n, rng)


ToySampler = Callable[..., ToySample]

TOY_TARGETS: Registry[ToySampler] = Registry("toy target")
TOY_TARGETS.register("clusters1d", two_clusters_1d)
TOY_TARGETS.register("mog5", gaussian_mixture_2d)
TOY_TARGETS.register("ring8", ring_of_gaussians)


def sample_target(name: str, n: int, rng: torch.Generator | int = 0) -> ToySample:
    """``n`` points of the toy target registered as ``name`` (default parameters)."""
    return TOY_TARGETS.get(name)(n, rng)
