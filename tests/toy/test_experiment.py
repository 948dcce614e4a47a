"""Toy targets, toy metrics, MLP GAN training and the ``gan-nas toy`` subcommand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import gan_nas_env.cli.toy  # noqa: F401  (registers the subcommand)
from gan_nas_env import cli
from gan_nas_env.registry import UnknownNameError
from gan_nas_env.toy.data import (
    TOY_TARGETS,
    circle_centres,
    gaussian_mixture_2d,
    ring_of_gaussians,
    sample_target,
    two_clusters_1d,
)
from gan_nas_env.toy.experiment import ToyGenerators, balanced_indices, plot_toy, train_toy
from gan_nas_env.toy.metrics import (
    coverage_threshold,
    covered_modes,
    high_quality_fraction,
    knn_radii,
    mode_counts,
    modes_covered,
    precision_recall,
)

# -- samplers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, dim, k, std", [("clusters1d", 1, 2, 0.05), ("mog5", 2, 5, 0.05), ("ring8", 2, 8, 0.01)]
)
def test_sampler_shapes_and_determinism(name: str, dim: int, k: int, std: float) -> None:
    a = sample_target(name, 500, 3)
    b = sample_target(name, 500, torch.Generator().manual_seed(3))
    c = sample_target(name, 500, 4)
    assert a.samples.shape == (500, dim) and a.samples.dtype == torch.float32
    assert a.centres.shape == (k, dim) and a.labels.shape == (500,)
    assert a.std == std and a.num_modes == k and a.dim == dim
    assert torch.equal(a.samples, b.samples) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.samples, c.samples)
    # samples sit around their own mode
    dev = (a.samples - a.centres[a.labels]).norm(dim=1)
    assert float(dev.max()) < 6 * std * math.sqrt(dim)
    assert set(a.labels.tolist()) == set(range(k))


def test_sampler_does_not_touch_global_rng() -> None:
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    sample_target("ring8", 100, 1)
    assert torch.equal(torch.rand(3), before)


def test_target_geometry() -> None:
    assert two_clusters_1d(0).centres[:, 0].tolist() == [-1.0, 1.0]
    ring = ring_of_gaussians(0)
    assert torch.allclose(ring.centres.norm(dim=1), torch.ones(8))
    assert ring.std == 0.01
    mog = gaussian_mixture_2d(0, k=5, radius=2.0)
    assert torch.allclose(mog.centres.norm(dim=1), torch.full((5,), 2.0))
    assert torch.allclose(mog.centres[0], torch.tensor([0.0, 2.0]), atol=1e-6)
    assert torch.allclose(circle_centres(4, 1.0)[1], torch.tensor([0.0, 1.0]), atol=1e-6)
    assert TOY_TARGETS.names() == ["clusters1d", "mog5", "ring8"]
    with pytest.raises(UnknownNameError, match="ring8"):
        sample_target("ring9", 10)


# -- mode metrics on hand-made point sets -------------------------------------------------

SQ = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def _at(centre_idx: list[int], offset: float = 0.0) -> torch.Tensor:
    return SQ[centre_idx] + offset


def test_all_modes_covered() -> None:
    pts = _at([0, 1, 2, 3] * 25, offset=0.02)  # 0.028 from a mode, within 3 std = 0.3
    assert modes_covered(pts, SQ, std=0.1) == 4
    assert covered_modes(pts, SQ, 0.1).tolist() == [True] * 4
    assert high_quality_fraction(pts, SQ, 0.1) == 1.0


def test_one_mode_missing_and_exact_quality_fraction() -> None:
    good = _at([0, 1, 2] * 10)  # 30 points on three modes, none on mode 3
    bad = torch.tensor([[0.5, 0.5]]).repeat(10, 1)  # 10 points far (> 3 std) from every mode
    pts = torch.cat([good, bad])
    assert mode_counts(pts, SQ, 0.1).tolist() == [10, 10, 10, 0]
    assert modes_covered(pts, SQ, 0.1) == 3
    assert high_quality_fraction(pts, SQ, 0.1) == pytest.approx(30 / 40, abs=0)


def test_quality_boundary_is_three_std() -> None:
    c = torch.tensor([[0.0]])
    pts = torch.tensor([[0.299], [-0.299], [0.301], [5.0]])
    assert high_quality_fraction(pts, c, std=0.1) == 0.5


def test_coverage_threshold_counts() -> None:
    assert coverage_threshold(2000) == 20 and coverage_threshold(10) == 1
    pts = torch.cat([_at([0] * 95), _at([1] * 5)])  # 5 % on mode 1
    assert modes_covered(pts, SQ, 0.1, min_fraction=0.05) == 2
    assert modes_covered(pts, SQ, 0.1, min_fraction=0.06) == 1
    assert modes_covered(pts, SQ, 0.1, min_count=6) == 1


def test_metrics_on_exact_target_samples() -> None:
    s = ring_of_gaussians(4000, 0)
    assert modes_covered(s.samples, s.centres, s.std) == 8
    # 2-D isotropic Gaussian: P(r <= 3 std) = 1 - exp(-4.5) = 0.9889
    assert high_quality_fraction(s.samples, s.centres, s.std) == pytest.approx(0.9889, abs=0.01)


# -- precision / recall ------------------------------------------------------------------------


def test_knn_radii_exact() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(x, k=2).tolist() == [3.0, 2.0, 3.0, 5.0]
    with pytest.raises(ValueError):
        knn_radii(x, k=4)


def test_prc_identical_and_disjoint() -> None:
    real = ring_of_gaussians(500, 0).samples
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    half = real[real[:, 0] > 0.1]  # fake covers only the right half of the ring
    p, r = precision_recall(real, half)
    assert p == 1.0 and 0.2 < r < 0.6


# -- K generators ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 8])
def test_k_generator_sampling_draws_from_every_generator(k: int) -> None:
    torch.manual_seed(0)
    G = ToyGenerators(k, latent_dim=4, out_dim=2, hidden=8, layers=1)
    for j, g in enumerate(G.generators):  # generator j outputs the constant (j, 0)
        for p in g.parameters():
            torch.nn.init.zeros_(p)
        g[-1].bias.data = torch.tensor([float(j), 0.0])
    x, idx = G.sample(20, torch.Generator().manual_seed(0))
    counts = torch.bincount(idx, minlength=k)
    assert counts.min() >= 20 // k and counts.max() <= 20 // k + 1
    assert torch.equal(x[:, 0], idx.float())  # each sample came from its own generator
    assert set(x[:, 0].tolist()) == set(map(float, range(k)))
    assert torch.equal(balanced_indices(5, 2), torch.tensor([0, 1, 0, 1, 0]))


def test_k_generators_have_separate_weights_and_gradients() -> None:
    G = ToyGenerators(2, latent_dim=3, out_dim=2, hidden=8, layers=1)
    z = torch.randn(6, 3)
    G(z).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert G.generators[0][0].weight.data_ptr() != G.generators[1][0].weight.data_ptr()


# -- short training runs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, loss, k",
    [
        ("clusters1d", "rpgan", 1),
        ("mog5", "ns", 1),
        ("ring8", "ns", 4),
        ("ring8", "wgan-gp", 2),
        ("mog5", "hinge", 1),
    ],
)
def test_short_toy_run(tmp_path, target: str, loss: str, k: int) -> None:
    res = train_toy(target, loss, k, steps=150, batch=64, seed=1, eval_samples=300, log_every=50)
    m = res.metrics
    assert set(m) == {"modes_covered", "num_modes", "high_quality_fraction", "precision", "recall"}
    assert all(math.isfinite(v) for v in m.values()) and not res.diverged
    assert 0 <= m["modes_covered"] <= m["num_modes"] and 0 <= m["high_quality_fraction"] <= 1
    assert len(res.generator_modes) == k and res.samples.shape[0] == 300
    assert np.bincount(res.generator_index).tolist() == [300 // k + (j < 300 % k) for j in range(k)]
    assert res.losses["step"] == [50.0, 100.0, 150.0]
    assert all(math.isfinite(v) for v in res.losses["d_loss"] + res.losses["g_loss"])
    png = plot_toy(res, tmp_path / "p.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_toy_run_is_deterministic_and_restores_global_state() -> None:
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expect = torch.rand(2)
    torch.manual_seed(123)
    a = train_toy("clusters1d", "wgan-gp", 2, steps=30, batch=32, seed=5, eval_samples=50)
    assert torch.equal(torch.rand(2), expect) and torch.get_num_threads() == threads
    b = train_toy("clusters1d", "wgan-gp", 2, steps=30, batch=32, seed=5, eval_samples=50)
    assert np.array_equal(a.samples, b.samples) and a.metrics == b.metrics


def test_toy_progress_bar_shows_steps_and_changes_nothing(capsys) -> None:
    kw = dict(steps=30, batch=32, seed=5, eval_samples=50, log_every=10)
    quiet = train_toy("clusters1d", "ns", **kw)
    assert "toy" not in capsys.readouterr().err
    shown = train_toy("clusters1d", "ns", progress=True, **kw)
    err = capsys.readouterr().err
    assert "toy" in err and "30/30" in err and "d=" in err and "g=" in err
    assert np.array_equal(quiet.samples, shown.samples) and quiet.losses == shown.losses
    assert "progress" not in shown.config


def test_train_toy_rejects_bad_arguments() -> None:
    with pytest.raises(UnknownNameError):
        train_toy("ring8", "lsgan", steps=1)
    with pytest.raises(ValueError):
        train_toy("ring8", "ns", num_generators=8, batch=4, steps=1)


# -- CLI ------------------------------------------------------------------------------------


def test_cli_toy_writes_metrics_and_plot(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    rc = cli.main(
        [
            "toy",
            "--target",
            "ring8",
            "--loss",
            "rpgan",
            "--generators",
            "2",
            "--steps",
            "60",
            "--batch",
            "32",
            "--eval-samples",
            "100",
            "--seed",
            "2",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["config"]["loss"] == "rpgan" and data["config"]["num_generators"] == 2
    assert data["config"]["seed"] == 2 and data["args"]["target"] == "ring8"
    assert len(data["generator_modes"]) == 2 and "version" in data
    assert (out / "samples.png").stat().st_size > 1000
    captured = capsys.readouterr()
    assert "modes covered" in captured.out and "60/60" in captured.err  # the progress bar
    assert "no_progress" not in data["args"]


def test_cli_toy_bad_input_exits_2(tmp_path) -> None:
    assert cli.main(["toy", "--generators", "0", "--out", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        cli.main(["toy", "--target", "ring9"])
