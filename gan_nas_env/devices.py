"""Which torch device a config's ``device`` setting means."""

from __future__ import annotations

import torch


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; a clear error for cuda without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but no CUDA GPU is available; "
            "use device='cpu' or device='auto'"
        )
    return dev
