"""The growing generator of the AutoGAN / E2GAN search space (SPEC section 2).

``z -> Linear -> [gf, bw, bw] -> cell 1 -> cell 2 -> cell 3``; every cell doubles
the resolution and keeps ``gf`` channels. A partial generator with ``t`` cells
renders its newest cell's features with its own ``to_rgb`` head (BN -> ReLU ->
3x3 conv -> tanh), so images have ``bottom_width * 2**t`` pixels.
:meth:`Generator.grow` appends a cell and its head and keeps every existing
weight, which is how the progressive proxy carries weights between steps.

No operation here modifies in place a tensor that autograd needs (the released
AutoGAN / E2GAN code did, and fails on current PyTorch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_nas_env.search_space import UP_CHOICES, Architecture, Cell, resolve_architecture

INIT_KINDS = ("xavier_uniform", "normal", "orthogonal")


def _weight_tensor(module: nn.Module) -> Tensor:
    """The trainable weight of ``module``, looking through spectral-norm wrappers."""
    parametrizations = getattr(module, "parametrizations", None)
    if parametrizations is not None and "weight" in parametrizations:
        return cast(Tensor, parametrizations.weight.original)  # nn.utils.parametrizations
    if hasattr(module, "weight_orig"):  # legacy torch.nn.utils.spectral_norm
        return cast(Tensor, module.weight_orig)
    return cast(Tensor, module.weight)


def init_weights(module: nn.Module, kind: str = "xavier_uniform") -> nn.Module:
    """Initialise ``module`` and all its sub-modules in place (AutoGAN style).

    Conv, transposed-conv and linear weights get ``kind`` (``xavier_uniform``,
    ``normal`` = N(0, 0.02) or ``orthogonal``) and zero biases; BatchNorm gets
    weight 1 and bias 0. Spectrally normalised layers are initialised through
    their original (unnormalised) weight; initialise before adding spectral norm
    so its power-iteration vectors start from the final weight.

    :param module: the module to initialise (recursively).
    :param kind: one of :data:`INIT_KINDS`.
    :return: ``module``, for chaining.
    """
    if kind not in INIT_KINDS:
        raise ValueError(f"unknown init kind {kind!r}; known: {', '.join(INIT_KINDS)}")
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = _weight_tensor(m)
                if kind == "xavier_uniform":
                    nn.init.xavier_uniform_(w, gain=1.0)
                elif kind == "normal":
                    nn.init.normal_(w, 0.0, 0.02)
                else:
                    nn.init.orthogonal_(w)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    return module


def _norm(kind: int, channels: int) -> nn.Module:
    """Norm layer for search-space value ``kind`` (0 none, 1 BatchNorm, 2 InstanceNorm)."""
    if kind == 1:
        return nn.BatchNorm2d(channels)
    if kind == 2:
        return nn.InstanceNorm2d(channels, affine=False)  # AutoGAN default
    return nn.Identity()


def _resize(x: Tensor, size: tuple[int, int] | None, mode: str, scale: int | None = None) -> Tensor:
    """``F.interpolate`` to ``size`` (or by ``scale``) with ``mode`` bilinear or nearest."""
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    if size is not None:
        return F.interpolate(x, size=size, mode=mode, **kwargs)
    return F.interpolate(x, scale_factor=scale, mode=mode, **kwargs)


class GeneratorCell(nn.Module):
    """One searchable cell: ``conv1`` (x2 upsample + 3x3 conv), skips, ``conv2``, shortcut.

    - ``conv=0`` post-activation: conv -> norm -> ReLU for conv1 and conv2.
      ``conv=1`` pre-activation: norm -> ReLU -> conv; for conv1 the norm and
      ReLU act on the cell input before upsampling (AutoGAN).
    - ``up``: bilinear or nearest ``F.interpolate`` (scale 2), or ``deconv`` =
      ``ConvTranspose2d(in, in, 2, stride 2)``; the 3x3 conv follows in all cases.
    - skip: each earlier cell in ``cell.skip_sources(cell_index)`` contributes
      its skip feature (its conv1 output, ``out_ch`` channels) resized to this
      cell's size (bilinear if ``up`` is bilinear, else nearest) and passed
      through its own 1x1 conv; the sum is added after conv1, before conv2.
    - ``shortcut=1``: a 1x1 conv of the upsampled cell input (nearest for
      deconv) is added to the cell output.

    :param in_ch: input channels.
    :param out_ch: output channels (also the channels of every skip feature).
    :param cell: the cell's search-space choices.
    :param cell_index: 0-based position of the cell in the generator.
    """

    def __init__(self, in_ch: int, out_ch: int, cell: Cell, cell_index: int) -> None:
        super().__init__()
        self.cell = cell
        self.cell_index = cell_index
        self.pre_act = cell.conv == 1
        self.up_name = UP_CHOICES[cell.up]
        self.skip_sources = cell.skip_sources(cell_index)
        # Mode used for shortcut and skip resizing (the learned deconv only upsamples conv1).
        self.resize_mode = "bilinear" if self.up_name == "bilinear" else "nearest"
        self.deconv = (
            nn.ConvTranspose2d(in_ch, in_ch, kernel_size=2, stride=2)
            if self.up_name == "deconv"
            else None
        )
        self.c1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.c2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.n1 = _norm(cell.norm, in_ch if self.pre_act else out_ch)
        self.n2 = _norm(cell.norm, out_ch)
        self.skip_convs = nn.ModuleList(
            nn.Conv2d(out_ch, out_ch, kernel_size=1) for _ in self.skip_sources
        )
        self.c_sc = nn.Conv2d(in_ch, out_ch, kernel_size=1) if cell.shortcut else None

    def _upsample(self, x: Tensor) -> Tensor:
        if self.deconv is not None:
            return self.deconv(x)
        return _resize(x, None, self.up_name, scale=2)

    def forward(self, x: Tensor, skip_feats: Sequence[Tensor] = ()) -> tuple[Tensor, Tensor]:
        """Run the cell.

        :param x: input ``[N, in_ch, H, W]``.
        :param skip_feats: skip features of the cells in ``self.skip_sources``, same order.
        :return: ``(skip_out, out)``: this cell's conv1 output (the skip feature later
            cells read) and the cell output ``[N, out_ch, 2H, 2W]``.
        """
        if len(skip_feats) != len(self.skip_sources):
            raise ValueError(
                f"cell {self.cell_index + 1} expects {len(self.skip_sources)} skip features "
                f"(from cells {[s + 1 for s in self.skip_sources]}), got {len(skip_feats)}"
            )
        if self.pre_act:
            h = self.c1(self._upsample(F.relu(self.n1(x))))
        else:
            h = F.relu(self.n1(self.c1(self._upsample(x))))
        skip_out = h
        size = (h.shape[-2], h.shape[-1])
        for feat, conv in zip(skip_feats, self.skip_convs, strict=True):
            h = h + conv(_resize(feat, size, self.resize_mode))
        if self.pre_act:
            out = self.c2(F.relu(self.n2(h)))
        else:
            out = F.relu(self.n2(self.c2(h)))
        if self.c_sc is not None:
            out = out + self.c_sc(_resize(x, None, self.resize_mode, scale=2))
        return skip_out, out


def _to_rgb(gf: int, channels: int) -> nn.Sequential:
    """Output head: BN -> ReLU -> 3x3 conv -> tanh."""
    return nn.Sequential(
        nn.BatchNorm2d(gf), nn.ReLU(), nn.Conv2d(gf, channels, 3, padding=1), nn.Tanh()
    )


class Generator(nn.Module):
    """Growing AutoGAN/E2GAN generator built from an architecture prefix of 1..3 cells.

    :param arch: the architecture (an :class:`Architecture`, vector, string or name).
    :param latent_dim: size of ``z``.
    :param gf: channels of every cell.
    :param bottom_width: side of the first feature map (4 -> 32 px, 6 -> 48 px).
    :param channels: image channels.
    :param init: weight init kind for :func:`init_weights`.
    """

    def __init__(
        self,
        arch: Architecture | str | Sequence[int],
        latent_dim: int = 128,
        gf: int = 128,
        bottom_width: int = 4,
        channels: int = 1,
        init: str = "xavier_uniform",
    ) -> None:
        super().__init__()
        arch = resolve_architecture(arch)
        self.latent_dim = latent_dim
        self.gf = gf
        self.bottom_width = bottom_width
        self.channels = channels
        self.init = init
        self._arch = Architecture((arch.cells[0],))
        self.l1 = nn.Linear(latent_dim, bottom_width**2 * gf)
        self.cells = nn.ModuleList([GeneratorCell(gf, gf, arch.cells[0], 0)])
        self.to_rgb = nn.ModuleList([_to_rgb(gf, channels)])
        init_weights(self, init)
        for cell in arch.cells[1:]:
            self.grow(cell)

    @property
    def arch(self) -> Architecture:
        """The architecture built so far."""
        return self._arch

    @property
    def stage(self) -> int:
        """Number of cells (1..3)."""
        return len(self.cells)

    @property
    def resolution(self) -> int:
        """Side of the output images in pixels."""
        return self.bottom_width * 2**self.stage

    def grow(self, cell: Cell) -> None:
        """Append ``cell`` and its ``to_rgb`` head, keeping every existing weight.

        New modules are initialised and placed on the device/dtype of the existing
        parameters. Build a new optimizer afterwards: the new cell's parameters
        are not in the old one.
        """
        new_arch = self._arch.append(cell)  # validates the cell (range, depth <= 3)
        ref = next(self.parameters())
        new_cell = GeneratorCell(self.gf, self.gf, cell, self.stage)
        head = _to_rgb(self.gf, self.channels)
        for module in (new_cell, head):
            init_weights(module, self.init)
            module.to(device=ref.device, dtype=ref.dtype)
            module.train(self.training)
        self.cells.append(new_cell)
        self.to_rgb.append(head)
        self._arch = new_arch

    def forward(self, z: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Generate images in [-1, 1], ``[N, channels, R, R]`` with ``R = resolution``.

        :param z: latent codes ``[N, latent_dim]``.
        :param return_features: also return the newest cell's output ``[N, gf, R, R]``.
        """
        h = self.l1(z).view(-1, self.gf, self.bottom_width, self.bottom_width)
        skip_outs: list[Tensor] = []
        for cell in self.cells:
            assert isinstance(cell, GeneratorCell)
            skip_out, h = cell(h, [skip_outs[s] for s in cell.skip_sources])
            skip_outs.append(skip_out)
        images = self.to_rgb[self.stage - 1](h)
        return (images, h) if return_features else images


class MultiGenerator(nn.Module):
    """Stackelberg GAN: ``K`` generators with separate weights behind one interface.

    Each sample of a batch comes from one generator. By default the assignment is
    a random balanced split: a random permutation of ``0..N-1`` plus a random
    offset, modulo ``K``, so every sample's generator is uniform over the ``K``
    and every generator gets ``N // K`` or ``N // K + 1`` samples (all are used
    once ``N >= K``). The indices of the last forward are in ``last_indices``.

    Parameters are those of :class:`Generator`, plus ``num_generators``.
    """

    def __init__(
        self,
        arch: Architecture | str | Sequence[int],
        latent_dim: int = 128,
        gf: int = 128,
        bottom_width: int = 4,
        channels: int = 1,
        num_generators: int = 2,
        init: str = "xavier_uniform",
    ) -> None:
        super().__init__()
        if num_generators < 1:
            raise ValueError(f"num_generators must be >= 1, got {num_generators}")
        self.generators = nn.ModuleList(
            Generator(arch, latent_dim, gf, bottom_width, channels, init)
            for _ in range(num_generators)
        )
        self.latent_dim = latent_dim
        self.gf = gf
        self.channels = channels
        self.last_indices: Tensor | None = None

    @property
    def num_generators(self) -> int:
        """Number of generators ``K``."""
        return len(self.generators)

    def _members(self) -> list[Generator]:
        return [cast(Generator, g) for g in self.generators]

    @property
    def arch(self) -> Architecture:
        """The architecture built so far (shared by all generators)."""
        return self._members()[0].arch

    @property
    def stage(self) -> int:
        """Number of cells (1..3)."""
        return self._members()[0].stage

    @property
    def resolution(self) -> int:
        """Side of the output images in pixels."""
        return self._members()[0].resolution

    def grow(self, cell: Cell) -> None:
        """Append ``cell`` to every generator (see :meth:`Generator.grow`)."""
        for g in self._members():
            g.grow(cell)

    def sample_indices(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Balanced random generator index per sample, ``[n]`` int64 on the RNG's device."""
        device = generator.device if generator is not None else torch.device("cpu")
        k = self.num_generators
        perm = torch.randperm(n, generator=generator, device=device)
        offset = torch.randint(k, (1,), generator=generator, device=device)
        return (perm + offset) % k

    def forward(
        self,
        z: Tensor,
        return_features: bool = False,
        indices: Tensor | None = None,
        gen_index_generator: torch.Generator | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Images (and features) with each sample drawn from one of the generators.

        :param z: latent codes ``[N, latent_dim]``.
        :param return_features: also return the newest cell's features ``[N, gf, R, R]``.
        :param indices: generator index per sample ``[N]``; drawn by
            :meth:`sample_indices` when None.
        :param gen_index_generator: RNG for drawing ``indices``.
        """
        n = z.shape[0]
        if n == 0:
            raise ValueError("MultiGenerator needs a non-empty batch of latent codes")
        if indices is None:
            indices = self.sample_indices(n, gen_index_generator)
        else:
            if indices.shape != (n,):
                raise ValueError(f"indices must have shape [{n}], got {list(indices.shape)}")
            if int(indices.min()) < 0 or int(indices.max()) >= self.num_generators:
                raise ValueError(f"indices must be in 0..{self.num_generators - 1}")
        indices = indices.to(z.device).long()
        self.last_indices = indices
        positions, images, feats = [], [], []
        for k, g in enumerate(self.generators):
            pos = (indices == k).nonzero(as_tuple=True)[0]
            if pos.numel() == 0:
                continue
            img, feat = g(z.index_select(0, pos), return_features=True)
            positions.append(pos)
            images.append(img)
            feats.append(feat)
        order = torch.argsort(torch.cat(positions))  # undo the grouping, out of place
        out_images = torch.cat(images).index_select(0, order)
        if not return_features:
            return out_images
        return out_images, torch.cat(feats).index_select(0, order)


def build_generator(
    arch: Architecture | str | Sequence[int],
    latent_dim: int = 128,
    gf: int = 128,
    bottom_width: int = 4,
    channels: int = 1,
    num_generators: int = 1,
) -> Generator | MultiGenerator:
    """A :class:`Generator`, or a :class:`MultiGenerator` when ``num_generators > 1``."""
    if num_generators == 1:
        return Generator(arch, latent_dim, gf, bottom_width, channels)
    return MultiGenerator(arch, latent_dim, gf, bottom_width, channels, num_generators)
