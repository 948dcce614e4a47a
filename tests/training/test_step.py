"""The one GAN step: what each update touches, the penalty's RNG and gradient clipping."""

import pytest
import torch
from torch import nn

from gan_nas_env.training.losses import get_loss
from gan_nas_env.training.step import GANStep


def _models(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))


def _step(loss: str = "hinge", grad_clip: float | None = None, seed: int = 0) -> GANStep:
    G, D = _models(seed)
    return GANStep(G, D, torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-2),
                   get_loss(loss), grad_clip=grad_clip)


def test_d_update_trains_only_d_and_g_update_only_g():
    s = _step()
    g0 = [p.detach().clone() for p in s.G.parameters()]
    d0 = [p.detach().clone() for p in s.D.parameters()]
    real, z = torch.randn(16, 2), torch.randn(16, 4)
    s.d_update(real, lambda: s.G(z))
    assert all(torch.equal(a, p) for a, p in zip(g0, s.G.parameters()))
    assert not all(torch.equal(a, p) for a, p in zip(d0, s.D.parameters()))
    assert all(p.grad is None for p in s.G.parameters())  # fakes were made without grad
    d1 = [p.detach().clone() for p in s.D.parameters()]
    d1_grads = [p.grad.clone() for p in s.D.parameters()]
    s.g_update(lambda: s.G(z), real)
    assert all(torch.equal(a, p) for a, p in zip(d1, s.D.parameters()))
    # D's weight grads are skipped: nothing accumulates onto those of its own update
    assert all(torch.equal(a, p.grad) for a, p in zip(d1_grads, s.D.parameters()))
    assert all(p.requires_grad for p in s.D.parameters())  # and switched back on
    assert not all(torch.equal(a, p) for a, p in zip(g0, s.G.parameters()))


def test_penalty_draws_from_the_given_generator():
    real, z = torch.randn(16, 2), torch.randn(16, 4)
    losses = []
    for seed in (1, 1, 2):
        s = _step("wgan-gp")
        losses.append(float(s.d_update(real, lambda s=s: s.G(z), torch.Generator().manual_seed(seed)).detach()))
    assert losses[0] == losses[1] != losses[2]


def test_a_penalty_without_its_generator_is_refused():
    """No silent fallback to the global RNG: refused before anything is computed."""
    s = _step("wgan-gp")
    d0 = [p.detach().clone() for p in s.D.parameters()]
    real, z = torch.randn(16, 2), torch.randn(16, 4)
    with pytest.raises(ValueError, match="penalty_generator"):
        s.d_update(real, lambda: s.G(z))
    assert all(torch.equal(a, p) for a, p in zip(d0, s.D.parameters()))
    assert all(p.grad is None for p in s.D.parameters())


@pytest.mark.parametrize("update", ["d", "g"])
def test_grad_clip_bounds_the_gradient_norm(update):
    real, z = torch.randn(16, 2) * 100, torch.randn(16, 4) * 100
    s = _step("ns", grad_clip=1e-3)
    model = s.D if update == "d" else s.G
    step = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: read the clipped grads, move nothing
    if update == "d":
        s.opt_d = step
        s.d_update(real, lambda: s.G(z))
    else:
        s.opt_g = step
        s.g_update(lambda: s.G(z), real)
    norm = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(norm) <= 1e-3 * 1.0001
