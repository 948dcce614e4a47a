import numpy as np
import pytest
import torch

from gan_nas_env.config import load_config
from gan_nas_env.evaluators import RealEvaluator
from gan_nas_env.models.generator import progressive_state
from gan_nas_env.space import E2GAN_ARCH
from gan_nas_env.training.losses import LOSSES
from gan_nas_env.training.proxy import stage_d_iters


@pytest.fixture(scope="module")
def evaluator():
    return RealEvaluator(load_config("tiny"))


def run_episode(ev, seed, cells=E2GAN_ARCH.cells):
    ev.reset(seed)
    return [ev.step(c) for c in cells]


def test_stage_budget_is_one_epoch_by_default():
    cfg = load_config("tiny", {"train.d_iters_per_cell": None, "train.d_batch_size": 64})
    assert stage_d_iters(cfg, 50_000) == 782  # E2GAN: 782 D iterations per CIFAR-10 epoch
    assert stage_d_iters(load_config("tiny"), 50_000) == 4


@pytest.mark.parametrize("size", [4, 8, 16])
def test_progressive_state_is_the_mean_of_the_central_2x2(size):
    x = torch.randn(3, 2, size, size)
    c = size // 2
    expect = x[..., c - 1 : c + 1, c - 1 : c + 1].mean(dim=(-2, -1))
    assert torch.allclose(progressive_state(x), expect, atol=1e-6)
    x[..., 0, 0] = 100.0  # outside the central pixels: ignored
    assert torch.allclose(progressive_state(x), expect, atol=1e-6)


def test_episode_metrics_shapes_and_growth(evaluator):
    evs = run_episode(evaluator, seed=0)
    assert [e.depth for e in evs] == [1, 2, 3]
    assert evs[-1].arch == str(E2GAN_ARCH)
    for e in evs:
        assert not e.diverged
        assert np.isfinite(e.metrics["IS"]) and np.isfinite(e.metrics["FID"]) and "KID" in e.metrics
        assert e.representation.shape == (evaluator.representation_dim,)
        assert e.representation.dtype == np.float32
        assert e.timings["train_s"] > 0 and e.timings["score_s"] > 0
    assert evaluator.trainer.G.resolution == 16 and evaluator.trainer.D.stage == 3
    assert evaluator.sample(4).shape == (4, 1, 16, 16)


def test_same_seed_same_numbers_on_cpu(evaluator):
    a = run_episode(evaluator, seed=7)
    b = run_episode(evaluator, seed=7)
    c = run_episode(evaluator, seed=8)
    for x, y in zip(a, b):
        assert x.metrics == y.metrics and np.array_equal(x.representation, y.representation)
        assert x.losses == y.losses
    assert a[-1].metrics != c[-1].metrics


def test_earlier_cells_carry_over_within_an_episode(evaluator):
    evaluator.reset(3)
    evaluator.step(E2GAN_ARCH.cells[0])
    cell1 = evaluator.trainer.G.cells[0]
    w_after_stage1 = cell1.c1.weight.detach().clone()
    evaluator.step(E2GAN_ARCH.cells[1])
    assert evaluator.trainer.G.cells[0] is cell1  # same module, trained further
    assert not torch.equal(cell1.c1.weight, w_after_stage1)
    evaluator.reset(3)
    evaluator.step(E2GAN_ARCH.cells[0])
    assert evaluator.trainer.G.cells[0] is not cell1  # new GAN each episode


@pytest.mark.parametrize(("loss", "k"), [(loss, k) for loss in sorted(LOSSES.names()) for k in (1, 2)])
def test_global_rng_untouched(loss, k):
    """Building the evaluator (its scorer and extractor) and a step leave the global RNGs."""
    cfg = load_config("tiny", {"train.loss": loss, "model.num_generators": k, "metrics.kid": False})
    torch.manual_seed(123)
    np.random.seed(5)
    expect_t, expect_n = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(5)
    run_episode(RealEvaluator(cfg), seed=1, cells=E2GAN_ARCH.cells[:1])
    assert torch.equal(torch.rand(1), expect_t) and np.random.rand() == expect_n


def test_nan_loss_is_reported_as_divergence(evaluator, monkeypatch):
    loss = evaluator.trainer.loss
    monkeypatch.setattr(loss, "discriminator_loss", lambda r, f: (r.mean() + f.mean()) * float("nan"))
    evaluator.reset(0)
    ev = evaluator.step(E2GAN_ARCH.cells[0])
    assert ev.diverged and "non-finite" in ev.reason


def test_baseline_scores_the_fresh_stage0_generator(evaluator):
    evaluator.reset(5)
    b1 = evaluator.baseline()
    assert b1.depth == 0 and b1.arch == ""
    assert evaluator.trainer.G.stage == 0 and evaluator.trainer.G.resolution == 2  # tiny: bottom 2
    assert np.isfinite(b1.metrics["IS"]) and np.isfinite(b1.metrics["FID"])
    assert b1.representation.shape == (evaluator.representation_dim,) and np.any(b1.representation)
    # state 0 = the Linear layer's features at 1x1, averaged over the scoring latents
    G, mc = evaluator.trainer.G, evaluator.trainer.cfg.metrics
    G.eval()
    with torch.no_grad():
        _, feats = G(evaluator.trainer._fixed_latents(mc.num_samples, salt=3), return_features=True)
    G.train()
    assert np.allclose(b1.representation, progressive_state(feats).mean(0).numpy(), atol=1e-5)
    # a function of the episode's GAN seed; scoring it does not change the episode's training
    evaluator.reset(5)
    assert evaluator.baseline().metrics == b1.metrics
    evaluator.reset(6)
    assert evaluator.baseline().metrics != b1.metrics
    evaluator.reset(5)
    with_baseline = (evaluator.baseline(), evaluator.step(E2GAN_ARCH.cells[0]))[1]
    evaluator.reset(5)
    assert evaluator.step(E2GAN_ARCH.cells[0]).metrics == with_baseline.metrics


def test_one_adam_per_episode_across_stages(evaluator):
    evaluator.reset(2)
    evaluator.step(E2GAN_ARCH.cells[0])
    opt_g, opt_d = evaluator.trainer.optimizers
    cell1_w = evaluator.trainer.G.cells[0].c1.weight
    steps_after_1 = int(opt_g.state[cell1_w]["step"])
    evaluator.step(E2GAN_ARCH.cells[1])
    assert evaluator.trainer.optimizers[0] is opt_g and evaluator.trainer.optimizers[1] is opt_d
    assert int(opt_g.state[cell1_w]["step"]) > steps_after_1  # state carried over
    new_w = evaluator.trainer.G.cells[1].c1.weight
    assert any(new_w is p for group in opt_g.param_groups for p in group["params"])
    assert int(opt_g.state[new_w]["step"]) == int(opt_g.state[cell1_w]["step"]) - steps_after_1
    evaluator.reset(2)
    evaluator.step(E2GAN_ARCH.cells[0])
    assert evaluator.trainer.optimizers[0] is not opt_g  # a new Adam each episode


def test_scoring_latents_are_the_same_in_every_episode(evaluator):
    """As released: every episode and stage is scored on one fixed set of latent codes."""
    evaluator.reset(11)
    a = evaluator.trainer._fixed_latents(8, salt=3)
    evaluator.reset(12)
    assert torch.equal(evaluator.trainer._fixed_latents(8, salt=3), a)
    assert not torch.equal(evaluator.trainer._fixed_latents(8, salt=1), a)


def test_samples_after_a_new_baseline_show_the_last_trained_generator(evaluator):
    """An auto-reset scores the next episode's baseline; grids must still show the
    architecture just trained, not the fresh stage-0 generator."""
    run_episode(evaluator, seed=4)
    trained = evaluator.sample(4)
    assert trained.shape[-1] == 16  # tiny: 3 cells on bottom width 2
    evaluator.reset(5)
    evaluator.baseline()
    assert evaluator.trainer.G.stage == 0
    assert torch.equal(evaluator.sample(4), trained)
