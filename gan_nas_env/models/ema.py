"""Exponential moving average (EMA) of a model, BatchNorm statistics included.

E2GAN/AutoGAN evaluate an EMA of the generator weights (decay 0.999) but their
released code averages only the parameters: the BatchNorm running mean and
variance used at evaluation time are those of the raw generator, which do not
belong to the averaged weights. :class:`EMA` averages the whole floating-point
state instead:

================================  ===========================================
state entry                       shadow update
================================  ===========================================
floating parameters               ``shadow = decay * shadow + (1 - decay) * x``
floating buffers (BN running      same average as the parameters, so the
mean / var)                       statistics drift with the averaged weights
integer buffers                   copied (``num_batches_tracked``)
================================  ===========================================

Averaging (rather than copying) the BN statistics keeps them consistent with
the averaged weights: the raw statistics follow the newest weights, the
averaged ones follow the same time window as the shadow weights.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    """A shadow copy of ``model`` whose floating state is an exponential moving average.

    The shadow starts as an exact copy of ``model``, is kept in eval mode and
    never needs gradients. Call :meth:`update` after every optimizer step.

    :param model: the module to average (its structure must not change afterwards).
    :param decay: weight of the old average, in (0, 1); 0.999 in E2GAN.
    :param warmup: use ``min(decay, (1 + t) / (10 + t))`` at update ``t`` (the decay
        warm-up of ``tf.train.ExponentialMovingAverage``): the average's horizon grows
        with training instead of holding the initial weights for ``1 / (1 - decay)``
        updates. Off in E2GAN.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.module = copy.deepcopy(model).eval()
        self.module.requires_grad_(False)

    def update(self, model: nn.Module) -> None:
        """Move the shadow towards ``model``'s current parameters and buffers."""
        self.blend(model, 1.0 - self.current_decay())
        self.num_updates += 1

    @torch.no_grad()
    def blend(self, model: nn.Module, weight: float | torch.Tensor) -> None:
        """``shadow += weight * (model - shadow)`` for the floating state, a copy of the rest.

        :meth:`update` without its counter: a CUDA graph captures it with ``weight`` a device
        scalar that the caller fills with ``1 - current_decay()`` before each replay and counts
        the update itself (:mod:`gan_nas_env.training.retrain_graph`).
        """
        src = model.state_dict()
        for name, shadow in self.module.state_dict().items():
            value = src[name].detach()
            if shadow.dtype.is_floating_point:
                shadow.lerp_(value.to(shadow.dtype), weight)
            else:
                shadow.copy_(value)

    def current_decay(self) -> float:
        """The decay the next :meth:`update` applies (``decay``, or its warm-up value)."""
        if not self.warmup:
            return self.decay
        t = self.num_updates
        return min(self.decay, (1.0 + t) / (10.0 + t))

    def state_dict(self) -> dict[str, Any]:
        """Decay, update count and the shadow module's state dict."""
        return {
            "decay": self.decay,
            "num_updates": self.num_updates,
            "module": self.module.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        self.module.load_state_dict(state["module"])
