"""EMA of a model: parameters and BatchNorm buffers averaged, integer buffers copied."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_nas_env.models.ema import EMA


def _bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())


def _train_step(model: nn.Module, shift: float) -> None:
    """One forward in train mode (moves BN statistics) and a parameter change."""
    model.train()
    model(torch.randn(8, 1, 5, 5) * 2 + shift)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)


class ParamsOnlyEMA(EMA):
    """The released E2GAN behaviour: only parameters are averaged, buffers ignored."""

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for shadow, p in zip(self.module.parameters(), model.parameters(), strict=True):
            shadow.lerp_(p, 1.0 - self.decay)
        self.num_updates += 1


def _tracks_bn_statistics(ema_cls: type[EMA]) -> bool:
    """True when ``ema_cls`` averages BN running stats with the same rule as the weights."""
    model = _bn_net()
    ema = ema_cls(model, decay=0.9)
    bn_ema = ema.module[1]
    before_mean, before_var = bn_ema.running_mean.clone(), bn_ema.running_var.clone()
    _train_step(model, shift=3.0)
    ema.update(model)
    bn = model[1]
    want_mean = 0.9 * before_mean + 0.1 * bn.running_mean
    want_var = 0.9 * before_var + 0.1 * bn.running_var
    return (
        torch.allclose(bn_ema.running_mean, want_mean, atol=1e-6)
        and torch.allclose(bn_ema.running_var, want_var, atol=1e-6)
        and int(bn_ema.num_batches_tracked) == int(bn.num_batches_tracked) == 1
    )


def test_ema_averages_batchnorm_buffers() -> None:
    assert _tracks_bn_statistics(EMA)


def test_bn_check_rejects_parameter_only_ema() -> None:
    """The check above fails on an EMA that ignores buffers (E2GAN's released code)."""
    assert not _tracks_bn_statistics(ParamsOnlyEMA)


def test_ema_parameter_average_and_shadow_independence() -> None:
    model = _bn_net()
    ema = EMA(model, decay=0.75)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    for _ in range(3):
        _train_step(model, shift=1.0)
        ema.update(model)
    # closed form after 3 updates with a constant +0.5 per step: 0.75^3 * w0 + sum_k ...
    w0 = start["0.weight"]
    want = w0.clone()
    for k in range(1, 4):
        want = 0.75 * want + 0.25 * (w0 + 0.5 * k)
    assert torch.allclose(ema.module[0].weight, want, atol=1e-6)
    assert ema.num_updates == 3
    # the shadow is a separate copy: changing the model later does not move it
    snapshot = ema.module[0].weight.clone()
    _train_step(model, shift=1.0)
    assert torch.equal(ema.module[0].weight, snapshot)


def test_ema_state_dict_round_trip() -> None:
    model = _bn_net()
    ema = EMA(model, decay=0.9)
    _train_step(model, shift=2.0)
    ema.update(model)
    other = EMA(_bn_net(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.decay == 0.9 and other.num_updates == 1
    for (k, a), (_, b) in zip(ema.module.state_dict().items(), other.module.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    x = torch.randn(2, 1, 5, 5)
    assert torch.equal(ema.module(x), other.module(x))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_ema_rejects_bad_decay(decay: float) -> None:
    with pytest.raises(ValueError, match="decay"):
        EMA(_bn_net(), decay)
