"""Which torch device a config's ``device`` setting means; torch's global RNG kept as it was."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

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


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (0: as they are), restoring them after."""
    old = torch.get_num_threads()
    if n <= 0 or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


GLOBAL_RNG_LOCK = threading.RLock()
"""Held while torch's global RNG is forked: envs stepping in threads share that RNG."""


@contextlib.contextmanager
def isolated_global_rng(
    device: str | torch.device | None = None, seed: int | None = None
) -> Iterator[None]:
    """Run a block that draws from torch's global RNG (module construction) without a trace.

    Under :data:`GLOBAL_RNG_LOCK` and :func:`torch.random.fork_rng` over the CPU RNG (and
    ``device``'s RNG when it is a CUDA device): the caller's global state is the same after
    the block as before. With ``seed`` the block's draws start from ``torch.manual_seed(seed)``,
    so they do not depend on the caller's state either.
    """
    dev = torch.device(device) if device is not None else None
    devices = [dev] if dev is not None and dev.type == "cuda" else []
    with GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield
