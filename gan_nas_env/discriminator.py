"""The growing SNGAN-style ResNet discriminator used with the searched generator."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_nas_env.generator import init_weights
from gan_nas_env.search_space import NUM_CELLS


def _sn(layer: nn.Module, init: str) -> nn.Module:
    """Initialise ``layer`` then wrap its weight in spectral normalisation."""
    init_weights(layer, init)
    return spectral_norm(layer)


class OptimizedBlock(nn.Module):
    """SNGAN's first block, reading the image: conv -> ReLU -> conv (+ 1x1 shortcut).

    :param downsample: 2x2 average pooling on both paths.
    """

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, init: str) -> None:
        super().__init__()
        self.downsample = downsample
        self.c1 = _sn(nn.Conv2d(in_ch, out_ch, 3, padding=1), init)
        self.c2 = _sn(nn.Conv2d(out_ch, out_ch, 3, padding=1), init)
        self.c_sc = _sn(nn.Conv2d(in_ch, out_ch, 1), init)

    def forward(self, x: Tensor) -> Tensor:
        """Residual block output."""
        h = self.c2(F.relu(self.c1(x)))
        sc = x
        if self.downsample:
            h = F.avg_pool2d(h, 2)
            sc = F.avg_pool2d(sc, 2)
        return h + self.c_sc(sc)


class DisBlock(nn.Module):
    """SNGAN's pre-activation block: ReLU -> conv -> ReLU -> conv (+ shortcut).

    The shortcut is a 1x1 conv when channels change or the block downsamples,
    else the identity.
    """

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, init: str) -> None:
        super().__init__()
        self.downsample = downsample
        self.c1 = _sn(nn.Conv2d(in_ch, out_ch, 3, padding=1), init)
        self.c2 = _sn(nn.Conv2d(out_ch, out_ch, 3, padding=1), init)
        learnable_sc = in_ch != out_ch or downsample
        self.c_sc = _sn(nn.Conv2d(in_ch, out_ch, 1), init) if learnable_sc else None

    def forward(self, x: Tensor) -> Tensor:
        """Residual block output."""
        h = self.c2(F.relu(self.c1(F.relu(x))))
        sc = x if self.c_sc is None else self.c_sc(x)
        if self.downsample:
            h = F.avg_pool2d(h, 2)
            sc = F.avg_pool2d(sc, 2)
        return h + sc


class Discriminator(nn.Module):
    """SNGAN ResNet discriminator that grows with the generator (stages 1..3).

    Spectral norm wraps every conv and linear layer; activations are ReLU;
    features are sum-pooled over space and a linear layer gives one score per
    image. At stage ``s`` it reads images of ``bottom_width * 2**s`` pixels
    (8, 16, 32 for ``bottom_width`` 4). Layout (R = ``bottom_width``):

    ======  ========  ==========================  ====================================
    stage   input     own entry block             shared blocks
    ======  ========  ==========================  ====================================
    1       2R        Opt(C->df), no down         tail1, tail2 (at 2R)
    2       4R        Opt(C->df), no down         down (4R->2R), tail1, tail2
    3       8R        Opt(C->df), down 8R->4R     down (4R->2R), tail1, tail2
    ======  ========  ==========================  ====================================

    Stage 3 is exactly SNGAN's CIFAR-10 discriminator (32 -> 16 -> 8 -> 8 -> 8).
    Only the entry block, which reads the image at the stage's resolution, is
    stage-specific; every shared block used at stage ``s`` is used at all later
    stages, so what it learned carries over when the discriminator grows.

    All blocks are created up front, so :meth:`grow` adds no parameters and an
    optimizer built over ``parameters()`` stays valid: blocks unused at the
    current stage get no gradient (``grad`` stays None with
    ``zero_grad(set_to_none=True)``) and Adam skips them. Rebuilding the
    optimizer after growing (e.g. together with the generator's, whose new cell
    does add parameters) is equally fine. Because the module structure does not
    depend on the stage, state dicts load across stages.

    :param df: channels of every block.
    :param channels: image channels.
    :param bottom_width: the generator's bottom width ``R``.
    :param stage: initial stage (1..3).
    :param init: weight init kind for :func:`~gan_nas_env.generator.init_weights`.
    """

    def __init__(
        self,
        df: int = 64,
        channels: int = 1,
        bottom_width: int = 4,
        stage: int = NUM_CELLS,
        init: str = "xavier_uniform",
    ) -> None:
        super().__init__()
        if not 1 <= stage <= NUM_CELLS:
            raise ValueError(f"discriminator stage must be 1..{NUM_CELLS}, got {stage}")
        self.df = df
        self.channels = channels
        self.bottom_width = bottom_width
        self._stage = stage
        # entries[s - 1] reads stage-s images; only the last one downsamples.
        self.entries = nn.ModuleList(
            OptimizedBlock(channels, df, downsample=s == NUM_CELLS, init=init)
            for s in range(1, NUM_CELLS + 1)
        )
        self.down = DisBlock(df, df, downsample=True, init=init)
        self.tail = nn.Sequential(
            DisBlock(df, df, downsample=False, init=init),
            DisBlock(df, df, downsample=False, init=init),
        )
        self.linear = _sn(nn.Linear(df, 1), init)

    @property
    def stage(self) -> int:
        """Current stage (1..3), equal to the generator's number of cells."""
        return self._stage

    @property
    def resolution(self) -> int:
        """Side in pixels of the images this stage reads."""
        return self.bottom_width * 2**self._stage

    def grow(self) -> None:
        """Move to the next stage (double the input resolution); adds no parameters."""
        if self._stage >= NUM_CELLS:
            raise ValueError(f"discriminator is already at the last stage ({NUM_CELLS})")
        self._stage += 1

    def forward(self, x: Tensor) -> Tensor:
        """One realness score per image: ``[N, channels, R, R]`` -> ``[N]``."""
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            raise ValueError(
                f"discriminator at stage {self._stage} expects {self.resolution}x"
                f"{self.resolution} images, got {tuple(x.shape[-2:])}"
            )
        h = self.entries[self._stage - 1](x)
        if self._stage >= 2:
            h = self.down(h)
        h = F.relu(self.tail(h))
        return self.linear(h.sum(dim=(2, 3))).view(-1)
