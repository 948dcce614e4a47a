"""The seed-system options in the real search env: every loss, and K > 1 generators.

Each test runs one full episode (3 cells) of ``GANCellSearchEnv("tiny",
evaluator="real")``: real proxy training and real torch-fidelity scoring.
When the packaged Fashion-MNIST feature-extractor weights are not there yet
(they are produced by ``scripts/train_feature_classifier.py``), a randomly
initialised stand-in checkpoint is used: these tests check the plumbing
(finite rewards, observations and representation sizes), not score values.
KID is switched off (it is not part of the reward) to keep each episode short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gan_nas_env.metrics.scorer", reason="metrics module not available yet")
pytest.importorskip("gan_nas_env.models.generator", reason="generator module not available yet")

from gan_nas_env.envs.search_env import OBS_HEAD, GANCellSearchEnv  # noqa: E402
from gan_nas_env.metrics import fmnist_extractor as fmnist  # noqa: E402
from gan_nas_env.models.generator import MultiGenerator  # noqa: E402
from gan_nas_env.training.losses import LOSSES  # noqa: E402

ACTIONS = ([0, 1, 0, 1, 1, 0], [1, 0, 1, 0, 1, 0], [0, 2, 2, 1, 1, 1])
GF_TINY = 16


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary metrics cache; a stand-in extractor checkpoint if the real one is missing."""
    root = tmp_path_factory.mktemp("seed_options")
    with pytest.MonkeyPatch.context() as mp:
        if not fmnist.WEIGHTS_PATH.is_file():
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                state = fmnist.FMNISTClassifier().state_dict()
            weights = root / "fmnist_classifier_standin.pt"
            torch.save({"state_dict": state, "version": fmnist.VERSION, "seed": 0}, weights)
            mp.setattr(fmnist, "WEIGHTS_PATH", weights)
        yield root


def _episode(
    cache: Path, loss: str, k: int
) -> tuple[GANCellSearchEnv, np.ndarray, list[float], dict]:
    env = GANCellSearchEnv(
        "tiny",
        evaluator="real",
        overrides={
            "train.loss": loss,
            "model.num_generators": k,
            "metrics.cache_dir": str(cache),
            "metrics.kid": False,  # KID is not in the reward; its numpy kernels dominate the time
        },
    )
    obs, info = env.reset(seed=0)
    assert np.isfinite(obs).all() and obs.shape == env.observation_space.shape
    rewards = []
    terminated = False
    for action in ACTIONS:
        obs, reward, terminated, truncated, info = env.step(np.array(action))
        rewards.append(reward)
        assert not truncated
    assert terminated and info["depth"] == 3
    return env, obs, rewards, info


def test_every_loss_is_tested_here() -> None:
    assert sorted(LOSSES.names()) == ["hinge", "ns", "rpgan", "wgan-gp"]


@pytest.mark.parametrize("loss", ["hinge", "ns", "wgan-gp", "rpgan"])
def test_episode_with_each_loss(cache_dir: Path, loss: str) -> None:
    env, obs, rewards, info = _episode(cache_dir, loss, k=1)
    assert env.evaluator.trainer.loss.name == loss
    assert not info["diverged"], info["reason"]
    assert np.isfinite(rewards).all() and np.isfinite(obs).all()
    assert obs.shape == (OBS_HEAD + GF_TINY,)
    assert all(np.isfinite(v) for v in info["losses"].values())
    env.close()


@pytest.mark.parametrize("loss", ["hinge", "ns", "wgan-gp", "rpgan"])
def test_episode_with_two_generators(cache_dir: Path, loss: str) -> None:
    env, obs, rewards, info = _episode(cache_dir, loss, k=2)
    G = env.evaluator.trainer.G
    assert isinstance(G, MultiGenerator) and G.num_generators == 2
    assert G.stage == 3
    w0, w1 = (next(g.parameters()) for g in G.generators)
    assert not torch.equal(w0, w1)  # separate weights
    assert G.last_indices is not None and set(G.last_indices.tolist()) == {0, 1}
    assert not info["diverged"], info["reason"]
    assert np.isfinite(rewards).all() and np.isfinite(obs).all()
    # the progressive representation keeps its size (gf) with K > 1
    assert env.observation_space.shape == (OBS_HEAD + GF_TINY,) and obs.shape == (
        OBS_HEAD + GF_TINY,
    )
    assert env.evaluator.representation_dim == GF_TINY
    env.close()


@pytest.mark.parametrize("loss", sorted(LOSSES.names()))
def test_retrain_with_each_loss(tmp_path: Path, loss: str) -> None:
    from gan_nas_env.config import load_config
    from gan_nas_env.training.retrain import retrain

    cfg = load_config("tiny", {"train.loss": loss, "retrain.g_iters": 2, "retrain.eval_every": 2,
                               "metrics.kid": False})
    res = retrain(cfg, "e2gan", tmp_path / loss, progress=False)
    assert res.iterations == 2
    assert np.isfinite(res.final_metrics["IS"]) and np.isfinite(res.final_metrics["FID"])
    assert (tmp_path / loss / "best.pt").exists()
