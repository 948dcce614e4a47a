"""GAN losses: hand-checked values, gradient penalty, registry errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_nas_env.models.discriminator import Discriminator
from gan_nas_env.registry import UnknownNameError
from gan_nas_env.training.losses import LOSSES, GANLoss, get_loss

D_REAL = [1.0, -0.5]
D_FAKE = [0.5, -2.0]


# Worked by hand for d_real = [1, -0.5], d_fake = [0.5, -2], softplus(x) = ln(1 + e^x):
#   hinge D: mean(relu(0), relu(1.5)) + mean(relu(1.5), relu(-1)) = 0.75 + 0.75
#   ns D: mean(sp(-1), sp(0.5)) + mean(sp(0.5), sp(-2))
#       = mean(0.3132617, 0.9740770) + mean(0.9740770, 0.1269280)
#   ns G: mean(sp(-0.5), sp(2)) = mean(0.4740770, 2.1269280)
#   wgan D: mean(0.5, -2) - mean(1, -0.5) = -0.75 - 0.25
#   rpgan D: real - fake = [0.5, 1.5]: mean(sp(-0.5), sp(-1.5)) = mean(0.4740770, 0.2014133)
#   rpgan G: fake - real = [-0.5, -1.5]: mean(sp(0.5), sp(1.5)) = mean(0.9740770, 1.7014133)
EXPECTED = {
    "hinge": (1.5, 0.75),
    "ns": (1.1941718, 1.3005025),
    "wgan-gp": (-1.0, 0.75),
    "rpgan": (0.3377451, 1.3377451),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hand_checked_values(name: str) -> None:
    loss = get_loss(name)
    d_real, d_fake = torch.tensor(D_REAL), torch.tensor(D_FAKE)
    want_d, want_g = EXPECTED[name]
    assert float(loss.discriminator_loss(d_real, d_fake)) == pytest.approx(want_d, abs=1e-6)
    assert float(loss.generator_loss(d_fake, d_real)) == pytest.approx(want_g, abs=1e-6)
    assert loss.needs_real_for_generator == (name == "rpgan")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_is_float32_scalar_and_differentiable(name: str) -> None:
    loss = get_loss(name)
    d_real = torch.tensor(D_REAL, dtype=torch.bfloat16, requires_grad=True)
    d_fake = torch.tensor([[v] for v in D_FAKE], dtype=torch.bfloat16, requires_grad=True)
    out = loss.discriminator_loss(d_real, d_fake) + loss.generator_loss(d_fake, d_real)
    assert out.shape == () and out.dtype == torch.float32
    out.backward()
    assert d_real.grad is not None and d_fake.grad is not None


def test_rpgan_pairs_by_index_and_needs_real() -> None:
    loss = get_loss("rpgan")
    # extra real score 9.0 is ignored: only the first min(3, 2) pairs count
    d_real = torch.tensor([1.0, -0.5, 9.0])
    d_fake = torch.tensor(D_FAKE)
    assert float(loss.discriminator_loss(d_real, d_fake)) == pytest.approx(0.3377451, abs=1e-6)
    assert float(loss.generator_loss(d_fake, d_real)) == pytest.approx(1.3377451, abs=1e-6)
    # equal scores: softplus(0) = ln 2
    same = torch.zeros(4)
    assert float(loss.discriminator_loss(same, same)) == pytest.approx(0.6931472, abs=1e-6)
    with pytest.raises(ValueError, match="d_real"):
        loss.generator_loss(d_fake)


class _LinearD(nn.Module):
    """D(x) = <w, flatten(x)>: its input gradient has norm ||w|| everywhere."""

    def __init__(self, numel: int, norm: float) -> None:
        super().__init__()
        w = torch.randn(numel)
        self.w = nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("gp_weight", [10.0, 3.0])
def test_gradient_penalty_of_linear_critic(gp_weight: float) -> None:
    torch.manual_seed(0)
    loss = get_loss("wgan-gp", gp_weight=gp_weight)
    real, fake = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    unit = loss.penalty(_LinearD(16, 1.0), real, fake)
    assert float(unit.detach()) == pytest.approx(0.0, abs=1e-5)
    # gradient norm 2 -> gp_weight * (2 - 1)^2
    double = loss.penalty(_LinearD(16, 2.0), real, fake)
    assert float(double.detach()) == pytest.approx(gp_weight, rel=1e-5)


def test_gradient_penalty_trains_a_real_discriminator() -> None:
    torch.manual_seed(0)
    d = Discriminator(df=4, channels=1, bottom_width=2, stage=1)
    loss = get_loss("wgan-gp")
    real, fake = torch.randn(4, 1, 4, 4), torch.randn(3, 1, 4, 4, requires_grad=True)
    gp = loss.penalty(d, real, fake)
    assert gp.shape == () and float(gp.detach()) > 0
    gp.backward()  # double backward through spectral norm
    assert all(p.grad is not None for p in d.entry.parameters())
    assert fake.grad is None  # the penalty detaches its inputs


@pytest.mark.parametrize("name", ["hinge", "ns", "rpgan"])
def test_penalty_is_zero_without_gp(name: str) -> None:
    gp = get_loss(name).penalty(_LinearD(16, 2.0), torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4))
    assert gp.shape == () and float(gp) == 0.0


def test_registry_names_and_unknown_name() -> None:
    assert LOSSES.names() == ["hinge", "ns", "rpgan", "wgan-gp"]
    assert isinstance(get_loss(), GANLoss) and get_loss().name == "hinge"
    for name in LOSSES.names():
        assert get_loss(name).name == name
    with pytest.raises(UnknownNameError) as err:
        get_loss("lsgan")
    msg = str(err.value)
    assert "lsgan" in msg and "hinge" in msg and "rpgan" in msg
    with pytest.raises(ValueError):
        get_loss("wgan-gp", gp_weight=-1.0)
