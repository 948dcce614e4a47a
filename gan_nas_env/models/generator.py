"""The growing generator of the AutoGAN / E2GAN search space (docs/fidelity.md checks it).

``z -> Linear -> [gf, bw, bw] -> cell 1 -> cell 2 -> cell 3 -> to_rgb``; every cell
doubles the resolution and keeps ``gf`` channels. One ``to_rgb`` head (BN -> ReLU
-> 3x3 conv -> tanh) renders whatever the newest cell produced, at every stage,
so it carries its weights from step to step as in the released E2GAN code. A
generator with no cell yet (stage 0) renders the Linear layer's bottom-width
features: this is what E2GAN scores as the episode's baseline.
:meth:`Generator.grow` appends a cell and keeps every existing weight, which is
how the progressive proxy carries weights between steps.

The modules a forward pass uses, and what they compute, are those of the
released E2GAN code (``Yuantian013/E2GAN`` commit 49a20c03,
``search/models_search``), checked by ``scripts/compare_with_released.py``; see
``docs/fidelity.md``. No operation here modifies in place a tensor that autograd
needs (the released code did, and fails on current PyTorch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_nas_env.space import UP_CHOICES, Architecture, Cell, resolve_architecture

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
    """Initialise ``module`` and all its sub-modules in place, as the released E2GAN code.

    Only ``Conv2d`` weights get ``kind`` (``xavier_uniform``, ``normal`` = N(0, 0.02)
    or ``orthogonal``); spectrally normalised convs are initialised through their
    original (unnormalised) weight. BatchNorm gets weight ~ N(1, 0.02) and bias 0.
    Conv biases, ``Linear`` and ``ConvTranspose2d`` layers keep PyTorch's default
    initialisation (the released ``weights_init`` matches the class name ``Conv2d``,
    which transposed convs do not contain). Initialise before adding spectral norm so
    its power-iteration vectors start from the final weight.

    :param module: the module to initialise (recursively).
    :param kind: one of :data:`INIT_KINDS`.
    :return: ``module``, for chaining.
    """
    if kind not in INIT_KINDS:
        raise ValueError(f"unknown init kind {kind!r}; known: {', '.join(INIT_KINDS)}")
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):  # not ConvTranspose2d (a different class)
                w = _weight_tensor(m)
                if kind == "xavier_uniform":
                    nn.init.xavier_uniform_(w, gain=1.0)
                elif kind == "normal":
                    nn.init.normal_(w, 0.0, 0.02)
                else:
                    nn.init.orthogonal_(w)
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    return module


def progressive_state(features: Tensor) -> Tensor:
    """E2GAN's progressive state of ``[N, C, H, W]`` features -> ``[N, C]``.

    The features bilinearly interpolated to 1x1 (``align_corners=False``), which is
    the mean of the central 2x2 pixels for an even size.
    """
    return F.interpolate(features, size=(1, 1), mode="bilinear", align_corners=False).flatten(1)


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


def _deconv_x2(channels: int) -> nn.ConvTranspose2d:
    """The learned x2 upsampling of a deconv cell: ``ConvTranspose2d(c, c, 2, stride 2)``."""
    return nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2)


class GeneratorCell(nn.Module):
    """One searchable cell: ``conv1`` (x2 upsample + 3x3 conv), skips, ``conv2``, shortcut.

    As the released E2GAN cell (``building_blocks_search.Cell``):

    - ``conv=0`` post-activation: upsample -> conv -> norm -> ReLU for conv1, conv ->
      norm -> ReLU for conv2. ``conv=1`` pre-activation: norm -> ReLU -> upsample ->
      conv, and norm -> ReLU -> conv.
    - ``up``: bilinear or nearest ``F.interpolate`` (scale 2), or ``deconv`` =
      ``ConvTranspose2d(in, in, 2, stride 2)``.
    - skip: each earlier cell in ``cell.skip_sources(cell_index)`` contributes its
      skip feature brought to this cell's size, then a 1x1 conv; the sum is added to
      conv1's output. The resize is ``F.interpolate`` with the cell's ``up`` mode, or,
      in a deconv cell, one learned ``ConvTranspose2d(2, stride 2)`` per doubling
      (x2 from the previous cell, x4 from the one before).
    - the cell's own skip feature (what later cells read) is conv1's output *after*
      the skip additions.
    - ``shortcut=1``: a 1x1 conv of the cell input, upsampled by ``F.interpolate``
      with the ``up`` mode or, in a deconv cell, by its own learned transposed conv,
      is added to the cell output.

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
        is_deconv = self.up_name == "deconv"
        self.skip_sources = cell.skip_sources(cell_index)
        self.deconv = _deconv_x2(in_ch) if is_deconv else None
        self.c1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.c2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.n1 = _norm(cell.norm, in_ch if self.pre_act else out_ch)
        self.n2 = _norm(cell.norm, out_ch)
        # learned upsampling of each skip feature (deconv cells only): one layer per doubling
        self.skip_ups = (
            nn.ModuleList(
                nn.Sequential(*(_deconv_x2(out_ch) for _ in range(cell_index - s)))
                for s in self.skip_sources
            )
            if is_deconv
            else None
        )
        self.skip_convs = nn.ModuleList(
            nn.Conv2d(out_ch, out_ch, kernel_size=1) for _ in self.skip_sources
        )
        self.sc_up = _deconv_x2(in_ch) if is_deconv and cell.shortcut else None
        self.c_sc = nn.Conv2d(in_ch, out_ch, kernel_size=1) if cell.shortcut else None

    def _upsample(self, x: Tensor) -> Tensor:
        if self.deconv is not None:
            return self.deconv(x)
        return _resize(x, None, self.up_name, scale=2)

    def forward(self, x: Tensor, skip_feats: Sequence[Tensor] = ()) -> tuple[Tensor, Tensor]:
        """Run the cell.

        :param x: input ``[N, in_ch, H, W]``.
        :param skip_feats: skip features of the cells in ``self.skip_sources``, same order.
        :return: ``(skip_out, out)``: this cell's skip feature (conv1 output plus the skip
            inputs, what later cells read) and the cell output ``[N, out_ch, 2H, 2W]``.
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
        size = (h.shape[-2], h.shape[-1])
        for i, (feat, conv) in enumerate(zip(skip_feats, self.skip_convs, strict=True)):
            up = self.skip_ups[i](feat) if self.skip_ups is not None else _resize(feat, size, self.up_name)
            h = h + conv(up)
        skip_out = h  # after the skip additions, as the released in-place ``h +=``
        if self.pre_act:
            out = self.c2(F.relu(self.n2(h)))
        else:
            out = F.relu(self.n2(self.c2(h)))
        if self.c_sc is not None:
            x_up = self.sc_up(x) if self.sc_up is not None else _resize(x, None, self.up_name, scale=2)
            out = out + self.c_sc(x_up)
        return skip_out, out


def _to_rgb(gf: int, channels: int) -> nn.Sequential:
    """Output head: BN -> ReLU -> 3x3 conv -> tanh."""
    return nn.Sequential(
        nn.BatchNorm2d(gf), nn.ReLU(), nn.Conv2d(gf, channels, 3, padding=1), nn.Tanh()
    )


ArchSpec = Architecture | str | Sequence[int] | None


class Generator(nn.Module):
    """Growing AutoGAN/E2GAN generator built from an architecture prefix of 0..3 cells.

    :param arch: the architecture (an :class:`Architecture`, vector, string or name);
        None builds the stage-0 generator (Linear + head, bottom-width images).
    :param latent_dim: size of ``z``.
    :param gf: channels of every cell.
    :param bottom_width: side of the first feature map (4 -> 32 px, 6 -> 48 px).
    :param channels: image channels.
    :param init: weight init kind for :func:`init_weights`.
    """

    def __init__(
        self,
        arch: ArchSpec,
        latent_dim: int = 128,
        gf: int = 128,
        bottom_width: int = 4,
        channels: int = 1,
        init: str = "xavier_uniform",
    ) -> None:
        super().__init__()
        cells = () if arch is None else resolve_architecture(arch).cells
        self.latent_dim = latent_dim
        self.gf = gf
        self.bottom_width = bottom_width
        self.channels = channels
        self.init = init
        self._arch: Architecture | None = None
        self.l1 = nn.Linear(latent_dim, bottom_width**2 * gf)
        self.cells = nn.ModuleList()
        self.to_rgb = _to_rgb(gf, channels)  # one head for every stage
        init_weights(self, init)
        for cell in cells:
            self.grow(cell)

    @property
    def arch(self) -> Architecture | None:
        """The architecture built so far (None at stage 0)."""
        return self._arch

    @property
    def stage(self) -> int:
        """Number of cells (0..3)."""
        return len(self.cells)

    @property
    def resolution(self) -> int:
        """Side of the output images in pixels."""
        return self.bottom_width * 2**self.stage

    def grow(self, cell: Cell) -> list[nn.Parameter]:
        """Append ``cell``, keeping every existing weight; returns the new parameters.

        The new cell is initialised and placed on the device/dtype of the existing
        parameters. Add the returned parameters to the optimizer (``add_param_group``):
        the episode's optimizer keeps its state for the older ones, as in E2GAN.
        """
        new_arch = Architecture((cell,)) if self._arch is None else self._arch.append(cell)
        ref = next(self.parameters())
        new_cell = GeneratorCell(self.gf, self.gf, cell, self.stage)
        init_weights(new_cell, self.init)
        new_cell.to(device=ref.device, dtype=ref.dtype)
        new_cell.train(self.training)
        self.cells.append(new_cell)
        self._arch = new_arch
        return list(new_cell.parameters())

    def forward(self, z: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Generate images in [-1, 1], ``[N, channels, R, R]`` with ``R = resolution``.

        :param z: latent codes ``[N, latent_dim]``.
        :param return_features: also return the newest cell's output ``[N, gf, R, R]``
            (at stage 0 the Linear layer's bottom-width features).
        """
        h = self.l1(z).view(-1, self.gf, self.bottom_width, self.bottom_width)
        skip_outs: list[Tensor] = []
        for cell in self.cells:
            assert isinstance(cell, GeneratorCell)
            skip_out, h = cell(h, [skip_outs[s] for s in cell.skip_sources])
            skip_outs.append(skip_out)
        images = self.to_rgb(h)
        return (images, h) if return_features else images


class MultiGenerator(nn.Module):
    """Stackelberg GAN: ``K`` generators with separate weights behind one interface.

    Each sample of a batch comes from one generator. Given an RNG
    (``gen_index_generator``), the assignment is a random balanced split: a random
    permutation of ``0..N-1`` plus a random offset, modulo ``K``, so every sample's
    generator is uniform over the ``K`` and every generator gets ``N // K`` or
    ``N // K + 1`` samples (all are used once ``N >= K``). Without one it is the
    fixed balanced split ``i % K`` (no random draw: the global RNG is never read).
    The proxy and retraining pass their seeded generators (see :func:`generate`).
    The indices of the last forward are in ``last_indices``.

    Parameters are those of :class:`Generator`, plus ``num_generators``.
    """

    def __init__(
        self,
        arch: ArchSpec,
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
    def arch(self) -> Architecture | None:
        """The architecture built so far (shared by all generators)."""
        return self._members()[0].arch

    @property
    def stage(self) -> int:
        """Number of cells (0..3)."""
        return self._members()[0].stage

    @property
    def resolution(self) -> int:
        """Side of the output images in pixels."""
        return self._members()[0].resolution

    def grow(self, cell: Cell) -> list[nn.Parameter]:
        """Append ``cell`` to every generator (see :meth:`Generator.grow`); the new parameters."""
        return [p for g in self._members() for p in g.grow(cell)]

    def sample_indices(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Balanced generator index per sample, ``[n]`` int64.

        Drawn from ``generator`` (on its device); without one the fixed split
        ``arange(n) % K`` on the CPU, which draws nothing.
        """
        k = self.num_generators
        if generator is None:
            return torch.arange(n) % k
        device = generator.device
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
        :param gen_index_generator: RNG for drawing ``indices`` (None: the fixed split).
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


@overload
def generate(
    G: nn.Module, z: Tensor, generator: torch.Generator | None = ...,
    return_features: Literal[False] = ...,
) -> Tensor: ...


@overload
def generate(
    G: nn.Module, z: Tensor, generator: torch.Generator | None, return_features: Literal[True]
) -> tuple[Tensor, Tensor]: ...


@overload
def generate(
    G: nn.Module, z: Tensor, *, return_features: Literal[True]
) -> tuple[Tensor, Tensor]: ...


def generate(
    G: nn.Module, z: Tensor, generator: torch.Generator | None = None, return_features: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """``G(z)``; a :class:`MultiGenerator` draws its member indices from ``generator``.

    A single :class:`Generator` draws nothing (``generator`` is unused), so its
    numbers do not depend on whether or which RNG is given.
    """
    if isinstance(G, MultiGenerator):
        return G(z, return_features=return_features, gen_index_generator=generator)
    return G(z, return_features=return_features) if return_features else G(z)


def build_generator(
    arch: ArchSpec,
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
