"""Small pure image helpers shared by data, metrics and rendering."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 ``[N, C, H, W]`` batch to ``size x size`` (antialiased bilinear)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(
        images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.round_().clamp_(0, 255).to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]``."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float ``[-1, 1]`` -> uint8 ``[0, 255]`` (clamped)."""
    return images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def make_grid_uint8(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """A ``[H, W, 3]`` uint8 grid of a uint8 or float ``[N, C, h, w]`` batch."""
    from torchvision.utils import make_grid

    if images.dtype != torch.uint8:
        images = to_uint8(images)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    grid = make_grid(images.cpu(), nrow=nrow, padding=2, pad_value=255)
    return grid.permute(1, 2, 0).contiguous()
