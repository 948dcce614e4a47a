"""Generator, MultiGenerator and Discriminator: shapes, growth, gradients, spectral norm."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gan_nas_env.models.discriminator import Discriminator
from gan_nas_env.models.generator import (
    Generator,
    GeneratorCell,
    MultiGenerator,
    build_generator,
    generate,
    init_weights,
)
from gan_nas_env.space import AUTOGAN_ARCH, E2GAN_ARCH, SPACE, Architecture, Cell

LATENT, GF, DF, BW = 8, 8, 8, 2  # tiny: 4, 8, 16 px at stages 1, 2, 3

_rng = np.random.default_rng(0)
RANDOM_ARCHS = [SPACE.sample(_rng) for _ in range(6)]
ARCHS = [E2GAN_ARCH, AUTOGAN_ARCH, *RANDOM_ARCHS]
ARCH_IDS = ["e2gan", "autogan", *(str(a).replace(" ", "") for a in RANDOM_ARCHS)]

# Every (conv, norm, up, shortcut) combination, used in all three cells with all skips on.
CELL_COMBOS = list(itertools.product(range(2), range(3), range(3), range(2)))


def _uniform_arch(conv: int, norm: int, up: int, shortcut: int) -> Architecture:
    return Architecture(
        (
            Cell(conv, norm, up, shortcut),
            Cell(conv, norm, up, shortcut, 1),
            Cell(conv, norm, up, shortcut, 3),
        )
    )


def _tiny_g(arch: Architecture, channels: int = 1, bw: int = BW) -> Generator:
    return Generator(arch, latent_dim=LATENT, gf=GF, bottom_width=bw, channels=channels)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# -- generator ----------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS, ids=ARCH_IDS)
def test_generator_and_discriminator_shapes_at_every_stage(arch: Architecture) -> None:
    g = _tiny_g(arch.prefix(1))
    d = Discriminator(df=DF, channels=1, bottom_width=BW, stage=1)
    for t in range(1, 4):
        if t > 1:
            g.grow(arch.cells[t - 1])
            d.grow()
        assert g.stage == d.stage == t
        assert g.arch == arch.prefix(t)
        res = BW * 2**t
        assert g.resolution == d.resolution == res
        images, feats = g(torch.randn(3, LATENT), return_features=True)
        assert images.shape == (3, 1, res, res)
        assert feats.shape == (3, GF, res, res)
        assert images.abs().max() <= 1.0
        assert d(images).shape == (3,)


@pytest.mark.parametrize("arch", ARCHS[:2], ids=ARCH_IDS[:2])
def test_full_arch_constructor_matches_grown(arch: Architecture) -> None:
    grown = _tiny_g(arch.prefix(1))
    grown.grow(arch.cells[1])
    grown.grow(arch.cells[2])
    built = _tiny_g(arch)
    assert set(built.state_dict()) == set(grown.state_dict())
    built.load_state_dict(grown.state_dict())
    grown.eval()
    built.eval()
    z = torch.randn(4, LATENT)
    with torch.no_grad():
        assert torch.equal(grown(z), built(z))


@pytest.mark.parametrize("combo", CELL_COMBOS, ids=lambda c: "".join(map(str, c)))
def test_backward_every_cell_option(combo: tuple[int, int, int, int]) -> None:
    """Forward + backward through G and D for every cell option (catches in-place ops)."""
    g = _tiny_g(_uniform_arch(*combo))
    d = Discriminator(df=DF, channels=1, bottom_width=BW, stage=3)
    images = g(torch.randn(2, LATENT))
    (-d(images).mean()).backward()
    # every parameter of a complete generator is on the path of its output
    for name, p in g.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_cell_modules_follow_choices() -> None:
    cell = GeneratorCell(4, 4, Cell(1, 1, 2, 1, 3), cell_index=2)
    assert isinstance(cell.deconv, nn.ConvTranspose2d)
    assert isinstance(cell.n1, nn.BatchNorm2d) and cell.n1.num_features == 4
    assert cell.c_sc is not None and len(cell.skip_convs) == 2
    assert cell.skip_sources == (1, 0)
    cell = GeneratorCell(4, 4, Cell(0, 2, 0, 0, 0), cell_index=2)
    assert cell.deconv is None and cell.c_sc is None and len(cell.skip_convs) == 0
    assert isinstance(cell.n2, nn.InstanceNorm2d) and not cell.n2.affine
    assert isinstance(GeneratorCell(4, 4, Cell(0, 0, 1, 0), 0).n1, nn.Identity)
    with pytest.raises(ValueError, match="skip features"):
        GeneratorCell(4, 4, Cell(0, 0, 0, 0, 1), 1)(torch.randn(1, 4, 2, 2), [])


@pytest.mark.parametrize("skip2,skip3", list(itertools.product(range(2), range(4))))
def test_every_skip_value_gets_gradients(skip2: int, skip3: int) -> None:
    arch = Architecture((Cell(0, 1, 0, 0), Cell(1, 0, 1, 0, skip2), Cell(0, 2, 2, 1, skip3)))
    g = _tiny_g(arch)
    assert len(g.cells[1].skip_convs) == skip2
    assert len(g.cells[2].skip_convs) == bin(skip3).count("1")
    g(torch.randn(2, LATENT)).square().mean().backward()
    for cell in g.cells[1:]:
        for conv in cell.skip_convs:
            assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("up", range(3))
@pytest.mark.parametrize("skip3", [1, 2, 3])
def test_skip_adds_exactly_its_1x1_conv(up: int, skip3: int) -> None:
    """Same weights: with skip convs zeroed the output equals the no-skip model's; else differs."""
    skip_arch = Architecture((Cell(0, 1, up, 0), Cell(1, 1, up, 0, 1), Cell(0, 1, up, 1, skip3)))
    plain_arch = Architecture((Cell(0, 1, up, 0), Cell(1, 1, up, 0, 0), Cell(0, 1, up, 1, 0)))
    g_skip, g_plain = _tiny_g(skip_arch), _tiny_g(plain_arch)
    missing, unexpected = g_plain.load_state_dict(g_skip.state_dict(), strict=False)
    # deconv cells also have learned upsamplings of their skip inputs
    assert not missing and unexpected and all("skip_convs" in k or "skip_ups" in k for k in unexpected)
    assert any("skip_ups" in k for k in unexpected) == (up == 2)
    g_skip.eval()
    g_plain.eval()
    z = torch.randn(4, LATENT)
    with torch.no_grad():
        assert not torch.allclose(g_skip(z), g_plain(z))
        for cell in g_skip.cells:
            for conv in cell.skip_convs:
                conv.weight.zero_()
                conv.bias.zero_()
        torch.testing.assert_close(g_skip(z), g_plain(z))


@pytest.mark.parametrize("arch", ARCHS[:4], ids=ARCH_IDS[:4])
def test_grow_keeps_earlier_weights_bit_identical(arch: Architecture) -> None:
    g = _tiny_g(arch.prefix(1))
    for t in (1, 2):
        before = {k: v.clone() for k, v in g.state_dict().items()}
        n_params = len(list(g.parameters()))
        g.grow(arch.cells[t])
        after = g.state_dict()
        for k, v in before.items():
            assert torch.equal(after[k], v), k
        assert len(list(g.parameters())) > n_params
    with pytest.raises(ValueError):
        g.grow(Cell(0, 0, 0, 0, 0))  # a 4th cell does not exist


def test_grow_matches_device_dtype_and_mode() -> None:
    g = _tiny_g(E2GAN_ARCH.prefix(1)).double().eval()
    g.grow(E2GAN_ARCH.cells[1])
    assert all(p.dtype == torch.float64 for p in g.parameters())
    assert not g.cells[1].training
    assert g(torch.randn(2, LATENT, dtype=torch.float64)).dtype == torch.float64


def test_grow_rejects_bad_skip() -> None:
    g = _tiny_g(E2GAN_ARCH.prefix(1))
    with pytest.raises(ValueError, match="skip"):
        g.grow(Cell(0, 0, 0, 0, 2))  # cell 2 has skip 0..1
    assert g.stage == 1 and len(g.cells) == 1


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("bw", [2, 6])
def test_channels_and_bottom_width(channels: int, bw: int) -> None:
    g = _tiny_g(AUTOGAN_ARCH, channels=channels, bw=bw)
    d = Discriminator(df=DF, channels=channels, bottom_width=bw, stage=3)
    images = g(torch.randn(2, LATENT))
    assert images.shape == (2, channels, 8 * bw, 8 * bw)
    assert g.resolution == d.resolution == 8 * bw
    assert d(images).shape == (2,)


def test_init_weights_as_released() -> None:
    """xavier on Conv2d weights only; BN ~ N(1, 0.02); Linear/ConvTranspose2d/biases default."""
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3)
    bias_before = conv.bias.detach().clone()
    init_weights(conv, "normal")
    assert abs(float(conv.weight.detach().std()) - 0.02) < 0.002
    assert torch.equal(conv.bias, bias_before)  # biases keep PyTorch's default
    for layer in (nn.Linear(64, 64), nn.ConvTranspose2d(64, 64, 2, 2)):
        before = layer.weight.detach().clone()
        init_weights(layer, "normal")
        assert torch.equal(layer.weight, before)
    bn = init_weights(nn.BatchNorm2d(4096))
    assert abs(float(bn.weight.detach().mean()) - 1.0) < 0.005
    assert abs(float(bn.weight.detach().std()) - 0.02) < 0.002 and torch.count_nonzero(bn.bias) == 0
    # spectral-norm convs are initialised through their original weight
    sn = nn.utils.parametrizations.spectral_norm(nn.Conv2d(64, 64, 3))
    init_weights(sn, "normal")
    assert abs(float(sn.parametrizations.weight.original.detach().std()) - 0.02) < 0.002
    with pytest.raises(ValueError, match="xavier_uniform"):
        init_weights(nn.Linear(2, 2), "bogus")


# -- multi-generator (Stackelberg) -------------------------------------------
def test_multigenerator_uses_every_generator() -> None:
    k, n = 3, 60
    mg = MultiGenerator(E2GAN_ARCH.prefix(1), LATENT, GF, BW, channels=1, num_generators=k)
    w = [gen.l1.weight for gen in mg.generators]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    rng = torch.Generator().manual_seed(1)
    z = torch.randn(n, LATENT)
    mg.eval()
    images, feats = mg(z, return_features=True, gen_index_generator=rng)
    idx = mg.last_indices
    assert idx is not None and idx.shape == (n,)
    counts = torch.bincount(idx, minlength=k)
    assert counts.min() > 0 and counts.sum() == n
    assert images.shape == (n, 1, 2 * BW, 2 * BW) and feats.shape == (n, GF, 2 * BW, 2 * BW)
    with torch.no_grad():
        for j, gen in enumerate(mg.generators):
            pos = (idx == j).nonzero(as_tuple=True)[0]
            ref_img, ref_feat = gen(z[pos], return_features=True)
            torch.testing.assert_close(images[pos], ref_img)
            torch.testing.assert_close(feats[pos], ref_feat)
    # same RNG seed -> same split; explicit indices are honoured
    again = mg.sample_indices(n, torch.Generator().manual_seed(1))
    assert torch.equal(again, idx)
    only_last = torch.full((n,), k - 1)
    mg(z, indices=only_last)
    assert torch.equal(mg.last_indices, only_last)
    with pytest.raises(ValueError):
        mg(z, indices=torch.full((n,), k))


def test_multigenerator_split_never_touches_the_global_rng() -> None:
    mg = MultiGenerator(E2GAN_ARCH.prefix(1), LATENT, GF, BW, channels=1, num_generators=3)
    z = torch.randn(10, LATENT)
    torch.manual_seed(4)
    before = torch.get_rng_state()
    mg(z)  # no RNG given: the fixed balanced split i % K, nothing drawn
    assert torch.equal(mg.last_indices, torch.arange(10) % 3)
    a = generate(mg, z, torch.Generator().manual_seed(2))
    idx = mg.last_indices
    b = generate(mg, z, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and torch.equal(mg.last_indices, idx)
    assert torch.bincount(idx, minlength=3).tolist() in ([4, 3, 3], [3, 4, 3], [3, 3, 4])
    assert torch.equal(torch.get_rng_state(), before)
    single = Generator(E2GAN_ARCH.prefix(1), LATENT, GF, BW, channels=1)
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    img, feats = generate(single, z, gen, return_features=True)  # a single generator draws nothing
    assert torch.equal(gen.get_state(), state) and torch.equal(img, single(z))


def test_multigenerator_grow_and_backward() -> None:
    mg = build_generator(E2GAN_ARCH.prefix(1), LATENT, GF, BW, channels=1, num_generators=2)
    assert isinstance(mg, MultiGenerator) and mg.num_generators == 2
    mg.grow(E2GAN_ARCH.cells[1])
    mg.grow(E2GAN_ARCH.cells[2])
    assert mg.stage == 3 and mg.resolution == 8 * BW and mg.arch == E2GAN_ARCH
    mg(torch.randn(8, LATENT)).mean().backward()
    for gen in mg.generators:
        assert gen.l1.weight.grad is not None
    single = build_generator(E2GAN_ARCH, LATENT, GF, BW, channels=1)
    assert isinstance(single, Generator)


# -- discriminator --------------------------------------------------------------
def test_discriminator_spectral_norm_on_every_layer() -> None:
    d = Discriminator(df=DF, channels=3, bottom_width=BW)
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    # entry 3 convs + down 3 + middle 2 + last 2 + linear 1
    assert len(layers) == 11
    for m in layers:
        assert parametrize.is_parametrized(m, "weight")
        assert any("SpectralNorm" in type(p).__name__ for p in m.parametrizations.weight)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_discriminator_stage_shapes_and_gradients(stage: int) -> None:
    d = Discriminator(df=DF, channels=1, bottom_width=BW, stage=stage)
    res = BW * 2**stage
    assert d.resolution == res
    x = torch.randn(5, 1, res, res, requires_grad=True)
    out = d(x)
    assert out.shape == (5,)
    out.sum().backward()
    assert x.grad is not None
    # released layout: entry and last always, down from stage 2, middle at stage 3
    for block, used in ((d.entry, True), (d.last, True), (d.down, stage >= 2), (d.middle, stage == 3)):
        assert all((p.grad is not None) == used for p in block.parameters())
    assert d.linear.bias is None
    with pytest.raises(ValueError, match="expects"):
        d(torch.randn(1, 1, 2 * res, 2 * res))


def test_discriminator_grow_keeps_parameters() -> None:
    d = Discriminator(df=DF, channels=1, bottom_width=BW, stage=1)
    before = {k: v.clone() for k, v in d.state_dict().items()}
    d.grow()
    d.grow()
    assert d.stage == 3 and d.resolution == 8 * BW
    after = d.state_dict()
    assert set(after) == set(before)
    for k, v in before.items():
        assert torch.equal(after[k], v), k
    with pytest.raises(ValueError, match="last stage"):
        d.grow()
    with pytest.raises(ValueError):
        Discriminator(stage=4)


def _active_parameters(module: nn.Module, run) -> int:
    """Parameters on the path of ``run()``'s output (those that receive a gradient)."""
    for p in module.parameters():
        p.grad = None
    run().float().sum().backward()
    return sum(p.numel() for p in module.parameters() if p.grad is not None)


# Released E2GAN code (Yuantian013/E2GAN 49a20c03), 3 image channels, latent 128:
# the parameters its forward pass uses (scripts/compare_with_released.py measures them).
RELEASED_G_COUNTS = {
    "0 1 0 1 0 1 2 1 0 0 1 0 1 2": ((580_099, 1_023_619, 1_352_323), 4_867_331, 5_527_811),
    "1 0 1 1 1 0 0 1 1 1 0 1 0 3": ((579_587, 907_779, 1_235_971), 4_405_251, 5_065_731),
}


@pytest.mark.parametrize("vector", sorted(RELEASED_G_COUNTS))
def test_generator_parameter_counts_equal_the_released_code(vector: str) -> None:
    arch = Architecture.from_vector([int(v) for v in vector.split()])
    search, retrain32, retrain48 = RELEASED_G_COUNTS[vector]
    for depth, want in zip((1, 2, 3), search, strict=True):
        g = Generator(arch.prefix(depth), latent_dim=128, gf=128, bottom_width=4, channels=3)
        assert _active_parameters(g, lambda g=g: g(torch.randn(2, 128))) == want, depth
        assert sum(p.numel() for p in g.parameters()) == want  # nothing built that is not used
    for bw, want in ((4, retrain32), (6, retrain48)):
        g = Generator(arch, latent_dim=128, gf=256, bottom_width=bw, channels=3)
        assert _active_parameters(g, lambda g=g: g(torch.randn(2, 128))) == want, bw


def test_discriminator_parameter_counts_equal_the_released_code() -> None:
    for stage, want in zip((1, 2, 3), (112_896, 190_912, 264_768), strict=True):
        d = Discriminator(df=64, channels=3, bottom_width=4, stage=stage)
        x = torch.randn(2, 3, d.resolution, d.resolution)
        assert _active_parameters(d, lambda d=d, x=x: d(x)) == want, stage
    d = Discriminator(df=128, channels=3, bottom_width=4, stage=3)
    assert _active_parameters(d, lambda: d(torch.randn(2, 3, 32, 32))) == 1_053_824


def test_stage0_generator_renders_the_bottom_width_features() -> None:
    g = Generator(None, latent_dim=LATENT, gf=8, bottom_width=BW, channels=1)
    assert g.stage == 0 and g.arch is None and g.resolution == BW
    images, feats = g(torch.randn(3, LATENT), return_features=True)
    assert images.shape == (3, 1, BW, BW) and feats.shape == (3, 8, BW, BW)
    head = g.to_rgb
    g.grow(E2GAN_ARCH.cells[0])
    assert g.to_rgb is head and g.resolution == 2 * BW  # one head for every stage


def test_deconv_cell_uses_learned_upsampling_for_shortcut_and_skips() -> None:
    cell = GeneratorCell(4, 4, Cell(0, 1, 2, 1, 3), cell_index=2)
    assert isinstance(cell.sc_up, nn.ConvTranspose2d)
    # one transposed conv per doubling: x2 from cell 2 (source 1), x4 from cell 1 (source 0)
    assert [len(up) for up in cell.skip_ups] == [2 - s for s in cell.skip_sources]
    plain = GeneratorCell(4, 4, Cell(0, 1, 0, 1, 3), cell_index=2)
    assert plain.sc_up is None and plain.skip_ups is None


def test_skip_feature_includes_the_skip_additions() -> None:
    torch.manual_seed(0)
    cell = GeneratorCell(4, 4, Cell(0, 0, 1, 0, 1), cell_index=1).eval()
    x, feat = torch.randn(2, 4, 4, 4), torch.randn(2, 4, 4, 4)
    skip_out, _ = cell(x, [feat])
    h = torch.relu(cell.c1(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")))
    added = cell.skip_convs[0](torch.nn.functional.interpolate(feat, size=(8, 8), mode="nearest"))
    torch.testing.assert_close(skip_out, h + added)
