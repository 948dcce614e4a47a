"""The growing SNGAN-style ResNet discriminator used with the searched generator (as released)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_nas_env.models.generator import init_weights
from gan_nas_env.space import NUM_CELLS


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
    """SNGAN ResNet discriminator that grows with the generator (stages 1..3), as released.

    Spectral norm wraps every conv and linear layer; activations are ReLU;
    features are sum-pooled over space and a bias-free linear layer gives one score
    per image. At stage ``s`` it reads images of ``bottom_width * 2**s`` pixels
    (8, 16, 32 for ``bottom_width`` 4). As the released E2GAN search discriminator
    (``shared_gan.Discriminator``), one entry block reads the image at every stage
    and the stage decides how many of the following blocks run (R = ``bottom_width``):

    ======  ========  ===============================================  ======
    stage   input     blocks                                           ends at
    ======  ========  ===============================================  ======
    1       2R        entry (2R->R), last                              R
    2       4R        entry (4R->2R), down (2R->R), last               R
    3       8R        entry (8R->4R), down (4R->2R), middle, last      2R
    ======  ========  ===============================================  ======

    Stage 3 is SNGAN's CIFAR-10 discriminator (32 -> 16 -> 8 -> 8 -> 8) and the
    retraining discriminator. ``entry`` = optimized block (C -> df, downsampling),
    ``down`` = a downsampling block, ``middle`` and ``last`` = plain blocks.

    All blocks are created up front, so :meth:`grow` adds no parameters and an
    optimizer built over ``parameters()`` stays valid across stages: blocks unused
    at the current stage get no gradient (``grad`` stays None with
    ``zero_grad(set_to_none=True)``) and Adam skips them. Because the module
    structure does not depend on the stage, state dicts load across stages.

    :param df: channels of every block.
    :param channels: image channels.
    :param bottom_width: the generator's bottom width ``R``.
    :param stage: initial stage (1..3).
    :param init: weight init kind for :func:`~gan_nas_env.models.generator.init_weights`.
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
        self.entry = OptimizedBlock(channels, df, downsample=True, init=init)
        self.down = DisBlock(df, df, downsample=True, init=init)
        self.middle = DisBlock(df, df, downsample=False, init=init)
        self.last = DisBlock(df, df, downsample=False, init=init)
        self.linear = _sn(nn.Linear(df, 1, bias=False), init)

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

    def blocks(self) -> list[nn.Module]:
        """The blocks the current stage runs, in order."""
        return [self.entry, self.down, self.middle][: self._stage] + [self.last]

    def forward(self, x: Tensor) -> Tensor:
        """One realness score per image: ``[N, channels, R, R]`` -> ``[N]``."""
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            raise ValueError(
                f"discriminator at stage {self._stage} expects {self.resolution}x"
                f"{self.resolution} images, got {tuple(x.shape[-2:])}"
            )
        h = x
        for block in self.blocks():
            h = block(h)
        return self.linear(F.relu(h).sum(dim=(2, 3))).view(-1)
