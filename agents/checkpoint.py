"""Search checkpoints: everything needed to continue a killed search exactly.

A checkpoint is a folder written at every episode boundary: the SB3 model
(``model.zip``), its replay buffer (``replay_buffer.npz``: the stored transitions
only, not the buffer's capacity), the callbacks' positions, and every RNG
state the search draws from (the env's, the action space's, and the global
torch / numpy / random states that SB3 samples with). It is written to
``checkpoint.tmp/`` and swapped in with renames, so a kill at any moment
leaves either the old or the new checkpoint, never a half-written one.
"""

from __future__ import annotations

import json
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_nas_env.evaluators.store import kill_point

CKPT, TMP, OLD = "checkpoint", "checkpoint.tmp", "checkpoint.old"
REPLAY = "replay_buffer.npz"
_BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def save_replay_contents(buffer: Any, path: Path) -> None:
    """The filled part of an SB3 replay buffer (arrays up to its position, or all when full).

    SB3's ``save_replay_buffer`` pickles the whole preallocated buffer: 22 MB for 24
    transitions at ``buffer_size`` 100,000. This writes what the buffer holds.
    """
    n = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {k: getattr(buffer, k)[:n] for k in _BUFFER_ARRAYS
              if isinstance(getattr(buffer, k, None), np.ndarray)}
    with open(path, "wb") as f:
        np.savez(f, pos=np.int64(buffer.pos), full=np.bool_(buffer.full),
                 buffer_size=np.int64(buffer.buffer_size), **arrays)


def load_replay_contents(buffer: Any, path: Path) -> None:
    """Fill an SB3 replay buffer of the same capacity from :func:`save_replay_contents`."""
    with np.load(path, allow_pickle=False) as z:
        if int(z["buffer_size"]) != buffer.buffer_size:
            raise ValueError(f"{path}: replay buffer of capacity {int(z['buffer_size'])}, "
                             f"the model's holds {buffer.buffer_size}")
        for k in _BUFFER_ARRAYS:
            if k in z:
                getattr(buffer, k)[: len(z[k])] = z[k]
        buffer.pos, buffer.full = int(z["pos"]), bool(z["full"])


def rng_states(base_env: Any, model: Any) -> dict[str, Any]:
    """Every RNG state a search draws from."""
    return {
        "env": base_env.np_random.bit_generator.state,
        "action_space": model.action_space.np_random.bit_generator.state,
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "random": random.getstate(),
    }


def restore_rng_states(states: dict[str, Any], base_env: Any, model: Any) -> None:
    """Put back the states captured by :func:`rng_states` (resume only)."""
    base_env.np_random.bit_generator.state = states["env"]
    model.action_space.np_random.bit_generator.state = states["action_space"]
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["random"])


def save_checkpoint(out: Path, model: Any, base_env: Any, state: dict[str, Any]) -> None:
    """Atomically write the checkpoint folder ``out/checkpoint``."""
    tmp, final, old = out / TMP, out / CKPT, out / OLD
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.zip")
    if getattr(model, "replay_buffer", None) is not None:
        save_replay_contents(model.replay_buffer, tmp / REPLAY)
    with open(tmp / "rng.pkl", "wb") as f:
        pickle.dump(rng_states(base_env, model), f)
    (tmp / "state.json").write_text(json.dumps(state))
    kill_point("checkpoint")  # test hook (off unless GAN_NAS_ENV_TEST_KILL_AT is set)
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    kill_point("checkpoint-swap")
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(out: Path) -> Path | None:
    """The complete checkpoint folder of a run (``checkpoint`` or, mid-swap, ``checkpoint.old``)."""
    for name in (CKPT, OLD):
        p = out / name
        if (p / "state.json").exists():
            return p
    return None


def load_state(ckpt: Path) -> dict[str, Any]:
    """The callbacks' positions stored in a checkpoint."""
    return json.loads((ckpt / "state.json").read_text())


def load_rng(ckpt: Path) -> dict[str, Any]:
    """The RNG states stored in a checkpoint."""
    with open(ckpt / "rng.pkl", "rb") as f:
        return pickle.load(f)
