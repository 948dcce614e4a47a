"""Determinism under every loss and K in {1, 2}: nothing reads or moves the global RNGs.

Every draw of an env step and of a retraining run (batches, latent codes, the
gradient penalty's interpolation weights, a multi-generator's split) comes from
local generators seeded from the run's seed, and building the feature extractor
leaves torch's global RNG as it was. So the same seed gives bit-identical numbers
however the global RNGs were seeded or drawn from before or between runs, and
neither torch's nor numpy's global state is changed by a run.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_nas_env.config import load_config
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.training.losses import LOSSES
from gan_nas_env.training.retrain import retrain

LOSS_K = [(loss, k) for loss in sorted(LOSSES.names()) for k in (1, 2)]
IDS = [f"{loss}-K{k}" for loss, k in LOSS_K]
ACTIONS = ([0, 1, 0, 1, 1, 0], [1, 0, 1, 0, 1, 0], [0, 2, 2, 1, 1, 1])


def _global_state() -> tuple[torch.Tensor, bytes]:
    return torch.get_rng_state(), pickle.dumps(np.random.get_state())


def _assert_global_state(expected: tuple[torch.Tensor, bytes]) -> None:
    assert torch.equal(torch.get_rng_state(), expected[0]), "torch's global RNG was changed"
    assert pickle.dumps(np.random.get_state()) == expected[1], "numpy's global RNG was changed"


def _scramble_global_rngs(seed: int) -> None:
    """Put the global RNGs somewhere else: reseeded and drawn from."""
    torch.manual_seed(seed)
    torch.rand(seed + 3)
    np.random.seed(seed)
    np.random.rand(seed + 5)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("determinism-cache")


def _episode(cache: Path, loss: str, k: int) -> list[tuple]:
    """A full episode of the real env (its evaluator and scorer are built at the reset)."""
    env = GANCellSearchEnv("tiny", evaluator="real", overrides={
        "train.loss": loss, "model.num_generators": k, "metrics.cache_dir": str(cache),
        "metrics.kid": False,
    })
    obs, info = env.reset(seed=0)
    out = [(obs, info["IS"], info["FID"])]
    for action in ACTIONS:
        obs, reward, _, _, info = env.step(np.array(action))
        out.append((obs, reward, info["IS"], info["FID"], info["losses"]))
    if k > 1:
        assert set(env.evaluator.trainer.G.last_indices.tolist()) == {0, 1}
    env.close()
    return out


@pytest.mark.parametrize(("loss", "k"), LOSS_K, ids=IDS)
def test_env_episode_leaves_the_global_rngs_and_does_not_depend_on_them(
    cache_dir: Path, loss: str, k: int
) -> None:
    _scramble_global_rngs(1)
    before = _global_state()
    first = _episode(cache_dir, loss, k)  # env, evaluator, scorer and extractor built here
    _assert_global_state(before)
    _scramble_global_rngs(2)
    second = _episode(cache_dir, loss, k)
    assert len(first) == len(second) == 1 + len(ACTIONS)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a[0], b[0])
        assert a[1:] == b[1:]


def _rows(path: Path) -> list[list[str]]:
    """A CSV's rows, without the wall-clock column of metrics.csv."""
    rows = [line.split(",") for line in path.read_text().splitlines()]
    return [row[:-1] for row in rows] if rows[0][-1] == "wall_s" else rows


@pytest.mark.parametrize(("loss", "k"), LOSS_K, ids=IDS)
def test_retrain_leaves_the_global_rngs_and_resumes_bit_identically(
    tmp_path: Path, cache_dir: Path, loss: str, k: int
) -> None:
    """4 iterations straight vs 2 then resumed to 4, the global RNGs moved before and between."""

    def cfg(iters: int):
        return load_config("tiny", {
            "train.loss": loss, "model.num_generators": k, "metrics.cache_dir": str(cache_dir),
            "metrics.kid": False, "retrain.g_iters": iters, "retrain.eval_every": 2,
            "retrain.checkpoint_every": 2, "retrain.eval_samples": 64,
        })

    _scramble_global_rngs(3)
    before = _global_state()
    straight = retrain(cfg(4), "e2gan", tmp_path / "straight", progress=False)
    _assert_global_state(before)
    _scramble_global_rngs(4)
    retrain(cfg(2), "e2gan", tmp_path / "resumed", progress=False)
    _scramble_global_rngs(5)
    resumed = retrain(cfg(4), "e2gan", tmp_path / "resumed", resume=True, progress=False)
    assert resumed.final_metrics == straight.final_metrics
    for name in ("losses.csv", "metrics.csv"):
        assert _rows(tmp_path / "resumed" / name) == _rows(tmp_path / "straight" / name), name
    a, b = (torch.load(tmp_path / d / "checkpoint.pt", weights_only=True) for d in ("straight", "resumed"))
    for part in ("G", "D"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    assert torch.equal(a["rng"]["train"], b["rng"]["train"])
