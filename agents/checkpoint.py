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
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_nas_env.errors import UserError
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


class SearchCheckpointError(UserError, ValueError):
    """A search checkpoint that cannot be read (truncated, corrupted, not a checkpoint)."""


def check_checkpoint(ckpt: Path) -> None:
    """Read every file of ``ckpt`` once; raise :class:`SearchCheckpointError` naming a bad one.

    Run before a resumed search writes anything, so a truncated ``model.zip`` or replay
    buffer is one clear line, not a traceback half-way through loading.
    """
    def bad(name: str, exc: BaseException) -> SearchCheckpointError:
        return SearchCheckpointError(
            f"search checkpoint {ckpt / name} cannot be read ({type(exc).__name__}: {exc}); the run "
            f"cannot be resumed from it: restore {ckpt.parent} from a copy, or start it again "
            "with --overwrite (which deletes the run)")

    try:
        state = json.loads((ckpt / "state.json").read_text())
        if not isinstance(state, dict) or "episodes_done" not in state:
            raise ValueError("no episodes_done")
    except (OSError, ValueError) as exc:
        raise bad("state.json", exc) from None
    for name in ("model.zip", REPLAY):
        path = ckpt / name
        if name == REPLAY and not path.exists():
            continue  # on-policy agents have no replay buffer
        try:
            with zipfile.ZipFile(path) as z:  # an .npz is a zip too
                broken = z.testzip()  # reads every member and checks its CRC
                names = set(z.namelist())
            if broken is not None:
                raise ValueError(f"member {broken} fails its CRC check")
            # a truncated model.zip can still open as the torch archive nested inside it
            missing = {"model.zip": {"data", "policy.pth"}, REPLAY: {"pos.npy"}}[name] - names
            if missing:
                raise ValueError(f"no {', '.join(sorted(missing))} in it")
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise bad(name, exc) from None
    try:
        load_rng(ckpt)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, RuntimeError) as exc:
        raise bad("rng.pkl", exc) from None


def load_state(ckpt: Path) -> dict[str, Any]:
    """The callbacks' positions stored in a checkpoint."""
    return json.loads((ckpt / "state.json").read_text())


def load_rng(ckpt: Path) -> dict[str, Any]:
    """The RNG states stored in a checkpoint."""
    with open(ckpt / "rng.pkl", "rb") as f:
        return pickle.load(f)
