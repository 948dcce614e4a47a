"""Which torch device a config's ``device`` setting means."""

from __future__ import annotations

import torch

from gan_nas_env.errors import UserError


class DeviceError(UserError, RuntimeError):
    """A ``device`` setting this machine cannot honour (a bad name, CUDA without a GPU)."""


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; a clear error for cuda without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise DeviceError(f"device={device!r} is not a torch device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device={device!r} was requested but no CUDA GPU is available; "
            "use device='cpu' or device='auto'"
        )
    return dev
